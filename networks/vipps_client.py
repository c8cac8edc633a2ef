"""Client for the Vipps Invoice ISP API ("Vipps eFaktura"), in plain Python (no Odoo import): the requests, the
document rules of the spec, and the invoice body. The network adapter on it is :class:`.vipps.VippsNetwork`.

The API is described by Vipps' Swagger 2.0 file (version 0.3.43, a copy is in
tests/data/vipps-swagger-isp.yaml) and the API guide beside it. What this module relies on:

* Authentication: every call carries ``Ocp-Apim-Subscription-Key`` and ``Authorization: Bearer
  <access token>``; the access token comes from ``POST {token_url}`` with the ``client_id``,
  ``client_secret`` and ``Ocp-Apim-Subscription-Key`` headers and an empty body. The spec
  defines no request id header, so none is sent.
* ``POST /recipients/tokens`` with ``{"type": "msisdn"|"nin-no", "value": ...}`` returns a
  ``recipientToken`` (valid 15 minutes) for users who receive eFaktura in Vipps; 404 otherwise.
* ``PUT /invoices/{invoiceId}`` is idempotent: 200 when the invoice is new or equal to the stored
  one, 409 when a different invoice has the id. ``invoiceId`` is ``orgno-no.{orgnr}.{ref}``.
* ``GET /invoices/{invoiceId}`` returns the invoice with its status; 404 when unknown.
* ``PUT /invoices/{invoiceId}/status/revoked`` revokes (204), with ``If-Match`` (the invoice's
  etag) and ``Idempotency-Key`` headers; allowed in the states created, pending and rejected.
* Errors come as ``{"error": {"type", "title", "detail"}}`` (401: Azure's ``MsError``).

Failures map onto :mod:`.base`: timeouts, connection errors, 5xx, 429 (rate limit) and answers
that cannot be read raise :class:`NetworkUnavailable` (retryable); other 4xx raise
:class:`NetworkRejected` whose ``code`` is the last segment of the problem type, for instance
``invoice-conflict`` (``http-403`` when the body names none).
"""

import dataclasses
import datetime
import logging
import re
import time
import urllib.parse
import uuid
import zoneinfo

import requests

from ..tools.kid import KidError, validate_kid
from ..tools.validation import InvalidValue, normalize_account_number, normalize_no_mobile, normalize_org_number
from .base import (
    CANCELLED,
    PAID,
    REJECTED,
    SHOWN,
    SUBMITTED,
    BearerToken,
    NetworkRejected,
    NetworkUnavailable,
    json_object,
)

_logger = logging.getLogger(__name__)

TEST_BASE_URL = "https://apitest.vipps.no/vipps-isp/v1"  # host and basePath of the spec
PRODUCTION_BASE_URL = "https://invoice-api.vipps.no/vipps-isp/v1"  # production host from the API guide
TEST_TOKEN_URL = "https://apitest.vipps.no/accessToken/get"
PRODUCTION_TOKEN_URL = "https://api.vipps.no/accessToken/get"

INVOICE_ID_RE = re.compile(r"([a-zA-Z-]+)\.(\d+)\.([a-zA-Z0-9-]+)", re.ASCII)  # the spec's pattern, anchored
INVOICE_REF_RE = re.compile(r"[a-zA-Z0-9-]+", re.ASCII)
# A Norwegian mobile number as the API and its errors write it: 8 digits from 4 or 9, after 47 or +47 or alone.
MOBILE_IN_TEXT_RE = re.compile(r"(?<![0-9])(\+?47)?([49][0-9]{5})([0-9]{2})(?![0-9])", re.ASCII)
INVOICE_ID_MAX_BYTES = 200
ISSUER_NAME_MAX_LENGTH = 40
KID_MIN_LENGTH = 4
MIN_DUE_AHEAD = datetime.timedelta(hours=72)
OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
CURRENCY = "NOK"
COMMERCIAL_INVOICE_MIME_TYPE = "application/pdf"
# Document.kind -> the spec's invoiceType. A reminder is a paymentReminder, never a new invoice.
INVOICE_TYPES = {"invoice": "invoice", "reminder": "paymentReminder"}
RECIPIENT_TOKEN_TTL = 10 * 60  # Vipps keeps a recipient token valid 15 minutes; reuse it for 10

# Vipps invoice states and the delivery states they mean here:
#   created  -> submitted: stored by Vipps, validation pending, not yet visible to anyone
#   pending  -> shown: validated and shown to the recipient in Vipps as a bill to pay
#   approved -> paid: the recipient approved it and scheduled the payment (Vipps warns this is
#               no guarantee: the recipient may still stop the payment)
#   rejected -> rejected: Vipps' validation failed; the problems are in the detail
#   deleted  -> rejected: the recipient deleted it in Vipps, which is a refusal by the consumer,
#               not a cancellation by the issuer: the claim stands and needs another channel
#   expired  -> rejected: Vipps no longer shows it and it was not paid (in the spec's enum)
#   revoked  -> cancelled: revoked by the issuer
VIPPS_STATES = {
    "created": SUBMITTED,
    "pending": SHOWN,
    "approved": PAID,
    "rejected": REJECTED,
    "deleted": REJECTED,
    "expired": REJECTED,
    "revoked": CANCELLED,
}
REVOCABLE_STATES = ("created", "pending", "rejected")


@dataclasses.dataclass(frozen=True)
class VippsConfig:
    client_id: str = ""
    client_secret: str = dataclasses.field(default="", repr=False)
    subscription_key: str = dataclasses.field(default="", repr=False)
    issuer_org_number: str = ""  # the issuer the invoices are sent for; empty: take the network's issuer
    base_url: str = TEST_BASE_URL
    token_url: str = TEST_TOKEN_URL
    timeout: float = 20.0  # seconds, per request
    # The invoice's subject. The API guide advises the issuer name, as the Vipps app shows it.
    subject_format: str = "{issuer_name}"  # may also use {invoice_number}
    issuer_icon_url: str = ""  # https, PNG or SVG, 82x82 to 512x512 pixels; empty: none


class VippsValidationError(NetworkRejected):
    """A document that breaks the Vipps rules, found before anything was sent.

    ``problems`` lists ``(field, rule)`` pairs; the message joins them.
    """

    def __init__(self, problems):
        self.problems = list(problems)
        text = "; ".join(f"{field}: {rule}" for field, rule in self.problems)
        super().__init__(f"Vipps: invalid invoice: {text}", code="validation")


@dataclasses.dataclass(frozen=True)
class CheckedDocument:
    """A document's values, normalised and checked against the Vipps rules."""

    key: str
    invoice_id: str
    invoice_number: str
    msisdn: str
    kid: str
    account: str
    due: str  # RFC 3339
    amount: int  # øre
    issuer_name: str
    url: str
    document_hash: str = ""
    invoice_type: str = "invoice"  # the spec's invoiceType: "invoice" or "paymentReminder"


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def aware(now):
    """Odoo hands out naive UTC datetimes; treat a naive ``now`` as UTC."""
    return now if now.tzinfo else now.replace(tzinfo=datetime.timezone.utc)


def parse_rfc3339(value):
    """An RFC 3339 timestamp as an aware datetime, or None. Fractions beyond microseconds are cut."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def mask_mobiles(text):
    """The text with every Norwegian mobile number in it masked but its last two digits, for the log."""
    return MOBILE_IN_TEXT_RE.sub(lambda m: (m[1] or "") + "*" * len(m[2]) + m[3], str(text))


def to_msisdn(value):
    """A Norwegian mobile number in the form the API wants (``47`` and 8 digits), or None.

    Accepts E.164 (``+4791234567``), the API's own form (``4791234567``) and what people type.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit() and len(text) == 10 and text.startswith("47"):
        text = "+" + text
    try:
        return normalize_no_mobile(text).lstrip("+")
    except InvalidValue:
        return None


def invoice_id(org_number, ref):
    """The Vipps invoice id ``orgno-no.{orgnr}.{ref}``.

    ``org_number`` must be a valid Norwegian organisation number (Vipps checks its MOD11) and
    ``ref`` a URL-safe reference, unique per issuer: letters a-z/A-Z, digits and ``-``. The
    whole id is at most 200 bytes.
    """
    problems = []
    try:
        org = normalize_org_number(org_number)
    except InvalidValue as exc:
        problems.append(("org_number", f"must be {exc.rule}, got {org_number!r}"))
    if not isinstance(ref, str) or not INVOICE_REF_RE.fullmatch(ref):
        problems.append(("invoice ref", f"must be ASCII letters, digits and '-' only (at least one), got {ref!r}"))
    if problems:
        raise VippsValidationError(problems)
    value = f"orgno-no.{org}.{ref}"
    if len(value.encode()) > INVOICE_ID_MAX_BYTES:
        raise VippsValidationError(
            [("invoice ref", f"makes the invoice id {len(value.encode())} bytes long, at most {INVOICE_ID_MAX_BYTES}")]
        )
    return value


def check_invoice_id(value):
    """Return ``value`` when it matches the spec's invoiceId pattern and length, else raise."""
    if not isinstance(value, str) or not INVOICE_ID_RE.fullmatch(value):
        raise VippsValidationError([("invoice id", f"must look like orgno-no.{{orgnr}}.{{ref}}, got {value!r}")])
    if len(value.encode()) > INVOICE_ID_MAX_BYTES:
        raise VippsValidationError([("invoice id", f"must be at most {INVOICE_ID_MAX_BYTES} bytes")])
    return value


def due_timestamp(due_date):
    """The due date as Vipps wants it: midnight in Oslo at the start of that day, with its offset."""
    return datetime.datetime.combine(due_date, datetime.time(0), tzinfo=OSLO)


def _earliest_due_date(now):
    limit = now + MIN_DUE_AHEAD
    day = limit.astimezone(OSLO).date()
    return day if due_timestamp(day) >= limit else day + datetime.timedelta(days=1)


def _latest_due_date(now):
    today = now.astimezone(OSLO).date()
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


def validate_document(document, issuer, now):
    """Check a :class:`~.base.Document` against the Vipps rules before anything is sent.

    :param document: the document; ``recipient`` is the consumer's msisdn.
    :param issuer: the :class:`~.base.Issuer`.
    :param datetime now: the current time (naive means UTC).
    :rtype: CheckedDocument
    :raises VippsValidationError: naming every field that breaks a rule.
    """
    now = aware(now)
    problems = []
    invoice_ref = None
    try:
        invoice_ref = invoice_id(issuer.org_number, document.key)
    except VippsValidationError as exc:
        names = {"org_number": "issuer.org_number", "invoice ref": "key"}
        problems.extend((names.get(field, field), rule) for field, rule in exc.problems)

    msisdn = to_msisdn(document.recipient)
    if msisdn is None:
        problems.append(("recipient", f"must be a Norwegian mobile number (msisdn), got {document.recipient!r}"))

    kid = None
    try:
        kid = validate_kid(document.kid)
    except KidError as exc:
        problems.append(("kid", str(exc).removeprefix("KID: ")))
    if kid is not None and len(kid) < KID_MIN_LENGTH:
        problems.append(("kid", f"must be {KID_MIN_LENGTH} to 25 digits for Vipps, got {len(kid)}"))
        kid = None

    amount = document.amount_ore
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        problems.append(("amount_ore", f"must be a positive whole number of øre, got {amount!r}"))
    if document.currency != CURRENCY:
        problems.append(("currency", f"must be {CURRENCY}, the only currency Vipps takes, got {document.currency!r}"))
    if document.kind not in INVOICE_TYPES:
        # The spec lists creditNote, but the API guide says credit notes are not supported.
        problems.append(("kind", f"Vipps eFaktura takes invoices and payment reminders only, not {document.kind!r}"))

    due = None
    if not isinstance(document.due_date, datetime.date) or isinstance(document.due_date, datetime.datetime):
        problems.append(("due_date", f"must be a date, got {document.due_date!r}"))
    else:
        moment = due_timestamp(document.due_date)
        if moment < now + MIN_DUE_AHEAD:
            problems.append(
                (
                    "due_date",
                    f"must be at least 72 hours ahead, so {_earliest_due_date(now).isoformat()} or later, "
                    f"got {document.due_date.isoformat()}",
                )
            )
        elif document.due_date > _latest_due_date(now):
            problems.append(
                (
                    "due_date",
                    f"must be at most one year ahead, so {_latest_due_date(now).isoformat()} or earlier, "
                    f"got {document.due_date.isoformat()}",
                )
            )
        else:
            due = moment.isoformat()

    name = (issuer.name or "").strip()
    if not name:
        problems.append(("issuer.name", "must not be empty"))
    elif len(name) > ISSUER_NAME_MAX_LENGTH:
        problems.append(("issuer.name", f"must be at most {ISSUER_NAME_MAX_LENGTH} characters, has {len(name)}"))

    account = None
    try:
        account = normalize_account_number(issuer.account_number)
    except InvalidValue as exc:
        problems.append(("issuer.account_number", f"must be {exc.rule}, got {issuer.account_number!r}"))

    url = document.document_url or ""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        problems.append(("document_url", f"must be an https URL (Vipps requires https), got {url!r}"))

    if problems:
        raise VippsValidationError(problems)
    return CheckedDocument(
        key=document.key,
        invoice_id=invoice_ref,
        invoice_number=document.invoice_number,
        msisdn=msisdn,
        kid=kid,
        account=account,
        due=due,
        amount=amount,
        issuer_name=name,
        url=url,
        document_hash=document.document_hash,
        invoice_type=INVOICE_TYPES.get(document.kind, "invoice"),
    )


def invoice_body(checked, recipient_token, subject_format="{issuer_name}", issuer_icon_url=""):
    """The body of ``PUT /invoices/{invoiceId}`` (the spec's ``invoiceIn``) for a checked document."""
    subject = subject_format.format(issuer_name=checked.issuer_name, invoice_number=checked.invoice_number).strip()
    body = {
        "recipientToken": recipient_token,
        "paymentInformation": {"type": "kid", "value": checked.kid, "account": checked.account},
        "invoiceType": checked.invoice_type,
        "due": checked.due,
        "amount": checked.amount,
        "subject": subject or checked.issuer_name,
        "issuerName": checked.issuer_name,
        "commercialInvoice": [{"mimeType": COMMERCIAL_INVOICE_MIME_TYPE, "url": checked.url}],
        # Only the ISP sees the metadata: it ties the invoice back to the outbox.
        "metadata": {"key": checked.key, "invoiceNumber": checked.invoice_number},
    }
    if checked.document_hash:
        body["metadata"]["documentHash"] = checked.document_hash
    if issuer_icon_url:
        body["issuerIconUrl"] = issuer_icon_url
    return body


def invoice_differences(stored, body):
    """The fields in which a stored invoice (the spec's ``invoiceOut``) differs from a PUT body."""
    differences = []
    stored_payment = stored.get("paymentInformation") or {}
    for name in ("type", "value", "account"):
        if stored_payment.get(name) != body["paymentInformation"][name]:
            differences.append(f"paymentInformation.{name}")
    for name in ("invoiceType", "amount", "subject", "issuerName"):
        if stored.get(name) != body.get(name):
            differences.append(name)
    stored_due = parse_rfc3339(stored.get("due"))
    if stored_due is None or stored_due != parse_rfc3339(body["due"]):
        differences.append("due")
    return differences


def invoice_etag(invoice):
    """The etag a status change must send in If-Match (the invoice's, else the deprecated status one)."""
    status = invoice.get("status") if isinstance(invoice.get("status"), dict) else {}
    etag = invoice.get("etag") or status.get("etag")
    if not isinstance(etag, str) or not etag:
        raise NetworkUnavailable(f"Vipps: invoice {invoice.get('invoiceId')} came without an etag", code="invalid-json")
    return etag


def revoke_idempotency_key(invoice_ref):
    """The same key for every attempt to revoke one invoice, so a retry is the same transition."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vipps-isp:{invoice_ref}/status/revoked"))


def vipps_state(invoice):
    """Map an invoice's Vipps status onto a delivery state: ``(state, detail)``."""
    status = invoice.get("status")
    state = status.get("state") if isinstance(status, dict) else None
    if state not in VIPPS_STATES:
        raise NetworkUnavailable(
            f"Vipps: unreadable status for invoice {invoice.get('invoiceId')}: state {state!r}", code="unknown-state"
        )
    if state == "rejected":
        problems = [
            ": ".join(str(p[k]) for k in ("title", "detail") if p.get(k))
            for p in status.get("problems") or []
            if isinstance(p, dict)
        ]
        detail = "rejected by Vipps" + (": " + "; ".join(problems) if problems else "")
    elif state == "approved":
        detail = "approved: payment scheduled"
        if status.get("amount") is not None:
            detail += f", {status['amount']} øre"
        if status.get("due"):
            detail += f" on {status['due']}"
    else:
        detail = {
            "created": "created: stored by Vipps, validation pending",
            "pending": "pending: shown to the recipient in Vipps",
            "deleted": "deleted by the recipient in Vipps",
            "expired": "expired in Vipps without payment",
            "revoked": "revoked by the issuer",
        }[state]
    return VIPPS_STATES[state], detail


class VippsClient:
    """The HTTP calls of the ISP API, one method per operation.

    :param VippsConfig config:
    :param requests.Session session: optional; one is made when missing.
    :param clock: monotonic seconds, for the token caches.
    """

    def __init__(self, config, session=None, clock=time.monotonic):
        self.config = config
        self.session = session or requests.Session()
        self._clock = clock
        self._access_token = BearerToken(self._clock, "Vipps")
        self._recipient_tokens = {}

    # -- plumbing -------------------------------------------------------------------------------

    def _url(self, path):
        return self.config.base_url.rstrip("/") + path

    def _send(self, method, url, what, headers, json_body=None, allow=()):
        timeout = self.config.timeout
        try:
            response = self.session.request(method, url, headers=headers, json=json_body, timeout=timeout)
        except requests.Timeout as exc:
            raise NetworkUnavailable(f"Vipps: no answer to the {what} call within {timeout} s", code="timeout") from exc
        except requests.ConnectionError as exc:
            raise NetworkUnavailable(f"Vipps: could not connect for the {what} call: {exc}", code="connection") from exc
        except requests.RequestException as exc:
            raise NetworkUnavailable(f"Vipps: the {what} call failed: {exc}", code="request") from exc
        status = response.status_code
        if status in allow or status < 400:
            return response
        code, text = self._problem(response)
        if status >= 500 or status == 429:
            exc = NetworkUnavailable(f"Vipps: the {what} call failed with HTTP {status}: {text}", code=code)
        else:
            exc = NetworkRejected(f"Vipps: the {what} call was refused with HTTP {status}: {text}", code=code)
        exc.http_status = status
        _logger.info("%s", mask_mobiles(exc))  # Vipps' errors repeat the msisdn they refused
        raise exc

    @staticmethod
    def _problem(response):
        """``(code, text)`` from an error answer: the spec's Error, Azure's MsError, or nothing readable."""
        try:
            data = response.json()
        except ValueError:
            data = None
        title = detail = problem_type = ""
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict):
                problem_type = str(error.get("type") or "")
                title = str(error.get("title") or "")
                detail = str(error.get("detail") or "")
            elif isinstance(error, str):  # the access token API's OAuth-style error
                title = str(data.get("error_description") or error)
            for part, key in (("responseInfo", "responseMessage"), ("result", "message")):
                if not title and isinstance(data.get(part), dict):
                    title = str(data[part].get(key) or "")
        code = problem_type.rstrip("/").rsplit("/", 1)[-1] if problem_type else f"http-{response.status_code}"
        text = ": ".join(t for t in (title, detail) if t) or response.reason or "no details"
        return code, text

    @staticmethod
    def _json(response, what):
        return json_object(response, "Vipps", what)

    def _api(self, method, path, what, json_body=None, headers=None, allow=()):
        def send():
            all_headers = {
                "Authorization": f"Bearer {self.access_token()}",
                "Ocp-Apim-Subscription-Key": self.config.subscription_key,
                "Accept": "application/json",
                **(headers or {}),
            }
            return self._send(method, self._url(path), what, all_headers, json_body=json_body, allow=allow)

        try:
            return send()
        except NetworkRejected as exc:
            if getattr(exc, "http_status", None) != 401:
                raise
        self._access_token.forget()  # revoked or expired early: fetch a new one and try once more
        return send()

    # -- operations -----------------------------------------------------------------------------

    def access_token(self):
        """The bearer token from the access token API, fetched again shortly before it expires."""
        if token := self._access_token.valid():
            return token
        headers = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "Ocp-Apim-Subscription-Key": self.config.subscription_key,
        }
        response = self._send("POST", self.config.token_url, "access token", headers)
        return self._access_token.store(self._json(response, "access token"))

    def recipient_token(self, msisdn=None, nin=None):
        """A ``recipientToken`` for a Vipps eFaktura user, by msisdn (``4791234567``) or national id.

        Returns None when Vipps does not know the person as an eFaktura user (404). Tokens are
        reused for a while, as Vipps allows.
        """
        if (msisdn is None) == (nin is None):
            raise ValueError("recipient_token: give exactly one of msisdn or nin")
        kind, value = ("msisdn", msisdn) if msisdn is not None else ("nin-no", nin)
        cached = self._recipient_tokens.get((kind, value))
        if cached and self._clock() < cached[1]:
            return cached[0]
        try:
            response = self._api(
                "POST", "/recipients/tokens", "recipient token", json_body={"type": kind, "value": value}, allow=(404,)
            )
        except NetworkRejected as exc:
            if exc.code == "recipient-not-found":
                return None
            raise
        if response.status_code == 404:
            return None
        token = self._json(response, "recipient token").get("recipientToken")
        if not isinstance(token, str) or not token:
            raise NetworkUnavailable("Vipps: the recipient token answer has no recipientToken", code="invalid-json")
        self._recipient_tokens[(kind, value)] = (token, self._clock() + RECIPIENT_TOKEN_TTL)
        return token

    def forget_recipient_token(self, msisdn=None, nin=None):
        """Drop a cached recipient token, for instance after Vipps said it expired."""
        kind, value = ("msisdn", msisdn) if msisdn is not None else ("nin-no", nin)
        self._recipient_tokens.pop((kind, value), None)

    def invoice_id(self, ref):
        """The invoice id for ``ref`` under the configured issuer."""
        return invoice_id(self.config.issuer_org_number, ref)

    def put_invoice(self, invoice_ref, body):
        """Send an invoice (idempotent: the same id and body may be sent again)."""
        check_invoice_id(invoice_ref)
        self._api("PUT", f"/invoices/{invoice_ref}", "send invoice", json_body=body)

    def get_invoice(self, invoice_ref):
        """The invoice (the spec's ``invoiceOut``), or None when Vipps does not know it."""
        check_invoice_id(invoice_ref)
        response = self._api("GET", f"/invoices/{invoice_ref}", "get invoice", allow=(404,))
        if response.status_code == 404:
            return None
        return self._json(response, "get invoice")

    def revoke(self, invoice_ref, etag=None, idempotency_key=None):
        """Revoke an invoice. Without ``etag`` the invoice is read first to learn it."""
        check_invoice_id(invoice_ref)
        if etag is None:
            invoice = self.get_invoice(invoice_ref)
            if invoice is None:
                raise NetworkRejected(f"Vipps: invoice {invoice_ref} not found", code="invoice-not-found")
            etag = invoice_etag(invoice)
        headers = {"If-Match": etag, "Idempotency-Key": idempotency_key or revoke_idempotency_key(invoice_ref)}
        self._api("PUT", f"/invoices/{invoice_ref}/status/revoked", "revoke invoice", headers=headers)
