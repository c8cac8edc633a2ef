import hashlib
import hmac
import secrets

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import email_normalize

from ... import compat
from ...tools.validation import InvalidValue, normalize_no_mobile
from ...tools.validation_messages import rule_text
from ..network import normalize_national_id

SECRET_PARAM = "l10n_no_efaktura_b2c.sandbox_secret"


class EfakturaSandboxConsumer(models.Model):
    _name = "efaktura.sandbox.consumer"
    _description = "eFaktura sandbox consumer (JTTA registry)"
    _order = "name, id"

    name = fields.Char(required=True, help="The consumer's name as the bank knows it. Lookups compare it loosely.")
    mobile = fields.Char(
        help="Norwegian mobile number, stored as +47 and 8 digits. Vipps addresses the consumer by it."
    )
    email = fields.Char(string="E-mail")
    national_id = fields.Char(
        string="National id",
        compute="_compute_national_id",
        search="_search_national_id",
        readonly=False,
        groups="account.group_account_manager",
        help="Fødselsnummer or D-number, 11 digits. Only a keyed hash of it is stored: it can be set and "
        "searched, never read back.",
    )
    national_id_hash = fields.Char(
        string="National id hash", readonly=True, copy=False, index=True, groups="account.group_account_manager"
    )
    national_id_set = fields.Boolean(string="National id registered", compute="_compute_national_id_set")
    efaktura_identifier = fields.Char(string="eFaktura identifier", readonly=True, copy=False, index=True)
    jtta = fields.Boolean(
        string="Yes to all",
        help='The consumer said "yes to all" (ja takk til alle): every issuer may send eFaktura to the nettbank.',
    )
    vipps = fields.Boolean(help="The consumer receives eFaktura in the Vipps app.")
    active = fields.Boolean(default=True)
    document_ids = fields.One2many("efaktura.sandbox.document", "consumer_id", string="Documents")
    document_count = fields.Integer(compute="_compute_document_count")

    _efaktura_identifier_uniq = compat.Constraint(
        "unique(efaktura_identifier)",
        "Each eFaktura identifier belongs to one consumer.",
    )

    # ------------------------------------------------------------------
    # National id: stored as a keyed hash only
    # ------------------------------------------------------------------

    @api.model
    def _sandbox_secret(self):
        """The per-database key of the national id hashes, created on first use."""
        params = self.env["ir.config_parameter"].sudo()
        secret = params.get_param(SECRET_PARAM)
        if not secret:
            secret = secrets.token_hex(32)
            params.set_param(SECRET_PARAM, secret)
        return secret

    @api.model
    def _sandbox_hash_national_id(self, national_id):
        """HMAC-SHA256 of the national id (11 digits) under the database's sandbox secret."""
        return hmac.new(self._sandbox_secret().encode(), national_id.encode(), hashlib.sha256).hexdigest()

    @api.model
    def _sandbox_check_national_id(self, value):
        national_id = normalize_national_id(value)
        if not national_id:
            raise ValidationError(
                self.env._(
                    "National id: %(value)s is not valid. Expected 11 digits (fødselsnummer or D-number).", value=value
                )
            )
        return national_id

    def _compute_national_id(self):
        self.national_id = False

    def _search_national_id(self, operator, value):
        if operator != "=" or not isinstance(value, str):
            raise NotImplementedError(self.env._("National id: only an exact search is possible."))
        national_id = normalize_national_id(value)
        if not national_id:
            return [("id", "=", False)]
        return [("national_id_hash", "=", self._sandbox_hash_national_id(national_id))]

    @api.depends("national_id_hash")
    def _compute_national_id_set(self):
        for consumer in self:
            consumer.national_id_set = bool(consumer.sudo().national_id_hash)

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [self._sandbox_normalize_vals(vals) for vals in vals_list]
        for vals in vals_list:
            if not vals.get("efaktura_identifier"):
                vals["efaktura_identifier"] = self._sandbox_new_identifier()
        return super().create(vals_list)

    def write(self, vals):
        return super().write(self._sandbox_normalize_vals(vals))

    @api.model
    def _sandbox_normalize_vals(self, vals):
        """Values in their stored form: normalised contact data, and the national id as its hash only."""
        vals = dict(vals)
        national_id = vals.pop("national_id", False)
        if national_id:
            vals["national_id_hash"] = self._sandbox_hash_national_id(self._sandbox_check_national_id(national_id))
        if vals.get("mobile"):
            try:
                vals["mobile"] = normalize_no_mobile(vals["mobile"])
            except InvalidValue as exc:
                raise ValidationError(
                    self.env._(
                        "Mobile: %(value)s is not valid. Expected %(rule)s.",
                        value=vals["mobile"],
                        rule=rule_text(self.env, exc),
                    )
                ) from exc
        if vals.get("email"):
            email = email_normalize(vals["email"])
            if not email:
                raise ValidationError(
                    self.env._("E-mail: %(value)s is not a valid e-mail address.", value=vals["email"])
                )
            vals["email"] = email
        return vals

    @api.model
    def _sandbox_new_identifier(self):
        """A fresh 9-digit eFaktura identifier."""
        Consumer = self.sudo().with_context(active_test=False)
        while True:
            identifier = str(100_000_000 + secrets.randbelow(900_000_000))
            if not Consumer.search_count([("efaktura_identifier", "=", identifier)], limit=1):
                return identifier

    @api.constrains("vipps", "mobile")
    def _check_vipps_mobile(self):
        for consumer in self:
            if consumer.vipps and not consumer.mobile:
                raise ValidationError(
                    self.env._(
                        "Mobile: %(consumer)s uses Vipps, which addresses consumers by their mobile number. "
                        "Give a Norwegian mobile number.",
                        consumer=consumer.name,
                    )
                )

    # ------------------------------------------------------------------
    # Documents
    # ------------------------------------------------------------------

    @api.depends("document_ids")
    def _compute_document_count(self):
        counts = dict(
            self.env["efaktura.sandbox.document"]._read_group(
                [("consumer_id", "in", self.ids)], ["consumer_id"], ["__count"]
            )
        )
        for consumer in self:
            consumer.document_count = counts.get(consumer, 0)

    def action_open_documents(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("l10n_no_efaktura_b2c.efaktura_sandbox_document_action")
        action["domain"] = [("consumer_id", "=", self.id)]
        action["context"] = {"default_consumer_id": self.id}
        return action
