from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import EfakturaInvoiceCase


@tagged("post_install", "-at_install")
class TestPaymentStatus(EfakturaInvoiceCase):
    def test_network_says_paid(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(move.efaktura_receipt, "submitted")
        self.mailbox(move).sudo().action_sandbox_pay()
        self.env["efaktura.delivery"]._cron_poll_status()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_delivery_ids.state, "paid")
        self.assertEqual(move.efaktura_receipt, "paid")
        note = move.message_ids[0].body
        self.assertIn("reports this invoice as paid", note)
        self.assertIn("no payment was registered", note)
        self.assertEqual(move.payment_state, "not_paid", "no payment without a bank line")

    def test_paid_in_odoo_stops_the_consent_follow_up(self):
        move = self.dispatch(self.make_invoice(self.ingrid))
        self.assertEqual(move.efaktura_state, "awaiting_consent")
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=move.ids).create(
            {}
        )._create_payments()
        self.assertIn(move.payment_state, ("paid", "in_payment"))
        consent = self.env["efaktura.consent"].search([("partner_id", "=", self.ingrid.id)])
        with freeze_time(consent.deadline + timedelta(minutes=1)):
            self.env["efaktura.chain"]._cron_deadlines()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "none")
        self.assertFalse(move.efaktura_delivery_ids, "nothing was sent")
        self.assertIn("Paid before it was sent", move.message_ids[0].body)

    def test_one_company_switched_off_does_not_stop_the_others_receipts(self):
        """A company whose eFaktura was switched off (or misconfigured) after sending is skipped by the receipt
        cron; the other companies still get theirs."""
        move = self.dispatch(self.make_invoice(self.ola))
        self.mailbox(move).sudo().action_sandbox_pay()
        other = self.setup_other_company(name="Avslått AS")["company"]
        other_move = self.init_invoice("out_invoice", partner=self.ola, amounts=[100], post=True, company=other)
        self.env["efaktura.delivery"].sudo().create(
            {
                "move_id": other_move.id,
                "partner_id": self.ola.id,
                "company_id": other.id,
                "channel": "nettbank",
                "document_hash": "0" * 64,
                "idempotency_key": "avslatt-1",
                "network_reference": "EARLIER-1",
                "state": "submitted",
                "state_date": fields.Datetime.now() - timedelta(days=1),  # polled first
            }
        )
        self.assertEqual(other.efaktura_mode, "disabled")
        with self.assertLogs("odoo.addons.l10n_no_efaktura_b2c.models.efaktura_delivery", "WARNING") as logs:
            self.env["efaktura.delivery"]._cron_poll_status()
        self.assertIn("skipped for Avslått AS", logs.output[0])
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_delivery_ids.state, "paid", "the other company's receipt still came")
