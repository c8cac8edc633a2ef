from odoo import http
from odoo.http import request


class EfakturaController(http.Controller):
    @http.route(
        "/efaktura/document/<int:move_id>/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        csrf=False,
        sitemap=False,
    )
    def efaktura_document(self, move_id, token, **kwargs):
        """The invoice PDF behind a signed, time-limited link, for the nettbank and Vipps to show."""
        move = request.env["account.move"].sudo().browse(move_id).exists()
        if not move or not move._efaktura_check_document_token(token):
            return request.make_response(
                "This link is not valid or has expired.",
                headers=[("Content-Type", "text/plain; charset=utf-8")],
                status=403,
            )
        pdf, filename = move._efaktura_document_pdf()
        return request.make_response(
            pdf,
            headers=[
                ("Content-Type", "application/pdf"),
                ("Content-Disposition", http.content_disposition(filename, disposition_type="inline")),
                ("Cache-Control", "private, no-store"),
                ("X-Robots-Tag", "noindex, nofollow"),
            ],
        )
