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

    _sql_constraints = [
        ("move_step_uniq", "unique(move_id, step)", "This reminder was already sent."),
    ]

    @api.model
    def _due_invoices(self, company, step, days, today):
        """Overdue, unpaid consumer invoices of the company that are due for this reminder step."""
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

        def due(move):
            steps = set(move.efaktura_reminder_ids.mapped("step"))
            return step not in steps and (step == 1 or step - 1 in steps)

        return moves.filtered(due)

    @api.model
    def _cron_send(self):
        """Send the reminders that are due, for every company that has them switched on."""
        today = fields.Date.context_today(self)
        Chain = self.env["efaktura.chain"]
        for company in self.env["res.company"].search(
            [("efaktura_enabled", "=", True), ("efaktura_reminder_enabled", "=", True)]
        ):
            for step, days in enumerate(company._efaktura_reminder_schedule(), start=1):
                moves = self._due_invoices(company, step, days, today)
                if not moves:
                    continue
                self.env.cr.execute(
                    SQL("SELECT id FROM account_move WHERE id IN %s FOR UPDATE SKIP LOCKED", tuple(moves.ids))
                )
                moves = moves.browse([row[0] for row in self.env.cr.fetchall()])
                moves = moves.filtered(lambda m, step=step: step not in m.efaktura_reminder_ids.mapped("step"))
                if moves:
                    Chain._send_reminders(company, moves, step)
                if Chain._can_commit():
                    self.env.cr.commit()  # pylint: disable=invalid-commit  # one step per transaction
