import base64
import hashlib
import logging
import os
import secrets
import tempfile

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import consteq, email_normalize
from odoo.tools.misc import hmac as hmac_sign

from ..networks import maventa, maventa_contract, mps, mps_client, vipps, vipps_client
from ..networks.base import Issuer, NetworkError, NetworkRejected
from ..networks.production import ProductionNetwork
from ..tools.validation import InvalidValue, normalize_account_number, normalize_org_number
from ..tools.validation_messages import rule_text
from .efaktura_channel import CHAIN_CHANNELS, DEFAULT_PRICES

_logger = logging.getLogger(__name__)

# Modules that integrate AvtaleGiro or another eFaktura channel. Sending the same claims
# through two integrations risks a consumer being charged twice, so they cannot be combined.
CONFLICTING_MODULE_MARKERS = ("efaktura", "avtalegiro", "avtale_giro")
THIS_MODULE = "l10n_no_efaktura_b2c"
# Maventa's B2C Norway agreement states and the company's record of them.
MAVENTA_AGREEMENT_STATES = {
    maventa_contract.AGREEMENT_PENDING: "pending",
    maventa_contract.AGREEMENT_SIGNATURE_NEEDED: "signature_needed",
    maventa_contract.AGREEMENT_CONFIRMED: "confirmed",
}
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
        """The network that carries this company's invoices: the sandbox in Test mode, else production."""
        self.ensure_one()
        if self.efaktura_mode == "disabled":
            raise UserError(self.env._("%(company)s: eFaktura B2C is disabled.", company=self.name))
        if self.efaktura_mode == "test":
            return self.env["efaktura.sandbox.document"]._sandbox_network(self)
        return self._efaktura_production_network()

    def _efaktura_mps_config(self):
        company = self.sudo()
        if not (company.efaktura_mps_endpoint and company.efaktura_mps_client_cert):
            return None
        return mps_client.MpsConfig(
            endpoint=company.efaktura_mps_endpoint,
            issuer_org_number=company.efaktura_issuer_org_number or "",
            client_cert=company.efaktura_mps_client_cert,
            client_key=company.efaktura_mps_client_key or "",
            wsdl_path=company._efaktura_mps_wsdl_path(),
            submitter_endpoint=company.efaktura_mps_cancel_endpoint or "",
            soap_actions=company._efaktura_mps_soap_actions(),
        )

    def _efaktura_mps_wsdl_path(self):
        """The WSDL zeep reads: the one MPS handed the issuer when uploaded, else the module's stand-in."""
        company = self.sudo()
        if not company.efaktura_mps_wsdl:
            return mps_client.WSDL_PATH
        content = base64.b64decode(company.efaktura_mps_wsdl)
        digest = hashlib.sha256(content).hexdigest()
        path = os.path.join(tempfile.gettempdir(), f"efaktura-mps-{self.env.cr.dbname}-{digest[:16]}.wsdl")
        if not os.path.exists(path):
            with tempfile.NamedTemporaryFile("wb", dir=os.path.dirname(path), delete=False) as handle:
                handle.write(content)
            os.replace(handle.name, path)
        return path

    def _efaktura_mps_soap_actions(self):
        """The SOAP action overrides, as ((operation, action), ...); a malformed line raises."""
        actions = []
        for number, line in enumerate((self.sudo().efaktura_mps_soap_actions or "").splitlines(), start=1):
            if not line.strip():
                continue
            operation, sep, action = line.partition("=")
            if not sep or not operation.strip() or not action.strip():
                raise ValidationError(
                    self.env._(
                        "MPS SOAP actions, line %(line)s: %(value)s is not operation=SOAPAction.",
                        line=number,
                        value=line.strip(),
                    )
                )
            actions.append((operation.strip(), action.strip()))
        return tuple(actions)

    @api.constrains("efaktura_mps_soap_actions")
    def _check_efaktura_mps_soap_actions(self):
        for company in self:
            company._efaktura_mps_soap_actions()

    def _efaktura_maventa_base_url(self):
        self.ensure_one()
        if self.efaktura_maventa_environment == "staging":
            return maventa_contract.STAGING_BASE_URL
        if self.efaktura_maventa_environment == "custom" and self.efaktura_maventa_url:
            return self.efaktura_maventa_url
        return maventa_contract.PRODUCTION_BASE_URL

    def _efaktura_maventa_config(self):
        company = self.sudo()
        if not (
            company.efaktura_maventa_company_uuid
            and company.efaktura_maventa_user_api_key
            and company.efaktura_maventa_vendor_api_key
        ):
            return None
        return maventa.MaventaConfig(
            company_uuid=company.efaktura_maventa_company_uuid,
            user_api_key=company.efaktura_maventa_user_api_key,
            vendor_api_key=company.efaktura_maventa_vendor_api_key,
            base_url=company._efaktura_maventa_base_url(),
            route_everything=company.efaktura_maventa_route_everything,
        )

    def _efaktura_maventa_client(self):
        config = self._efaktura_maventa_config()
        if not config:
            raise UserError(
                self.env._(
                    "Fill in the Maventa company UUID, user API key and vendor API key in the eFaktura settings first."
                )
            )
        return maventa.MaventaClient(config)

    def _efaktura_maventa_render(self, document, embed_pdf=True):
        """The Peppol BIS 3.0 / EHF file of a document, made by Odoo's own generator, with the PDF embedded
        (the sandbox, playing Maventa, leaves the PDF out: ``embed_pdf=False``)."""
        self.ensure_one()
        number = document.original_invoice_number if document.kind == "reminder" else document.invoice_number
        move = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.id),
                    ("name", "=", number),
                    ("move_type", "in", ("out_invoice", "out_refund")),
                ],
                limit=1,
            )
        )
        if not move:
            raise NetworkRejected(f"No invoice {number} in {self.name}", code="UNKNOWN_INVOICE")
        return move._efaktura_ubl_file(embed_pdf=embed_pdf)

    def _efaktura_vipps_config(self):
        company = self.sudo()
        if not (
            company.efaktura_uses_vipps_api
            and company.efaktura_vipps_client_id
            and company.efaktura_vipps_client_secret
            and company.efaktura_vipps_subscription_key
        ):
            return None
        return vipps_client.VippsConfig(
            client_id=company.efaktura_vipps_client_id,
            client_secret=company.efaktura_vipps_client_secret,
            subscription_key=company.efaktura_vipps_subscription_key,
            issuer_org_number=company.efaktura_issuer_org_number or "",
            base_url=company.efaktura_vipps_base_url or vipps_client.PRODUCTION_BASE_URL,
            token_url=company.efaktura_vipps_token_url or vipps_client.PRODUCTION_TOKEN_URL,
        )

    def _efaktura_production_network(self):
        """The production route's network: Maventa, or MPS (and Vipps), or Vipps alone, behind one network."""
        self.ensure_one()
        issuer = self._efaktura_issuer()
        if self.efaktura_production_route == "maventa":
            config = self._efaktura_maventa_config()
            if not config:
                raise UserError(
                    self.env._(
                        "%(company)s: Visma AutoInvoice (Maventa) is not configured. Fill in the Maventa keys in the "
                        "eFaktura settings, or choose another production route.",
                        company=self.name,
                    )
                )
            return ProductionNetwork(
                issuer, mps=maventa.MaventaNetwork(issuer, config, render=self._efaktura_maventa_render)
            )
        mps_config = self._efaktura_mps_config() if self.efaktura_production_route == "mps" else None
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
            elif company.efaktura_production_route == "maventa":
                company._efaktura_maventa_order_agreement()
                if company.efaktura_issuer_state == "active":
                    continue
            else:
                client = company._efaktura_mps_client()
                try:
                    client.create_issuer(
                        mps_client.MpsIssuer(
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
            if company.efaktura_production_route == "maventa":
                company._efaktura_maventa_read_agreement()
                continue
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
            if company.efaktura_network_mode == "production" and company.efaktura_production_route == "maventa":
                # The docs show the older SOAP disable_b2c_issuer_agreement only: the agreement is closed with Visma.
                company.efaktura_maventa_agreement = "none"
            elif company.efaktura_network_mode == "production" and company.efaktura_issuer_state == "active":
                try:
                    company._efaktura_mps_client().delete_issuer(company.efaktura_issuer_org_number)
                except NetworkError as error:
                    raise UserError(
                        self.env._("MPS could not deactivate the issuer: %(error)s", error=error)
                    ) from error
            company.efaktura_issuer_state = "inactive"
        return True

    # ------------------------------------------------------------------
    # Visma AutoInvoice (Maventa): the B2C Norway agreement, webhooks, connection test
    # ------------------------------------------------------------------

    def _efaktura_maventa_apply_agreement(self, answer):
        """Store Maventa's answer about the agreement; the issuer agreement is active once it is confirmed."""
        self.ensure_one()
        status = (answer or {}).get("status")
        state = MAVENTA_AGREEMENT_STATES.get(status, "none" if answer is None else "pending")
        self.efaktura_maventa_agreement = state
        if state == "confirmed":
            self.efaktura_issuer_state = "active"
        elif self.efaktura_issuer_state == "active":
            self.efaktura_issuer_state = "pending_approval" if answer else "inactive"
        return state

    def _efaktura_maventa_order_agreement(self):
        """Order the B2C Norway ("main vendor") agreement. Maventa asks MPS whether another provider holds one:
        without, it is active at once (picked up within about an hour); with, the signatory signs a transfer."""
        self.ensure_one()
        client = self._efaktura_maventa_client()
        try:
            answer = client.order_agreement(self.name, self.efaktura_contact_email or "")
        except NetworkError as error:
            raise UserError(self.env._("Maventa refused the B2C Norway agreement: %(error)s", error=error)) from error
        state = self._efaktura_maventa_apply_agreement(answer)
        if state == "signature_needed":
            self.partner_id._message_log(
                body=self.env._(
                    "Another provider holds your eFaktura agreement at MPS: the person with signatory rights gets a "
                    "transfer to sign in Visma Sign. Close the old agreement afterwards."
                )
            )
        return state

    def _efaktura_maventa_read_agreement(self):
        self.ensure_one()
        try:
            answer = self._efaktura_maventa_client().get_agreement()
        except NetworkError as error:
            raise UserError(self.env._("Maventa could not be reached: %(error)s", error=error)) from error
        return self._efaktura_maventa_apply_agreement(answer)

    def action_efaktura_maventa_subscribe_webhook(self):
        """Ask Maventa to call this database when an invoice is delivered or fails; the URL holds a fresh secret."""
        self.check_access("write")
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for company in self:
            token = secrets.token_urlsafe(32)  # 256 bits
            destination = f"{base_url.rstrip('/')}/efaktura/maventa/webhook/{company.id}/{token}"
            try:
                company._efaktura_maventa_client().subscribe_webhook(destination)
            except NetworkError as error:
                raise UserError(self.env._("Maventa refused the webhook: %(error)s", error=error)) from error
            company.sudo().efaktura_maventa_webhook_hash = hashlib.sha256(token.encode()).hexdigest()
        return True

    def _efaktura_maventa_check_webhook_token(self, token):
        self.ensure_one()
        stored = self.sudo().efaktura_maventa_webhook_hash
        return bool(stored) and consteq(stored, hashlib.sha256(token.encode()).hexdigest())

    def _efaktura_maventa_refresh_delivery(self, invoice_id):
        """Read one Maventa invoice's state, as a webhook asked, and apply it to its delivery."""
        self.ensure_one()
        Delivery = self.env["efaktura.delivery"].sudo()
        delivery = Delivery.search(
            [("company_id", "=", self.id), ("network", "=", "maventa"), ("network_reference", "=", invoice_id)],
            limit=1,
        )
        if not delivery or delivery.state in ("paid", "rejected", "cancelled"):
            return False
        try:
            results = self._efaktura_network().status(delivery.channel, [invoice_id])
        except (NetworkError, UserError) as error:
            _logger.info("Maventa webhook: the state of %s could not be read: %s", invoice_id, error)
            return False
        self.env["efaktura.delivery"].sudo()._apply_statuses(delivery, results)
        return True

    def action_efaktura_test_connection(self):
        """Reach the production route's network with the configured keys, and say what answered."""
        self.ensure_one()
        self.check_access("write")
        route = self.efaktura_production_route
        try:
            if route == "maventa":
                client = self._efaktura_maventa_client()
                client.access_token()
                self._efaktura_maventa_apply_agreement(client.get_agreement())
                message = self.env._(
                    "Visma AutoInvoice answered. B2C Norway agreement: %(state)s.",
                    state=dict(self._fields["efaktura_maventa_agreement"]._description_selection(self.env))[
                        self.efaktura_maventa_agreement
                    ],
                )
            elif route == "mps":
                self._efaktura_mps_client().get_issuer(self.efaktura_issuer_org_number)
                message = self.env._("MPS answered: the issuer is known (contract unverified).")
            else:
                config = self._efaktura_vipps_config()
                if not config:
                    raise UserError(self.env._("Fill in the Vipps keys in the eFaktura settings first."))
                vipps_client.VippsClient(config).access_token()
                message = self.env._("Vipps answered with an access token.")
        except NetworkRejected as error:
            if route == "mps" and str(error.code) == "5002":
                message = self.env._("MPS answered: the issuer is not approved yet (contract unverified).")
            else:
                raise UserError(self.env._("The connection test failed: %(error)s", error=error)) from error
        except NetworkError as error:
            raise UserError(self.env._("The connection test failed: %(error)s", error=error)) from error
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": self.env._("Test connection"), "message": message, "type": "success", "sticky": False},
        }

    def _efaktura_mps_client(self):
        config = self._efaktura_mps_config()
        if not config:
            raise UserError(
                self.env._("Fill in the MPS endpoint and client certificate in the eFaktura settings first.")
            )
        return mps_client.MpsClient(config)

    def _efaktura_sandbox_issuer_token(self):
        self.ensure_one()
        return hmac_sign(self.env(su=True), "l10n_no_efaktura_b2c.sandbox_issuer_approval", str(self.id))

    def _efaktura_sandbox_send_issuer_approval(self):
        """The sandbox stands in for the network operator: it e-mails a link that approves the agreement."""
        self.ensure_one()
        url = f"{self.get_base_url()}/efaktura/sandbox/issuer/{self.id}/{self._efaktura_sandbox_issuer_token()}"
        self.env.ref("l10n_no_efaktura_b2c.mail_template_sandbox_issuer_approval").with_context(
            efaktura_approval_url=url, **self._efaktura_test_outbox()
        ).send_mail(self.id, email_layout_xmlid="mail.mail_notification_light")

    def _efaktura_sandbox_approve_issuer(self, token):
        self.ensure_one()
        if self.efaktura_mode != "test" or not consteq(token or "", self._efaktura_sandbox_issuer_token()):
            return False
        if self.efaktura_issuer_state == "pending_approval":
            self.efaktura_issuer_state = "active"
            self.partner_id._message_log(body=self.env._("eFaktura issuer agreement approved (sandbox)."))
        return self.efaktura_issuer_state == "active"

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
        managers = self.env.ref("account.group_account_manager").sudo().users.filtered(usable)
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
