import dataclasses
import datetime
import hashlib
import hmac
import random

from odoo.tests import BaseCase, tagged

from ..networks import maventa, maventa_contract
from ..networks.base import (
    ACCEPTED,
    CANCELLED,
    PAID,
    REJECTED,
    SHOWN,
    SUBMITTED,
    Document,
    Issuer,
    NetworkRejected,
    NetworkUnavailable,
    Recipient,
)
from ..sandbox.network import (
    FLAKY_RATE,
    REFERENCE_PREFIX,
    SandboxConsumer,
    SandboxNetwork,
    SandboxStore,
    advance_state,
    consumer_pays,
    normalize_name,
)

ISSUER = Issuer(org_number="123456785", name="Nordlys Elektro AS", account_number="86011117947")
KARI_NATIONAL_ID = "01017012345"


class MemoryStore(SandboxStore):
    """A sandbox store in plain dictionaries."""

    def __init__(self, consumers=()):
        self.consumers = list(consumers)
        self.documents = {}  # reference: MailboxItem
        self.attempts = []
        self.secret = b"test secret"

    def hash_national_id(self, national_id):
        return hmac.new(self.secret, national_id.encode(), hashlib.sha256).hexdigest()

    def find_consumers(self, identifiers=(), mobiles=(), emails=(), national_id_hashes=()):
        return [
            c
            for c in self.consumers
            if c.identifier in identifiers
            or c.mobile in mobiles
            or c.email in emails
            or (c.national_id_hash and c.national_id_hash in national_id_hashes)
        ]

    def documents_by_key(self, keys):
        return {item.key: item for item in self.documents.values() if item.key in keys}

    def documents_by_reference(self, references):
        return {ref: item for ref, item in self.documents.items() if ref in references}

    def record_submission(self, items, attempts):
        for item in items:
            self.documents[item.reference] = item
        self.attempts.extend(attempts)

    def set_state(self, reference, state):
        self.documents[reference] = dataclasses.replace(self.documents[reference], state=state)


@tagged("post_install", "-at_install")
class TestSandboxNetworkLogic(BaseCase):
    def setUp(self):
        super().setUp()
        self.store = MemoryStore()
        self.kari = SandboxConsumer(
            identifier="100000001",
            name="Kari Nordmann",
            mobile="+4741234567",
            email="kari@example.com",
            national_id_hash=self.store.hash_national_id(KARI_NATIONAL_ID),
            jtta=True,
            vipps=True,
        )
        self.ola = SandboxConsumer(
            identifier="100000002", name="Ola Nordmann", mobile="+4790011222", email="ola@example.com", jtta=True
        )
        self.store.consumers += [self.kari, self.ola]
        self.network = SandboxNetwork(ISSUER, self.store)

    def document(self, key="key-1", recipient="100000002", **overrides):
        values = {
            "key": key,
            "invoice_number": "INV/2025/00001",
            "recipient": recipient,
            "recipient_name": "Ola Nordmann",
            "kid": "1234567890",
            "amount_ore": 123450,
            "currency": "NOK",
            "issue_date": datetime.date(2025, 3, 1),
            "due_date": datetime.date(2025, 3, 15),
            **overrides,
        }
        return Document(**values)

    def submit_one(self, channel="nettbank", **overrides):
        (result,) = self.network.submit(channel, [self.document(**overrides)])
        return result

    # ------------------------------------------------------------------
    # Lookup
    # ------------------------------------------------------------------

    def test_name_comparison_ignores_case_spacing_and_accents(self):
        self.assertEqual(normalize_name("kari  nordmann"), normalize_name("Kari Nordmann"))
        self.assertEqual(normalize_name(" Bjørn Åsmund-Sæther "), "bjorn asmund saether")
        self.assertNotEqual(normalize_name("Kari Nordmann"), normalize_name("Kari Nordkvinne"))

    def test_lookup_by_mobile_and_name(self):
        results = self.network.lookup(
            [
                Recipient(ref="1", name="kari  NORDMANN", mobile="+47 412 34 567"),
                Recipient(ref="2", name="Ola Nordmann", mobile="90011222"),
                Recipient(ref="3", name="Somebody Else", mobile="+4741234567"),
            ]
        )
        self.assertEqual(set(results), {"1", "2", "3"})
        self.assertEqual(results["1"].efaktura_identifier, "100000001")
        self.assertTrue(results["1"].vipps)
        self.assertEqual(results["1"].vipps_recipient, "+4741234567")
        self.assertEqual(results["2"].efaktura_identifier, "100000002")
        self.assertFalse(results["2"].vipps)
        self.assertEqual(results["2"].vipps_recipient, "")
        # the right mobile with the wrong name is no match
        self.assertEqual(results["3"].efaktura_identifier, "")
        self.assertFalse(results["3"].vipps)

    def test_lookup_by_email_and_name(self):
        results = self.network.lookup(
            [
                Recipient(ref="1", name="Ola  Nordmann", email=" OLA@example.com"),
                Recipient(ref="2", name="Ola Olsen", email="ola@example.com"),
            ]
        )
        self.assertEqual(results["1"].efaktura_identifier, "100000002")
        self.assertEqual(results["2"].efaktura_identifier, "")

    def test_lookup_by_national_id_compares_hashes(self):
        results = self.network.lookup(
            [
                Recipient(ref="1", name="K. Nordmann", national_id="010170 12345"),
                Recipient(ref="2", name="K. Nordmann", national_id="01017012346"),
            ]
        )
        self.assertEqual(results["1"].efaktura_identifier, "100000001")
        self.assertTrue(results["1"].vipps)
        self.assertEqual(results["2"].efaktura_identifier, "")
        self.assertNotIn(KARI_NATIONAL_ID, repr(self.store.consumers))

    def test_lookup_without_registry_entry_or_yes_to_all(self):
        self.store.consumers.append(
            SandboxConsumer(identifier="100000003", name="Per Olsen", mobile="+4792456789", jtta=False)
        )
        results = self.network.lookup(
            [
                Recipient(ref="unknown", name="Ingrid Hansen", mobile="+4791345678", email="ingrid@example.com"),
                Recipient(ref="no-jtta", name="Per Olsen", mobile="+4792456789"),
                Recipient(ref="nothing", name="Siri Berg"),
            ]
        )
        for ref in ("unknown", "no-jtta", "nothing"):
            with self.subTest(ref=ref):
                self.assertEqual(results[ref].ref, ref)
                self.assertEqual(results[ref].efaktura_identifier, "")
                self.assertFalse(results[ref].vipps)

    def test_lookup_ambiguous_match_finds_nobody(self):
        self.store.consumers.append(
            SandboxConsumer(identifier="100000004", name="Ola Nordmann", email="ola@example.com", jtta=True)
        )
        results = self.network.lookup([Recipient(ref="1", name="Ola Nordmann", email="ola@example.com")])
        self.assertEqual(results["1"].efaktura_identifier, "")

    # ------------------------------------------------------------------
    # Submit
    # ------------------------------------------------------------------

    def test_submit_delivers_to_the_mailbox(self):
        result = self.submit_one()
        self.assertTrue(result.ok)
        self.assertFalse(result.duplicate)
        self.assertEqual(result.state, SUBMITTED)
        self.assertRegex(result.network_reference, r"^SBX-[0-9A-F]{12}$")
        item = self.store.documents[result.network_reference]
        self.assertEqual(item.consumer_identifier, "100000002")
        self.assertEqual(item.account_number, ISSUER.account_number)
        self.assertEqual(item.document.amount_ore, 123450)

    def test_submit_by_vipps_addresses_the_mobile_number(self):
        result = self.submit_one(channel="vipps", recipient="+4741234567")
        self.assertTrue(result.ok)
        self.assertEqual(self.store.documents[result.network_reference].consumer_identifier, "100000001")
        # Ola did not choose Vipps
        refused = self.submit_one(channel="vipps", key="key-2", recipient="+4790011222")
        self.assertEqual(refused.error.code, "RECIPIENT")
        # an eFaktura identifier is no Vipps recipient
        refused = self.submit_one(channel="vipps", key="key-3", recipient="100000001")
        self.assertEqual(refused.error.code, "RECIPIENT")

    def test_resubmission_is_idempotent(self):
        first = self.submit_one()
        again = self.submit_one()
        self.assertTrue(again.ok)
        self.assertTrue(again.duplicate)
        self.assertEqual(again.network_reference, first.network_reference)
        self.assertEqual(len(self.store.documents), 1)
        self.assertEqual([(a.key, a.duplicate) for a in self.store.attempts], [("key-1", False), ("key-1", True)])
        self.assertEqual({a.reference for a in self.store.attempts}, {first.network_reference})

    def test_same_key_twice_in_one_consignment(self):
        results = self.network.submit("nettbank", [self.document(), self.document()])
        self.assertEqual([r.duplicate for r in results], [False, True])
        self.assertEqual(results[0].network_reference, results[1].network_reference)
        self.assertEqual(len(self.store.documents), 1)
        self.assertEqual(len(self.store.attempts), 2)

    def test_each_document_is_validated_on_its_own(self):
        cases = {
            "RECIPIENT": {"recipient": "999999999"},
            "KID": {"kid": "1"},
            "AMOUNT": {"amount_ore": 0},
            "DUE_DATE": {"due_date": None},
            "CURRENCY": {"currency": "EUR"},
            "KEY": {"key": "k" * 41},
        }
        documents = [self.document(key="good")]
        for index, overrides in enumerate(cases.values()):
            documents.append(self.document(**{"key": f"bad-{index}", **overrides}))
        results = self.network.submit("nettbank", documents)
        self.assertTrue(results[0].ok)
        for result, code in zip(results[1:], cases, strict=True):
            with self.subTest(code=code):
                self.assertFalse(result.ok)
                self.assertIsInstance(result.error, NetworkRejected)
                self.assertFalse(result.error.retryable)
                self.assertEqual(result.error.code, code)
                self.assertFalse(result.network_reference)
        self.assertEqual(len(self.store.documents), 1)
        self.assertEqual(sum(a.failed for a in self.store.attempts), len(cases))

    def test_validation_messages_name_the_rule(self):
        result = self.submit_one(kid="12AB", amount_ore=12.5)
        self.assertEqual(result.error.code, "KID")
        self.assertIn("KID '12AB' must have 2 to 25 digits", result.error.message)
        self.assertIn("whole number of øre", result.error.message)
        self.assertTrue(self.submit_one(key="kid-25", kid="1" * 25).ok)
        self.assertEqual(self.submit_one(key="kid-26", kid="1" * 26).error.code, "KID")
        self.assertEqual(self.submit_one(key="negative", amount_ore=-100).error.code, "AMOUNT")
        self.assertTrue(self.submit_one(key="credit", kind="credit_note", kid="", amount_ore=-100).ok)
        # A credit note is no payment claim: it never carries a KID.
        self.assertEqual(self.submit_one(key="credit-kid", kind="credit_note").error.code, "KID")

    def test_issuer_must_have_org_number_and_account(self):
        for issuer, code in (
            (dataclasses.replace(ISSUER, org_number="12345678"), "ISSUER"),
            (dataclasses.replace(ISSUER, account_number="1234"), "ACCOUNT"),
        ):
            with self.subTest(code=code):
                network = SandboxNetwork(issuer, self.store)
                (result,) = network.submit("nettbank", [self.document(key=code)])
                self.assertEqual(result.error.code, code)
        self.assertFalse(self.store.documents)

    def test_unknown_channel_fails_the_whole_call(self):
        with self.assertRaises(NetworkRejected) as caught:
            self.network.submit("pigeon", [self.document()])
        self.assertEqual(caught.exception.code, "CHANNEL")
        self.assertFalse(self.store.documents)
        self.assertTrue(self.store.attempts[0].failed)

    # ------------------------------------------------------------------
    # Failure modes
    # ------------------------------------------------------------------

    def test_outage_and_timeout_fail_every_call_and_store_nothing(self):
        reference = self.submit_one().network_reference
        for failure, code in (("outage", "503"), ("timeout", "TIMEOUT")):
            network = SandboxNetwork(ISSUER, self.store, failure=failure)
            calls = {
                "lookup": lambda n: n.lookup([Recipient(ref="1", name="Ola Nordmann", mobile="+4790011222")]),
                "submit": lambda n: n.submit("nettbank", [self.document(key="new")]),
                "status": lambda n: n.status("nettbank", [reference]),
                "cancel": lambda n: n.cancel("nettbank", reference),
            }
            for name, call in calls.items():
                with self.subTest(failure=failure, call=name), self.assertRaises(NetworkUnavailable) as caught:
                    call(network)
                self.assertEqual(caught.exception.code, code)
                self.assertTrue(caught.exception.retryable)
        self.assertEqual(list(self.store.documents), [reference])
        self.assertEqual(self.store.documents[reference].state, SUBMITTED)
        failed = [a for a in self.store.attempts if a.failed]
        self.assertEqual([a.key for a in failed], ["new", "new"])
        self.assertIn("[503]", failed[0].error)

    def test_reject_mode_rejects_every_document(self):
        network = SandboxNetwork(ISSUER, self.store, failure="reject")
        results = network.submit("nettbank", [self.document(key="a"), self.document(key="b")])
        self.assertEqual([r.error.code for r in results], ["REJECTED", "REJECTED"])
        self.assertFalse(any(r.error.retryable for r in results))
        self.assertFalse(self.store.documents)
        self.assertEqual([a.failed for a in self.store.attempts], [True, True])
        # lookups still work in reject mode
        self.assertEqual(
            network.lookup([Recipient(ref="1", name="Ola Nordmann", mobile="+4790011222")])["1"].efaktura_identifier,
            "100000002",
        )

    def test_flaky_mode_fails_some_calls_with_retryable_errors(self):
        network = SandboxNetwork(ISSUER, self.store, failure="flaky", rng=random.Random(42))
        codes, delivered = [], []
        for index in range(200):
            try:
                (result,) = network.submit("nettbank", [self.document(key=f"flaky-{index}")])
            except NetworkUnavailable as exc:
                self.assertTrue(exc.retryable)
                codes.append(exc.code)
            else:
                delivered.append(result.network_reference)
        self.assertTrue(FLAKY_RATE / 2 < len(codes) / 200 < FLAKY_RATE * 1.5, len(codes))
        self.assertTrue({"TIMEOUT", "MALFORMED"} <= set(codes))
        self.assertTrue(set(codes) - {"TIMEOUT", "MALFORMED"} <= {"500", "502", "503", "504"})
        self.assertTrue(set(codes) & {"500", "502", "503", "504"})
        # a failed call left nothing in the mailbox, only its failed log entry
        self.assertEqual(sorted(self.store.documents), sorted(delivered))
        self.assertEqual(sum(a.failed for a in self.store.attempts), len(codes))
        # the same seed fails the same calls
        replay = SandboxNetwork(ISSUER, MemoryStore([self.ola]), failure="flaky", rng=random.Random(42))
        replay_codes = []
        for index in range(200):
            try:
                replay.submit("nettbank", [self.document(key=f"flaky-{index}")])
            except NetworkUnavailable as exc:
                replay_codes.append(exc.code)
        self.assertEqual(replay_codes, codes)

    def test_unknown_failure_mode_is_refused(self):
        with self.assertRaises(ValueError):
            SandboxNetwork(ISSUER, self.store, failure="sometimes")

    # ------------------------------------------------------------------
    # Status, cancel and payment
    # ------------------------------------------------------------------

    def test_status_advances_one_step_at_a_time(self):
        self.assertEqual(advance_state(SUBMITTED), ACCEPTED)
        self.assertEqual(advance_state(ACCEPTED), SHOWN)
        for state in (SHOWN, PAID, CANCELLED, "rejected"):
            with self.subTest(state=state):
                self.assertEqual(advance_state(state), state)

    def test_status_reads_the_known_references(self):
        first = self.submit_one(key="a").network_reference
        second = self.submit_one(key="b").network_reference
        vipps = self.submit_one(channel="vipps", key="c", recipient="+4741234567").network_reference
        self.store.set_state(second, ACCEPTED)
        results = self.network.status("nettbank", [first, second, "SBX-000000000000", vipps])
        self.assertEqual([(r.network_reference, r.state) for r in results], [(first, SUBMITTED), (second, ACCEPTED)])
        self.assertEqual([r.state for r in self.network.status("vipps", [vipps])], [SUBMITTED])

    def test_cancel_rules(self):
        reference = self.submit_one().network_reference
        self.assertEqual(self.network.cancel("nettbank", reference).state, CANCELLED)
        self.assertEqual(self.store.documents[reference].state, CANCELLED)
        # cancelling twice is harmless
        self.assertEqual(self.network.cancel("nettbank", reference).state, CANCELLED)
        with self.assertRaises(NetworkRejected) as caught:
            self.network.cancel("nettbank", "SBX-000000000000")
        self.assertEqual(caught.exception.code, "UNKNOWN")
        with self.assertRaises(NetworkRejected) as caught:
            consumer_pays(self.store, reference)
        self.assertEqual(caught.exception.code, "STATE")

        paid = self.submit_one(key="paid").network_reference
        self.assertEqual(consumer_pays(self.store, paid), PAID)
        with self.assertRaises(NetworkRejected) as caught:
            self.network.cancel("nettbank", paid)
        self.assertEqual(caught.exception.code, "PAID")
        self.assertEqual(self.network.status("nettbank", [paid])[0].state, PAID)

    def test_credit_notes_cannot_be_paid(self):
        reference = self.submit_one(kind="credit_note", kid="").network_reference
        with self.assertRaises(NetworkRejected) as caught:
            consumer_pays(self.store, reference)
        self.assertEqual(caught.exception.code, "KIND")


def ubl_file(document, **changes):
    """A small Peppol BIS 3.0 file for ``document``, as a renderer would write it; ``changes`` alter it."""
    values = {
        "root": "CreditNote" if document.kind == "credit_note" else "Invoice",
        "number": document.invoice_number,
        "kid": document.kid,
        **changes,
    }
    ns = 'xmlns:cbc="{cbc}" xmlns:cac="{cac}"'.format(**maventa_contract.UBL_NS)
    kid = (
        f"<cac:PaymentMeans><cbc:PaymentID>{values['kid']}</cbc:PaymentID></cac:PaymentMeans>" if values["kid"] else ""
    )
    root = values["root"]
    xml = (
        f'<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2" {ns}>'
        f"<cbc:ID>{values['number']}</cbc:ID>{kid}</{root}>"
    )
    return f"{values['number'].replace('/', '_')}_ubl_bis3.xml", xml.encode()


@tagged("post_install", "-at_install")
class TestSandboxPlaysMaventa(BaseCase):
    """With the Maventa network's renderer, the sandbox receives eFaktura documents as Maventa would."""

    def setUp(self):
        super().setUp()
        self.store = MemoryStore(
            [SandboxConsumer(identifier="100000002", name="Ola Nordmann", mobile="+4790011222", jtta=True)]
        )
        self.rendered = []
        self.file_changes = {}
        self.network = SandboxNetwork(ISSUER, self.store, maventa_render=self.render)

    def render(self, document):
        self.rendered.append(document.key)
        return ubl_file(document, **self.file_changes)

    document = TestSandboxNetworkLogic.document

    def test_invoice_is_filed_under_the_maventa_invoice_id_with_its_file(self):
        (result,) = self.network.submit("nettbank", [self.document()])
        self.assertEqual(result.state, SUBMITTED)
        self.assertEqual(result.network_reference, maventa.invoice_uuid(ISSUER.org_number, "key-1"))
        item = self.store.documents[result.network_reference]
        self.assertEqual(item.played, "maventa")
        read = maventa_contract.read_ubl(item.file)
        self.assertEqual((read["type"], read["invoice_nr"], read["kid"]), ("invoice", "INV/2025/00001", "1234567890"))
        self.assertEqual(self.store.attempts[-1].played, "maventa")
        # A resubmission is the same document: no second file is made, the reference is the same.
        (again,) = self.network.submit("nettbank", [self.document()])
        self.assertEqual((again.duplicate, again.network_reference), (True, result.network_reference))
        self.assertEqual(self.rendered, ["key-1"])

    def test_a_file_maventa_would_refuse_is_rejected(self):
        self.file_changes = {"kid": "999"}
        (result,) = self.network.submit("nettbank", [self.document()])
        self.assertEqual((result.state, result.error.code), (REJECTED, "FILE_KID"))
        self.assertIn("Maventa would refuse", str(result.error))
        self.file_changes = {"root": "CreditNote"}
        (result,) = self.network.submit("nettbank", [self.document(key="key-2")])
        self.assertEqual(result.error.code, "FILE_TYPE")
        self.file_changes = {"kid": ""}
        (result,) = self.network.submit("nettbank", [self.document(key="key-3")])
        self.assertEqual(result.error.code, "PAYMENT_ID")
        self.assertFalse(self.store.documents, "nothing reached a mailbox")
        self.assertTrue(all(attempt.failed for attempt in self.store.attempts))

    def test_a_credit_note_goes_as_a_credit_note_without_kid(self):
        (result,) = self.network.submit("nettbank", [self.document(kind="credit_note", kid="", amount_ore=-5000)])
        self.assertEqual(result.state, SUBMITTED)
        read = maventa_contract.read_ubl(self.store.documents[result.network_reference].file)
        self.assertEqual((read["type"], read["kid"]), ("credit_note", ""))

    def test_a_reminder_is_refused_as_the_maventa_route_refuses_it(self):
        (result,) = self.network.submit(
            "nettbank", [self.document(kind="reminder", invoice_number="INV/2025/00001-P1")]
        )
        self.assertEqual((result.state, result.error.code), (REJECTED, maventa.REMINDER_NOT_SUPPORTED))
        self.assertEqual(self.rendered, [], "refused before any file is made")

    def test_vipps_and_the_sandbox_of_other_routes_stay_the_sandbox_own(self):
        self.store.consumers.append(
            SandboxConsumer(identifier="100000003", name="Kari", mobile="+4741234567", jtta=True, vipps=True)
        )
        (result,) = self.network.submit("vipps", [self.document(recipient="+4741234567")])
        self.assertTrue(result.network_reference.startswith(REFERENCE_PREFIX))
        self.assertEqual(self.store.documents[result.network_reference].played, "")
        plain = SandboxNetwork(ISSUER, self.store)
        (result,) = plain.submit("nettbank", [self.document(key="key-9")])
        self.assertTrue(result.network_reference.startswith(REFERENCE_PREFIX))
        self.assertEqual(self.rendered, [])
