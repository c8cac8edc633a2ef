import logging

from odoo import models

_logger = logging.getLogger(__name__)


class SmsSms(models.Model):
    _inherit = "sms.sms"

    def write(self, vals):
        # EXTENDS 'sms': the consent requests read back what became of their SMS.
        res = super().write(vals)
        if "state" in vals:
            consents = self.env["efaktura.consent"].sudo().search([("sms_id", "in", self.ids)])
            if consents:
                try:
                    with self.env.cr.savepoint():
                        consents._read_back_sms()
                except Exception:
                    _logger.exception("eFaktura: could not read back SMS %s", self.ids)
        return res
