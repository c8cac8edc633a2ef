"""The Vipps channel: the network adapter on :class:`.vipps_client.VippsClient`, in plain Python (no Odoo import).

The API's calls are in :mod:`.vipps_client`, its document rules and the invoice body in :mod:`.vipps_documents`.
"""

import urllib.parse

from .base import (
    SUBMITTED,
    LookupResult,
    Network,
    NetworkRejected,
    NetworkUnavailable,
    StatusResult,
    SubmitResult,
)
from .vipps_client import (
    REVOCABLE_STATES,
    VippsClient,
    aware,
    invoice_body,
    invoice_differences,
    invoice_etag,
    to_msisdn,
    utcnow,
    validate_document,
    vipps_state,
)

CHANNEL = "vipps"


class VippsNetwork(Network):
    """The Vipps channel: invoices shown, and paid, in the consumer's Vipps app.

    :param Issuer issuer:
    :param VippsConfig config:
    :param session: optional ``requests.Session``; ``client``: optional ready :class:`VippsClient`.
    :param now: optional callable giving the current time, for the due date rules.
    """

    name = "vipps"

    def __init__(self, issuer, config, session=None, client=None, now=None):
        super().__init__(issuer)
        if config.issuer_org_number and issuer is not None and config.issuer_org_number != issuer.org_number:
            raise ValueError(
                f"VippsConfig.issuer_org_number {config.issuer_org_number} is not the issuer's {issuer.org_number}"
            )
        if config.issuer_icon_url and urllib.parse.urlsplit(config.issuer_icon_url).scheme != "https":
            raise ValueError(f"VippsConfig.issuer_icon_url must be an https URL, got {config.issuer_icon_url!r}")
        self.config = config
        self.client = client or VippsClient(config, session=session)
        self._now = now or utcnow
        self.lookup_errors = {}

    @staticmethod
    def _check_channel(channel, operation):
        if channel != CHANNEL:
            raise NetworkRejected(
                f"Vipps: channel {channel!r} not supported for {operation}: this network delivers by Vipps only",
                code="not-supported",
            )

    def lookup(self, recipients):
        """Which consumers receive eFaktura in Vipps, by their mobile number.

        A consumer without a usable Norwegian mobile number, or unknown to Vipps, gets
        ``vipps=False``. Authorisation failures raise. Vipps is asked once per consumer: when some
        of those calls fail for a while (outage, timeout), the others' answers are returned and the
        failed consumers are listed in ``lookup_errors`` (ref: error), with ``vipps=False`` in the
        result that means "not known"; when every call failed, the first error is raised.
        """
        results = {}
        self.lookup_errors = {}
        asked = 0
        for recipient in recipients:
            msisdn = to_msisdn(recipient.mobile)
            token = None
            if msisdn is not None:
                asked += 1
                try:
                    token = self.client.recipient_token(msisdn=msisdn)
                except NetworkRejected as exc:
                    if exc.code != "invalid-recipient-value-msisdn":
                        raise
                except NetworkUnavailable as exc:
                    self.lookup_errors[recipient.ref] = exc
            results[recipient.ref] = LookupResult(
                ref=recipient.ref, vipps=bool(token), vipps_recipient=msisdn if token else ""
            )
        if self.lookup_errors and len(self.lookup_errors) == asked:
            raise next(iter(self.lookup_errors.values()))
        return results

    def submit(self, channel, documents):
        """Send each document with an idempotent PUT.

        A document Vipps already has under its id is reported as a duplicate when it holds the
        same invoice, and as an ``invoice-conflict`` error otherwise. When Vipps becomes
        unavailable before any document went through, the whole call raises; after that, the
        remaining documents are not attempted and carry the retryable error.
        """
        self._check_channel(channel, "submit")
        self.client.access_token()  # fail the whole call early when Vipps cannot be reached
        now = aware(self._now())
        results = []
        outage = None
        for document in documents:
            if outage is not None:
                error = NetworkUnavailable(f"Vipps: not attempted after an outage: {outage.message}", code=outage.code)
                results.append(SubmitResult(key=document.key, error=error))
                continue
            try:
                result = self._submit_one(document, now)
            except NetworkUnavailable as exc:
                if not any(r.ok for r in results):
                    raise
                outage = exc
                result = SubmitResult(key=document.key, error=exc)
            except NetworkRejected as exc:
                result = SubmitResult(key=document.key, error=exc)
            results.append(result)
        return results

    def _submit_one(self, document, now):
        checked = validate_document(document, self.issuer, now)
        stored = self.client.get_invoice(checked.invoice_id)
        if stored is not None:
            return self._already_stored(checked, stored)
        try:
            return self._put(checked)
        except NetworkRejected as exc:
            if exc.code not in ("recipient-token-expired", "invalid-recipient-token"):
                raise
        self.client.forget_recipient_token(msisdn=checked.msisdn)  # Vipps dropped it early: ask again, once
        return self._put(checked)

    def _put(self, checked):
        token = self.client.recipient_token(msisdn=checked.msisdn)
        if token is None:
            raise NetworkRejected(
                f"Vipps: recipient {checked.msisdn} does not receive eFaktura in Vipps", code="recipient-not-found"
            )
        body = invoice_body(checked, token, self.config.subject_format, self.config.issuer_icon_url)
        try:
            self.client.put_invoice(checked.invoice_id, body)
        except NetworkUnavailable as exc:
            exc.ambiguous = True  # the PUT may have been stored before its answer was lost
            raise
        except NetworkRejected as exc:
            stored = self.client.get_invoice(checked.invoice_id) if getattr(exc, "http_status", None) == 409 else None
            if stored is None:
                raise
            return self._already_stored(checked, stored)
        return SubmitResult(key=checked.key, network_reference=checked.invoice_id, state=SUBMITTED)

    def _already_stored(self, checked, stored):
        body = invoice_body(checked, "", self.config.subject_format, self.config.issuer_icon_url)
        differences = invoice_differences(stored, body)
        if differences:
            raise NetworkRejected(
                f"Vipps: invoice id {checked.invoice_id} already holds a different invoice "
                f"(differs in {', '.join(differences)})",
                code="invoice-conflict",
            )
        state, _detail = vipps_state(stored)
        return SubmitResult(key=checked.key, network_reference=checked.invoice_id, state=state, duplicate=True)

    def status(self, channel, references):
        """The current state of each invoice Vipps knows (see ``VIPPS_STATES`` for the mapping)."""
        self._check_channel(channel, "status")
        results = []
        for reference in references:
            invoice = self.client.get_invoice(reference)
            if invoice is None:
                continue
            state, detail = vipps_state(invoice)
            results.append(StatusResult(network_reference=reference, state=state, detail=detail))
        return results

    def cancel(self, channel, reference):
        """Revoke an invoice. Already revoked is fine; approved, deleted or expired is too late."""
        self._check_channel(channel, "cancel")
        invoice = self.client.get_invoice(reference)
        if invoice is None:
            raise NetworkRejected(f"Vipps: invoice {reference} not found", code="invoice-not-found")
        state = (invoice.get("status") or {}).get("state")
        if state == "revoked":
            return
        if state not in REVOCABLE_STATES:
            raise NetworkRejected(
                f"Vipps: invoice {reference} is {state} and can no longer be revoked",
                code="state-transition-not-allowed",
            )
        self.client.revoke(reference, etag=invoice_etag(invoice))
