import re

from lxml import html

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from .common import EfakturaCase
from .mps_peer import MpsPeer


@tagged("post_install", "-at_install")
class TestIssuerAgreement(EfakturaCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", cls.base_url())
        cls.company.write(
            {
                "efaktura_issuer_org_number": "123456785",
                "efaktura_billing_account": "86011117947",
                "efaktura_contact_email": "faktura@nordlys.example.com",
            }
        )

    def approval_mail(self):
        return (
            self.env["mail.mail"]
            .sudo()
            .search([("model", "=", "res.company"), ("res_id", "=", self.company.id)], order="id desc", limit=1)
        )

    def test_submit_needs_the_issuer_data(self):
        company = self.env["res.company"].create({"name": "Tom AS", "efaktura_switched_on": True})
        with self.assertRaisesRegex(UserError, "Issuer organisation number.*Billing account number"):
            self.env["efaktura.issuer"]._submit(company)
        self.assertEqual(company.efaktura_issuer_state, "inactive")

    def test_sandbox_approves_through_an_emailed_link(self):
        self.env["efaktura.issuer"]._submit(self.company)
        self.assertEqual(self.company.efaktura_issuer_state, "pending_approval")
        mail = self.approval_mail()
        # To the contact address: as an address (18.0), or as the contact it belongs to (19.0 makes one).
        self.assertEqual(mail.email_to or ",".join(mail.recipient_ids.mapped("email")), "faktura@nordlys.example.com")
        path = re.search(r"/efaktura/sandbox/issuer/\d+/[0-9a-f]+", mail.body_html).group(0)
        self.assertEqual(self.url_open(path[:-2] + "00").status_code, 404, "a wrong token is refused")
        page = self.url_open(path)
        self.assertEqual(page.status_code, 200)
        self.assertEqual(self.company.efaktura_issuer_state, "pending_approval", "opening the link approves nothing")
        form = html.fromstring(page.content).forms[0]
        answer = self.opener.post(self.base_url() + form.action, data=dict(form.form_values()), timeout=30)
        self.assertEqual(answer.status_code, 200)
        self.assertIn("is active", answer.text)
        self.company.invalidate_recordset()
        self.assertEqual(self.company.efaktura_issuer_state, "active")
        self.env["efaktura.issuer"]._deactivate(self.company)
        self.assertEqual(self.company.efaktura_issuer_state, "inactive")
        # The approval route does not exist outside sandbox mode.
        self.company.efaktura_network_mode = "production"
        self.assertEqual(self.url_open(path).status_code, 404)

    def test_production_goes_through_mps(self):
        with MpsPeer() as peer:
            self.company.write(
                {
                    "efaktura_network_mode": "production",
                    "efaktura_production_route": "mps",
                    "efaktura_mps_endpoint": peer.url,
                    "efaktura_mps_client_cert": __file__,  # plain HTTP to the local peer: no TLS is made
                }
            )
            self.env["efaktura.issuer"]._submit(self.company)
            self.assertEqual(self.company.efaktura_issuer_state, "pending_approval")
            self.assertEqual(peer.issuers["123456785"]["accountNumber"], "86011117947")
            # Not approved yet: MPS does not know the issuer (5002).
            peer.issuers.clear()
            self.env["efaktura.issuer"]._refresh(self.company)
            self.assertEqual(self.company.efaktura_issuer_state, "pending_approval")
            peer.add_issuer("123456785", self.company.name, "86011117947")
            self.env["efaktura.issuer"]._refresh(self.company)
            self.assertEqual(self.company.efaktura_issuer_state, "active")
            self.env["efaktura.issuer"]._deactivate(self.company)
            self.assertEqual(self.company.efaktura_issuer_state, "inactive")
            self.assertNotIn("123456785", peer.issuers)
            self.assertFalse(peer.errors, "every request matched the schema")

    def test_production_without_settings_says_what_is_missing(self):
        self.company.write({"efaktura_network_mode": "production", "efaktura_production_route": "mps"})
        with self.assertRaisesRegex(UserError, "MPS endpoint and client certificate"):
            self.env["efaktura.issuer"]._submit(self.company)
        with self.assertRaisesRegex(UserError, "production networks are not configured"):
            self.company._efaktura_network()
