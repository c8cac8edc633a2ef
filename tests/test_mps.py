"""The MPS eFaktura ERP service v4 adapter, over real HTTP through zeep to the local peer."""

import datetime
import decimal
import os
import time

import requests
import zeep.exceptions
from lxml import etree

from odoo.tests import BaseCase, tagged
from odoo.tests import common as odoo_test_common

from ..networks import base, mps, mps_client
from .mps_peer import MODE_GARBAGE, MODE_HANG, MODE_HTTP_ERROR, MODE_NOT_SOAP, NS, SOAP_ENV, MpsPeer

ISSUER_ID = "123456785"
OTHER_ISSUER_ID = "987654325"
ACCOUNT = "15031000006"  # MOD11 valid
BAD_ACCOUNT = "15031000007"  # MOD11 invalid
KARI_ID = "100000001"
KARI_SSN = "01017012345"
KARI_MOBILE = "+4791234567"
OLA_ID = "100000002"


@tagged("post_install", "-at_install")
class TestMpsClient(BaseCase):
    peer = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = MpsPeer().start()
        cls.addClassCleanup(cls.peer.stop)

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # The peer is local: keep the client's own timeout, which the default handler raises to 10 s.
        if cls.peer is not None and r.url.startswith(cls.peer.base_url):
            return odoo_test_common._super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    def setUp(self):
        super().setUp()
        self.peer.reset()
        self.peer.add_issuer(ISSUER_ID, "Nordlys Elektro AS", ACCOUNT, "faktura@nordlys.example.com")
        self.peer.add_consumer(KARI_ID, "Kari Nordmann", ssn=KARI_SSN, phone=KARI_MOBILE, email="kari@example.com")
        self.peer.add_consumer(OLA_ID, "Ola Nordmann", email="ola@example.com", blocked_issuers=frozenset({ISSUER_ID}))
        self.config = mps_client.MpsConfig(endpoint=self.peer.url, issuer_org_number=ISSUER_ID, timeout=5.0)
        self.client = mps_client.MpsClient(self.config)
        self.addCleanup(self.assert_peer_clean)

    def assert_peer_clean(self):
        self.assertEqual(self.peer.errors, [], "the peer saw something the schema or the documentation forbids")

    # -- helpers ------------------------------------------------------------------------------

    def invoice(self, number="INV/2024/0001", **values):
        values = {
            "invoice_number": number,
            "customer_name": "Kari Nordmann",
            "account_number": ACCOUNT,
            "amount": decimal.Decimal("1234.50"),
            "issue_date": datetime.date(2024, 3, 1),
            "due_date": datetime.date(2024, 3, 20),
            "efaktura_identifier": KARI_ID,
            "kid": "0012345678903",
            "presentation_url": "https://erp.example.com/efaktura/INV-2024-0001.pdf?token=abc",
            **values,
        }
        return mps_client.MpsInvoice(**values)

    def document(self, key, number, recipient=KARI_ID, **values):
        values = {
            "key": key,
            "invoice_number": number,
            "recipient": recipient,
            "recipient_name": "Kari Nordmann",
            "kid": "0012345678903",
            "amount_ore": 123450,
            "currency": "NOK",
            "issue_date": datetime.date(2024, 3, 1),
            "due_date": datetime.date(2024, 3, 20),
            "document_url": f"https://erp.example.com/efaktura/{key}.pdf",
            **values,
        }
        return base.Document(**values)

    def network(self, account_number=ACCOUNT):
        issuer = base.Issuer(ISSUER_ID, "Nordlys Elektro AS", account_number)
        return mps.MpsNetwork(issuer, self.config)

    def assert_error(self, error, error_class, code, retryable):
        self.assertIsInstance(error, error_class)
        self.assertEqual(error.code, code)
        self.assertIs(error.retryable, retryable)

    def last_body(self, operation):
        return etree.fromstring(self.peer.requests_for(operation)[-1].body)

    # -- operations ---------------------------------------------------------------------------

    def test_issuer_create_get_delete(self):
        issuer = mps_client.MpsIssuer(OTHER_ISSUER_ID, "Fjordkraft Test AS", ACCOUNT, "billing@fjord.example.com")
        self.assertEqual(self.client.create_issuer(issuer), OTHER_ISSUER_ID)
        self.assertEqual(self.client.get_issuer(OTHER_ISSUER_ID), issuer)
        self.assertEqual(
            self.client.get_issuer(),
            mps_client.MpsIssuer(ISSUER_ID, "Nordlys Elektro AS", ACCOUNT, "faktura@nordlys.example.com"),
            "issuer_id defaults to the configured organisation number",
        )
        self.client.delete_issuer(OTHER_ISSUER_ID)
        with self.assertRaises(base.NetworkRejected) as caught:
            self.client.get_issuer(OTHER_ISSUER_ID)
        self.assert_error(caught.exception, base.NetworkRejected, "5002", False)
        self.assertIn("does not exist", str(caught.exception))

    def test_create_issuer_with_invalid_account_is_5006(self):
        with self.assertRaises(base.NetworkRejected) as caught:
            self.client.create_issuer(mps_client.MpsIssuer(OTHER_ISSUER_ID, "Fjordkraft Test AS", BAD_ACCOUNT))
        self.assert_error(caught.exception, base.NetworkRejected, "5006", False)
        self.assertNotIn(OTHER_ISSUER_ID, self.peer.issuers)

    def test_brand_agreement_rule_codes(self):
        self.client.add_brand_agreement_rule(ACCOUNT, "KID[1-6]", "Nordlys Strøm")
        cases = [
            ({"account_number": ACCOUNT, "customer_reference_position": "KID[1-6]"}, "5008"),
            ({"account_number": ACCOUNT, "customer_reference_position": "KID1-6"}, "5007"),
            ({"account_number": ACCOUNT, "customer_reference_position": "KID[6-1]"}, "5007"),
            ({"account_number": BAD_ACCOUNT}, "5006"),
            ({"account_number": ACCOUNT, "issuer_id": OTHER_ISSUER_ID}, "5002"),
        ]
        for values, code in cases:
            with self.subTest(code=code, values=values), self.assertRaises(base.NetworkRejected) as caught:
                self.client.add_brand_agreement_rule(**values)
            self.assert_error(caught.exception, base.NetworkRejected, code, False)
        self.assertEqual(self.peer.rules[ISSUER_ID], {(ACCOUNT, "KID[1-6]")})

    def test_get_efaktura_identifiers(self):
        answers = self.client.get_efaktura_identifiers(
            [
                mps_client.IdentifierQuery("by-ssn", national_id=KARI_SSN),
                mps_client.IdentifierQuery("by-phone", name="Kari Nordmann", phone=KARI_MOBILE),
                mps_client.IdentifierQuery("by-email", name="kari nordmann", email="KARI@example.com"),
                mps_client.IdentifierQuery("wrong-name", name="Kari Hansen", phone=KARI_MOBILE),
                mps_client.IdentifierQuery("blocked", name="Ola Nordmann", email="ola@example.com"),
                mps_client.IdentifierQuery(
                    "unknown", name="Per Olsen", phone="+4799999999", birthdate=datetime.date(1980, 5, 17)
                ),
            ]
        )
        by_ref = {answer.reference: answer for answer in answers}
        self.assertEqual(set(by_ref), {"by-ssn", "by-phone", "by-email", "wrong-name", "blocked", "unknown"})
        for ref in ("by-ssn", "by-phone", "by-email"):
            self.assertEqual(by_ref[ref], mps_client.IdentifierAnswer(ref, KARI_ID, auto_accept=True, blocked=False))
            self.assertTrue(by_ref[ref].usable)
        self.assertEqual(by_ref["blocked"].efaktura_identifier, OLA_ID)
        self.assertTrue(by_ref["blocked"].blocked)
        self.assertFalse(by_ref["blocked"].usable)
        for ref in ("wrong-name", "unknown"):
            self.assertEqual(by_ref[ref].efaktura_identifier, "")
            self.assertFalse(by_ref[ref].usable)
        body = self.last_body("getEfakturaIdentifiers")
        self.assertEqual(body.findtext(f".//{{{NS}}}socialSecurityNumber"), KARI_SSN)
        self.assertEqual(body.findtext(f".//{{{NS}}}dateOfBirth"), "1980-05-17")
        with self.assertRaises(ValueError):
            self.client.get_efaktura_identifiers([mps_client.IdentifierQuery("name-only", name="Kari Nordmann")])

    def test_add_invoices_and_read_statuses(self):
        invoices = [
            self.invoice("INV/2024/0001"),
            self.invoice("INV/2024/0002", efaktura_identifier="unknown-consumer", kid=""),
            self.invoice("CN/2024/0001", document_type=mps_client.DOCUMENT_CREDIT_NOTE, amount=decimal.Decimal("99")),
        ]
        self.assertEqual(self.client.add_invoices("consignment-1", invoices), 3)

        body = self.last_body("addInvoices")
        sent = body.findall(f".//{{{NS}}}invoice")
        self.assertEqual(len(sent), 3)
        self.assertEqual(sent[0].findtext(f"{{{NS}}}amount"), "1234.50")
        self.assertEqual(sent[0].findtext(f"{{{NS}}}kid"), "0012345678903")
        self.assertEqual(sent[0].findtext(f"{{{NS}}}dueDate"), "2024-03-20")
        self.assertEqual(
            sent[0].findtext(f"{{{NS}}}presentationUrl"), "https://erp.example.com/efaktura/INV-2024-0001.pdf?token=abc"
        )
        self.assertIsNone(sent[1].find(f"{{{NS}}}kid"), "an empty KID is left out, not sent empty")
        self.assertEqual(sent[2].findtext(f"{{{NS}}}documentType"), "CREDIT_NOTE")
        self.assertEqual(sent[2].findtext(f"{{{NS}}}amount"), "99.00")

        self.assertEqual(
            self.client.get_consignment_status("consignment-1"),
            mps_client.ConsignmentStatus("consignment-1", "RECEIVED", 3),
        )
        self.assertEqual(
            {status.status for status in self.client.get_invoice_status(["INV/2024/0001", "INV/2024/0002"])},
            {"RECEIVED"},
        )

        self.peer.process_consignment("consignment-1")
        self.assertEqual(self.client.get_consignment_status("consignment-1").status, "PROCESSED")
        statuses = {
            status.invoice_number: status
            for status in self.client.get_invoice_status(["INV/2024/0001", "INV/2024/0002", "CN/2024/0001", "NOPE"])
        }
        self.assertEqual(
            set(statuses), {"INV/2024/0001", "INV/2024/0002", "CN/2024/0001"}, "unknown numbers are left out"
        )
        self.assertEqual(statuses["INV/2024/0001"].status, "DELIVERED")
        self.assertEqual(statuses["INV/2024/0001"].consignment_id, "consignment-1")
        self.assertIsInstance(statuses["INV/2024/0001"].last_changed, datetime.datetime)
        self.assertEqual(statuses["INV/2024/0002"].status, "REJECTED")
        self.assertIn("No eFaktura agreement", statuses["INV/2024/0002"].status_text)

    def test_add_invoices_fault_codes(self):
        self.client.add_invoices("consignment-1", [self.invoice()])
        cases = [
            ("209", lambda: self.client.add_invoices("consignment-1", [self.invoice("INV/2024/0009")])),
            ("5003", lambda: self.client.add_invoices("consignment-2", [self.invoice(efaktura_identifier="")])),
            ("5006", lambda: self.client.add_invoices("consignment-3", [self.invoice(account_number=BAD_ACCOUNT)])),
            ("5002", lambda: self.client.add_invoices("consignment-4", [self.invoice()], issuer_id=OTHER_ISSUER_ID)),
            ("5002", lambda: self.client.get_invoice_status(["INV/2024/0001"], issuer_id=OTHER_ISSUER_ID)),
            ("201", lambda: self.client.get_consignment_status("never-sent")),
        ]
        for code, call in cases:
            with self.subTest(code=code), self.assertRaises(base.NetworkRejected) as caught:
                call()
            self.assert_error(caught.exception, base.NetworkRejected, code, False)
        self.assertEqual(list(self.peer.consignments), ["consignment-1"], "no refused consignment was kept")
        self.assertEqual(self.peer.consignments["consignment-1"]["invoices"], ["INV/2024/0001"])

    def test_every_request_carries_a_fresh_message_identifier(self):
        self.client.get_issuer()
        self.client.add_brand_agreement_rule(ACCOUNT)
        self.client.get_efaktura_identifiers([mps_client.IdentifierQuery("r1", national_id=KARI_SSN)])
        self.client.add_invoices("consignment-1", [self.invoice()])
        self.client.get_consignment_status("consignment-1")
        self.client.get_invoice_status(["INV/2024/0001"])
        with self.assertRaises(base.NetworkRejected):
            self.client.add_invoices("consignment-1", [self.invoice()])
        self.client.create_issuer(mps_client.MpsIssuer(OTHER_ISSUER_ID, "Fjordkraft Test AS", ACCOUNT))
        self.client.delete_issuer(OTHER_ISSUER_ID)

        recorded = self.peer.requests
        self.assertEqual(len(recorded), 9)
        identifiers = [request.message_identifier for request in recorded]
        for request in recorded:
            with self.subTest(operation=request.operation):
                self.assertTrue(5 <= len(request.message_identifier) <= 50, request.message_identifier)
                self.assertEqual(request.soap_action.strip('"'), mps_client.NAMESPACE + request.operation)
                self.assertEqual(request.path, "/invoicing-erp/v4/", "the configured endpoint replaces the WSDL's")
                self.assertEqual(request.schema_error, "")
        self.assertEqual(len(set(identifiers)), len(identifiers), "every request has its own identifier")
        self.assertEqual(identifiers[-1], self.client.last_message_identifier)

    def test_answer_for_another_message_is_not_trusted(self):
        self.peer.echo_message_identifier = "odoo-someone-elses-message"
        with self.assertRaises(base.NetworkUnavailable) as caught:
            self.client.get_issuer()
        self.assertIn("belongs to message 'odoo-someone-elses-message'", str(caught.exception))

    def test_schema_invalid_request_sent_raw(self):
        envelope = (
            f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:e="{NS}"><soap:Body><e:addInvoices>'
            "<e:auditInformation><e:messageIdentifier>raw-0001</e:messageIdentifier></e:auditInformation>"
            "<e:issuerId>12345</e:issuerId><e:consignmentId>raw</e:consignmentId>"
            "</e:addInvoices></soap:Body></soap:Envelope>"
        )
        response = requests.post(
            self.peer.url,
            data=envelope.encode(),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{NS}addInvoices"'},
            timeout=5,
        )
        self.assertEqual(response.status_code, 500)
        fault = etree.fromstring(response.content).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
        self.assertEqual(fault.findtext("faultcode"), "soap:Client")
        detail = fault.find(f"detail/{{{NS}}}validationFault")
        self.assertIsNotNone(detail, "a schema error is a validationFault")
        self.assertIsNone(detail.find(f"{{{NS}}}code"), "a schema error has no business code")
        self.assertIn("issuerId", detail.findtext(f"{{{NS}}}message"))
        self.assertIn("issuerId", self.peer.requests[-1].schema_error)
        self.assertEqual(self.peer.consignments, {})

    def test_schema_invalid_request_through_zeep_is_rejected(self):
        with self.assertRaises(base.NetworkRejected) as caught:
            self.client.add_invoices("c" * 41, [self.invoice()])
        self.assert_error(caught.exception, base.NetworkRejected, None, False)
        self.assertIn("consignmentId", str(caught.exception))
        self.assertIn("maxLength", str(caught.exception))

    def test_fault_codes_map_to_error_classes(self):
        for code, (retryable, meaning) in mps_client.FAULT_CODES.items():
            self.peer.inject_fault("validationFault", code, meaning)
            with self.subTest(code=code), self.assertRaises(base.NetworkError) as caught:
                self.client.get_issuer()
            self.assert_error(
                caught.exception, base.NetworkUnavailable if retryable else base.NetworkRejected, code, retryable
            )
            self.assertIn(meaning, str(caught.exception))
        self.peer.inject_fault("validationFault", "7777", "A code the documentation does not list")
        with self.assertRaises(base.NetworkRejected) as caught:
            self.client.get_issuer()
        self.assert_error(caught.exception, base.NetworkRejected, "7777", False)
        self.peer.inject_fault("serverFault", "9000", "Database unavailable")
        with self.assertRaises(base.NetworkUnavailable) as caught:
            self.client.get_issuer()
        self.assert_error(caught.exception, base.NetworkUnavailable, "9000", True)
        self.assertIn("Database unavailable", str(caught.exception))
        self.peer.inject_fault("serverFault", None, "Try again later")
        with self.assertRaises(base.NetworkUnavailable) as caught:
            self.client.get_issuer()
        self.assert_error(caught.exception, base.NetworkUnavailable, None, True)

    def test_faults_without_typed_detail(self):
        cases = [
            (zeep.exceptions.Fault("Unmarshalling error", code="soap:Client"), base.NetworkRejected),
            (zeep.exceptions.Fault("Internal error", code="soap:Server"), base.NetworkUnavailable),
            (zeep.exceptions.Fault("Unknown fault occured", detail="<html/>"), base.NetworkUnavailable),
        ]
        for fault, error_class in cases:
            with self.subTest(code=fault.code):
                error = mps_client.fault_to_error(fault, "getIssuer")
                self.assert_error(error, error_class, None, error_class.retryable)

    def test_http_errors(self):
        self.peer.mode = MODE_HTTP_ERROR
        for status, error_class in [
            (500, base.NetworkUnavailable),
            (502, base.NetworkUnavailable),
            (503, base.NetworkUnavailable),
            (429, base.NetworkUnavailable),
            (403, base.NetworkRejected),
            (404, base.NetworkRejected),
        ]:
            self.peer.http_status = status
            with self.subTest(status=status), self.assertRaises(base.NetworkError) as caught:
                self.client.get_issuer()
            self.assert_error(caught.exception, error_class, None, error_class.retryable)

    def test_unreadable_answers_are_unavailable(self):
        for mode in (MODE_GARBAGE, MODE_NOT_SOAP):
            self.peer.mode = mode
            with self.subTest(mode=mode), self.assertRaises(base.NetworkUnavailable) as caught:
                self.client.get_issuer()
            self.assertTrue(caught.exception.retryable)
            self.assertIn("could not be read", str(caught.exception))

    def test_timeout_is_unavailable(self):
        self.peer.mode = MODE_HANG
        client = mps_client.MpsClient(
            mps_client.MpsConfig(endpoint=self.peer.url, issuer_org_number=ISSUER_ID, timeout=0.3)
        )
        started = time.monotonic()
        with self.assertRaises(base.NetworkUnavailable) as caught:
            client.get_issuer()
        self.assertLess(time.monotonic() - started, 3)
        self.assertTrue(caught.exception.retryable)
        self.assertIn("no answer within 0.3 s", str(caught.exception))
        self.assertEqual(self.peer.requests[-1].operation, "getIssuer", "the request reached the peer")

    def test_connection_refused_is_unavailable(self):
        with self.assertRaises(base.NetworkUnavailable) as caught:
            closed = mps_client.MpsClient(
                mps_client.MpsConfig(endpoint="http://127.0.0.1:9/invoicing-erp/v4/", timeout=2)
            )
            closed.get_issuer(ISSUER_ID)
        self.assertTrue(caught.exception.retryable)
        self.assertIn("could not reach", str(caught.exception))

    def test_config_and_session(self):
        self.assertTrue(os.path.isfile(mps_client.MpsConfig().wsdl_path), "the WSDL ships with the module")
        self.assertEqual(mps_client.MpsConfig().endpoint, "https://efaktura-services.nets.no/invoicing-erp/v4/")
        config = mps_client.MpsConfig(
            endpoint=self.peer.url,
            issuer_org_number=ISSUER_ID,
            client_cert="/etc/efaktura/client.crt",
            client_key="/etc/efaktura/client.key",
            ca_bundle="/etc/efaktura/mps-ca.pem",
            timeout=7,
        )
        session = requests.Session()
        session.headers["X-Request-Source"] = "efaktura-test"
        client = mps_client.MpsClient(config, session=session)
        self.assertIs(client.session, session)
        self.assertEqual(session.cert, ("/etc/efaktura/client.crt", "/etc/efaktura/client.key"))
        self.assertEqual(session.verify, "/etc/efaktura/mps-ca.pem")
        self.assertEqual(client.transport.operation_timeout, 7)
        self.assertEqual(mps_client.MpsClient(self.config).session.verify, True, "the system CAs by default")
        client.session.cert = None  # the peer speaks plain HTTP
        client.get_issuer()
        self.assertEqual(self.peer.requests[-1].headers.get("X-Request-Source"), "efaktura-test")
        for values in ({"timeout": 0}, {"endpoint": ""}, {"client_key": "/k.pem"}):
            with self.subTest(values=values), self.assertRaises(ValueError):
                mps_client.MpsConfig(**values)

    def test_consignment_id_is_deterministic(self):
        keys = ["move-17-a1b2", "move-18-c3d4", "move-19-e5f6"]
        consignment_id = mps.consignment_id_for(ISSUER_ID, keys)
        self.assertTrue(1 <= len(consignment_id) <= 40)
        self.assertEqual(mps.consignment_id_for(ISSUER_ID, list(reversed(keys))), consignment_id)
        self.assertNotEqual(mps.consignment_id_for(ISSUER_ID, keys[:2]), consignment_id)
        self.assertNotEqual(mps.consignment_id_for(OTHER_ISSUER_ID, keys), consignment_id)
        with self.assertRaises(ValueError):
            mps.consignment_id_for(ISSUER_ID, [])

    # -- the network interface ----------------------------------------------------------------

    def test_network_lookup(self):
        results = self.network().lookup(
            [
                base.Recipient("1", "Kari Nordmann", mobile=KARI_MOBILE),
                base.Recipient("2", "Kari Nordmann", email="kari@example.com", birthdate="1970-01-01"),
                base.Recipient("3", "Someone", national_id=KARI_SSN),
                base.Recipient("4", "Ola Nordmann", email="ola@example.com"),
                base.Recipient("5", "Per Olsen", mobile="+4799999999"),
                base.Recipient("6", "No Contact"),
                base.Recipient("7", "Kari Nordmann", mobile="+47 912 34 567", birthdate="not a date"),
                base.Recipient("8", "Kari Nordmann", mobile="912 34 567", email="kari@example.com"),
                base.Recipient("9", "Kari Nordmann", mobile="912 34 567"),
            ]
        )
        self.assertEqual(set(results), {"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "every ref is answered")
        for ref in ("1", "2", "3", "7", "8"):
            self.assertEqual(results[ref], base.LookupResult(ref, KARI_ID))
        for ref in ("4", "5", "6", "9"):
            self.assertEqual(results[ref], base.LookupResult(ref), "blocked, unknown or not searchable")
        sent = self.last_body("getEfakturaIdentifiers").findall(f".//{{{NS}}}efakturaIdentifierRequest")
        self.assertEqual(
            len(sent), 7, "a recipient without national id, usable phone number or e-mail address is not asked for"
        )
        self.assertEqual(sent[5].findtext(f"{{{NS}}}consumer/{{{NS}}}phoneNumber"), KARI_MOBILE)
        self.assertIsNone(sent[6].find(f"{{{NS}}}consumer/{{{NS}}}phoneNumber"), "a number not in E.164 is left out")
        self.assertEqual(self.network().lookup([]), {})

    def test_network_submit_and_status(self):
        network = self.network()
        documents = [
            self.document("move-1", "INV/2024/0001"),
            self.document("move-2", "INV/2024/0002", recipient="unknown-consumer"),
            self.document("move-3", "CN/2024/0001", kind="credit_note", amount_ore=5000),
        ]
        results = network.submit("nettbank", documents)
        self.assertEqual([result.key for result in results], ["move-1", "move-2", "move-3"])
        for result, document in zip(results, documents, strict=True):
            self.assertTrue(result.ok)
            self.assertFalse(result.duplicate)
            self.assertEqual(result.state, base.SUBMITTED)
            self.assertEqual(result.network_reference, document.invoice_number)
        consignment_id = mps.consignment_id_for(ISSUER_ID, ["move-1", "move-2", "move-3"])
        self.assertEqual(list(self.peer.consignments), [consignment_id], "one consignment for the batch")
        self.assertLessEqual(len(consignment_id), 40)
        sent = self.last_body("addInvoices").findall(f".//{{{NS}}}invoice")
        self.assertEqual(sent[0].findtext(f"{{{NS}}}accountNumber"), ACCOUNT)
        self.assertEqual(sent[0].findtext(f"{{{NS}}}amount"), "1234.50")
        self.assertEqual(sent[0].findtext(f"{{{NS}}}presentationUrl"), "https://erp.example.com/efaktura/move-1.pdf")
        self.assertEqual(sent[2].findtext(f"{{{NS}}}documentType"), "CREDIT_NOTE")
        self.assertEqual(sent[2].findtext(f"{{{NS}}}amount"), "50.00")

        references = [result.network_reference for result in results]
        self.assertEqual({status.state for status in network.status("nettbank", references)}, {base.SUBMITTED})
        self.peer.process_consignment(consignment_id)
        self.peer.set_invoice_status(ISSUER_ID, "CN/2024/0001", "DELETED", "Withdrawn by the issuer")
        states = {status.network_reference: status for status in network.status("nettbank", [*references, "NOPE"])}
        self.assertEqual(set(states), set(references), "unknown references are left out")
        self.assertEqual(states["INV/2024/0001"].state, base.SHOWN)
        self.assertEqual(states["INV/2024/0002"].state, base.REJECTED)
        self.assertIn("No eFaktura agreement", states["INV/2024/0002"].detail)
        self.assertEqual(states["CN/2024/0001"].state, base.CANCELLED)
        self.peer.set_invoice_status(ISSUER_ID, "INV/2024/0001", "VALIDATED")
        self.assertEqual(network.status("nettbank", ["INV/2024/0001"])[0].state, base.ACCEPTED)
        self.assertEqual(network.status("nettbank", []), [])

    def test_network_resubmission_is_a_duplicate(self):
        network = self.network()
        documents = [self.document("move-1", "INV/2024/0001"), self.document("move-2", "INV/2024/0002")]
        first = network.submit("nettbank", documents)
        self.assertTrue(all(result.ok and not result.duplicate for result in first))

        # A crash before the commit: the same batch again, even in another order, is the same consignment.
        again = network.submit("nettbank", list(reversed(documents)))
        self.assertEqual([result.key for result in again], ["move-2", "move-1"])
        for result in again:
            self.assertTrue(result.duplicate)
            self.assertTrue(result.ok)
            self.assertEqual(result.state, base.SUBMITTED)
        self.assertEqual(len(self.peer.consignments), 1)
        self.assertEqual(len(self.peer.requests_for("addInvoices")), 1, "MPS is asked first, by invoice number")
        self.assertEqual(len(self.peer.requests_for("getInvoiceStatus")), 2, "read before every write")
        self.assertEqual(self.peer.duplicate_count, 0)

        self.peer.process_consignment(next(iter(self.peer.consignments)))
        self.peer.set_invoice_status(ISSUER_ID, "INV/2024/0002", "REJECTED", "Receiver blocked the issuer")
        later = {result.key: result for result in network.submit("nettbank", documents)}
        self.assertEqual(later["move-1"].state, base.SHOWN)
        self.assertTrue(later["move-1"].ok)
        self.assertEqual(later["move-2"].state, base.REJECTED)
        self.assertIsInstance(later["move-2"].error, base.NetworkRejected)
        self.assertIn("Receiver blocked the issuer", str(later["move-2"].error))
        self.assertTrue(all(result.duplicate for result in later.values()))
        self.assertEqual(len(self.peer.consignments), 1)

    def test_network_duplicate_of_a_stopped_consignment(self):
        network = self.network()
        documents = [self.document("move-1", "INV/2024/0001")]
        network.submit("nettbank", documents)
        self.peer.stop_consignment(next(iter(self.peer.consignments)), "Consignment stopped by operator")
        [result] = network.submit("nettbank", documents)
        self.assertTrue(result.duplicate)
        self.assertEqual(result.state, base.REJECTED)
        self.assertIn("Consignment stopped by operator", str(result.error))

    def test_network_submit_checks_documents_first(self):
        network = self.network()
        results = network.submit(
            "nettbank",
            [
                self.document("move-1", "INV/2024/0001"),
                self.document("move-2", "INV/2024/0002", currency="EUR"),
                self.document("move-3", "INV/2024/0003", recipient=""),
                self.document("move-4", "INV/2024/0004", amount_ore=-100),
            ],
        )
        self.assertTrue(results[0].ok)
        for result in results[1:]:
            self.assertEqual(result.state, base.REJECTED)
            self.assertIsInstance(result.error, base.NetworkRejected)
        self.assertEqual(results[2].error.code, "5003")
        [consignment] = self.peer.consignments.values()
        self.assertEqual(consignment["invoices"], ["INV/2024/0001"])
        self.assertEqual(network.submit("nettbank", []), [])

    def test_network_submit_refused_or_unavailable_as_a_whole(self):
        with self.assertRaises(base.NetworkRejected) as caught:
            self.network(account_number=BAD_ACCOUNT).submit("nettbank", [self.document("move-1", "INV/2024/0001")])
        self.assert_error(caught.exception, base.NetworkRejected, "5006", False)
        self.peer.mode = MODE_HTTP_ERROR
        self.peer.http_status = 503
        with self.assertRaises(base.NetworkUnavailable):
            self.network().submit("nettbank", [self.document("move-1", "INV/2024/0001")])
        self.assertEqual(self.peer.consignments, {})

    def test_network_channel_and_cancel(self):
        network = self.network()
        self.assertEqual(network.name, "mps")
        with self.assertRaises(base.NetworkRejected):
            network.submit("vipps", [self.document("move-1", "INV/2024/0001")])
        with self.assertRaises(base.NetworkRejected):
            network.status("vipps", ["INV/2024/0001"])
        with self.assertRaises(base.NetworkRejected):
            network.cancel("vipps", "INV/2024/0001")
        self.assertEqual(self.peer.requests, [], "nothing was sent")

    # -- cancellation ("Issuer via MPS" service) ----------------------------------------------

    def submitted(self, *numbers):
        network = self.network()
        network.submit("nettbank", [self.document(f"move-{i}", number) for i, number in enumerate(numbers)])
        return network

    def test_submitter_address(self):
        self.assertEqual(
            mps_client.MpsConfig().submitter_address, "https://efaktura-services.nets.no/invoicing-nets-submitter/v1/"
        )
        self.assertEqual(
            mps_client.MpsConfig(endpoint="https://proxy.example.com:8443/mps/invoicing-erp/v4/").submitter_address,
            "https://proxy.example.com:8443/invoicing-nets-submitter/v1/",
            "derived from the ERP endpoint's scheme and host",
        )
        self.assertEqual(
            mps_client.MpsConfig(submitter_endpoint="https://other.example.com/submitter/").submitter_address,
            "https://other.example.com/submitter/",
        )
        self.assertEqual(self.config.submitter_address, self.peer.base_url.rstrip("/") + mps_client.SUBMITTER_PATH)
        self.assertTrue(os.path.isfile(mps_client.MpsConfig().submitter_wsdl_path), "the WSDL ships with the module")

    def test_get_cancellable_invoice_and_cancel_invoice(self):
        self.submitted("INV/2024/0001")
        found = self.client.get_cancellable_invoice("INV/2024/0001")
        self.assertEqual((found.invoice_number, found.status), ("INV/2024/0001", "RECEIVED"))
        self.assertTrue(found.consignment_id)
        request = self.peer.requests_for("getCancellableInvoice")[-1]
        self.assertEqual(request.path, mps_client.SUBMITTER_PATH)
        self.assertEqual(request.namespace, mps_client.SUBMITTER_NAMESPACE)
        self.assertEqual(request.message_identifier, self.client.last_message_identifier)
        self.assertTrue(5 <= len(request.message_identifier) <= 50)
        self.assertEqual(
            request.soap_action.strip('"'),
            "https://efaktura-services.nets.no/efaktura-submitter-service/v1/getCancellableInvoice",
        )
        self.assertEqual(self.client.cancel_invoice("INV/2024/0001"), "DELETED")
        self.assertEqual(self.peer.invoices[(ISSUER_ID, "INV/2024/0001")]["status"], "DELETED")
        body = self.last_body("cancelInvoice")
        self.assertEqual(body.findtext(f".//{{{mps_client.SUBMITTER_NAMESPACE}}}invoiceNumber"), "INV/2024/0001")
        self.assertEqual(body.findtext(f".//{{{mps_client.SUBMITTER_NAMESPACE}}}issuerId"), ISSUER_ID)
        self.assertEqual(self.client.get_invoice_status(["INV/2024/0001"])[0].status, "DELETED")

    def test_cancellation_refusal_codes(self):
        self.submitted("INV/2024/0001", "INV/2024/0002", "INV/2024/0003")
        self.peer.mark_paid(ISSUER_ID, "INV/2024/0002")
        self.client.cancel_invoice("INV/2024/0003")
        cases = [
            ("NOPE", "5004", "Unable to find invoice"),
            ("INV/2024/0002", "5005", "already paid"),
            ("INV/2024/0003", "5006", "already cancelled"),
        ]
        for number, code, meaning in cases:
            for call in (self.client.get_cancellable_invoice, self.client.cancel_invoice):
                with self.subTest(number=number, call=call.__name__), self.assertRaises(base.NetworkError) as caught:
                    call(number)
                self.assert_error(caught.exception, base.NetworkRejected, code, False)
                self.assertIn(meaning, str(caught.exception))
        self.peer.inject_fault("validationFault", "5008", "Authorization failed.")
        with self.assertRaises(base.NetworkRejected) as caught:
            self.client.cancel_invoice("INV/2024/0001")
        self.assert_error(caught.exception, base.NetworkRejected, "5008", False)
        self.peer.close_cancellation(ISSUER_ID, "INV/2024/0001")
        self.assertIsNone(self.client.get_cancellable_invoice("INV/2024/0001"), "too late: nothing is cancellable")
        with self.assertRaises(base.NetworkRejected):
            self.client.cancel_invoice("INV/2024/0001")
        self.assertEqual(self.peer.invoices[(ISSUER_ID, "INV/2024/0001")]["status"], "RECEIVED")

    def test_cancellation_failures_are_unavailable(self):
        self.submitted("INV/2024/0001")
        self.peer.inject_fault("serverFault", "9000", "Database unavailable")
        with self.assertRaises(base.NetworkUnavailable) as caught:
            self.client.get_cancellable_invoice("INV/2024/0001")
        self.assert_error(caught.exception, base.NetworkUnavailable, "9000", True)
        self.peer.mode = MODE_HTTP_ERROR
        self.peer.http_status = 503
        with self.assertRaises(base.NetworkUnavailable) as caught:
            self.client.cancel_invoice("INV/2024/0001")
        self.assertIn(mps_client.SUBMITTER_PATH, str(caught.exception))
        self.peer.mode = MODE_HANG
        client = mps_client.MpsClient(
            mps_client.MpsConfig(endpoint=self.peer.url, issuer_org_number=ISSUER_ID, timeout=0.3)
        )
        with self.assertRaises(base.NetworkUnavailable) as caught:
            client.cancel_invoice("INV/2024/0001")
        self.assertIn("no answer within 0.3 s", str(caught.exception))
        self.peer.mode = "normal"
        self.assertEqual(self.peer.invoices[(ISSUER_ID, "INV/2024/0001")]["status"], "RECEIVED")

    def test_network_cancel(self):
        network = self.submitted("INV/2024/0001", "INV/2024/0002", "INV/2024/0003")
        result = network.cancel("nettbank", "INV/2024/0001")
        self.assertEqual((result.network_reference, result.state), ("INV/2024/0001", base.CANCELLED))
        self.assertEqual(self.peer.invoices[(ISSUER_ID, "INV/2024/0001")]["status"], "DELETED")
        self.assertEqual(
            [request.operation for request in self.peer.requests[-2:]], ["getCancellableInvoice", "cancelInvoice"]
        )
        # Cancelled before (a retry after a crash): nothing more to do.
        self.assertEqual(network.cancel("nettbank", "INV/2024/0001").state, base.CANCELLED)
        self.assertEqual(len(self.peer.requests_for("cancelInvoice")), 1)

        self.peer.mark_paid(ISSUER_ID, "INV/2024/0002")
        with self.assertRaises(base.NetworkRejected) as caught:
            network.cancel("nettbank", "INV/2024/0002")
        self.assert_error(caught.exception, base.NetworkRejected, "5005", False)
        self.assertIn("already paid", str(caught.exception))

        self.peer.close_cancellation(ISSUER_ID, "INV/2024/0003")
        with self.assertRaises(base.NetworkRejected) as caught:
            network.cancel("nettbank", "INV/2024/0003")
        self.assertIn("too late to cancel", str(caught.exception))
        with self.assertRaises(base.NetworkRejected) as caught:
            network.cancel("nettbank", "NOPE")
        self.assertEqual(caught.exception.code, "5004")
        self.assertEqual(len(self.peer.requests_for("cancelInvoice")), 1, "only cancellable invoices are cancelled")
        self.assertEqual(self.peer.invoices[(ISSUER_ID, "INV/2024/0003")]["status"], "RECEIVED")
