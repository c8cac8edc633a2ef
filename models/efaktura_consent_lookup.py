import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..networks.base import NetworkError
from .efaktura_consent import OPEN_STATES, _hash_token

_logger = logging.getLogger(__name__)

# After BankID, a consumer not found in the eFaktura register is looked up again once a day until the deadline;
# after a lookup outage, sooner.
LOOKUP_AGAIN_NOT_FOUND = timedelta(days=1)
LOOKUP_AGAIN_ERROR = timedelta(minutes=30)


class EfakturaConsentLookup(models.AbstractModel):
    """The eFaktura register lookup after a BankID login (eFaktura 2.0: the consumer switches eFaktura on in the
    nettbank or Vipps, the issuer can only look it up): looked up by the verified national identity number right
    away, when the consumer says it is done, and by a cron until found or the deadline; found, the consent is
    accepted and the waiting invoices go out."""

    _name = "efaktura.consent.lookup"
    _description = "eFaktura B2C lookup after consent"

    @api.model
    def _lookup(self, consent):
        """Look the BankID-verified consumer of ``consent`` up by national identity number; returns what happened,
        as ``efaktura.consent._accept``."""
        consent.ensure_one()
        env = consent.env
        consent_sudo = consent.sudo()
        national_id = consent_sudo.lookup_national_id
        if consent.state not in OPEN_STATES or not national_id:
            return "accepted" if consent.state == "accepted" else "expired"
        now = fields.Datetime.now()
        partner = consent.partner_id.with_company(consent.company_id)
        recipient = partner._efaktura_recipient(
            name=consent.bankid_name or partner.name or "",
            national_id=national_id,
            birthdate=fields.Date.to_string(consent.bankid_birthdate) if consent.bankid_birthdate else "",
        )
        consent_sudo.lookup_count += 1
        try:
            network = consent.company_id._efaktura_network()
            result = network.lookup([recipient]).get(recipient.ref)
            # MPS is the side that knows eFaktura identifiers: its failure is an outage, whatever Vipps said.
            mps_error = getattr(network, "lookup_errors", {}).get("nettbank")
            if mps_error is not None:
                raise mps_error
        except (NetworkError, UserError) as error:
            # The error text is not logged: a network may echo the query, national id included.
            _logger.warning("eFaktura lookup after BankID failed for consent %s (%s)", consent.id, type(error).__name__)
            consent_sudo.write(
                {"lookup_state": "error", "next_lookup_at": self._next_lookup(consent, now + LOOKUP_AGAIN_ERROR)}
            )
            return "error"
        if not (result and result.efaktura_identifier):
            consent_sudo.write(
                {
                    "lookup_state": "not_found",
                    "next_lookup_at": self._next_lookup(consent, now + LOOKUP_AGAIN_NOT_FOUND),
                }
            )
            return "not_found"
        consent._lock()
        if consent.state not in OPEN_STATES:
            return "expired"
        consent_sudo.write(
            {
                "state": "accepted",
                "decided_at": now,
                "lookup_state": False,
                "next_lookup_at": False,
                "lookup_national_id": False,
                "check_token_hash": False,
            }
        )
        partner._efaktura_remember(
            {recipient.ref: result},
            env._("Approved eFaktura with BankID; found in the eFaktura register."),
            identifier_required=True,
        )
        consent._release_waiting_invoices(env._("The customer approved eFaktura with BankID."))
        consent._send_confirmation()
        return "accepted"

    @api.model
    def _next_lookup(self, consent, when):
        """The next lookup, never after the deadline: the last one is made at the deadline's hour."""
        return min(when, consent.deadline - timedelta(minutes=1)) if consent.deadline else when

    @api.model
    def _issue_check_token(self, consent):
        """A fresh token for the "I have done it" button of the page shown right after BankID."""
        consent.ensure_one()
        token = consent._new_token()
        consent.sudo().check_token_hash = _hash_token(token)
        return token

    @api.model
    def _cron_lookup(self, batch_size=200):
        """Look again for consumers who approved with BankID but had no eFaktura yet, or whose lookup failed."""
        now = fields.Datetime.now()
        consents = (
            self.env["efaktura.consent"]
            .sudo()
            .search(
                [
                    ("state", "in", OPEN_STATES),
                    ("lookup_state", "!=", False),
                    ("next_lookup_at", "<=", now),
                    ("deadline", ">", now),
                ],
                limit=batch_size,
                order="next_lookup_at, id",
            )
        )
        Chain = self.env["efaktura.chain"]
        for consent in consents:
            self._lookup(consent)
            if Chain._can_commit():
                self.env.cr.commit()  # pylint: disable=invalid-commit  # one consumer per transaction
        return len(consents)
