from odoo import api, fields, models

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
