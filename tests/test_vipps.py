import dataclasses
import datetime
import socket
import zoneinfo
from unittest.mock import patch

import requests

from odoo.tests import BaseCase, tagged

from ..networks import vipps, vipps_client
from ..networks.base import (
    CANCELLED,
    PAID,
    REJECTED,
    SHOWN,
    SUBMITTED,
    TOKEN_EXPIRY_MARGIN,
    Document,
    Issuer,
    NetworkRejected,
    NetworkUnavailable,
    Recipient,
)
from .common import RealTimeoutsOnLoopback
from .vipps_peer import VippsPeer

MSISDN = "4791234567"
OTHER_MSISDN = "4798765432"
ISSUER = Issuer(org_number="123456785", name="Nordlys Elektro AS", account_number="12345678903")
KID = "0000000426"
DOCUMENT_URL = "https://erp.example.com/efaktura/document/7?token=abc"


@tagged("post_install", "-at_install")
class TestVippsClient(RealTimeoutsOnLoopback, BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = VippsPeer().start()
        cls.addClassCleanup(cls.peer.stop)

    def setUp(self):
        super().setUp()
        self.peer.reset()
        self.peer.add_user(msisdn=MSISDN)
        self.clock = [1000.0]
        self.session = requests.Session()
        self.addCleanup(self.session.close)
        self.config = vipps_client.VippsConfig(
            client_id=self.peer.client_id,
            client_secret=self.peer.client_secret,
            subscription_key=self.peer.subscription_key,
            issuer_org_number=ISSUER.org_number,
            base_url=self.peer.base_url,
            token_url=self.peer.token_url,
            timeout=5.0,
        )
        self.client = vipps_client.VippsClient(self.config, session=self.session, clock=lambda: self.clock[0])
        self.network = vipps.VippsNetwork(ISSUER, self.config, client=self.client)
        self.today = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Oslo")).date()

    def tearDown(self):
        self.assertEqual(self.peer.internal_errors, [], "the peer answered outside the spec")
        super().tearDown()

    def document(self, key="a1b2c3d4e5f60718293a4b5c6d7e8f90", **changes):
        values = {
            "key": key,
            "invoice_number": "INV/2025/00042",
            "recipient": "+" + MSISDN,
            "recipient_name": "Kari Nordmann",
            "kid": KID,
            "amount_ore": 123450,
            "currency": "NOK",
            "issue_date": self.today,
            "due_date": self.today + datetime.timedelta(days=14),
            "document_url": DOCUMENT_URL,
            "document_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        }
        values.update(changes)
        return Document(**values)

    def invoice_ref(self, document):
        return f"orgno-no.{ISSUER.org_number}.{document.key}"

    def submit(self, *documents):
        results = self.network.submit("vipps", list(documents))
        self.assertEqual(len(results), len(documents))
        return results

    def raw_headers(self):
        return {
            "Authorization": f"Bearer {self.client.access_token()}",
            "Ocp-Apim-Subscription-Key": self.peer.subscription_key,
        }

    # -- tokens ---------------------------------------------------------------------------------

    def test_access_token_is_cached_until_expiry(self):
        token = self.client.access_token()
        self.assertEqual(self.client.access_token(), token)
        (request,) = self.peer.requests_to("POST", "/accessToken/get")
        self.assertEqual(request.header("client_id"), self.peer.client_id)
        self.assertEqual(request.header("client_secret"), self.peer.client_secret)
        self.assertEqual(request.header("Ocp-Apim-Subscription-Key"), self.peer.subscription_key)
        self.assertEqual(request.body, b"")
        self.clock[0] += self.peer.token_lifetime - TOKEN_EXPIRY_MARGIN - 1
        self.assertEqual(self.client.access_token(), token, "still valid a little before expiry")
        self.clock[0] += 2
        self.assertNotEqual(self.client.access_token(), token, "fetched again at expiry")
        self.assertEqual(len(self.peer.requests_to("POST", "/accessToken/get")), 2)

    def test_access_token_fetched_again_after_401(self):
        self.client.access_token()
        self.peer.expire_access_tokens()
        self.assertIsNone(self.client.get_invoice("orgno-no.123456785.unknown"))
        self.assertEqual([r.status for r in self.peer.requests_to("GET", ".unknown")], [401, 404])
        self.assertEqual(len(self.peer.requests_to("POST", "/accessToken/get")), 2)

    def test_access_token_refused(self):
        client = vipps_client.VippsClient(dataclasses.replace(self.config, client_secret="wrong"), session=self.session)
        with self.assertRaises(NetworkRejected) as caught:
            client.access_token()
        self.assertFalse(caught.exception.retryable)
        self.assertEqual(caught.exception.code, "http-401")

    def test_recipient_token_found_and_not_found(self):
        token = self.client.recipient_token(msisdn=MSISDN)
        self.assertTrue(token)
        request = self.peer.requests_to("POST", "/recipients/tokens")[0]
        self.assertEqual(request.json, {"type": "msisdn", "value": MSISDN})
        self.assertRegex(request.header("Authorization"), r"^Bearer \S+$")
        self.assertEqual(request.header("Ocp-Apim-Subscription-Key"), self.peer.subscription_key)
        self.assertEqual(request.header("Content-Type"), "application/json")
        self.assertEqual(self.client.recipient_token(msisdn=MSISDN), token, "reused while valid")
        self.assertEqual(len(self.peer.requests_to("POST", "/recipients/tokens")), 1)

        self.assertIsNone(self.client.recipient_token(msisdn=OTHER_MSISDN))
        self.assertEqual(self.peer.requests_to("POST", "/recipients/tokens")[-1].status, 404)

        self.peer.add_user(nin="01032300371")
        self.assertTrue(self.client.recipient_token(nin="01032300371"))
        self.assertEqual(self.peer.requests_to("POST", "/recipients/tokens")[-1].json["type"], "nin-no")
        self.assertIsNone(self.client.recipient_token(nin="01010112345"))
        with self.assertRaises(ValueError):
            self.client.recipient_token()

    def test_lookup(self):
        recipients = [
            Recipient(ref="1", name="Kari", mobile="+" + MSISDN),
            Recipient(ref="2", name="Ola", mobile="+" + OTHER_MSISDN),
            Recipient(ref="3", name="Per", mobile=""),
            Recipient(ref="4", name="Lise", mobile="+46701234567"),
        ]
        results = self.network.lookup(recipients)
        self.assertEqual(set(results), {"1", "2", "3", "4"})
        self.assertTrue(results["1"].vipps)
        self.assertEqual(results["1"].vipps_recipient, MSISDN)
        self.assertEqual(results["1"].efaktura_identifier, "")
        for ref in ("2", "3", "4"):
            self.assertFalse(results[ref].vipps, ref)
            self.assertEqual(results[ref].vipps_recipient, "")
        asked = [r.json["value"] for r in self.peer.requests_to("POST", "/recipients/tokens")]
        self.assertEqual(asked, [MSISDN, OTHER_MSISDN], "no call for a missing or foreign number")

    # -- invoices -------------------------------------------------------------------------------

    def test_submit_puts_the_invoice_per_spec(self):
        document = self.document()
        (result,) = self.submit(document)
        self.assertTrue(result.ok, result.error)
        self.assertEqual(result.network_reference, self.invoice_ref(document))
        self.assertEqual(result.state, SUBMITTED)
        self.assertFalse(result.duplicate)

        (put,) = self.peer.requests_to("PUT", self.invoice_ref(document))
        self.assertEqual(put.status, 200)
        body = put.json
        due = body.pop("due")
        self.assertRegex(due, rf"^{document.due_date.isoformat()}T00:00:00\+0[12]:00$")
        token = body.pop("recipientToken")
        self.assertEqual(self.peer.recipient_tokens[token][:2], ("msisdn", MSISDN))
        self.assertEqual(
            body,
            {
                "paymentInformation": {"type": "kid", "value": KID, "account": ISSUER.account_number},
                "invoiceType": "invoice",
                "amount": 123450,
                "subject": ISSUER.name,
                "issuerName": ISSUER.name,
                "commercialInvoice": [{"mimeType": "application/pdf", "url": DOCUMENT_URL}],
                "metadata": {
                    "key": document.key,
                    "invoiceNumber": document.invoice_number,
                    "documentHash": document.document_hash,
                },
            },
        )

        invoice = self.client.get_invoice(result.network_reference)
        self.assertEqual(invoice["invoiceId"], result.network_reference)
        self.assertEqual(invoice["status"]["state"], "created")
        self.assertEqual(invoice["recipient"]["identValue"], MSISDN)
        self.assertEqual(invoice["amount"], 123450)

    def test_subject_and_issuer_icon_from_the_config(self):
        config = dataclasses.replace(
            self.config, subject_format="Invoice {invoice_number}", issuer_icon_url="https://erp.example.com/logo.png"
        )
        network = vipps.VippsNetwork(ISSUER, config, client=self.client)
        (result,) = network.submit("vipps", [self.document()])
        self.assertTrue(result.ok, result.error)
        (put,) = self.peer.requests_to("PUT", result.network_reference)
        self.assertEqual(put.json["subject"], "Invoice INV/2025/00042")
        self.assertEqual(put.json["issuerIconUrl"], "https://erp.example.com/logo.png")
        self.assertEqual(self.client.get_invoice(result.network_reference)["issuerIconUrl"], config.issuer_icon_url)
        with self.assertRaisesRegex(ValueError, "issuer_icon_url must be an https URL"):
            vipps.VippsNetwork(ISSUER, dataclasses.replace(config, issuer_icon_url="http://erp.example.com/logo.png"))
        with self.assertRaisesRegex(ValueError, "issuer_org_number 918130047 is not the issuer's 123456785"):
            vipps.VippsNetwork(ISSUER, dataclasses.replace(config, issuer_org_number="918130047"))

    def test_idempotent_put(self):
        document = self.document()
        (first,) = self.submit(document)
        (again,) = self.submit(document)
        self.assertTrue(again.ok, again.error)
        self.assertTrue(again.duplicate)
        self.assertEqual(again.network_reference, first.network_reference)
        self.assertEqual(len(self.peer.requests_to("PUT", first.network_reference)), 1, "found by GET, not sent again")

        # The raw PUT again, with a fresh recipient token for the same person: Vipps answers 200.
        checked = vipps_client.validate_document(document, ISSUER, datetime.datetime.now(datetime.timezone.utc))
        self.client.forget_recipient_token(msisdn=MSISDN)
        body = vipps_client.invoice_body(checked, self.client.recipient_token(msisdn=MSISDN))
        self.client.put_invoice(first.network_reference, body)
        self.client.put_invoice(first.network_reference, body)
        self.assertEqual([r.status for r in self.peer.requests_to("PUT", first.network_reference)], [200, 200, 200])
        self.assertEqual(len(self.peer.invoices), 1)

        # A different invoice under the same id: 409, for good.
        with self.assertRaises(NetworkRejected) as caught:
            self.client.put_invoice(first.network_reference, {**body, "amount": 99})
        self.assertEqual(caught.exception.code, "invoice-conflict")
        self.assertFalse(caught.exception.retryable)
        self.assertIn("different content", str(caught.exception))

        (changed,) = self.submit(self.document(amount_ore=99))
        self.assertEqual(changed.error.code, "invoice-conflict")
        self.assertIn("differs in amount", changed.error.message)

        (resigned,) = self.submit(self.document(document_url=DOCUMENT_URL + "&renewed=1"))
        self.assertTrue(resigned.duplicate, "a newly signed link does not make a new invoice")

    def test_conflicting_put_of_the_same_invoice_is_a_duplicate(self):
        """Vipps already holds the invoice with an older document link (a re-run signs a new one):
        the PUT gets 409, the invoice read back is the same invoice, so nothing new reached the
        consumer. This is the PUT of submit(), as if its GET had not found the invoice yet."""
        checked = vipps_client.validate_document(self.document(), ISSUER, datetime.datetime.now(datetime.timezone.utc))
        body = vipps_client.invoice_body(checked, self.client.recipient_token(msisdn=MSISDN))
        old_link = [{"mimeType": "application/pdf", "url": DOCUMENT_URL + "-old"}]
        self.client.put_invoice(checked.invoice_id, {**body, "commercialInvoice": old_link})
        result = self.network._put(checked)
        self.assertTrue(result.ok, result.error)
        self.assertTrue(result.duplicate)
        self.assertEqual([r.status for r in self.peer.requests_to("PUT", checked.invoice_id)], [200, 409])

    def test_recipient_not_a_vipps_user(self):
        (result,) = self.submit(self.document(recipient=OTHER_MSISDN))
        self.assertEqual(result.error.code, "recipient-not-found")
        self.assertFalse(result.error.retryable)
        self.assertEqual(self.peer.requests_to("PUT", "/invoices/"), [])

    def test_revoke(self):
        (result,) = self.submit(self.document())
        reference = result.network_reference
        self.network.cancel("vipps", reference)
        self.assertEqual(self.client.get_invoice(reference)["status"]["state"], "revoked")
        (revoke,) = self.peer.requests_to("PUT", "/status/revoked")
        self.assertEqual(revoke.status, 204)
        self.assertEqual(revoke.header("Idempotency-Key"), vipps_client.revoke_idempotency_key(reference))
        self.assertTrue(revoke.header("If-Match"))
        self.network.cancel("vipps", reference)  # already revoked: nothing to do
        self.assertEqual(len(self.peer.requests_to("PUT", "/status/revoked")), 1)
        # The same revoke repeated (a retry after a lost answer) is answered 204 again.
        self.client.revoke(reference, etag="stale", idempotency_key=vipps_client.revoke_idempotency_key(reference))
        self.assertEqual(self.peer.requests_to("PUT", "/status/revoked")[-1].status, 204)

    def test_revoke_too_late(self):
        (result,) = self.submit(self.document())
        reference = result.network_reference
        self.peer.set_state(reference, "approved", amount=123450, due="2030-01-01T00:00:00Z")
        with self.assertRaises(NetworkRejected) as caught:
            self.network.cancel("vipps", reference)
        self.assertEqual(caught.exception.code, "state-transition-not-allowed")
        with self.assertRaises(NetworkRejected) as caught:
            self.client.revoke(reference)
        self.assertEqual(caught.exception.code, "state-transition-not-allowed")
        self.assertEqual(self.peer.requests_to("PUT", "/status/revoked")[-1].status, 409)
        with self.assertRaises(NetworkRejected) as caught:
            self.network.cancel("vipps", "orgno-no.123456785.nothere")
        self.assertEqual(caught.exception.code, "invoice-not-found")

    def test_status_mapping(self):
        (result,) = self.submit(self.document())
        reference = result.network_reference
        problem = {"type": vipps_problem("invalid-account-owner"), "title": "Account does not belong to organisation"}
        cases = [
            ("created", {}, SUBMITTED, "validation pending"),
            ("pending", {}, SHOWN, "shown to the recipient"),
            ("approved", {"amount": 123450, "due": "2030-01-01T00:00:00Z"}, PAID, "123450 øre on 2030-01-01"),
            ("rejected", {"problems": [problem]}, REJECTED, "Account does not belong to organisation"),
            ("deleted", {}, REJECTED, "deleted by the recipient"),
            ("expired", {}, REJECTED, "expired"),
            ("revoked", {}, CANCELLED, "revoked by the issuer"),
        ]
        for vipps_state, extra, state, detail in cases:
            with self.subTest(vipps_state=vipps_state):
                self.peer.set_state(reference, vipps_state, **extra)
                (status,) = self.network.status("vipps", [reference, "orgno-no.123456785.unknown"])
                self.assertEqual(status.network_reference, reference)
                self.assertEqual(status.state, state)
                self.assertIn(detail, status.detail)
        self.assertEqual(
            set(vipps_client.VIPPS_STATES),
            set(self.peer.spec["definitions"]["invoiceOut"]["properties"]["status"]["properties"]["state"]["enum"]),
        )

    def test_efaktura_channel_not_supported(self):
        for call in (
            lambda: self.network.submit("nettbank", [self.document()]),
            lambda: self.network.status("nettbank", ["orgno-no.123456785.x"]),
            lambda: self.network.cancel("nettbank", "orgno-no.123456785.x"),
        ):
            with self.assertRaises(NetworkRejected) as caught:
                call()
            self.assertIn("not supported", str(caught.exception))
            self.assertFalse(caught.exception.retryable)
        self.assertEqual(self.peer.requests, [])

    # -- the peer holds requests to the spec ----------------------------------------------------

    def test_schema_invalid_request_is_refused_by_the_peer(self):
        url = f"{self.peer.base_url}/invoices/orgno-no.123456785.raw1"
        body = {
            "recipientToken": self.client.recipient_token(msisdn=MSISDN),
            "paymentInformation": {"type": "kid", "value": KID},
            "invoiceType": "invoice",
            "due": "2030-01-01",
            "amount": "12345",
            "subject": "Test",
            "commercialInvoice": [],
        }
        response = self.session.put(url, json=body, headers=self.raw_headers(), timeout=5)
        self.assertEqual(response.status_code, 400)
        error = response.json()["error"]
        self.assertEqual(error["type"], vipps_problem("input-validation-failed"))
        self.assertIn("paymentInformation: 'account' is a required property", error["detail"])
        self.assertIn("amount: '12345' is not of type 'integer'", error["detail"])
        self.assertIn("due: '2030-01-01' is not a 'date-time'", error["detail"])
        self.assertIn("commercialInvoice: [] should be non-empty", error["detail"])

        response = self.session.put(
            f"{self.peer.base_url}/invoices/orgno-no.123456785.not_allowed", json={}, headers=self.raw_headers()
        )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["type"], vipps_problem("invalid-invoice-id-format"))

        response = self.session.put(f"{url}/status/revoked", headers=self.raw_headers(), timeout=5)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["type"], vipps_problem("missing-header-if-match"))

        response = self.session.get(url, headers={"Authorization": self.raw_headers()["Authorization"]}, timeout=5)
        self.assertEqual(response.status_code, 401)
        self.assertIn("subscription key", response.json()["responseInfo"]["responseMessage"])

        response = self.session.get(
            url, headers={**self.raw_headers(), "Authorization": "Basic dXNlcjpwYXNz"}, timeout=5
        )
        self.assertEqual(response.status_code, 401)
        self.assertEqual(self.peer.invoices, {})

    def test_business_rules_of_the_api_guide_are_enforced_by_the_peer(self):
        document = self.document()
        checked = vipps_client.validate_document(document, ISSUER, datetime.datetime.now(datetime.timezone.utc))
        body = vipps_client.invoice_body(checked, self.client.recipient_token(msisdn=MSISDN))
        soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=71)).isoformat()
        cases = [
            ({"due": soon}, "invalid-due-date"),
            (
                {"paymentInformation": {**body["paymentInformation"], "value": "79927398710"}},
                "invalid-payment-information-kid",
            ),
            (
                {"paymentInformation": {**body["paymentInformation"], "account": "12345678901"}},
                "invalid-payment-information-account",
            ),
            ({"recipientToken": "forged"}, "invalid-recipient-token"),
            ({"minAmount": body["amount"] + 1}, "invalid-min-amount"),
            (
                {"commercialInvoice": [{"mimeType": "application/pdf", "url": "http://x.example/a.pdf"}]},
                "invalid-commercial-invoice-url",
            ),
        ]
        for change, problem_type in cases:
            with self.subTest(problem_type=problem_type), self.assertRaises(NetworkRejected) as caught:
                self.client.put_invoice(checked.invoice_id, {**body, **change})
            self.assertEqual(caught.exception.code, problem_type)
        with self.assertRaises(NetworkRejected) as caught:
            self.client.put_invoice(checked.invoice_id, {**body, "issuerName": "N" * 41})
        self.assertEqual(caught.exception.code, "input-validation-failed")
        self.assertIn("issuerName", caught.exception.message)
        self.assertEqual(self.peer.invoices, {})

    # -- validation before sending --------------------------------------------------------------

    def assert_refused_before_sending(self, document, field, rule, issuer=ISSUER):
        network = vipps.VippsNetwork(issuer, self.config, client=self.client)
        (result,) = network.submit("vipps", [document])
        self.assertIsInstance(result.error, vipps_client.VippsValidationError)
        self.assertFalse(result.error.retryable)
        self.assertIn((field, rule), [(f, r[: len(rule)]) for f, r in result.error.problems])
        self.assertIn(f"{field}: {rule}", str(result.error))
        self.assertEqual(self.peer.requests_to("PUT", "/invoices/"), [])
        self.assertEqual(self.peer.requests_to("POST", "/recipients/tokens"), [])

    def test_validation_before_sending(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        too_soon = (now + datetime.timedelta(hours=71)).astimezone(zoneinfo.ZoneInfo("Europe/Oslo")).date()
        cases = [
            (self.document(due_date=too_soon), "due_date", "must be at least 72 hours ahead, so "),
            (self.document(due_date=self.today), "due_date", "must be at least 72 hours ahead"),
            (self.document(due_date=self.today + datetime.timedelta(days=400)), "due_date", "must be at most one year"),
            (self.document(kid="79927398710"), "kid", "check digit does not match MOD10 or MOD11"),
            (self.document(kid="426"), "kid", "must be 4 to 25 digits for Vipps"),
            (self.document(kid="12ab"), "kid", "must be 2 to 25 digits"),
            (self.document(amount_ore=0), "amount_ore", "must be a positive whole number of øre"),
            (self.document(amount_ore=12.5), "amount_ore", "must be a positive whole number of øre"),
            (self.document(currency="EUR"), "currency", "must be NOK"),
            (self.document(kind="credit_note"), "kind", "Vipps eFaktura takes invoices and payment reminders only"),
            (self.document(document_url="http://erp.example.com/x.pdf"), "document_url", "must be an https URL"),
            (self.document(document_url=""), "document_url", "must be an https URL"),
            (self.document(recipient="12345"), "recipient", "must be a Norwegian mobile number"),
            (self.document(key="INV/2025/1"), "key", "must be ASCII letters, digits and '-' only"),
        ]
        for document, field, rule in cases:
            with self.subTest(field=field, rule=rule):
                self.assert_refused_before_sending(document, field, rule)
        long_name = dataclasses.replace(ISSUER, name="Nordlys Elektro og Varmepumpeservice Vest AS")
        self.assert_refused_before_sending(
            self.document(), "issuer.name", "must be at most 40 characters, has 44", issuer=long_name
        )
        bad_account = dataclasses.replace(ISSUER, account_number="12345678901")
        self.assert_refused_before_sending(
            self.document(), "issuer.account_number", "must be 11 digits with a valid MOD11", issuer=bad_account
        )

    def test_earliest_due_date_passes(self):
        now = datetime.datetime(2025, 3, 28, 9, 0, tzinfo=datetime.timezone.utc)  # Friday before summer time
        early = self.document(due_date=datetime.date(2025, 3, 31))  # 00:00+02:00 is 61 h later
        with self.assertRaises(vipps_client.VippsValidationError) as caught:
            vipps_client.validate_document(early, ISSUER, now)
        self.assertIn("so 2025-04-01 or later", str(caught.exception))
        checked = vipps_client.validate_document(self.document(due_date=datetime.date(2025, 4, 1)), ISSUER, now)
        self.assertEqual(checked.due, "2025-04-01T00:00:00+02:00")
        naive = vipps_client.validate_document(
            self.document(due_date=datetime.date(2025, 1, 10)), ISSUER, datetime.datetime(2025, 1, 1, 12)
        )
        self.assertEqual(naive.due, "2025-01-10T00:00:00+01:00")

    def test_invoice_id(self):
        self.assertEqual(vipps_client.invoice_id("918130047", "abc123"), "orgno-no.918130047.abc123")
        self.assertEqual(self.client.invoice_id("A-1"), "orgno-no.123456785.A-1")
        for org, ref, field in (
            ("918130047", "a.b", "invoice ref"),
            ("918130047", "æøå", "invoice ref"),
            ("918130047", "", "invoice ref"),
            ("918130047", "abc\n", "invoice ref"),
            ("918130048", "abc", "org_number"),
            ("918130047", "x" * 200, "invoice ref"),
        ):
            with self.subTest(org=org, ref=ref), self.assertRaises(vipps_client.VippsValidationError) as caught:
                vipps_client.invoice_id(org, ref)
            self.assertEqual(caught.exception.problems[0][0], field)
        self.assertEqual(len(vipps_client.invoice_id("918130047", "x" * 181)), 200)

    # -- error mapping --------------------------------------------------------------------------

    def test_server_error_is_retryable(self):
        self.client.access_token()
        self.peer.set_fault("500")
        with self.assertRaises(NetworkUnavailable) as caught:
            self.client.get_invoice("orgno-no.123456785.abc")
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(caught.exception.code, "internal-server-error")
        self.assertIn("HTTP 500", str(caught.exception))

    def test_mobile_numbers_are_masked_in_the_log(self):
        """Vipps repeats a refused msisdn in its error; the log line keeps only its last two digits."""
        # What the client hands to its logger (a library's logging configuration may have silenced the logger
        # itself in this process, so the call is watched, not the handlers).
        with (
            patch.object(vipps_client._logger, "info") as log_info,
            self.assertRaises(NetworkRejected) as caught,
        ):
            self.client.recipient_token(msisdn="+" + MSISDN)
        self.assertIn(MSISDN, str(caught.exception), "the error itself keeps the number, for the invoice")
        self.assertTrue(log_info.called)
        logged = "\n".join(call.args[0] % call.args[1:] for call in log_info.call_args_list)
        self.assertIn("invalid-recipient-value-msisdn", logged)
        self.assertNotIn(MSISDN[2:], logged)
        self.assertIn("+47******67", logged)
        self.assertEqual(
            vipps_client.mask_mobiles("msisdn 4791234567, +4741234567 or 91234567; org 123456785, KID 0000000426"),
            "msisdn 47******67, +47******67 or ******67; org 123456785, KID 0000000426",
        )

    def test_rate_limit_is_retryable(self):
        self.peer.set_fault("429")
        with self.assertRaises(NetworkUnavailable) as caught:
            self.client.recipient_token(msisdn=MSISDN)
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(caught.exception.code, "http-429")

    def test_timeout_is_retryable(self):
        client = vipps_client.VippsClient(dataclasses.replace(self.config, timeout=0.5), session=self.session)
        client.access_token()
        self.peer.set_fault("hang")
        with self.assertRaises(NetworkUnavailable) as caught:
            client.get_invoice("orgno-no.123456785.abc")
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(caught.exception.code, "timeout")

    def test_malformed_json_is_retryable(self):
        self.peer.set_fault("malformed", on="token")
        with self.assertRaises(NetworkUnavailable) as caught:
            self.client.access_token()
        self.assertEqual(caught.exception.code, "invalid-json")
        self.peer.set_fault("malformed")
        with self.assertRaises(NetworkUnavailable) as caught:
            self.client.recipient_token(msisdn=MSISDN)
        self.assertTrue(caught.exception.retryable)
        self.assertEqual(caught.exception.code, "invalid-json")

    def test_connection_refused_is_retryable(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = dataclasses.replace(self.config, token_url=f"http://127.0.0.1:{port}/accessToken/get")
        with self.assertRaises(NetworkUnavailable) as caught:
            vipps_client.VippsClient(config, session=self.session).access_token()
        self.assertEqual(caught.exception.code, "connection")

    def test_client_error_is_not_retryable(self):
        with self.assertRaises(NetworkRejected) as caught:
            self.client.put_invoice("orgno-no.123456785.abc", {})
        self.assertFalse(caught.exception.retryable)
        self.assertEqual(caught.exception.code, "input-validation-failed")
        self.assertIn("HTTP 400", str(caught.exception))
        self.assertIn("'recipientToken' is a required property", str(caught.exception))

        client = vipps_client.VippsClient(
            dataclasses.replace(self.config, subscription_key="wrong"), session=self.session
        )
        with self.assertRaises(NetworkRejected) as caught:
            client.get_invoice("orgno-no.123456785.abc")
        self.assertFalse(caught.exception.retryable)
        self.assertEqual(caught.exception.code, "http-401")

    def test_submit_fails_as_a_whole_when_vipps_is_down(self):
        self.peer.set_fault("500")
        with self.assertRaises(NetworkUnavailable):
            self.submit(self.document())
        self.assertEqual(self.peer.invoices, {})
        self.peer.set_fault("500", on="token")
        fresh = vipps.VippsNetwork(ISSUER, self.config, session=self.session)  # no access token yet
        with self.assertRaises(NetworkUnavailable) as caught:
            fresh.submit("vipps", [self.document()])
        self.assertIn("access token", str(caught.exception))
        self.assertEqual(self.peer.invoices, {})

    def test_submit_stops_at_an_outage_after_a_delivery(self):
        first, second, third = (self.document(key=f"doc-{n}") for n in (1, 2, 3))
        # The first document takes three calls (GET, recipient token, PUT); the fourth call fails.
        self.peer.set_fault("500", after=3)
        results = self.submit(first, second, third)
        self.assertTrue(results[0].ok, results[0].error)
        for result in results[1:]:
            self.assertIsInstance(result.error, NetworkUnavailable)
            self.assertTrue(result.error.retryable)
        self.assertIn("not attempted", results[2].error.message)
        self.assertEqual(list(self.peer.invoices), [self.invoice_ref(first)])
        self.assertEqual(len(self.peer.requests_to("GET", "doc-3")), 0)

    def test_per_document_errors_do_not_stop_the_others(self):
        good, bad = self.document(key="good-1"), self.document(key="bad-1", kid="79927398710")
        results = self.submit(bad, good)
        self.assertEqual(results[0].error.code, "validation")
        self.assertTrue(results[1].ok, results[1].error)
        self.assertEqual(list(self.peer.invoices), [self.invoice_ref(good)])


def vipps_problem(slug):
    return "https://vipps.no/invoice/v1/problems/" + slug
