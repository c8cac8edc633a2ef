import time
from datetime import datetime, timedelta

from odoo import Command
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
        revision, expires, _signature = path.rsplit("/", 1)[1].split(".")
        tampered = [
            path[:-1] + ("0" if path[-1] != "0" else "1"),  # signature changed
            path.replace(f"/{move.id}/", f"/{other.id}/"),  # another invoice
            path.replace(f".{expires}.", f".{int(expires) + 3600}."),  # validity stretched
            path.replace(f"/{revision}.", f"/{int(revision) + 1}."),  # another revision
            f"/efaktura/document/{move.id}/{revision}.{expires}",  # no signature
            f"/efaktura/document/{move.id}/garbage",
        ]
        for bad in tampered:
            with self.subTest(path=bad):
                response = self.url_open(bad)
                self.assertEqual(response.status_code, 403)
                self.assertNotIn(move.name.encode(), response.content)
        expired = move._efaktura_document_url(ttl=-10)[len(move.get_base_url()) :]
        self.assertEqual(self.url_open(expired).status_code, 403)
        self.assertLess(int(expired.rsplit("/", 1)[1].split(".")[1]), time.time())
        self.assertEqual(self.url_open("/efaktura/document/999999999/1.abc").status_code, 403)

    def path_of(self, move):
        return move._efaktura_document_url()[len(move.get_base_url()) :]

    def test_link_lives_until_some_months_after_the_due_date(self):
        """Not 16 months from today: until three months after the due date (of a 30-day invoice: about four
        months), or three months from today for an invoice already overdue."""
        move = self.make_invoice(self.ola)
        expires = datetime.fromtimestamp(int(self.path_of(move).rsplit("/", 1)[1].split(".")[-2]))
        self.assertEqual(move.invoice_date_due, move.invoice_date + timedelta(days=30))
        self.assertGreater(expires.date(), move.invoice_date_due + timedelta(days=88))
        self.assertLess(expires.date(), move.invoice_date_due + timedelta(days=93))
        overdue = self.make_invoice(self.ola, post=False)
        overdue.write({"invoice_date": "2020-01-01", "invoice_date_due": "2020-01-31"})
        overdue.action_post()
        expires = datetime.fromtimestamp(int(self.path_of(overdue).rsplit("/", 1)[1].split(".")[-2]))
        self.assertGreater(expires, datetime.now() + timedelta(days=88))
        self.assertLess(expires, datetime.now() + timedelta(days=93))

    def test_old_link_does_not_serve_the_invoice_after_reset_edit_and_repost(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(move.efaktura_channel, "nettbank")
        old = self.path_of(move)
        self.assertEqual(self.url_open(old).status_code, 200)
        move.button_draft()
        self.env["efaktura.take.back"]._process(move)  # taken back at the network after the commit, then reset
        self.assertEqual(move.state, "draft")
        self.assertEqual(self.url_open(old).status_code, 403, "a draft is not served")
        move.write({"invoice_line_ids": [Command.update(move.invoice_line_ids.id, {"price_unit": 2500.0})]})
        move.action_post()
        response = self.url_open(old)
        self.assertEqual(response.status_code, 403, "the old link is of the old revision")
        self.assertNotIn(b"%PDF", response.content)
        self.assertEqual(self.url_open(self.path_of(move)).status_code, 200, "the new revision's link works")
