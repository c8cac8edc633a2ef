from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import EfakturaCase


@tagged("post_install", "-at_install")
class TestCompanySettings(EfakturaCase):
    def test_defaults(self):
        company = self.env["res.company"].create({"name": "Fersk AS"})
        self.assertEqual(company.efaktura_mode, "disabled", "a new company sends nothing until a mode is chosen")
        self.assertFalse(company.efaktura_switched_on)
        self.assertEqual(company.efaktura_network_mode, "sandbox")
        self.assertEqual(company.efaktura_issuer_state, "inactive")
        self.assertEqual(company.efaktura_consent_days, 3)
        self.assertEqual(company._efaktura_channel_order(), ["vipps", "nettbank", "email", "post"])
        self.assertEqual(company.efaktura_channel_ids.currency_id, self.env.ref("base.NOK"))

    def test_channel_order_is_data(self):
        channels = {c.code: c for c in self.company.efaktura_channel_ids}
        channels["email"].sequence = 1
        channels["vipps"].active = False
        self.assertEqual(self.company._efaktura_channel_order(), ["email", "nettbank", "post"])
        channels["post"].price = 21.5
        self.assertEqual(channels["post"].price, 21.5)
        with self.assertRaisesRegex(ValidationError, "Price per invoice.*cannot be negative"):
            channels["post"].price = -1
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["efaktura.channel"].create({"company_id": self.company.id, "code": "post"})

    def test_existing_companies_get_channels_once(self):
        self.company._efaktura_ensure_channels()
        self.company._efaktura_ensure_channels()
        self.assertEqual(len(self.company.with_context(active_test=False).efaktura_channel_ids), 4)

    def test_org_number_and_account_are_checked_and_normalised(self):
        self.company.write(
            {
                "efaktura_issuer_org_number": "123 456 785",
                "efaktura_billing_account": "8601.11.17947",
                "efaktura_contact_email": "Faktura@Nordlys.example.com",
            }
        )
        self.assertEqual(self.company.efaktura_issuer_org_number, "123456785")
        self.assertEqual(self.company.efaktura_billing_account, "86011117947")
        self.assertEqual(self.company.efaktura_contact_email, "faktura@nordlys.example.com")
        with self.assertRaisesRegex(ValidationError, r"Billing account number: 86011117948 is not valid.*MOD11"):
            self.company.efaktura_billing_account = "86011117948"
        with self.assertRaisesRegex(ValidationError, r"Issuer organisation number: 123456784 is not valid.*MOD11"):
            self.company.efaktura_issuer_org_number = "123456784"
        with self.assertRaisesRegex(ValidationError, r"Issuer contact e-mail: not-an-email"):
            self.company.efaktura_contact_email = "not-an-email"
        with self.assertRaisesRegex(ValidationError, r"Billing account number"):
            self.env["res.company"].create({"name": "Feil AS", "efaktura_billing_account": "1234"})

    def test_consent_days_range(self):
        self.company.efaktura_consent_days = 7
        for days in (0, -1, 61):
            with self.subTest(days=days), self.assertRaisesRegex(ValidationError, "Consent deadline \\(days\\)"):
                self.company.efaktura_consent_days = days

    def test_enabling_refused_with_a_conflicting_module(self):
        for name, shortdesc in (
            ("l10n_no_avtalegiro", "AvtaleGiro for Norway"),
            ("account_efaktura_other", "Another eFaktura"),
        ):
            with self.subTest(name=name):
                module = self.env["ir.module.module"].create(
                    {"name": name, "shortdesc": shortdesc, "state": "installed"}
                )
                company = self.env["res.company"].create({"name": f"Test {name}"})
                with self.assertRaises(ValidationError) as caught:
                    company.efaktura_switched_on = True
                self.assertIn(f"{shortdesc} ({name})", str(caught.exception))
                self.assertIn("cannot be enabled", str(caught.exception))
                module.state = "uninstalled"
                company.efaktura_switched_on = True
                self.assertTrue(company.efaktura_switched_on)

    def test_unrelated_modules_do_not_conflict(self):
        self.assertEqual(self.env["res.company"]._efaktura_conflicting_modules(), [])

    def test_settings_form(self):
        company = self.env["res.company"].create(
            {
                "name": "Settings AS",
                "country_id": self.env.ref("base.no").id,
                "vat": "NO123456785MVA",
                "email": "post@settings.example.com",
            }
        )
        settings_env = self.env(context=dict(self.env.context, allowed_company_ids=[company.id]))
        with Form(settings_env["res.config.settings"]) as form:
            form.efaktura_mode = "enabled"
            form.efaktura_consent_days = 5
            form.efaktura_billing_account = "86011117947"
        form.record.execute()
        self.assertTrue(company.efaktura_switched_on)
        self.assertEqual(company.efaktura_network_mode, "production")
        self.assertEqual(company.efaktura_consent_days, 5)
        self.assertEqual(company.efaktura_billing_account, "86011117947")
        # Prefilled from what Odoo knows about the company.
        self.assertEqual(company.efaktura_issuer_org_number, "123456785")
        self.assertEqual(company.efaktura_contact_email, "post@settings.example.com")
        action = form.record.action_efaktura_open_channels()
        self.assertEqual(action["res_model"], "efaktura.channel")
        self.assertEqual(
            self.env["efaktura.channel"].search(action["domain"]).mapped("code"), ["vipps", "nettbank", "email", "post"]
        )
