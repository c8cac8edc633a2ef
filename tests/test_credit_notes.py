from odoo.tests import tagged

from .common import EfakturaInvoiceCase


@tagged("post_install", "-at_install")
class TestCreditNotes(EfakturaInvoiceCase):
    def reverse(self, move, amount=None):
        wizard = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create({"journal_id": move.journal_id.id, "reason": "Feil timepris"})
        )
        action = wizard.refund_moves()
        refund = self.env["account.move"].browse(action["res_id"])
        if amount:
            refund.invoice_line_ids.price_unit = amount
        refund.action_post()
        return refund

    def test_credit_note_by_efaktura_after_an_invoice_by_efaktura(self):
        invoice = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(invoice.efaktura_channel, "nettbank")
        refund = self.dispatch(self.reverse(invoice, amount=250))
        self.assertEqual((refund.efaktura_state, refund.efaktura_channel), ("sent", "nettbank"))
        delivery = refund.efaktura_delivery_ids
        self.assertEqual(delivery.original_move_id, invoice, "the outbox shows the pair")
        document = self.mailbox(refund)
        self.assertEqual(document.kind, "credit_note")
        self.assertEqual(document.original_invoice_number, invoice.name)
        self.assertEqual(document.kid, "", "a credit note never carries the KID of the invoice it credits")
        self.assertEqual(document.amount, 250)

    def test_credit_note_of_a_vipps_invoice_goes_to_vipps_first(self):
        invoice = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual(invoice.efaktura_channel, "vipps")
        refund = self.dispatch(self.reverse(invoice))
        self.assertEqual(refund.efaktura_channel, "vipps")
        self.assertEqual(self.mailbox(refund).kind, "credit_note")

    def test_credit_note_of_an_emailed_invoice_follows_the_chain(self):
        self.ingrid.with_company(self.company)._efaktura_set_state("declined")
        invoice = self.dispatch(self.make_invoice(self.ingrid))
        self.assertEqual(invoice.efaktura_channel, "email")
        refund = self.dispatch(self.reverse(invoice))
        self.assertEqual(refund.efaktura_channel, "email")
        self.assertFalse(self.mailbox(refund))
