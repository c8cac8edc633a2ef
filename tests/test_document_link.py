import time

from odoo.tests import HttpCase, tagged

from .common import EfakturaInvoiceCase


@tagged("post_install", "-at_install")
class TestDocumentLink(EfakturaInvoiceCase, HttpCase):
    def test_signed_link_serves_the_pdf(self):
        move = self.make_invoice(self.ola)
        url = move._efaktura_document_url()
        path = url[len(move.get_base_url()) :]
        response = self.url_open(path)
        self.assertEqual(response.status_code, 200)
        self.assertIn("inline", response.headers["Content-Disposition"])
        self.assertTrue(response.content)

    def test_tampered_or_expired_link_is_refused(self):
        move = self.make_invoice(self.ola)
        other = self.make_invoice(self.kari)
        path = move._efaktura_document_url()[len(move.get_base_url()) :]
        expires, _signature = path.rsplit("/", 1)[1].split(".")
        tampered = [
            path[:-1] + ("0" if path[-1] != "0" else "1"),  # signature changed
            path.replace(f"/{move.id}/", f"/{other.id}/"),  # another invoice
            path.replace(f"/{expires}.", f"/{int(expires) + 3600}."),  # validity stretched
            f"/efaktura/document/{move.id}/{expires}",  # no signature
            f"/efaktura/document/{move.id}/garbage",
        ]
        for bad in tampered:
            with self.subTest(path=bad):
                response = self.url_open(bad)
                self.assertEqual(response.status_code, 403)
                self.assertNotIn(move.name.encode(), response.content)
        expired = move._efaktura_document_url(ttl=-10)[len(move.get_base_url()) :]
        self.assertEqual(self.url_open(expired).status_code, 403)
        self.assertLess(int(expired.rsplit("/", 1)[1].split(".")[0]), time.time())
        self.assertEqual(self.url_open("/efaktura/document/999999999/1.abc").status_code, 403)
