"""The interface every delivery network implements, in plain Python (no Odoo import).

A network is what carries an invoice to a consumer: the embedded sandbox, Mastercard Payment
Services' eFaktura services, or the Vipps Invoice API. The dispatcher speaks only this interface,
so switching a company from sandbox to production changes settings, never code paths.

Every call takes and returns batches. Each document carries an idempotency ``key``: a network
must treat a second submission with the same key as the same document (MPS: the consignment id;
Vipps: the invoice id in the idempotent PUT; sandbox: the key itself), so a re-run after a crash
between submission and commit can never reach the consumer twice.
"""

import abc
import dataclasses
import datetime

# Delivery states a network can report, in the order they are reached.
SUBMITTED = "submitted"  # the network took the document, no receipt yet
ACCEPTED = "accepted"  # the network validated it and routed it to the consumer
SHOWN = "shown"  # the consumer's bank or Vipps shows it
PAID = "paid"  # the consumer paid or approved the payment
REJECTED = "rejected"  # the network or the consumer's bank refused it (final)
CANCELLED = "cancelled"  # revoked by the issuer
STATES = (SUBMITTED, ACCEPTED, SHOWN, PAID, REJECTED, CANCELLED)
FINAL_STATES = (PAID, REJECTED, CANCELLED)


class NetworkError(Exception):
    """A network call that did not succeed.

    ``code`` is the network's own error code where it has one (MPS: 5002, 5003, 209, ...).
    ``retryable`` says whether the same call may succeed later (outage, timeout, 5xx) or
    will always fail (validation, authorisation): the dispatcher retries the first with
    backoff and moves the invoice to the next channel on the second.
    """

    retryable = False
    #: Whether the network may have done the work although the call failed (an answer lost after a submission):
    #: True, False (it surely did not, or refused), or None (this call says nothing about it).
    ambiguous = None

    def __init__(self, message, code=None, retryable=None):
        super().__init__(message)
        self.message = message
        self.code = code
        if retryable is not None:
            self.retryable = retryable

    def __str__(self):
        return f"[{self.code}] {self.message}" if self.code else self.message


class NetworkUnavailable(NetworkError):
    """Outage, timeout, 5xx or an answer that could not be read: try again later."""

    retryable = True


def json_object(response, service, what):
    """The JSON object a REST network answered with; anything else (not JSON, or a list or a string) is an
    answer that could not be read: ``NetworkUnavailable`` with code "invalid-json", tried again later."""
    try:
        data = response.json()
    except ValueError as exc:
        raise NetworkUnavailable(f"{service}: unreadable answer to {what} (not JSON)", code="invalid-json") from exc
    if not isinstance(data, dict):
        raise NetworkUnavailable(f"{service}: unreadable answer to {what} (not an object)", code="invalid-json")
    return data


TOKEN_EXPIRY_MARGIN = 60  # seconds before a bearer token's expiry at which a new one is fetched


class BearerToken:
    """An OAuth 2 bearer token of a REST network, reused until ``TOKEN_EXPIRY_MARGIN`` seconds before the
    ``expires_in`` of the answer that gave it runs out (``default_lifetime`` when the answer has none)."""

    def __init__(self, clock, service, default_lifetime=0):
        self._clock = clock
        self._service = service
        self._default_lifetime = default_lifetime
        self._token = None
        self._expiry = 0.0

    def valid(self):
        """The token while it is still good, else None."""
        return self._token if self._token and self._clock() < self._expiry else None

    def forget(self):
        """Expired early or revoked: the next call fetches a new one."""
        self._token = None

    def store(self, data):
        """Keep the token of a token endpoint's JSON answer and return it."""
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise NetworkUnavailable(f"{self._service}: the token answer has no access_token", code="invalid-json")
        try:
            lifetime = float(data.get("expires_in") or self._default_lifetime)
        except (TypeError, ValueError):
            lifetime = float(self._default_lifetime)
        self._token = token
        self._expiry = self._clock() + max(lifetime - TOKEN_EXPIRY_MARGIN, 0)
        return token


class NetworkRejected(NetworkError):
    """The network refused the request for good: do not send it again as it is."""

    retryable = False


@dataclasses.dataclass(frozen=True)
class Issuer:
    org_number: str  # 9 digits
    name: str
    account_number: str  # 11 digits, MOD11
    contact_email: str = ""


@dataclasses.dataclass(frozen=True)
class Recipient:
    """What the issuer knows about a consumer, for the identifier (JTTA) lookup.

    ``ref`` is the caller's own reference (the partner id) and comes back in the result.
    ``national_id`` is only ever held in memory, right after a BankID approval.
    """

    ref: str
    name: str
    mobile: str = ""  # E.164, +47 and 8 digits
    email: str = ""
    national_id: str = ""
    birthdate: str = ""  # ISO date


@dataclasses.dataclass(frozen=True)
class LookupResult:
    ref: str
    efaktura_identifier: str = ""  # empty: the consumer has no eFaktura ("ja takk til alle") yet
    vipps: bool = False  # the consumer receives eFaktura in Vipps
    vipps_recipient: str = ""  # what the Vipps channel addresses the consumer by (msisdn)


@dataclasses.dataclass(frozen=True)
class Document:
    """One invoice or credit note to deliver."""

    key: str  # idempotency key, at most 40 characters
    invoice_number: str
    recipient: str  # eFaktura identifier, or the Vipps recipient (msisdn)
    recipient_name: str
    kid: str
    amount_ore: int  # amounts in øre: NOK 1 234,50 is 123450
    currency: str
    issue_date: datetime.date
    due_date: datetime.date
    document_url: str = ""  # signed, time-limited link to the PDF
    document_hash: str = ""  # sha256 of the document, for audit
    kind: str = "invoice"  # "invoice" or "credit_note"
    original_invoice_number: str = ""  # for a credit note: the invoice it credits
    # The submission this document goes out in (MPS: the consignment id), at most 40 characters. The same for
    # every document of one submission; a retry after an unknown outcome carries the id of the earlier one.
    attempt_ref: str = ""


@dataclasses.dataclass(frozen=True)
class SubmitResult:
    key: str
    network_reference: str = ""
    state: str = SUBMITTED
    error: NetworkError = None  # set when this one document failed; the others may have passed
    duplicate: bool = False  # the network already had this key: nothing new reached the consumer
    attempt_ref: str = ""  # the network's id of the submission that carried it (MPS: the consignment id)

    @property
    def ok(self):
        return self.error is None


@dataclasses.dataclass(frozen=True)
class StatusResult:
    network_reference: str
    state: str
    detail: str = ""


class Network(abc.ABC):
    """A delivery network. Implementations hold their configuration, never Odoo records."""

    #: A short name for logs and the outbox: "sandbox", "mps", "vipps".
    name = None

    def __init__(self, issuer):
        self.issuer = issuer

    def network_name(self, channel):
        """The name the outbox shows for what carried a document by ``channel``. A network that hands each
        channel to a different carrier (see ``production.py``) names the carrier."""
        return self.name

    @abc.abstractmethod
    def lookup(self, recipients):
        """Find the consumers' eFaktura identifiers and Vipps preference.

        :param list[Recipient] recipients:
        :rtype: dict[str, LookupResult] keyed by ``Recipient.ref``; every ref is present.
        :raises NetworkError: when the whole call failed.
        """

    @abc.abstractmethod
    def submit(self, channel, documents):
        """Deliver documents as one consignment, by ``channel`` "nettbank" or "vipps".

        :param list[Document] documents:
        :rtype: list[SubmitResult], one per document, in the same order.
        :raises NetworkError: when the whole consignment failed; nothing was delivered.
        """

    @abc.abstractmethod
    def status(self, channel, references):
        """Read receipts for delivered documents.

        :param list[str] references: network references from ``SubmitResult``.
        :rtype: list[StatusResult] for the references the network knows.
        """

    @abc.abstractmethod
    def cancel(self, channel, reference):
        """Revoke a delivered document. Raises NetworkRejected when it is too late (paid)."""
