"""The "nettbank" channel through MPS' ERP service v4: the network adapter on :class:`.mps_client.MpsClient`.

The wire contract is in :mod:`.mps_client`, its types in :mod:`.mps_types` and its faults in :mod:`.mps_faults`
(re-exported by :mod:`.mps_client`); like them, this adapter is plain Python. **The
contract is unverified** (see ``wsdl/INVENTED.md``).
"""

import datetime
import decimal
import hashlib
import re

from .base import (
    ACCEPTED,
    CANCELLED,
    REJECTED,
    SHOWN,
    SUBMITTED,
    LookupResult,
    Network,
    NetworkError,
    NetworkRejected,
    NetworkUnavailable,
    StatusResult,
    SubmitResult,
)
from .mps_client import (
    ADD_INVOICES_BATCH_SIZE,
    DOCUMENT_CREDIT_NOTE,
    DOCUMENT_INVOICE,
    DUPLICATE_CONSIGNMENT,
    INVOICE_ALREADY_CANCELLED,
    INVOICE_PAID,
    RECIPIENT_MISSING,
    IdentifierQuery,
    MpsClient,
    MpsInvoice,
)

CHANNEL = "nettbank"
CURRENCY = "NOK"
REMINDER_NOT_SUPPORTED = "REMINDER_NOT_SUPPORTED"
MAX_CONSIGNMENT_ID_ROUNDS = 5  # new consignment ids tried after 209 before the call counts as failed
CONSIGNMENT_ID_LENGTH = 40  # ConsignmentIdType: 1 to 40 characters
#: MPS consignment states (ConsignmentStatusType) as base delivery states.
CONSIGNMENT_STATES = {
    "RECEIVED": SUBMITTED,
    "PROCESSING": SUBMITTED,
    "PROCESSED": ACCEPTED,
    "STOPPED": REJECTED,
}
#: MPS invoice states (InvoiceStatusType) as base delivery states. MPS reports no payment: PAID is
#: reached by matching the KID in the issuer's bank reconciliation, never from this service.
INVOICE_STATES = {
    "RECEIVED": SUBMITTED,
    "VALIDATED": ACCEPTED,
    "DELIVERED": SHOWN,
    "REJECTED": REJECTED,
    "DELETED": CANCELLED,
}

# PhoneNumberType and EmailType of the XSD.
_PHONE = re.compile(r"\+[0-9]{8,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def consignment_id_for(issuer_id, keys):
    """The consignmentId of a batch: the same issuer and idempotency keys always give the same id.

    The order of the keys does not matter, so a batch rebuilt after a crash carries the id of the
    first attempt and MPS answers 209 instead of delivering the invoices twice.
    """
    keys = list(keys)
    if not keys:
        raise ValueError("A consignment needs at least one document key")
    material = "\n".join([issuer_id or "", *sorted(keys)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:CONSIGNMENT_ID_LENGTH]


class MpsNetwork(Network):
    """The "nettbank" channel through MPS' ERP service v4.

    - ``lookup`` asks getEfakturaIdentifiers, by national id when known, else by name with the
      mobile number and/or e-mail address. The service does not say whether a consumer reads
      eFaktura in Vipps, so ``vipps`` stays False.
    - ``submit`` first asks MPS which invoice numbers it already holds (getInvoiceStatus): those are
      reported as ``duplicate`` in the state they reached (with an error for those MPS refused) and
      never sent again, whatever batch or consignment they came in. The rest go out by addInvoices,
      one consignment per ``Document.attempt_ref`` (the chain keeps it per delivery and reuses it on a
      retry), else with a consignmentId derived from the documents' keys (:func:`consignment_id_for`).
      The network reference of a document is its invoice number, unique per issuer.
    - ``status`` asks getInvoiceStatus and maps :data:`INVOICE_STATES`.
    - ``cancel`` takes an invoice back through the "Issuer via MPS" service: getCancellableInvoice
      first, and cancelInvoice only when MPS lists the invoice as cancellable. The reference is the
      invoice number ``submit`` returned. An invoice MPS has cancelled before counts as cancelled.
    """

    name = "mps"
    channels = (CHANNEL,)

    def __init__(self, issuer, config, session=None, client=None):
        super().__init__(issuer)
        self.config = config
        self.client = client or MpsClient(config, session=session)

    @property
    def issuer_id(self):
        return self.issuer.org_number or self.config.issuer_org_number

    def lookup(self, recipients):
        recipients = list(recipients)
        results = {recipient.ref: LookupResult(recipient.ref) for recipient in recipients}
        queries = [query for query in map(self._query, recipients) if query is not None]
        if not queries:
            return results
        for answer in self.client.get_efaktura_identifiers(queries, issuer_id=self.issuer_id):
            if answer.reference in results:
                results[answer.reference] = LookupResult(
                    ref=answer.reference,
                    efaktura_identifier=answer.efaktura_identifier if answer.usable else "",
                )
        return results

    def submit(self, channel, documents):
        """Deliver the documents, each at most once per invoice number, whatever happened to earlier attempts.

        1. Read before write: MPS is asked (getInvoiceStatus) which of the invoice numbers it already holds.
           Those are not sent again; they come back as ``duplicate`` in the state MPS reports (with an error
           when MPS refused them). An invoice MPS deleted (cancelled) is sent anew: it is a new revision.
        2. The others go out in one consignment per ``Document.attempt_ref`` (documents without one share a
           consignment id made from their keys, :func:`consignment_id_for`). A consignment id MPS has seen
           before (209) holds none of these invoices (step 1 found none), so they go out under a new id made
           from the old one.

        This assumes MPS lists an invoice in getInvoiceStatus as soon as its consignment is received (the
        contract is not published; the local peer does so). The consignment id of each document is reported
        in ``SubmitResult.attempt_ref``.
        """
        self._check_channel(channel)
        documents = list(documents)
        problems = {doc.key: problem for doc in documents if (problem := self._document_problem(doc))}
        sendable = [doc for doc in documents if doc.key not in problems]
        results = {}
        if sendable:
            held = {
                answer.invoice_number: answer
                for answer in self.client.get_invoice_status([doc.invoice_number for doc in sendable], self.issuer_id)
                if answer.status != "DELETED"
            }
            to_send = {}
            for doc in sendable:
                if doc.invoice_number in held:
                    results[doc.key] = self._held(doc, held[doc.invoice_number])
                else:
                    to_send.setdefault(doc.attempt_ref or "", []).append(doc)
            failures = []
            # At most ADD_INVOICES_BATCH_SIZE invoices in one consignment.
            consignments = [
                (attempt_ref, documents[start : start + ADD_INVOICES_BATCH_SIZE])
                for attempt_ref, documents in to_send.items()
                for start in range(0, len(documents), ADD_INVOICES_BATCH_SIZE)
            ]
            for attempt_ref, group in consignments:
                keys = [doc.key for doc in group]
                consignment_id = attempt_ref or consignment_id_for(self.issuer_id, keys)
                try:
                    consignment_id = self._add_consignment(consignment_id, group)
                except NetworkError as exc:
                    # An addInvoices without an answer may have reached MPS; a refusal surely did not.
                    exc.ambiguous = isinstance(exc, NetworkUnavailable)
                    failures.append(exc)
                    for doc in group:
                        results[doc.key] = SubmitResult(key=doc.key, error=exc, attempt_ref=consignment_id)
                    continue
                for doc in group:
                    results[doc.key] = SubmitResult(
                        key=doc.key, network_reference=doc.invoice_number, state=SUBMITTED, attempt_ref=consignment_id
                    )
            if failures and not any(result.ok for result in results.values()) and len(failures) == 1:
                raise failures[0]  # nothing of this call went through: the whole call failed, as before
        return [
            results.get(doc.key) or SubmitResult(key=doc.key, state=REJECTED, error=problems[doc.key])
            for doc in documents
        ]

    def _add_consignment(self, consignment_id, documents):
        """Send one consignment; returns the consignment id MPS took it under.

        Only documents MPS does not hold come here, so a 209 means the id was used for other invoices (or
        for none that arrived): the documents go out under a new id derived from it.
        """
        invoices = [self._invoice(doc) for doc in documents]
        keys = [doc.key for doc in documents]
        candidate = consignment_id
        for round_ in range(MAX_CONSIGNMENT_ID_ROUNDS):
            try:
                self.client.add_invoices(candidate, invoices, issuer_id=self.issuer_id)
            except NetworkRejected as exc:
                if exc.code != DUPLICATE_CONSIGNMENT:
                    raise
                candidate = consignment_id_for(self.issuer_id, [consignment_id, f"round:{round_ + 1}", *keys])
                continue
            return candidate
        raise NetworkUnavailable(
            f"MPS refused {MAX_CONSIGNMENT_ID_ROUNDS} consignment ids in a row as used before (209), starting "
            f"with {consignment_id}",
            DUPLICATE_CONSIGNMENT,
        )

    @staticmethod
    def _held(doc, invoice):
        """The result for a document MPS already holds under its invoice number."""
        state = INVOICE_STATES.get(invoice.status, SUBMITTED)
        error = None
        if state == REJECTED:
            error = NetworkRejected(
                f"{doc.invoice_number} was sent before, in consignment {invoice.consignment_id}, and MPS refused "
                f"it: {invoice.status_text or invoice.status}"
            )
        return SubmitResult(
            key=doc.key,
            network_reference=doc.invoice_number,
            state=state,
            error=error,
            duplicate=True,
            attempt_ref=invoice.consignment_id,
        )

    def status(self, channel, references):
        self._check_channel(channel)
        references = list(dict.fromkeys(ref for ref in references if ref))
        if not references:
            return []
        results = []
        for answer in self.client.get_invoice_status(references, issuer_id=self.issuer_id):
            state = INVOICE_STATES.get(answer.status)
            detail = answer.status_text or answer.status
            if state is None:
                state, detail = SUBMITTED, f"unknown MPS invoice status {answer.status!r}"
            results.append(StatusResult(network_reference=answer.invoice_number, state=state, detail=detail))
        return results

    def cancel(self, channel, reference):
        self._check_channel(channel)
        if not reference:
            raise NetworkRejected("MPS can only cancel an invoice by its invoice number, and none was given")
        try:
            found = self.client.get_cancellable_invoice(reference, issuer_id=self.issuer_id)
            if found is None:
                raise NetworkRejected(f"MPS can no longer cancel {reference}: too late to cancel")
            if found.status == "DELETED":
                return StatusResult(network_reference=reference, state=CANCELLED, detail="already cancelled at MPS")
            status = self.client.cancel_invoice(reference, issuer_id=self.issuer_id)
        except NetworkRejected as exc:
            if exc.code == INVOICE_ALREADY_CANCELLED:
                return StatusResult(network_reference=reference, state=CANCELLED, detail="already cancelled at MPS")
            if exc.code == INVOICE_PAID:
                raise NetworkRejected(f"MPS cannot cancel {reference}: it is already paid", exc.code) from exc
            raise
        return StatusResult(network_reference=reference, state=CANCELLED, detail=f"cancelled at MPS ({status})")

    # -- helpers ------------------------------------------------------------------------------

    def _check_channel(self, channel):
        if channel not in self.channels:
            raise NetworkRejected(f"The MPS network delivers by {CHANNEL!r} only, not {channel!r}")

    @staticmethod
    def _query(recipient):
        """The identifier query for a recipient, or None when there is nothing MPS could search by.

        Values the service's schema would refuse (a phone number not in E.164, a malformed e-mail
        address or birth date) are left out rather than failing the whole batch.
        """
        national_id = re.sub(r"\D", "", recipient.national_id or "")
        if len(national_id) == 11:
            return IdentifierQuery(reference=recipient.ref, national_id=national_id)
        phone = re.sub(r"[\s()-]", "", recipient.mobile or "")
        phone = phone if _PHONE.fullmatch(phone) else ""
        email = (recipient.email or "").strip()
        email = email if _EMAIL.fullmatch(email) and len(email) <= 254 else ""
        name = (recipient.name or "").strip()[:100]
        if not name or not (phone or email):
            return None
        try:
            birthdate = datetime.date.fromisoformat(recipient.birthdate) if recipient.birthdate else None
        except ValueError:
            birthdate = None
        return IdentifierQuery(reference=recipient.ref, name=name, phone=phone, email=email, birthdate=birthdate)

    @staticmethod
    def _document_problem(doc):
        if doc.kind == "reminder":
            # MPS's pages name no reminder type: a new invoice with the same KID would be a second payment claim.
            return NetworkRejected(
                f"{doc.invoice_number}: MPS documents no reminder type; the reminder goes by e-mail or post",
                REMINDER_NOT_SUPPORTED,
            )
        if doc.kind not in ("invoice", "credit_note"):
            return NetworkRejected(f"{doc.invoice_number}: unknown document kind {doc.kind!r}")
        if doc.currency != CURRENCY:
            return NetworkRejected(f"{doc.invoice_number}: eFaktura carries {CURRENCY} only, not {doc.currency}")
        if not doc.recipient_name:
            return NetworkRejected(f"{doc.invoice_number}: the recipient has no name")
        if not doc.recipient:
            return NetworkRejected(f"{doc.invoice_number}: no eFaktura identifier for the recipient", RECIPIENT_MISSING)
        if doc.amount_ore < 0:
            return NetworkRejected(
                f"{doc.invoice_number}: negative amount; send a credit note with a positive amount instead"
            )
        return None

    def _invoice(self, doc):
        return MpsInvoice(
            invoice_number=doc.invoice_number,
            customer_name=doc.recipient_name[:100],
            account_number=self.issuer.account_number,
            amount=decimal.Decimal(doc.amount_ore).scaleb(-2),
            issue_date=doc.issue_date,
            due_date=doc.due_date,
            efaktura_identifier=doc.recipient,
            kid=doc.kid,
            document_type=DOCUMENT_CREDIT_NOTE if doc.kind == "credit_note" else DOCUMENT_INVOICE,
            presentation_url=doc.document_url,
        )
