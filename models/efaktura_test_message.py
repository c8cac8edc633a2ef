import html
import re

from odoo import api, fields, models

URL_RE = re.compile(r"https?://[^\s<>\"']+")
# In an e-mail, the first link the customer can click: not the company logo's image source.
HREF_RE = re.compile(r"""<a\s[^>]*href=["'](https?://[^"']+)["']""", re.IGNORECASE)

KINDS = [("sms", "SMS"), ("email", "E-mail"), ("letter", "Letter")]


class EfakturaTestMessage(models.Model):
    """The test phone and inbox: what the module would have sent to a person, kept inside Odoo in Test mode.

    In Test mode the module's SMS, e-mails and letters are created as usual, in the state "kept for test" that
    Odoo's SMS, mail and snailmail queues never send (see ``mail.mail``, ``sms.sms`` and ``snailmail.letter``),
    and a copy lands here, where a billing user can read it without developer mode.
    """

    _name = "efaktura.test.message"
    _description = "eFaktura test phone and inbox"
    _order = "id desc"

    kind = fields.Selection(KINDS, required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    partner_id = fields.Many2one("res.partner", string="Recipient", readonly=True)
    recipient = fields.Char(string="To", readonly=True, help="The mobile number, e-mail address or postal address.")
    subject = fields.Char(readonly=True)
    body = fields.Html(readonly=True, sanitize=True)
    body_text = fields.Text(string="SMS text", readonly=True)
    res_model = fields.Char(string="Related document model", readonly=True)
    res_id = fields.Many2oneReference(string="Related document", model_field="res_model", readonly=True)
    attachment_ids = fields.Many2many("ir.attachment", string="Attachments", readonly=True)
    link_url = fields.Char(
        string="Link", compute="_compute_link_url", help="The first link of the message, to open it as the customer."
    )

    @api.depends("kind", "partner_id", "recipient")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for message in self:
            who = message.partner_id.name or message.recipient or ""
            message.display_name = f"{kinds.get(message.kind, '')}: {who}"

    @api.depends("body_text", "body")
    def _compute_link_url(self):
        for message in self:
            body = str(message.body or "")
            href = HREF_RE.search(body)
            if href:
                message.link_url = html.unescape(href.group(1))
                continue
            match = URL_RE.search(message.body_text or "") or URL_RE.search(body)
            message.link_url = html.unescape(match.group(0)).rstrip(".,;)") if match else False

    @api.model
    def _keep(self, kind, company, values):
        """Record one kept message; ``values`` are field values of this model."""
        return self.sudo().create({"kind": kind, "company_id": company.id, **values})

    def action_open_document(self):
        self.ensure_one()
        if not (self.res_model and self.res_id):
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
            "views": [(False, "form")],
        }
