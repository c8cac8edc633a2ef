from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from odoo.addons.sms.tests.common import MockSMS

from ..compat import PARTNER_MOBILE as MOBILE
from .common import EfakturaInvoiceCase, RealQueues


@tagged("post_install", "-at_install")
class TestNeedsAttention(EfakturaInvoiceCase):
    def print_task(self):
        """An invoice to Siri Berg, who has neither e-mail nor address and did not approve eFaktura in time."""
        move = self.make_invoice(self.siri)
        move.efaktura_deadline = fields.Datetime.now() - timedelta(minutes=1)
        return self.dispatch(move)

    def attention(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "l10n_no_efaktura_b2c.account_move_action_efaktura_attention"
        )
        return self.env["account.move"].search(safe_eval(action["domain"]))

    def test_print_task_is_listed_then_marked_printed(self):
        move = self.print_task()
        self.assertEqual(move.efaktura_state, "manual")
        self.assertIn(move, self.attention())
        task = move.efaktura_delivery_ids.filtered(lambda d: d.channel == "manual")
        activity = task.activity_id
        self.assertTrue(activity)
        action = self.env.ref("l10n_no_efaktura_b2c.account_move_action_efaktura_mark_printed")
        action.with_context(active_model="account.move", active_ids=move.ids, active_id=move.id).run()
        self.assertEqual(task.state, "submitted")
        # Done: 18.0 deletes a done to-do, 19.0 archives it; either way it is no longer open.
        self.assertFalse(activity.exists().filtered("active"), "the task is done")
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertNotIn(move, self.attention())
        with self.assertRaises(UserError):
            self.env["efaktura.resend.wizard"]._mark_printed(move)

    def test_send_another_way_by_email_closes_the_print_task(self):
        move = self.print_task()
        self.siri.email = "siri@example.com"
        wizard = Form(self.env["efaktura.resend.wizard"].with_context(active_model="account.move", active_ids=move.ids))
        wizard.channel = "email"
        wizard = wizard.save()
        self.assertFalse(wizard.problem)
        wizard.action_send()
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertEqual(move.efaktura_channel, "email")
        by_channel = {d.channel: d.state for d in move.efaktura_delivery_ids}
        self.assertEqual(by_channel["email"], "accepted", "the (test) mail server took it")
        self.assertEqual(by_channel["manual"], "cancelled")
        self.assertNotIn(move, self.attention())

    def test_send_another_way_names_the_problem(self):
        move = self.print_task()
        wizard = self.env["efaktura.resend.wizard"].create({"move_ids": [(6, 0, move.ids)], "channel": "post"})
        self.assertIn("postal address", wizard.problem)
        with self.assertRaises(UserError):
            wizard.action_send()

    def test_reports_open(self):
        self.dispatch(self.make_invoice(self.kari))
        for xmlid, model in (
            ("efaktura_delivery_action_report", "efaktura.delivery"),
            ("efaktura_delivery_action_cost", "efaktura.delivery"),
            ("efaktura_consent_action_report", "efaktura.consent"),
        ):
            action = self.env["ir.actions.act_window"]._for_xml_id(f"l10n_no_efaktura_b2c.{xmlid}")
            self.assertEqual(action["res_model"], model)
            for view_id, view_type in action["views"]:
                self.env[model].get_views([(view_id, view_type)])
        groups = self.env["efaktura.delivery"]._read_group([], ["channel"], ["cost:sum"])
        self.assertEqual({channel for channel, _cost in groups}, {"vipps"})


@tagged("post_install", "-at_install")
class TestPartnerActions(RealQueues, MockSMS, EfakturaInvoiceCase):
    def test_set_b2c_defaults_skips_and_says_why(self):
        Partner = self.env["res.partner"]
        good = Partner.create({"name": "Anne Dahl", MOBILE: "48012345"})
        firm = Partner.create({"name": "Dahl AS", "is_company": True, MOBILE: "48012346"})
        landline = Partner.create({"name": "Bjørn Dahl", MOBILE: "22 33 44 55"})
        result = (good | firm | landline).action_efaktura_set_b2c_defaults()
        self.assertTrue(good.with_company(self.company).efaktura_b2c_customer)
        self.assertEqual(good[MOBILE], "+4748012345")
        self.assertFalse(firm.efaktura_b2c_customer)
        self.assertFalse(landline.efaktura_b2c_customer)
        message = result["params"]["message"]
        self.assertIn("Dahl AS (is a company)", message)
        self.assertIn("Bjørn Dahl (has no valid Norwegian mobile number)", message)
        self.assertEqual(result["params"]["type"], "warning")

    def test_check_status_finds_consumers_in_the_network(self):
        result = (self.kari | self.ingrid).action_efaktura_check_status()
        self.assertEqual(self.kari.efaktura_state, "active")
        self.assertTrue(self.kari.efaktura_found_in_vipps)
        self.assertEqual(self.ingrid.efaktura_state, "not_checked")
        self.assertIn("1 of 2", result["params"]["message"])

    def test_request_consent_now(self):
        with self.mockSMSGateway():  # Odoo's SMS gateway: the SMS is sent at once, so the user learns what went out
            result = self.ingrid.action_efaktura_request_consent()
        self.assertIn("SMS sent, e-mail queued", result["params"]["message"])
        consent = self.env["efaktura.consent"].search([("partner_id", "=", self.ingrid.id)])
        self.assertEqual(consent.state, "sent")
        self.assertEqual(self.ingrid.efaktura_state, "consent_requested")
        self.assertEqual(result["params"]["type"], "success")
        again = self.ingrid.action_efaktura_request_consent()
        self.assertEqual(again["params"]["type"], "warning")
        self.assertEqual(self.env["efaktura.consent"].search_count([("partner_id", "=", self.ingrid.id)]), 1)


@tagged("post_install", "-at_install")
class TestOnboardingChecklist(EfakturaInvoiceCase):
    def test_checklist(self):
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.efaktura_check_issuer)
        self.assertTrue(settings.efaktura_check_network)
        self.assertTrue(settings.efaktura_check_templates)
        self.assertFalse(settings.efaktura_check_test_send)
        self.dispatch(self.make_invoice(self.kari))
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.efaktura_check_test_send)
        self.company.efaktura_issuer_state = "inactive"
        self.company.efaktura_network_mode = "production"
        settings = self.env["res.config.settings"].create({})
        self.assertFalse(settings.efaktura_check_issuer)
        self.assertFalse(settings.efaktura_check_network)
