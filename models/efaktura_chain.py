"""The delivery chain: one dispatcher walks the company's ordered channels for a batch of invoices.

Each channel answers two questions for a batch: ``_applicable_<code>(moves, run)`` (which moves
it can take, and why or why not) and ``_send_<code>(moves, run)`` (deliver them, returning for
each move "done", "wait" or "next"). The channels live in their senders (``SENDERS``): the network
channels in ``efaktura.network.sender``, the fallbacks in ``efaktura.fallback.sender``. The order is
data (``efaktura.channel``), so a company reorders or switches off channels without code; "manual"
always ends the chain.
"""

import hashlib
import logging
import time
from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import api, fields, models, modules
from odoo.exceptions import UserError
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY
from odoo.tools import SQL, format_datetime

from .. import compat
from ..networks.base import NetworkUnavailable
from .efaktura_channel import KEY_SPELLING, NETWORK_CHANNELS
from .efaktura_delivery import HANDED_OVER_STATES

_logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_CONFLICTS = 5  # batches a cron run starts over after a concurrent update before it hands over
BACKOFF = timedelta(minutes=5)  # 5, 10, 20, 40 minutes between the attempts
MANUAL = "manual"
DONE, WAIT, NEXT = "done", "wait", "next"
RENDER_ERROR = "PDF"  # the error code of a PDF that could not be rendered: retried, then needs attention
#: The dispatch lanes: cron records with the same code. Odoo runs one job of a cron at a time, so each lane lets one
#: more cron worker take from the queue; every lane claims its batches with FOR UPDATE SKIP LOCKED.
#: The model that carries each channel's ``_applicable_<code>`` and ``_send_<code>``.
SENDERS = {
    "vipps": "efaktura.network.sender",
    "nettbank": "efaktura.network.sender",
    "email": "efaktura.fallback.sender",
    "post": "efaktura.fallback.sender",
    MANUAL: "efaktura.fallback.sender",
}
DISPATCH_LANES = (
    "l10n_no_efaktura_b2c.ir_cron_efaktura_dispatch",
    "l10n_no_efaktura_b2c.ir_cron_efaktura_dispatch_lane2",
)


class DispatchRun:
    """One pass of the chain over one company's batch of invoices (a dispatch, a reminder round, a preview with
    ``dry_run``, or the "Send another way" wizard): what it needs, computed once (channel order and prices, the network,
    the idempotency keys, the deliveries already made), and what it collects on the way (chatter lines, skipped
    channels, channels exhausted per invoice)."""

    def __init__(self, chain, company, moves, dry_run=False, reminder_step=0):
        self.reminder_step = reminder_step
        self.env = chain.env
        self.company = company
        self.dry_run = dry_run
        self.now = fields.Datetime.now()
        self._network = None
        self.prices = {c.code: c.price for c in company.efaktura_channel_ids}
        self.currency = self.env.ref("base.NOK")
        self.order = [*company._efaktura_channel_order(), MANUAL]
        self.logs = {}
        self.skipped = {}
        self.db_uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        # A preview sends nothing, so it needs no idempotency keys; a new or draft invoice has no number yet.
        self.doc_hash = {} if dry_run else {move: chain._document_hash(move, reminder_step) for move in moves}
        self.deliveries = {}
        self.exhausted = {move: set() for move in moves}
        if not dry_run:
            self._read_deliveries(moves)

    @property
    def network(self):
        if self._network is None:
            try:
                self._network = self.company._efaktura_network()
            except UserError as error:
                # A network that is not set up is like one that is down: retried, then the next channel.
                raise NetworkUnavailable(str(error), code="CONFIG") from error
        return self._network

    def key(self, move, channel):
        """The idempotency key of one version of the document by one channel: the invoice, the channel, the
        revision (bumped each time a delivered invoice is taken back) and the reminder step. Nothing that moves
        after posting (the amount left to pay, the payment state) is in it, so a payment or a credit note never
        makes a delivered invoice look new."""
        spelled = KEY_SPELLING.get(channel, channel)
        raw = f"{self.db_uuid}|{move.id}|{spelled}|rev:{move.efaktura_revision}|reminder:{self.reminder_step}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _read_deliveries(self, moves):
        grouped = self.env["efaktura.delivery"]._read_latest_by_move(moves)
        for move in moves:
            for delivery in grouped.get(move, self.env["efaktura.delivery"]):
                if delivery.idempotency_key != self.key(move, delivery.channel):
                    continue  # a delivery of an earlier revision, or of another reminder step
                self.deliveries[move.id, delivery.channel] = delivery
                if delivery.state == "rejected" or (delivery.state == "failed" and delivery.final):
                    self.exhausted[move].add(delivery.channel)

    def delivery(self, move, channel):
        return self.deliveries.get((move.id, channel))

    def log(self, move, line):
        self.logs.setdefault(move.id, []).append(line)


class EfakturaChain(models.AbstractModel):
    _name = "efaktura.chain"
    _description = "eFaktura B2C delivery chain"

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------

    @api.model
    def _dispatch_locked(self, moves):
        """Dispatch the moves this transaction can lock; others are being sent by another worker."""
        if not moves:
            return moves
        locked = moves._efaktura_lock("queued")
        self._dispatch(locked)
        return locked

    @api.model
    def _cron_dispatch(self, batch_size=200, time_budget=240):
        """Dispatch due queued invoices in batches: locked, committed per batch, resumable."""
        started = time.monotonic()
        done = conflicts = 0
        while True:
            self.env["account.move"].flush_model(["efaktura_state", "efaktura_next_try"])
            self.env.cr.execute(
                SQL(
                    """SELECT id FROM account_move
                        WHERE efaktura_state = 'queued' AND (efaktura_next_try IS NULL OR efaktura_next_try <= %s)
                     ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                    fields.Datetime.now(),
                    batch_size,
                )
            )
            ids = [row[0] for row in self.env.cr.fetchall()]
            if not ids:
                break
            try:
                self._dispatch(self.env["account.move"].browse(ids))
            except psycopg2.OperationalError as error:
                # Another worker changed a shared row (a customer found by both lookups): this batch starts over
                # in a fresh transaction. The networks already hold what was sent and answer its resubmission
                # as a duplicate, so nothing reaches a consumer twice.
                if error.pgcode not in PG_CONCURRENCY_ERRORS_TO_RETRY or not self._can_commit():
                    raise
                self.env.cr.rollback()
                conflicts += 1
                if conflicts > MAX_CONFLICTS:
                    self._trigger_dispatch()
                    break
                continue
            done += len(ids)
            if not self._can_commit():
                if len(ids) < batch_size:
                    break
                continue
            remaining = self.env["account.move"].search_count(
                [
                    ("efaktura_state", "=", "queued"),
                    "|",
                    ("efaktura_next_try", "=", False),
                    ("efaktura_next_try", "<=", fields.Datetime.now()),
                ]
            )
            compat.commit_progress(self.env, len(ids), remaining)  # one batch per transaction
            if remaining and time.monotonic() - started > time_budget:
                self._trigger_dispatch()
                break
        return done

    @api.model
    def _cron_deadlines(self, batch_size=500):
        """Expired consent requests release their invoices; any invoice whose deadline passed goes back to the
        chain, which now skips eFaktura."""
        self.env["efaktura.consent"]._cron_expire(batch_size=batch_size)
        while True:
            self.env["account.move"].flush_model(["efaktura_state", "efaktura_deadline"])
            self.env.cr.execute(
                SQL(
                    """SELECT id FROM account_move
                        WHERE efaktura_state = 'awaiting_consent' AND efaktura_deadline <= %s
                     ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED""",
                    fields.Datetime.now(),
                    batch_size,
                )
            )
            moves = self.env["account.move"].browse([row[0] for row in self.env.cr.fetchall()])
            if not moves:
                break
            moves._efaktura_write({"efaktura_state": "queued", "efaktura_next_try": False})
            for group in moves._efaktura_by_lang().values():
                group._message_log_batch(
                    bodies=dict.fromkeys(
                        group.ids, group.env._("No eFaktura consent before the deadline: sending by another channel.")
                    )
                )
            self._dispatch(moves)
            if not self._can_commit():
                break
            self.env.cr.commit()  # pylint: disable=invalid-commit  # one batch per transaction

    @api.model
    def _trigger_dispatch(self):
        """Wake every dispatch lane; a lane that finds nothing left to claim ends at once."""
        for xmlid in DISPATCH_LANES:
            cron = self.env.ref(xmlid, raise_if_not_found=False)
            if cron:
                cron._trigger()

    @api.model
    def _can_commit(self):
        return not modules.module.current_test

    # ------------------------------------------------------------------
    # The walk
    # ------------------------------------------------------------------

    @api.model
    def _dispatch(self, moves):
        groups = [
            (company, lang_moves)
            for company, company_moves in moves.grouped("company_id").items()
            for lang_moves in company_moves._efaktura_by_lang().values()
        ]
        for company, company_moves in groups:
            # Chatter lines and tasks in the customer's language, whoever runs the chain (cron, callback, page).
            chain = self.with_context(lang=company_moves.env.lang)
            try:
                with chain.env.cr.savepoint(), chain.env["efaktura.state.tracking"]._held(company_moves):
                    chain._dispatch_company(company, company_moves)
            except Exception as error:
                if isinstance(error, psycopg2.OperationalError) and error.pgcode in PG_CONCURRENCY_ERRORS_TO_RETRY:
                    raise  # a concurrent worker: the whole transaction is retried, nothing is marked as failed
                _logger.warning("eFaktura dispatch failed for %s", company_moves.ids, exc_info=True)
                chain.env.invalidate_all()
                company_moves._efaktura_write({"efaktura_state": "error", "efaktura_error": str(error)})
                company_moves._message_log_batch(
                    bodies=dict.fromkeys(
                        company_moves.ids,
                        chain.env._("eFaktura B2C could not send this invoice: %(error)s", error=error),
                    )
                )

    def _dispatch_company(self, company, moves):
        moves = self._drop_paid(moves)
        if not moves:
            return
        run = DispatchRun(self, company, moves)
        pending = self._skip_already_delivered(run, moves)
        pending = self.env["efaktura.network.sender"]._lookup(run, pending)
        self._start_at_retry(run, pending)
        pending = self._send_credit_notes_like_their_invoices(run, pending)
        self._walk(run, pending)
        self._flush_logs(run)

    def _walk(self, run, pending, order=None):
        """Offer the moves to each channel in order (the company's, by default); returns the moves no channel took."""
        for code in order or run.order:
            candidates = pending.filtered(lambda m, code=code: code not in run.exhausted[m])
            if not candidates:
                continue
            verdicts = self._applicable(code, candidates, run)
            take = candidates.filtered(lambda m, verdicts=verdicts: verdicts[m][0])
            for move in candidates - take:
                run.skipped.setdefault(move.id, []).append((code, verdicts[move][1]))
            if not take:
                continue
            self._log_skipped(run, take)
            outcomes = self._send(code, take, run)
            for move, outcome in outcomes.items():
                if outcome == NEXT:
                    run.exhausted[move].add(code)
                else:
                    pending -= move
        return pending

    @api.model
    def _applicable(self, code, moves, run):
        """Which of the moves the channel can take: {move: (bool, reason)}."""
        return getattr(self.env[SENDERS[code]], f"_applicable_{code}")(moves, run)

    @api.model
    def _send(self, code, moves, run):
        """Send the moves by the channel: {move: DONE, WAIT or NEXT}."""
        return getattr(self.env[SENDERS[code]], f"_send_{code}")(moves, run)

    def _log_skipped(self, run, moves):
        """A fallback says why: the channels passed over before the one that takes the move, each with its
        reason (an inactive issuer agreement, a EUR invoice, the KID settings, no consent...)."""
        for move in moves:
            for code, reason in run.skipped.pop(move.id, []):
                run.log(
                    move, self.env._("Not sent by %(channel)s: %(reason)s.", channel=self._label(code), reason=reason)
                )

    @api.model
    def _original_network_channel(self, move):
        """For a credit note: Vipps or eFaktura, when its invoice was delivered that way."""
        original = move.reversed_entry_id
        if move.move_type != "out_refund" or original.efaktura_channel not in NETWORK_CHANNELS:
            return False
        return original.efaktura_channel

    def _send_credit_notes_like_their_invoices(self, run, moves):
        """A credit note goes by the channel its invoice took, before the usual order; returns the moves left."""
        pending = moves
        for code in NETWORK_CHANNELS:
            credit_notes = moves.filtered(lambda m, code=code: self._original_network_channel(m) == code)
            if credit_notes:
                pending -= credit_notes - self._walk(run, credit_notes, order=(code,))
        return pending

    def _drop_paid(self, moves):
        """An invoice paid (or reversed) in Odoo before it went out is not sent any more."""
        paid = moves.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.payment_state in ("paid", "in_payment", "reversed")
                # A zero-amount invoice claims nothing but is still a document the customer gets (by e-mail or
                # post: the networks take payment claims only).
                and not m.currency_id.is_zero(m.amount_total)
            )
        )
        if paid:
            paid._efaktura_write({"efaktura_state": "none", "efaktura_next_try": False, "efaktura_deadline": False})
            paid._message_log_batch(
                bodies=dict.fromkeys(paid.ids, self.env._("Paid before it was sent: eFaktura B2C does not send it."))
            )
        return moves - paid

    def _start_at_retry(self, run, moves):
        """A move waiting for a retry on one channel resumes there: earlier channels are not tried again."""
        for move in moves:
            for index, code in enumerate(run.order):
                delivery = run.delivery(move, code)
                if delivery and delivery.state == "failed" and not delivery.final:
                    run.exhausted[move].update(run.order[:index])
                    break

    def _skip_already_delivered(self, run, moves):
        """Moves whose current document already reached the consumer are not sent again."""
        pending = moves
        for move in moves:
            for code in run.order:
                delivery = run.delivery(move, code)
                if not self._delivered(delivery):
                    continue
                pending -= move
                state = "sent" if code in NETWORK_CHANNELS else "manual" if code == MANUAL else "fallback_sent"
                move._efaktura_write({"efaktura_state": state, "efaktura_channel": code, "efaktura_next_try": False})
                run.log(
                    move, self.env._("Already delivered by %(channel)s: not sent again.", channel=self._label(code))
                )
                break
        return pending

    @api.model
    def _preview(self, moves):
        """Which channel each move would take now, and why, without sending or asking any network."""
        result = {}
        for company, company_moves in moves.grouped("company_id").items():
            run = DispatchRun(self, company, company_moves, dry_run=True)
            for move in company_moves:
                reasons = []
                chosen = False
                for code in run.order:
                    ok, reason = self._applicable(code, move, run)[move]
                    reasons.append(f"{self._label(code)}: {reason}")
                    if ok:
                        chosen = code
                        break
                result[move] = (chosen, reasons)
        return result

    # ------------------------------------------------------------------
    # Shared by the senders: the outbox rows, retries, the invoices' state
    # ------------------------------------------------------------------

    def _attempt_failed(self, delivery, move, error, run):
        """Retry a retryable error with backoff; after the last attempt, or a final error, take the next channel."""
        attempts = delivery.attempt_count
        ambiguous = getattr(error, "ambiguous", None)
        outcome_unknown = delivery.outcome_unknown if ambiguous is None else ambiguous
        # An invoice that may already be in the nettbank or Vipps never goes by another channel on a guess: it
        # waits until the network answers what it holds (read before every resend), however many attempts.
        waits_for_network = outcome_unknown and delivery.channel in NETWORK_CHANNELS
        if getattr(error, "retryable", False) and (attempts < MAX_ATTEMPTS or waits_for_network):
            retry_at = run.now + BACKOFF * (2 ** (min(attempts, MAX_ATTEMPTS) - 1))
            delivery._set_state(
                "failed",
                last_error=str(error),
                error_code=getattr(error, "code", None) or False,
                next_retry_at=retry_at,
                final=False,
                outcome_unknown=outcome_unknown,
            )
            self._write_moves(run, move, {"efaktura_next_try": retry_at, "efaktura_error": str(error)})
            if attempts >= MAX_ATTEMPTS:
                run.log(
                    move,
                    self.env._(
                        "%(channel)s failed (attempt %(n)s): %(error)s. It may already be with the customer, so no "
                        "other channel is used until %(channel)s answers. Next try at %(at)s.",
                        channel=self._label(delivery.channel),
                        n=attempts,
                        error=error,
                        at=self._format_when(retry_at),
                    ),
                )
                return WAIT
            run.log(
                move,
                self.env._(
                    "%(channel)s failed (attempt %(n)s of %(max)s): %(error)s. Next try at %(at)s.",
                    channel=self._label(delivery.channel),
                    n=attempts,
                    max=MAX_ATTEMPTS,
                    error=error,
                    at=self._format_when(retry_at),
                ),
            )
            return WAIT
        if getattr(error, "code", None) == RENDER_ERROR:
            return self._render_gave_up(delivery, move, error, run)
        state = "failed" if getattr(error, "retryable", False) else "rejected"
        delivery._set_state(
            state,
            last_error=str(error),
            error_code=getattr(error, "code", None) or False,
            next_retry_at=False,
            final=True,
            outcome_unknown=False,
        )
        run.log(
            move,
            self.env._(
                "%(channel)s gave up after %(n)s attempt(s): %(error)s. Trying the next channel.",
                channel=self._label(delivery.channel),
                n=attempts,
                error=error,
            ),
        )
        return NEXT

    def _render_gave_up(self, delivery, move, error, run):
        """The PDF still cannot be rendered after the last attempt: another channel needs it too (a letter is the
        same PDF, and costs money), so the invoice needs attention instead."""
        # Not final: a retry by the user (once the PDF renders) tries the e-mail again, not the next channel.
        delivery._set_state("failed", last_error=str(error), error_code=RENDER_ERROR, next_retry_at=False, final=False)
        message = self.env._(
            "%(channel)s gave up after %(n)s attempt(s): %(error)s. The invoice needs attention: check the PDF "
            "report (wkhtmltopdf), then send it again.",
            channel=self._label(delivery.channel),
            n=delivery.attempt_count,
            error=error,
        )
        self._write_moves(run, move, {"efaktura_state": "error", "efaktura_next_try": False, "efaktura_error": message})
        run.log(move, message)
        return WAIT

    def _write_moves(self, run, moves, vals):
        """The invoices' delivery state; a reminder leaves it as the invoice's own delivery set it."""
        if not run.reminder_step:
            moves._efaktura_write(vals)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    @api.model
    def _document_hash(self, move, reminder_step=0):
        """SHA-256 of what goes to the customer, for the audit trail (the outbox and Vipps' metadata): the
        amount asked for is the amount left to pay when it is sent. It is not part of the idempotency key
        (see ``DispatchRun.key``), which must not change when the invoice is paid."""
        parts = [
            move.name,
            move.move_type,
            move.currency_id.name,
            f"{move.amount_residual:.2f}",
            str(move.invoice_date or ""),
            str(move.invoice_date_due or ""),
            move.payment_reference or "",
            str(move.partner_id.id),
            str(move.efaktura_revision),
        ]
        if reminder_step:
            parts.append(f"reminder:{reminder_step}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    @api.model
    def _delivered(self, delivery):
        """Whether this delivery has left our hands (the network, the mail queue or the snailmail service took it,
        see ``HANDED_OVER_STATES``), or, for a print task, was handed to a person."""
        return bool(delivery) and (
            delivery.state in HANDED_OVER_STATES or (delivery.channel == MANUAL and delivery.state == "pending")
        )

    @api.model
    def _format_when(self, value):
        """A date and time for a chatter line, in the reader's language and time zone (Norway by default)."""
        return format_datetime(self.env, value, tz=self.env.user.tz or "Europe/Oslo", dt_format="short")

    @api.model
    def _label(self, code):
        return dict(self.env["efaktura.delivery"]._fields["channel"]._description_selection(self.env)).get(code, code)

    def _flush_logs(self, run):
        if run.logs:
            bodies = {move_id: Markup("<br/>").join(lines) for move_id, lines in run.logs.items()}
            self.env["account.move"].browse(list(bodies))._message_log_batch(bodies=bodies)
            run.logs = {}
