"""The OpenID provider's side of the relying party, in plain Python (no Odoo import).

How to talk to one provider (:class:`Provider`, checked at construction), the levels of assurance and the acr values
that prove them, discovery of the provider metadata and its checks against the configuration, and the HTTP calls to
the provider (:func:`_http`, which turns every failure into :class:`~.oidc_errors.OidcHttpError`).
"""

import dataclasses
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization

from .oidc_errors import OidcAssuranceError, OidcConfigError, OidcHttpError

DISCOVERY_PATH = "/.well-known/openid-configuration"

# The scopes that release the national identity number, per provider.
NATIONAL_ID_SCOPES = ("nnin_altsub", "nin", "ssn")
# The claim that carries the national identity number, per provider, in order of preference.
CLAIM_MAPPINGS = {
    "bankid": ("nnin_altsub", "nnin"),
    "signicat": ("nin",),
    "idura": ("ssn", "socialno"),
}

# Asymmetric JWS algorithms an ID token may be signed with. Symmetric (HS*) and "none" are refused:
# an HMAC "signature" made with a public key or the client secret proves nothing about the provider.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")

# Signing algorithms accepted by default, when the provider's discovery document advertises them too.
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")

TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Levels of assurance (eIDAS), weakest first, and the acr values that prove each level, per provider:
# BankID OIDC in ``acr``; Idura (Criipto) in ``acr``; Signicat passes BankID's own acr in ``nbid_acr``.
ASSURANCE_LEVELS = ("substantial", "high")
_BANKID_ACR = {
    "high": ("urn:bankid:bid;LOA=4", "urn:bankid:bim;LOA=4"),
    "substantial": ("urn:bankid:bis;LOA=3",),
}
ASSURANCE_PROFILES = {
    "bankid": {"claim": "acr", "levels": _BANKID_ACR},
    "idura": {
        "claim": "acr",
        "levels": {
            "high": ("urn:grn:authn:no:bankid:high",),
            "substantial": ("urn:grn:authn:no:bankid:substantial",),
        },
    },
    # Signicat picks the e-ID by acr_values ("idp:nbid": Norwegian BankID) and reports BankID's level in nbid_acr.
    "signicat": {"claim": "nbid_acr", "levels": _BANKID_ACR, "acr_values": ("idp:nbid",)},
}

# Hosts on which an http issuer is tolerated even when https is required: nothing real answers there.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

# Claims PyJWT must find in every ID token.
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "nonce")


def _as_tuple(value):
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(value)


@dataclasses.dataclass(frozen=True)
class Provider:
    """How to talk to one OpenID provider.

    ``allowed_algorithms`` may only hold asymmetric algorithms; ``none`` and ``HS*`` are refused
    at construction. ``claim_mapping`` names the claim mapping (:data:`CLAIM_MAPPINGS`).
    ``leeway`` is the clock skew tolerated on ``exp`` and ``iat``, in seconds; ``request_ttl``
    how long a started login may take before its callback is refused, in seconds.
    """

    issuer: str
    client_id: str
    client_secret: str = dataclasses.field(default="", repr=False)
    scopes: tuple = ("openid", "profile")
    acr_values: tuple = ()
    allowed_algorithms: tuple = DEFAULT_ALGORITHMS
    claim_mapping: str = "bankid"
    use_par: bool = False
    token_endpoint_auth: str = "client_secret_basic"
    leeway: int = 60
    timeout: float = 10
    request_ttl: int = 900
    #: The minimum level of assurance (:data:`ASSURANCE_LEVELS`), checked on the verified claims; "" checks none.
    min_assurance: str = "high"
    #: Which acr values prove which level (:data:`ASSURANCE_PROFILES`); by default the claim mapping's.
    assurance_profile: str = ""
    #: For ``private_key_jwt``: the client's private key (PEM) and the ``kid`` the provider knows it by.
    client_private_key: str = dataclasses.field(default="", repr=False)
    client_key_id: str = ""
    #: Refuse an issuer that is not https (loopback addresses excepted: nothing real answers there).
    require_https: bool = False

    def __post_init__(self):
        object.__setattr__(self, "scopes", _as_tuple(self.scopes))
        object.__setattr__(self, "allowed_algorithms", _as_tuple(self.allowed_algorithms))
        if self.claim_mapping not in CLAIM_MAPPINGS:
            raise OidcConfigError(
                f"unknown claim mapping {self.claim_mapping!r}; known: {', '.join(sorted(CLAIM_MAPPINGS))}"
            )
        if not self.assurance_profile:
            object.__setattr__(self, "assurance_profile", self.claim_mapping)
        if self.assurance_profile not in ASSURANCE_PROFILES:
            raise OidcConfigError(
                f"unknown assurance profile {self.assurance_profile!r}; known: {', '.join(sorted(ASSURANCE_PROFILES))}"
            )
        if self.min_assurance and self.min_assurance not in ASSURANCE_LEVELS:
            raise OidcConfigError(
                f"unknown level of assurance {self.min_assurance!r}; known: {', '.join(ASSURANCE_LEVELS)}"
            )
        acr_values = _as_tuple(self.acr_values) or required_acr_values(self.assurance_profile, self.min_assurance)
        object.__setattr__(self, "acr_values", acr_values)
        if not self.issuer:
            raise OidcConfigError("the provider needs an issuer URL")
        issuer_url = urlsplit(self.issuer)
        if self.require_https and issuer_url.scheme != "https" and issuer_url.hostname not in LOOPBACK_HOSTS:
            raise OidcConfigError(f"the issuer {self.issuer!r} is not an https address: refused in production")
        if self.token_endpoint_auth == "private_key_jwt":
            if not self.client_private_key:
                raise OidcConfigError("private_key_jwt needs the client's private key")
            try:
                _load_private_key(self.client_private_key)
            except ValueError as exc:
                raise OidcConfigError(f"the client's private key cannot be read: {exc}") from exc
        if not self.client_id:
            raise OidcConfigError("the provider needs a client_id")
        if "openid" not in self.scopes:
            raise OidcConfigError(f"the scopes must include 'openid' (got {' '.join(self.scopes)!r})")
        if not self.allowed_algorithms:
            raise OidcConfigError("allowed_algorithms must name at least one signing algorithm")
        for alg in self.allowed_algorithms:
            if not isinstance(alg, str) or alg.lower() == "none":
                raise OidcConfigError("allowed_algorithms must not contain 'none': unsigned ID tokens prove nothing")
            if alg.upper().startswith("HS"):
                raise OidcConfigError(
                    f"allowed_algorithms must not contain the symmetric algorithm {alg!r}: "
                    "only asymmetric signatures prove the provider issued the token"
                )
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise OidcConfigError(f"unknown signing algorithm {alg!r}; allowed: {', '.join(ASYMMETRIC_ALGORITHMS)}")
        if self.token_endpoint_auth not in TOKEN_ENDPOINT_AUTH_METHODS:
            raise OidcConfigError(
                f"unknown token endpoint authentication {self.token_endpoint_auth!r}; "
                f"known: {', '.join(TOKEN_ENDPOINT_AUTH_METHODS)}"
            )
        if self.leeway < 0 or self.leeway > 600:
            raise OidcConfigError(f"leeway must be between 0 and 600 seconds (got {self.leeway})")
        if self.timeout <= 0:
            raise OidcConfigError(f"the HTTP timeout must be positive (got {self.timeout})")
        if self.request_ttl <= 0:
            raise OidcConfigError(f"request_ttl must be positive (got {self.request_ttl})")


def required_acr_values(profile, min_assurance):
    """The ``acr_values`` that ask the provider for at least ``min_assurance``: the values of that level and
    every stronger one (and the e-ID selector of brokers that need one)."""
    config = ASSURANCE_PROFILES[profile]
    if "acr_values" in config:
        return tuple(config["acr_values"])
    if not min_assurance:
        return ()
    levels = ASSURANCE_LEVELS[ASSURANCE_LEVELS.index(min_assurance) :]
    return tuple(value for level in reversed(levels) for value in config["levels"][level])


def assurance_level(profile, claims):
    """The level of assurance the claims prove for ``profile``: a name from :data:`ASSURANCE_LEVELS`, or ""."""
    config = ASSURANCE_PROFILES[profile]
    value = claims.get(config["claim"])
    for level, values in config["levels"].items():
        if value in values:
            return level
    return ""


def check_assurance(provider, claims):
    """Raise :class:`OidcAssuranceError` when the claims prove less than ``provider.min_assurance``."""
    if not provider.min_assurance:
        return
    level = assurance_level(provider.assurance_profile, claims)
    if not level or ASSURANCE_LEVELS.index(level) < ASSURANCE_LEVELS.index(provider.min_assurance):
        claim = ASSURANCE_PROFILES[provider.assurance_profile]["claim"]
        raise OidcAssuranceError(claims.get(claim) or "", provider.min_assurance)


def _load_private_key(pem):
    return serialization.load_pem_private_key(pem.encode("ascii") if isinstance(pem, str) else pem, password=None)


def _http(session, method, url, timeout, **kwargs):
    """One HTTP call; any failure becomes :class:`OidcHttpError`. Returns the decoded JSON object."""
    client = session or requests
    try:
        response = client.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise OidcHttpError(url, f"request failed: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = None
    if not 200 <= response.status_code < 300:
        error = body.get("error") if isinstance(body, dict) else None
        description = body.get("error_description") if isinstance(body, dict) else None
        detail = f" {error}" if error else ""
        if description:
            detail += f": {description}"
        raise OidcHttpError(
            url,
            f"HTTP {response.status_code}{detail}",
            status=response.status_code,
            error=error,
            description=description,
        )
    if not isinstance(body, dict):
        raise OidcHttpError(url, "the answer is not a JSON object", status=response.status_code)
    return body


def discover(issuer_or_discovery_url, session=None, timeout=10, expected_issuer=None):
    """Fetch and check the provider metadata (OpenID Connect Discovery 1.0).

    ``issuer_or_discovery_url`` is either the issuer (the well-known path is appended) or the full
    discovery URL (then the issuer is what precedes the well-known path). The document's
    ``issuer`` must equal that expected issuer exactly, or ``expected_issuer`` when given.
    Returns the metadata as a dict.
    """
    url = issuer_or_discovery_url.strip()
    if url.endswith(DISCOVERY_PATH):
        discovery_url = url
        derived_issuer = url[: -len(DISCOVERY_PATH)]
    else:
        discovery_url = url.rstrip("/") + DISCOVERY_PATH
        derived_issuer = url
    expected = expected_issuer or derived_issuer
    metadata = _http(session, "GET", discovery_url, timeout, headers={"Accept": "application/json"})
    if metadata.get("issuer") != expected:
        raise OidcConfigError(
            f"discovery document at {discovery_url} names issuer {metadata.get('issuer')!r}, expected {expected!r}"
        )
    missing = [key for key in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not metadata.get(key)]
    if missing:
        raise OidcConfigError(f"discovery document at {discovery_url} lacks {', '.join(missing)}")
    if "code" not in metadata.get("response_types_supported", ["code"]):
        raise OidcConfigError(f"provider {expected} does not support the authorization code flow")
    methods = metadata.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise OidcConfigError(f"provider {expected} does not support PKCE S256 (supports {methods})")
    return metadata


def _check_metadata(provider, metadata):
    if metadata.get("issuer") != provider.issuer:
        raise OidcConfigError(
            f"metadata issuer {metadata.get('issuer')!r} is not the configured issuer {provider.issuer!r}"
        )


def signing_algorithms(provider, metadata):
    """The algorithms an ID token may be signed with: the provider's allowlist, as far as discovery advertises
    them (OpenID Connect Discovery: RS256 when the document says nothing)."""
    advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    return tuple(alg for alg in provider.allowed_algorithms if alg in advertised)


def configuration_problems(provider, metadata):
    """What in the configuration cannot work with this provider, as sentences; empty when all is well."""
    problems = []
    try:
        _check_metadata(provider, metadata)
    except OidcConfigError as exc:
        problems.append(str(exc))
    if provider.use_par and not metadata.get("pushed_authorization_request_endpoint"):
        problems.append(
            "Pushed authorization requests (PAR) are ticked, but the provider does not advertise a PAR endpoint "
            "(pushed_authorization_request_endpoint): untick PAR or ask the provider to enable it."
        )
    if not signing_algorithms(provider, metadata):
        advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        problems.append(
            f"The provider signs ID tokens with {', '.join(advertised)}; none is in the allowlist "
            f"{', '.join(provider.allowed_algorithms)}."
        )
    methods = metadata.get("token_endpoint_auth_methods_supported")
    if methods is not None and provider.token_endpoint_auth not in methods:
        problems.append(
            f"The provider does not accept the client authentication {provider.token_endpoint_auth} "
            f"(it accepts {', '.join(methods)})."
        )
    return problems
