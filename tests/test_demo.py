from odoo.modules.module import get_module_path
from odoo.tests import tagged
from odoo.tools import convert_file

from .common import EfakturaCase


@tagged("post_install", "-at_install")
class TestDemoData(EfakturaCase):
    def test_demo_data_loads_and_passes_the_card_rules(self):
        convert_file(
            self.env,
            "l10n_no_efaktura_b2c",
            "demo/efaktura_demo.xml",
            {},
            mode="init",
            noupdate=True,
            kind="demo",
        )
        company = self.env.ref("base.demo_company_no", raise_if_not_found=False) or self.env.company
        self.assertEqual(company.efaktura_mode, "test", "demo data sets Test mode")
        self.assertTrue(company.efaktura_enabled)
        self.assertEqual(company.efaktura_network_mode, "sandbox")
        self.assertEqual(company.efaktura_billing_account, "86011117947")
        for xmlid, mobile in (
            ("vipps", "+4741234567"),
            ("nettbank", "+4790011222"),
            ("email", "+4791345678"),
            ("declined", "+4795876543"),
            ("post", "+4792456789"),
            ("manual", "+4793567890"),
        ):
            consumer = self.env.ref(f"l10n_no_efaktura_b2c.demo_consumer_{xmlid}").with_company(company)
            with self.subTest(consumer=consumer.name):
                self.assertTrue(consumer.efaktura_b2c_enabled)
                self.assertEqual(consumer.mobile, mobile)
        self.assertTrue(get_module_path("l10n_no_efaktura_b2c"))
        # The cost report means something: the channels have realistic prices.
        prices = {channel.code: channel.price for channel in company.efaktura_channel_ids}
        self.assertEqual(prices, {"vipps": 1.5, "efaktura": 2.5, "email": 0.0, "post": 17.0})
        # The first Send does not stop at "Configure your document layout".
        self.assertTrue(company.external_report_layout_id)
        self.assertTrue(company.logo)
        # Per and Siri's invoices no longer wait for a consent: they were asked, and their requests expired.
        for xmlid in ("post", "manual"):
            consumer = self.env.ref(f"l10n_no_efaktura_b2c.demo_consumer_{xmlid}").with_company(company)
            consent = self.env["efaktura.consent"].search(
                [("partner_id", "=", consumer.id), ("company_id", "=", company.id)]
            )
            with self.subTest(consumer=consumer.name):
                self.assertEqual(consent.mapped("state"), ["expired"])
                self.assertTrue(consent.move_ids)
                self.assertLess(consent.requested_at, consent.deadline)
                self.assertEqual(consumer.efaktura_state, "not_checked")
                self.assertIn("No answer to the eFaktura request", consumer.message_ids[0].body)
