from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from .efaktura_delivery import DELIVERY_CHANNELS


class EfakturaReminder(models.Model):
    """One reminder (purring) of one overdue consumer invoice, per step of the company's schedule.

    The unique (invoice, step) row is written in the same transaction as the sending, so a cron that runs
    twice, or again after a crash, never sends the same reminder twice.
    """

    _name = "efaktura.reminder"
    _description = "eFaktura reminder"
    _order = "id desc"
    _rec_name = "move_id"

    move_id = fields.Many2one("account.move", string="Invoice", required=True, ondelete="cascade", index=True)
    partner_id = fields.Many2one(related="move_id.partner_id", store=True)
    company_id = fields.Many2one("res.company", required=True, index=True)
    step = fields.Integer(required=True, help="1 for the first reminder, 2 for the second, ...")
    channel = fields.Selection(DELIVERY_CHANNELS, string="Sent by", readonly=True)
    due_date = fields.Date(string="New due date", readonly=True)
    amount = fields.Monetary(string="Amount due", currency_field="currency_id", readonly=True)
    currency_id = fields.Many2one(related="move_id.currency_id")
    fee_move_id = fields.Many2one("account.move", string="Fee invoice", readonly=True, ondelete="set null")
    state = fields.Selection(
        [("retry", "To retry"), ("sent", "Sent")],
        default="sent",
        required=True,
        readonly=True,
        help="A reminder is sent once a channel delivered it; until then the reminder cron tries it again.",
    )
    sent_date = fields.Date(readonly=True, help="The day a channel delivered it; the next step is counted from it.")
    next_try = fields.Datetime(string="Next try", readonly=True)

    _sql_constraints = [
        ("move_step_uniq", "unique(move_id, step)", "This reminder was already sent."),
    ]

    @api.model
    def _due_invoices(self, company, step, schedule, today):
        """Overdue, unpaid consumer invoices of the company that are due for this reminder step now.

        Step 1 is due ``schedule[0]`` days after the due date. A later step is due its days after the due date, and
        no sooner than the gap between the two steps after the previous reminder was delivered: an invoice found
        40 days overdue with steps 14 and 28 gets the first reminder now and the second 14 days later. A step that
        is waiting for a retry is due again when its retry is.
        """
        days = schedule[step - 1]
        moves = self.env["account.move"].search(
            [
                ("company_id", "=", company.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
                ("efaktura_state", "in", ("sent", "fallback_sent", "manual")),
                ("payment_state", "not in", ("paid", "in_payment", "reversed")),
                ("amount_residual", ">", 0),
                ("invoice_date_due", "<=", today - timedelta(days=days)),
            ]
        )
        now = fields.Datetime.now()

        def due(move):
            by_step = {reminder.step: reminder for reminder in move.efaktura_reminder_ids}
            current = by_step.get(step)
            if current:
                return current.state == "retry" and (not current.next_try or current.next_try <= now)
            if step == 1:
                return True
            previous = by_step.get(step - 1)
            if not previous or previous.state != "sent":
                return False
            sent = previous.sent_date or fields.Date.to_date(previous.create_date)
            return sent + timedelta(days=days - schedule[step - 2]) <= today

        return moves.filtered(due)

    @api.model
    def _cron_send(self):
        """Send the reminders that are due, for every company that has them switched on: at most one per invoice
        per run."""
        today = fields.Date.context_today(self)
        Chain = self.env["efaktura.chain"]
        for company in self.env["res.company"].search(
            [("efaktura_switched_on", "=", True), ("efaktura_reminder_enabled", "=", True)]
        ):
            schedule = company._efaktura_reminder_schedule()
            handled = self.env["account.move"]
            for step in range(1, len(schedule) + 1):
                moves = self._due_invoices(company, step, schedule, today) - handled
                if not moves:
                    continue
                self.env.cr.execute(
                    SQL("SELECT id FROM account_move WHERE id IN %s FOR UPDATE SKIP LOCKED", tuple(moves.ids))
                )
                moves = moves.browse([row[0] for row in self.env.cr.fetchall()])
                moves.invalidate_recordset(["efaktura_reminder_ids"])
                moves = moves & self._due_invoices(company, step, schedule, today)
                if moves:
                    Chain._send_reminders(company, moves, step)
                    handled |= moves
                if Chain._can_commit():
                    self.env.cr.commit()  # pylint: disable=invalid-commit  # one step per transaction
