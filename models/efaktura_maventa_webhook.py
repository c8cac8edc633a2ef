import hashlib
import logging
import secrets

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import consteq

from ..networks.base import NetworkError

_logger = logging.getLogger(__name__)


class EfakturaMaventaWebhook(models.AbstractModel):
    """Maventa's webhook: subscribing a company with a secret address (only its hash is kept on the company), checking
    the secret of an incoming call, and reading the state of the invoice the call names; see controllers/maventa.py."""

    _name = "efaktura.maventa.webhook"
    _description = "eFaktura B2C Maventa webhook"

    @api.model
    def _subscribe(self, companies):
        """Ask Maventa to call this database when an invoice is delivered or fails; the URL holds a fresh secret."""
        companies.check_access("write")
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for company in companies:
            token = secrets.token_urlsafe(32)  # 256 bits
            destination = f"{base_url.rstrip('/')}/efaktura/maventa/webhook/{company.id}/{token}"
            try:
                self.env["efaktura.network.factory"]._maventa_client(company).subscribe_webhook(destination)
            except NetworkError as error:
                raise UserError(self.env._("Maventa refused the webhook: %(error)s", error=error)) from error
            company.sudo().efaktura_maventa_webhook_hash = hashlib.sha256(token.encode()).hexdigest()
        return True

    @api.model
    def _check_token(self, company, token):
        company.ensure_one()
        stored = company.sudo().efaktura_maventa_webhook_hash
        return bool(stored) and consteq(stored, hashlib.sha256(token.encode()).hexdigest())

    @api.model
    def _refresh_delivery(self, company, invoice_id):
        """Read one Maventa invoice's state, as a webhook asked, and apply it to its delivery."""
        company.ensure_one()
        Delivery = self.env["efaktura.delivery"].sudo()
        delivery = Delivery.search(
            [("company_id", "=", company.id), ("network", "=", "maventa"), ("network_reference", "=", invoice_id)],
            limit=1,
        )
        if not delivery or delivery.state in ("paid", "rejected", "cancelled"):
            return False
        try:
            results = company._efaktura_network().status(delivery.channel, [invoice_id])
        except (NetworkError, UserError) as error:
            _logger.info("Maventa webhook: the state of %s could not be read: %s", invoice_id, error)
            return False
        self.env["efaktura.delivery"].sudo()._apply_statuses(delivery, results)
        return True
