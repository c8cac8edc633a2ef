import base64
import contextlib
import functools

import odoo.modules.module
from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError

from ... import compat
from ...networks.base import STATES, Document, NetworkRejected
from ..network import (
    SANDBOX_CHANNELS,
    MailboxItem,
    SandboxConsumer,
    SandboxNetwork,
    SandboxStore,
    advance_state,
    check_consumer_can_show,
    consumer_pays,
)

STATE_LABELS = {
    "submitted": "Submitted",
    "accepted": "Accepted",
    "shown": "Shown",
    "paid": "Paid",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
}
CHANNEL_LABELS = {"nettbank": "eFaktura (nettbank)", "vipps": "Vipps"}
#: The networks whose part the sandbox plays (see SandboxNetwork.plays).
PLAYED_NETWORKS = [("sandbox", "Sandbox"), ("maventa", "Visma AutoInvoice (Maventa)")]


class _OdooSandboxStore(SandboxStore):
    """The sandbox's records in the database, for one issuing company.

    ``detached`` stores write through a cursor of their own, committed at once: the sandbox then
    behaves like a remote system, whose documents stay delivered when the caller's transaction
    rolls back. Under test, and while modules are loading (their tables are not committed yet),
    everything stays in the caller's transaction.
    """

    def __init__(self, env, company, detached=True):
        self._env = env
        self._company_id = company.id
        self._detached = detached and env.registry.ready and not odoo.modules.module.current_test

    @contextlib.contextmanager
    def _sandbox_env(self):
        if not self._detached:
            yield self._env(su=True)
            return
        with self._env.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    def hash_national_id(self, national_id):
        with self._sandbox_env() as env:
            return env["efaktura.sandbox.consumer"]._sandbox_hash_national_id(national_id)

    def find_consumers(self, identifiers=(), mobiles=(), emails=(), national_id_hashes=()):
        domains = [
            [(fname, "in", list(values))]
            for fname, values in (
                ("efaktura_identifier", identifiers),
                ("mobile", mobiles),
                ("email", emails),
                ("national_id_hash", national_id_hashes),
            )
            if values
        ]
        if not domains:
            return []
        with self._sandbox_env() as env:
            consumers = env["efaktura.sandbox.consumer"].search(compat.domain_or(domains))
            return [
                SandboxConsumer(
                    identifier=consumer.efaktura_identifier,
                    name=consumer.name,
                    mobile=consumer.mobile or "",
                    email=consumer.email or "",
                    national_id_hash=consumer.national_id_hash or "",
                    jtta=consumer.jtta,
                    vipps=consumer.vipps,
                )
                for consumer in consumers
            ]

    def _items(self, domain):
        with self._sandbox_env() as env:
            documents = env["efaktura.sandbox.document"].search(
                compat.domain_and([[("company_id", "=", self._company_id)], domain])
            )
            return [document._sandbox_item() for document in documents]

    def documents_by_key(self, keys):
        return {item.key: item for item in self._items([("key", "in", list(keys))])} if keys else {}

    def documents_by_reference(self, references):
        return (
            {item.reference: item for item in self._items([("reference", "in", list(references))])}
            if references
            else {}
        )

    def record_submission(self, items, attempts):
        with self._sandbox_env() as env:
            consumer_ids = dict(
                env["efaktura.sandbox.consumer"]
                .with_context(active_test=False)
                .search_fetch(
                    [("efaktura_identifier", "in", [item.consumer_identifier for item in items])],
                    ["efaktura_identifier"],
                )
                .mapped(lambda consumer: (consumer.efaktura_identifier, consumer.id))
            )
            currencies = {
                currency.name: currency
                for currency in env["res.currency"]
                .with_context(active_test=False)
                .search([("name", "in", list({item.document.currency for item in items}))])
            }
            env["efaktura.sandbox.document"].create(
                [
                    self._document_vals(
                        item, consumer_ids[item.consumer_identifier], currencies[item.document.currency]
                    )
                    for item in items
                ]
            )
            env["efaktura.sandbox.submission"].create(
                [
                    {
                        "company_id": self._company_id,
                        "channel": attempt.channel if attempt.channel in SANDBOX_CHANNELS else False,
                        "key": attempt.key,
                        "reference": attempt.reference,
                        "duplicate": attempt.duplicate,
                        "failed": attempt.failed,
                        "error": attempt.error,
                        "played_network": attempt.played or "sandbox",
                    }
                    for attempt in attempts
                ]
            )

    def _document_vals(self, item, consumer_id, currency):
        doc = item.document
        return {
            "company_id": self._company_id,
            "consumer_id": consumer_id,
            "channel": item.channel,
            "key": item.key,
            "reference": item.reference,
            "state": item.state,
            "invoice_number": doc.invoice_number,
            "recipient": doc.recipient,
            "recipient_name": doc.recipient_name,
            "kid": doc.kid,
            "account_number": item.account_number,
            "amount": currency.round(doc.amount_ore / 100),
            "currency_id": currency.id,
            "issue_date": doc.issue_date,
            "due_date": doc.due_date,
            "document_url": doc.document_url,
            "document_hash": doc.document_hash,
            "kind": doc.kind,
            "original_invoice_number": doc.original_invoice_number or False,
            "played_network": item.played or "sandbox",
            "network_file": base64.b64encode(item.file) if item.file else False,
            "network_file_name": item.file_name or False,
        }

    def set_state(self, reference, state):
        with self._sandbox_env() as env:
            document = env["efaktura.sandbox.document"].search(
                [("company_id", "=", self._company_id), ("reference", "=", reference)]
            )
            document.write({"state": state})


class EfakturaSandboxDocument(models.Model):
    _name = "efaktura.sandbox.document"
    _description = "eFaktura sandbox document (Sandbox nettbank)"
    _order = "create_date desc, id desc"
    _rec_name = "reference"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", string="Issuer", required=True, readonly=True, index=True)
    consumer_id = fields.Many2one(
        "efaktura.sandbox.consumer", required=True, readonly=True, index=True, ondelete="restrict"
    )
    channel = fields.Selection(list(CHANNEL_LABELS.items()), required=True, readonly=True)
    key = fields.Char(string="Idempotency key", required=True, readonly=True, copy=False)
    reference = fields.Char(string="Network reference", required=True, readonly=True, copy=False)
    invoice_number = fields.Char(readonly=True)
    recipient = fields.Char(
        readonly=True, help="How the document was addressed: the eFaktura identifier, or the mobile number for Vipps."
    )
    recipient_name = fields.Char(readonly=True)
    kid = fields.Char(string="KID", readonly=True)
    account_number = fields.Char(string="Pay to account", readonly=True)
    amount = fields.Monetary(readonly=True, currency_field="currency_id")
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    issue_date = fields.Date(readonly=True)
    due_date = fields.Date(readonly=True)
    document_url = fields.Char(string="Document link", readonly=True)
    document_hash = fields.Char(readonly=True, help="SHA-256 of the document, as the issuer declared it.")
    kind = fields.Selection(
        [("invoice", "Invoice"), ("credit_note", "Credit note"), ("reminder", "Reminder")],
        required=True,
        default="invoice",
        readonly=True,
    )
    original_invoice_number = fields.Char(string="Credits invoice", readonly=True)
    state = fields.Selection(
        [(state, STATE_LABELS[state]) for state in STATES], required=True, default="submitted", readonly=True
    )
    state_date = fields.Datetime(string="Status date", readonly=True, default=fields.Datetime.now)
    played_network = fields.Selection(
        PLAYED_NETWORKS,
        string="Plays",
        default="sandbox",
        required=True,
        readonly=True,
        help="Visma AutoInvoice (Maventa): the company's production route is Maventa, so the sandbox received the "
        "document as Maventa would: as a Peppol BIS 3.0 file, checked as Maventa reads it, under the invoice id "
        "the Maventa route gives it.",
    )
    network_file = fields.Binary(string="File received", attachment=True, readonly=True)
    network_file_name = fields.Char(string="File name", readonly=True)

    _key_uniq = compat.Constraint(
        "unique(company_id, key)",
        "The issuer already delivered a document with this idempotency key.",
    )
    _reference_uniq = compat.Constraint("unique(reference)", "Each network reference belongs to one document.")

    def write(self, vals):
        if "state" in vals and "state_date" not in vals:
            vals = dict(vals, state_date=fields.Datetime.now())
        return super().write(vals)

    # ------------------------------------------------------------------
    # The network
    # ------------------------------------------------------------------

    @api.model
    def _sandbox_network(self, company):
        """The sandbox network for ``company``, with its failure mode from the settings."""
        company.ensure_one()
        Factory = self.env["efaktura.network.factory"]
        return SandboxNetwork(
            Factory._issuer(company),
            _OdooSandboxStore(self.env, company),
            failure=company.efaktura_sandbox_failure or "none",
            # The production route is Visma AutoInvoice: the sandbox plays Maventa's part for eFaktura.
            maventa_render=(
                functools.partial(Factory._maventa_render, company, embed_pdf=False)
                if company.efaktura_production_route == "maventa"
                else None
            ),
        )

    def _sandbox_item(self):
        self.ensure_one()
        return MailboxItem(
            reference=self.reference,
            key=self.key,
            channel=self.channel,
            state=self.state,
            consumer_identifier=self.consumer_id.efaktura_identifier or "",
            account_number=self.account_number or "",
            document=Document(
                key=self.key,
                invoice_number=self.invoice_number or "",
                recipient=self.recipient or "",
                recipient_name=self.recipient_name or "",
                kid=self.kid or "",
                amount_ore=round(self.amount * 100),
                currency=self.currency_id.name,
                issue_date=self.issue_date,
                due_date=self.due_date,
                document_url=self.document_url or "",
                document_hash=self.document_hash or "",
                kind=self.kind,
            ),
        )

    # ------------------------------------------------------------------
    # The consumer's side
    # ------------------------------------------------------------------

    def action_sandbox_show(self):
        """The consumer opens the documents in the nettbank or in Vipps."""
        for document in self:
            try:
                check_consumer_can_show(document._sandbox_item())
            except NetworkRejected as exc:
                raise UserError(
                    self.env._(
                        "%(reference)s is %(state)s: only a document still in the mailbox can be shown.",
                        reference=document.reference,
                        state=document._sandbox_state_label(),
                    )
                ) from exc
        self.filtered(lambda document: document.state != "shown").write({"state": "shown"})

    def action_sandbox_pay(self):
        """The consumer pays the documents: the only way they become paid."""
        self.check_access("write")
        for document in self:
            store = _OdooSandboxStore(self.env, document.company_id, detached=False)
            try:
                consumer_pays(store, document.reference)
            except NetworkRejected as exc:
                if exc.code == "KIND":
                    message = self.env._(
                        "%(reference)s is a credit note: there is nothing to pay.", reference=document.reference
                    )
                else:
                    message = self.env._(
                        "%(reference)s is %(state)s: only a document still in the mailbox can be paid.",
                        reference=document.reference,
                        state=document._sandbox_state_label(),
                    )
                raise UserError(message) from exc
        self.invalidate_recordset(["state", "state_date"])

    def _sandbox_state_label(self):
        self.ensure_one()
        return dict(self._fields["state"]._description_selection(self.env))[self.state]

    @api.model
    def _cron_advance(self):
        """Receipts arrive over time: each run moves documents one step, submitted to accepted to shown."""
        for state in ("accepted", "submitted"):
            documents = self.search([("state", "=", state)])
            if documents:
                documents.write({"state": advance_state(state)})
