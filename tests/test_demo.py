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
