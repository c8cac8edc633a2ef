import json
import re

from odoo import http
from odoo.http import request

from ..networks import maventa_contract

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class MaventaWebhookController(http.Controller):
    @http.route(
        "/efaktura/maventa/webhook/<int:company_id>/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        sitemap=False,
    )
    def efaktura_maventa_webhook(self, company_id, token, **kwargs):
        """Maventa's event about an invoice: a hint to read that invoice's state, never trusted as it is.

        Maventa's docs show no signature on events. The call is admitted by the secret in the address
        (256 bits, given to Maventa with the subscription and stored here only as a hash); the invoice's
        state is then read from Maventa's API with the company's own token, so a forged event can at most
        make the module ask Maventa once more.
        """
        company = request.env["res.company"].sudo().browse(company_id).exists()
        Webhook = request.env["efaktura.maventa.webhook"].sudo()
        if not company or not token.isascii() or not Webhook._check_token(company, token):
            return request.make_response("Forbidden", headers=[("Content-Type", "text/plain")], status=403)
        try:
            event = json.loads(request.httprequest.get_data() or b"{}")
        except ValueError:
            event = None
        invoice_id = ""
        if isinstance(event, dict):
            for field in maventa_contract.EVENT_INVOICE_ID_FIELDS:
                if isinstance(event.get(field), str) and _UUID.fullmatch(event[field]):
                    invoice_id = event[field]
                    break
        if not invoice_id:
            return request.make_response("No invoice id", headers=[("Content-Type", "text/plain")], status=400)
        Webhook._refresh_delivery(company, invoice_id)
        return request.make_response("", status=204)
