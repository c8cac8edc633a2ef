from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import EfakturaCase


@tagged("post_install", "-at_install")
class TestSecurity(EfakturaCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.enable_b2c(cls.consumer)
        cls.manager = new_test_user(
            cls.env,
            login="efaktura_manager",
            groups="account.group_account_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.internal_user = new_test_user(
            cls.env,
            login="efaktura_internal",
            groups="base.group_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.portal_user = new_test_user(cls.env, login="efaktura_portal", groups="base.group_portal")
        cls.other_company = cls.env["res.company"].create({"name": "Annen AS"})
        cls.other_user = new_test_user(
            cls.env,
            login="efaktura_other",
            groups="account.group_account_manager",
            company_id=cls.other_company.id,
            company_ids=[cls.other_company.id],
        )

    def test_billing_user_reads_partner_efaktura_data(self):
        consumer = self.as_user(self.consumer, self.billing_user)
        self.assertTrue(consumer.efaktura_b2c_customer)
        self.assertEqual(consumer.efaktura_state, "not_checked")

    def test_users_without_billing_rights_see_no_efaktura_data(self):
        for user in (self.internal_user, self.portal_user):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.as_user(self.consumer, user).read(["efaktura_identifier"])

    def test_channels_read_by_billing_configured_by_managers(self):
        channel = self.company.efaktura_channel_ids[0]
        self.assertTrue(self.as_user(channel, self.billing_user).price >= 0)
        with self.assertRaises(AccessError):
            self.as_user(channel, self.billing_user).write({"price": 3})
        self.as_user(channel, self.manager).write({"price": 3})
        self.assertEqual(channel.price, 3)
        with self.assertRaises(AccessError):
            self.as_user(channel, self.portal_user).read(["price"])

    def test_channels_are_isolated_per_company(self):
        Channel = self.as_user(self.env["efaktura.channel"], self.other_user)
        self.assertFalse(Channel.search([("company_id", "=", self.company.id)]))
        with self.assertRaises(AccessError):
            self.as_user(self.company.efaktura_channel_ids[0], self.other_user).read(["price"])
