from odoo import api, fields, models

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
