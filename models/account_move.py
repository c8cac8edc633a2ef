import logging
import re
import time
from contextlib import contextmanager
from datetime import datetime
from datetime import time as day_time

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, consteq
from odoo.tools.mail import generate_tracking_message_id
from odoo.tools.misc import hmac as hmac_sign

from ..networks.base import NetworkError
from .efaktura_channel import NETWORK_CHANNELS
from .efaktura_delivery import DELIVERY_CHANNELS, HANDED_OVER_STATES

_logger = logging.getLogger(__name__)

# The nettbank and Vipps fetch the PDF while the customer deals with the invoice: the link lives until this many
# months after the due date (or after the day it is made, for an invoice already overdue), then expires.
DOCUMENT_LINK_MONTHS_AFTER_DUE = 3
DOCUMENT_TOKEN_RE = re.compile(r"(?P<revision>[0-9]{1,9})\.(?P<expires>[0-9]{1,12})\.(?P<signature>[0-9a-f]{1,128})")
MOVE_STATES = [
    ("none", "Not sent by eFaktura B2C"),
    ("queued", "Queued"),
    ("awaiting_consent", "Awaiting consent"),
    ("sent", "Sent"),
    ("fallback_sent", "Sent by fallback"),
    ("manual", "To print and post"),
    ("error", "Needs attention"),
    ("cancelling", "Being taken back"),
]

# The module's tracking of ``efaktura_state`` (see ``_efaktura_track_state``). On the cursor, as it must outlive the
# precommit runs of savepoint flushes while a dispatch holds its invoices: each invoice's eFaktura status before its
# first raw write not yet shown, and the invoices a dispatch holds. The last line logged on each invoice is kept per
# precommit run, as mail.thread keeps its own tracking data (cr.precommit.data).
TRACKING_KEY = "l10n_no_efaktura_b2c.state_tracking"
HELD_KEY = "l10n_no_efaktura_b2c.state_tracking_held"
LOGGED_KEY = "l10n_no_efaktura_b2c.logged_lines"
FINALIZER_KEY = "l10n_no_efaktura_b2c.state_tracking_finalizer"
ODOO_TRACKING_KEY = "mail.tracking.account.move"


class _OdooAgrees(Exception):
    """Raised inside a savepoint to undo a reset that Odoo allowed, until the network has taken the invoice back."""


class AccountMove(models.Model):
    _inherit = "account.move"

    efaktura_state = fields.Selection(
        MOVE_STATES, string="eFaktura B2C", default="none", required=True, copy=False, index=True, tracking=True
    )
    efaktura_channel = fields.Selection(DELIVERY_CHANNELS, string="Delivered by", copy=False, readonly=True)
    efaktura_deadline = fields.Datetime(
        string="Consent deadline",
        copy=False,
        readonly=True,
        help="If the customer has not approved eFaktura by then, the invoice goes by e-mail or post.",
    )
    efaktura_next_try = fields.Datetime(string="Next dispatch", copy=False, readonly=True)
    efaktura_retry_count = fields.Integer(copy=False, readonly=True)
    efaktura_revision = fields.Integer(
        copy=False, readonly=True, help="Counts the times a delivered invoice was taken back, so that it is sent anew."
    )
    efaktura_error = fields.Text(string="eFaktura problem", copy=False, readonly=True)
    efaktura_delivery_ids = fields.One2many("efaktura.delivery", "move_id", string="Deliveries")
    efaktura_delivery_count = fields.Integer(compute="_compute_efaktura_delivery_count")
    efaktura_reminder_ids = fields.One2many("efaktura.reminder", "move_id", string="Reminders")
    efaktura_receipt = fields.Selection(
        [
            ("submitted", "Submitted"),
            ("accepted", "Accepted"),
            ("shown", "Shown to the customer"),
            ("paid", "Paid"),
            ("rejected", "Rejected"),
        ],
        string="Network receipt",
        compute="_compute_efaktura_receipt",
        help="The latest status Vipps or the nettbank reported for this invoice.",
    )
    efaktura_preview_channel = fields.Selection(
        DELIVERY_CHANNELS,
        string="Would go by",
        compute="_compute_efaktura_preview",
        help="The channel the chain would take if the invoice were sent now.",
    )
    efaktura_preview_reason = fields.Text(string="Why", compute="_compute_efaktura_preview")
    efaktura_switched_on = fields.Boolean(related="company_id.efaktura_switched_on", string="eFaktura B2C enabled")
    efaktura_company_mode = fields.Selection(related="company_id.efaktura_mode", string="eFaktura B2C mode")

    def _compute_efaktura_delivery_count(self):
        counts = dict(
            self.env["efaktura.delivery"]._read_group([("move_id", "in", self.ids)], ["move_id"], ["__count"])
        )
        for move in self:
            move.efaktura_delivery_count = counts.get(move, 0)

    @api.depends("efaktura_delivery_ids.state", "efaktura_delivery_ids.channel")
    def _compute_efaktura_receipt(self):
        for move in self:
            network = move.efaktura_delivery_ids.filtered(
                lambda d: d.channel in NETWORK_CHANNELS and d.state != "cancelled"
            ).sorted("id")
            state = network[-1:].state
            move.efaktura_receipt = state if state in ("submitted", "accepted", "shown", "paid", "rejected") else False

    @api.depends(
        "partner_id", "state", "amount_total", "invoice_line_ids.price_total", "invoice_date_due", "payment_reference"
    )
    @api.depends_context("company")
    def _compute_efaktura_preview(self):
        relevant = self.filtered(
            lambda m: m.company_id.efaktura_switched_on and m.is_sale_document(include_receipts=False)
        )
        (self - relevant).efaktura_preview_channel = False
        (self - relevant).efaktura_preview_reason = False
        if not relevant:
            return
        no_customer = relevant.filtered(lambda m: not m.partner_id)
        no_customer.efaktura_preview_channel = False
        no_customer.efaktura_preview_reason = self.env._(
            "The route is decided when the invoice is posted and sent: it depends on the customer."
        )
        relevant -= no_customer
        if not relevant:
            return
        previews = self.env["efaktura.chain"]._preview(relevant)
        for move in relevant:
            channel, reasons = previews[move]
            if move.state == "draft":
                reasons = [self.env._("The route is decided when the invoice is posted and sent. As it stands:")]
                reasons += previews[move][1]
            move.efaktura_preview_channel = channel
            move.efaktura_preview_reason = "\n".join(reasons)

    # ------------------------------------------------------------------
    # Queue
    # ------------------------------------------------------------------

    def _efaktura_queue(self):
        """Hand posted customer invoices to the chain. Idempotent: queued or waiting ones stay as they are."""
        moves = self.filtered(
            lambda m: (
                m.state == "posted"
                and m.is_sale_document(include_receipts=False)
                and m.company_id.efaktura_switched_on
                and m.efaktura_state not in ("queued", "awaiting_consent", "cancelling")
            )
        )
        if not moves:
            return moves
        moves._efaktura_write({"efaktura_state": "queued", "efaktura_next_try": False, "efaktura_error": False})
        for group in moves._efaktura_by_lang().values():
            group._message_log_batch(
                bodies=dict.fromkeys(group.ids, group.env._("Queued for delivery by eFaktura B2C."))
            )
        self.env["efaktura.chain"]._trigger_dispatch()
        return moves

    def action_efaktura_send(self):
        """Send now through the chain, from the invoice form or the list.

        An invoice already queued (by "Send on post", or waiting for a retry) goes at once; one that waits for the
        customer's consent, or was delivered already, is not sent again, and the user is told why.
        """
        # The chain writes and sends with elevated rights: only those who may change the invoices may send them.
        self.check_access("write")
        moves = self.filtered(lambda m: m.state == "posted" and m.is_sale_document(include_receipts=False))
        if not moves:
            raise UserError(self.env._("Only posted customer invoices and credit notes can be sent by eFaktura B2C."))
        sendable = moves.filtered(lambda m: m.efaktura_state in ("none", "error", "queued"))
        reasons = [move._efaktura_not_sendable_reason() for move in moves - sendable]
        if not sendable:
            raise UserError("\n".join(reasons))
        waiting_retry = sendable.filtered(lambda m: m.efaktura_state == "queued" and m.efaktura_next_try)
        waiting_retry._efaktura_write({"efaktura_next_try": False})
        sendable._efaktura_queue()
        self.env["efaktura.chain"]._dispatch_locked(sendable)
        if not reasons:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning",
                "title": self.env._("Some invoices were not sent again"),
                "message": "\n".join(reasons),
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _efaktura_not_sendable_reason(self):
        self.ensure_one()
        if self.efaktura_state == "awaiting_consent":
            return self.env._(
                "%(invoice)s waits for the customer to approve eFaktura until %(deadline)s; it goes by another "
                "channel after that.",
                invoice=self.name,
                deadline=self.env["efaktura.chain"]._format_when(self.efaktura_deadline),
            )
        return self.env._(
            "%(invoice)s was already delivered by %(channel)s.",
            invoice=self.name,
            channel=self._fields["efaktura_channel"].convert_to_export(self.efaktura_channel, self),
        )

    def action_efaktura_view_deliveries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("l10n_no_efaktura_b2c.efaktura_delivery_action")
        action["domain"] = [("move_id", "=", self.id)]
        action["context"] = {"default_move_id": self.id}
        return action

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        to_queue = posted.filtered(
            lambda m: (
                m.company_id.efaktura_switched_on
                and m.company_id.efaktura_send_on_post
                and m.is_sale_document(include_receipts=False)
                and m.partner_id.with_company(m.company_id).efaktura_b2c_customer
            )
        )
        if to_queue:
            to_queue._efaktura_queue()
        return posted

    def button_draft(self):
        at_network = self._efaktura_request_take_back("draft")
        rest = self - at_network
        result = super(AccountMove, rest).button_draft() if rest else True
        rest._efaktura_forget_deliveries()
        return result

    def button_cancel(self):
        at_network = self._efaktura_request_take_back("cancel")
        rest = self - at_network
        result = super(AccountMove, rest).button_cancel() if rest else True
        rest._efaktura_forget_deliveries()
        return result

    def _efaktura_live_network_deliveries(self):
        return (
            self.env["efaktura.delivery"]
            .sudo()
            .search(
                [
                    ("move_id", "in", self.ids),
                    ("channel", "in", NETWORK_CHANNELS),
                    ("state", "in", HANDED_OVER_STATES),
                ]
            )
        )

    def _efaktura_request_take_back(self, action):
        """Reset (``action`` "draft") or cancel invoices that a nettbank or Vipps shows, in two steps that
        cannot disagree with the database. Returns the invoices that wait for the network.

        1. Odoo's own checks first: the reset or cancellation runs in a savepoint that is rolled back. If Odoo
           refuses (a lock date, the hash chain, a payment, any other module's rule), its error goes to the user
           and nothing is asked of the network: the customer's copy stays.
        2. The deliveries are marked to be taken back and the invoice stays posted, "Being taken back", until
           the network answers; that happens right after this transaction commits (and, should that be
           interrupted, in the receipts cron), as account_edi does with its "to_cancel" documents. When the
           network takes it back, the reset or cancellation is done; when it refuses, the invoice stays posted
           and the chatter and the eFaktura tab say why.
        """
        if self.env.context.get("efaktura_taken_back"):
            return self.browse()
        deliveries = self._efaktura_live_network_deliveries()
        moves = self & deliveries.move_id
        if not moves:
            return moves
        if moves.filtered(lambda m: m.efaktura_state == "cancelling"):
            raise UserError(
                self.env._(
                    "%(invoices)s is already being taken back from the customer's nettbank or Vipps.",
                    invoices=", ".join(moves.filtered(lambda m: m.efaktura_state == "cancelling").mapped("name")),
                )
            )
        odoo_action = getattr(super(AccountMove, moves.with_context(efaktura_taken_back=True)), f"button_{action}")
        try:
            with self.env.cr.savepoint():
                odoo_action()
                raise _OdooAgrees()
        except _OdooAgrees as agreed:
            # Odoo would do it; the savepoint undid it until the network has taken the invoice back.
            _logger.debug("eFaktura: %s", agreed)
        deliveries.write({"cancel_request": action})
        moves._efaktura_write({"efaktura_state": "cancelling", "efaktura_error": False})
        labels = dict(deliveries._fields["channel"]._description_selection(self.env))
        moves._efaktura_log(
            {
                move.id: self.env._(
                    "Asked %(channel)s to take this invoice back. It is %(done)s as soon as the network confirms.",
                    channel=", ".join(sorted({labels[d.channel] for d in deliveries if d.move_id == move})),
                    done=self.env._("reset to draft") if action == "draft" else self.env._("cancelled"),
                )
                for move in moves
            }
        )
        move_ids, uid, context = moves.ids, self.env.uid, dict(self.env.context)
        registry = self.env.registry

        @self.env.cr.postcommit.add
        def take_back():
            try:
                with registry.cursor() as cr:
                    env = api.Environment(cr, uid, context)
                    env["account.move"].browse(move_ids)._efaktura_process_take_backs()
            except Exception:
                _logger.exception("eFaktura: taking back %s at the network failed; the receipts cron retries", move_ids)

        return moves

    @api.model
    def _efaktura_cron_take_back(self):
        """Invoices still waiting to be taken back (the step after the commit was interrupted)."""
        moves = self.search([("efaktura_state", "=", "cancelling")])
        moves._efaktura_process_take_backs()

    def _efaktura_process_take_backs(self):
        """Ask the networks to take these invoices back, then reset or cancel them in Odoo (see
        ``_efaktura_request_take_back``). Each invoice is locked while it is handled."""
        if not self:
            return
        self.env["account.move"].flush_model(["efaktura_state"])
        self.env.cr.execute(
            SQL(
                "SELECT id FROM account_move WHERE id IN %s AND efaktura_state = 'cancelling' FOR UPDATE SKIP LOCKED",
                tuple(self.ids),
            )
        )
        moves = self.browse([row[0] for row in self.env.cr.fetchall()])
        moves.invalidate_recordset(["efaktura_state"])
        Delivery = self.env["efaktura.delivery"].sudo()
        for move in moves:
            deliveries = Delivery.search([("move_id", "=", move.id), ("cancel_request", "!=", False)])
            action = deliveries[:1].cancel_request or "draft"
            outcome, error = "taken_back", None
            for delivery in deliveries:
                label = delivery._fields["channel"].convert_to_export(delivery.channel, delivery)
                try:
                    delivery.company_id._efaktura_network().cancel(delivery.channel, delivery.network_reference)
                except (NetworkError, UserError) as exc:
                    outcome, error = ("later" if getattr(exc, "retryable", False) else "refused"), exc
                    break
                delivery.write({"state": "cancelled", "state_date": fields.Datetime.now(), "cancel_request": False})
                move._message_log(
                    body=self.env._(
                        "Taken back from the customer's %(channel)s (reference %(ref)s).",
                        channel=label,
                        ref=delivery.network_reference,
                    )
                )
            if outcome == "later":
                if move.efaktura_error != str(error):
                    move._efaktura_write({"efaktura_error": str(error)})
                    move._message_log(
                        body=self.env._(
                            "%(channel)s could not be reached to take the invoice back (%(error)s). Tried again "
                            "later; the invoice stays posted until then.",
                            channel=label,
                            error=error,
                        )
                    )
                continue
            if outcome == "refused":
                reason = self.env._(
                    "%(channel)s refused to take it back (%(error)s): the invoice stays posted and the customer "
                    "keeps it. Issue a credit note instead.",
                    channel=label,
                    error=error,
                )
                deliveries.filtered("cancel_request").write({"cancel_request": False, "last_error": str(error)})
                # Back to what it was before: delivered, by the channel it took.
                channel = move.efaktura_channel
                state = {"vipps": "sent", "nettbank": "sent", "manual": "manual"}.get(channel, "fallback_sent")
                move._efaktura_write({"efaktura_state": state, "efaktura_error": reason})
                move._message_log(body=reason)
                continue
            try:
                with self.env.cr.savepoint():
                    getattr(move.with_context(efaktura_taken_back=True), f"button_{action}")()
            except UserError as exc:
                # Odoo agreed a moment ago and refuses now (something changed meanwhile): the customer no longer
                # has it, and the invoice says so, to be sent again or reset by hand.
                reason = self.env._(
                    "Taken back from the customer, but Odoo refused to change the invoice now: %(error)s. Send it "
                    "again, or reset it.",
                    error=exc,
                )
                move._efaktura_write(
                    {
                        "efaktura_state": "error",
                        "efaktura_channel": False,
                        "efaktura_error": reason,
                        "efaktura_revision": move.efaktura_revision + 1,
                    }
                )
                move._message_log(body=reason)

    def _efaktura_forget_deliveries(self):
        """After a reset or cancellation in Odoo: the invoice is a new document for the chain. Copies sent by
        e-mail or post cannot be taken back: the chatter says the customer holds one."""
        delivered = (
            self.env["efaktura.delivery"]
            .sudo()
            .search([("move_id", "in", self.ids), ("state", "in", HANDED_OVER_STATES)])
        )
        for delivery in delivered.filtered(lambda d: d.channel in ("email", "post")):
            delivery.move_id._message_log(
                body=self.env._(
                    "Note: the customer already holds a copy of this invoice, sent by %(channel)s.",
                    channel=delivery._fields["channel"].convert_to_export(delivery.channel, delivery),
                )
            )
        for move in self.filtered(lambda m: m.efaktura_state != "none" or m in delivered.move_id):
            move._efaktura_write(
                {
                    "efaktura_state": "none",
                    "efaktura_channel": False,
                    "efaktura_error": False,
                    "efaktura_revision": move.efaktura_revision + 1,
                }
            )

    def _efaktura_write(self, vals):
        """Write eFaktura delivery fields of many invoices in one statement.

        These fields carry no accounting meaning, so the accounting checks and the line synchronisation
        of ``account.move.write`` are skipped; that keeps a batch of any size at a fixed number of queries.
        """
        if not self:
            return
        columns = sorted(vals)
        if not all(name.startswith("efaktura_") and self._fields[name].column_type for name in columns):
            raise ValueError(f"_efaktura_write only writes stored eFaktura fields, not {columns}")
        self.flush_recordset(columns)
        context = self.env.context
        if "efaktura_state" in vals and not (context.get("tracking_disable") or context.get("mail_notrack")):
            self._efaktura_track_state()
        assignments = [
            SQL("%s = %s", SQL.identifier(name), self._fields[name].convert_to_column(vals[name], self))
            for name in columns
        ]
        sent = vals.get("efaktura_state") in ("sent", "fallback_sent")
        if sent:
            # Reached the customer: Odoo's own "Sent" flag (the list's Sent column, the secondary Send button)
            # says so too, as after Send & Print. The chain's chatter line already tells how it went.
            self.flush_recordset(["is_move_sent"])
            assignments.append(SQL("is_move_sent = TRUE"))
        assignments = SQL(", ").join(assignments)
        self.env.cr.execute(
            SQL(
                "UPDATE account_move SET %s, write_date = %s, write_uid = %s WHERE id IN %s",
                assignments,
                fields.Datetime.now(),
                self.env.uid,
                tuple(self.ids),
            )
        )
        self.invalidate_recordset(
            [*columns, "write_date", "write_uid", *(("is_move_sent", "move_sent_values") if sent else ())]
        )

    def _efaktura_track_state(self):
        """Odoo's tracking of ``efaktura_state`` for a write that bypasses the ORM, done the way
        ``mail.thread._track_prepare``/``_track_finalize`` do it, in batch: the state each move had before its first
        change is kept, and when the precommit hooks run (at commit, and at every savepoint's flush) each move whose
        state differs then gets one tracking value (several changes between two such runs make one, first to last,
        as with the ORM). One tracker per change: a status Odoo's own tracking captured (any ORM write of the move
        captures every tracked field) is taken over from it, so the change is not shown twice."""
        initial = self._efaktura_tracking_store()
        odoo_initial = self.env.cr.precommit.data.get(ODOO_TRACKING_KEY) or {}
        for move in self:
            captured = odoo_initial.get(move.id)
            before = captured.pop("efaktura_state", move.efaktura_state) if captured else move.efaktura_state
            initial.setdefault(move.id, before)

    def _efaktura_tracking_store(self):
        """The states to track, on the cursor; the finalizer is registered for the next precommit run, and the
        store is emptied when the transaction rolls back."""
        cr = self.env.cr
        if FINALIZER_KEY not in cr.precommit.data:
            cr.precommit.data[FINALIZER_KEY] = True
            cr.precommit.add(self._efaktura_track_finalize)
            cr.postrollback.add(lambda: cr.cache.pop(TRACKING_KEY, None))
        return cr.cache.setdefault(TRACKING_KEY, {})

    @contextmanager
    def _efaktura_tracking_held(self):
        """While the chain sends these moves, the precommit runs of savepoint flushes leave their status changes
        for later: they are shown under the line the chain logs once it is done with them, not on lines of their
        own."""
        held = self.env.cr.cache.setdefault(HELD_KEY, set())
        held.update(self.ids)
        try:
            yield
        finally:
            held.difference_update(self.ids)
            if self.env.cr.cache.get(TRACKING_KEY):
                self._efaktura_tracking_store()

    def _message_log_batch(self, bodies, *args, **kwargs):
        """Remember the last line logged on each invoice since the last precommit run: the eFaktura status change
        is shown under it (as Odoo does for a line given with ``_track_set_log_message``), not as a line of its
        own."""
        messages = super()._message_log_batch(bodies, *args, **kwargs)
        if not kwargs.get("tracking_value_ids"):
            logged = self.env.cr.precommit.data.setdefault(LOGGED_KEY, {})
            logged.update((message.res_id, message.id) for message in messages)
        return messages

    def _mail_track_skip_efaktura_state(self, initial_values):
        """Odoo's own tracking leaves ``efaktura_state`` to the module's while the module tracks this move."""
        if "efaktura_state" in initial_values and self.id in self.env.cr.cache.get(TRACKING_KEY, {}):
            return {name: value for name, value in initial_values.items() if name != "efaktura_state"}
        return initial_values

    def _efaktura_track_finalize(self):
        logged = self.env.cr.precommit.data.pop(LOGGED_KEY, {})
        initial = self.env.cr.cache.get(TRACKING_KEY) or {}
        held = self.env.cr.cache.get(HELD_KEY) or set()
        ready = [move_id for move_id in initial if move_id not in held]
        if not ready:
            return
        odoo_initial = self.env.cr.precommit.data.get(ODOO_TRACKING_KEY) or {}
        for move_id in ready:
            if odoo_initial.get(move_id):
                odoo_initial[move_id].pop("efaktura_state", None)  # an ORM write after the raw one: shown here
        initial = {move_id: initial.pop(move_id) for move_id in ready}
        moves = self.browse(ready).exists().sudo()
        moves.invalidate_recordset(["efaktura_state"])
        changed = moves.filtered(lambda m: m.efaktura_state != initial[m.id])
        if not changed:
            return
        Tracking = self.env["mail.tracking.value"]
        author_id, email_from = self.env["mail.thread"]._message_compute_author(raise_on_email=False)
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        reply_to = self.env["mail.thread"]._notify_get_reply_to(default=email_from)[False]
        on_logged_lines, on_new_lines, values_list = [], [], []
        for lang_moves in changed._efaktura_by_lang().values():
            fields_info = lang_moves.fields_get(["efaktura_state"], attributes=("string", "type", "selection"))
            for move in lang_moves:
                tracking = Tracking._create_tracking_values(
                    initial[move.id], move.efaktura_state, "efaktura_state", fields_info["efaktura_state"], move
                )
                if move.id in logged:
                    on_logged_lines.append(dict(tracking, mail_message_id=logged[move.id]))
                    continue
                on_new_lines.append(tracking)
                # The values mail.thread._message_log gives a tracking message, for many moves at once.
                values_list.append(
                    {
                        "author_id": author_id,
                        "email_from": email_from,
                        "model": self._name,
                        "res_id": move.id,
                        "record_alias_domain_id": False,
                        "record_company_id": False,
                        "record_name": False,
                        "body": "",
                        "message_type": "notification",
                        "is_internal": True,
                        "subtype_id": note,
                        "email_add_signature": False,
                        "message_id": generate_tracking_message_id("message-notify"),
                        "reply_to": reply_to,
                    }
                )
        messages = self.env["mail.thread"].sudo()._message_create(values_list) if values_list else []
        # One INSERT for all tracking values (as commands on each message they would be one INSERT per message).
        Tracking.sudo().create(
            on_logged_lines
            + [dict(value, mail_message_id=message.id) for value, message in zip(on_new_lines, messages, strict=True)]
        )
        self.env.flush_all()

    def _efaktura_by_lang(self):
        """The moves grouped by the language of the chatter lines and tasks the module writes on them (crons,
        callbacks and public pages included): the customer's, else the company's. Each group's environment
        speaks that language."""
        return {
            lang: moves.with_context(lang=lang)
            for lang, moves in self.grouped(
                lambda m: (
                    m.partner_id._efaktura_lang(m.company_id)
                    if m.partner_id
                    else m.company_id.partner_id.lang or self.env.lang or "en_US"
                )
            ).items()
        }

    def _mail_track(self, tracked_fields, initial_values):
        """Tracked values of a customer invoice (the eFaktura B2C status among them) in the language of the
        module's other chatter lines on it: the customer's, else the company's, whoever made the change."""
        initial_values = self._mail_track_skip_efaktura_state(initial_values)
        if "efaktura_state" in tracked_fields and self.is_sale_document() and self.partner_id:
            lang = self.partner_id._efaktura_lang(self.company_id)
            if lang != self.env.lang:
                move = self.with_context(lang=lang)
                tracked_fields = move.fields_get(
                    list(tracked_fields), attributes=("string", "type", "selection", "currency_field")
                )
                return super(AccountMove, move)._mail_track(tracked_fields, initial_values)
        return super()._mail_track(tracked_fields, initial_values)

    def _efaktura_log(self, bodies):
        """Chatter lines for many moves in one go; ``bodies`` maps move id to text."""
        if bodies:
            self.browse(list(bodies))._message_log_batch(
                bodies={move_id: Markup("%s") % body for move_id, body in bodies.items()}
            )

    # ------------------------------------------------------------------
    # Document links
    # ------------------------------------------------------------------

    def _efaktura_document_signature(self, expires, revision=None):
        """Signs the invoice, its revision and the expiry: a reset, edit and repost makes a new revision, whose
        document an old link no longer reaches."""
        revision = self.efaktura_revision if revision is None else revision
        return hmac_sign(self.env(su=True), "l10n_no_efaktura_b2c.document", f"{self.id}:{revision}:{expires}")

    def _efaktura_document_expiry(self):
        """The end of the link's life: some months after the due date, or after today once that is past."""
        self.ensure_one()
        start = max(filter(None, (self.invoice_date_due, fields.Date.context_today(self))))
        last_day = start + relativedelta(months=DOCUMENT_LINK_MONTHS_AFTER_DUE)
        return int(datetime.combine(last_day, day_time.max).timestamp())

    def _efaktura_document_url(self, ttl=None):
        """A signed link to this revision's PDF that needs no login and expires; nothing is written to the database.

        ``ttl`` (seconds from now) overrides the expiry computed from the due date.
        """
        self.ensure_one()
        expires = int(time.time()) + ttl if ttl is not None else self._efaktura_document_expiry()
        token = f"{self.efaktura_revision}.{expires}.{self._efaktura_document_signature(expires)}"
        return f"{self.get_base_url()}/efaktura/document/{self.id}/{token}"

    def _efaktura_check_document_token(self, token):
        """The token is this invoice's, of its current revision, and has not expired. A draft (being edited) is
        never served."""
        self.ensure_one()
        match = DOCUMENT_TOKEN_RE.fullmatch(token or "")
        if not match:
            return False
        revision, expires, signature = int(match["revision"]), int(match["expires"]), match["signature"]
        if expires < time.time() or revision != self.efaktura_revision or self.state == "draft":
            return False
        return consteq(signature, self._efaktura_document_signature(expires, revision))

    def _efaktura_document_pdf(self):
        """The invoice PDF: the one Odoo stored when it was sent, else freshly rendered."""
        self.ensure_one()
        if self.invoice_pdf_report_id:
            return self.invoice_pdf_report_id.raw, self.invoice_pdf_report_id.name
        report = self.partner_id.invoice_template_pdf_report_id or self.env.ref("account.account_invoices")
        pdf, _type = (
            self.env["ir.actions.report"].with_company(self.company_id)._render_qweb_pdf(report.report_name, self.ids)
        )
        return pdf, self._get_invoice_report_filename()

    def _efaktura_ubl_file(self, embed_pdf=True):
        """``(filename, xml)``: the invoice or credit note as Peppol BIS 3.0 / EHF, by account_edi_ubl_cii.

        Odoo's own generator writes it (PaymentMeans/PaymentID is the move's own payment reference: the KID of
        an invoice, never the one of the invoice a credit note credits), and Odoo's Send & Print step embeds
        the PDF as an AdditionalDocumentReference (unless ``embed_pdf`` is False).
        """
        self.ensure_one()
        builder = self.env["account.edi.xml.ubl_bis3"].with_company(self.company_id)
        xml, errors = builder._export_invoice(self)
        if errors:
            _logger.info("EHF of %s has remarks: %s", self.name, "; ".join(sorted(map(str, errors))))
        if not embed_pdf:
            return builder._export_invoice_filename(self), xml
        pdf, pdf_name = self._efaktura_document_pdf()
        invoice_data = {
            "ubl_cii_xml_attachment_values": {"raw": xml},
            "ubl_cii_xml_options": {"builder": builder},
            "pdf_attachment_values": {"name": pdf_name, "raw": pdf},
        }
        self.env["account.move.send"]._postprocess_invoice_ubl_xml(self, invoice_data)
        return builder._export_invoice_filename(self), invoice_data["ubl_cii_xml_attachment_values"]["raw"]

    # ------------------------------------------------------------------
    # KID per sales journal
    # ------------------------------------------------------------------

    def _get_kid_number(self):
        """The KID in the journal's length and algorithm, from l10n_no's digits (partner id, invoice
        number); with the defaults, 15 digits and MOD10, it is l10n_no's KID exactly."""
        self.ensure_one()
        return self.journal_id._efaktura_make_kid(self.partner_id.id, self.name)

    def _efaktura_kid_problem(self):
        """An empty string when the payment reference is a KID in the journal's length and algorithm,
        else the reason it is not."""
        self.ensure_one()
        return self.journal_id._efaktura_kid_problem(self.payment_reference)
