import logging

from odoo import models

_logger = logging.getLogger(__name__)


class SnailmailLetter(models.Model):
    _inherit = "snailmail.letter"

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
