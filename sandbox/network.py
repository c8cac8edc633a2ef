"""The embedded sandbox network, in plain Python (no Odoo import).

It behaves like the real networks without any contract: a JTTA registry answers identifier
lookups, submitted documents land in consumers' mailboxes, receipts move through their states
over time, and failures can be switched on. The logic lives here; the records live in a
:class:`.mailbox.SandboxStore`, which the module implements on top of the database and the tests in
memory (the records, the store's interface and a document's life in the mailbox are in :mod:`.mailbox`).

Given ``maventa_render`` (when the company's production route is Visma AutoInvoice), the sandbox
plays Maventa's part on the "nettbank" channel: it refuses what the Maventa route refuses before
sending (a reminder, a credit note with a KID: :func:`.maventa.document_problem`), builds each
document's Peppol BIS 3.0 file with the renderer the Maventa network uses and reads it as Maventa
does (:func:`.maventa.file_problems`), files the document under the invoice UUID the Maventa
network would give it (:func:`.maventa.invoice_uuid`), and keeps the file with the document.
"""

import datetime
import random
import re
import secrets
import unicodedata

from ..networks import maventa
from ..networks.base import (
    CANCELLED,
    PAID,
    REJECTED,
    SUBMITTED,
    LookupResult,
    Network,
    NetworkRejected,
    NetworkUnavailable,
    StatusResult,
    SubmitResult,
)
from ..tools.validation import InvalidValue, normalize_account_number, normalize_no_mobile, normalize_org_number

# The records, the store and the mailbox's side live in a module of their own; every public name stays importable
# from here.
from .mailbox import (  # noqa: F401  # pylint: disable=unused-import
    MailboxItem,
    SandboxConsumer,
    SandboxStore,
    SubmissionAttempt,
    advance_state,
    check_consumer_can_pay,
    check_consumer_can_show,
    consumer_pays,
)

#: The channels the sandbox network carries, as the chain names them (the chain's own list, with e-mail and post, is
#: CHAIN_CHANNELS in models/efaktura_channel.py).
SANDBOX_CHANNELS = ("nettbank", "vipps")
KINDS = ("invoice", "credit_note", "reminder")  # the sandbox plays a network with a reminder type
CURRENCY = "NOK"
KEY_MAX_LENGTH = 40
REFERENCE_PREFIX = "SBX-"

FAILURE_NONE = "none"
FAILURE_OUTAGE = "outage"
FAILURE_TIMEOUT = "timeout"
FAILURE_REJECT = "reject"
FAILURE_FLAKY = "flaky"
FAILURE_MODES = (FAILURE_NONE, FAILURE_OUTAGE, FAILURE_TIMEOUT, FAILURE_REJECT, FAILURE_FLAKY)
#: The share of calls that fail in "flaky" mode.
FLAKY_RATE = 0.3
# Letters that Unicode does not decompose into a base letter and a mark.
_TRANSLITERATION = str.maketrans({"ø": "o", "æ": "ae", "đ": "d", "ł": "l", "ß": "ss", "þ": "th", "-": " "})


def normalize_name(name):
    """A name reduced for comparison: no case, accents or extra spaces ("Bjørn  Ås" == "bjorn as")."""
    text = unicodedata.normalize("NFKD", (name or "").casefold().translate(_TRANSLITERATION))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(text.split())


def normalize_email(email):
    return (email or "").strip().lower()


def normalize_national_id(national_id):
    """A national id (fødselsnummer or D-number) as 11 digits, or "" when it is not one."""
    digits = re.sub(r"[\s.-]", "", national_id or "")
    return digits if re.fullmatch(r"\d{11}", digits) else ""


def _normalize_mobile(mobile):
    try:
        return normalize_no_mobile(mobile) if mobile else ""
    except InvalidValue:
        return ""


class SandboxNetwork(Network):
    """The embedded network: a JTTA registry and mailboxes kept by ``store``.

    :param Issuer issuer:
    :param SandboxStore store:
    :param str failure: one of :data:`FAILURE_MODES`
    :param random.Random rng: decides the "flaky" failures; seed it for repeatable runs
    :param maventa_render: ``render(document) -> (filename, xml_bytes)``, the Peppol BIS 3.0 renderer of
        the Maventa network: given, the sandbox plays Maventa's part on the "nettbank" channel
    """

    name = "sandbox"

    def __init__(self, issuer, store, failure=FAILURE_NONE, rng=None, maventa_render=None):
        super().__init__(issuer)
        failure = failure or FAILURE_NONE
        if failure not in FAILURE_MODES:
            raise ValueError(f"Unknown sandbox failure mode {failure!r}, expected one of {', '.join(FAILURE_MODES)}")
        self.store = store
        self.failure = failure
        self.rng = rng or random.Random()
        self.maventa_render = maventa_render

    def plays(self, channel):
        """The network whose part the sandbox plays on ``channel``: "maventa", or "" for its own."""
        return maventa.MaventaNetwork.name if self.maventa_render is not None and channel == maventa.CHANNEL else ""

    # ------------------------------------------------------------------
    # Failures
    # ------------------------------------------------------------------

    def _injected_failure(self):
        """The failure this call meets, decided before anything is read or stored."""
        if self.failure == FAILURE_OUTAGE:
            return NetworkUnavailable("The sandbox network is down (simulated outage).", code="503")
        if self.failure == FAILURE_TIMEOUT:
            return NetworkUnavailable("The sandbox network did not answer in time (simulated timeout).", code="TIMEOUT")
        if self.failure == FAILURE_FLAKY and self.rng.random() < FLAKY_RATE:
            kind = self.rng.choice(("5xx", "timeout", "malformed"))
            if kind == "5xx":
                status = self.rng.choice(("500", "502", "503", "504"))
                return NetworkUnavailable(f"The sandbox network answered HTTP {status} (simulated).", code=status)
            if kind == "timeout":
                return NetworkUnavailable(
                    "The sandbox network did not answer in time (simulated timeout).", code="TIMEOUT"
                )
            return NetworkUnavailable("The sandbox network's answer could not be read (simulated).", code="MALFORMED")
        return None

    def _fail_if_injected(self):
        error = self._injected_failure()
        if error is not None:
            raise error

    @staticmethod
    def _check_channel(channel):
        if channel not in SANDBOX_CHANNELS:
            raise NetworkRejected(
                f"Channel {channel!r} is not known: the sandbox delivers by {' or '.join(SANDBOX_CHANNELS)}.",
                code="CHANNEL",
            )

    # ------------------------------------------------------------------
    # Lookup
    # ------------------------------------------------------------------

    def lookup(self, recipients):
        self._fail_if_injected()
        wanted = [
            (
                recipient,
                normalize_national_id(recipient.national_id),
                _normalize_mobile(recipient.mobile),
                normalize_email(recipient.email),
            )
            for recipient in recipients
        ]
        hashes = {nid: self.store.hash_national_id(nid) for _r, nid, _m, _e in wanted if nid}
        candidates = self.store.find_consumers(
            mobiles=sorted({mobile for _r, _n, mobile, _e in wanted if mobile}),
            emails=sorted({email for _r, _n, _m, email in wanted if email}),
            national_id_hashes=sorted(set(hashes.values())),
        )
        results = {}
        for recipient, national_id, mobile, email in wanted:
            consumer = self._match(candidates, recipient.name, hashes.get(national_id), mobile, email)
            # eFaktura 2.0: whatever the query (national id or not), only a consumer who said yes to all issuers
            # has an identifier an issuer may send to. A BankID login at the issuer creates no agreement.
            results[recipient.ref] = self._lookup_result(recipient.ref, consumer)
        return results

    @staticmethod
    def _match(candidates, name, national_id_hash, mobile, email):
        """The registry consumer for one recipient: by national id, else mobile and name, else e-mail and name.

        A rule that fits more than one consumer proves nothing and matches none.
        """
        name = normalize_name(name)
        rules = (
            lambda c: bool(national_id_hash) and c.national_id_hash == national_id_hash,
            lambda c: bool(mobile and name) and c.mobile == mobile and normalize_name(c.name) == name,
            lambda c: bool(email and name) and normalize_email(c.email) == email and normalize_name(c.name) == name,
        )
        for rule in rules:
            found = {c.identifier: c for c in candidates if rule(c)}
            if len(found) == 1:
                return next(iter(found.values()))
        return None

    @staticmethod
    def _lookup_result(ref, consumer):
        if consumer is None:
            return LookupResult(ref=ref)
        return LookupResult(
            ref=ref,
            efaktura_identifier=consumer.identifier if consumer.jtta else "",
            vipps=bool(consumer.vipps and consumer.mobile),
            vipps_recipient=consumer.mobile if consumer.vipps else "",
        )

    # ------------------------------------------------------------------
    # Submit
    # ------------------------------------------------------------------

    def submit(self, channel, documents):
        documents = list(documents)
        error = self._injected_failure()
        if error is None:
            try:
                self._check_channel(channel)
            except NetworkRejected as exc:
                error = exc
        if error is not None:
            self.store.record_submission(
                [], [SubmissionAttempt(channel, doc.key, failed=True, error=str(error)) for doc in documents]
            )
            raise error

        played = self.plays(channel)
        existing = self.store.documents_by_key([doc.key for doc in documents if doc.key])
        consumers = self._consumers_for(channel, documents)
        issuer_problems = self._issuer_problems()
        results, items, attempts = [], [], []
        for doc in documents:
            file_name, file = "", b""
            if self.failure == FAILURE_REJECT:
                rejection = NetworkRejected(
                    f"Document {doc.invoice_number}: the sandbox network rejects every document (simulated rejection).",
                    code="REJECTED",
                )
            elif doc.key in existing:
                item = existing[doc.key]
                results.append(SubmitResult(doc.key, item.reference, item.state, duplicate=True))
                attempts.append(SubmissionAttempt(channel, doc.key, item.reference, duplicate=True, played=played))
                continue
            else:
                consumer = consumers.get(doc.recipient)
                rejection = maventa.document_problem(doc) if played else None
                if rejection is None:
                    rejection = self._validate(channel, doc, consumer, issuer_problems)
                if rejection is None and played:
                    file_name, file, rejection = self._maventa_file(doc)
            if rejection is not None:
                results.append(SubmitResult(doc.key, state=REJECTED, error=rejection))
                attempts.append(SubmissionAttempt(channel, doc.key, failed=True, error=str(rejection), played=played))
                continue
            item = MailboxItem(
                reference=maventa.invoice_uuid(self.issuer.org_number, doc.key) if played else self._new_reference(),
                key=doc.key,
                channel=channel,
                state=SUBMITTED,
                consumer_identifier=consumer.identifier,
                account_number=self.issuer.account_number,
                document=doc,
                played=played,
                file_name=file_name,
                file=file,
            )
            # A key met twice in one consignment is the same document.
            existing[doc.key] = item
            items.append(item)
            results.append(SubmitResult(doc.key, item.reference, SUBMITTED))
            attempts.append(SubmissionAttempt(channel, doc.key, item.reference, played=played))
        self.store.record_submission(items, attempts)
        return results

    def _maventa_file(self, doc):
        """``(file_name, file, rejection)``: the document's Peppol BIS 3.0 file, made by the Maventa network's
        renderer, and the refusal Maventa would give it (None when it would take it)."""
        try:
            file_name, file = self.maventa_render(doc)
        except NetworkRejected as exc:
            return "", b"", exc
        problems = maventa.file_problems(doc, file)
        if not problems:
            return file_name, file, None
        return (
            "",
            b"",
            NetworkRejected(
                f"Document {doc.invoice_number}: Maventa would refuse its file {file_name}: "
                + "; ".join(message for _code, message in problems)
                + ".",
                code=problems[0][0],
            ),
        )

    def _consumers_for(self, channel, documents):
        """The registry consumers that the documents' recipients designate on this channel."""
        recipients = {doc.recipient for doc in documents if doc.recipient}
        if channel == "vipps":
            mobiles = {_normalize_mobile(r) for r in recipients} - {""}
            found = self.store.find_consumers(mobiles=sorted(mobiles)) if mobiles else []
            by_mobile = {c.mobile: c for c in found if c.vipps}
            return {r: by_mobile[_normalize_mobile(r)] for r in recipients if _normalize_mobile(r) in by_mobile}
        # Any consumer with eFaktura in their bank can receive by identifier: issuers learn it from a lookup,
        # which only answers for consumers who said yes to all or approved this issuer with BankID.
        found = self.store.find_consumers(identifiers=sorted(recipients)) if recipients else []
        return {c.identifier: c for c in found}

    def _issuer_problems(self):
        problems = []
        try:
            normalize_org_number(self.issuer.org_number)
        except InvalidValue as exc:
            problems.append(
                ("ISSUER", f"issuer organisation number {self.issuer.org_number!r} is not valid, expected {exc.rule}")
            )
        try:
            normalize_account_number(self.issuer.account_number)
        except InvalidValue as exc:
            problems.append(
                ("ACCOUNT", f"issuer account number {self.issuer.account_number!r} is not valid, expected {exc.rule}")
            )
        return problems

    def _validate(self, channel, doc, consumer, issuer_problems):
        """NetworkRejected naming every rule the document breaks, or None."""
        problems = list(issuer_problems)
        if not doc.key or len(doc.key) > KEY_MAX_LENGTH:
            problems.append(("KEY", f"key {doc.key!r} must have 1 to {KEY_MAX_LENGTH} characters"))
        if not (doc.invoice_number or "").strip():
            problems.append(("INVOICE_NUMBER", "invoice number is missing"))
        if consumer is None:
            where = "no Vipps user with this mobile number" if channel == "vipps" else "no such eFaktura identifier"
            problems.append(
                ("RECIPIENT", f"recipient {doc.recipient!r} is unknown on channel {channel}: the registry has {where}")
            )
        if doc.kind not in KINDS:
            problems.append(("KIND", f"kind {doc.kind!r} must be one of {', '.join(KINDS)}"))
        if doc.kind == "credit_note":
            if doc.kid:
                problems.append(("KID", f"a credit note carries no KID, got {doc.kid!r}"))
        elif not re.fullmatch(r"\d{2,25}", doc.kid or ""):
            problems.append(("KID", f"KID {doc.kid!r} must have 2 to 25 digits"))
        amount = doc.amount_ore
        if not isinstance(amount, int) or isinstance(amount, bool):
            problems.append(("AMOUNT", f"amount {amount!r} must be a whole number of øre"))
        elif doc.kind in ("invoice", "reminder") and amount <= 0:
            problems.append(("AMOUNT", f"amount {amount} øre must be above zero for an invoice"))
        elif amount == 0:
            problems.append(("AMOUNT", "amount must not be zero"))
        if doc.currency != CURRENCY:
            problems.append(("CURRENCY", f"currency {doc.currency!r} is not supported, only {CURRENCY}"))
        if not isinstance(doc.issue_date, datetime.date):
            problems.append(("ISSUE_DATE", "issue date is missing"))
        if not isinstance(doc.due_date, datetime.date):
            problems.append(("DUE_DATE", "due date is missing"))
        elif isinstance(doc.issue_date, datetime.date) and doc.due_date < doc.issue_date:
            problems.append(("DUE_DATE", f"due date {doc.due_date} is before the issue date {doc.issue_date}"))
        if not problems:
            return None
        return NetworkRejected(
            f"Document {doc.invoice_number or doc.key}: " + "; ".join(message for _code, message in problems) + ".",
            code=problems[0][0],
        )

    @staticmethod
    def _new_reference():
        return REFERENCE_PREFIX + secrets.token_hex(6).upper()

    # ------------------------------------------------------------------
    # Status and cancel
    # ------------------------------------------------------------------

    def status(self, channel, references):
        self._fail_if_injected()
        self._check_channel(channel)
        items = self.store.documents_by_reference(list(references))
        return [
            StatusResult(reference, items[reference].state)
            for reference in references
            if reference in items and items[reference].channel == channel
        ]

    def cancel(self, channel, reference):
        self._fail_if_injected()
        self._check_channel(channel)
        item = self.store.documents_by_reference([reference]).get(reference)
        if item is None or item.channel != channel:
            raise NetworkRejected(f"No {channel} document with reference {reference}.", code="UNKNOWN")
        if item.state == PAID:
            raise NetworkRejected(f"Document {reference} is paid already and can no longer be cancelled.", code="PAID")
        if item.state == REJECTED:
            raise NetworkRejected(f"Document {reference} was rejected: there is nothing to cancel.", code="REJECTED")
        if item.state != CANCELLED:
            self.store.set_state(reference, CANCELLED)
        return StatusResult(reference, CANCELLED)
