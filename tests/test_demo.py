from odoo import Command
from odoo.modules.module import get_module_path
from odoo.tests import tagged
from odoo.tools import convert_file

from ..compat import GROUPS
from ..compat import PARTNER_MOBILE as MOBILE
from .common import EfakturaCase, EfakturaInvoiceCase


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
        )
        company = self.env.ref("base.demo_company_no", raise_if_not_found=False) or self.env.company
        self.assertEqual(company.efaktura_mode, "test", "demo data sets Test mode")
        self.assertTrue(company.efaktura_switched_on)
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
                self.assertTrue(consumer.efaktura_b2c_customer)
                self.assertEqual(consumer[MOBILE], mobile)
        self.assertTrue(get_module_path("l10n_no_efaktura_b2c"))
        # The cost report means something: the channels have realistic prices.
        prices = {channel.code: channel.price for channel in company.efaktura_channel_ids}
        self.assertEqual(prices, {"vipps": 1.5, "nettbank": 2.5, "email": 0.0, "post": 17.0})
        # The first Send does not stop at "Configure your document layout".
        self.assertTrue(company.external_report_layout_id)
        self.assertTrue(company.logo)


@tagged("post_install", "-at_install")
class TestDemoInvoices(EfakturaInvoiceCase):
    """The demo invoices tell one story: Per and Siri were asked, did not answer, and their invoices go on."""

    def test_per_and_siri_were_asked_and_their_requests_expired(self):
        admin = self.env.ref("base.user_admin")
        admin.company_ids |= self.company
        self.company.efaktura_billing_user_id = admin
        moves = self.env["efaktura.demo"]._invoices(self.company, self.ingrid | self.per | self.siri)
        self.assertEqual(moves.invoice_user_id, admin, "the demo invoices have a salesperson, not OdooBot")
        for partner in (self.per, self.siri):
            consent = self.env["efaktura.consent"].search(
                [("partner_id", "=", partner.id), ("company_id", "=", self.company.id)]
            )
            with self.subTest(customer=partner.name):
                self.assertEqual(consent.mapped("state"), ["expired"])
                self.assertEqual(consent.move_ids.partner_id, partner)
                self.assertLess(consent.requested_at, consent.deadline)
                card = partner.with_company(self.company)
                self.assertEqual(card.efaktura_state, "not_checked")
                self.assertIn("No answer to the eFaktura request", card.message_ids[0].body)
        self.assertFalse(self.env["efaktura.consent"].search([("partner_id", "=", self.ingrid.id)]))
        self.env["efaktura.chain"]._dispatch_locked(moves)
        by_partner = {move.partner_id: move for move in moves}
        self.assertEqual(by_partner[self.per].efaktura_channel, "post")
        self.assertEqual(by_partner[self.siri].efaktura_channel, "manual")
        self.assertEqual(by_partner[self.ingrid].efaktura_state, "awaiting_consent")

    def test_print_tasks_go_to_the_salesperson_else_the_billing_user_never_odoobot(self):
        root = self.env.ref("base.user_root")
        billing = self.env["res.users"].create(
            {
                "name": "Berit Bilag",
                "login": "berit.bilag",
                "company_id": self.company.id,
                "company_ids": [Command.set([self.company.id])],
                GROUPS: [Command.set([self.env.ref("account.group_account_invoice").id])],
            }
        )
        self.company.efaktura_billing_user_id = billing
        seller = self.env["res.users"].create(
            {
                "name": "Sander Selger",
                "login": "sander.selger",
                "company_id": self.company.id,
                "company_ids": [Command.set([self.company.id])],
                GROUPS: [Command.set([self.env.ref("account.group_account_invoice").id])],
            }
        )
        # Siri said no to eFaktura and has neither e-mail nor address: a print task.
        self.siri.with_company(self.company)._efaktura_set_state("declined")
        by_root, by_seller, by_nobody = self.make_invoices(self.siri, 3)
        by_root.invoice_user_id = root
        by_seller.invoice_user_id = seller
        by_nobody.invoice_user_id = False
        moves = by_root | by_seller | by_nobody
        self.dispatch(moves)
        self.assertEqual(set(moves.mapped("efaktura_state")), {"manual"})
        users = {move: move.activity_ids.filtered(lambda a: a.summary == "Print and post").user_id for move in moves}
        self.assertEqual(users, {by_root: billing, by_seller: seller, by_nobody: billing})
        # Without a billing user: an accounting manager of the company, still never OdooBot.
        self.company.efaktura_billing_user_id = False
        self.assertNotEqual(self.company._efaktura_task_user(by_root), root)
        self.assertFalse(self.company._efaktura_task_user(by_root).share)
