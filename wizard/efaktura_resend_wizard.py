from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.efaktura_chain import DispatchRun

RESEND_CHANNELS = [
    ("email", "E-mail with the PDF"),
    ("post", "Post (snailmail letter)"),
    ("manual", "Print and post by hand"),
]


class EfakturaResendWizard(models.TransientModel):
    """Send invoices that need attention by another channel than the one the chain took."""

    _name = "efaktura.resend.wizard"
    _description = "Send eFaktura invoices by another channel"

    move_ids = fields.Many2many("account.move", string="Invoices", required=True)
    channel = fields.Selection(RESEND_CHANNELS, required=True, default="email")
    problem = fields.Text(compute="_compute_problem", help="Why some invoices cannot go by this channel.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "move_ids" in fields_list and self.env.context.get("active_model") == "account.move":
            values["move_ids"] = [fields.Command.set(self.env.context.get("active_ids") or [])]
        return values

    def _verdicts(self):
        """For each invoice, whether the chosen channel can take it and why not."""
        self.ensure_one()
        chain = self.env["efaktura.chain"]
        verdicts = {}
        for company, moves in self.move_ids.grouped("company_id").items():
            run = DispatchRun(chain, company, moves, dry_run=True)
            verdicts.update(chain._applicable(self.channel, moves, run))
        return verdicts

    @api.depends("move_ids", "channel")
    def _compute_problem(self):
        for wizard in self:
            if not wizard.move_ids or not wizard.channel:
                wizard.problem = False
                continue
            lines = [f"{move.name}: {reason}" for move, (ok, reason) in wizard._verdicts().items() if not ok and reason]
            wizard.problem = "\n".join(lines) or False

    def action_send(self):
        self.ensure_one()
        moves = self.move_ids.filtered(lambda m: m.state == "posted" and m.is_sale_document(include_receipts=False))
        if not moves:
            raise UserError(self.env._("Only posted customer invoices can be sent."))
        if moves.filtered(lambda m: m.efaktura_state in ("queued", "awaiting_consent")):
            raise UserError(
                self.env._("Some invoices are still queued or waiting for consent: let the chain finish first.")
            )
        if self.problem:
            raise UserError(self.problem)
        chain = self.env["efaktura.chain"]
        for company, company_moves in moves.grouped("company_id").items():
            run = DispatchRun(chain, company, company_moves)
            chain._send(self.channel, company_moves, run)
            chain._flush_logs(run)
        if self.channel != "manual":
            self._close_print_tasks(moves.filtered(lambda m: m.efaktura_state == "fallback_sent"))
        return {"type": "ir.actions.act_window_close"}

    def _close_print_tasks(self, moves):
        """Invoices now sent another way no longer need printing: cancel their open "Print and post" tasks."""
        tasks = (
            self.env["efaktura.delivery"]
            .sudo()
            .search([("move_id", "in", moves.ids), ("channel", "=", "manual"), ("state", "=", "pending")])
        )
        if tasks:
            tasks.activity_id.unlink()
            tasks._set_state("cancelled", final=True)

    @api.model
    def _mark_printed(self, moves):
        """These invoices were printed and posted by hand: close their tasks and count them as delivered."""
        tasks = (
            self.env["efaktura.delivery"]
            .sudo()
            .search([("move_id", "in", moves.ids), ("channel", "=", "manual"), ("state", "=", "pending")])
        )
        if not tasks:
            raise UserError(self.env._("There is no open print and post task to mark as done."))
        tasks._set_state("submitted", final=True, next_retry_at=False, last_error=False)
        tasks.activity_id.action_feedback(feedback=self.env._("Printed and posted."))
        printed = tasks.move_id
        printed._efaktura_write(
            {"efaktura_state": "fallback_sent", "efaktura_channel": "manual", "efaktura_next_try": False}
        )
        printed._efaktura_log(
            dict.fromkeys(printed.ids, self.env._("Printed and posted by %(user)s.", user=self.env.user.name))
        )
        return True
