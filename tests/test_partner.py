from odoo.exceptions import ValidationError
from odoo.tests import Form, new_test_user, tagged

from ..compat import PARTNER_MOBILE as MOBILE
from .common import EfakturaCase

# The field's label in the messages: Mobile on 18.0, Phone on 19.0.
LABEL = MOBILE.capitalize()


@tagged("post_install", "-at_install")
class TestPartnerCard(EfakturaCase):
    def test_private_person_follows_is_company(self):
        self.assertTrue(self.consumer.efaktura_private_person)
        self.consumer.is_company = True
        self.assertFalse(self.consumer.efaktura_private_person)

    def test_enabling_normalises_the_mobile(self):
        for raw in ("900 00 000", "0047 900 00 000", "+47 900-00-000", "90000000"):
            with self.subTest(raw=raw):
                self.consumer[MOBILE] = raw
                self.enable_b2c(self.consumer)
                self.assertEqual(self.consumer[MOBILE], "+4790000000")
                self.assertTrue(self.consumer.efaktura_b2c_customer)
                self.consumer.efaktura_receive_edocuments = False

    def test_mobile_of_enabled_consumer_stays_normalised(self):
        self.enable_b2c(self.consumer)
        self.assertEqual(self.consumer[MOBILE], "+4791234567")
        self.consumer[MOBILE] = "0047 412 34 567"
        self.assertEqual(self.consumer[MOBILE], "+4741234567")

    def test_create_enabled_normalises(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Ola Nordmann",
                MOBILE: "+47 900-00-000",
                "efaktura_receive_edocuments": True,
                "efaktura_access_point": "b2cno",
            }
        )
        self.assertEqual(partner[MOBILE], "+4790000000")

    def test_invalid_mobile_is_refused_naming_field_and_form(self):
        for raw in ("123", "+47 22 00 00 00", "+46 70 123 45 67"):
            with self.subTest(raw=raw), self.assertRaises(ValidationError) as caught:
                self.consumer[MOBILE] = raw
                self.enable_b2c(self.consumer)
            message = str(caught.exception)
            self.assertIn(LABEL, message)
            self.assertIn(raw, message)
            self.assertIn("+47 followed by 8 digits", message)

    def test_missing_mobile_is_refused(self):
        self.consumer[MOBILE] = False
        with self.assertRaisesRegex(ValidationError, rf"{LABEL}: a Norwegian mobile number is required"):
            self.enable_b2c(self.consumer)

    def test_breaking_the_mobile_later_is_refused(self):
        self.enable_b2c(self.consumer)
        with self.assertRaisesRegex(ValidationError, LABEL):
            self.consumer[MOBILE] = "22 00 00 00"

    def test_company_is_refused(self):
        company_partner = self.env["res.partner"].create(
            {"name": "Fjord Bygg AS", "is_company": True, MOBILE: "912 34 567"}
        )
        with self.assertRaisesRegex(ValidationError, "Fjord Bygg AS is a company"):
            self.enable_b2c(company_partner)
        self.enable_b2c(self.consumer)
        with self.assertRaisesRegex(ValidationError, "is a company"):
            self.consumer.is_company = True

    def test_avtalegiro_is_refused(self):
        other = self.consumer.copy()
        with self.assertRaisesRegex(ValidationError, "AvtaleGiro customer"):
            self.enable_b2c(other, efaktura_avtalegiro=True)
        self.enable_b2c(self.consumer)
        with self.assertRaisesRegex(ValidationError, "cannot be combined with AvtaleGiro"):
            self.consumer.efaktura_avtalegiro = True

    def test_rules_do_not_touch_partners_without_b2c(self):
        partner = self.env["res.partner"].create({"name": "Abroad", MOBILE: "+46 70 123 45 67"})
        partner.efaktura_avtalegiro = True
        self.assertEqual(partner[MOBILE], "+46 70 123 45 67")
        self.assertFalse(partner.efaktura_b2c_customer)
        # Receive eDocuments alone, without the B2CNO access point, does not enable B2C.
        partner.efaktura_receive_edocuments = True
        self.assertFalse(partner.efaktura_b2c_customer)

    def test_settings_are_per_company(self):
        other = self.env["res.company"].create({"name": "Other AS", "country_id": self.env.ref("base.no").id})
        self.enable_b2c(self.consumer)
        consumer_other = self.consumer.with_company(other)
        self.assertTrue(self.consumer.efaktura_b2c_customer)
        self.assertFalse(consumer_other.efaktura_b2c_customer)
        self.assertFalse(consumer_other.efaktura_receive_edocuments)
        self.assertEqual(consumer_other.efaktura_state, "not_checked")
        self.consumer._efaktura_set_state("active")
        self.assertEqual(consumer_other.efaktura_state, "not_checked")

    def test_search_b2c_enabled(self):
        self.enable_b2c(self.consumer)
        Partner = self.env["res.partner"]
        self.assertIn(self.consumer, Partner.search([("efaktura_b2c_customer", "=", True)]))
        self.assertNotIn(self.consumer, Partner.search([("efaktura_b2c_customer", "=", False)]))
        self.assertNotIn(self.consumer, Partner.search([("efaktura_b2c_customer", "!=", True)]))

    def test_state_is_read_only_with_date_and_chatter(self):
        self.assertEqual(self.consumer.efaktura_state, "not_checked")
        self.assertFalse(self.consumer.efaktura_state_date)
        self.assertTrue(self.consumer._fields["efaktura_state"].readonly)
        self.assertTrue(self.consumer._fields["efaktura_identifier"].readonly)
        self.assertTrue(self.consumer._fields["efaktura_found_in_vipps"].readonly)
        messages_before = len(self.consumer.message_ids)
        self.consumer._efaktura_set_state("consent_requested")
        self.assertEqual(self.consumer.efaktura_state, "consent_requested")
        self.assertTrue(self.consumer.efaktura_state_date)
        self.assertEqual(len(self.consumer.message_ids), messages_before + 1)
        self.assertIn("Consent requested", self.consumer.message_ids[0].body)
        # Setting the same state again logs nothing.
        self.consumer._efaktura_set_state("consent_requested")
        self.assertEqual(len(self.consumer.message_ids), messages_before + 1)

    def test_print_format_is_the_partner_invoice_report(self):
        report = self.env.ref("account.account_invoices")
        self.consumer.efaktura_print_format_id = report
        self.assertEqual(self.consumer.invoice_template_pdf_report_id, report)

    def test_form_tab_enables_and_normalises_on_save(self):
        with Form(self.as_user(self.consumer, self.billing_user)) as form:
            form[MOBILE] = "0047 412 34 567"
            form.efaktura_receive_edocuments = True
            form.efaktura_access_point = "b2cno"
        self.assertTrue(self.consumer.efaktura_b2c_customer)
        self.assertEqual(self.consumer[MOBILE], "+4741234567")


@tagged("post_install", "-at_install")
class TestPartnerRulesAcrossCompanies(EfakturaCase):
    """The customer is B2C in company A; a user works in company B, where the customer is an ordinary contact.
    Company A's rules still hold: a private person with a Norwegian mobile number."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.enable_b2c(cls.consumer)
        cls.company_b = cls.env["res.company"].create({"name": "Fjellet Regnskap AS"})
        cls.user_b = new_test_user(
            cls.env,
            login="efaktura_billing_b",
            groups="account.group_account_invoice,base.group_partner_manager",
            company_id=cls.company_b.id,
            company_ids=[cls.company_b.id],
        )
        cls.user_both = new_test_user(
            cls.env,
            login="efaktura_billing_both",
            groups="account.group_account_invoice,base.group_partner_manager",
            company_id=cls.company_b.id,
            company_ids=[cls.company_b.id, cls.company.id],
        )

    def in_company_b(self, user):
        return self.consumer.with_user(user).with_context(allowed_company_ids=[self.company_b.id])

    def test_landline_or_company_refused_from_another_company(self):
        for user in (self.user_b, self.user_both):
            consumer = self.in_company_b(user)
            self.assertFalse(consumer.efaktura_b2c_customer, "an ordinary contact in company B")
            with (
                self.subTest(user=user.login, change="landline"),
                self.assertRaises(ValidationError) as caught,
                Form(consumer) as form,
            ):
                form[MOBILE] = "22 22 22 22"
            self.assertIn(LABEL, str(caught.exception))
            # Names the company whose rule it is, to a user who may know it.
            company = self.company.name if self.company in user.company_ids else "another company"
            self.assertIn(f"receives B2C eFaktura from {company}", str(caught.exception))
            # assertRaises, not assertRaisesRegex: only the former rolls the refused write back.
            with self.subTest(user=user.login, change="company"), self.assertRaises(ValidationError) as caught:
                consumer.write({"is_company": True})
            self.assertIn("is a company", str(caught.exception))
            with self.subTest(user=user.login, change="letters"), self.assertRaises(ValidationError):
                consumer.write({MOBILE: "+47 9WALLACE"})
        self.consumer.invalidate_recordset()
        self.assertEqual(self.consumer[MOBILE], "+4791234567")
        self.assertFalse(self.consumer.is_company)

    def test_mobile_changed_from_another_company_is_normalised(self):
        with Form(self.in_company_b(self.user_b)) as form:
            form[MOBILE] = "0047 913 45 678"
        self.consumer.invalidate_recordset()
        self.assertEqual(self.consumer[MOBILE], "+4791345678")
        # Company B's own settings stay its own: AvtaleGiro there is allowed, B2C is only in company A.
        self.in_company_b(self.user_b).sudo().efaktura_avtalegiro = True
        self.assertTrue(self.consumer.with_company(self.company_b).efaktura_avtalegiro)
        self.assertFalse(self.consumer.efaktura_avtalegiro)
