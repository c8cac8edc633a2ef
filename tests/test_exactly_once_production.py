"""Exactly once in production: whatever fails, no invoice reaches a nettbank (MPS) or Vipps twice.

Every test runs the real chain against the local MPS and Vipps peers over HTTP. The peers record every
submission and count a second live copy of an invoice number as a duplicate; ``ProductionCase`` checks
after each test that they counted none.
"""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..compat import PARTNER_MOBILE as MOBILE
from ..models.efaktura_chain import MAX_ATTEMPTS
from ..models.efaktura_network_sender import EfakturaNetworkSender
from .mps_peer import MODE_HTTP_ERROR, MODE_NORMAL
from .test_dispatch_production import ProductionCase

ISSUER = "123456785"
PUT_INVOICE = ("PUT", "/invoices/{invoiceId}")


class Crash(BaseException):
    """The worker dies (kill -9, out of memory) after the network took the batch, before the commit."""


@tagged("post_install", "-at_install")
class TestExactlyOnceProduction(ProductionCase):
    def submissions(self, move):
        return [s for s in self.mps_peer.submissions if s[1] == move.name]

    def network_delivery(self, move):
        return move.efaktura_delivery_ids.filtered(lambda d: d.channel in ("nettbank", "vipps"))

    def learn_ola(self):
        """A first invoice teaches the chain Ola's eFaktura identifier, so that the next ones go straight out."""
        self.dispatch(self.make_invoice(self.ola, amount=10))

    # ------------------------------------------------------------------
    # The answer is lost: the network has the invoice, Odoo does not know
    # ------------------------------------------------------------------

    def test_lost_answer_then_retry_button_reaches_mps_once(self):
        self.learn_ola()
        moves = self.make_invoices(self.ola, 2)
        self.mps_peer.lose_answers("addInvoices")
        self.dispatch(moves)
        for move in moves:
            delivery = move.efaktura_delivery_ids
            self.assertEqual((move.efaktura_state, delivery.state, delivery.final), ("queued", "failed", False))
            self.assertEqual(len(self.submissions(move)), 1, "MPS took it; the answer never came")

        # The Retry button on one of them: another batch than the first attempt's.
        moves[0].action_efaktura_send()
        moves.invalidate_recordset()
        delivery = moves[0].efaktura_delivery_ids
        self.assertEqual((moves[0].efaktura_state, moves[0].efaktura_channel), ("sent", "nettbank"))
        self.assertEqual((delivery.state, delivery.network_reference), ("submitted", moves[0].name))
        self.assertEqual(len(self.submissions(moves[0])), 1, "MPS was asked first, and not sent it again")
        self.assertIn("the network already had it", moves[0].message_ids[0].body)
        self.assertEqual(self.mps_peer.duplicate_count, 0)
        waiting = moves[1].efaktura_delivery_ids
        self.assertIn(waiting.network_attempt_ref, self.mps_peer.consignments, "the consignment id is kept")

        # The other one, at its next try from the cron.
        moves[1]._efaktura_write({"efaktura_next_try": fields.Datetime.now() - timedelta(seconds=1)})
        self.env["efaktura.chain"]._cron_dispatch()
        moves.invalidate_recordset()
        self.assertEqual(moves[1].efaktura_state, "sent")
        self.assertEqual(len(self.submissions(moves[1])), 1)
        self.assertEqual(len(self.mps_peer.requests_for("addInvoices")), 2, "the first invoice's and this batch's")

    def test_lost_answer_then_retry_button_reaches_vipps_once(self):
        move = self.make_invoice(self.kari)
        self.vipps_peer.lose_answers(*PUT_INVOICE)
        self.dispatch(move)
        delivery = move.efaktura_delivery_ids
        self.assertEqual((move.efaktura_state, delivery.channel, delivery.state), ("queued", "vipps", "failed"))
        self.assertEqual(len(self.vipps_peer.invoices), 1, "Vipps stored it; the answer never came")

        move.action_efaktura_send()
        move.invalidate_recordset()
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "vipps"))
        self.assertEqual(delivery.state, "submitted")
        self.assertEqual(len(self.vipps_peer.submissions), 1)
        reads = self.vipps_peer.requests_to("GET", delivery.network_reference)
        self.assertEqual(reads[-1].status, 200, "Vipps was read before anything was written again")
        self.assertEqual(len(self.vipps_peer.requests_to("PUT", delivery.network_reference)), 1)

    def test_unknown_outcome_never_falls_back_to_another_channel(self):
        """MPS took the invoice, the answer was lost, and MPS is down for every try after: the invoice may be in
        the nettbank, so it waits for MPS rather than going by e-mail as well."""
        self.learn_ola()
        move = self.make_invoice(self.ola)
        self.mps_peer.lose_answers("addInvoices")
        self.dispatch(move)
        self.mps_peer.mode = MODE_HTTP_ERROR
        for _round in range(MAX_ATTEMPTS + 1):
            move._efaktura_write({"efaktura_next_try": fields.Datetime.now() - timedelta(seconds=1)})
            self.env["efaktura.chain"]._cron_dispatch()
            move.invalidate_recordset()
            self.assertEqual(move.efaktura_state, "queued")
        delivery = move.efaktura_delivery_ids
        self.assertEqual(len(delivery), 1, "no other channel was tried")
        self.assertEqual((delivery.state, delivery.final, delivery.outcome_unknown), ("failed", False, True))
        self.assertGreater(delivery.attempt_count, MAX_ATTEMPTS)
        self.assertIn("may already be with the customer", move.message_ids[0].body)

        self.mps_peer.mode = MODE_NORMAL
        move._efaktura_write({"efaktura_next_try": fields.Datetime.now() - timedelta(seconds=1)})
        self.env["efaktura.chain"]._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "nettbank"))
        self.assertEqual(delivery.state, "submitted")
        self.assertEqual(len(self.submissions(move)), 1)

    def test_crash_between_submit_and_commit(self):
        self.learn_ola()
        moves = self.make_invoices(self.ola, 3)
        moves._efaktura_queue()
        with (
            self.assertRaises(Crash),
            self.env.cr.savepoint(),
            patch.object(EfakturaNetworkSender, "_mark_delivered", side_effect=Crash()),
        ):
            self.env["efaktura.chain"]._dispatch_locked(moves)
        moves.invalidate_recordset()
        self.assertFalse(moves.efaktura_delivery_ids, "the transaction is gone, with everything it knew")
        self.assertEqual(set(moves.mapped("efaktura_state")), {"queued"})
        for move in moves:
            self.assertEqual(len(self.submissions(move)), 1, "MPS took the whole consignment")

        # The restart takes them in other batches than the lost one.
        self.env["efaktura.chain"]._cron_dispatch(batch_size=2)
        moves.invalidate_recordset()
        self.assertEqual(set(moves.mapped("efaktura_state")), {"sent"})
        for move in moves:
            self.assertEqual(len(self.submissions(move)), 1, f"{move.name} reached the nettbank once")
            self.assertEqual(self.network_delivery(move).state, "submitted")
        self.assertEqual(self.mps_peer.duplicate_count, 0)

    # ------------------------------------------------------------------
    # Send again after the invoice moved on in Odoo
    # ------------------------------------------------------------------

    def pay(self, move, amount):
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=move.ids).create(
            {"amount": amount, "payment_date": fields.Date.today()}
        )._create_payments()

    def reverse(self, move, amount):
        wizard = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create({"journal_id": move.journal_id.id, "reason": "Feil timepris"})
        )
        refund = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        refund.invoice_line_ids.price_unit = amount
        refund.action_post()
        return refund

    def test_partial_payment_then_send_again(self):
        self.learn_ola()
        nettbank = self.dispatch(self.make_invoice(self.ola))
        vipps = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual((nettbank.efaktura_channel, vipps.efaktura_channel), ("nettbank", "vipps"))
        keys = {move: self.network_delivery(move).idempotency_key for move in nettbank | vipps}
        for move in nettbank | vipps:
            self.pay(move, 300)
            self.assertEqual(move.payment_state, "partial")
            # The button says it went already; Send & Print queues it again, and the chain must know it.
            with self.assertRaisesRegex(UserError, "already delivered"):
                move.action_efaktura_send()
            self.dispatch(move)
            move.invalidate_recordset()
            self.assertEqual(move.efaktura_state, "sent")
            self.assertEqual(move.efaktura_delivery_ids.idempotency_key, keys[move], "one delivery, one key")
            self.assertIn("Already delivered", move.message_ids[0].body)
        self.assertEqual(len(self.submissions(nettbank)), 1)
        self.assertEqual(len(self.vipps_peer.submissions), 1)
        self.assertEqual((self.mps_peer.duplicate_count, self.vipps_peer.duplicate_count), (0, 0))

    def test_credit_note_then_send_again(self):
        self.learn_ola()
        invoice = self.dispatch(self.make_invoice(self.ola))
        refund = self.dispatch(self.reverse(invoice, 250))
        self.assertEqual((refund.efaktura_state, refund.efaktura_channel), ("sent", "nettbank"))
        self.assertEqual(invoice.amount_residual, 750)
        with self.assertRaisesRegex(UserError, "already delivered"):
            invoice.action_efaktura_send()
        self.dispatch(invoice)  # what Send & Print does
        invoice.invalidate_recordset()
        self.assertEqual((invoice.efaktura_state, len(invoice.efaktura_delivery_ids)), ("sent", 1))
        self.assertEqual(len(self.submissions(invoice)), 1, "the invoice reached the nettbank once")
        self.assertEqual(len(self.submissions(refund)), 1, "and its credit note once")
        self.assertEqual(self.mps_peer.duplicate_count, 0)

    # ------------------------------------------------------------------
    # Taking back: Odoo decides first, the network second, and they agree
    # ------------------------------------------------------------------

    def test_reset_refused_by_a_lock_date_keeps_the_network_copy(self):
        self.learn_ola()
        nettbank = self.dispatch(self.make_invoice(self.ola))
        vipps = self.dispatch(self.make_invoice(self.kari))
        self.company.sudo().fiscalyear_lock_date = fields.Date.today()
        for move in nettbank | vipps:
            with self.assertRaisesRegex(UserError, "(?i)lock date"):
                move.button_draft()
            self.assertEqual((move.state, move.efaktura_state), ("posted", "sent"))
            self.assertEqual(self.network_delivery(move).state, "submitted")
            self.assertFalse(self.network_delivery(move).cancel_request)
        self.assertEqual(self.mps_peer.invoices[(ISSUER, nettbank.name)]["status"], "RECEIVED")
        self.assertFalse(self.mps_peer.requests_for("getCancellableInvoice"), "MPS was not even asked")
        self.assertFalse(self.mps_peer.requests_for("cancelInvoice"))
        self.assertEqual(self.vipps_peer.invoices[self.network_delivery(vipps).network_reference]["state"], "created")
        self.assertFalse(self.vipps_peer.requests_to("PUT", "/status/revoked"))

    def test_network_refuses_the_cancellation(self):
        self.learn_ola()
        nettbank = self.dispatch(self.make_invoice(self.ola))
        vipps = self.dispatch(self.make_invoice(self.kari))
        self.mps_peer.mark_paid(ISSUER, nettbank.name)
        self.vipps_peer.set_state(self.network_delivery(vipps).network_reference, "approved")
        for move, reason in ((nettbank, "already paid"), (vipps, "can no longer be revoked")):
            move.button_cancel()
            self.assertEqual((move.state, move.efaktura_state), ("posted", "cancelling"))
            self.env["efaktura.take.back"]._process(move)  # what runs right after the commit
            self.assertEqual(move.state, "posted", "the invoice stays posted: the customer still has it")
            self.assertEqual(move.efaktura_state, "sent")
            self.assertRegex(move.efaktura_error, f"refused to take it back.*{reason}")
            self.assertIn("refused to take it back", move.message_ids[0].body)
            delivery = self.network_delivery(move)
            self.assertEqual((delivery.state, delivery.cancel_request), ("submitted", False))
        self.assertNotEqual(self.mps_peer.invoices[(ISSUER, nettbank.name)]["status"], "DELETED")

    def test_taking_back_waits_for_the_network_then_resends_once(self):
        self.learn_ola()
        move = self.dispatch(self.make_invoice(self.ola))
        self.mps_peer.mode = MODE_HTTP_ERROR
        move.button_draft()
        self.env["efaktura.take.back"]._process(move)
        self.assertEqual((move.state, move.efaktura_state), ("posted", "cancelling"), "MPS down: still waiting")
        self.assertTrue(move.efaktura_error)
        self.mps_peer.mode = MODE_NORMAL
        self.env["efaktura.delivery"]._cron_poll_status()
        self.assertEqual((move.state, move.efaktura_state), ("draft", "none"))
        self.assertEqual(self.mps_peer.invoices[(ISSUER, move.name)]["status"], "DELETED")
        move.action_post()
        self.dispatch(move)
        self.assertEqual(move.efaktura_state, "sent")
        self.assertEqual(self.mps_peer.invoices[(ISSUER, move.name)]["status"], "RECEIVED", "the new revision")
        self.assertEqual(len(self.submissions(move)), 2)

    # ------------------------------------------------------------------
    # First contact: no consent request on half an answer
    # ------------------------------------------------------------------

    def test_lookup_outage_before_first_contact(self):
        self.mps_peer.mode = MODE_HTTP_ERROR  # MPS is down, Vipps answers
        move = self.dispatch(self.make_invoice(self.ingrid))
        consents = self.env["efaktura.consent"].sudo().search([("partner_id", "=", self.ingrid.id)])
        self.assertFalse(consents, "no consent request on the strength of Vipps' answer alone")
        self.assertFalse(self.env["sms.sms"].sudo().search([("partner_id", "=", self.ingrid.id)]))
        self.assertEqual(move.efaktura_state, "queued")
        self.assertTrue(move.efaktura_next_try, "the lookup is retried with backoff")
        self.assertIn("lookup failed", move.message_ids[0].body)
        self.assertNotEqual(self.ingrid.with_company(self.company).efaktura_state, "consent_requested")

        # MPS is back and the retry is due: now MPS has answered that Ingrid has no eFaktura, she is asked.
        self.mps_peer.mode = MODE_NORMAL
        move._efaktura_write({"efaktura_next_try": fields.Datetime.now() - timedelta(seconds=1)})
        self.env["efaktura.chain"]._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "awaiting_consent")
        self.assertTrue(self.env["efaktura.consent"].sudo().search([("partner_id", "=", self.ingrid.id)]))

    def test_vipps_lookup_outage_for_one_customer(self):
        """Vipps is asked once per customer: the one whose call failed waits for a retry, the others go on."""
        self.ingrid[MOBILE] = "+4791345678"
        moves = self.make_invoice(self.kari) | self.make_invoice(self.ingrid)
        self.vipps_peer.set_fault("500", on="api", count=1)  # the first recipient token call: Kari's
        self.dispatch(moves)
        kari, ingrid = moves
        self.assertEqual(kari.efaktura_state, "queued")
        self.assertTrue(kari.efaktura_next_try)
        self.assertFalse(self.env["efaktura.consent"].sudo().search([("partner_id", "=", self.kari.id)]))
        self.assertFalse(self.kari.with_company(self.company).efaktura_found_in_vipps, "half an answer is not written")
        self.assertEqual(ingrid.efaktura_state, "awaiting_consent", "MPS and Vipps both answered for Ingrid")

        kari._efaktura_write({"efaktura_next_try": fields.Datetime.now() - timedelta(seconds=1)})
        self.env["efaktura.chain"]._cron_dispatch()
        kari.invalidate_recordset()
        self.assertEqual((kari.efaktura_state, kari.efaktura_channel), ("sent", "vipps"))
