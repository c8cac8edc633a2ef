import logging

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import consteq, email_normalize
from odoo.tools.misc import hmac as hmac_sign

from ..networks import mps, vipps
from ..networks.base import Issuer, NetworkError, NetworkRejected
from ..networks.production import ProductionNetwork
from ..oidc import Provider
from ..validation import InvalidValue, normalize_account_number, normalize_org_number
from .efaktura_channel import CHANNELS, DEFAULT_PRICES
from .validation_messages import rule_text

_logger = logging.getLogger(__name__)

# Modules that integrate AvtaleGiro or another eFaktura channel. Sending the same claims
# through two integrations risks a consumer being charged twice, so they cannot be combined.
CONFLICTING_MODULE_MARKERS = ("efaktura", "avtalegiro", "avtale_giro")
THIS_MODULE = "l10n_no_efaktura_b2c"
# Where the sandbox BankID simulator answers, on this Odoo server.
BANKID_SIMULATOR_PATH = "/efaktura/bankid-sim"


class ResCompany(models.Model):
    _inherit = "res.company"

    efaktura_enabled = fields.Boolean(
        string="eFaktura B2C",
        help="Invoice private persons by Vipps, eFaktura in their nettbank, e-mail or post.",
    )
    efaktura_network_mode = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        string="eFaktura network",
        default="sandbox",
        required=True,
        help="Sandbox: an embedded test network and BankID simulator, no contracts needed. "
        "Production: Mastercard Payment Services and Vipps, with your own agreements.",
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
    efaktura_bankid_national_id = fields.Boolean(
        string="Ask for the national identity number",
        help="Only for clients the provider entitles to it. It makes the eFaktura lookup exact; it is stored "
        "only as a keyed hash.",
    )
    # Production networks.
    efaktura_mps_endpoint = fields.Char(
        string="MPS endpoint", default=mps.PRODUCTION_ENDPOINT, help="The eFaktura ERP service v4 address."
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
    efaktura_vipps_enabled = fields.Boolean(string="Vipps Invoice API")
    efaktura_vipps_base_url = fields.Char(string="Vipps API address", default=vipps.PRODUCTION_BASE_URL)
    efaktura_vipps_token_url = fields.Char(string="Vipps access token address", default=vipps.PRODUCTION_TOKEN_URL)
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
        companies = super().create([self._efaktura_normalize_vals(vals) for vals in vals_list])
        companies._efaktura_ensure_channels()
        return companies

    def write(self, vals):
        vals = self._efaktura_normalize_vals(vals)
        return super().write(vals)

    @api.model
    def _efaktura_normalize_vals(self, vals):
        """Store identifiers in their canonical form; a bad one raises a clear error."""
        vals = dict(vals)
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

    @api.constrains("efaktura_enabled")
    def _check_efaktura_enabled(self):
        if not any(self.mapped("efaktura_enabled")):
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
                for index, (code, _label) in enumerate(CHANNELS)
                if (company.id, code) not in existing
            ]
        )

    def _efaktura_channel_order(self):
        """The chain for this company: active channel codes, best first."""
        self.ensure_one()
        return self.efaktura_channel_ids.sorted("sequence").mapped("code")

    def _efaktura_issuer(self):
        """The issuer, as the networks see it."""
        self.ensure_one()
        return Issuer(
            org_number=self.efaktura_issuer_org_number or "",
            name=self.name,
            account_number=self.efaktura_billing_account or "",
            contact_email=self.efaktura_contact_email or "",
        )

    def _efaktura_network(self):
        """The network that carries this company's invoices, by its network mode."""
        self.ensure_one()
        if self.efaktura_network_mode == "sandbox":
            return self.env["efaktura.sandbox.document"]._sandbox_network(self)
        return self._efaktura_production_network()

    def _efaktura_mps_config(self):
        company = self.sudo()
        if not (company.efaktura_mps_endpoint and company.efaktura_mps_client_cert):
            return None
        return mps.MpsConfig(
            endpoint=company.efaktura_mps_endpoint,
            issuer_org_number=company.efaktura_issuer_org_number or "",
            client_cert=company.efaktura_mps_client_cert,
            client_key=company.efaktura_mps_client_key or "",
        )

    def _efaktura_vipps_config(self):
        company = self.sudo()
        if not (
            company.efaktura_vipps_enabled
            and company.efaktura_vipps_client_id
            and company.efaktura_vipps_client_secret
            and company.efaktura_vipps_subscription_key
        ):
            return None
        return vipps.VippsConfig(
            client_id=company.efaktura_vipps_client_id,
            client_secret=company.efaktura_vipps_client_secret,
            subscription_key=company.efaktura_vipps_subscription_key,
            issuer_org_number=company.efaktura_issuer_org_number or "",
            base_url=company.efaktura_vipps_base_url or vipps.PRODUCTION_BASE_URL,
            token_url=company.efaktura_vipps_token_url or vipps.PRODUCTION_TOKEN_URL,
        )

    def _efaktura_production_network(self):
        """MPS for the nettbank and the Vipps Invoice API for Vipps, behind one network."""
        self.ensure_one()
        issuer = self._efaktura_issuer()
        mps_config = self._efaktura_mps_config()
        vipps_config = self._efaktura_vipps_config()
        if not mps_config and not vipps_config:
            raise UserError(
                self.env._(
                    "%(company)s: the production networks are not configured. Fill in the MPS certificate or the "
                    "Vipps keys in the eFaktura settings, or switch the eFaktura network back to Sandbox.",
                    company=self.name,
                )
            )
        return ProductionNetwork(
            issuer,
            mps=mps.MpsNetwork(issuer, mps_config) if mps_config else None,
            vipps=vipps.VippsNetwork(issuer, vipps_config) if vipps_config else None,
        )

    # ------------------------------------------------------------------
    # Issuer agreement
    # ------------------------------------------------------------------

    def _efaktura_check_issuer_data(self):
        self.ensure_one()
        missing = [
            label
            for label, value in (
                (self.env._("Issuer organisation number"), self.efaktura_issuer_org_number),
                (self.env._("Billing account number"), self.efaktura_billing_account),
                (self.env._("Issuer contact e-mail"), self.efaktura_contact_email),
            )
            if not value
        ]
        if missing:
            raise UserError(self.env._("Fill in the issuer agreement first: %(fields)s.", fields=", ".join(missing)))

    def action_efaktura_submit_issuer(self):
        """Apply for the issuer agreement: at MPS in production, by an approval e-mail in the sandbox."""
        self.check_access("write")
        for company in self:
            company._efaktura_check_issuer_data()
            if company.efaktura_issuer_state in ("pending_approval", "active"):
                continue
            if company.efaktura_network_mode == "sandbox":
                company._efaktura_sandbox_send_issuer_approval()
            else:
                client = company._efaktura_mps_client()
                try:
                    client.create_issuer(
                        mps.MpsIssuer(
                            issuer_id=company.efaktura_issuer_org_number,
                            name=company.name,
                            account_number=company.efaktura_billing_account,
                            email=company.efaktura_contact_email or "",
                        )
                    )
                except NetworkError as error:
                    raise UserError(self.env._("MPS refused the issuer agreement: %(error)s", error=error)) from error
            company.efaktura_issuer_state = "pending_approval"
            company.partner_id._message_log(body=self.env._("eFaktura issuer agreement submitted for approval."))
        return True

    def action_efaktura_refresh_issuer(self):
        """Ask MPS whether the issuer agreement is approved (production); the sandbox approves by its e-mail."""
        self.check_access("write")
        for company in self.filtered(lambda c: c.efaktura_network_mode == "production"):
            client = company._efaktura_mps_client()
            try:
                client.get_issuer(company.efaktura_issuer_org_number)
            except NetworkRejected as error:
                if str(error.code) == "5002":
                    continue  # not approved yet
                company.efaktura_issuer_state = "rejected"
                continue
            except NetworkError as error:
                raise UserError(self.env._("MPS could not be reached: %(error)s", error=error)) from error
            company.efaktura_issuer_state = "active"
        return True

    def action_efaktura_deactivate_issuer(self):
        self.check_access("write")
        for company in self:
            if company.efaktura_network_mode == "production" and company.efaktura_issuer_state == "active":
                try:
                    company._efaktura_mps_client().delete_issuer(company.efaktura_issuer_org_number)
                except NetworkError as error:
                    raise UserError(
                        self.env._("MPS could not deactivate the issuer: %(error)s", error=error)
                    ) from error
            company.efaktura_issuer_state = "inactive"
        return True

    def _efaktura_mps_client(self):
        config = self._efaktura_mps_config()
        if not config:
            raise UserError(
                self.env._("Fill in the MPS endpoint and client certificate in the eFaktura settings first.")
            )
        return mps.MpsClient(config)

    def _efaktura_sandbox_issuer_token(self):
        self.ensure_one()
        return hmac_sign(self.env(su=True), "l10n_no_efaktura_b2c.sandbox_issuer_approval", str(self.id))

    def _efaktura_sandbox_send_issuer_approval(self):
        """The sandbox stands in for the network operator: it e-mails a link that approves the agreement."""
        self.ensure_one()
        url = f"{self.get_base_url()}/efaktura/sandbox/issuer/{self.id}/{self._efaktura_sandbox_issuer_token()}"
        self.env.ref("l10n_no_efaktura_b2c.mail_template_sandbox_issuer_approval").with_context(
            efaktura_approval_url=url
        ).send_mail(self.id, email_layout_xmlid="mail.mail_notification_light")

    def _efaktura_sandbox_approve_issuer(self, token):
        self.ensure_one()
        if self.efaktura_network_mode != "sandbox" or not consteq(token or "", self._efaktura_sandbox_issuer_token()):
            return False
        if self.efaktura_issuer_state == "pending_approval":
            self.efaktura_issuer_state = "active"
            self.partner_id._message_log(body=self.env._("eFaktura issuer agreement approved (sandbox)."))
        return self.efaktura_issuer_state == "active"

    # ------------------------------------------------------------------
    # BankID
    # ------------------------------------------------------------------

    def _efaktura_bankid_sandbox_issuer(self):
        return f"{self.get_base_url()}{BANKID_SIMULATOR_PATH}"

    def _efaktura_bankid_sandbox_client_id(self):
        self.ensure_one()
        return f"efaktura-sandbox-{self.id}"

    def _efaktura_bankid_sandbox_client_secret(self):
        self.ensure_one()
        return hmac_sign(self.env(su=True), "l10n_no_efaktura_b2c.bankid_simulator_client", str(self.id))

    def _efaktura_bankid_redirect_uri(self):
        return f"{self.get_base_url()}/efaktura/bankid/callback"

    def _efaktura_oidc_provider(self):
        """The OpenID provider consumers log in with: the simulator in sandbox mode, else the configured one."""
        self.ensure_one()
        if self.efaktura_network_mode == "sandbox":
            return Provider(
                issuer=self._efaktura_bankid_sandbox_issuer(),
                client_id=self._efaktura_bankid_sandbox_client_id(),
                client_secret=self._efaktura_bankid_sandbox_client_secret(),
                scopes=("openid", "profile", "nnin_altsub"),
                claim_mapping="bankid",
                use_par=self.efaktura_bankid_use_par,
            )
        company = self.sudo()
        if not (company.efaktura_bankid_issuer and company.efaktura_bankid_client_id):
            raise UserError(
                self.env._(
                    "%(company)s: BankID is not configured. Fill in the issuer URL and client ID in the eFaktura "
                    "settings, or switch the eFaktura network to Sandbox.",
                    company=self.name,
                )
            )
        national_id_scope = {"bankid": "nnin_altsub", "signicat": "nin", "idura": "ssn"}[
            company.efaktura_bankid_provider
        ]
        scopes = ["openid", "profile"] + ([national_id_scope] if company.efaktura_bankid_national_id else [])
        return Provider(
            issuer=company.efaktura_bankid_issuer.rstrip("/"),
            client_id=company.efaktura_bankid_client_id,
            client_secret=company.efaktura_bankid_client_secret or "",
            scopes=tuple(scopes),
            acr_values=("urn:grn:authn:no:bankid",) if company.efaktura_bankid_provider == "idura" else (),
            claim_mapping=company.efaktura_bankid_provider,
            use_par=company.efaktura_bankid_use_par,
        )

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
    def _efaktura_setup_demo(self):
        """Demo data: eFaktura on the Norwegian demo company, and the demo consumers enabled there."""
        company = self.env.ref("base.demo_company_no", raise_if_not_found=False) or self.env.company
        company.write(
            {
                "efaktura_enabled": True,
                "efaktura_network_mode": "sandbox",
                "efaktura_issuer_org_number": company._efaktura_default_org_number() or "123456785",
                "efaktura_billing_account": "86011117947",
                "efaktura_contact_email": company.email or "faktura@example.com",
            }
        )
        company._efaktura_ensure_channels()
        consumers = self.env["res.partner"]
        for xmlid in ("vipps", "nettbank", "email", "declined", "post", "manual"):
            consumers |= self.env.ref(f"l10n_no_efaktura_b2c.demo_consumer_{xmlid}")
        consumers.with_company(company).write({"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno"})
        # Nora said no thanks to eFaktura: her invoices go by e-mail with the PDF.
        self.env.ref("l10n_no_efaktura_b2c.demo_consumer_declined").with_company(company)._efaktura_set_state(
            "declined"
        )
        admin = self.env.ref("base.user_admin")
        admin.write({"company_ids": [fields.Command.link(company.id)], "company_id": company.id})
        if company == self.env.ref("base.demo_company_no", raise_if_not_found=False):
            # Norwegian customers read Norwegian: their SMS, e-mails and consent pages are in Bokmål.
            self.env["res.lang"]._activate_lang("nb_NO")
            self.env["ir.module.module"].search([("state", "=", "installed")])._update_translations(["nb_NO"])
            (consumers - self.env.ref("l10n_no_efaktura_b2c.demo_consumer_vipps")).lang = "nb_NO"
        company._efaktura_demo_invoices(consumers)
        return company

    def _efaktura_demo_invoices(self, consumers):
        """One posted invoice per demo consumer, queued for the chain; the dispatch cron sends them when the
        server starts. Per and Siri's consent windows are already over, so their invoices show the post and
        manual paths at once."""
        self.ensure_one()
        journal = self.env["account.journal"].search([("company_id", "=", self.id), ("type", "=", "sale")], limit=1)
        if not journal:
            return self.env["account.move"]
        # The sandbox approves the issuer agreement; production goes through the network.
        self.efaktura_issuer_state = "active"
        journal.invoice_reference_model = "no"
        moves = (
            self.env["account.move"]
            .with_company(self)
            .create(
                [
                    {
                        "move_type": "out_invoice",
                        "company_id": self.id,
                        "journal_id": journal.id,
                        "partner_id": consumer.id,
                        "invoice_date": fields.Date.context_today(self),
                        "invoice_date_due": fields.Date.add(fields.Date.context_today(self), days=14),
                        "invoice_line_ids": [
                            fields.Command.create(
                                {
                                    "name": "Elektrikerarbeid, 2 timer",
                                    "quantity": 2,
                                    "price_unit": 850.0 + 100 * index,
                                    "tax_ids": [fields.Command.clear()],
                                }
                            )
                        ],
                    }
                    for index, consumer in enumerate(consumers)
                ]
            )
        )
        moves.action_post()
        moves._efaktura_queue()
        over = fields.Datetime.subtract(fields.Datetime.now(), minutes=1)
        moves.filtered(lambda m: m.partner_id.name in ("Per Olsen", "Siri Berg")).efaktura_deadline = over
        return moves

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
