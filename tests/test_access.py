from odoo.exceptions import AccessError, UserError
from odoo.service.model import get_public_method
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..compat import call_kw
from .common import EfakturaInvoiceCase

# The module's own records; none of them is for portal, public or other-company users.
EFAKTURA_MODELS = (
    "efaktura.consent",
    "efaktura.delivery",
    "efaktura.channel",
    "efaktura.sandbox.document",
    "efaktura.sandbox.submission",
    "efaktura.sandbox.consumer",
    "efaktura.rate.limit",
    "efaktura.bankid.simulator.entry",
)
PARTNER_FIELDS = (
    "efaktura_receive_edocuments",
    "efaktura_access_point",
    "efaktura_avtalegiro",
    "efaktura_state",
    "efaktura_identifier",
    "efaktura_found_in_vipps",
)


@tagged("post_install", "-at_install")
class TestAccess(EfakturaInvoiceCase):
    """Portal, public and other-company users: no eFaktura data read or written, no invoice sent."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Ola's invoice is delivered (an outbox row, a sandbox document and submission); Ingrid's waits for consent.
        cls.delivered = cls.make_invoice(cls.ola)
        cls.delivered._efaktura_queue()
        cls.env["efaktura.chain"]._dispatch_locked(cls.delivered)
        cls.waiting = cls.make_invoice(cls.ingrid)
        cls.env["efaktura.chain"]._dispatch_locked(cls.waiting._efaktura_queue())
        # Kari's invoice is posted but not sent; Kari is also a portal user, who may read her own invoices.
        cls.unsent = cls.make_invoice(cls.kari)
        cls.env["efaktura.rate.limit"].sudo()._hit("consent", "127.0.0.1", "token")
        cls.portal_user = new_test_user(cls.env, login="efaktura_portal_kari", groups="base.group_portal")
        cls.portal_user.partner_id = cls.kari
        cls.public_user = cls.env.ref("base.public_user")
        cls.internal_user = new_test_user(
            cls.env,
            login="efaktura_internal_plain",
            groups="base.group_user",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.other_company = cls.env["res.company"].create({"name": "Annet Selskap AS"})
        cls.other_user = new_test_user(
            cls.env,
            login="efaktura_other_manager",
            groups="account.group_account_manager,base.group_partner_manager",
            company_id=cls.other_company.id,
            company_ids=[cls.other_company.id],
        )
        cls.records = {}
        for name in EFAKTURA_MODELS:
            Model = cls.env[name].sudo().with_context(active_test=False)
            domain = [("company_id", "=", cls.company.id)] if "company_id" in Model._fields else []
            cls.records[name] = Model.search(domain, limit=1)

    def rpc(self, user, model, method, ids, *args):
        """A call as the web client's /web/dataset/call_kw makes it, as ``user`` in their own companies."""
        # A request starts with an empty cache: what the test read before proves nothing for the user.
        self.env.flush_all()
        self.env.invalidate_all()
        env = self.env(user=user, context={"allowed_company_ids": user.sudo().company_ids.ids})
        records = env[model].browse(ids)
        get_public_method(records, method)
        return call_kw(env[model], method, [ids, *args], {})

    def test_fixture_has_a_record_of_every_model(self):
        for name, record in self.records.items():
            if name != "efaktura.bankid.simulator.entry":  # the simulator's store is empty until a login
                self.assertTrue(record, name)

    def test_portal_public_and_plain_users_touch_no_efaktura_record(self):
        for user in (self.portal_user, self.public_user, self.internal_user):
            for name, record in self.records.items():
                with self.subTest(user=user.sudo().login, model=name):
                    with self.assertRaises(AccessError):
                        self.rpc(user, name, "search_read", [], [])
                    with self.assertRaises(AccessError):
                        self.rpc(user, name, "create", {})
                    if not record:
                        continue
                    with self.assertRaises(AccessError):
                        self.rpc(user, name, "read", record.ids, ["display_name"])
                    with self.assertRaises(AccessError):
                        self.rpc(user, name, "write", record.ids, {"display_name": "x"})
                    with self.assertRaises(AccessError):
                        self.rpc(user, name, "unlink", record.ids)

    def test_other_company_sees_and_changes_nothing(self):
        for name in ("efaktura.consent", "efaktura.delivery", "efaktura.channel", "efaktura.sandbox.document"):
            record = self.records[name]
            with self.subTest(model=name):
                found = self.rpc(self.other_user, name, "search_read", [("id", "=", record.id)], ["id"])
                self.assertEqual(found, [])
                with self.assertRaises(AccessError):
                    self.rpc(self.other_user, name, "read", record.ids, ["display_name"])
                with self.assertRaises(AccessError):
                    self.rpc(self.other_user, name, "write", record.ids, {"display_name": "x"})
        submissions = self.rpc(
            self.other_user, "efaktura.sandbox.submission", "search_read", [("company_id", "=", self.company.id)], []
        )
        self.assertEqual(submissions, [])

    def test_partner_efaktura_fields_are_hidden(self):
        for user in (self.portal_user, self.public_user, self.internal_user):
            for fname in PARTNER_FIELDS:
                with self.subTest(user=user.sudo().login, field=fname):
                    with self.assertRaises(AccessError):
                        self.rpc(user, "res.partner", "read", self.ola.ids, [fname])
                    with self.assertRaises(AccessError):
                        self.rpc(user, "res.partner", "write", self.ola.ids, {fname: False})
        # Another company has its own values: it never sees this company's identifier or status.
        ola = self.ola.with_company(self.company)
        self.assertTrue(ola.efaktura_identifier)
        other = self.rpc(
            self.other_user, "res.partner", "read", self.ola.ids, ["efaktura_identifier", "efaktura_state"]
        )
        self.assertEqual(other[0]["efaktura_identifier"], False)
        self.assertEqual(other[0]["efaktura_state"], "not_checked")

    @mute_logger("odoo.addons.l10n_no_efaktura_b2c.models.efaktura_chain")
    def test_no_send_from_portal_public_or_other_company(self):
        # Kari may read her own invoice in the portal: that does not let her send it.
        self.assertEqual(
            self.rpc(self.portal_user, "account.move", "read", self.unsent.ids, ["name"])[0]["id"], self.unsent.id
        )
        for user in (self.portal_user, self.public_user, self.internal_user, self.other_user):
            for move in (self.unsent, self.delivered):
                with self.subTest(user=user.sudo().login, move=move.name), self.assertRaises(UserError):
                    self.rpc(user, "account.move", "action_efaktura_send", move.ids)
        self.unsent.invalidate_recordset()
        self.assertEqual(self.unsent.efaktura_state, "none")
        self.assertFalse(self.unsent.efaktura_delivery_ids)

    def test_private_methods_are_not_remotely_callable(self):
        for model, method in (
            ("account.move", "_efaktura_queue"),
            ("account.move", "_efaktura_write"),
            ("efaktura.chain", "_dispatch_locked"),
            ("efaktura.chain", "_cron_dispatch"),
            ("efaktura.consent", "_accept"),
            ("efaktura.consent", "_decline"),
            ("efaktura.rate.limit", "_hit"),
            ("efaktura.issuer", "_submit"),
            ("efaktura.issuer", "_sandbox_approve"),
            ("efaktura.maventa.webhook", "_subscribe"),
            ("efaktura.network.factory", "_network"),
        ):
            with self.subTest(method=method), self.assertRaises(AccessError):
                get_public_method(self.env[model], method)

    def test_public_actions_need_rights(self):
        consent = self.records["efaktura.consent"]
        document = self.records["efaktura.sandbox.document"]
        settings = self.env["res.config.settings"].with_company(self.company).create({})
        for user in (self.portal_user, self.public_user, self.internal_user):
            for model, method, ids in (
                ("efaktura.consent", "action_withdraw", consent.ids),
                ("res.partner", "action_efaktura_withdraw", self.ola.ids),
                ("efaktura.sandbox.document", "action_sandbox_pay", document.ids),
                ("efaktura.sandbox.document", "action_sandbox_show", document.ids),
                ("efaktura.delivery", "action_open_move", self.records["efaktura.delivery"].ids),
                ("res.config.settings", "action_efaktura_submit_issuer", settings.ids),
                ("res.config.settings", "action_efaktura_refresh_issuer", settings.ids),
                ("res.config.settings", "action_efaktura_deactivate_issuer", settings.ids),
            ):
                with self.subTest(user=user.sudo().login, method=method), self.assertRaises(UserError):
                    self.rpc(user, model, method, ids)
        self.assertEqual(self.ola.with_company(self.company).efaktura_state, "active")
        self.assertEqual(self.company.efaktura_issuer_state, "active")
        self.assertNotEqual(document.state, "paid")
