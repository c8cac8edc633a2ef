"""MPS direct, honestly: the unverified stand-in contract can be replaced by the issuer's own, and never harms."""

import base64
import datetime
import re
from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import Form, tagged

from ..networks import base, mps, mps_client
from .common import EfakturaInvoiceCase, RealTimeoutsOnLoopback
from .mps_peer import MpsPeer

ISSUER_ID = "123456785"
ACCOUNT = "86011117947"
OLA_IDENTIFIER = "700000002"


def self_contained_wsdl(binding="MpsOwnBinding", actions=None):
    """The stand-in WSDL with its XSD inlined and another binding name: a WSDL such as MPS could hand out."""
    with open(mps_client.WSDL_PATH, encoding="utf-8") as handle:
        wsdl = handle.read()
    with open(mps_client.XSD_PATH, encoding="utf-8") as handle:
        xsd = re.sub(r"^<\?xml[^>]*\?>", "", handle.read().strip())
    wsdl = re.sub(r"<xs:schema>\s*<xs:import[^>]*/>\s*</xs:schema>", lambda _m: xsd, wsdl)
    wsdl = wsdl.replace('name="EfakturaErpBinding"', f'name="{binding}"').replace(
        'binding="tns:EfakturaErpBinding"', f'binding="tns:{binding}"'
    )
    for operation, action in (actions or {}).items():
        wsdl = wsdl.replace(f'soapAction="{mps_client.NAMESPACE}{operation}"', f'soapAction="{action}"')
    return wsdl.encode()


@tagged("post_install", "-at_install")
class TestMpsContract(RealTimeoutsOnLoopback, EfakturaInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = MpsPeer().start()
        cls.addClassCleanup(cls.peer.stop)
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.nordlys.example.com")
        cls.company.write(
            {
                "efaktura_network_mode": "production",
                "efaktura_production_route": "mps",
                "efaktura_mps_endpoint": cls.peer.url,
                "efaktura_mps_cancel_endpoint": cls.peer.base_url.rstrip("/") + mps_client.SUBMITTER_PATH,
                "efaktura_mps_client_cert": __file__,  # plain HTTP to the local peer: no TLS is made
            }
        )

    def setUp(self):
        super().setUp()
        self.peer.reset()
        self.peer.add_issuer(ISSUER_ID, self.company.name, ACCOUNT)
        self.peer.add_consumer(OLA_IDENTIFIER, "Ola Nordmann", phone="+4790011222", email="ola@example.com")

    def test_uploaded_wsdl_replaces_the_stand_in(self):
        own_action = "urn:mps:erp:addBrandAgreementRule"
        with Form(self.env["res.config.settings"]) as form:
            form.efaktura_mps_wsdl = base64.b64encode(
                self_contained_wsdl(actions={"addBrandAgreementRule": own_action})
            )
        config = self.env["efaktura.network.factory"]._mps_config(self.company)
        self.assertNotEqual(config.wsdl_path, mps_client.WSDL_PATH)
        client = self.env["efaktura.network.factory"]._mps_client(self.company)
        self.assertEqual(client._binding_name(client._zeep), f"{{{mps_client.NAMESPACE}}}MpsOwnBinding")
        client.add_brand_agreement_rule(ACCOUNT)
        [request] = self.peer.requests_for("addBrandAgreementRule")
        self.assertEqual(request.soap_action.strip('"'), own_action, "zeep read the uploaded WSDL")
        self.peer.errors.clear()  # the peer checks the stand-in's actions: this one differs on purpose

    def test_soap_actions_and_cancellation_address_are_settings(self):
        with self.assertRaisesRegex(Exception, "line 1: nonsense is not operation=SOAPAction"):
            self.company.efaktura_mps_soap_actions = "nonsense"
        self.company.efaktura_mps_soap_actions = "addBrandAgreementRule = urn:own:add\n\n"
        config = self.env["efaktura.network.factory"]._mps_config(self.company)
        self.assertEqual(config.soap_actions, (("addBrandAgreementRule", "urn:own:add"),))
        self.assertEqual(config.submitter_address, self.peer.base_url.rstrip("/") + mps_client.SUBMITTER_PATH)
        self.env["efaktura.network.factory"]._mps_client(self.company).add_brand_agreement_rule(ACCOUNT)
        self.assertEqual(self.peer.requests_for("addBrandAgreementRule")[0].soap_action.strip('"'), "urn:own:add")
        self.peer.errors.clear()
        self.company.efaktura_mps_soap_actions = False
        self.company.efaktura_mps_cancel_endpoint = "https://mps.example.com/own-cancel/"
        config = self.env["efaktura.network.factory"]._mps_config(self.company)
        self.assertEqual(config.submitter_address, "https://mps.example.com/own-cancel/")

    def test_delete_brand_agreement_rule(self):
        client = self.env["efaktura.network.factory"]._mps_client(self.company)
        client.add_brand_agreement_rule(ACCOUNT, "KID[1-6]")
        client.delete_brand_agreement_rule(ACCOUNT, "KID[1-6]")
        self.assertEqual(self.peer.rules[ISSUER_ID], set())
        with self.assertRaises(base.NetworkRejected):
            client.delete_brand_agreement_rule(ACCOUNT, "KID[1-6]")
        self.peer.errors.clear()
        with open(mps_client.WSDL_PATH, encoding="utf-8") as handle:
            self.assertIn("deleteBrandAgreementRule", handle.read())

    def test_add_invoices_is_capped_at_1000(self):
        network = self.env["efaktura.network.factory"]._production_network(self.company).mps
        today = datetime.date.today()
        documents = [
            base.Document(
                key=f"k{i}",
                invoice_number=f"CAP/{i:04d}",
                recipient=OLA_IDENTIFIER,
                recipient_name="Ola Nordmann",
                kid="0012345678903",
                amount_ore=1000,
                currency="NOK",
                issue_date=today,
                due_date=today + timedelta(days=14),
            )
            for i in range(1001)
        ]
        results = network.submit("nettbank", documents)
        self.assertTrue(all(result.ok for result in results), [r.error for r in results if not r.ok][:1])
        self.assertEqual(len(self.peer.requests_for("addInvoices")), 2)
        self.assertEqual(sorted(len(c["invoices"]) for c in self.peer.consignments.values()), [1, 1000])
        with self.assertRaisesRegex(ValueError, "at most 1000"):
            network.client.add_invoices("too-many", [object()] * 1001)
        self.assertEqual(self.peer.errors, [])

    def test_reminder_goes_by_email_not_as_a_new_invoice(self):
        self.company.write({"efaktura_reminder_enabled": True, "efaktura_reminder_days": "14"})
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(move.efaktura_delivery_ids.network, "mps")
        with freeze_time(move.invoice_date_due + timedelta(days=14)):
            self.env["efaktura.reminder"]._cron_send()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_reminder_ids.channel, "email")
        self.assertEqual(list(self.peer.invoices), [(ISSUER_ID, move.name)], "no second payment claim at MPS")
        refused = move.efaktura_delivery_ids.filtered(lambda d: d.error_code == mps.REMINDER_NOT_SUPPORTED)
        self.assertEqual(len(refused), 1)
        self.assertEqual(self.peer.errors, [])

    def test_credit_note_carries_no_kid(self):
        move = self.dispatch(self.make_invoice(self.ola))
        wizard = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create({"journal_id": move.journal_id.id, "reason": "Feil"})
        )
        refund = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        refund.action_post()
        self.dispatch(refund)
        self.assertEqual(refund.efaktura_channel, "nettbank")
        self.assertIn((ISSUER_ID, refund.name), self.peer.invoices)
        body = self.peer.requests_for("addInvoices")[-1].body
        body = body.decode() if isinstance(body, bytes) else body
        self.assertIn("CREDIT_NOTE", body)
        self.assertNotIn(move.payment_reference, body, "the credit note does not carry the invoice's KID")
        self.assertEqual(self.peer.errors, [])

    def test_settings_and_outbox_say_the_contract_is_unverified(self):
        settings_arch = self.env["res.config.settings"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("The MPS direct contract is unverified", settings_arch)
        delivery_arch = self.env["efaktura.delivery"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("whose contract is unverified", delivery_arch)
