"""The chain in production mode, against the local MPS and Vipps peers over real HTTP.

Switching a company from the sandbox to production is a change of settings only: the same dispatch code
then talks SOAP to MPS and REST to Vipps, and the network's error codes drive retries and fallbacks.
"""

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..models.efaktura_chain import MAX_ATTEMPTS
from ..networks import mps_client
from .common import EfakturaInvoiceCase, RealTimeoutsOnLoopback
from .mps_peer import MODE_HTTP_ERROR, MpsPeer
from .vipps_peer import VippsPeer

OLA_IDENTIFIER = "700000002"


class ProductionCase(RealTimeoutsOnLoopback, EfakturaInvoiceCase):
    """The company in production mode, against the local MPS and Vipps peers; no peer may see anything its
    schema forbids, nor the same invoice twice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mps_peer = MpsPeer().start()
        cls.addClassCleanup(cls.mps_peer.stop)
        cls.vipps_peer = VippsPeer().start()
        cls.addClassCleanup(cls.vipps_peer.stop)
        # Vipps shows the PDF from an https address; nothing fetches it in these tests.
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.nordlys.example.com")
        cls.company.write(
            {
                "efaktura_network_mode": "production",
                "efaktura_production_route": "mps",
                "efaktura_mps_endpoint": cls.mps_peer.url,
                "efaktura_mps_cancel_endpoint": cls.mps_peer.base_url.rstrip("/") + mps_client.SUBMITTER_PATH,
                "efaktura_mps_client_cert": __file__,  # plain HTTP to the peer: no TLS handshake is made
                "efaktura_uses_vipps_api": True,
                "efaktura_vipps_base_url": cls.vipps_peer.base_url,
                "efaktura_vipps_token_url": cls.vipps_peer.token_url,
                "efaktura_vipps_client_id": cls.vipps_peer.client_id,
                "efaktura_vipps_client_secret": cls.vipps_peer.client_secret,
                "efaktura_vipps_subscription_key": cls.vipps_peer.subscription_key,
            }
        )

    def setUp(self):
        super().setUp()
        self.mps_peer.reset()
        self.mps_peer.add_issuer("123456785", self.company.name, "86011117947")
        self.mps_peer.add_consumer(OLA_IDENTIFIER, "Ola Nordmann", phone="+4790011222", email="ola@example.com")
        self.vipps_peer.reset()
        self.vipps_peer.add_user(msisdn="4741234567")
        self.addCleanup(self.assert_peers_clean)

    def assert_peers_clean(self):
        self.assertEqual(self.mps_peer.errors, [], "the MPS peer saw something its schema forbids")
        self.assertEqual(self.vipps_peer.internal_errors, [], "the Vipps peer answered outside the spec")
        self.assertEqual(self.mps_peer.duplicates, [], "an invoice reached the nettbank twice")
        self.assertEqual(self.vipps_peer.duplicates, [], "an invoice reached Vipps twice")


@tagged("post_install", "-at_install")
class TestDispatchProduction(ProductionCase):
    def test_nettbank_through_mps(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "nettbank"))
        delivery = move.efaktura_delivery_ids
        self.assertEqual(delivery.network, "mps")
        self.assertEqual(self.ola.with_company(self.company).efaktura_identifier, OLA_IDENTIFIER)
        self.assertTrue(delivery.network_reference)
        self.assertIn(("123456785", move.name), self.mps_peer.invoices)
        self.assertFalse(self.mailbox(move), "nothing went to the sandbox")

    def test_vipps_through_the_vipps_api(self):
        move = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "vipps"))
        delivery = move.efaktura_delivery_ids
        self.assertEqual(delivery.network, "vipps")
        self.assertEqual(list(self.vipps_peer.invoices), [delivery.network_reference])
        [put] = self.vipps_peer.requests_to("PUT", delivery.network_reference)
        self.assertEqual(put.json["paymentInformation"]["value"], move.payment_reference)

    def test_sending_twice_reaches_mps_once(self):
        move = self.dispatch(self.make_invoice(self.ola))
        consignments = len(self.mps_peer.consignments)
        with self.assertRaisesRegex(UserError, "already delivered"):
            move.action_efaktura_send()
        self.dispatch(move)
        self.env["efaktura.chain"]._cron_dispatch()
        self.assertEqual(len(self.mps_peer.consignments), consignments)
        self.assertEqual(len(move.efaktura_delivery_ids), 1)

    def test_validation_fault_takes_the_next_channel(self):
        self.dispatch(self.make_invoice(self.ola, amount=10))  # the lookup learns Ola's identifier
        self.mps_peer.inject_fault("validationFault", "5006", "Invalid account number")
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids.filtered(lambda d: d.channel == "nettbank")
        self.assertEqual((delivery.state, delivery.error_code, delivery.final), ("rejected", "5006", True))
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("fallback_sent", "email"))

    def test_server_fault_is_retried(self):
        self.dispatch(self.make_invoice(self.ola, amount=10))
        self.mps_peer.mode = MODE_HTTP_ERROR
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        self.assertEqual((delivery.state, delivery.final, delivery.attempt_count), ("failed", False, 1))
        self.assertEqual(move.efaktura_state, "queued")
        self.assertTrue(move.efaktura_next_try)
        self.assertLess(delivery.attempt_count, MAX_ATTEMPTS)

    def test_switching_to_sandbox_changes_only_settings(self):
        self.company.efaktura_network_mode = "sandbox"
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "nettbank"))
        self.assertEqual(move.efaktura_delivery_ids.network, "sandbox")
        self.assertEqual(len(self.mailbox(move)), 1)
        self.assertFalse(self.mps_peer.consignments)

    def test_cancel_revokes_at_vipps(self):
        move = self.dispatch(self.make_invoice(self.kari))
        reference = move.efaktura_delivery_ids.network_reference
        move.button_draft()
        self.assertEqual(self.vipps_peer.invoices[reference]["state"], "created", "nothing before the commit")
        self.env["efaktura.take.back"]._process(move)  # what runs right after the commit
        self.assertEqual(move.efaktura_delivery_ids.state, "cancelled")
        self.assertEqual(self.vipps_peer.invoices[reference]["state"], "revoked")
        self.assertEqual(move.state, "draft")

    def test_reset_cancels_at_mps(self):
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        move.button_draft()
        self.env["efaktura.take.back"]._process(move)
        self.assertEqual(move.state, "draft")
        self.assertEqual(delivery.state, "cancelled")
        self.assertEqual(self.mps_peer.invoices[("123456785", move.name)]["status"], "DELETED")
        self.assertEqual(len(self.mps_peer.requests_for("cancelInvoice")), 1)

    def test_mps_cannot_take_back_so_the_reset_is_blocked(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.mps_peer.close_cancellation("123456785", move.name)
        move.button_draft()
        self.env["efaktura.take.back"]._process(move)
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.efaktura_delivery_ids.state, "submitted")
        self.assertRegex(move.efaktura_error, "refused to take it back.*too late to cancel")
        self.assertFalse(self.mps_peer.requests_for("cancelInvoice"))
