"""The production network composite, over real HTTP to the local MPS and Vipps peers."""

import datetime
import zoneinfo

import requests

from odoo.tests import BaseCase, tagged

from ..networks import mps, mps_client, production, vipps, vipps_client
from ..networks.base import (
    CANCELLED,
    SHOWN,
    SUBMITTED,
    Document,
    Issuer,
    LookupResult,
    NetworkRejected,
    NetworkUnavailable,
    Recipient,
)
from ..tools.kid import MOD10, make_kid
from .common import RealTimeoutsOnLoopback
from .mps_peer import MODE_HTTP_ERROR, MpsPeer
from .vipps_peer import VippsPeer

ISSUER = Issuer(org_number="123456785", name="Nordlys Elektro AS", account_number="15031000006")
KARI_ID = "100000001"
OLA_ID = "100000002"
KARI_MOBILE = "+4791234567"
PER_MOBILE = "+4798765432"
SIRI_MOBILE = "+4793567890"
KID = make_kid(4200042, 10, MOD10)


@tagged("post_install", "-at_install")
class TestProductionNetwork(RealTimeoutsOnLoopback, BaseCase):
    mps_peer = None
    vipps_peer = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mps_peer = MpsPeer().start()
        cls.addClassCleanup(cls.mps_peer.stop)
        cls.vipps_peer = VippsPeer().start()
        cls.addClassCleanup(cls.vipps_peer.stop)

    def setUp(self):
        super().setUp()
        self.mps_peer.reset()
        self.mps_peer.add_issuer(ISSUER.org_number, ISSUER.name, ISSUER.account_number)
        self.mps_peer.add_consumer(KARI_ID, "Kari Nordmann", phone=KARI_MOBILE, email="kari@example.com")
        self.mps_peer.add_consumer(OLA_ID, "Ola Nordmann", email="ola@example.com")
        self.vipps_peer.reset()
        self.vipps_peer.add_user(msisdn=KARI_MOBILE[1:])
        self.vipps_peer.add_user(msisdn=PER_MOBILE[1:])
        self.session = requests.Session()
        self.addCleanup(self.session.close)
        self.today = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Oslo")).date()
        self.addCleanup(self.assert_peers_clean)

    def assert_peers_clean(self):
        self.assertEqual(self.mps_peer.errors, [], "the MPS peer saw something the schema forbids")
        self.assertEqual(self.vipps_peer.internal_errors, [], "the Vipps peer answered outside the spec")

    # -- helpers ------------------------------------------------------------------------------

    def mps_network(self):
        config = mps_client.MpsConfig(endpoint=self.mps_peer.url, issuer_org_number=ISSUER.org_number, timeout=5.0)
        return mps.MpsNetwork(ISSUER, config)

    def vipps_network(self):
        config = vipps_client.VippsConfig(
            client_id=self.vipps_peer.client_id,
            client_secret=self.vipps_peer.client_secret,
            subscription_key=self.vipps_peer.subscription_key,
            issuer_org_number=ISSUER.org_number,
            base_url=self.vipps_peer.base_url,
            token_url=self.vipps_peer.token_url,
            timeout=5.0,
        )
        return vipps.VippsNetwork(ISSUER, config, session=self.session)

    def network(self, with_mps=True, with_vipps=True):
        return production.ProductionNetwork(
            ISSUER,
            mps=self.mps_network() if with_mps else None,
            vipps=self.vipps_network() if with_vipps else None,
        )

    def document(self, key, number, recipient, **values):
        values = {
            "key": key,
            "invoice_number": number,
            "recipient": recipient,
            "recipient_name": "Kari Nordmann",
            "kid": KID,
            "amount_ore": 123450,
            "currency": "NOK",
            "issue_date": self.today,
            "due_date": self.today + datetime.timedelta(days=14),
            "document_url": f"https://erp.example.com/efaktura/{key}.pdf?token=abc",
            **values,
        }
        return Document(**values)

    def efaktura_document(self, key="move-1", number="INV/2025/00001"):
        return self.document(key, number, KARI_ID)

    def vipps_document(self, key="move-2", number="INV/2025/00002"):
        return self.document(key, number, KARI_MOBILE)

    def recipients(self):
        return [
            Recipient("kari", "Kari Nordmann", mobile=KARI_MOBILE),
            Recipient("ola", "Ola Nordmann", email="ola@example.com"),
            Recipient("per", "Per Olsen", mobile=PER_MOBILE),
            Recipient("siri", "Siri Berg", mobile=SIRI_MOBILE),
        ]

    def vipps_lookups(self):
        return [request.json["value"] for request in self.vipps_peer.requests_to("POST", "/recipients/tokens")]

    def mps_lookups(self):
        return self.mps_peer.requests_for("getEfakturaIdentifiers")

    # -- lookup -------------------------------------------------------------------------------

    def test_lookup_merges_mps_identifier_and_vipps_flag(self):
        network = self.network()
        results = network.lookup(self.recipients())
        self.assertEqual(
            results,
            {
                "kari": LookupResult("kari", KARI_ID, vipps=True, vipps_recipient=KARI_MOBILE[1:]),
                "ola": LookupResult("ola", OLA_ID),
                "per": LookupResult("per", "", vipps=True, vipps_recipient=PER_MOBILE[1:]),
                "siri": LookupResult("siri"),
            },
        )
        self.assertEqual(network.lookup_errors, {})
        self.assertEqual(len(self.mps_lookups()), 1, "MPS is asked once for the whole batch")
        self.assertEqual(
            self.vipps_lookups(),
            [KARI_MOBILE[1:], PER_MOBILE[1:], SIRI_MOBILE[1:]],
            "Vipps is asked only for recipients with a mobile number",
        )
        self.assertEqual(network.lookup([]), {})

    def test_lookup_with_one_network_configured(self):
        only_mps = self.network(with_vipps=False).lookup(self.recipients())
        self.assertEqual(only_mps["kari"], LookupResult("kari", KARI_ID))
        self.assertEqual(only_mps["ola"], LookupResult("ola", OLA_ID))
        self.assertEqual(only_mps["per"], LookupResult("per"))
        self.assertEqual(self.vipps_peer.requests, [], "no Vipps agreement: Vipps is never called")

        self.mps_peer.reset()
        only_vipps = self.network(with_mps=False).lookup(self.recipients())
        self.assertEqual(only_vipps["kari"], LookupResult("kari", "", vipps=True, vipps_recipient=KARI_MOBILE[1:]))
        self.assertEqual(only_vipps["ola"], LookupResult("ola"))
        self.assertEqual(only_vipps["siri"], LookupResult("siri"))
        self.assertEqual(self.mps_peer.requests, [], "no MPS agreement: MPS is never called")

        self.vipps_peer.reset()
        nobody_to_ask = self.network(with_mps=False).lookup([Recipient("ola", "Ola Nordmann", email="ola@example.com")])
        self.assertEqual(nobody_to_ask, {"ola": LookupResult("ola")})
        self.assertEqual(self.vipps_peer.requests, [], "no recipient with a mobile number: Vipps is not asked")

    def test_lookup_with_one_side_down(self):
        network = self.network()
        self.vipps_peer.set_fault("500")
        results = network.lookup(self.recipients())
        self.assertEqual(results["kari"], LookupResult("kari", KARI_ID), "MPS answered: its part is used")
        self.assertEqual(results["per"], LookupResult("per"))
        self.assertEqual(set(network.lookup_errors), {"vipps"})
        self.assertIsInstance(network.lookup_errors["vipps"], NetworkUnavailable)
        asked_vipps = {r.ref for r in self.recipients() if r.mobile}
        self.assertEqual(set(network.unanswered), asked_vipps, "the dispatcher asks these again later")

        self.vipps_peer.set_fault(None)
        self.mps_peer.mode = MODE_HTTP_ERROR
        self.mps_peer.http_status = 503
        results = network.lookup(self.recipients())
        self.assertEqual(results["kari"], LookupResult("kari", "", vipps=True, vipps_recipient=KARI_MOBILE[1:]))
        self.assertEqual(results["ola"], LookupResult("ola"))
        self.assertEqual(set(network.lookup_errors), {"nettbank"})
        self.assertTrue(network.lookup_errors["nettbank"].retryable)

    def test_lookup_raises_only_when_no_side_answered(self):
        network = self.network()
        self.mps_peer.mode = MODE_HTTP_ERROR
        self.mps_peer.http_status = 503
        self.vipps_peer.set_fault("500")
        with self.assertRaises(NetworkUnavailable) as caught:
            network.lookup(self.recipients())
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(set(network.lookup_errors), {"nettbank", "vipps"})

        # MPS refuses for good (issuer unknown), Vipps is down: the retryable error wins.
        self.mps_peer.reset()
        with self.assertRaises(NetworkUnavailable):
            network.lookup(self.recipients())
        self.assertEqual(network.lookup_errors["nettbank"].code, "5002")
        self.assertFalse(network.lookup_errors["nettbank"].retryable)

        # MPS refuses for good, Vipps answers: Vipps' answer stands.
        self.vipps_peer.set_fault(None)
        results = network.lookup(self.recipients())
        self.assertTrue(results["kari"].vipps)
        self.assertEqual(results["kari"].efaktura_identifier, "")
        self.assertEqual(set(network.lookup_errors), {"nettbank"})

        # Only MPS configured, and it refuses: nothing answered, so its own error propagates.
        with self.assertRaises(NetworkRejected) as caught:
            self.network(with_vipps=False).lookup(self.recipients())
        self.assertEqual(caught.exception.code, "5002")

        # MPS down and no recipient Vipps could be asked about: nothing answered.
        self.mps_peer.mode = MODE_HTTP_ERROR
        with self.assertRaises(NetworkUnavailable):
            network.lookup([Recipient("ola", "Ola Nordmann", email="ola@example.com")])

    # -- routing ------------------------------------------------------------------------------

    def test_submit_reaches_the_channels_peer(self):
        network = self.network()
        self.assertEqual(network.name, "production")
        self.assertEqual(network.network_name("nettbank"), "mps")
        self.assertEqual(network.network_name("vipps"), "vipps")

        [result] = network.submit("nettbank", [self.efaktura_document()])
        self.assertTrue(result.ok, result.error)
        self.assertEqual(result.network_reference, "INV/2025/00001")
        [consignment] = self.mps_peer.consignments.values()
        self.assertEqual(consignment["invoices"], ["INV/2025/00001"])
        self.assertEqual(self.mps_peer.invoices[(ISSUER.org_number, "INV/2025/00001")]["efakturaIdentifier"], KARI_ID)
        self.assertEqual(self.vipps_peer.requests, [], "an eFaktura submission never reaches Vipps")

        mps_requests = len(self.mps_peer.requests)
        [result] = network.submit("vipps", [self.vipps_document()])
        self.assertTrue(result.ok, result.error)
        self.assertEqual(result.network_reference, f"orgno-no.{ISSUER.org_number}.move-2")
        self.assertEqual(list(self.vipps_peer.invoices), [result.network_reference])
        [put] = self.vipps_peer.requests_to("PUT", result.network_reference)
        payment = {"type": "kid", "value": KID, "account": ISSUER.account_number}
        self.assertEqual(put.json["paymentInformation"], payment)
        self.assertEqual(len(self.mps_peer.requests), mps_requests, "a Vipps submission never reaches MPS")

    def test_missing_network_is_not_configured(self):
        only_mps = self.network(with_vipps=False)
        only_vipps = self.network(with_mps=False)
        calls = [
            (only_mps, "vipps", lambda n: n.submit("vipps", [self.vipps_document()])),
            (only_mps, "vipps", lambda n: n.status("vipps", ["orgno-no.123456785.move-2"])),
            (only_mps, "vipps", lambda n: n.cancel("vipps", "orgno-no.123456785.move-2")),
            (only_vipps, "nettbank", lambda n: n.submit("nettbank", [self.efaktura_document()])),
            (only_vipps, "nettbank", lambda n: n.status("nettbank", ["INV/2025/00001"])),
            (only_vipps, "nettbank", lambda n: n.cancel("nettbank", "INV/2025/00001")),
        ]
        for network, channel, call in calls:
            with self.subTest(channel=channel), self.assertRaises(NetworkRejected) as caught:
                call(network)
            self.assertEqual(caught.exception.code, production.NOT_CONFIGURED)
            self.assertFalse(caught.exception.retryable)
            self.assertIn(f"no {production.CHANNEL_NETWORKS[channel]} agreement", caught.exception.message)
        self.assertEqual(only_mps.network_name("vipps"), "vipps", "the outbox still names the channel's network")
        self.assertEqual(only_vipps.network_name("nettbank"), "mps")
        self.assertEqual(self.mps_peer.requests, [])
        self.assertEqual(self.vipps_peer.requests, [])

        with self.assertRaises(NetworkRejected) as caught:
            self.network(with_mps=False, with_vipps=False).lookup(self.recipients())
        self.assertEqual(caught.exception.code, production.NOT_CONFIGURED)
        for call in (
            lambda n: n.submit("post", [self.efaktura_document()]),
            lambda n: n.status("email", []),
            lambda n: n.cancel("sms", "x"),
            lambda n: n.network_name("post"),
        ):
            with self.assertRaises(NetworkRejected) as caught:
                call(self.network())
            self.assertEqual(caught.exception.code, production.UNKNOWN_CHANNEL)

    def test_constructor_checks_the_networks(self):
        with self.assertRaisesRegex(TypeError, "the nettbank network must be a Network"):
            production.ProductionNetwork(ISSUER, mps=object())
        other = Issuer(org_number="918130047", name="Other AS", account_number=ISSUER.account_number)
        with self.assertRaisesRegex(ValueError, "the vipps network is for issuer 123456785, not for 918130047"):
            production.ProductionNetwork(other, vipps=self.vipps_network())
        network = self.network(with_vipps=False)
        self.assertIsNone(network.vipps)
        self.assertIsInstance(network.mps, mps.MpsNetwork)
        self.assertEqual(network.configured_channels(), ("nettbank",))

    def test_status_and_cancel_are_routed(self):
        network = self.network()
        [sent_mps] = network.submit("nettbank", [self.efaktura_document()])
        [sent_vipps] = network.submit("vipps", [self.vipps_document()])
        self.mps_peer.process_consignment(next(iter(self.mps_peer.consignments)))

        vipps_before = len(self.vipps_peer.requests)
        [status] = network.status("nettbank", [sent_mps.network_reference])
        self.assertEqual((status.network_reference, status.state), ("INV/2025/00001", SHOWN))
        # One read before the submission (does MPS hold it already?), one for the status.
        self.assertEqual(len(self.mps_peer.requests_for("getInvoiceStatus")), 2)
        self.assertEqual(len(self.vipps_peer.requests), vipps_before, "an eFaktura status is read from MPS only")

        mps_before = len(self.mps_peer.requests)
        [status] = network.status("vipps", [sent_vipps.network_reference])
        self.assertEqual(status.state, SUBMITTED)
        self.vipps_peer.set_state(sent_vipps.network_reference, "pending")
        [status] = network.status("vipps", [sent_vipps.network_reference])
        self.assertEqual(status.state, SHOWN)

        network.cancel("vipps", sent_vipps.network_reference)
        self.assertEqual(self.vipps_peer.invoices[sent_vipps.network_reference]["state"], "revoked")
        self.assertEqual(len(self.vipps_peer.requests_to("PUT", "/status/revoked")), 1)
        [status] = network.status("vipps", [sent_vipps.network_reference])
        self.assertEqual(status.state, CANCELLED)
        self.assertEqual(len(self.mps_peer.requests), mps_before, "Vipps status and cancel never reach MPS")

        self.assertEqual(network.cancel("nettbank", sent_mps.network_reference).state, CANCELLED)
        self.assertEqual(len(self.mps_peer.requests_for("cancelInvoice")), 1)
        self.assertEqual(len(self.vipps_peer.requests_to("PUT", "/status/revoked")), 1, "not sent to Vipps")

    def test_resubmission_through_the_composite_is_a_duplicate(self):
        network = self.network()
        efaktura_document, vipps_document = self.efaktura_document(), self.vipps_document()
        [first] = network.submit("nettbank", [efaktura_document])
        [again] = network.submit("nettbank", [efaktura_document])
        self.assertFalse(first.duplicate)
        self.assertTrue(again.ok, again.error)
        self.assertTrue(again.duplicate)
        self.assertEqual(again.network_reference, first.network_reference)
        self.assertEqual(len(self.mps_peer.consignments), 1, "no second consignment at MPS")
        self.assertEqual(list(self.mps_peer.invoices), [(ISSUER.org_number, "INV/2025/00001")])

        [first] = network.submit("vipps", [vipps_document])
        [again] = network.submit("vipps", [vipps_document])
        self.assertFalse(first.duplicate)
        self.assertTrue(again.ok, again.error)
        self.assertTrue(again.duplicate)
        self.assertEqual(again.network_reference, first.network_reference)
        self.assertEqual(len(self.vipps_peer.requests_to("PUT", first.network_reference)), 1, "no second PUT")
        self.assertEqual(list(self.vipps_peer.invoices), [first.network_reference])
