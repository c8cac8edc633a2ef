"""Taking a delivered invoice back from the customer's nettbank or Vipps, when it is reset to draft or cancelled.

As account_edi does with its "to_cancel" documents: Odoo's own checks first (in a savepoint that is rolled back),
then the invoice stays posted, "Being taken back", until the network answers, right after the commit or in the
receipts cron; then Odoo resets or cancels it, or the invoice stays posted and says why.
"""

import logging

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..networks.base import NetworkError
from .efaktura_channel import NETWORK_CHANNELS
from .efaktura_delivery import HANDED_OVER_STATES

_logger = logging.getLogger(__name__)


class _OdooAgrees(Exception):
    """Raised inside a savepoint to undo a reset that Odoo allowed, until the network has taken the invoice back."""


class EfakturaTakeBack(models.AbstractModel):
    _name = "efaktura.take.back"
    _description = "eFaktura B2C take-back from the network"

    @api.model
    def _live_network_deliveries(self, moves):
        return (
            self.env["efaktura.delivery"]
            .sudo()
            .search(
                [
                    ("move_id", "in", moves.ids),
                    ("channel", "in", NETWORK_CHANNELS),
                    ("state", "in", HANDED_OVER_STATES),
                ]
            )
        )

    @api.model
    def _request(self, moves, action):
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
            return moves.browse()
        deliveries = self._live_network_deliveries(moves)
        moves = moves & deliveries.move_id
        if not moves:
            return moves
        if moves.filtered(lambda m: m.efaktura_state == "cancelling"):
            raise UserError(
                self.env._(
                    "%(invoices)s is already being taken back from the customer's nettbank or Vipps.",
                    invoices=", ".join(moves.filtered(lambda m: m.efaktura_state == "cancelling").mapped("name")),
                )
            )
        # Odoo's own reset or cancellation (the module's override lets it through under this context).
        odoo_action = getattr(moves.with_context(efaktura_taken_back=True), f"button_{action}")
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
                    env["efaktura.take.back"]._process(env["account.move"].browse(move_ids))
            except Exception:
                _logger.exception("eFaktura: taking back %s at the network failed; the receipts cron retries", move_ids)

        return moves

    @api.model
    def _cron(self):
        """Invoices still waiting to be taken back (the step after the commit was interrupted)."""
        self._process(self.env["account.move"].search([("efaktura_state", "=", "cancelling")]))

    @api.model
    def _process(self, moves):
        """Ask the networks to take these invoices back, then reset or cancel them in Odoo (see ``_request``).
        Each invoice is locked while it is handled."""
        if not moves:
            return
        moves = moves._efaktura_lock("cancelling")
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

    @api.model
    def _forget_deliveries(self, moves):
        """After a reset or cancellation in Odoo: the invoice is a new document for the chain. Copies sent by
        e-mail or post cannot be taken back: the chatter says the customer holds one."""
        delivered = (
            self.env["efaktura.delivery"]
            .sudo()
            .search([("move_id", "in", moves.ids), ("state", "in", HANDED_OVER_STATES)])
        )
        for delivery in delivered.filtered(lambda d: d.channel in ("email", "post")):
            delivery.move_id._message_log(
                body=self.env._(
                    "Note: the customer already holds a copy of this invoice, sent by %(channel)s.",
                    channel=delivery._fields["channel"].convert_to_export(delivery.channel, delivery),
                )
            )
        for move in moves.filtered(lambda m: m.efaktura_state != "none" or m in delivered.move_id):
            move._efaktura_write(
                {
                    "efaktura_state": "none",
                    "efaktura_channel": False,
                    "efaktura_error": False,
                    "efaktura_revision": move.efaktura_revision + 1,
                }
            )
