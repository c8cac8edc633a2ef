"""Visma AutoInvoice (Maventa) for Norwegian consumers, in plain Python with requests (no Odoo import).

Maventa is AutoInvoice today. One agreement with Visma reaches every Norwegian bank and Vipps by
eFaktura: Maventa matches the consumer in the "yes to all" (JTTA) registry from the invoice's own
data, so there is no identifier lookup to call and no issuer agreement with MPS to hold. What the
client sends and reads, and which of it is documented or guessed, is in :mod:`.maventa_contract`.

* :class:`MaventaClient` speaks the REST API: an OAuth2 client-credentials token, cached until
  shortly before it expires and fetched again once on a 401; POST /v1/invoices with our own
  invoice UUID; GET /v1/invoices/{id}; webhook subscriptions; the B2C Norway agreement.
* :class:`MaventaNetwork` is the "nettbank" channel behind :class:`~.base.Network`:

  - ``lookup`` makes no call: Maventa matches consumers through JTTA when the invoice is sent. A
    recipient with a mobile number or e-mail address (what JTTA matches on) is reported with the
    identifier :data:`JTTA_ROUTED`, so that the chain offers the invoice to the eFaktura channel;
    when JTTA has no match, Maventa answers ERROR and the chain goes on by e-mail or post.
  - ``submit`` sends each document as Peppol BIS 3.0 / EHF (an ``<Invoice>`` or a ``<CreditNote>``,
    made by Odoo's generator through the ``render`` callable, KID as PaymentID, PDF embedded), with
    the route forced to eFaktura unless the company lets Maventa route everything. The invoice UUID
    is derived from the document's idempotency key: a second POST of the same document is refused by
    Maventa and read back as a duplicate, and an answer lost on the way (timeout, 5xx) is settled by
    asking Maventa for that UUID before anything is sent again. When Maventa cannot say, the error is
    marked ambiguous: the chain then waits for Maventa rather than send the invoice by another channel.
  - ``status`` reads GET /v1/invoices/{id}; ``cancel`` is refused: the docs show no way to take an
    invoice back.
  - Reminders (``Document.kind == "reminder"``) are refused with code ``REMINDER_NOT_SUPPORTED``:
    the docs show no reminder for Norwegian eFaktura, and a reminder sent as a new invoice would be
    a second payment claim in the nettbank. The chain then sends it by e-mail or post.
"""

import dataclasses
import logging
import time
import uuid

import requests

from . import maventa_contract as contract
from .base import (
    ACCEPTED,
    PAID,
    REJECTED,
    SHOWN,
    SUBMITTED,
    BearerToken,
    LookupResult,
    Network,
    NetworkError,
    NetworkRejected,
    NetworkUnavailable,
    StatusResult,
    SubmitResult,
    json_object,
)

_logger = logging.getLogger(__name__)

CHANNEL = "nettbank"
CURRENCY = "NOK"
#: What ``lookup`` reports as the eFaktura identifier of a consumer Maventa will match through JTTA.
JTTA_ROUTED = "jtta"
#: Namespace of the invoice UUIDs derived from idempotency keys (uuid5).
INVOICE_UUID_NAMESPACE = uuid.UUID("6f1c3a52-8a0e-4a47-9f55-2b7f6c1de0a1")
REMINDER_NOT_SUPPORTED = "REMINDER_NOT_SUPPORTED"
CANCEL_NOT_SUPPORTED = "CANCEL_NOT_SUPPORTED"

# Maventa's invoice states and the delivery states they mean here (see maventa_contract).
STATES = {
    contract.STATUS_PENDING: SUBMITTED,
    contract.STATUS_SENT: ACCEPTED,
    "VIEWED": SHOWN,
    "ACCEPTED": ACCEPTED,
    "DISPUTED": ACCEPTED,  # informational only, per the docs: the claim stands
    "PAID": PAID,
    "DECLINED": REJECTED,
    contract.STATUS_ERROR: REJECTED,
}


@dataclasses.dataclass(frozen=True)
class MaventaConfig:
    company_uuid: str = ""  # the OAuth2 client_id
    user_api_key: str = dataclasses.field(default="", repr=False)  # the OAuth2 client_secret
    vendor_api_key: str = dataclasses.field(default="", repr=False)  # the software partner's key
    base_url: str = contract.PRODUCTION_BASE_URL
    route_everything: bool = False  # True: Maventa picks the route (eFaktura, e-mail, print) itself
    timeout: float = 20.0

    def __post_init__(self):
        missing = [name for name in ("company_uuid", "user_api_key", "vendor_api_key") if not getattr(self, name)]
        if missing:
            raise ValueError(f"MaventaConfig: missing {', '.join(missing)}")


def invoice_uuid(issuer_org_number, key):
    """Our own Maventa invoice UUID for a document: the same key always gives the same UUID."""
    return str(uuid.uuid5(INVOICE_UUID_NAMESPACE, f"{issuer_org_number}:{key}"))


def document_problem(document):
    """The :class:`~.base.NetworkRejected` with which the Maventa route refuses a document before sending it,
    or None: a reminder (no reminder type for Norwegian eFaktura), an unknown kind, a currency other than NOK,
    a credit note carrying a KID."""
    if document.kind == "reminder" and not contract.REMINDERS_SUPPORTED:
        return NetworkRejected(
            f"{document.invoice_number}: Maventa's docs show no reminder for Norwegian eFaktura; "
            "a new invoice would be a second payment claim, so it goes by e-mail or post",
            code=REMINDER_NOT_SUPPORTED,
        )
    if document.kind not in ("invoice", "credit_note"):
        return NetworkRejected(f"{document.invoice_number}: unknown document kind {document.kind!r}", code="KIND")
    if document.currency != CURRENCY:
        return NetworkRejected(
            f"{document.invoice_number}: eFaktura carries {CURRENCY} only, not {document.currency}",
            code="CURRENCY",
        )
    if document.kind == "credit_note" and document.kid:
        return NetworkRejected(
            f"{document.invoice_number}: a credit note carries no KID (it would be taken for a payment claim)",
            code="CREDIT_NOTE_KID",
        )
    return None


def file_problems(document, data):
    """What Maventa would find wrong in ``data``, the UBL file made for ``document``: a list of (code,
    message), empty when the file is what Maventa reads for this document (the type its root gives, the
    same invoice number, and for an invoice the document's KID as PaymentID)."""
    try:
        read = contract.read_ubl(data)
    except contract.UnreadableFile as exc:
        return [(exc.code, str(exc))]
    problems = []
    if read["type"] != document.kind:
        problems.append(("FILE_TYPE", f"the file is a {read['type']}, the document a {document.kind}"))
    if read["invoice_nr"] != document.invoice_number:
        problems.append(
            ("FILE_NUMBER", f"the file's number is {read['invoice_nr']!r}, not {document.invoice_number!r}")
        )
    if document.kind == "invoice" and read["kid"] != document.kid:
        problems.append(("FILE_KID", f"the file's PaymentID is {read['kid']!r}, not the KID {document.kid!r}"))
    return problems


class MaventaClient:
    """The REST calls, with token caching; raises :class:`~.base.NetworkError` subclasses."""

    def __init__(self, config, session=None, clock=time.monotonic):
        self.config = config
        self.session = session or requests.Session()
        self._clock = clock
        self._token = BearerToken(self._clock, "Maventa", default_lifetime=contract.TOKEN_LIFETIME)
        self.token_requests = 0

    def _url(self, path):
        return self.config.base_url.rstrip("/") + path

    def _send(self, method, path, what, allow=(), **kwargs):
        try:
            response = self.session.request(method, self._url(path), timeout=self.config.timeout, **kwargs)
        except requests.Timeout as exc:
            raise NetworkUnavailable(f"Maventa: no answer to {what} in time", code="timeout") from exc
        except requests.RequestException as exc:
            raise NetworkUnavailable(f"Maventa: {what} failed: {exc}", code="connection") from exc
        status = response.status_code
        if status < 400 or status in allow:
            return response
        code, text = self._problem(response)
        error_class = NetworkUnavailable if status >= 500 or status in (408, 429) else NetworkRejected
        error = error_class(f"Maventa: {what} refused with HTTP {status}: {text}", code=code)
        error.http_status = status
        raise error

    @staticmethod
    def _problem(response):
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            return str(data.get("code") or f"http-{response.status_code}"), str(data.get("message") or "")
        return f"http-{response.status_code}", response.reason or "no details"

    @staticmethod
    def _json(response, what):
        return json_object(response, "Maventa", what)

    def access_token(self):
        """The bearer token, reused until shortly before ``expires_in`` runs out."""
        if token := self._token.valid():
            return token
        form = {
            "grant_type": contract.GRANT_TYPE,
            "client_id": self.config.company_uuid,
            "client_secret": self.config.user_api_key,
            "vendor_api_key": self.config.vendor_api_key,
            "scope": " ".join(contract.SCOPES),
        }
        self.token_requests += 1
        return self._token.store(
            self._json(self._send("POST", contract.TOKEN_PATH, "the token request", data=form), "token")
        )

    def _api(self, method, path, what, allow=(), **kwargs):
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.access_token()}", "Accept": "application/json"}
            try:
                return self._send(method, path, what, allow=allow, headers=headers, **kwargs)
            except NetworkRejected as exc:
                if getattr(exc, "http_status", None) != 401 or attempt == 2:
                    raise
                self._token.forget()  # expired early or revoked: one new token, one more try

    # -- invoices ------------------------------------------------------------------------------

    def send_invoice(self, invoice_id, filename, xml, force_efaktura=True):
        """POST /v1/invoices; returns the answer, or None when Maventa already has ``invoice_id``."""
        data = {contract.FIELD_INVOICE_UUID: invoice_id}
        if force_efaktura:
            data[contract.FIELD_ROUTE] = contract.ROUTE_EFAKTURA
        files = {contract.FIELD_FILE: (filename, xml, "application/xml")}
        response = self._api(
            "POST",
            contract.INVOICES_PATH,
            f"sending invoice {filename}",
            allow=(contract.HTTP_ALREADY_EXISTS,),
            data=data,
            files=files,
        )
        if response.status_code == contract.HTTP_ALREADY_EXISTS:
            return None
        return self._json(response, "the invoice")

    def get_invoice(self, invoice_id):
        """GET /v1/invoices/{id}; None when Maventa has no such invoice."""
        path = contract.INVOICE_PATH.format(id=invoice_id)
        response = self._api("GET", path, f"reading invoice {invoice_id}", allow=(404,))
        if response.status_code == 404:
            return None
        return self._json(response, "the invoice")

    # -- company -------------------------------------------------------------------------------

    def subscribe_webhook(self, destination):
        body = {
            "destination_type": contract.DESTINATION_TYPE_WEBHOOK,
            "destination": destination,
            "events": list(contract.EVENTS),
        }
        return self._json(self._api("POST", contract.NOTIFICATIONS_PATH, "the webhook subscription", json=body), "")

    def order_agreement(self, signer_name, signer_email):
        body = {"signer_name": signer_name, "signer_email": signer_email}
        response = self._api("POST", contract.B2CNO_AGREEMENT_PATH, "the B2C Norway agreement order", json=body)
        return self._json(response, "the agreement")

    def get_agreement(self):
        """The B2C Norway agreement, or None when the company has none."""
        response = self._api("GET", contract.B2CNO_AGREEMENT_PATH, "reading the B2C Norway agreement", allow=(404,))
        if response.status_code == 404:
            return None
        return self._json(response, "the agreement")


class MaventaNetwork(Network):
    """The "nettbank" channel (nettbank and Vipps) through Visma AutoInvoice.

    :param render: ``render(document) -> (filename, xml_bytes)``: the Peppol BIS 3.0 file of a
        document (the Odoo side makes it with account_edi_ubl_cii); required to ``submit``.
    """

    name = "maventa"
    channels = (CHANNEL,)

    def __init__(self, issuer, config, render=None, session=None, client=None):
        super().__init__(issuer)
        self.config = config
        self.render = render
        self.client = client or MaventaClient(config, session=session)

    def _check_channel(self, channel):
        if channel not in self.channels:
            raise NetworkRejected(f"Maventa delivers by {CHANNEL!r} only, not {channel!r}", code="UNKNOWN_CHANNEL")

    def invoice_id(self, document):
        return invoice_uuid(self.issuer.org_number, document.key)

    def lookup(self, recipients):
        return {
            r.ref: LookupResult(ref=r.ref, efaktura_identifier=JTTA_ROUTED if (r.mobile or r.email) else "")
            for r in recipients
        }

    def submit(self, channel, documents):
        self._check_channel(channel)
        documents = list(documents)
        if self.render is None:
            raise NetworkRejected("Maventa: no invoice renderer configured", code="CONFIG")
        self.client.access_token()  # fail the whole call early when Maventa cannot be reached
        results = []
        for document in documents:
            problem = document_problem(document)
            if problem:
                results.append(SubmitResult(key=document.key, state=REJECTED, error=problem))
                continue
            try:
                results.append(self._submit_one(document))
            except NetworkError as error:
                results.append(SubmitResult(key=document.key, error=error))
        return results

    def _submit_one(self, document):
        invoice_id = self.invoice_id(document)
        filename, xml = self.render(document)
        try:
            answer = self.client.send_invoice(
                invoice_id, filename, xml, force_efaktura=not self.config.route_everything
            )
        except NetworkUnavailable as exc:
            # The answer was lost or the service failed: ask what Maventa has before anything is sent again.
            earlier = self._earlier(document, invoice_id)
            if earlier is None:
                # Maventa may hold the invoice all the same: no other channel may take it on a guess.
                exc.ambiguous = True
                raise
            return earlier
        if answer is None:  # Maventa already has this UUID: the document was sent before
            earlier = self._earlier(document, invoice_id)
            if earlier is None:
                error = NetworkUnavailable(
                    f"Maventa: invoice {invoice_id} is reported as existing but cannot be read", code="UNKNOWN"
                )
                error.ambiguous = True
                raise error
            return earlier
        return self._result(document.key, invoice_id, answer, duplicate=False)

    def _earlier(self, document, invoice_id):
        """What Maventa has under ``invoice_id``, as a duplicate result; None when it has nothing or is down."""
        try:
            answer = self.client.get_invoice(invoice_id)
        except NetworkError:
            return None
        return None if answer is None else self._result(document.key, invoice_id, answer, duplicate=True)

    def _result(self, key, invoice_id, answer, duplicate):
        status = str(answer.get("status") or contract.STATUS_PENDING)
        state = STATES.get(status, SUBMITTED)
        error = None
        if state == REJECTED:
            error = NetworkRejected(
                f"Maventa refused invoice {invoice_id}: {answer.get('status_message') or status}", code=status
            )
        return SubmitResult(
            key=key,
            network_reference=str(answer.get("id") or invoice_id),
            state=state,
            error=error,
            duplicate=duplicate,
        )

    def status(self, channel, references):
        """One GET per invoice. A GET that fails skips its invoice, to be read at the next poll; the others'
        answers are returned. Raises the first error only when no invoice could be read."""
        self._check_channel(channel)
        results = []
        errors = []
        for reference in dict.fromkeys(ref for ref in references if ref):
            try:
                answer = self.client.get_invoice(reference)
            except NetworkError as error:
                errors.append(error)
                continue
            if answer is None:
                continue
            status = str(answer.get("status") or "")
            state = STATES.get(status)
            detail = str(answer.get("status_message") or status)
            if state is None:
                state, detail = SUBMITTED, f"unknown Maventa invoice status {status!r}"
            results.append(StatusResult(network_reference=reference, state=state, detail=detail))
        if errors and not results:
            raise errors[0]
        return results

    def cancel(self, channel, reference):
        self._check_channel(channel)
        raise NetworkRejected(
            f"Maventa's docs show no way to take back invoice {reference}: send a credit note instead",
            code=CANCEL_NOT_SUPPORTED,
        )
