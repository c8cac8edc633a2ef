from odoo import api, fields, models
from odoo.tools import SQL

from .efaktura_channel import CHAIN_CHANNELS, NETWORK_CHANNELS

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

    _sql_constraints = [
        ("idempotency_key_uniq", "unique(idempotency_key)", "This document was already handed to this channel."),
    ]

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
