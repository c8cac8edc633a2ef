import logging

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import email_normalize
from odoo.tools.misc import hmac as hmac_sign

from ..networks.base import Issuer
from ..oidc import Provider
from ..validation import InvalidValue, normalize_account_number, normalize_org_number
from .efaktura_channel import CHANNELS, DEFAULT_PRICES

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
                            rule=exc.rule,
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

    def _efaktura_production_network(self):
        raise UserError(
            self.env._(
                "%(company)s: the production networks are not configured. Fill in the MPS and Vipps settings, "
                "or switch the eFaktura network back to Sandbox.",
                company=self.name,
            )
        )

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
