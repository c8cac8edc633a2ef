"""Client for the Vipps Invoice ISP API ("Vipps eFaktura"), in plain Python (no Odoo import): the requests. The
document rules of the spec, the invoice body and the invoice states are in :mod:`.vipps_documents`, re-exported here.
The network adapter on it is :class:`.vipps.VippsNetwork`.

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
import logging
import re
import time

import requests

from .base import (
    BearerToken,
    NetworkRejected,
    NetworkUnavailable,
    json_object,
)

# The document rules, the invoice body and the states live in a module of their own; every public name stays
# importable from here.
from .vipps_documents import (  # noqa: F401  # pylint: disable=unused-import
    COMMERCIAL_INVOICE_MIME_TYPE,
    CURRENCY,
    INVOICE_ID_MAX_BYTES,
    INVOICE_ID_RE,
    INVOICE_REF_RE,
    INVOICE_TYPES,
    ISSUER_NAME_MAX_LENGTH,
    KID_MIN_LENGTH,
    MIN_DUE_AHEAD,
    OSLO,
    REVOCABLE_STATES,
    VIPPS_STATES,
    CheckedDocument,
    VippsValidationError,
    aware,
    check_invoice_id,
    due_timestamp,
    invoice_body,
    invoice_differences,
    invoice_etag,
    invoice_id,
    parse_rfc3339,
    revoke_idempotency_key,
    to_msisdn,
    utcnow,
    validate_document,
    vipps_state,
)

_logger = logging.getLogger(__name__)

TEST_BASE_URL = "https://apitest.vipps.no/vipps-isp/v1"  # host and basePath of the spec
PRODUCTION_BASE_URL = "https://invoice-api.vipps.no/vipps-isp/v1"  # production host from the API guide
TEST_TOKEN_URL = "https://apitest.vipps.no/accessToken/get"
PRODUCTION_TOKEN_URL = "https://api.vipps.no/accessToken/get"

# A Norwegian mobile number as the API and its errors write it: 8 digits from 4 or 9, after 47 or +47 or alone.
MOBILE_IN_TEXT_RE = re.compile(r"(?<![0-9])(\+?47)?([49][0-9]{5})([0-9]{2})(?![0-9])", re.ASCII)
RECIPIENT_TOKEN_TTL = 10 * 60  # Vipps keeps a recipient token valid 15 minutes; reuse it for 10


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


def mask_mobiles(text):
    """The text with every Norwegian mobile number in it masked but its last two digits, for the log."""
    return MOBILE_IN_TEXT_RE.sub(lambda m: (m[1] or "") + "*" * len(m[2]) + m[3], str(text))


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
