"""The network channels of the chain: Vipps and eFaktura in the nettbank.

The lookup asks the network which customers have eFaktura; each channel says which invoices it can take
(``_applicable_vipps``, ``_applicable_nettbank``) and hands them to the network (``_send_vipps``,
``_send_nettbank``), or, for a customer without eFaktura yet, asks for their consent and lets the invoice wait.
"""

import logging

from odoo import api, models
from odoo.tools import SQL

from .. import compat
from ..networks.base import Document, NetworkError, NetworkUnavailable
from .efaktura_chain import BACKOFF, DONE, MAX_ATTEMPTS, NEXT, WAIT
from .efaktura_channel import NETWORK_CHANNELS

_logger = logging.getLogger(__name__)


class EfakturaNetworkSender(models.AbstractModel):
    _name = "efaktura.network.sender"
    _description = "eFaktura B2C network channels (Vipps, nettbank)"

    @property
    def _chain(self):
        """The chain these channels belong to: its outbox rows, retry policy, chatter lines and labels."""
        return self.env["efaktura.chain"]

    def _lookup(self, run, moves):
        if not any(code in run.order for code in NETWORK_CHANNELS) or run.company.efaktura_issuer_state != "active":
            return moves
        partners = moves.partner_id.with_company(run.company).filtered(
            lambda p: (
                p.efaktura_b2c_customer
                and not p.efaktura_identifier
                and p.efaktura_state in ("not_checked", "consent_requested", False)
            )
        )
        if not partners:
            return moves
        try:
            results = run.network.lookup([p._efaktura_recipient() for p in partners])
        except NetworkError as error:
            waiting = moves.filtered(lambda m: m.partner_id in partners)
            give_up = self._lookup_failed(run, waiting, error)
            return (moves - waiting) | give_up
        # Production asks MPS and Vipps; half an answer is no answer: a customer MPS could not be asked about may
        # well have eFaktura, and must not get a consent request by SMS and e-mail. Those are asked again later.
        unanswered = getattr(run.network, "unanswered", None) or {}
        if unanswered:
            failed = partners.filtered(lambda p: str(p.id) in unanswered)
            partners -= failed
            waiting = moves.filtered(lambda m: m.partner_id in failed)
            give_up = self._lookup_failed(run, waiting, next(iter(unanswered.values())))
            moves = (moves - waiting) | give_up
        # One state change and one chatter batch for all of them, not one per customer.
        partners._efaktura_remember(results, self.env._("Found in the eFaktura network (yes to all)."))
        return moves

    def _lookup_failed(self, run, moves, error):
        """The lookup is down: retry later; after the last retry, skip the network channels."""
        retry = moves.filtered(lambda m: m.efaktura_retry_count + 1 < MAX_ATTEMPTS)
        for move in retry:
            delay = BACKOFF * (2**move.efaktura_retry_count)
            move._efaktura_write(
                {"efaktura_retry_count": move.efaktura_retry_count + 1, "efaktura_next_try": run.now + delay}
            )
            run.log(
                move,
                self.env._(
                    "The eFaktura lookup failed (%(error)s). Next try in %(minutes)s minutes.",
                    error=error,
                    minutes=int(delay.total_seconds() // 60),
                ),
            )
        give_up = moves - retry
        for move in give_up:
            run.exhausted[move].update(NETWORK_CHANNELS)
            run.log(
                move,
                self.env._(
                    "The eFaktura lookup failed %(count)s times (%(error)s): sending by another channel.",
                    count=MAX_ATTEMPTS,
                    error=error,
                ),
            )
        self._chain._flush_logs(run)
        # Moves that gave up go on through the chain with the network channels skipped.
        return give_up

    def _network_ready(self, moves, run):
        """What both network channels require; maps move to an empty string or the reason it fails."""
        company = run.company
        problems = {}
        for move in moves:
            partner = move.partner_id.with_company(company)
            if not partner:
                problems[move] = self.env._("the invoice has no customer yet")
            elif company.efaktura_issuer_state != "active":
                problems[move] = self.env._("the issuer agreement is not active")
            elif not partner.efaktura_b2c_customer:
                problems[move] = self.env._("the customer does not receive eDocuments by B2CNO")
            elif partner.is_company:
                problems[move] = self.env._("the customer is a company")
            elif partner.efaktura_avtalegiro:
                problems[move] = self.env._("the customer pays by AvtaleGiro")
            elif move.move_type == "out_refund" and not self._chain._original_network_channel(move):
                problems[move] = self.env._(
                    "a credit note goes by eFaktura or Vipps only when its invoice went that way"
                )
            elif move.currency_id.name != "NOK":
                problems[move] = self.env._("the invoice is not in NOK")
            elif move.move_type == "out_invoice" and move.currency_id.is_zero(self._total(move)):
                problems[move] = self.env._(
                    "a zero-amount invoice claims no payment: it goes as a document by e-mail or post"
                )
            elif move.move_type == "out_invoice" and move.state == "posted" and not move.amount_residual > 0:
                problems[move] = self.env._("nothing is left to pay")
            elif kid_problem := self._kid_problem(move):
                problems[move] = kid_problem
            elif not move.invoice_date_due and move.state == "posted":
                # A draft gets its due date on posting, from its invoice date and payment terms.
                problems[move] = self.env._("the invoice has no due date")
            else:
                problems[move] = ""
        return problems

    @api.model
    def _total(self, move):
        """The invoice total; on a draft being edited, from its lines (the totals follow them on saving)."""
        if move.state == "draft":
            return sum(move.invoice_line_ids.mapped("price_total"))
        return move.amount_total

    def _kid_problem(self, move):
        """Why the move's KID cannot go to a network. A draft gets its KID on posting, from its journal: only a
        journal that builds no KID is a problem then."""
        source = move.reversed_entry_id or move
        if source.state == "draft" and source.journal_id.invoice_reference_model == "no":
            return ""
        return source._efaktura_kid_problem()

    def _applicable_vipps(self, moves, run):
        problems = self._network_ready(moves, run)
        verdicts = {}
        for move in moves:
            partner = move.partner_id.with_company(run.company)
            if problems[move]:
                verdicts[move] = (False, problems[move])
            elif partner.efaktura_found_in_vipps:
                verdicts[move] = (True, self.env._("the customer receives eFaktura in Vipps"))
            else:
                verdicts[move] = (False, self.env._("the customer does not receive eFaktura in Vipps"))
        return verdicts

    def _applicable_nettbank(self, moves, run):
        problems = self._network_ready(moves, run)
        days = run.company.efaktura_consent_days
        verdicts = {}
        for move in moves:
            partner = move.partner_id.with_company(run.company)
            if problems[move]:
                verdicts[move] = (False, problems[move])
            elif partner.efaktura_identifier:
                verdicts[move] = (True, self.env._("the customer has eFaktura in the nettbank"))
            elif partner.efaktura_state in ("declined", "withdrawn"):
                verdicts[move] = (False, self.env._("the customer said no to eFaktura"))
            elif partner.efaktura_state == "active":
                verdicts[move] = (
                    False,
                    self.env._("the customer approved eFaktura, but their bank has no eFaktura for them yet"),
                )
            elif move.efaktura_deadline and move.efaktura_deadline <= run.now:
                verdicts[move] = (False, self.env._("the customer did not approve eFaktura before the deadline"))
            elif run.dry_run and partner.efaktura_state in ("not_checked", False):
                verdicts[move] = (
                    True,
                    self.env._(
                        "the eFaktura network is asked first; without eFaktura, the customer gets a request by SMS "
                        "and e-mail, and %(days)s days to approve with BankID",
                        days=days,
                    ),
                )
            else:
                verdicts[move] = (
                    True,
                    self.env._(
                        "no eFaktura yet: the customer is asked by SMS and e-mail to approve with BankID within "
                        "%(days)s days",
                        days=days,
                    ),
                )
        return verdicts

    def _send_vipps(self, moves, run):
        return self._send_network("vipps", moves, run)

    def _send_nettbank(self, moves, run):
        with_identifier = moves.filtered(lambda m: m.partner_id.with_company(run.company).efaktura_identifier)
        outcomes = self._send_network("nettbank", with_identifier, run) if with_identifier else {}
        waiting = moves - with_identifier
        if waiting and run.reminder_step:
            # A reminder never asks for consent: it goes by the next channel.
            outcomes.update(dict.fromkeys(waiting, NEXT))
        elif waiting:
            outcomes.update(self._await_consent(waiting, run))
        return outcomes

    def _await_consent(self, moves, run):
        """No eFaktura yet: the invoices wait for the customer's consent until the request's deadline.

        A request that can reach the customer neither by SMS nor by e-mail releases its invoices at once: they go
        on down the chain in this run."""
        moves._efaktura_write({"efaktura_state": "awaiting_consent"})
        self.env["efaktura.consent.request"]._request(moves.partner_id, moves, run.company)
        released = moves.filtered(lambda m: m.efaktura_state != "awaiting_consent")
        outcomes = dict.fromkeys(released, NEXT)
        for move in moves - released:
            outcomes[move] = WAIT
            run.log(
                move,
                self.env._(
                    "Waiting for the customer to approve eFaktura, until %(deadline)s. "
                    "Without approval it goes by e-mail or post.",
                    deadline=self._chain._format_when(move.efaktura_deadline),
                ),
            )
        return outcomes

    def _document(self, move, channel, run):
        partner = move.partner_id.with_company(run.company)
        reminder = run.reminder_step
        return Document(
            key=run.key(move, channel),
            invoice_number=f"{move.name}-P{reminder}" if reminder else move.name,
            recipient=partner.efaktura_identifier if channel == "nettbank" else partner[compat.PARTNER_MOBILE],
            recipient_name=partner.name,
            # A credit note is no payment claim: it never carries the KID of the invoice it credits.
            kid="" if move.move_type == "out_refund" else move.payment_reference,
            amount_ore=round((move.amount_residual if move.move_type == "out_invoice" else move.amount_total) * 100),
            currency=move.currency_id.name,
            issue_date=move.invoice_date,
            due_date=run.reminder_due.get(move) or self.env["efaktura.reminder"]._reminder_due_date()
            if reminder
            else move.invoice_date_due,
            document_url=move._efaktura_document_url(),
            document_hash=run.doc_hash[move],
            kind="credit_note" if move.move_type == "out_refund" else "reminder" if reminder else "invoice",
            original_invoice_number=move.name if reminder else move.reversed_entry_id.name or "",
            attempt_ref=(run.delivery(move, channel).network_attempt_ref or "") if run.delivery(move, channel) else "",
        )

    def _send_network(self, channel, moves, run):
        outcomes = {}
        network = error = None
        try:
            network = run.network
        except NetworkError as config_error:
            error = config_error
        deliveries = self.env["efaktura.delivery"]._prepare_for_run(channel, moves, run, network=network)
        if network is not None:
            try:
                results = network.submit(channel, [self._document(move, channel, run) for move in moves])
            except NetworkError as network_error:
                error = network_error
            except Exception as unexpected:
                _logger.warning("eFaktura network %s failed", channel, exc_info=True)
                error = NetworkUnavailable(str(unexpected) or unexpected.__class__.__name__)
        if error is not None:
            for move in moves:
                outcomes[move] = self._chain._attempt_failed(deliveries[move], move, error, run)
            return outcomes
        delivered = {}
        for move, result in zip(moves, results, strict=True):
            if result.attempt_ref and result.attempt_ref != deliveries[move].network_attempt_ref:
                # The network took it under another submission id (MPS: a consignment id it had seen before).
                deliveries[move].network_attempt_ref = result.attempt_ref
            if result.ok:
                delivered[deliveries[move].id] = result.network_reference
                outcomes[move] = DONE
                run.log(
                    move,
                    self.env._(
                        "Delivered by %(channel)s (reference %(ref)s)%(dup)s.",
                        channel=self._chain._label(channel),
                        ref=result.network_reference,
                        dup=self.env._(", the network already had it") if result.duplicate else "",
                    ),
                )
            else:
                outcomes[move] = self._chain._attempt_failed(deliveries[move], move, result.error, run)
        if delivered:
            self._mark_delivered(channel, delivered, run)
            done = moves.filtered(lambda m: outcomes[m] == DONE)
            self._chain._write_moves(
                run,
                done,
                {
                    "efaktura_state": "sent",
                    "efaktura_channel": channel,
                    "efaktura_next_try": False,
                    "efaktura_retry_count": 0,
                    "efaktura_error": False,
                },
            )
        return outcomes

    def _mark_delivered(self, channel, references, run):
        """Write the network references of many deliveries in one statement."""
        self.env["efaktura.delivery"].flush_model()  # an earlier attempt's values must not overwrite these later
        values = SQL(", ").join(SQL("(%s, %s)", delivery_id, ref) for delivery_id, ref in references.items())
        self.env.cr.execute(
            SQL(
                """UPDATE efaktura_delivery AS d
                  SET state = 'submitted', state_date = %s, network_reference = v.ref, cost = %s,
                      next_retry_at = NULL, last_error = NULL, error_code = NULL, final = TRUE,
                      write_date = %s, write_uid = %s
                 FROM (VALUES %s) AS v(id, ref)
                WHERE d.id = v.id""",
                run.now,
                run.prices.get(channel, 0.0),
                run.now,
                self.env.uid,
                values,
            )
        )
        self.env["efaktura.delivery"].browse(list(references)).invalidate_recordset()
