from odoo.exceptions import UserError
from odoo.tests import tagged

from .test_consent import ConsentCase


@tagged("post_install", "-at_install")
class TestOpenConsentPage(ConsentCase):
    """In Test mode the consent record and the customer's eFaktura tab open the customer's consent page."""

    def test_consent_record_opens_the_page(self):
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        self.assertEqual(consent.efaktura_mode, "test")
        action = consent.action_open_consent_page()
        self.assertEqual(action["type"], "ir.actions.act_url")
        page = self.url_open(action["url"])
        self.assertEqual(page.status_code, 200)
        self.assertIn("/bankid", page.text, "the page offers the BankID login")
        # The link of the SMS keeps working too.
        page = self.url_open(f"/efaktura/consent/{self.token_from_sms(self.ingrid)}")
        self.assertIn("/bankid", page.text)

    def test_customer_tab_opens_the_page(self):
        self.request_consent()
        partner = self.ingrid.with_company(self.company)
        self.assertTrue(partner.efaktura_test_mode)
        action = partner.action_efaktura_open_consent_page()
        page = self.url_open(action["url"])
        self.assertEqual(page.status_code, 200)
        self.assertIn("/bankid", page.text)

    def test_only_in_test_mode_and_for_open_requests(self):
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        url = consent.action_open_consent_page()["url"]
        self.company.efaktura_mode = "enabled"
        self.assertFalse(self.ingrid.with_company(self.company).efaktura_test_mode)
        with self.assertRaises(UserError):
            consent.action_open_consent_page()
        # A test link is worth nothing outside Test mode.
        self.assertNotIn("/bankid", self.url_open(url).text)
        self.company.efaktura_mode = "test"
        consent._expire()
        with self.assertRaises(UserError):
            consent.action_open_consent_page()
        with self.assertRaises(UserError):
            self.ingrid.with_company(self.company).action_efaktura_open_consent_page()

    def test_consumer_page_has_the_logo_and_no_sign_in(self):
        self.company.logo = self.env["ir.module.module"].search([("name", "=", "l10n_no_efaktura_b2c")]).icon_image
        self.request_consent()
        page = self.url_open(f"/efaktura/consent/{self.token_from_sms(self.ingrid)}")
        self.assertEqual(page.status_code, 200)
        self.assertNotIn("/web/login", page.text, "no Sign in link on the consumer's page")
        self.assertIn(f"/logo.png?company={self.company.id}", page.text)

    def test_test_phone_and_inbox_links_open_the_consent_page(self):
        # The e-mail shows the company's logo: its link is still the consent page, not the logo's address.
        self.company.logo = self.env["ir.module.module"].search([("name", "=", "l10n_no_efaktura_b2c")]).icon_image
        self.request_consent()
        kept = self.env["efaktura.test.message"].search([("partner_id", "=", self.ingrid.id)])
        self.assertEqual(sorted(kept.mapped("kind")), ["email", "sms"])
        # The form's breadcrumb names the message, not "efaktura.test.message,1".
        self.assertEqual(sorted(kept.mapped("display_name")), ["E-mail: Ingrid Hansen", "SMS: Ingrid Hansen"])
        for message in kept:
            with self.subTest(kind=message.kind):
                self.assertIn("/efaktura/consent/", message.link_url)
                page = self.url_open(message.link_url)
                self.assertEqual(page.status_code, 200)
                self.assertIn("/bankid", page.text)
        # The list and the form show the link as a clickable URL.
        for view_type in ("list", "form"):
            arch = self.env["efaktura.test.message"].get_view(view_type=view_type)["arch"]
            self.assertRegex(arch, r'name="link_url"[^>]*widget="url"')


@tagged("post_install", "-at_install")
class TestPublicPageLanguage(ConsentCase):
    """The module's public pages speak the customer's language, else the company's, else the browser's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("nb_NO")
        cls.env["ir.module.module"]._load_module_terms(["l10n_no_efaktura_b2c"], ["nb_NO"])

    def test_link_not_found_in_the_company_language(self):
        english = self.url_open("/efaktura/consent/" + "x" * 43, headers={"Accept-Language": "en-US,en"})
        self.assertEqual(english.status_code, 404)
        self.assertIn("Link not found", english.text)
        self.company.partner_id.lang = "nb_NO"
        norwegian = self.url_open("/efaktura/consent/" + "y" * 43, headers={"Accept-Language": "en-US,en"})
        self.assertEqual(norwegian.status_code, 404)
        self.assertIn("Fant ikke lenken", norwegian.text)

    def test_customer_without_language_gets_the_company_language(self):
        self.company.partner_id.lang = "nb_NO"
        self.ingrid.lang = False
        self.request_consent()
        page = self.url_open(
            f"/efaktura/consent/{self.token_from_sms(self.ingrid)}", headers={"Accept-Language": "en-US,en"}
        )
        self.assertIn("Godta med BankID", page.text)

    def test_customer_language_wins_over_the_company_language(self):
        self.company.partner_id.lang = "nb_NO"
        self.ingrid.lang = "en_US"
        self.request_consent()
        page = self.url_open(
            f"/efaktura/consent/{self.token_from_sms(self.ingrid)}", headers={"Accept-Language": "nb-NO,nb"}
        )
        self.assertIn("Accept with BankID", page.text)

    def test_bankid_simulator_page_in_the_customer_language(self):
        self.ingrid.lang = "nb_NO"
        self.request_consent()
        page = self.url_open(f"/efaktura/consent/{self.token_from_sms(self.ingrid)}")
        action_url, values = self.form(page, "/bankid")
        start = self.post(action_url, values)
        self.assertEqual(start.status_code, 303, start.text[:500])
        self.assertIn("ui_locales=nb-NO", start.headers["Location"])
        authorize = self.opener.get(start.headers["Location"], headers={"Accept-Language": "en-US,en"}, timeout=30)
        self.assertEqual(authorize.status_code, 200)
        self.assertIn("Testperson", authorize.text)
