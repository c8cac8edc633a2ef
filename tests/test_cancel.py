from odoo.tests import tagged

from .common import EfakturaInvoiceCase


@tagged("post_install", "-at_install")
class TestCancelAtTheNetwork(EfakturaInvoiceCase):
    def test_reset_to_draft_takes_it_back_from_the_nettbank(self):
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        move.button_draft()
        # Odoo agreed; the invoice stays posted until the network has taken it back, right after the commit.
        self.assertEqual((move.state, move.efaktura_state, delivery.cancel_request), ("posted", "cancelling", "draft"))
        self.assertEqual(self.mailbox(move).state, "submitted")
        self.env["efaktura.take.back"]._process(move)
        self.assertEqual(move.state, "draft")
        self.assertEqual(delivery.state, "cancelled")
        self.assertEqual(self.mailbox(move).state, "cancelled", "removed from the consumer's mailbox")
        self.assertEqual(move.efaktura_state, "none")
        # The newest line written on it (19.0 also tracks Odoo's own "Reviewed" flag, which the reset unsets, on a
        # line without text of its own).
        self.assertIn("Taken back", move.message_ids.filtered("body")[0].body)
        # Posted again unchanged, it is a new document for the network, not a duplicate of the cancelled one.
        move.action_post()
        self.dispatch(move)
        self.assertEqual(move.efaktura_state, "sent")
        self.assertEqual(len(move.efaktura_delivery_ids), 2)
        self.assertEqual(sorted(self.mailbox(move).mapped("state")), ["cancelled", "submitted"])

    def test_paid_invoice_cannot_be_taken_back(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.mailbox(move).sudo().action_sandbox_pay()
        move.button_cancel()
        self.env["efaktura.take.back"]._process(move)
        self.assertEqual(move.state, "posted")
        self.assertEqual((move.efaktura_state, move.efaktura_delivery_ids.state), ("sent", "submitted"))
        self.assertRegex(move.efaktura_error, "refused to take it back.*credit note")
        self.assertIn("refused to take it back", move.message_ids[0].body)
        self.assertFalse(move.efaktura_delivery_ids.cancel_request)

    def test_email_copy_is_noted(self):
        company_partner = self.env["res.partner"].create(
            {"name": "Fjord Bygg AS", "is_company": True, "email": "post@fjord.example.com"}
        )
        move = self.dispatch(self.make_invoice(company_partner))
        self.assertEqual(move.efaktura_channel, "email")
        move.button_cancel()
        self.assertEqual(move.state, "cancel")
        self.assertIn("already holds a copy", " ".join(move.message_ids.mapped("body")))
