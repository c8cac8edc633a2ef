"""The fallback channels of the chain: e-mail with the PDF, a letter by post, and a task to print and post.

They go through Odoo's own Send & Print (e-mail), snailmail_account's letters and mail activities; what the mail
server or the snailmail service said at the hand-off is read back before the invoice counts as sent.
"""

import logging

from odoo import api, fields, models
from odoo.tools import SQL

from ..networks.base import NetworkError, NetworkUnavailable
from .efaktura_chain import DONE, MANUAL, NEXT, RENDER_ERROR

_logger = logging.getLogger(__name__)


class EfakturaFallbackSender(models.AbstractModel):
    _name = "efaktura.fallback.sender"
    _description = "eFaktura B2C fallback channels (e-mail, post, print and post)"

    @property
    def _chain(self):
        """The chain these channels belong to: its outbox rows, retry policy, chatter lines and labels."""
        return self.env["efaktura.chain"]

    def _applicable_email(self, moves, run):
        return {
            move: (True, self.env._("sent to %(email)s with the PDF", email=move.partner_id.email))
            if move.partner_id and move.partner_id.email
            else (False, self.env._("the customer has no e-mail address"))
            for move in moves
        }

    def _applicable_post(self, moves, run):
        letter = self.env["snailmail.letter"]
        return {
            move: (True, self.env._("a letter to the customer's address"))
            if move.partner_id and letter._is_valid_address(move.partner_id)
            else (False, self.env._("the customer's postal address is incomplete"))
            for move in moves
        }

    def _applicable_manual(self, moves, run):
        return {move: (True, self.env._("nothing else is possible: a task to print and post it")) for move in moves}

    def _send_email(self, moves, run):
        deliveries = self.env["efaktura.delivery"]._prepare_for_run("email", moves, run)
        outcomes = {}
        first_message = self._next_message_id()
        send_errors = set()  # the invoices Send & Print reported an error for (account.move.send._hook_if_errors)
        failures = self.with_context(efaktura_send_errors=send_errors)._generate_and_send_emails(moves, run)
        for move, error in failures.items():
            _logger.warning("eFaktura e-mail of %s could not be rendered or handed over: %s", move.name, error)
            outcomes[move] = self._chain._attempt_failed(deliveries[move], move, self._render_error(error), run)
        tried = moves.filtered(lambda m: m not in failures)
        failed = tried.filtered(lambda m: m.id in send_errors)
        if failed:
            failed.sending_data = False
            for move in failed:
                outcomes[move] = self._chain._attempt_failed(
                    deliveries[move], move, NetworkError(self.env._("the e-mail could not be generated")), run
                )
        sent = tried - failed
        if not sent:
            return outcomes
        messages = self._invoice_messages(sent, first_message)
        for move in sent:
            deliveries[move].mail_message_id = messages.get(move.id, False)
        # In tests, and for a few recipients, Odoo sends at once: what the mail server said is known already.
        readback = self.env["efaktura.delivery"]._handoff_outcomes([deliveries[move] for move in sent])
        refused = sent.filtered(lambda m: readback[deliveries[m]][0] == "failed")
        for move in refused:
            _state, reason, code = readback[deliveries[move]]
            outcomes[move] = self._handoff_refused(deliveries[move], move, reason, code, run)
        handed = sent - refused
        if handed:
            self._finish_fallback("email", handed, deliveries, run)
            confirmed = [deliveries[m].id for m in handed if readback[deliveries[m]][0] == "confirmed"]
            self.env["efaktura.delivery"].sudo().browse(confirmed)._set_state("accepted")
            for move in handed:
                outcomes[move] = DONE
                run.log(move, self.env._("Sent by e-mail to %(email)s with the PDF.", email=move.partner_id.email))
        return outcomes

    @api.model
    def _render_error(self, error):
        """A failure to render the PDF or hand the e-mail over: retried with backoff like a network outage."""
        detail = str(error).strip().splitlines()[0][:200] if str(error).strip() else error.__class__.__name__
        return NetworkUnavailable(
            self.env._("the invoice PDF could not be rendered or the e-mail handed over (%(error)s)", error=detail),
            code=RENDER_ERROR,
        )

    def _generate_and_send_emails(self, moves, run):
        """Odoo's Send & Print for these moves; returns {move: error} for those it could not render or hand over.

        A batch whose rendering fails (wkhtmltopdf on an unpatched Qt cannot render several invoices in one call,
        "Cannot read an empty file") is tried again one invoice at a time before any invoice counts as failed.
        """
        try:
            self._account_send(moves, run)
            return {}
        except Exception as error:  # noqa: BLE001  # any failure of the batch: tried one by one
            if len(moves) == 1:
                return {moves: error}
            _logger.info("eFaktura: rendering %s invoices at once failed (%s); one at a time now", len(moves), error)
        failures = {}
        for move in moves:
            try:
                self._account_send(move, run)
            except Exception as error:  # noqa: BLE001  # reported per invoice, retried with backoff
                failures[move] = error
        return failures

    def _account_send(self, moves, run):
        reminder_settings = (
            {"mail_template": self.env.ref("l10n_no_efaktura_b2c.mail_template_reminder")} if run.reminder_step else {}
        )
        user = self.env.user
        # In Test mode the e-mails stay in the test inbox, unless real e-mails are allowed.
        outbox = run.company._efaktura_test_outbox()
        with self.env.cr.savepoint():
            self.env["account.move.send"].with_context(
                **outbox, efaktura_render_batch=True
            )._generate_and_send_invoices(
                moves.with_context(**outbox),
                from_cron=True,
                allow_raising=False,
                sending_methods={"email"},
                author_user_id=user.id,
                author_partner_id=user.partner_id.id,
                **reminder_settings,
            )

    @api.model
    def _next_message_id(self):
        self.env.cr.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM mail_message")
        return self.env.cr.fetchone()[0]

    @api.model
    def _invoice_messages(self, moves, first_id):
        """The newest e-mail message posted on each move since ``first_id``: {move id: message}."""
        messages = (
            self.env["mail.message"]
            .sudo()
            .search(
                [
                    ("model", "=", "account.move"),
                    ("res_id", "in", moves.ids),
                    ("message_type", "=", "comment"),
                    ("id", ">=", first_id),
                ],
                order="id",
            )
        )
        return {message.res_id: message for message in messages}

    def _send_post(self, moves, run):
        deliveries = self.env["efaktura.delivery"]._prepare_for_run("post", moves, run)
        # snailmail_account's own letter values, with the customer's own invoice report where they have one, as
        # Send & Print prints it; created with their chatter in one batch.
        send = self.env["account.move.send"]
        values = []
        for move in moves:
            letter_values = send._prepare_snailmail_letter_values(move)
            if move.partner_id.invoice_template_pdf_report_id:
                letter_values["report_template"] = move.partner_id.invoice_template_pdf_report_id.id
            values.append({**letter_values, "user_id": self.env.user.id})
        letters = (
            self.env["snailmail.letter"]
            .sudo()
            .with_context(**run.company._efaktura_test_outbox())  # Test mode: never printed or posted
            ._efaktura_create_batch(values)
        )
        self._link_deliveries(
            {deliveries[move].id: letter.id for move, letter in zip(moves, letters, strict=True)},
            "snailmail_letter_id",
        )
        letters._snailmail_print(immediate=False)
        readback = self.env["efaktura.delivery"]._handoff_outcomes([deliveries[move] for move in moves])
        outcomes = {}
        for move in moves:
            state, reason, code = readback[deliveries[move]]
            if state == "failed":
                outcomes[move] = self._handoff_refused(deliveries[move], move, reason, code, run)
        handed = moves.filtered(lambda m: m not in outcomes)
        for move in handed:
            outcomes[move] = DONE
            run.log(move, self.env._("Sent by post to the customer's address."))
        if handed:
            self._finish_fallback("post", handed, deliveries, run)
        return outcomes

    def _link_deliveries(self, values, field):
        """Write one many2one of many deliveries ({delivery id: record id}) in one statement."""
        if not values:
            return
        Delivery = self.env["efaktura.delivery"].sudo()
        Delivery.flush_model([field])
        self.env.cr.execute(
            SQL(
                "UPDATE efaktura_delivery AS d SET %s = v.target FROM (VALUES %s) AS v(id, target) WHERE d.id = v.id",
                SQL.identifier(field),
                SQL(", ").join(SQL("(%s, %s)", key, target) for key, target in values.items()),
            )
        )
        Delivery.browse(list(values)).invalidate_recordset([field])

    def _send_manual(self, moves, run):
        deliveries = self.env["efaktura.delivery"]._prepare_for_run(MANUAL, moves, run)
        todo = self.env.ref("mail.mail_activity_data_todo")
        model_id = self.env["ir.model"]._get_id("account.move")
        activities = (
            self.env["mail.activity"]
            .sudo()
            .create(
                [
                    {
                        "res_model_id": model_id,
                        "res_id": move.id,
                        "activity_type_id": todo.id,
                        "summary": self.env._("Print and post the reminder")
                        if run.reminder_step
                        else self.env._("Print and post"),
                        "note": self.env._(
                            "No channel could deliver this invoice: print it and post it to the customer."
                        ),
                        "user_id": run.company._efaktura_task_user(move).id,
                        "date_deadline": fields.Date.context_today(self),
                    }
                    for move in moves
                ]
            )
        )
        for move, activity in zip(moves, activities, strict=True):
            deliveries[move].write({"activity_id": activity.id, "cost": run.prices.get(MANUAL, 0.0)})
            run.log(
                move,
                self.env._(
                    "No channel could deliver it: a task to print and post it was given to %(user)s.",
                    user=activity.user_id.name,
                ),
            )
        self._chain._write_moves(
            run, moves, {"efaktura_state": "manual", "efaktura_channel": MANUAL, "efaktura_next_try": False}
        )
        return dict.fromkeys(moves, DONE)

    def _finish_fallback(self, channel, moves, deliveries, run):
        ids = [deliveries[move].id for move in moves]
        self.env["efaktura.delivery"].sudo().browse(ids)._set_state(
            "submitted", cost=run.prices.get(channel, 0.0), final=True, next_retry_at=False, last_error=False
        )
        self._chain._write_moves(
            run,
            moves,
            {
                "efaktura_state": "fallback_sent",
                "efaktura_channel": channel,
                "efaktura_next_try": False,
                "efaktura_retry_count": 0,
                "efaktura_error": False,
            },
        )

    def _handoff_refused(self, delivery, move, reason, code, run):
        """An e-mail or letter failed right at the hand-off, in this run: the walk takes the next channel."""
        self.env["efaktura.delivery"]._mark_handoff_failed(delivery, reason, code)
        run.log(
            move,
            self.env._(
                "%(channel)s did not reach the customer: %(reason)s. Trying the next channel.",
                channel=self._chain._label(delivery.channel),
                reason=reason,
            ),
        )
        return NEXT
