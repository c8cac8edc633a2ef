from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL, format_date

from .. import compat
from .efaktura_chain import DispatchRun
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

    _move_step_uniq = compat.Constraint("unique(move_id, step)", "This reminder was already sent.")

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
                    self._send_reminders(company, moves, step)
                    handled |= moves
                if Chain._can_commit():
                    self.env.cr.commit()  # pylint: disable=invalid-commit  # one step per transaction

    def _send_reminders(self, company, moves, step):
        """Send reminder ``step`` of these overdue invoices, each first by the channel the invoice took.

        A step that a retryable error held back stays "to retry" and is sent again by the reminder cron when its
        retry is due; it counts as done, and its fee is invoiced, only once a channel delivered it.
        """
        Reminder = self.env["efaktura.reminder"].sudo()
        existing = Reminder.search([("move_id", "in", moves.ids), ("step", "=", step)])
        new_moves = moves - existing.move_id
        due_date = self._reminder_due_date()
        reminders = existing | Reminder.create(
            [
                {
                    "move_id": move.id,
                    "company_id": company.id,
                    "step": step,
                    "due_date": due_date,
                    "amount": move.amount_residual,
                    "state": "retry",
                }
                for move in new_moves
            ]
        )
        Chain = self.env["efaktura.chain"]
        run = DispatchRun(Chain, company, moves, reminder_step=step)
        # The due date a reminder was first given stays: a retry is the same document.
        run.reminder_due = {reminder.move_id: reminder.due_date for reminder in reminders}
        for move in moves:
            if move.efaktura_channel in run.order:
                run.exhausted[move].update(run.order[: run.order.index(move.efaktura_channel)])
        for due, group in reminders.grouped("due_date").items():
            Chain.with_context(efaktura_reminder_due=fields.Date.to_string(due))._walk(run, group.move_id)
        delivered = Reminder.browse()
        today = fields.Date.context_today(self)
        for reminder in reminders:
            move = reminder.move_id
            taken = [code for code in run.order if Chain._delivered(run.delivery(move, code))]
            if taken:
                reminder.write({"state": "sent", "channel": taken[0], "sent_date": today, "next_try": False})
                delivered |= reminder
                run.log(
                    move,
                    self.env._(
                        "Reminder %(step)s sent by %(channel)s, with %(due)s as the new due date.",
                        step=step,
                        channel=Chain._label(taken[0]),
                        due=format_date(self.env, reminder.due_date),
                    ),
                )
                continue
            retries = [
                delivery.next_retry_at
                for code in run.order
                if (delivery := run.delivery(move, code))
                and delivery.state == "failed"
                and not delivery.final
                and delivery.next_retry_at
            ]
            next_try = min(retries) if retries else fields.Datetime.now() + timedelta(days=1)
            reminder.write({"state": "retry", "channel": False, "next_try": next_try})
            run.log(
                move,
                self.env._(
                    "Reminder %(step)s is not sent yet: it is tried again at %(at)s.",
                    step=step,
                    at=Chain._format_when(next_try),
                ),
            )
        Chain._flush_logs(run)
        fees = delivered.filtered(lambda r: not r.fee_move_id)
        if company.efaktura_reminder_fee > 0 and fees:
            self._invoice_reminder_fees(fees, company.efaktura_reminder_fee)
        return reminders

    def _invoice_reminder_fees(self, reminders, fee):
        """The reminder fee is an invoice of its own, with its own KID, sent through the chain as usual."""
        fee_moves = self.env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "company_id": reminder.company_id.id,
                    "journal_id": reminder.move_id.journal_id.id,
                    "partner_id": reminder.move_id.partner_id.id,
                    "invoice_date": fields.Date.context_today(self),
                    "invoice_date_due": reminder.due_date,
                    "invoice_origin": reminder.move_id.name,
                    "invoice_line_ids": [
                        fields.Command.create(
                            {
                                "name": self.env._("Reminder fee, %(invoice)s", invoice=reminder.move_id.name),
                                "quantity": 1,
                                "price_unit": fee,
                                "tax_ids": [fields.Command.clear()],
                            }
                        )
                    ],
                }
                for reminder in reminders
            ]
        )
        fee_moves.action_post()
        for reminder, fee_move in zip(reminders, fee_moves, strict=True):
            reminder.fee_move_id = fee_move
        fee_moves._efaktura_queue()

    @api.model
    def _reminder_due_date(self):
        """A reminder gives the customer at least 14 days (inkassoloven § 9)."""
        return fields.Date.context_today(self) + timedelta(days=14)
