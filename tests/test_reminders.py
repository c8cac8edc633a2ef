import smtplib
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import format_date, mute_logger

from .. import compat
from .common import EfakturaInvoiceCase, RealQueues, RealTimeoutsOnLoopback
from .vipps_peer import VippsPeer

QUIET = (
    "odoo.addons.mail.models.mail_mail",
    "odoo.addons.l10n_no_efaktura_b2c.models.efaktura_chain",
    "odoo.addons.l10n_no_efaktura_b2c.models.efaktura_fallback_sender",
)


def smtp_down(*args, **kwargs):
    raise smtplib.SMTPConnectError(421, "Service not available")


@tagged("post_install", "-at_install")
class TestReminders(RealQueues, EfakturaInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The sandbox's own network, with a reminder type (the MPS route); it plays Maventa, which has none, for
        # the Visma AutoInvoice route (test_maventa_route_sends_the_reminder_by_email).
        cls.company.write(
            {
                "efaktura_reminder_enabled": True,
                "efaktura_reminder_days": "14,28",
                "efaktura_production_route": "mps",
            }
        )

    def run_reminders(self, move, days_after_due):
        with freeze_time(move.invoice_date_due + timedelta(days=days_after_due)):
            self.env["efaktura.reminder"]._cron_send()
        move.invalidate_recordset()

    def test_reminder_by_efaktura_once_per_step(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.run_reminders(move, 13)
        self.assertFalse(move.efaktura_reminder_ids, "not before the first step")
        self.run_reminders(move, 14)
        reminder = move.efaktura_reminder_ids
        self.assertEqual((reminder.step, reminder.channel), (1, "nettbank"))
        self.assertEqual(reminder.due_date, move.invoice_date_due + timedelta(days=28), "14 days to pay")
        documents = self.mailbox(move) | self.env["efaktura.sandbox.document"].search(
            [("invoice_number", "=", f"{move.name}-P1")]
        )
        self.assertEqual(len(documents), 2, "the invoice and its reminder, a new eFaktura")
        reminder_doc = documents.filtered(lambda d: d.invoice_number.endswith("-P1"))
        self.assertEqual(reminder_doc.due_date, reminder.due_date)
        self.assertEqual(reminder_doc.kid, move.payment_reference)
        self.assertEqual(move.efaktura_state, "sent", "the invoice keeps its own delivery state")
        self.assertIn("Reminder 1 sent by eFaktura", move.message_ids[0].body)
        # Never twice: the cron again, the same day and later.
        self.run_reminders(move, 14)
        self.run_reminders(move, 20)
        self.assertEqual(len(move.efaktura_reminder_ids), 1)
        self.assertEqual(
            self.env["efaktura.sandbox.document"].search_count([("invoice_number", "=", f"{move.name}-P1")]), 1
        )
        # The second step.
        self.run_reminders(move, 28)
        self.assertEqual(sorted(move.efaktura_reminder_ids.mapped("step")), [1, 2])

    def test_no_reminder_after_payment(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=move.ids).create(
            {}
        )._create_payments()
        self.run_reminders(move, 30)
        self.assertFalse(move.efaktura_reminder_ids)

    def test_maventa_route_sends_the_reminder_by_email(self):
        self.company.efaktura_production_route = "maventa"
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual((move.efaktura_channel, self.mailbox(move).played_network), ("nettbank", "maventa"))
        self.run_reminders(move, 14)
        reminder = move.efaktura_reminder_ids
        self.assertEqual((reminder.step, reminder.channel), (1, "email"))
        self.assertFalse(
            self.env["efaktura.sandbox.document"].search([("invoice_number", "=", f"{move.name}-P1")]),
            "no second payment claim in the nettbank",
        )
        refused = self.env["efaktura.sandbox.submission"].search(
            [("company_id", "=", self.company.id), ("failed", "=", True), ("played_network", "=", "maventa")]
        )
        self.assertEqual(len(refused), 1)
        self.assertIn("no reminder", refused.error)

    def test_reminder_by_email_uses_the_reminder_template(self):
        self.ingrid.with_company(self.company)._efaktura_set_state("declined")
        move = self.dispatch(self.make_invoice(self.ingrid))
        self.assertEqual(move.efaktura_channel, "email")
        self.run_reminders(move, 15)
        self.assertEqual(move.efaktura_reminder_ids.channel, "email")
        mail = move.message_ids.filtered(lambda m: m.message_type == "comment" and "reminder" in (m.subject or ""))
        self.assertEqual(len(mail), 1)
        self.assertIn("have not yet received payment", mail.body)
        self.assertIn(format_date(self.env, move.efaktura_reminder_ids.due_date), mail.body)

    def test_fee_is_an_invoice_of_its_own(self):
        self.company.efaktura_reminder_fee = 35
        move = self.dispatch(self.make_invoice(self.ola))
        self.run_reminders(move, 14)
        fee = move.efaktura_reminder_ids.fee_move_id
        self.assertEqual(fee.amount_total, 35)
        self.assertEqual(fee.state, "posted")
        self.assertEqual(fee.partner_id, self.ola)
        self.assertEqual(fee.invoice_origin, move.name)
        self.assertEqual(fee.efaktura_state, "queued", "the fee goes through the chain like any invoice")

    def reminder_documents(self, move):
        return self.env["efaktura.sandbox.document"].search([("invoice_number", "like", f"{move.name}-P%")])

    def test_steps_are_spaced_from_the_previous_reminder(self):
        """Found 40 days overdue with steps 14 and 28: one reminder now, the next 14 days later, never two a day."""
        move = self.dispatch(self.make_invoice(self.ola))
        self.run_reminders(move, 40)
        self.assertEqual(move.efaktura_reminder_ids.mapped("step"), [1], "one reminder per invoice per run")
        first = move.efaktura_reminder_ids
        self.assertEqual(first.sent_date, move.invoice_date_due + timedelta(days=40))
        for days in (40, 41, 53):
            self.run_reminders(move, days)
            self.assertEqual(len(move.efaktura_reminder_ids), 1, f"day {days}: too early for the second")
        self.run_reminders(move, 54)
        self.assertEqual(sorted(move.efaktura_reminder_ids.mapped("step")), [1, 2])
        self.assertEqual(len(self.reminder_documents(move)), 2)
        self.assertEqual(set(self.reminder_documents(move).mapped("kind")), {"reminder"})

    def test_retryable_error_is_retried_and_counts_only_once_delivered(self):
        self.company.efaktura_reminder_fee = 35
        move = self.dispatch(self.make_invoice(self.ola))
        self.company.efaktura_sandbox_failure = "outage"
        self.run_reminders(move, 14)
        reminder = move.efaktura_reminder_ids
        self.assertEqual((reminder.step, reminder.state, reminder.channel), (1, "retry", False))
        self.assertTrue(reminder.next_try)
        self.assertFalse(reminder.fee_move_id, "no fee for a reminder that did not go")
        self.assertFalse(self.reminder_documents(move))
        note = move.message_ids.sorted("id")[-1].body
        self.assertIn("Reminder 1 is not sent yet: it is tried again at", note)
        self.assertNotIn("no channel yet", note)
        # The next day's run does not take step 2 while step 1 waits; the retry goes when it is due.
        self.company.efaktura_sandbox_failure = "none"
        with freeze_time(reminder.next_try + timedelta(seconds=1)):
            self.env["efaktura.reminder"]._cron_send()
        move.invalidate_recordset()
        self.assertEqual((reminder.state, reminder.channel), ("sent", "nettbank"))
        self.assertEqual(len(self.reminder_documents(move)), 1)
        self.assertEqual(reminder.fee_move_id.amount_total, 35)
        self.assertIn("Reminder 1 sent by eFaktura", move.message_ids.sorted("id")[-1].body)
        self.run_reminders(move, 20)
        self.assertEqual(len(move.efaktura_reminder_ids), 1)
        self.assertEqual(len(self.reminder_documents(move)), 1, "never twice")

    @mute_logger(*QUIET)
    def test_reminder_email_failing_after_hand_off_goes_by_the_next_channel(self):
        self.ingrid.with_company(self.company)._efaktura_set_state("declined")
        move = self.dispatch(self.make_invoice(self.ingrid))
        self.assertEqual(move.efaktura_channel, "email")
        self.env["ir.config_parameter"].sudo().set_param("mail.mail.force.send.limit", 0)  # the mail queue
        self.run_reminders(move, 15)
        reminder = move.efaktura_reminder_ids
        self.assertEqual((reminder.state, reminder.channel), ("sent", "email"))
        delivery = move.efaktura_delivery_ids.filtered(lambda d: d.reminder_step == 1)
        self.assertEqual(delivery.state, "submitted")
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", delivery.mail_message_id.id)])
        with patch.object(self.registry["ir.mail_server"], compat.MAIL_SERVER_CONNECT, side_effect=smtp_down):
            mail.send()
        self.assertEqual((delivery.state, delivery.final), ("failed", True))
        self.assertEqual((reminder.state, reminder.channel), ("retry", False), "the step is not done")
        note = move.message_ids.sorted("id")[-1].body
        self.assertIn("Reminder 1 by E-mail with PDF did not reach the customer", note)
        self.run_reminders(move, 16)
        self.assertEqual((reminder.state, reminder.channel), ("sent", "post"))
        self.assertEqual(move.efaktura_state, "fallback_sent", "the invoice keeps its own delivery state")
        self.assertEqual(len(move.efaktura_reminder_ids), 1)

    def test_reminder_of_a_vipps_invoice_is_a_reminder_document(self):
        move = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual(move.efaktura_channel, "vipps")
        self.run_reminders(move, 14)
        self.assertEqual(move.efaktura_reminder_ids.channel, "vipps")
        document = self.reminder_documents(move)
        self.assertEqual((document.channel, document.kind), ("vipps", "reminder"))

    def test_schedule_is_checked(self):
        for bad in ("14,x", "28,14", "0,14", "14,14"):
            with self.subTest(days=bad), self.assertRaisesRegex(ValidationError, "Reminder days"):
                self.company.efaktura_reminder_days = bad
        self.company.efaktura_reminder_days = "7, 21"
        self.assertEqual(self.company._efaktura_reminder_schedule(), [7, 21])
        with self.assertRaisesRegex(ValidationError, "cannot be negative"):
            self.company.efaktura_reminder_fee = -1


@tagged("post_install", "-at_install")
class TestReminderVippsProduction(RealTimeoutsOnLoopback, EfakturaInvoiceCase):
    """A reminder by the Vipps Invoice API is a paymentReminder (the spec's invoiceType), not a new invoice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.vipps_peer = VippsPeer().start()
        cls.addClassCleanup(cls.vipps_peer.stop)
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.nordlys.example.com")
        cls.company.write(
            {
                "efaktura_network_mode": "production",
                "efaktura_production_route": "mps",
                "efaktura_mps_endpoint": "http://127.0.0.1:9/unused",
                "efaktura_mps_client_cert": __file__,
                "efaktura_uses_vipps_api": True,
                "efaktura_vipps_base_url": cls.vipps_peer.base_url,
                "efaktura_vipps_token_url": cls.vipps_peer.token_url,
                "efaktura_vipps_client_id": cls.vipps_peer.client_id,
                "efaktura_vipps_client_secret": cls.vipps_peer.client_secret,
                "efaktura_vipps_subscription_key": cls.vipps_peer.subscription_key,
            }
        )
        cls.company.write({"efaktura_reminder_enabled": True, "efaktura_reminder_days": "14,28"})

    def setUp(self):
        super().setUp()
        self.vipps_peer.reset()
        self.vipps_peer.add_user(msisdn="4741234567")
        self.kari.with_company(self.company).write({"efaktura_found_in_vipps": True, "efaktura_state": "active"})

    def test_reminder_goes_as_payment_reminder(self):
        move = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "vipps"))
        invoice = move.efaktura_delivery_ids.network_reference
        self.assertEqual(self.vipps_peer.invoices[invoice]["body"]["invoiceType"], "invoice")
        [reminder] = self.env["efaktura.reminder"]._send_reminders(self.company, move, 1)
        self.assertEqual((reminder.state, reminder.channel), ("sent", "vipps"))
        delivery = move.efaktura_delivery_ids.filtered(lambda d: d.reminder_step == 1)
        self.assertNotEqual(delivery.network_reference, invoice)
        stored = self.vipps_peer.invoices[delivery.network_reference]["body"]
        self.assertEqual(stored["invoiceType"], "paymentReminder")
        self.assertEqual(stored["paymentInformation"]["value"], move.payment_reference, "the invoice's own KID")
        self.assertEqual(len(self.vipps_peer.invoices), 2)
        self.assertEqual(self.vipps_peer.internal_errors, [])
