from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import email_normalize

from .. import compat
from ..networks import mps_client, vipps_client
from ..tools.validation import InvalidValue, normalize_account_number, normalize_org_number
from ..tools.validation_messages import rule_text
from .efaktura_channel import CHAIN_CHANNELS, DEFAULT_PRICES

# Modules that integrate AvtaleGiro or another eFaktura channel. Sending the same claims
# through two integrations risks a consumer being charged twice, so they cannot be combined.
CONFLICTING_MODULE_MARKERS = ("efaktura", "avtalegiro", "avtale_giro")
THIS_MODULE = "l10n_no_efaktura_b2c"
# Like payment.provider.state: a new company sends nothing until an administrator chooses a mode.
EFAKTURA_MODES = [("disabled", "Disabled"), ("test", "Test"), ("enabled", "Enabled (production)")]


class ResCompany(models.Model):
    _inherit = "res.company"

    efaktura_mode = fields.Selection(
        EFAKTURA_MODES,
        string="eFaktura B2C mode",
        default="disabled",
        required=True,
        copy=False,
        help="Disabled: the module sends nothing. Test: the embedded sandbox network and BankID simulator; SMS, "
        "e-mails and letters of the module stay inside Odoo, in the test phone and inbox. Enabled (production): "
        "the real networks and BankID, with your own agreements.",
    )
    # Both follow efaktura_mode (the single source of truth); writing them sets the mode.
    # Switched on: the mode is Test or Enabled (production), not Disabled.
    efaktura_switched_on = fields.Boolean(
        string="eFaktura B2C",
        compute="_compute_efaktura_mode_flags",
        store=True,
        readonly=False,
        help="Invoice private persons by Vipps, eFaktura in their nettbank, e-mail or post.",
    )
    efaktura_network_mode = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        string="eFaktura network",
        compute="_compute_efaktura_mode_flags",
        store=True,
        readonly=False,
        help="Sandbox (Test mode): an embedded test network and BankID simulator, no contracts needed. "
        "Production: Mastercard Payment Services and Vipps, with your own agreements.",
    )
    efaktura_test_send_emails = fields.Boolean(
        string="Also send real e-mails in test mode",
        help="In Test mode the module's SMS, e-mails and letters stay in the test phone and inbox. Tick this to "
        "send its e-mails for real (SMS and letters still stay inside Odoo).",
    )
    efaktura_issuer_org_number = fields.Char(
        string="Issuer organisation number",
        help="The 9-digit organisation number the issuer agreement is registered under.",
    )
    efaktura_billing_account = fields.Char(
        string="Billing account number",
        help="The 11-digit Norwegian bank account that eFaktura and Vipps invoices ask consumers to pay to.",
    )
    efaktura_contact_email = fields.Char(
        string="Issuer contact e-mail", help="Where the network sends notices about the issuer agreement."
    )
    efaktura_issuer_state = fields.Selection(
        [
            ("inactive", "Inactive"),
            ("pending_approval", "Pending approval"),
            ("active", "Active"),
            ("rejected", "Rejected"),
        ],
        string="Issuer agreement",
        default="inactive",
        required=True,
        readonly=True,
        copy=False,
    )
    efaktura_consent_days = fields.Integer(
        string="Consent deadline (days)",
        default=3,
        help="How long a consumer has to approve eFaktura with BankID before the invoice goes by e-mail or post.",
    )
    efaktura_evidence_retention_months = fields.Integer(
        string="Keep consent evidence (months)",
        default=12,
        help="The BankID name, IP address and browser of a consent answer are deleted this many months after the "
        "consent was withdrawn or expired.",
    )
    efaktura_send_on_post = fields.Boolean(
        string="Send on post",
        help="Queue every posted invoice of a B2C eFaktura customer for delivery, without Send & Print.",
    )
    efaktura_billing_user_id = fields.Many2one(
        "res.users",
        string="Billing user",
        domain="[('share', '=', False)]",
        help="Gets the print and post tasks of invoices without a salesperson.",
    )
    efaktura_bankid_provider = fields.Selection(
        [("bankid", "BankID (direct)"), ("signicat", "Signicat"), ("idura", "Idura (Criipto)")],
        string="BankID provider",
        default="bankid",
        required=True,
        help="Who verifies the consumer's identity. Sandbox mode always uses the built-in BankID simulator.",
    )
    efaktura_bankid_issuer = fields.Char(
        string="BankID issuer URL",
        default="https://auth.bankid.no/auth/realms/prod",
        help="The OpenID Connect issuer; its discovery document is read from "
        "<issuer>/.well-known/openid-configuration.",
    )
    efaktura_bankid_client_id = fields.Char(string="BankID client ID")
    efaktura_bankid_client_secret = fields.Char(string="BankID client secret", groups="base.group_system")
    efaktura_bankid_use_par = fields.Boolean(
        string="Pushed authorization requests", help="Send the login parameters to the provider first (PAR)."
    )
    efaktura_bankid_problem = fields.Char(
        string="BankID configuration problem",
        readonly=True,
        copy=False,
        help="Why the last BankID login could not start, or what the configuration check found; empty when fine.",
    )
    efaktura_bankid_national_id = fields.Boolean(
        string="Ask for the national identity number",
        help="No longer a choice: eFaktura 2.0 looks consumers up by the national identity number BankID "
        "verified, so it is always asked for. It is kept only until the consumer is found, or the deadline.",
    )
    efaktura_bankid_min_assurance = fields.Selection(
        [("high", "High"), ("substantial", "Substantial")],
        string="Minimum level of assurance",
        default="high",
        required=True,
        help="High: BankID with code device or app (LOA 4). Substantial also accepts BankID with biometrics "
        "(LOA 3). A weaker login, or a broker's other e-ID, is refused.",
    )
    efaktura_bankid_client_auth = fields.Selection(
        [("client_secret_basic", "Client secret"), ("private_key_jwt", "Private key (private_key_jwt)")],
        string="Client authentication",
        default="client_secret_basic",
        required=True,
        help="How Odoo proves to the provider that it is your client: the shared secret, or a JWT signed with "
        "your private key whose public key the provider holds.",
    )
    efaktura_bankid_private_key = fields.Text(
        string="BankID client private key",
        groups="base.group_system",
        help="PEM private key (RSA or EC P-256) for private_key_jwt.",
    )
    efaktura_bankid_key_id = fields.Char(
        string="BankID client key ID", help="The kid under which the provider knows your public key."
    )
    # Production networks.
    efaktura_mps_endpoint = fields.Char(
        string="MPS endpoint", default=mps_client.PRODUCTION_ENDPOINT, help="The eFaktura ERP service v4 address."
    )
    efaktura_mps_client_cert = fields.Char(
        string="MPS client certificate file",
        groups="base.group_system",
        help="Path on the Odoo server of the PEM client certificate of the MPS agreement (mutual TLS).",
    )
    efaktura_mps_client_key = fields.Char(
        string="MPS client key file",
        groups="base.group_system",
        help="Path on the Odoo server of its private key, if not in the certificate file.",
    )
    efaktura_mps_cancel_endpoint = fields.Char(
        string="MPS cancellation address",
        default=mps_client.SUBMITTER_PRODUCTION_ENDPOINT,
        help='The "Issuer via MPS" service that takes invoices back (getCancellableInvoice, cancelInvoice). '
        "Use the address MPS gives you at onboarding.",
    )
    efaktura_mps_wsdl = fields.Binary(
        string="MPS WSDL",
        attachment=True,
        groups="base.group_system",
        help="The WSDL of the ERP service v4 that MPS hands you at onboarding. When set, it replaces the module's "
        "stand-in WSDL, which is written from the public pages and is unverified.",
    )
    efaktura_mps_wsdl_filename = fields.Char(string="MPS WSDL file name", groups="base.group_system")
    efaktura_mps_soap_actions = fields.Text(
        string="MPS SOAP actions",
        groups="base.group_system",
        help="One operation a line, as operation=SOAPAction, to override the SOAP action the WSDL gives it.",
    )
    # The production route: which network carries the eFaktura channel in production.
    efaktura_production_route = fields.Selection(
        [
            ("maventa", "Visma AutoInvoice (Maventa)"),
            ("mps", "MPS direct"),
            ("vipps", "Vipps Invoice API"),
        ],
        string="Production route",
        default="maventa",
        required=True,
        help="Visma AutoInvoice (recommended): one agreement with Visma reaches every bank and Vipps by eFaktura. "
        "MPS direct: for issuers with their own agreement with Mastercard Payment Services; its contract is "
        "unverified. Vipps Invoice API: Vipps only, with your own Vipps agreement.",
    )
    efaktura_maventa_environment = fields.Selection(
        [("production", "Production"), ("staging", "Staging (test)"), ("custom", "Other address")],
        string="Maventa environment",
        default="production",
        required=True,
    )
    efaktura_maventa_url = fields.Char(string="Maventa address", help='Only for the environment "Other address".')
    efaktura_maventa_company_uuid = fields.Char(string="Maventa company UUID", groups="base.group_system")
    efaktura_maventa_user_api_key = fields.Char(string="Maventa user API key", groups="base.group_system")
    efaktura_maventa_vendor_api_key = fields.Char(string="Maventa vendor API key", groups="base.group_system")
    efaktura_maventa_route_everything = fields.Boolean(
        string="Let Maventa route everything",
        help="Off (default): invoices go to Maventa forced to eFaktura (nettbank and Vipps); without eFaktura, "
        "Odoo sends them by e-mail or post itself. On: Maventa chooses eFaktura, e-mail or print for every invoice.",
    )
    efaktura_maventa_agreement = fields.Selection(
        [
            ("none", "Not ordered"),
            ("pending", "Pending"),
            ("signature_needed", "Signature needed (Visma Sign)"),
            ("confirmed", "Confirmed"),
        ],
        string="Maventa B2C Norway agreement",
        default="none",
        required=True,
        readonly=True,
        copy=False,
    )
    efaktura_maventa_webhook_hash = fields.Char(groups="base.group_system", copy=False, readonly=True)
    # The company has an agreement with Vipps and sends through the Vipps Invoice API (production); not to be
    # confused with a customer's efaktura_found_in_vipps.
    efaktura_uses_vipps_api = fields.Boolean(string="Vipps Invoice API")
    efaktura_vipps_base_url = fields.Char(string="Vipps API address", default=vipps_client.PRODUCTION_BASE_URL)
    efaktura_vipps_token_url = fields.Char(
        string="Vipps access token address", default=vipps_client.PRODUCTION_TOKEN_URL
    )
    efaktura_vipps_client_id = fields.Char(string="Vipps client ID", groups="base.group_system")
    efaktura_vipps_client_secret = fields.Char(string="Vipps client secret", groups="base.group_system")
    efaktura_vipps_subscription_key = fields.Char(string="Vipps subscription key", groups="base.group_system")
    efaktura_reminder_enabled = fields.Boolean(
        string="Reminders", help="Send reminders (purring) of overdue consumer invoices by the channel they took."
    )
    efaktura_reminder_days = fields.Char(
        string="Reminder days",
        default="14,28",
        help="Days after the due date for each reminder, separated by commas: 14,28 sends a first reminder 14 days "
        "after the due date and a second one 28 days after it.",
    )
    efaktura_reminder_fee = fields.Float(
        string="Reminder fee (NOK)",
        digits="Account",
        help="Charged as an invoice of its own with each reminder; 0 charges nothing. Norwegian law caps the fee "
        "(purregebyr, 1/20 of the inkasso rate): check the current maximum, you set the amount.",
    )
    efaktura_channel_ids = fields.One2many("efaktura.channel", "company_id", string="eFaktura channels")

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [self._efaktura_normalize_vals(vals) for vals in vals_list]
        for vals in vals_list:
            if vals.pop("_efaktura_enable_only", False):
                vals["efaktura_mode"] = "test"
        companies = super().create(vals_list)
        companies._efaktura_ensure_channels()
        return companies

    def write(self, vals):
        vals = self._efaktura_normalize_vals(vals)
        if vals.pop("_efaktura_enable_only", False):
            # "enabled = True" alone: a disabled company starts in Test mode, the others keep their mode.
            disabled = self.filtered(lambda c: c.efaktura_mode == "disabled")
            if disabled:
                super(ResCompany, disabled).write(dict(vals, efaktura_mode="test"))
            others = self - disabled
            return super(ResCompany, others).write(vals) if others else True
        return super().write(vals)

    @api.depends("efaktura_mode")
    def _compute_efaktura_mode_flags(self):
        for company in self:
            company.efaktura_switched_on = company.efaktura_mode != "disabled"
            company.efaktura_network_mode = "production" if company.efaktura_mode == "enabled" else "sandbox"

    @api.model
    def _efaktura_mode_vals(self, vals):
        """Translate the derived fields efaktura_switched_on and efaktura_network_mode into efaktura_mode."""
        enabled = vals.pop("efaktura_switched_on", None)
        network_mode = vals.pop("efaktura_network_mode", None)
        if "efaktura_mode" in vals:
            return vals
        if enabled is not None and not enabled:
            vals["efaktura_mode"] = "disabled"
        elif network_mode:
            vals["efaktura_mode"] = "enabled" if network_mode == "production" else "test"
        elif enabled:
            vals["_efaktura_enable_only"] = True
        return vals

    @api.model
    def _efaktura_normalize_vals(self, vals):
        """Store identifiers in their canonical form; a bad one raises a clear error."""
        vals = self._efaktura_mode_vals(dict(vals))
        checks = {
            "efaktura_issuer_org_number": (normalize_org_number, self.env._("Issuer organisation number")),
            "efaktura_billing_account": (normalize_account_number, self.env._("Billing account number")),
        }
        for fname, (normalize, label) in checks.items():
            if vals.get(fname):
                try:
                    vals[fname] = normalize(vals[fname])
                except InvalidValue as exc:
                    raise ValidationError(
                        self.env._(
                            "%(field)s: %(value)s is not valid. Expected %(rule)s.",
                            field=label,
                            value=vals[fname],
                            rule=rule_text(self.env, exc),
                        )
                    ) from exc
        if vals.get("efaktura_contact_email"):
            email = email_normalize(vals["efaktura_contact_email"])
            if not email:
                raise ValidationError(
                    self.env._(
                        "Issuer contact e-mail: %(value)s is not a valid e-mail address.",
                        value=vals["efaktura_contact_email"],
                    )
                )
            vals["efaktura_contact_email"] = email
        return vals

    @api.constrains("efaktura_reminder_days", "efaktura_reminder_fee")
    def _check_efaktura_reminders(self):
        for company in self:
            company._efaktura_reminder_schedule()
            if company.efaktura_reminder_fee < 0:
                raise ValidationError(self.env._("Reminder fee (NOK): the fee cannot be negative."))

    def _efaktura_reminder_schedule(self):
        """The reminder days as a list of increasing whole numbers, or a ValidationError naming the rule."""
        self.ensure_one()
        text = (self.efaktura_reminder_days or "").replace(" ", "")
        try:
            days = [int(part) for part in text.split(",")] if text else []
        except ValueError:
            days = None
        if days is None or any(day < 1 for day in days) or days != sorted(set(days)):
            raise ValidationError(
                self.env._(
                    "Reminder days: %(value)s is not valid. Give increasing whole numbers of days after the due "
                    "date, separated by commas, for example 14,28.",
                    value=self.efaktura_reminder_days,
                )
            )
        return days

    @api.constrains("efaktura_evidence_retention_months")
    def _check_efaktura_evidence_retention_months(self):
        for company in self:
            if not 1 <= company.efaktura_evidence_retention_months <= 120:
                raise ValidationError(
                    self.env._(
                        "Keep consent evidence: %(months)s months is not allowed. Expected 1 to 120 months.",
                        months=company.efaktura_evidence_retention_months,
                    )
                )

    @api.constrains("efaktura_consent_days")
    def _check_efaktura_consent_days(self):
        for company in self:
            if not 1 <= company.efaktura_consent_days <= 60:
                raise ValidationError(
                    self.env._(
                        "Consent deadline (days): %(days)s is out of range. Give a number of days from 1 to 60.",
                        days=company.efaktura_consent_days,
                    )
                )

    @api.constrains("efaktura_mps_soap_actions")
    def _check_efaktura_mps_soap_actions(self):
        for company in self:
            self.env["efaktura.network.factory"]._mps_soap_actions(company)

    @api.constrains("efaktura_mode")
    def _check_efaktura_switched_on(self):
        if not any(self.mapped("efaktura_switched_on")):
            return
        conflicts = self._efaktura_conflicting_modules()
        if conflicts:
            raise ValidationError(
                self.env._(
                    "eFaktura B2C cannot be enabled while %(modules)s is installed. It integrates AvtaleGiro "
                    "or eFaktura too, and two integrations could send the same claim twice. "
                    "Uninstall it first, or keep using it instead of this module.",
                    modules=", ".join(conflicts),
                )
            )

    @api.model
    def _efaktura_conflicting_modules(self):
        """Installed modules that integrate AvtaleGiro or another eFaktura channel."""
        domain = [("state", "in", ("installed", "to install", "to upgrade")), ("name", "!=", THIS_MODULE)]
        modules = self.env["ir.module.module"].sudo().search_fetch(domain, ["name", "shortdesc"])
        return [
            f"{module.shortdesc or module.name} ({module.name})"
            for module in modules
            if any(marker in module.name.lower() for marker in CONFLICTING_MODULE_MARKERS)
        ]

    def _efaktura_ensure_channels(self):
        """Give every company the default chain: Vipps, eFaktura, e-mail, post."""
        existing = {
            (c.company_id.id, c.code)
            for c in self.env["efaktura.channel"]
            .with_context(active_test=False)
            .search([("company_id", "in", self.ids)])
        }
        self.env["efaktura.channel"].sudo().create(
            [
                {"company_id": company.id, "code": code, "sequence": (index + 1) * 10, "price": DEFAULT_PRICES[code]}
                for company in self
                for index, (code, _label) in enumerate(CHAIN_CHANNELS)
                if (company.id, code) not in existing
            ]
        )

    def _efaktura_channel_order(self):
        """The chain for this company: active channel codes, best first."""
        self.ensure_one()
        return self.efaktura_channel_ids.sorted("sequence").mapped("code")

    def _efaktura_network(self):
        """The network that carries this company's invoices: the sandbox in Test mode, else production."""
        return self.env["efaktura.network.factory"]._network(self)

    def _efaktura_test_outbox(self):
        """The context that keeps the module's SMS, letters and (unless real e-mails are allowed) e-mails of this
        company inside Odoo, in the test phone and inbox, when it is in Test mode; empty otherwise."""
        self.ensure_one()
        if self.efaktura_mode != "test":
            return {}
        kinds = {"sms": self.id, "letter": self.id}
        if not self.efaktura_test_send_emails:
            kinds["email"] = self.id
        return {"efaktura_test_outbox": kinds}

    def _efaktura_default_org_number(self):
        """The organisation number Odoo already knows for the company, if any."""
        self.ensure_one()
        candidates = [
            self.partner_id.l10n_no_bronnoysund_number,
            self.company_registry,
            (self.vat or "").upper().removeprefix("NO").removesuffix("MVA"),
        ]
        for candidate in candidates:
            try:
                return normalize_org_number(candidate)
            except InvalidValue:
                continue
        return False

    @api.model
    def _efaktura_task_user(self, move):
        """Who gets a task about ``move``: its salesperson, else the company's billing user, else an accounting
        manager of the company; never OdooBot, an archived user or a portal user."""
        self.ensure_one()
        root = self.env.ref("base.user_root")

        def usable(user):
            return user and user != root and user.active and not user.share and self in user.company_ids

        for user in (move.invoice_user_id, self.efaktura_billing_user_id):
            if usable(user):
                return user
        managers = self.env.ref("account.group_account_manager").sudo()[compat.GROUP_USERS].filtered(usable)
        if managers:
            return managers.sorted("id")[:1]
        return self.env.user if usable(self.env.user) else self.env.ref("base.user_admin")

    efaktura_sandbox_failure = fields.Selection(
        [
            ("none", "None"),
            ("outage", "Outage"),
            ("timeout", "Timeout"),
            ("reject", "Reject every document"),
            ("flaky", "Flaky (3 calls in 10 fail)"),
        ],
        string="Sandbox failure",
        default="none",
        required=True,
        help="Make the sandbox network fail on purpose, to see how invoices are retried or fall back.",
    )
