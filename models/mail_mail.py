import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

KEPT = "efaktura_test"


class MailMail(models.Model):
    _inherit = "mail.mail"

    state = fields.Selection(
        selection_add=[(KEPT, "Kept in the eFaktura test inbox")],
        ondelete={KEPT: lambda mails: mails.write({"state": "cancel"})},
    )

    @api.model_create_multi
    def create(self, vals_list):
        """In Test mode (context ``efaktura_test_outbox``), the module's e-mails stay in the test inbox."""
        company_id = self.env.context.get("efaktura_test_outbox", {}).get("email")
        if company_id:
            for vals in vals_list:
                vals["state"] = KEPT
        mails = super().create(vals_list)
        if company_id:
            company = self.env["res.company"].browse(company_id)
            for mail in mails:
                self.env["efaktura.test.message"]._keep(
                    "email",
                    company,
                    {
                        "partner_id": mail.recipient_ids[:1].id,
                        "recipient": mail.email_to or ", ".join(mail.recipient_ids.mapped("email_formatted")),
                        "subject": mail.subject,
                        "body": mail.body_html,
                        "res_model": mail.model,
                        "res_id": mail.res_id,
                        "attachment_ids": [fields.Command.set(mail.attachment_ids.ids)],
                    },
                )
        return mails

    def send(self, auto_commit=False, raise_exception=False, post_send_callback=None):
        # EXTENDS 'mail': an e-mail kept in the test inbox never goes to a mail server. Odoo's own send skips
        # e-mails that are not outgoing one by one, but marks a whole batch as failed when it cannot connect.
        outgoing = self.filtered(lambda mail: mail.state != KEPT)
        return super(MailMail, outgoing).send(
            auto_commit=auto_commit, raise_exception=raise_exception, post_send_callback=post_send_callback
        )

    def _postprocess_sent_message(self, *args, **kwargs):
        # EXTENDS 'mail': what the mail server did with a consent request or an invoice e-mail is read back here,
        # before Odoo deletes a sent e-mail (the state is final by now). The arguments pass through as they come:
        # 19.0 added the addresses that took the e-mail (success_emails) beside the partners (success_pids).
        mails = self.sudo()
        consent_mails = mails.filtered(lambda m: m.model == "efaktura.consent")
        invoice_messages = mails.filtered(lambda m: m.model == "account.move").mail_message_id
        if consent_mails:
            self._efaktura_read_back(lambda: self.env["efaktura.consent.request"]._read_back_mails(consent_mails))
        res = super()._postprocess_sent_message(*args, **kwargs)
        if invoice_messages:

            def read_back_deliveries():
                deliveries = (
                    self.env["efaktura.delivery"]
                    .sudo()
                    .search([("mail_message_id", "in", invoice_messages.ids), ("state", "=", "submitted")])
                )
                self.env["efaktura.delivery"]._read_back(deliveries)

            self._efaktura_read_back(read_back_deliveries)
        return res

    def _efaktura_read_back(self, function):
        try:
            with self.env.cr.savepoint():
                function()
        except Exception:
            # The e-mail went as it went; the status cron reads the delivery back later.
            _logger.exception("eFaktura: could not read back e-mails %s", self.ids)
