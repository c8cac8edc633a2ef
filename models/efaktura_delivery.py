import hashlib
import logging

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, split_every

from .. import compat
from ..networks.base import NetworkError
from .efaktura_channel import CHAIN_CHANNELS, NETWORK_CHANNELS
from .mail_mail import KEPT

_logger = logging.getLogger(__name__)

DELIVERY_CHANNELS = [*CHAIN_CHANNELS, ("manual", "Print and post by hand")]
DELIVERY_STATES = [
    ("pending", "Pending"),
    ("submitted", "Submitted"),
    ("accepted", "Accepted"),
    ("shown", "Shown"),
    ("paid", "Paid"),
    ("rejected", "Rejected"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
# States in which the document has left our hands: taken by the network, the mail queue or the snailmail service
# ("submitted"), and every state after it. It is on its way to the consumer, not necessarily in front of them yet.
# For e-mail and post, "submitted" means handed to Odoo's mail queue or to the snailmail service, and "accepted" that
# the mail server took the e-mail or the letter was posted; a failure after the hand-off turns the delivery "failed",
# and the invoice goes on down the chain.
HANDED_OVER_STATES = ("submitted", "accepted", "shown", "paid")
# Channels whose hand-off is read back from Odoo's own records (mail.mail, snailmail.letter).
HANDOFF_CHANNELS = ("email", "post")
# States the status poll follows up.
OPEN_NETWORK_STATES = ("submitted", "accepted", "shown")


class EfakturaDelivery(models.Model):
    """The outbox: one row per attempt to deliver an invoice by one channel."""

    _name = "efaktura.delivery"
    _description = "eFaktura delivery"
    _order = "id desc"
    _rec_name = "move_id"

    move_id = fields.Many2one("account.move", string="Invoice", required=True, ondelete="cascade", index=True)
    original_move_id = fields.Many2one(
        "account.move", string="Credit note for", readonly=True, index="btree_not_null", ondelete="set null"
    )
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    efaktura_company_mode = fields.Selection(related="company_id.efaktura_mode", string="Mode")
    channel = fields.Selection(DELIVERY_CHANNELS, required=True)
    network = fields.Char(help="The network that carried the document: sandbox, maventa, mps, vipps.")
    document_hash = fields.Char(required=True, help="SHA-256 of what was sent: amount, due date, KID, recipient.")
    idempotency_key = fields.Char(
        required=True,
        readonly=True,
        copy=False,
        help="Unique per invoice, channel and document. The networks receive it too, so that the same "
        "document can never be delivered twice.",
    )
    network_reference = fields.Char(index=True, copy=False)
    cancel_request = fields.Selection(
        [("draft", "Reset to draft"), ("cancel", "Cancel")],
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Odoo agreed to reset or cancel the invoice; the network is being asked to take it back first.",
    )
    outcome_unknown = fields.Boolean(
        readonly=True,
        copy=False,
        help="The last submission got no answer and may have reached the network: this delivery is asked again "
        "before the invoice may go by another channel.",
    )
    network_attempt_ref = fields.Char(
        string="Network attempt",
        readonly=True,
        copy=False,
        help="The network's id of the last submission of this delivery (MPS: the consignment id). A retry "
        "after an unknown outcome (no answer, a crash) reuses it, so that the network recognises the repeat.",
    )
    state = fields.Selection(DELIVERY_STATES, default="pending", required=True, index=True)
    state_date = fields.Datetime(default=fields.Datetime.now)
    attempt_count = fields.Integer(string="Attempts", default=0)
    next_retry_at = fields.Datetime(string="Next retry", index=True)
    final = fields.Boolean(help="No further attempt will be made by this channel.")
    last_error = fields.Text()
    error_code = fields.Char()
    currency_id = fields.Many2one("res.currency", default=lambda self: self.env.ref("base.NOK"), required=True)
    cost = fields.Monetary(currency_field="currency_id")
    snailmail_letter_id = fields.Many2one("snailmail.letter", string="Letter", ondelete="set null")
    mail_message_id = fields.Many2one(
        "mail.message",
        string="E-mail",
        ondelete="set null",
        index="btree_not_null",
        help="The message the e-mail went out with; its notifications tell whether the mail server took it.",
    )
    reminder_step = fields.Integer(help="For a reminder: its step. Zero for the invoice itself.")
    activity_id = fields.Many2one("mail.activity", ondelete="set null")

    _idempotency_key_uniq = compat.Constraint(
        "unique(idempotency_key)",
        "This document was already handed to this channel.",
    )

    @api.depends("move_id", "channel")
    def _compute_display_name(self):
        labels = dict(self._fields["channel"]._description_selection(self.env))
        for delivery in self:
            delivery.display_name = f"{delivery.move_id.name or ''} ({labels.get(delivery.channel, '')})"

    def _set_state(self, state, **values):
        self.write({"state": state, "state_date": fields.Datetime.now(), **values})

    @api.model
    def _read_latest_by_move(self, moves):
        """Every delivery of these moves, grouped by move, newest first, in one query."""
        deliveries = self.search_fetch(
            [("move_id", "in", moves.ids)],
            [
                "move_id",
                "channel",
                "state",
                "final",
                "idempotency_key",
                "attempt_count",
                "next_retry_at",
                "network_attempt_ref",
                "outcome_unknown",
            ],
        )
        return deliveries.grouped("move_id")

    def _handoff_domain(self):
        """E-mails and letters handed off and not yet read back."""
        return [
            ("state", "=", "submitted"),
            ("channel", "in", HANDOFF_CHANNELS),
            "|",
            ("mail_message_id", "!=", False),
            ("snailmail_letter_id", "!=", False),
        ]

    def _cron_poll_status_domain(self):
        return [
            ("state", "in", OPEN_NETWORK_STATES),
            ("channel", "in", NETWORK_CHANNELS),
            ("network_reference", "!=", False),
        ]

    def action_open_move(self):
        self.ensure_one()
        return self.move_id._get_records_action(name=self.env._("Invoice"))

    def init(self):
        # Rows still to be handled are looked up by state and retry time on every cron run.
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS efaktura_delivery_retry_idx ON efaktura_delivery (next_retry_at) "
                "WHERE state = 'failed' AND NOT final"
            )
        )

    # ------------------------------------------------------------------
    # Receipt polling
    # ------------------------------------------------------------------

    @api.model
    def _cron_poll_status(self, batch_size=500):
        self._cron_read_back(batch_size=batch_size)
        # Invoices whose taking back at the network was interrupted after Odoo agreed to it.
        self.env["efaktura.take.back"].sudo()._cron()
        Delivery = self.env["efaktura.delivery"].sudo()
        deliveries = Delivery.search(Delivery._cron_poll_status_domain(), order="state_date, id")
        for (company, channel), group in deliveries.grouped(lambda d: (d.company_id, d.channel)).items():
            try:
                network = company._efaktura_network()
            except (UserError, ValidationError, NetworkError) as error:
                # One company switched off or misconfigured must not stop every other company's receipts.
                _logger.warning("eFaktura status poll skipped for %s: %s", company.name, error)
                continue
            for batch in split_every(batch_size, group.ids, Delivery.browse):
                try:
                    results = network.status(channel, batch.mapped("network_reference"))
                except NetworkError as error:
                    _logger.info("eFaktura status poll failed for %s: %s", company.name, error)
                    break
                self._apply_statuses(batch, results)
                if self.env["efaktura.chain"]._can_commit():
                    self.env.cr.commit()  # pylint: disable=invalid-commit  # one batch per transaction

    def _apply_statuses(self, deliveries, results):
        by_reference = {d.network_reference: d for d in deliveries}
        states = dict(self.env["efaktura.delivery"]._fields["state"].selection)
        langs = {move: group.env.lang for group in deliveries.move_id._efaktura_by_lang().values() for move in group}
        bodies = {}
        rejected = self.env["efaktura.delivery"]
        for result in results:
            delivery = by_reference.get(result.network_reference)
            state = result.state
            if not delivery or state == delivery.state or state not in states:
                continue
            delivery._set_state(state, last_error=result.detail or False)
            # The receipt in the customer's language, as every line the module writes on the invoice.
            chain = self.env["efaktura.chain"].with_context(lang=langs.get(delivery.move_id, self.env.lang))
            if state == "paid":
                bodies[delivery.move_id.id] = chain.env._(
                    "%(channel)s reports this invoice as paid (reference %(ref)s). Match it with the bank statement "
                    "line: no payment was registered in Odoo.",
                    channel=chain._label(delivery.channel),
                    ref=delivery.network_reference,
                )
                continue
            labels = dict(chain.env["efaktura.delivery"]._fields["state"]._description_selection(chain.env))
            bodies[delivery.move_id.id] = chain.env._(
                "%(channel)s receipt: %(state)s.", channel=chain._label(delivery.channel), state=labels[state]
            )
            if state == "rejected":
                rejected |= delivery
        self.env["account.move"]._efaktura_log(bodies)
        if rejected:
            # Refused after submission (e.g. by the consumer's bank): the chain goes on from the next channel.
            moves = rejected.move_id
            moves._efaktura_write({"efaktura_state": "queued", "efaktura_next_try": False})
            self.env["efaktura.chain"]._dispatch(moves)

    # ------------------------------------------------------------------
    # Hand-off read-back: e-mails and letters
    # ------------------------------------------------------------------

    @api.model
    @api.model
    def _prepare_for_run(self, channel, moves, run, state="pending", network=None):
        """The outbox row of each move for this channel in a chain run (``DispatchRun``): the existing one, or a
        new one, in one query; its attempt counted, and for a network, the submission id it goes out in."""
        Delivery = self.env["efaktura.delivery"].sudo()
        to_create = [
            {
                "move_id": move.id,
                "partner_id": move.partner_id.id,
                "company_id": run.company.id,
                "channel": channel,
                "network": network.network_name(channel) if network else False,
                "document_hash": run.doc_hash[move],
                "idempotency_key": run.key(move, channel),
                "original_move_id": move.reversed_entry_id.id,
                "state": state,
                "currency_id": run.currency.id,
                "reminder_step": run.reminder_step,
            }
            for move in moves
            if not run.delivery(move, channel)
        ]
        if to_create:
            for delivery in Delivery.create(to_create):
                run.deliveries[delivery.move_id.id, channel] = delivery
        deliveries = {move: run.delivery(move, channel) for move in moves}
        ids = tuple(d.id for d in deliveries.values())
        Delivery.flush_model(["attempt_count", "network_attempt_ref"])
        if network is None:
            self.env.cr.execute(
                SQL("UPDATE efaktura_delivery SET attempt_count = COALESCE(attempt_count, 0) + 1 WHERE id IN %s", ids)
            )
            Delivery.browse(ids).invalidate_recordset(["attempt_count"])
            return deliveries
        refs = self._attempt_refs(channel, deliveries, run)
        values = SQL(", ").join(SQL("(%s, %s)", deliveries[move].id, ref) for move, ref in refs.items())
        self.env.cr.execute(
            SQL(
                """UPDATE efaktura_delivery AS d
                      SET attempt_count = COALESCE(d.attempt_count, 0) + 1, network_attempt_ref = v.ref
                     FROM (VALUES %s) AS v(id, ref)
                    WHERE d.id = v.id""",
                values,
            )
        )
        Delivery.browse(ids).invalidate_recordset(["attempt_count", "network_attempt_ref"])
        return deliveries

    @api.model
    def _attempt_refs(self, channel, deliveries, run):
        """The submission id each move goes out in, written on its delivery before the network is called.

        A delivery whose last submission has no known outcome (it failed without a final answer: a timeout, an
        answer lost) goes out under that submission's id again, so that the network can tell it is a repeat
        (MPS answers 209 for a consignment id it has seen). The others share one new id, made from their keys:
        the same batch rebuilt after a crash gets the same id.
        """
        refs = {}
        fresh = []
        for move, delivery in deliveries.items():
            if delivery.network_attempt_ref and delivery.state in ("pending", "failed") and not delivery.final:
                refs[move] = delivery.network_attempt_ref
            else:
                fresh.append(move)
        if fresh:
            material = "|".join([run.db_uuid, channel, *sorted(run.key(move, channel) for move in fresh)])
            ref = hashlib.sha256(material.encode()).hexdigest()[:40]
            refs.update(dict.fromkeys(fresh, ref))
        return refs

    def _handoff_outcomes(self, deliveries):
        """What became of e-mails and letters after the hand-off, read from Odoo's own records.

        Returns {delivery: (state, reason, code)}, state "confirmed" (the mail server took the e-mail, the letter
        was posted), "handed" (still in Odoo's queue) or "failed" (with the reason, in the reader's language).
        """
        result = {}
        emails = [d for d in deliveries if d.channel == "email"]
        messages = self.env["mail.message"].sudo().browse({d.mail_message_id.id for d in emails} - {False})
        mails = (
            self.env["mail.mail"].sudo().search([("mail_message_id", "in", messages.ids)]).grouped("mail_message_id")
        )
        notifications = (
            self.env["mail.notification"]
            .sudo()
            .search([("mail_message_id", "in", messages.ids), ("notification_type", "=", "email")])
            .grouped("mail_message_id")
        )
        failure_labels = dict(self.env["mail.mail"]._fields["failure_type"]._description_selection(self.env))
        for delivery in emails:
            message = delivery.mail_message_id
            message_mails = mails.get(message, self.env["mail.mail"])
            message_notifications = notifications.get(message, self.env["mail.notification"])
            # The customer's e-mail, not a follower's copy.
            message_notifications = (
                message_notifications.filtered(lambda n, d=delivery: n.res_partner_id == d.partner_id)
                or message_notifications
            )
            failed_mail = message_mails.filtered(lambda m: m.state in ("exception", "cancel"))[:1]
            failed_notification = message_notifications.filtered(
                lambda n: n.notification_status in ("exception", "bounce", "canceled")
            )[:1]
            if not message:
                result[delivery] = (
                    "failed",
                    self.env._("no e-mail was made for the customer"),
                    "mail_email_missing",
                )
            elif failed_mail or failed_notification:
                code = failed_mail.failure_type or failed_notification.failure_type or "unknown"
                if failed_notification.notification_status == "bounce":
                    label = self.env._("the e-mail bounced")
                else:
                    label = failure_labels.get(code) or failure_labels.get("unknown")
                detail = (failed_mail.failure_reason or failed_notification.failure_reason or "").strip()
                reason = self.env._("the e-mail was not delivered: %(label)s", label=label)
                if detail:
                    reason = f"{reason} ({detail.splitlines()[0][:200]})"
                result[delivery] = ("failed", reason, code)
            elif message_mails and all(m.state == KEPT for m in message_mails):
                result[delivery] = ("confirmed", "", "")  # Test mode: kept in the test inbox
            elif self._all_sent(message_notifications, message_mails):
                result[delivery] = ("confirmed", "", "")
            elif not message_notifications and not message_mails:
                result[delivery] = ("failed", self.env._("no e-mail went out to the customer"), "mail_email_missing")
            else:
                result[delivery] = ("handed", "", "")
        for delivery in deliveries:
            if delivery.channel != "post":
                continue
            letter = delivery.snailmail_letter_id.sudo()
            if letter.state in ("sent", KEPT):  # posted, or kept in the test inbox in Test mode
                result[delivery] = ("confirmed", "", "")
            elif letter.state == "pending":
                result[delivery] = ("handed", "", "")
            elif letter.state == "error":
                code = letter.error_code or "UNKNOWN_ERROR"
                reason = self.env._("the letter was not sent: %(reason)s", reason=self._letter_error_text(code))
                result[delivery] = ("failed", reason, code)
            else:
                result[delivery] = ("failed", self.env._("the letter was cancelled"), "CANCELLED")
        return result

    @api.model
    def _all_sent(self, notifications, mails):
        """The mail server took the e-mail for every recipient (Odoo's notifications say so, or the e-mails)."""
        if notifications:
            return all(n.notification_status == "sent" for n in notifications)
        return bool(mails) and all(m.state == "sent" for m in mails)

    @api.model
    def _letter_error_text(self, code):
        """A snailmail error code, as a user reads it."""
        texts = {
            "CREDIT_ERROR": self.env._("no IAP credit left for letters"),
            "TRIAL_ERROR": self.env._("no IAP account for letters is set up"),
            "NO_PRICE_AVAILABLE": self.env._("the letter service does not cover the customer's country"),
            "MISSING_REQUIRED_FIELDS": self.env._("the postal address is incomplete"),
            "FORMAT_ERROR": self.env._("the letter service could not read the PDF"),
            "ATTACHMENT_ERROR": self.env._("the invoice PDF could not be made for the letter"),
        }
        return texts.get(code) or self.env._("an unknown error at the letter service")

    @api.model
    def _mark_handoff_failed(self, delivery, reason, code):
        delivery.sudo()._set_state(
            "failed", final=True, next_retry_at=False, last_error=reason, error_code=code or False
        )
        letter = delivery.snailmail_letter_id.sudo()
        if letter.state == "error":
            # Odoo's snailmail cron would post a letter in error once credit is bought: the next channel has it now.
            letter.cancel()

    @api.model
    def _read_back(self, deliveries):
        """Apply what Odoo's mail queue and snailmail reported for handed-off e-mails and letters.

        Called by the hooks on ``mail.mail`` and ``snailmail.letter`` and by the status cron. A confirmed hand-off
        becomes "accepted"; a failed one puts the invoice back into the chain at the next channel (a reminder: its
        step is sent again by the next channel).
        """
        deliveries = deliveries.sudo().filtered(lambda d: d.state == "submitted" and d.channel in ("email", "post"))
        if not deliveries:
            return
        outcomes = self._handoff_outcomes(list(deliveries))
        requeue = self.env["account.move"]
        reminders = self.env["efaktura.reminder"]
        bodies = {}
        for delivery, (state, reason, code) in outcomes.items():
            if state == "confirmed":
                delivery._set_state("accepted")
                continue
            if state != "failed":
                continue
            move = delivery.move_id
            outbox = self.with_context(lang=self._user_lang(move))
            # The reason again, in the language of the invoice's salesperson.
            reason = outbox._handoff_outcomes([delivery])[delivery][1]
            self._mark_handoff_failed(delivery, reason, code)
            label = outbox.env["efaktura.chain"]._label(delivery.channel)
            if delivery.reminder_step:
                reminder = move.efaktura_reminder_ids.filtered(lambda r, d=delivery: r.step == d.reminder_step)
                reminders |= reminder
                bodies[move.id] = outbox.env._(
                    "Reminder %(step)s by %(channel)s did not reach the customer: %(reason)s. It is sent again by "
                    "the next channel.",
                    step=delivery.reminder_step,
                    channel=label,
                    reason=reason,
                )
            elif move.efaktura_state in ("sent", "fallback_sent") and move.efaktura_channel == delivery.channel:
                requeue |= move
                bodies[move.id] = outbox.env._(
                    "%(channel)s did not reach the customer: %(reason)s. The invoice goes back into the chain, to "
                    "the next channel.",
                    channel=label,
                    reason=reason,
                )
            else:
                bodies[move.id] = outbox.env._(
                    "%(channel)s did not reach the customer: %(reason)s.", channel=label, reason=reason
                )
        if reminders:
            reminders.write({"state": "retry", "channel": False, "next_try": fields.Datetime.now()})
            self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_reminders")._trigger()
        if requeue:
            requeue._efaktura_write({"efaktura_state": "queued", "efaktura_next_try": False, "efaktura_error": False})
            self.env["efaktura.chain"]._trigger_dispatch()
        self.env["account.move"]._efaktura_log(bodies)

    @api.model
    def _user_lang(self, move):
        """The language of whoever reads the invoice's chatter: its salesperson, else the company's."""
        return move.invoice_user_id.lang or move.company_id.partner_id.lang or self.env.lang or "en_US"

    @api.model
    def _cron_read_back(self, batch_size=500):
        """The safety net of the hooks: e-mails and letters handed off and not read back yet."""
        Delivery = self.env["efaktura.delivery"].sudo()
        deliveries = Delivery.search(Delivery._handoff_domain(), order="id", limit=batch_size)
        self._read_back(deliveries)
