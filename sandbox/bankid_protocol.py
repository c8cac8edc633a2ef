"""What the sandbox BankID speaks, in plain Python (no Odoo import): its endpoint paths, acr and amr values, scopes,
signing algorithms and time limits, and the OAuth 2.0 error its endpoints answer with (:class:`SimulatorError`).

The provider itself is :class:`~.bankid.Simulator`, in ``sandbox/bankid.py``.
"""

import hashlib

ENDPOINT_PATHS = {
    "discovery": "/.well-known/openid-configuration",
    "authorization": "/authorize",
    "token": "/token",
    "jwks": "/jwks",
    "par": "/par",
    "userinfo": "/userinfo",
}

DEFAULT_ACR = "urn:bankid:bis;LOA=3"
ACR_VALUES = ("urn:bankid:bid;LOA=4", "urn:bankid:bim;LOA=4", DEFAULT_ACR)
# The BankID method behind each acr value, reported in ``amr``.
AMR_BY_ACR = {
    "urn:bankid:bid;LOA=4": "BID",
    "urn:bankid:bim;LOA=4": "BIM",
    "urn:bankid:bis;LOA=3": "BIS",
}
# What the login page offers: BankID with code device or app (high), or with biometrics (substantial, weaker).
METHODS = {"high": "urn:bankid:bid;LOA=4", "substantial": DEFAULT_ACR}
SCOPES = ("openid", "profile", "nnin_altsub")
SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256")
# The claims a client with "claims_at_userinfo" only gets from the userinfo endpoint.
USERINFO_ONLY_CLAIMS = ("name", "given_name", "family_name", "birthdate", "nnin_altsub", "nin")
PAR_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
PENDING_TTL = 900  # seconds a person has to finish the login
PAR_TTL = 90  # seconds a pushed request_uri stays usable


class SimulatorError(Exception):
    """An OAuth 2.0 error (RFC 6749) with its HTTP status.

    ``redirect_url`` is set when the error may be sent back to the client (the client and its
    redirect URI were valid); otherwise it must be shown to the person, never redirected.
    """

    def __init__(self, error, description, status=400, redirect_url=None):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.redirect_url = redirect_url

    def as_dict(self):
        return {"error": self.error, "error_description": self.description}


def _digest(value):
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
