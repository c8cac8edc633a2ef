from odoo import api, fields, models
from odoo.tools import email_normalize


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    efaktura_mode = fields.Selection(related="company_id.efaktura_mode", readonly=False)
    efaktura_switched_on = fields.Boolean(related="company_id.efaktura_switched_on")
    efaktura_network_mode = fields.Selection(related="company_id.efaktura_network_mode")
    efaktura_test_send_emails = fields.Boolean(related="company_id.efaktura_test_send_emails", readonly=False)
    efaktura_issuer_org_number = fields.Char(related="company_id.efaktura_issuer_org_number", readonly=False)
    efaktura_billing_account = fields.Char(related="company_id.efaktura_billing_account", readonly=False)
    efaktura_contact_email = fields.Char(related="company_id.efaktura_contact_email", readonly=False)
    efaktura_issuer_state = fields.Selection(related="company_id.efaktura_issuer_state")
    efaktura_consent_days = fields.Integer(related="company_id.efaktura_consent_days", readonly=False)
    efaktura_send_on_post = fields.Boolean(related="company_id.efaktura_send_on_post", readonly=False)
    efaktura_billing_user_id = fields.Many2one(related="company_id.efaktura_billing_user_id", readonly=False)
    efaktura_evidence_retention_months = fields.Integer(
        related="company_id.efaktura_evidence_retention_months", readonly=False
    )
    efaktura_reminder_enabled = fields.Boolean(related="company_id.efaktura_reminder_enabled", readonly=False)
    efaktura_reminder_days = fields.Char(related="company_id.efaktura_reminder_days", readonly=False)
    efaktura_reminder_fee = fields.Float(related="company_id.efaktura_reminder_fee", readonly=False)

    efaktura_bankid_provider = fields.Selection(related="company_id.efaktura_bankid_provider", readonly=False)
    efaktura_bankid_issuer = fields.Char(related="company_id.efaktura_bankid_issuer", readonly=False)
    efaktura_bankid_client_id = fields.Char(related="company_id.efaktura_bankid_client_id", readonly=False)
    efaktura_bankid_client_secret = fields.Char(related="company_id.efaktura_bankid_client_secret", readonly=False)
    efaktura_bankid_use_par = fields.Boolean(related="company_id.efaktura_bankid_use_par", readonly=False)
    efaktura_bankid_min_assurance = fields.Selection(related="company_id.efaktura_bankid_min_assurance", readonly=False)
    efaktura_bankid_client_auth = fields.Selection(related="company_id.efaktura_bankid_client_auth", readonly=False)
    efaktura_bankid_private_key = fields.Text(related="company_id.efaktura_bankid_private_key", readonly=False)
    efaktura_bankid_key_id = fields.Char(related="company_id.efaktura_bankid_key_id", readonly=False)
    efaktura_bankid_problem = fields.Char(related="company_id.efaktura_bankid_problem")
    efaktura_mps_endpoint = fields.Char(related="company_id.efaktura_mps_endpoint", readonly=False)
    efaktura_mps_client_cert = fields.Char(related="company_id.efaktura_mps_client_cert", readonly=False)
    efaktura_mps_client_key = fields.Char(related="company_id.efaktura_mps_client_key", readonly=False)
    efaktura_mps_cancel_endpoint = fields.Char(related="company_id.efaktura_mps_cancel_endpoint", readonly=False)
    efaktura_mps_wsdl = fields.Binary(related="company_id.efaktura_mps_wsdl", readonly=False)
    efaktura_mps_wsdl_filename = fields.Char(related="company_id.efaktura_mps_wsdl_filename", readonly=False)
    efaktura_mps_soap_actions = fields.Text(related="company_id.efaktura_mps_soap_actions", readonly=False)
    efaktura_production_route = fields.Selection(related="company_id.efaktura_production_route", readonly=False)
    efaktura_maventa_environment = fields.Selection(related="company_id.efaktura_maventa_environment", readonly=False)
    efaktura_maventa_url = fields.Char(related="company_id.efaktura_maventa_url", readonly=False)
    efaktura_maventa_company_uuid = fields.Char(related="company_id.efaktura_maventa_company_uuid", readonly=False)
    efaktura_maventa_user_api_key = fields.Char(related="company_id.efaktura_maventa_user_api_key", readonly=False)
    efaktura_maventa_vendor_api_key = fields.Char(related="company_id.efaktura_maventa_vendor_api_key", readonly=False)
    efaktura_maventa_route_everything = fields.Boolean(
        related="company_id.efaktura_maventa_route_everything", readonly=False
    )
    efaktura_maventa_agreement = fields.Selection(related="company_id.efaktura_maventa_agreement")
    efaktura_uses_vipps_api = fields.Boolean(related="company_id.efaktura_uses_vipps_api", readonly=False)
    efaktura_vipps_base_url = fields.Char(related="company_id.efaktura_vipps_base_url", readonly=False)
    efaktura_vipps_token_url = fields.Char(related="company_id.efaktura_vipps_token_url", readonly=False)
    efaktura_vipps_client_id = fields.Char(related="company_id.efaktura_vipps_client_id", readonly=False)
    efaktura_vipps_client_secret = fields.Char(related="company_id.efaktura_vipps_client_secret", readonly=False)
    efaktura_vipps_subscription_key = fields.Char(related="company_id.efaktura_vipps_subscription_key", readonly=False)

    def action_efaktura_submit_issuer(self):
        self.ensure_one()
        self.execute()
        return self.env["efaktura.issuer"]._submit(self.company_id)

    def action_efaktura_check_bankid(self):
        self.ensure_one()
        self.execute()
        return self.env["efaktura.bankid"]._check_configuration(self.company_id)

    def action_efaktura_refresh_issuer(self):
        self.ensure_one()
        return self.env["efaktura.issuer"]._refresh(self.company_id)

    def action_efaktura_test_connection(self):
        self.ensure_one()
        self.execute()
        return self.env["efaktura.issuer"]._test_connection(self.company_id)

    def action_efaktura_maventa_subscribe_webhook(self):
        self.ensure_one()
        self.execute()
        return self.env["efaktura.maventa.webhook"]._subscribe(self.company_id)

    def action_efaktura_deactivate_issuer(self):
        self.ensure_one()
        return self.env["efaktura.issuer"]._deactivate(self.company_id)

    def set_values(self):
        res = super().set_values()
        company = self.company_id
        if company.efaktura_switched_on:
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

    # Onboarding checklist: what a company needs before its first eFaktura goes out.
    efaktura_check_issuer = fields.Boolean(compute="_compute_efaktura_checklist")
    efaktura_check_network = fields.Boolean(compute="_compute_efaktura_checklist")
    efaktura_check_templates = fields.Boolean(compute="_compute_efaktura_checklist")
    efaktura_check_test_send = fields.Boolean(compute="_compute_efaktura_checklist")

    efaktura_check_maventa_agreement = fields.Boolean(compute="_compute_efaktura_checklist")

    @api.depends(
        "company_id",
        "efaktura_mode",
        "efaktura_issuer_state",
        "efaktura_production_route",
        "efaktura_maventa_agreement",
    )
    def _compute_efaktura_checklist(self):
        templates = (
            "l10n_no_efaktura_b2c.sms_template_consent_request",
            "l10n_no_efaktura_b2c.mail_template_consent_request",
            "l10n_no_efaktura_b2c.mail_template_consent_confirmed",
        )
        templates_ok = all(self.env.ref(xmlid, raise_if_not_found=False) for xmlid in templates)
        Delivery = self.env["efaktura.delivery"].sudo()
        Factory = self.env["efaktura.network.factory"]
        for settings in self:
            company = settings.company_id
            settings.efaktura_check_issuer = settings.efaktura_issuer_state == "active"
            route = company.efaktura_production_route
            if settings.efaktura_mode == "test":
                settings.efaktura_check_network = True
            elif route == "maventa":
                settings.efaktura_check_network = bool(Factory._maventa_config(company))
            elif route == "vipps":
                settings.efaktura_check_network = bool(Factory._vipps_config(company))
            else:
                settings.efaktura_check_network = bool(
                    company.sudo().efaktura_mps_endpoint
                    and company.sudo().efaktura_mps_client_cert
                    and company.sudo().efaktura_mps_client_key
                )
            settings.efaktura_check_maventa_agreement = company.efaktura_maventa_agreement == "confirmed"
            settings.efaktura_check_templates = templates_ok
            settings.efaktura_check_test_send = bool(Delivery.search_count([("company_id", "=", company.id)], limit=1))
