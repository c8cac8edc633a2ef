from odoo.tests import TransactionCase, new_test_user


class EfakturaCase(TransactionCase):
    """A Norwegian company with eFaktura enabled, a billing user and a consumer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env["res.company"].create(
            {
                "name": "Nordlys Elektro AS",
                "country_id": cls.env.ref("base.no").id,
                "currency_id": cls.env.ref("base.NOK").id,
                "email": "faktura@nordlys.example.com",
                "company_registry": "123456785",
            }
        )
        cls.company.efaktura_enabled = True
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))
        cls.billing_user = new_test_user(
            cls.env,
            login="efaktura_billing",
            groups="account.group_account_invoice,base.group_partner_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.consumer = cls.env["res.partner"].create(
            {
                "name": "Kari Nordmann",
                "email": "kari@example.com",
                "mobile": "912 34 567",
                "street": "Storgata 1",
                "zip": "0155",
                "city": "Oslo",
                "country_id": cls.env.ref("base.no").id,
            }
        )

    @staticmethod
    def as_user(record, user):
        """The record as the user sees it, in the user's own companies."""
        return record.with_user(user).with_context(allowed_company_ids=user.company_ids.ids)

    @classmethod
    def enable_b2c(cls, partner, **extra):
        partner.write({"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno", **extra})
        return partner
