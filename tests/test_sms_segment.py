from odoo.tests import tagged

from .common import EfakturaInvoiceCase

# GSM 03.38: the basic alphabet counts one character each, the extension table two (escape + character).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


def gsm7_length(text):
    """The length of ``text`` in GSM-7 septets, or None when a character is outside GSM 03.38."""
    length = 0
    for char in text:
        if char in GSM7_BASIC:
            length += 1
        elif char in GSM7_EXTENSION:
            length += 2
        else:
            return None
    return length


@tagged("post_install", "-at_install")
class TestConsentSmsSegment(EfakturaInvoiceCase):
    """The consent SMS is one GSM-7 segment (160 characters of GSM 03.38) in English and in Norwegian, with a
    realistic company name and a production-length link."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("nb_NO")
        cls.env["ir.module.module"]._load_module_terms(["l10n_no_efaktura_b2c"], ["nb_NO"])
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.nordlys-elektro.no")
        cls.company.name = "Nordlys Elektro AS"
        cls.ingrid.lang = "nb_NO"
        cls.per.lang = "en_US"

    def consent_sms(self, partner):
        move = self.dispatch(self.make_invoice(partner))
        self.assertEqual(move.efaktura_state, "awaiting_consent")
        sms = self.env["sms.sms"].sudo().search([("partner_id", "=", partner.id)])
        self.assertEqual(len(sms), 1)
        return sms.body

    def assert_one_segment(self, body):
        self.assertIn("https://erp.nordlys-elektro.no/efaktura/consent/", body)
        self.assertIn("Nordlys Elektro AS", body)
        outside = sorted({c for c in body if c not in GSM7_BASIC | GSM7_EXTENSION})
        self.assertEqual(outside, [], f"characters outside GSM 03.38 in {body!r}")
        self.assertLessEqual(gsm7_length(body), 160, body)

    def test_english_sms_is_one_segment(self):
        body = self.consent_sms(self.per)
        self.assert_one_segment(body)
        self.assertIn("BankID", body)

    def test_norwegian_sms_is_one_segment(self):
        body = self.consent_sms(self.ingrid)
        self.assert_one_segment(body)
        self.assertIn("Godkjenn med BankID", body)

    def test_gsm7_length_counts_extension_and_refuses_others(self):
        self.assertEqual(gsm7_length("Æøå"), 3)
        self.assertEqual(gsm7_length("€"), 2)
        self.assertIsNone(gsm7_length("–"))
