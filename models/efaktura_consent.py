import hashlib
import secrets

from dateutil.relativedelta import relativedelta
from stdnum.no import fodselsnummer

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, consteq
from odoo.tools.misc import hmac as hmac_sign

from .. import compat
from ..tools.oidc import name_matches

CONSENT_STATES = [
    ("draft", "Draft"),
    ("sent", "Sent"),
    ("accepted", "Accepted"),
    ("declined", "Declined"),
    ("expired", "Expired"),
    ("withdrawn", "Withdrawn"),
    ("failed", "Not delivered"),
]
SMS_STATES = [
    ("none", "Not possible"),
    ("queued", "Queued"),
    ("sent", "Sent"),
    ("failed", "Failed"),
]
MAIL_STATES = [
    ("none", "No address"),
    ("queued", "Queued"),
    ("sent", "Sent"),
    ("failed", "Failed"),
]
OPEN_STATES = ("draft", "sent")
EVIDENCE_GROUP = "account.group_account_manager"
# The personal data of an answer, cleared once the retention period after a withdrawal or expiry has passed.
EVIDENCE_FIELDS = (
    "ip_address",
    "user_agent",
    "bankid_sub",
    "bankid_name",
    "bankid_birthdate",
    "bankid_issuer",
    "national_id_hash",
    "acr",
    "amr",
    "name_match_score",
    "name_mismatch",
    "withdrawn_ip_address",
    "withdrawn_user_agent",
    "bankid_altsub",
)
TOKEN_BYTES = 32  # 256 bits


def _hash_token(token):
    return hashlib.sha256((token or "").encode()).hexdigest()


class EfakturaConsent(models.Model):
    """A consumer's answer to "may we send you eFaktura?", with the BankID evidence behind it.

    The link sent by SMS and e-mail carries a random token; only its SHA-256 is stored. The OIDC
    state, nonce and PKCE verifier of the BankID login are kept per request and cleared once used.
    The national identity number is never stored: only a keyed hash of it, for audit.

    The request goes out through ``efaktura.consent.request``, the BankID login is ``efaktura.bankid``, and the
    eFaktura register lookup after it ``efaktura.consent.lookup``; this model holds the record and the answers.
    """

    _name = "efaktura.consent"
    _description = "eFaktura consent"
    _order = "id desc"
    _rec_name = "partner_id"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    state = fields.Selection(CONSENT_STATES, default="draft", required=True, index=True, readonly=True)
    token_hash = fields.Char(readonly=True, copy=False, index=True, groups="base.group_system")
    withdraw_token_hash = fields.Char(readonly=True, copy=False, index=True, groups="base.group_system")
    requested_at = fields.Datetime(readonly=True)
    deadline = fields.Datetime(readonly=True, help="Without an answer by then, the invoices go by e-mail or post.")
    decided_at = fields.Datetime(string="Answered at", readonly=True)
    move_ids = fields.Many2many(
        "account.move", "efaktura_consent_move_rel", "consent_id", "move_id", string="Waiting invoices", readonly=True
    )
    # What really went out: read back from sms.sms and mail.mail.
    sms_id = fields.Many2one(
        "sms.sms", string="SMS message", readonly=True, ondelete="set null", index="btree_not_null"
    )
    sms_state = fields.Selection(SMS_STATES, string="SMS", readonly=True)
    sms_error = fields.Char(string="SMS problem", readonly=True)
    mail_id = fields.Many2one(
        "mail.mail", string="E-mail message", readonly=True, ondelete="set null", index="btree_not_null"
    )
    mail_state = fields.Selection(MAIL_STATES, string="E-mail", readonly=True)
    mail_error = fields.Char(string="E-mail problem", readonly=True)
    # Evidence of the answer: personal data, for the accounting managers of the company only (the record rule
    # keeps other companies out); the customer's chatter only says what happened. Cleared by the retention cron
    # some months after a withdrawal or expiry.
    ip_address = fields.Char(string="IP address", readonly=True, groups=EVIDENCE_GROUP)
    user_agent = fields.Char(readonly=True, groups=EVIDENCE_GROUP)
    bankid_sub = fields.Char(string="BankID subject", readonly=True, groups=EVIDENCE_GROUP)
    bankid_name = fields.Char(string="Name in BankID", readonly=True, groups=EVIDENCE_GROUP)
    bankid_birthdate = fields.Date(string="Birth date in BankID", readonly=True, groups=EVIDENCE_GROUP)
    bankid_issuer = fields.Char(readonly=True, groups=EVIDENCE_GROUP)
    national_id_hash = fields.Char(
        readonly=True, groups="base.group_system", help="Keyed hash of the national identity number; never in clear."
    )
    acr = fields.Char(string="Level of assurance (acr)", readonly=True, groups=EVIDENCE_GROUP)
    amr = fields.Char(string="Method (amr)", readonly=True, groups=EVIDENCE_GROUP)
    name_match_score = fields.Float(readonly=True, digits=(3, 2), groups=EVIDENCE_GROUP)
    name_mismatch = fields.Boolean(
        readonly=True,
        groups=EVIDENCE_GROUP,
        help="The name in BankID does not match the customer card closely enough.",
    )
    withdrawn_at = fields.Datetime(readonly=True)
    bankid_altsub = fields.Char(
        string="BankID stable identifier",
        readonly=True,
        groups=EVIDENCE_GROUP,
        help="BankID's bankid_altsub, which BankID recommends over sub as the stable identifier of the person.",
    )
    # eFaktura 2.0: BankID proves who the consumer is; the agreement itself is the consumer's "yes to all"
    # in the nettbank or Vipps, which the module can only look up.
    lookup_state = fields.Selection(
        [("not_found", "eFaktura not switched on yet"), ("error", "Lookup failed, tried again")],
        string="eFaktura lookup",
        readonly=True,
        copy=False,
        help="After the BankID login: the consumer is looked up by national identity number until found or the "
        "deadline.",
    )
    next_lookup_at = fields.Datetime(string="Next lookup", readonly=True, copy=False)
    lookup_count = fields.Integer(string="Lookups", readonly=True, copy=False)
    # Kept only while the lookups need it (until found, or the deadline), then erased; never shown or logged.
    lookup_national_id = fields.Char(readonly=True, copy=False, groups="base.group_system", prefetch=False)
    check_token_hash = fields.Char(readonly=True, copy=False, index=True, groups="base.group_system")
    # Test mode only: a second link to the same request, made by "Open consent page" for the person trying it out.
    test_token_hash = fields.Char(readonly=True, copy=False, index=True, groups="base.group_system")
    efaktura_mode = fields.Selection(related="company_id.efaktura_mode", string="eFaktura B2C mode")
    withdrawn_ip_address = fields.Char(string="Withdrawn from IP address", readonly=True, groups=EVIDENCE_GROUP)
    withdrawn_user_agent = fields.Char(string="Withdrawn from browser", readonly=True, groups=EVIDENCE_GROUP)
    evidence_cleared_at = fields.Datetime(
        string="Evidence cleared on",
        readonly=True,
        help="The personal data of the answer was deleted after the retention period of the company.",
    )
    # The BankID login in progress (cleared when its callback arrives).
    oidc_state_hash = fields.Char(readonly=True, copy=False, index=True, groups="base.group_system")
    oidc_browser_hash = fields.Char(readonly=True, copy=False, groups="base.group_system")
    oidc_nonce = fields.Char(readonly=True, copy=False, groups="base.group_system")
    oidc_code_verifier = fields.Char(readonly=True, copy=False, groups="base.group_system")
    oidc_started_at = fields.Datetime(readonly=True, copy=False, groups="base.group_system")

    def init(self):
        # One open request per customer and company: a second invoice never sends a second SMS.
        self.env.cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS efaktura_consent_one_open_idx "
                "ON efaktura_consent (partner_id, company_id) WHERE state IN ('draft', 'sent')"
            )
        )

    # ------------------------------------------------------------------
    # Tokens
    # ------------------------------------------------------------------

    @api.model
    def _new_token(self):
        return secrets.token_urlsafe(TOKEN_BYTES)

    @api.model
    def _hash_token_value(self, token):
        return _hash_token(token)

    @api.model
    def _find_by_token(self, token, field="token_hash"):
        """The consent a link token belongs to, or an empty recordset. Constant-time comparison."""
        if not token or len(token) > 100:
            return self.browse()
        digest = _hash_token(token)
        consent = self.sudo().search([(field, "=", digest)], limit=1)
        if consent and consteq(consent[field], digest):
            return consent._as_customer()
        if field == "token_hash":
            consent = self.sudo().search([("test_token_hash", "=", digest)], limit=1)
            if consent and consent.company_id.efaktura_mode == "test" and consteq(consent.test_token_hash, digest):
                return consent._as_customer()
        return self.browse()

    def _as_customer(self):
        """On a public page, the consent acts as its customer's own step: the chatter lines it writes are in the
        customer's language (else the company's) and have the customer as author, not "Public user"."""
        if len(self) != 1 or not self.env.user._is_public():
            return self
        return self.with_context(
            lang=self.partner_id._efaktura_lang(self.company_id), efaktura_customer_author=self.partner_id.id
        )

    @api.model
    def _find_by_oidc_state(self, state):
        if not state or len(state) > 200:
            return self.browse()
        digest = _hash_token(state)
        consent = self.sudo().search([("oidc_state_hash", "=", digest)], limit=1)
        if consent and consteq(consent.oidc_state_hash, digest):
            return consent._as_customer()
        return self.browse()

    @api.model
    def _hash_national_id(self, national_id):
        """A keyed hash (per database) of a national identity number, so it can be matched, never read."""
        return hmac_sign(self.env(su=True), "l10n_no_efaktura_b2c.national_id", national_id)

    def action_open_consent_page(self):
        """Test mode: open the consent page the customer's link leads to, as the customer would see it."""
        self.ensure_one()
        if self.company_id.efaktura_mode != "test":
            raise UserError(self.env._("The consent page can be opened from here in Test mode only."))
        if self.state not in OPEN_STATES:
            raise UserError(self.env._("This request is no longer open: the customer's link shows nothing to do."))
        token = self._new_token()
        self.sudo().test_token_hash = _hash_token(token)
        return {"type": "ir.actions.act_url", "url": self._consent_url(token), "target": "new"}

    def _consent_url(self, token):
        self.ensure_one()
        return f"{self.company_id.get_base_url()}/efaktura/consent/{token}"

    def _withdraw_url(self, token):
        self.ensure_one()
        return f"{self.company_id.get_base_url()}/efaktura/consent/withdraw/{token}"

    # ------------------------------------------------------------------
    # Answers
    # ------------------------------------------------------------------

    def _evidence(self, ip_address, user_agent):
        return {
            "decided_at": fields.Datetime.now(),
            "ip_address": (ip_address or "")[:64],
            "user_agent": (user_agent or "")[:512],
        }

    def _lock(self):
        """Take the row lock, so the deadline cron and the customer's answer cannot both win."""
        self.env.cr.execute(SQL("SELECT id FROM efaktura_consent WHERE id IN %s FOR UPDATE", tuple(self.ids)))
        self.invalidate_recordset(["state", "deadline"])

    def _link_problem(self):
        """Why this request's link no longer opens: ``"expired"`` (the deadline passed, whether or not the deadline
        job has run yet), ``"answered"``, or None while it is open."""
        self.ensure_one()
        if self.state == "expired" or (
            self.state in OPEN_STATES and self.deadline and self.deadline <= fields.Datetime.now()
        ):
            return "expired"
        return None if self.state in OPEN_STATES else "answered"

    def _check_open(self):
        self.ensure_one()
        self._lock()
        if self.state not in OPEN_STATES:
            raise UserError(self.env._("This request was already answered."))
        if self.deadline and self.deadline <= fields.Datetime.now():
            raise UserError(self.env._("This request has expired."))

    # ------------------------------------------------------------------
    # The BankID login: the controller's entry points, see efaktura.bankid
    # ------------------------------------------------------------------

    def _bankid_start(self, browser_key, lang=None):
        """Start the customer's BankID login; returns ``(url, ttl)`` (see ``efaktura.bankid._start``)."""
        return self.env["efaktura.bankid"]._start(self, browser_key, lang=lang)

    @api.model
    def _bankid_finish(self, params, browser_key, ip_address=None, user_agent=None):
        """Finish a BankID login from the provider's callback; returns ``(consent, outcome)`` (see
        ``efaktura.bankid._finish``)."""
        return self.env["efaktura.bankid"]._finish(params, browser_key, ip_address=ip_address, user_agent=user_agent)

    def _accept(self, identity, ip_address=None, user_agent=None):
        """BankID verified the person: record the evidence, then look the consumer up by the verified national
        identity number (eFaktura 2.0: the consumer switches eFaktura on for all issuers in the nettbank or in
        Vipps; an issuer can only look that up).

        ``identity`` is an ``oidc.VerifiedIdentity``. Returns what happened:

        * ``"accepted"``: found, the consent is accepted with the identifier and the waiting invoices go out;
        * ``"not_found"``: no eFaktura yet; looked up again daily, and when the consumer says it is done;
        * ``"error"``: the lookup failed; tried again soon, never accepted without an identifier;
        * ``"name_mismatch"``: the name in BankID is not the customer's (recorded, not accepted);
        * ``"no_national_id"``: BankID gave no valid national identity number (nothing recorded).
        """
        self.ensure_one()
        self._check_open()
        national_id = (identity.national_id or "").strip()
        if not national_id or not fodselsnummer.is_valid(national_id):
            return "no_national_id"
        national_id = fodselsnummer.compact(national_id)
        match = name_matches(self.partner_id.name or "", identity.given_name, identity.family_name, identity.name)
        evidence = {
            **self._evidence(ip_address, user_agent),
            "bankid_sub": identity.sub,
            "bankid_altsub": getattr(identity, "altsub", "") or False,
            "bankid_name": identity.name,
            "bankid_birthdate": identity.birthdate or False,
            "bankid_issuer": identity.issuer,
            "national_id_hash": self._hash_national_id(national_id),
            "acr": identity.acr or False,
            "amr": " ".join(identity.amr) if isinstance(identity.amr, list | tuple) else (identity.amr or False),
            "name_match_score": match.score,
            "name_mismatch": not match.matches,
        }
        if not match.matches:
            # Someone else's BankID: keep the evidence, but the request stays open for the right person.
            self.write({k: v for k, v in evidence.items() if k != "decided_at"})
            # The other person's name stays on the consent record, for the accounting managers.
            self.partner_id._message_log(
                body=self.env._(
                    "eFaktura consent refused: the name in BankID does not match the customer. The request stays "
                    "open; the details are on the consent request."
                )
            )
            return "name_mismatch"
        self.write(evidence)
        self.sudo().lookup_national_id = national_id
        self.partner_id._message_log(body=self.env._("Confirmed with BankID; eFaktura is looked up in the register."))
        return self.env["efaktura.consent.lookup"]._lookup(self)

    def _decline(self, ip_address=None, user_agent=None):
        self.ensure_one()
        self._check_open()
        self.write({**self._evidence(ip_address, user_agent), "state": "declined"})
        self.sudo().write({"lookup_national_id": False, "lookup_state": False, "next_lookup_at": False})
        self.partner_id.with_company(self.company_id)._efaktura_set_state(
            "declined", note=self.env._("Said no thanks to eFaktura.")
        )
        self._release_waiting_invoices(self.env._("The customer said no thanks to eFaktura."))

    def _expire(self):
        self.write({"state": "expired"})
        # The lookups are over: the national identity number is erased.
        self.sudo().write({"lookup_national_id": False, "next_lookup_at": False, "check_token_hash": False})
        # Written by a cron: each customer's lines in their language.
        for (company, lang), consents in self.grouped(
            lambda c: (c.company_id, c.partner_id._efaktura_lang(c.company_id))
        ).items():
            consents = consents.with_context(lang=lang)
            consents.partner_id.with_company(company)._efaktura_set_state(
                "not_checked", note=consents.env._("No answer to the eFaktura request before the deadline.")
            )
            consents._release_waiting_invoices(consents.env._("No eFaktura consent before the deadline."))

    def _release_waiting_invoices(self, reason):
        """The waiting invoices go back to the chain at once, which now knows the customer's answer."""
        moves = self.move_ids.filtered(lambda m: m.efaktura_state == "awaiting_consent")
        if not moves:
            return
        # The deadline no longer holds them back on acceptance; on refusal it makes the chain skip eFaktura.
        accepted = moves.filtered(lambda m: m.partner_id.with_company(m.company_id).efaktura_state == "active")
        accepted._efaktura_write({"efaktura_state": "queued", "efaktura_deadline": False, "efaktura_next_try": False})
        others = moves - accepted
        others._efaktura_write(
            {"efaktura_state": "queued", "efaktura_deadline": fields.Datetime.now(), "efaktura_next_try": False}
        )
        moves._message_log_batch(bodies=dict.fromkeys(moves.ids, reason))
        self.env["efaktura.chain"]._dispatch_locked(moves)

    def _send_confirmation(self):
        """A receipt by e-mail, with a link to withdraw the consent."""
        template = self.env.ref("l10n_no_efaktura_b2c.mail_template_consent_confirmed")
        for consent in self:
            token = self._new_token()
            consent.withdraw_token_hash = _hash_token(token)
            if consent.partner_id.email:
                self.env["efaktura.consent.request"]._send_link_mail(
                    consent,
                    template.with_context(
                        efaktura_withdraw_url=consent._withdraw_url(token), **consent.company_id._efaktura_test_outbox()
                    ),
                )

    def action_withdraw(self, ip_address=None, user_agent=None):
        """Withdraw an accepted consent. The record stays as the audit trail."""
        for consent in self:
            if consent.state != "accepted":
                raise UserError(self.env._("Only an accepted consent can be withdrawn."))
        now = fields.Datetime.now()
        self.write({"state": "withdrawn", "withdrawn_at": now, "withdraw_token_hash": False})
        if ip_address or user_agent:
            # The address and browser are evidence: on the consent record, not in the customer's chatter.
            self.write(
                {"withdrawn_ip_address": (ip_address or "")[:64], "withdrawn_user_agent": (user_agent or "")[:512]}
            )
            for consent in self:
                consent.partner_id._message_log(
                    body=self.env._("eFaktura consent withdrawn through the link in the confirmation e-mail.")
                )
        for consent in self:
            consent.partner_id.with_company(consent.company_id)._efaktura_forget(
                "withdrawn", self.env._("Withdrew the eFaktura consent.")
            )
        return True

    # ------------------------------------------------------------------
    # Retention of the evidence
    # ------------------------------------------------------------------

    @api.model
    def _cron_clear_evidence(self):
        """Clear the personal data of withdrawn and expired consents once the company's retention period
        (months after the withdrawal or the deadline) has passed. The record stays, with its dates and state."""
        now = fields.Datetime.now()
        cleared = self.browse()
        # pylint: disable-next=no-search-all  # every company: a handful of records
        for company in self.env["res.company"].sudo().search([]):
            limit = now - relativedelta(months=company.efaktura_evidence_retention_months)
            cleared |= self.sudo().search(
                [
                    ("company_id", "=", company.id),
                    ("evidence_cleared_at", "=", False),
                    "|",
                    "&",
                    ("state", "=", "withdrawn"),
                    ("withdrawn_at", "<=", limit),
                    "&",
                    ("state", "=", "expired"),
                    ("deadline", "<=", limit),
                ]
            )
        if cleared:
            cleared.write({**dict.fromkeys(EVIDENCE_FIELDS, False), "evidence_cleared_at": now})
        return len(cleared)

    # ------------------------------------------------------------------
    # Deadlines
    # ------------------------------------------------------------------

    @api.model
    def _cron_expire(self, batch_size=500):
        """Expire open requests whose deadline passed, in locked, committed batches; resumable."""
        Chain = self.env["efaktura.chain"]
        done = 0
        while True:
            self.env.cr.execute(
                SQL(
                    """SELECT id FROM efaktura_consent
                        WHERE state IN ('draft', 'sent') AND deadline <= %s
                     ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                    fields.Datetime.now(),
                    batch_size,
                )
            )
            consents = self.browse([row[0] for row in self.env.cr.fetchall()])
            if not consents:
                break
            consents.sudo()._expire()
            done += len(consents)
            if not Chain._can_commit():
                break
            compat.commit_progress(self.env, len(consents), 0)  # one batch per transaction
        return done
