"""The Vipps Invoice ISP API's document rules, in plain Python (no Odoo import): what an invoice must be before it
is sent, the body that sends it, and what its states mean here.

:func:`validate_document` checks a :class:`~.base.Document` against the rules of the spec and the API guide (invoice
id, msisdn, KID, amount, currency, due date, issuer name and account, https document URL) and gives a
:class:`CheckedDocument`, or raises :class:`VippsValidationError` naming every field that breaks one;
:func:`invoice_body` builds ``PUT /invoices/{invoiceId}``'s body from it, :func:`invoice_differences` compares a stored
invoice with it, and :func:`vipps_state` maps an invoice's Vipps status onto a delivery state. The calls are in
:mod:`.vipps_client`, which re-exports every name here.
"""

import dataclasses
import datetime
import re
import urllib.parse
import uuid
import zoneinfo

from ..tools.kid import KidError, validate_kid
from ..tools.validation import InvalidValue, normalize_account_number, normalize_no_mobile, normalize_org_number
from .base import (
    CANCELLED,
    PAID,
    REJECTED,
    SHOWN,
    SUBMITTED,
    NetworkRejected,
    NetworkUnavailable,
)

INVOICE_ID_RE = re.compile(r"([a-zA-Z-]+)\.(\d+)\.([a-zA-Z0-9-]+)", re.ASCII)  # the spec's pattern, anchored
INVOICE_REF_RE = re.compile(r"[a-zA-Z0-9-]+", re.ASCII)
INVOICE_ID_MAX_BYTES = 200
ISSUER_NAME_MAX_LENGTH = 40
KID_MIN_LENGTH = 4
MIN_DUE_AHEAD = datetime.timedelta(hours=72)
OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
CURRENCY = "NOK"
COMMERCIAL_INVOICE_MIME_TYPE = "application/pdf"
# Document.kind -> the spec's invoiceType. A reminder is a paymentReminder, never a new invoice.
INVOICE_TYPES = {"invoice": "invoice", "reminder": "paymentReminder"}

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
