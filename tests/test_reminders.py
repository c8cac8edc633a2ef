from datetime import timedelta

from freezegun import freeze_time

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import format_date

from .common import EfakturaInvoiceCase


@tagged("post_install", "-at_install")
class TestReminders(EfakturaInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"efaktura_reminder_enabled": True, "efaktura_reminder_days": "14,28"})

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
        self.assertEqual((reminder.step, reminder.channel), (1, "efaktura"))
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

    def test_schedule_is_checked(self):
        for bad in ("14,x", "28,14", "0,14", "14,14"):
            with self.subTest(days=bad), self.assertRaisesRegex(ValidationError, "Reminder days"):
                self.company.efaktura_reminder_days = bad
        self.company.efaktura_reminder_days = "7, 21"
        self.assertEqual(self.company._efaktura_reminder_schedule(), [7, 21])
        with self.assertRaisesRegex(ValidationError, "cannot be negative"):
            self.company.efaktura_reminder_fee = -1
