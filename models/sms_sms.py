import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

KEPT = "efaktura_test"


class SmsSms(models.Model):
    _inherit = "sms.sms"

    state = fields.Selection(
        selection_add=[(KEPT, "Kept in the eFaktura test phone")],
        ondelete={KEPT: lambda sms: sms.write({"state": "canceled"})},
    )

    @api.model_create_multi
    def create(self, vals_list):
        """In Test mode (context ``efaktura_test_outbox``), the module's SMS stay in the test phone."""
        company_id = self.env.context.get("efaktura_test_outbox", {}).get("sms")
        if company_id:
            for vals in vals_list:
                vals["state"] = KEPT
        messages = super().create(vals_list)
        if company_id:
            company = self.env["res.company"].browse(company_id)
            for sms in messages:
                self.env["efaktura.test.message"]._keep(
                    "sms",
                    company,
                    {"partner_id": sms.partner_id.id, "recipient": sms.number, "body_text": sms.body},
                )
        return messages

    def write(self, vals):
        # EXTENDS 'sms': the consent requests read back what became of their SMS.
        res = super().write(vals)
        if "state" in vals:
            consents = self.env["efaktura.consent"].sudo().search([("sms_id", "in", self.ids)])
            if consents:
                try:
                    with self.env.cr.savepoint():
                        consents.env["efaktura.consent.request"]._read_back_sms(consents)
                except Exception:
                    _logger.exception("eFaktura: could not read back SMS %s", self.ids)
        return res
