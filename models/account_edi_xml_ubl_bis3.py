from odoo import models


class AccountEdiXmlUblBis3(models.AbstractModel):
    """A Norwegian credit note refers to the invoice it credits (BillingReference), as EHF asks.

    Odoo adds the reference for Dutch suppliers only; a consumer's nettbank (and Visma AutoInvoice) needs it to
    attach the credit note to its invoice instead of showing it as a claim of its own. account_edi_ubl_cii has two
    generators, and the reference is added to both: the QWeb template's values (``_export_invoice_vals``, 18.0's
    default) and the document's nodes (``_add_invoice_header_nodes``, 19.0's only generator, on 18.0 behind the
    ``account_edi_ubl_cii.use_new_dict_to_xml_helpers`` parameter).
    """

    _inherit = "account.edi.xml.ubl_bis3"

    def _efaktura_credited_invoice(self, invoice, supplier):
        """The invoice a Norwegian supplier's credit note credits, or an empty recordset."""
        original = invoice.reversed_entry_id
        if invoice.move_type == "out_refund" and original and supplier.country_id.code == "NO":
            return original
        return invoice.browse()

    def _export_invoice_vals(self, invoice):
        # EXTENDS account.edi.xml.ubl_bis3 (the QWeb template's values)
        vals = super()._export_invoice_vals(invoice)
        original = self._efaktura_credited_invoice(invoice, vals["supplier"])
        if original and not vals["vals"].get("billing_reference_vals"):
            vals["vals"]["billing_reference_vals"] = {"id": original.name, "issue_date": original.invoice_date}
        return vals

    def _add_invoice_header_nodes(self, document_node, vals):
        # EXTENDS account.edi.xml.ubl_bis3 (the document's nodes)
        result = super()._add_invoice_header_nodes(document_node, vals)
        original = self._efaktura_credited_invoice(vals["invoice"], vals["supplier"])
        if original and not document_node.get("cac:BillingReference"):
            document_node["cac:BillingReference"] = {
                "cac:InvoiceDocumentReference": {
                    "cbc:ID": {"_text": original.name},
                    "cbc:IssueDate": {"_text": original.invoice_date},
                }
            }
        return result
