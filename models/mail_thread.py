from odoo import models


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    def _message_compute_author(self, author_id=None, email_from=None, **kwargs):
        """A customer's own step on an eFaktura public page (consent, BankID callback, withdrawal) is logged with
        the customer as author, not "Public user" (see ``efaktura.consent._as_customer``)."""
        customer = self.env.context.get("efaktura_customer_author")
        if author_id is None and not email_from and customer and self.env.user._is_public():
            author_id = customer
        return super()._message_compute_author(author_id, email_from, **kwargs)  # 18.0 also takes raise_on_email
