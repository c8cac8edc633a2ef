"""eFaktura B2C modes, as Odoo's payment providers have them: Disabled, Test, Enabled (production)."""

from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo.modules import neutralize
from odoo.tests import HttpCase, new_test_user, tagged

from .. import compat
from ..compat import GROUPS
from ..compat import PARTNER_MOBILE as MOBILE
from .common import EfakturaInvoiceCase
from .test_consent import ConsentCase

MODULE = "l10n_no_efaktura_b2c"


@tagged("post_install", "-at_install")
class TestFreshInstall(EfakturaInvoiceCase, HttpCase):
    """The database the tests run in is a fresh install without demo data."""

    def test_fresh_install_without_demo_sends_nothing_anywhere(self):
        if self.env["ir.module.module"].search([("name", "=", "base")]).demo:
            self.skipTest("this database has demo data; the demo company is in Test mode on purpose")
        existing = self.env["res.company"].search([("id", "!=", self.company.id)])
        self.assertTrue(existing)
        self.assertEqual(set(existing.mapped("efaktura_mode")), {"disabled"}, "a new database starts Disabled")
        main = self.env.ref("base.main_company")
        self.assertFalse(main.efaktura_switched_on)
        # A consumer who would take every channel, and an invoice to her from the main company.
        partner = self.env["res.partner"].create(
            {
                "name": "Kari Nordmann",
                MOBILE: "412 34 567",
                "email": "kari@example.com",
                "street": "Storgata 1",
                "zip": "0155",
                "city": "Oslo",
                "country_id": self.env.ref("base.no").id,
                "efaktura_receive_edocuments": True,
                "efaktura_access_point": "b2cno",
            }
        )
        # The test company of this class is disabled too: a fresh company, nothing configured.
        self.company.efaktura_mode = "disabled"
        counts = self._outgoing_counts()
        move = self.make_invoice(partner)
        move._efaktura_queue()
        for cron in self.env["ir.cron"].search([("ir_actions_server_id.model_id.model", "like", "efaktura.%")]):
            compat.run_cron(self, cron)
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "none", "a disabled company queues nothing")
        self.assertFalse(move.efaktura_delivery_ids)
        self.assertEqual(self._outgoing_counts(), counts, "no SMS, e-mail, letter, document or consent request")
        # The public BankID simulator does not answer on a fresh install.
        self.assertEqual(self.url_open("/efaktura/bankid-sim/.well-known/openid-configuration").status_code, 404)

    def _outgoing_counts(self):
        models = (
            "sms.sms",
            "mail.mail",
            "snailmail.letter",
            "efaktura.delivery",
            "efaktura.consent",
            "efaktura.sandbox.document",
        )
        return {model: self.env[model].sudo().search_count([]) for model in models}


@tagged("post_install", "-at_install")
class TestNeutralize(EfakturaInvoiceCase):
    def test_neutralized_database_is_in_test_mode_without_production_credentials(self):
        production = {
            "efaktura_mode": "enabled",
            "efaktura_mps_endpoint": "https://mps.example.com/erp",
            "efaktura_mps_client_cert": "/etc/odoo/mps/client.pem",
            "efaktura_mps_client_key": "/etc/odoo/mps/client.key",
            "efaktura_uses_vipps_api": True,
            "efaktura_vipps_client_id": "vipps-client",
            "efaktura_vipps_client_secret": "vipps-secret",
            "efaktura_vipps_subscription_key": "vipps-key",
            "efaktura_bankid_client_id": "bankid-client",
            "efaktura_bankid_client_secret": "bankid-secret",
            "efaktura_test_send_emails": True,
        }
        self.company.write(production)
        self.assertEqual(self.company.efaktura_network_mode, "production")
        disabled = self.env["res.company"].create({"name": "Av AS"})
        self.env.flush_all()
        # As `odoo-bin neutralize` does: every installed module's data/neutralize.sql.
        queries = list(neutralize.get_neutralization_queries([MODULE]))
        self.assertEqual(len(queries), 1, "the module ships data/neutralize.sql")
        for query in neutralize.get_neutralization_queries(neutralize.get_installed_modules(self.env.cr)):
            self.env.cr.execute(query)
        self.env.invalidate_all()
        company = self.company.sudo()
        self.assertEqual(company.efaktura_mode, "test")
        self.assertEqual(company.efaktura_network_mode, "sandbox")
        self.assertTrue(company.efaktura_switched_on)
        self.assertFalse(company.efaktura_test_send_emails)
        for fname in (
            "efaktura_mps_client_cert",
            "efaktura_mps_client_key",
            "efaktura_uses_vipps_api",
            "efaktura_vipps_client_secret",
            "efaktura_vipps_subscription_key",
            "efaktura_bankid_client_secret",
        ):
            self.assertFalse(company[fname], fname)
        self.assertEqual(company._efaktura_network().name, "sandbox")
        self.assertFalse(self.env["efaktura.network.factory"]._mps_config(company))
        self.assertFalse(self.env["efaktura.network.factory"]._vipps_config(company))
        self.assertEqual(disabled.efaktura_mode, "disabled", "a disabled company stays disabled")
        # The stored compatibility flags agree with the mode, as the ORM would compute them.
        company._compute_efaktura_mode_flags()
        self.assertEqual((company.efaktura_switched_on, company.efaktura_network_mode), (True, "sandbox"))

    def test_compatibility_flags_follow_the_mode(self):
        company = self.env["res.company"].create({"name": "Kompat AS"})
        self.assertEqual((company.efaktura_mode, company.efaktura_switched_on), ("disabled", False))
        company.efaktura_switched_on = True
        self.assertEqual((company.efaktura_mode, company.efaktura_network_mode), ("test", "sandbox"))
        company.efaktura_network_mode = "production"
        self.assertEqual(company.efaktura_mode, "enabled")
        company.efaktura_switched_on = True
        self.assertEqual(company.efaktura_mode, "enabled", "enabling again keeps production")
        company.efaktura_switched_on = False
        self.assertEqual((company.efaktura_mode, company.efaktura_switched_on), ("disabled", False))


@tagged("post_install", "-at_install")
class TestTestMode(ConsentCase):
    """Test mode: nothing reaches a real person; the module's SMS, e-mails and letters stay inside Odoo."""

    def kept(self, kind, **domain):
        return self.env["efaktura.test.message"].search(
            [("kind", "=", kind), *[(field, "=", value) for field, value in domain.items()]]
        )

    def test_consent_sms_and_email_stay_in_the_test_phone_and_inbox(self):
        self.assertEqual(self.company.efaktura_mode, "test")
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        sms = self.sms_to(self.ingrid)
        self.assertEqual(sms.state, "efaktura_test")
        mail = self.env["mail.mail"].sudo().search([("model", "=", "efaktura.consent"), ("res_id", "=", consent.id)])
        self.assertEqual(mail.state, "efaktura_test")
        # Odoo's own queues never send them.
        compat.run_cron(self, self.env.ref("sms.ir_cron_sms_scheduler_action"))
        self.env["mail.mail"].sudo().process_email_queue()
        self.assertEqual((sms.exists().state, mail.exists().state), ("efaktura_test", "efaktura_test"))
        # A billing user reads them from the eFaktura menu, without developer mode.
        billing = new_test_user(
            self.env,
            login="efaktura_test_billing",
            groups="account.group_account_invoice",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        menu = self.env.ref("l10n_no_efaktura_b2c.menu_efaktura_test_message")
        self.assertIn(menu.id, self.env["ir.ui.menu"].with_user(billing)._visible_menu_ids())
        self.assertFalse(menu[GROUPS] - billing[GROUPS], "no developer mode needed")
        kept = self.env["efaktura.test.message"].with_user(billing).search([("partner_id", "=", self.ingrid.id)])
        self.assertEqual(sorted(kept.mapped("kind")), ["email", "sms"])
        phone = kept.filtered(lambda m: m.kind == "sms")
        self.assertEqual(phone.recipient, "+4791345678")
        self.assertIn("/efaktura/consent/", phone.body_text)
        inbox = kept.filtered(lambda m: m.kind == "email")
        self.assertIn("/efaktura/consent/", inbox.body)
        # The consent page wears the TEST badge.
        page = self.url_open(f"/efaktura/consent/{self.token_from_sms(self.ingrid)}")
        self.assertIn('id="efaktura_test_badge"', page.text)

    def test_invoice_email_and_letter_stay_inside_odoo(self):
        move = self.request_consent()
        per_move = self.request_consent(self.per)
        consent = self.consent_of(self.ingrid)
        with freeze_time(consent.deadline + timedelta(minutes=1)):
            compat.run_cron(self, self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_deadlines"))
        (move | per_move).invalidate_recordset()
        self.assertEqual((move.efaktura_channel, per_move.efaktura_channel), ("email", "post"))
        invoice_mails = self.env["mail.mail"].sudo().search([("model", "=", "account.move"), ("res_id", "=", move.id)])
        self.assertTrue(invoice_mails)
        self.assertEqual(set(invoice_mails.mapped("state")), {"efaktura_test"})
        self.assertTrue(self.kept("email", res_model="account.move", res_id=move.id))
        letter = per_move.efaktura_delivery_ids.snailmail_letter_id
        self.assertEqual(letter.state, "efaktura_test")
        self.assertTrue(self.kept("letter", res_model="account.move", res_id=per_move.id))
        # The invoice and the outbox show the TEST badge.
        self.assertEqual(move.efaktura_company_mode, "test")
        self.assertIn('name="efaktura_test_badge"', self.env["account.move"].get_view(view_type="form")["arch"])
        delivery_form = self.env["efaktura.delivery"].get_view(view_type="form")["arch"]
        self.assertIn('name="efaktura_test_badge"', delivery_form)
        self.assertIn("efaktura_company_mode", self.env["efaktura.delivery"].get_view(view_type="list")["arch"])
        self.assertEqual(move.efaktura_delivery_ids.efaktura_company_mode, "test")

    def test_real_emails_in_test_mode_only_when_ticked(self):
        self.company.efaktura_test_send_emails = True
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        mail = self.env["mail.mail"].sudo().search([("model", "=", "efaktura.consent"), ("res_id", "=", consent.id)])
        self.assertEqual(mail.state, "outgoing", "the admin asked for real e-mails")
        self.assertEqual(self.sms_to(self.ingrid).state, "efaktura_test", "SMS still stay in the test phone")

    def test_production_sends_for_real(self):
        self.company.write({"efaktura_mode": "enabled", "efaktura_mps_client_cert": __file__})
        self.assertEqual(self.company._efaktura_test_outbox(), {})
        consent = self.env["efaktura.consent.request"]._request(self.ingrid, self.env["account.move"], self.company)
        self.assertEqual(self.sms_to(self.ingrid).state, "outgoing")
        self.assertFalse(self.kept("sms", partner_id=self.ingrid.id))
        self.assertTrue(consent)


@tagged("post_install", "-at_install")
class TestKeptMailsNeverSent(EfakturaInvoiceCase):
    def test_kept_email_survives_a_mail_server_that_cannot_be_reached(self):
        """Odoo's send marks a whole batch as failed when it cannot connect: an e-mail kept in the test inbox is
        never in that batch (the chaos concurrency run found kept invoice e-mails failed that way)."""
        Mail = self.env["mail.mail"].sudo()
        kept = Mail.with_context(efaktura_test_outbox={"email": self.company.id}).create(
            {"subject": "Test", "email_to": "kari@example.com", "body_html": "<p>Test</p>"}
        )
        real = Mail.create({"subject": "Real", "email_to": "kari@example.com", "body_html": "<p>Real</p>"})
        self.assertEqual((kept.state, real.state), ("efaktura_test", "outgoing"))
        with patch.object(
            self.registry["ir.mail_server"],
            compat.MAIL_SERVER_CONNECT,
            side_effect=ConnectionRefusedError("no mail server"),
        ):
            (kept | real).send()
        self.assertEqual((kept.state, real.state), ("efaktura_test", "exception"))
