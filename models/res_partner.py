from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from .. import compat
from ..networks.base import NetworkError, Recipient
from ..tools.validation import InvalidValue, normalize_no_mobile
from ..tools.validation_messages import rule_text

EFAKTURA_STATES = [
    ("not_checked", "Not checked"),
    ("consent_requested", "Consent requested"),
    ("active", "Active"),
    ("declined", "Declined"),
    ("withdrawn", "Withdrawn"),
]
ACCESS_POINTS = [("b2cno", "B2CNO")]
# Fields whose change can enable B2C eFaktura or break one of its rules.
B2C_RULE_FIELDS = (
    "is_company",
    compat.PARTNER_MOBILE,
    "efaktura_receive_edocuments",
    "efaktura_access_point",
    "efaktura_avtalegiro",
)


class ResPartner(models.Model):
    _inherit = "res.partner"

    invoice_sending_method = fields.Selection(
        selection_add=[("efaktura_b2c", "by eFaktura B2C (Vipps, nettbank, e-mail, post)")],
    )

    efaktura_private_person = fields.Boolean(
        string="Private person",
        compute="_compute_efaktura_private_person",
        help="A contact that is not a company. Only private persons can receive B2C eFaktura.",
    )
    efaktura_receive_edocuments = fields.Boolean(
        string="Receive eDocuments",
        company_dependent=True,
        groups="account.group_account_invoice",
        help="The customer receives invoices electronically through the access point below.",
    )
    efaktura_access_point = fields.Selection(
        ACCESS_POINTS,
        string="Access point",
        company_dependent=True,
        groups="account.group_account_invoice",
        help="B2CNO: Norwegian consumers, by Vipps or eFaktura in their nettbank.",
    )
    efaktura_print_format_id = fields.Many2one(
        related="invoice_template_pdf_report_id",
        string="Print format",
        readonly=False,
        groups="account.group_account_invoice",
        help="The invoice report used for the PDF, in the nettbank, by e-mail and by post.",
    )
    efaktura_avtalegiro = fields.Boolean(
        string="AvtaleGiro customer",
        company_dependent=True,
        groups="account.group_account_invoice",
        help="The customer pays by AvtaleGiro. Such customers cannot get B2C eFaktura from this module, "
        "so that no claim is paid twice.",
    )
    efaktura_state = fields.Selection(
        EFAKTURA_STATES,
        string="eFaktura status",
        company_dependent=True,
        default="not_checked",
        readonly=True,
        groups="account.group_account_invoice",
    )
    efaktura_state_date = fields.Datetime(
        string="eFaktura status date", company_dependent=True, readonly=True, groups="account.group_account_invoice"
    )
    efaktura_identifier = fields.Char(
        string="eFaktura identifier",
        company_dependent=True,
        readonly=True,
        groups="account.group_account_invoice",
        help="The consumer's identifier in the eFaktura network, found by lookup or after consent.",
    )
    # The lookup's answer: the consumer receives eFaktura in the Vipps app (not the company's efaktura_uses_vipps_api).
    efaktura_found_in_vipps = fields.Boolean(
        string="Vipps eFaktura",
        company_dependent=True,
        readonly=True,
        groups="account.group_account_invoice",
        help="The consumer receives eFaktura in the Vipps app.",
    )
    # A B2C eFaktura customer: Receive eDocuments ticked with access point B2CNO, so invoices go by the chain.
    efaktura_b2c_customer = fields.Boolean(
        string="B2C eFaktura",
        compute="_compute_efaktura_b2c_customer",
        search="_search_efaktura_b2c_customer",
        groups="account.group_account_invoice",
        help="Receive eDocuments is ticked with access point B2CNO.",
    )

    efaktura_test_mode = fields.Boolean(
        compute="_compute_efaktura_test_mode", help="eFaktura B2C runs in Test mode in the current company."
    )

    @api.depends_context("company")
    def _compute_efaktura_test_mode(self):
        self.efaktura_test_mode = self.env.company.efaktura_mode == "test"

    def action_efaktura_open_consent_page(self):
        """Test mode: open the customer's open consent request page, as the customer would see it."""
        self.ensure_one()
        consent = self.env["efaktura.consent"].search(
            [
                ("partner_id", "=", self.id),
                ("company_id", "=", self.env.company.id),
                ("state", "in", ("draft", "sent")),
            ],
            limit=1,
        )
        if not consent:
            raise UserError(self.env._("%(customer)s has no open eFaktura consent request.", customer=self.name))
        return consent.action_open_consent_page()

    @api.depends("is_company")
    def _compute_efaktura_private_person(self):
        for partner in self:
            partner.efaktura_private_person = not partner.is_company

    @api.depends("efaktura_receive_edocuments", "efaktura_access_point")
    @api.depends_context("company")
    def _compute_efaktura_b2c_customer(self):
        for partner in self:
            partner.efaktura_b2c_customer = bool(
                partner.efaktura_receive_edocuments and partner.efaktura_access_point == "b2cno"
            )

    def _search_efaktura_b2c_customer(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(self.env._("Unsupported search on B2C eFaktura."))
        domain = [("efaktura_receive_edocuments", "=", True), ("efaktura_access_point", "=", "b2cno")]
        return domain if (operator == "=") == value else ["!", "&", *domain]

    # ------------------------------------------------------------------
    # Rules
    # ------------------------------------------------------------------

    @api.model
    def _efaktura_normalize_mobile(self, value):
        """The mobile number as +47 and 8 digits, or a ValidationError naming the field."""
        try:
            return normalize_no_mobile(value)
        except InvalidValue as exc:
            # The field's label as the form shows it: Mobile on 18.0, Phone on 19.0.
            field = self._fields[compat.PARTNER_MOBILE]._description_string(self.env)
            if not value:
                raise ValidationError(
                    self.env._(
                        "%(field)s: a Norwegian mobile number is required for B2C eFaktura. Expected %(rule)s.",
                        field=field,
                        rule=rule_text(self.env, exc),
                    )
                ) from exc
            raise ValidationError(
                self.env._(
                    "%(field)s: %(value)s is not valid. Expected %(rule)s, for example +47 912 34 567.",
                    field=field,
                    value=value,
                    rule=rule_text(self.env, exc),
                )
            ) from exc

    def _efaktura_b2c_companies(self):
        """For each partner, the companies in which it receives B2C eFaktura.

        The B2C fields are company-dependent: a customer may be B2C in company A while a user edits the card
        from company B. Read under sudo, per company, so that the rules hold in every company whatever the
        user's own companies are.
        """
        result = {partner.id: self.env["res.company"] for partner in self}
        partners = self.sudo()
        # pylint: disable-next=no-search-all  # every company: a handful of records
        for company in self.env["res.company"].sudo().search([]):
            for partner in partners.with_company(company).filtered("efaktura_b2c_customer"):
                result[partner.id] |= company
        return result

    @api.constrains(*B2C_RULE_FIELDS)
    def _check_efaktura_b2c(self):
        b2c_companies = self._efaktura_b2c_companies()
        current = self.env.company
        for partner in self.sudo():
            for company in b2c_companies[partner.id]:
                partner.with_company(company)._efaktura_check_b2c_rules(company, same_company=company == current)

    def _efaktura_check_b2c_rules(self, company, same_company=True):
        """The rules of a B2C customer of ``company`` (private person, no AvtaleGiro, Norwegian mobile), read in
        that company. Changed from another company, the error says whose rule it is."""
        self.ensure_one()
        partner = self
        try:
            if partner.is_company:
                raise ValidationError(
                    self.env._(
                        "%(partner)s is a company. B2C eFaktura is for private persons only: untick "
                        '"Receive eDocuments", or make the contact an individual.',
                        partner=partner.display_name,
                    )
                )
            if partner.efaktura_avtalegiro:
                raise ValidationError(
                    self.env._(
                        "%(partner)s is an AvtaleGiro customer. B2C eFaktura cannot be combined with AvtaleGiro, "
                        'so that the same claim is not paid twice: untick "AvtaleGiro customer" first.',
                        partner=partner.display_name,
                    )
                )
            partner._efaktura_normalize_mobile(partner[compat.PARTNER_MOBILE])
        except ValidationError as error:
            if same_company:
                raise
            # Changed from another company: say which company's rule it breaks.
            if company in self.env.user.company_ids:
                where = self.env._("The customer receives B2C eFaktura from %(company)s.", company=company.name)
            else:
                where = self.env._("The customer receives B2C eFaktura from another company.")
            raise ValidationError(self.env._("%(error)s %(where)s", error=error.args[0], where=where)) from error

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        partners._efaktura_store_normalized_mobile()
        return partners

    def write(self, vals):
        res = super().write(vals)
        if any(fname in vals for fname in B2C_RULE_FIELDS):
            self._efaktura_store_normalized_mobile()
        return res

    def _efaktura_store_normalized_mobile(self):
        """Keep the mobile of B2C consumers, in any company, in one form: +47 and 8 digits."""
        b2c_companies = self._efaktura_b2c_companies()
        for partner in self.sudo().filtered(lambda p: b2c_companies[p.id]):
            normalized = partner._efaktura_normalize_mobile(partner[compat.PARTNER_MOBILE])
            if normalized != partner[compat.PARTNER_MOBILE]:
                partner.write({compat.PARTNER_MOBILE: normalized})

    # ------------------------------------------------------------------
    # State
    # ------------------------------------------------------------------

    def _efaktura_lang(self, company=None):
        """The language the module writes to and about this customer in: theirs, else the company's, else
        English (only installed languages)."""
        self.ensure_one()
        installed = dict(self.env["res.lang"].get_installed())
        company = company or self.env.company
        for lang in (self.lang, company.partner_id.lang):
            if lang in installed:
                return lang
        return "en_US"

    def _efaktura_set_state(self, state, note=None):
        """Move the consumers' eFaktura status and say so in their chatter."""
        now = fields.Datetime.now()
        partners = self.sudo().filtered(lambda p: p.efaktura_state != state)
        if not partners:
            return
        partners.write({"efaktura_state": state, "efaktura_state_date": now})
        company = self.env.company
        for lang, group in partners.grouped(lambda p: p._efaktura_lang(company)).items():
            env = group.with_context(lang=lang).env
            labels = dict(self._fields["efaktura_state"]._description_selection(env))
            body = Markup("%s <b>%s</b>") % (env._("eFaktura status:"), labels[state])
            if note:
                body += Markup("<br/>%s") % note
            group._message_log_batch(bodies=dict.fromkeys(group.ids, body))

    # ------------------------------------------------------------------
    # What the network knows of the customer: one way in, one way out
    # ------------------------------------------------------------------

    def _efaktura_recipient(self, **values):
        """The customer as a network lookup asks for them; ``values`` adds or overrides fields (the name and
        national identity number BankID verified). A mobile number that is not a valid Norwegian one is left
        out rather than sent as typed."""
        self.ensure_one()
        try:
            mobile = normalize_no_mobile(self[compat.PARTNER_MOBILE]) if self[compat.PARTNER_MOBILE] else ""
        except InvalidValue:
            mobile = ""
        return Recipient(
            **{"ref": str(self.id), "name": self.name or "", "mobile": mobile, "email": self.email or "", **values}
        )

    def _efaktura_remember(self, results, note, identifier_required=False):
        """Keep what a lookup found (``results`` by ``Recipient.ref``): the eFaktura identifier and whether they
        read eFaktura in Vipps, and make them active in one state change. Returns the customers found."""
        found = self.browse()
        for partner in self:
            result = results.get(str(partner.id))
            if result and (result.efaktura_identifier or (result.vipps and not identifier_required)):
                partner.sudo().write(
                    {
                        "efaktura_identifier": result.efaktura_identifier or False,
                        "efaktura_found_in_vipps": result.vipps,
                    }
                )
                found |= partner
        found._efaktura_set_state("active", note=note)
        return found

    def _efaktura_forget(self, state, note):
        """Forget the customers' eFaktura identifier and Vipps preference, and move them to ``state``."""
        if self:
            self.sudo().write({"efaktura_identifier": False, "efaktura_found_in_vipps": False})
            self._efaktura_set_state(state, note=note)

    def action_efaktura_withdraw(self):
        """Withdraw the customer's eFaktura consent in this company; the audit records stay."""
        company = self.env.company
        consents = self.env["efaktura.consent"].search(
            [("partner_id", "in", self.ids), ("company_id", "=", company.id), ("state", "=", "accepted")]
        )
        if consents:
            consents.action_withdraw()
        rest = self.with_company(company).filtered(lambda p: p.efaktura_state != "withdrawn")
        rest._efaktura_forget("withdrawn", self.env._("eFaktura withdrawn by %(user)s.", user=self.env.user.name))
        return True

    # ------------------------------------------------------------------
    # Actions on one or many customers
    # ------------------------------------------------------------------

    def _efaktura_notify(self, title, message, ok=True):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": "success" if ok else "warning",
                "sticky": not ok,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _efaktura_skip_reason(self):
        """Why this contact cannot get B2C eFaktura, or an empty string."""
        self.ensure_one()
        if self.is_company:
            return self.env._("is a company")
        if self.efaktura_avtalegiro:
            return self.env._("pays by AvtaleGiro")
        try:
            normalize_no_mobile(self[compat.PARTNER_MOBILE])
        except InvalidValue:
            return self.env._("has no valid Norwegian mobile number")
        return ""

    def action_efaktura_request_consent(self):
        """Ask the customer now, by SMS and e-mail, to approve eFaktura with BankID."""
        company = self.env.company
        if not company.efaktura_switched_on:
            raise UserError(self.env._("eFaktura B2C is not enabled for %(company)s.", company=company.name))
        partners = self.with_company(company)
        not_b2c = partners.filtered(lambda p: not p.efaktura_b2c_customer)
        if not_b2c:
            raise UserError(
                self.env._(
                    '%(partners)s: tick "Receive eDocuments" with access point B2CNO first.',
                    partners=", ".join(not_b2c.mapped("display_name")),
                )
            )
        created = (
            self.env["efaktura.consent.request"]
            .with_context(efaktura_sms_now=True)
            ._request(partners, self.env["account.move"], company)
        )
        if created:
            # What really went out, per customer: the SMS is sent at once, so a failure is known here.
            Request = self.env["efaktura.consent.request"]
            lines = [
                self.env._(
                    "%(partner)s: %(what)s", partner=consent.partner_id.name, what=Request._delivery_summary(consent)
                )
                for consent in created
            ]
            reached = created.filtered(lambda c: c.state != "failed")
            complete = all(c.sms_state == "sent" and c.mail_state in ("queued", "sent") for c in created)
            return self._efaktura_notify(
                self.env._("Consent requested") if reached else self.env._("Nothing reached the customer"),
                "\n".join(lines),
                ok=complete,
            )
        return self._efaktura_notify(
            self.env._("Nothing sent"),
            self.env._("A request is already open, or the customer has already answered."),
            ok=False,
        )

    def action_efaktura_check_status(self):
        """Look the customers up in the eFaktura network, as the chain does before it sends."""
        company = self.env.company
        if not company.efaktura_switched_on:
            raise UserError(self.env._("eFaktura B2C is not enabled for %(company)s.", company=company.name))
        skipped = []
        candidates = self.browse()
        for partner in self.with_company(company):
            reason = partner._efaktura_skip_reason()
            if not reason and partner.efaktura_state in ("declined", "withdrawn"):
                reason = self.env._("said no to eFaktura")
            if reason:
                skipped.append(f"{partner.display_name} ({reason})")
            else:
                candidates |= partner
        found = self.browse()
        if candidates:
            try:
                results = company._efaktura_network().lookup([p._efaktura_recipient() for p in candidates])
            except NetworkError as error:
                raise UserError(self.env._("The eFaktura lookup failed: %(error)s", error=error)) from error
            found = candidates._efaktura_remember(results, self.env._("Found in the eFaktura network (yes to all)."))
        message = self.env._(
            "%(found)s of %(count)s found in the eFaktura network.", found=len(found), count=len(candidates)
        )
        if skipped:
            message += " " + self.env._("Not checked: %(list)s.", list=", ".join(skipped))
        return self._efaktura_notify(self.env._("eFaktura status"), message, ok=not skipped)

    def action_efaktura_set_b2c_defaults(self):
        """Receive eDocuments by B2CNO for the private persons with a valid Norwegian mobile number."""
        company = self.env.company
        skipped = []
        done = self.browse()
        for partner in self.with_company(company):
            reason = partner._efaktura_skip_reason()
            if reason:
                skipped.append(f"{partner.display_name} ({reason})")
            else:
                done |= partner
        if done:
            done.write({"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno"})
        message = self.env._("B2C eFaktura set for %(count)s customer(s).", count=len(done))
        if skipped:
            message += " " + self.env._("Skipped: %(list)s.", list=", ".join(skipped))
        return self._efaktura_notify(self.env._("B2C defaults"), message, ok=not skipped)
