import itertools
from datetime import timedelta
from unittest.mock import patch

import psycopg2
from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import compat
from ..models.efaktura_chain import MAX_ATTEMPTS, DispatchRun
from .common import EfakturaInvoiceCase


@tagged("post_install", "-at_install")
class TestDispatchChain(EfakturaInvoiceCase):
    def assert_one_delivery(self, move, channel, state="submitted"):
        deliveries = move.efaktura_delivery_ids
        self.assertEqual(len(deliveries), 1, f"{move.name} must have exactly one delivery")
        self.assertEqual(deliveries.channel, channel)
        self.assertEqual(deliveries.state, state)
        return deliveries

    def last_note(self, move):
        return move.message_ids.sorted("id")[-1].body

    # ------------------------------------------------------------------
    # Every path of the chain
    # ------------------------------------------------------------------

    def test_vipps_path(self):
        move = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual(move.efaktura_state, "sent")
        self.assertTrue(move.is_move_sent, "Odoo's Sent flag follows a delivery made by the cron")
        self.assertEqual(move.move_sent_values, "sent")
        self.assertEqual(move.efaktura_channel, "vipps")
        delivery = self.assert_one_delivery(move, "vipps")
        self.assertTrue(delivery.network_reference)
        self.assertEqual(delivery.network, "sandbox")
        document = self.mailbox(move)
        self.assertEqual(len(document), 1)
        self.assertEqual(document.channel, "vipps")
        self.assertEqual(document.reference, delivery.network_reference)
        self.assertEqual(document.kid, move.payment_reference)
        self.assertIn("Delivered by Vipps", self.last_note(move))
        kari = self.kari.with_company(self.company)
        self.assertTrue(kari.efaktura_found_in_vipps)
        self.assertEqual(kari.efaktura_state, "active")

    def test_nettbank_by_jtta_path(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(move.efaktura_state, "sent")
        self.assertEqual(move.efaktura_channel, "nettbank")
        delivery = self.assert_one_delivery(move, "nettbank")
        ola = self.ola.with_company(self.company)
        self.assertTrue(ola.efaktura_identifier, "the JTTA lookup is remembered on the partner")
        self.assertFalse(ola.efaktura_found_in_vipps)
        document = self.mailbox(move)
        self.assertEqual(document.channel, "nettbank")
        self.assertEqual(document.recipient, ola.efaktura_identifier)
        self.assertEqual(document.reference, delivery.network_reference)
        self.assertIn("Delivered by eFaktura", self.last_note(move))

    def test_awaiting_consent_path(self):
        move = self.dispatch(self.make_invoice(self.ingrid))
        self.assertEqual(move.efaktura_state, "awaiting_consent")
        self.assertFalse(move.efaktura_delivery_ids)
        self.assertFalse(move.is_move_sent, "waiting for consent is not sent")
        expected = fields.Datetime.now() + timedelta(days=3)
        self.assertAlmostEqual(move.efaktura_deadline, expected, delta=timedelta(minutes=1))
        self.assertEqual(self.ingrid.with_company(self.company).efaktura_state, "consent_requested")
        self.assertFalse(self.mailbox(move))
        # A second invoice of the same customer waits until the same deadline.
        with freeze_time(fields.Datetime.now() + timedelta(hours=5)):
            second = self.dispatch(self.make_invoice(self.ingrid, amount=50))
        self.assertEqual(second.efaktura_deadline, move.efaktura_deadline)

    def test_deadline_then_email_with_pdf(self):
        move = self.dispatch(self.make_invoice(self.ingrid))
        with freeze_time(move.efaktura_deadline + timedelta(minutes=1)):
            self.env["efaktura.chain"]._cron_deadlines()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertEqual(move.efaktura_channel, "email")
        delivery = self.assert_one_delivery(move, "email", state="accepted")  # the (test) mail server took it
        mail_message = move.message_ids.filtered(lambda m: m.message_type == "comment" and m.attachment_ids)
        self.assertEqual(len(mail_message), 1, "one e-mail with the invoice attached")
        self.assertIn(self.ingrid, mail_message.partner_ids)
        self.assertEqual(mail_message.attachment_ids.mapped("name"), [move._get_invoice_report_filename()])
        self.assertEqual(delivery.mail_message_id, mail_message, "the delivery knows its e-mail")

    def test_post_path(self):
        letters_before = self.env["snailmail.letter"].search_count([])
        move = self.make_invoice(self.per)
        move.efaktura_deadline = fields.Datetime.now() - timedelta(minutes=1)  # consent window already over
        self.dispatch(move)
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertEqual(move.efaktura_channel, "post")
        self.assertTrue(move.is_move_sent)
        delivery = self.assert_one_delivery(move, "post")
        letter = delivery.snailmail_letter_id
        self.assertTrue(letter)
        self.assertEqual(self.env["snailmail.letter"].search_count([]), letters_before + 1)
        self.assertEqual((letter.model, letter.res_id, letter.partner_id), ("account.move", move.id, self.per))
        self.assertEqual(letter.report_template, self.env.ref("account.account_invoices"))
        self.assertEqual(letter.state, "efaktura_test", "Test mode: the letter is kept, never printed or posted")
        kept = self.env["efaktura.test.message"].search([("kind", "=", "letter"), ("res_id", "=", move.id)])
        self.assertEqual(kept.partner_id, self.per)

    def test_manual_path(self):
        move = self.make_invoice(self.siri)
        move.efaktura_deadline = fields.Datetime.now() - timedelta(minutes=1)
        self.dispatch(move)
        self.assertEqual(move.efaktura_state, "manual")
        delivery = self.assert_one_delivery(move, "manual", state="pending")
        activity = delivery.activity_id
        self.assertEqual(activity.summary, "Print and post")
        self.assertEqual((activity.res_model, activity.res_id), ("account.move", move.id))
        self.assertEqual(activity.user_id, move.invoice_user_id or self.env.user)

    def test_not_a_consumer_goes_by_email(self):
        company_partner = self.env["res.partner"].create(
            {"name": "Fjord Bygg AS", "is_company": True, "email": "post@fjord.example.com"}
        )
        move = self.dispatch(self.make_invoice(company_partner))
        self.assertEqual(move.efaktura_channel, "email")
        self.assertEqual(move.efaktura_state, "fallback_sent")

    def test_declined_consumer_skips_efaktura(self):
        self.ingrid.with_company(self.company)._efaktura_set_state("declined")
        move = self.dispatch(self.make_invoice(self.ingrid))
        self.assertEqual(move.efaktura_channel, "email")

    def test_channel_order_is_followed(self):
        channels = {c.code: c for c in self.company.efaktura_channel_ids}
        channels["email"].sequence = 1
        move = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual(move.efaktura_channel, "email", "e-mail first when the company says so")
        channels["email"].active = False
        channels["post"].active = False
        move2 = self.make_invoice(self.siri)
        move2.efaktura_deadline = fields.Datetime.now() - timedelta(minutes=1)
        self.dispatch(move2)
        self.assertEqual(move2.efaktura_channel, "manual")

    def test_inactive_issuer_agreement_skips_network_channels(self):
        self.company.efaktura_issuer_state = "pending_approval"
        move = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual(move.efaktura_channel, "email")
        self.assertFalse(self.mailbox(move))

    def test_invalid_kid_skips_network_channels(self):
        move = self.make_invoice(self.kari)
        move.payment_reference = "12345678"  # wrong check digit
        self.dispatch(move)
        self.assertEqual(move.efaktura_channel, "email")

    # ------------------------------------------------------------------
    # Never twice
    # ------------------------------------------------------------------

    def test_sending_twice_delivers_once(self):
        move = self.dispatch(self.make_invoice(self.ola))
        reference = move.efaktura_delivery_ids.network_reference
        # The button again, and the cron again.
        self.dispatch(move)
        with self.assertRaisesRegex(UserError, "already delivered"):
            move.action_efaktura_send()
        self.env["efaktura.chain"]._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual(len(move.efaktura_delivery_ids), 1)
        self.assertEqual(move.efaktura_delivery_ids.network_reference, reference)
        self.assertEqual(len(self.mailbox(move)), 1)
        self.assertEqual(move.efaktura_state, "sent")
        self.assertIn("not sent again", self.last_note(move))

    def test_rerun_after_crash_between_submit_and_commit(self):
        """The network got the document, then the worker died before committing: the re-run must not
        reach the consumer twice, and the outbox ends with the network's reference."""
        self.dispatch(self.make_invoice(self.ola))  # learns Ola's eFaktura identifier
        move = self.make_invoice(self.ola, amount=321)
        move._efaktura_queue()
        chain = self.env["efaktura.chain"]
        # What the crashed run had done outside this database: the network holds the consignment.
        run = DispatchRun(chain, self.company, move)
        document = self.env["efaktura.network.sender"]._document(move, "nettbank", run)
        first = run.network.submit("nettbank", [document])[0]
        self.assertTrue(first.ok)
        self.assertFalse(move.efaktura_delivery_ids, "the crashed run's outbox row was never committed")
        chain._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "sent")
        delivery = move.efaktura_delivery_ids
        self.assertEqual(len(delivery), 1)
        self.assertEqual(delivery.network_reference, first.network_reference)
        self.assertEqual(len(self.mailbox(move)), 1, "one document in the consumer's nettbank")
        submissions = self.env["efaktura.sandbox.submission"].search([("key", "=", delivery.idempotency_key)])
        self.assertEqual(len(submissions), 2, "both submissions reached the network")
        self.assertEqual(submissions.mapped("duplicate").count(True), 1)
        self.assertIn("the network already had it", self.last_note(move))

    def test_unique_key_holds(self):
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            delivery.sudo().copy({"idempotency_key": delivery.idempotency_key})

    def test_changed_document_is_a_new_delivery(self):
        move = self.dispatch(self.make_invoice(self.ola))
        first = move.efaktura_delivery_ids
        move.button_draft()
        self.env["efaktura.take.back"]._process(move)  # what runs right after the commit
        move.invoice_line_ids.price_unit = 1500
        move.action_post()
        self.dispatch(move)
        self.assertEqual(len(move.efaktura_delivery_ids), 2)
        self.assertNotEqual(move.efaktura_delivery_ids[0].idempotency_key, first.idempotency_key)

    # ------------------------------------------------------------------
    # Failures
    # ------------------------------------------------------------------

    def test_outage_retries_with_backoff_then_next_channel(self):
        self.dispatch(self.make_invoice(self.ola))  # the lookup finds Ola's identifier
        self.company.efaktura_sandbox_failure = "outage"
        move = self.make_invoice(self.ola, amount=200)
        before = fields.Datetime.now().replace(microsecond=0)
        self.dispatch(move)
        after = fields.Datetime.now()
        delivery = move.efaktura_delivery_ids
        self.assertEqual(move.efaktura_state, "queued")
        self.assertEqual((delivery.state, delivery.attempt_count, delivery.final), ("failed", 1, False))
        self.assertTrue(before + timedelta(minutes=5) <= delivery.next_retry_at <= after + timedelta(minutes=5))
        retry_times = []
        for attempt in range(2, MAX_ATTEMPTS + 1):
            self.assertTrue(delivery.next_retry_at)
            now = delivery.next_retry_at
            retry_times.append(now)
            # Not before its time.
            with freeze_time(now - timedelta(seconds=30)):
                self.env["efaktura.chain"]._cron_dispatch()
            delivery.invalidate_recordset()
            self.assertEqual(delivery.attempt_count, attempt - 1)
            with freeze_time(now):
                self.env["efaktura.chain"]._cron_dispatch()
            delivery.invalidate_recordset()
            move.invalidate_recordset()
            self.assertEqual(delivery.attempt_count, attempt)
        gaps = [later - earlier for earlier, later in itertools.pairwise(retry_times)]
        self.assertEqual(
            gaps, [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40)], "exponential backoff"
        )
        self.assertTrue(delivery.final)
        self.assertEqual(delivery.state, "failed")
        self.assertEqual(move.efaktura_channel, "email", "after the last retry, the next channel")
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertEqual(len(move.efaktura_delivery_ids), 2)
        self.assertFalse(self.mailbox(move))
        self.assertTrue(any("Trying the next channel" in body for body in move.message_ids.mapped("body")))

    def test_lookup_outage_waits_then_falls_back(self):
        self.company.efaktura_sandbox_failure = "outage"
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(move.efaktura_state, "queued")
        self.assertFalse(move.efaktura_delivery_ids)
        self.assertEqual(move.efaktura_retry_count, 1)
        for _attempt in range(MAX_ATTEMPTS):
            with freeze_time(move.efaktura_next_try or fields.Datetime.now()):
                self.env["efaktura.chain"]._cron_dispatch()
            move.invalidate_recordset()
            if move.efaktura_state != "queued":
                break
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertEqual(move.efaktura_channel, "email")
        self.assertEqual(self.ola.with_company(self.company).efaktura_state, "not_checked")

    def test_rejection_goes_to_next_channel_at_once(self):
        self.company.efaktura_sandbox_failure = "reject"
        move = self.dispatch(self.make_invoice(self.kari))
        vipps = move.efaktura_delivery_ids.filtered(lambda d: d.channel == "vipps")
        self.assertEqual((vipps.state, vipps.final), ("rejected", True))
        self.assertTrue(vipps.last_error)
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertEqual(move.efaktura_channel, "email")

    # ------------------------------------------------------------------
    # Preview, sending method, send on post, receipts
    # ------------------------------------------------------------------

    def test_preview_names_channel_and_reason_without_sending(self):
        self.kari.with_company(self.company).sudo().write({"efaktura_found_in_vipps": True})
        expectations = {
            self.kari: ("vipps", "Vipps"),
            self.ingrid: ("nettbank", "BankID"),
        }
        submissions = self.env["efaktura.sandbox.submission"].search_count([])
        for partner, (channel, words) in expectations.items():
            move = self.make_invoice(partner)
            with self.subTest(partner=partner.name):
                self.assertEqual(move.efaktura_preview_channel, channel)
                self.assertIn(words, move.efaktura_preview_reason)
        move = self.make_invoice(self.per)
        move.efaktura_deadline = fields.Datetime.now() - timedelta(minutes=1)
        move.invalidate_recordset(["efaktura_preview_channel"])
        self.assertEqual(move.efaktura_preview_channel, "post")
        self.assertIn("has no e-mail address", move.efaktura_preview_reason)
        self.assertEqual(self.env["efaktura.sandbox.submission"].search_count([]), submissions)
        self.assertFalse(self.env["efaktura.delivery"].search([("partner_id", "in", [self.kari.id, self.per.id])]))

    def test_default_sending_method(self):
        Send = self.env["account.move.send"]
        defaults = Send._get_default_sending_settings(self.make_invoice(self.kari))
        self.assertEqual(defaults["sending_methods"], {"efaktura_b2c"})
        other = self.env["res.partner"].create({"name": "Not B2C", "email": "x@example.com"})
        defaults = Send._get_default_sending_settings(self.make_invoice(other))
        self.assertNotIn("efaktura_b2c", defaults["sending_methods"])

    def test_send_and_print_wizard_routes_through_the_chain(self):
        move = self.make_invoice(self.ola)
        wizard = (
            self.env["account.move.send.wizard"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create({})
        )
        self.assertEqual(wizard.sending_methods, ["efaktura_b2c"])
        wizard.action_send_and_print()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "sent")
        self.assertEqual(move.efaktura_channel, "nettbank")
        self.assertEqual(len(self.mailbox(move)), 1)

    def test_batch_send_and_print(self):
        moves = self.make_invoice(self.ola) + self.make_invoice(self.kari)
        wizard = (
            self.env["account.move.send.batch.wizard"]
            .with_context(active_model="account.move", active_ids=moves.ids)
            .create({})
        )
        wizard.action_send_and_print()
        compat.run_cron(self, self.env.ref("account.ir_cron_account_move_send"))
        moves.invalidate_recordset()
        self.assertEqual(moves.mapped("efaktura_state"), ["sent", "sent"])
        self.assertEqual(sorted(moves.mapped("efaktura_channel")), ["nettbank", "vipps"])

    def test_send_on_post(self):
        move = self.make_invoice(self.ola, post=False)
        move.action_post()
        self.assertEqual(move.efaktura_state, "none")
        self.company.efaktura_send_on_post = True
        move2 = self.make_invoice(self.ola)
        self.assertEqual(move2.efaktura_state, "queued")
        compat.run_cron(self, self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_dispatch"))
        move2.invalidate_recordset()
        self.assertEqual(move2.efaktura_state, "sent")

    def test_status_poll_moves_receipts_forward(self):
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        self.env["efaktura.sandbox.document"]._cron_advance()
        # The cron record itself, as the scheduler runs it: it calls the outbox's poll.
        compat.run_cron(self, self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_status"))
        delivery.invalidate_recordset()
        self.assertEqual(delivery.state, "accepted")
        self.env["efaktura.sandbox.document"]._cron_advance()
        self.env["efaktura.delivery"]._cron_poll_status()
        delivery.invalidate_recordset()
        self.assertEqual(delivery.state, "shown")
        self.assertIn("receipt", self.last_note(move))

    def test_cost_from_channel_price(self):
        self.company.efaktura_channel_ids.filtered(lambda c: c.code == "nettbank").price = 1.75
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(move.efaktura_delivery_ids.cost, 1.75)

    def test_unexpected_failure_leaves_a_visible_error(self):
        move = self.make_invoice(self.ola)
        move._efaktura_queue()
        with (
            patch.object(
                type(self.env["efaktura.network.sender"]), "_send_nettbank", side_effect=RuntimeError("disk full")
            ),
            mute_logger("odoo.addons.l10n_no_efaktura_b2c.models.efaktura_chain"),
        ):
            self.env["efaktura.chain"]._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "error")
        self.assertIn("disk full", move.efaktura_error)
        self.assertFalse(move.efaktura_delivery_ids)
        self.assertIn("could not send", self.last_note(move))
        # Sending again from the invoice works once the cause is gone.
        move.action_efaktura_send()
        self.assertEqual(move.efaktura_state, "sent")

    def test_concurrent_update_is_not_a_failure(self):
        """A serialization failure (two workers writing the same customer) rolls the batch back to be retried;
        it never marks the invoices as needing attention."""

        class ConcurrentUpdate(psycopg2.errors.SerializationFailure):
            pgcode = "40001"

        move = self.make_invoice(self.ola)
        move._efaktura_queue()
        chain = self.env["efaktura.chain"]
        conflict = ConcurrentUpdate("concurrent update")
        with patch.object(type(chain), "_dispatch_company", side_effect=conflict), self.assertRaises(ConcurrentUpdate):
            chain._dispatch(move)
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "queued")
        self.assertFalse(move.efaktura_error)
