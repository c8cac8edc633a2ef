from odoo import fields, models
from odoo.tools import email_normalize


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    efaktura_enabled = fields.Boolean(related="company_id.efaktura_enabled", readonly=False)
    efaktura_network_mode = fields.Selection(related="company_id.efaktura_network_mode", readonly=False)
    efaktura_issuer_org_number = fields.Char(related="company_id.efaktura_issuer_org_number", readonly=False)
    efaktura_billing_account = fields.Char(related="company_id.efaktura_billing_account", readonly=False)
    efaktura_contact_email = fields.Char(related="company_id.efaktura_contact_email", readonly=False)
    efaktura_issuer_state = fields.Selection(related="company_id.efaktura_issuer_state")
    efaktura_consent_days = fields.Integer(related="company_id.efaktura_consent_days", readonly=False)
    efaktura_send_on_post = fields.Boolean(related="company_id.efaktura_send_on_post", readonly=False)

    def set_values(self):
        res = super().set_values()
        company = self.company_id
        if company.efaktura_enabled:
            company._efaktura_ensure_channels()
            if not company.efaktura_issuer_org_number:
                company.efaktura_issuer_org_number = company._efaktura_default_org_number()
            if not company.efaktura_contact_email and email_normalize(company.email):
                company.efaktura_contact_email = company.email
        return res

    def action_efaktura_open_channels(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("eFaktura channels"),
            "res_model": "efaktura.channel",
            "view_mode": "list",
            "domain": [("company_id", "=", self.company_id.id)],
            "context": {"default_company_id": self.company_id.id, "active_test": False},
        }

    efaktura_sandbox_failure = fields.Selection(related="company_id.efaktura_sandbox_failure", readonly=False)
