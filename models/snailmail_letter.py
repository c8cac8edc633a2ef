import logging

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

KEPT = "efaktura_test"


class SnailmailLetter(models.Model):
    _inherit = "snailmail.letter"

    state = fields.Selection(
        selection_add=[(KEPT, "Kept in the eFaktura test inbox")],
        ondelete={KEPT: lambda letters: letters.write({"state": "canceled"})},
    )

    @api.model_create_multi
    def create(self, vals_list):
        """In Test mode (context ``efaktura_test_outbox``), the module's letters are never printed or posted."""
        company_id = self.env.context.get("efaktura_test_outbox", {}).get("letter")
        if company_id:
            for vals in vals_list:
                vals["state"] = KEPT
        letters = super().create(vals_list)
        if company_id:
            company = self.env["res.company"].browse(company_id)
            for letter in letters:
                partner = letter.partner_id
                address = ", ".join(
                    part for part in (partner.name, partner.street, partner.zip, partner.city) if part
                )
                self.env["efaktura.test.message"]._keep(
                    "letter",
                    company,
                    {
                        "partner_id": partner.id,
                        "recipient": address,
                        "subject": letter.display_name,
                        "res_model": letter.model,
                        "res_id": letter.res_id,
                    },
                )
        return letters

    def _snailmail_print(self, immediate=True):
        """A letter kept for test is never sent to the print service."""
        return super(SnailmailLetter, self.filtered(lambda letter: letter.state != KEPT))._snailmail_print(immediate)

    def write(self, vals):
        # EXTENDS 'snailmail': a letter of an eFaktura delivery that was posted, failed or was cancelled is read back.
        res = super().write(vals)
        if vals.get("state") in ("sent", "error", "canceled"):
            deliveries = (
                self.env["efaktura.delivery"]
                .sudo()
                .search([("snailmail_letter_id", "in", self.ids), ("state", "=", "submitted")])
            )
            if deliveries:
                try:
                    with self.env.cr.savepoint():
                        self.env["efaktura.chain"]._read_back(deliveries)
                except Exception:
                    _logger.exception("eFaktura: could not read back letters %s", self.ids)
        return res
