from odoo import models


class AccountEdiXmlUblBis3(models.AbstractModel):
    _inherit = "account.edi.xml.ubl_bis3"

    def _export_invoice_vals(self, invoice):
        """A Norwegian credit note refers to the invoice it credits (BillingReference), as EHF asks.

        Odoo adds the reference for Dutch suppliers only; a consumer's nettbank (and Visma AutoInvoice) needs it
        to attach the credit note to its invoice instead of showing it as a claim of its own.
        """
        vals = super()._export_invoice_vals(invoice)
        original = invoice.reversed_entry_id
        if (
            invoice.move_type == "out_refund"
            and original
            and vals["supplier"].country_id.code == "NO"
            and not vals["vals"].get("billing_reference_vals")
        ):
            vals["vals"]["billing_reference_vals"] = {"id": original.name, "issue_date": original.invoice_date}
        return vals
