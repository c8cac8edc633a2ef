"""An OpenID Connect relying party for BankID and its brokers, in plain Python (no Odoo import).

The flow is the authorization code flow with PKCE (S256), a fresh ``state`` and ``nonce`` per
login, and optionally pushed authorization requests (PAR)::

    metadata = discover(provider.issuer)
    auth = start_authentication(provider, metadata, redirect_uri)
    # store auth.state, auth.nonce, auth.code_verifier with the consent request, redirect to auth.url
    identity = finish_authentication(provider, metadata, auth, callback_params, redirect_uri)

The ID token is verified with PyJWT: the ``alg`` header must be in the provider's allowlist
(asymmetric algorithms only) before any key is fetched, the key comes from the provider's JWKS by
``kid``, and ``iss``, ``aud``, ``exp``, ``iat``, ``nonce`` and ``azp`` are checked. Every failed
check raises a typed :class:`OidcError` whose message names the check.

National identity numbers come from a per-provider claim: BankID ``nnin_altsub`` (scope
``nnin_altsub``), Signicat ``nin`` (scope ``nin``), Idura/Criipto ``ssn`` (older ``socialno``).
"""

import base64
import dataclasses
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from typing import NamedTuple
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

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


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class OidcError(Exception):
    """Base class of every error raised by this module."""


class OidcConfigError(OidcError, ValueError):
    """A provider configuration or provider metadata that cannot be used safely."""


class OidcStateMismatch(OidcError):
    """The callback does not belong to the stored authentication request (CSRF, replay, mix-up)."""


class OidcProviderError(OidcError):
    """The provider answered the authentication request with an error instead of a code.

    ``error`` is the OAuth error code (``access_denied`` when the person cancelled or refused),
    ``description`` the provider's ``error_description``.
    """

    def __init__(self, error, description=""):
        self.error = error or "unknown_error"
        self.description = description or ""
        text = f"the identity provider returned error {self.error!r}"
        if self.description:
            text += f": {self.description}"
        super().__init__(text)

    @property
    def cancelled(self):
        """True when the person cancelled or refused the login."""
        return self.error == "access_denied"


class OidcTokenInvalid(OidcError):
    """The ID token failed a check. ``reason`` is a short key naming the check.

    Reasons: ``malformed``, ``alg``, ``key``, ``signature``, ``expired``, ``iat``, ``aud``,
    ``iss``, ``missing_claim``, ``nonce``, ``azp``, ``sub``, ``no_id_token``.
    """

    def __init__(self, reason, message):
        self.reason = reason
        super().__init__(f"ID token rejected ({reason}): {message}")


class OidcAssuranceError(OidcError):
    """The login was made with a method or level of assurance below the one required.

    ``acr`` is what the provider reported, ``required`` the required level.
    """

    def __init__(self, acr, required):
        self.acr = acr
        self.required = required
        super().__init__(f"the login's level of assurance {acr!r} is below the required level {required!r}")


class OidcHttpError(OidcError):
    """An HTTP call to the provider failed: network error, bad status or unreadable answer.

    ``status`` is the HTTP status (None when there was no answer), ``error`` and ``description``
    the OAuth error from the body when there was one (``invalid_grant``, ``invalid_client``...).
    """

    def __init__(self, url, message, status=None, error=None, description=None):
        self.url = url
        self.status = status
        self.error = error
        self.description = description
        super().__init__(f"{url}: {message}")


# ---------------------------------------------------------------------------------------------
# Configuration and discovery
# ---------------------------------------------------------------------------------------------


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


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(code_verifier):
    """The PKCE S256 challenge: base64url(sha256(verifier)) without padding."""
    return _b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())


def client_assertion(provider, audience, now=None):
    """A private_key_jwt client assertion (RFC 7523): signed with the client's key, for one use at ``audience``."""
    key = _load_private_key(provider.client_private_key)
    alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    now = int(time.time() if now is None else now)
    claims = {
        "iss": provider.client_id,
        "sub": provider.client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(32),
        "iat": now,
        "exp": now + 60,
    }
    headers = {"kid": provider.client_key_id} if provider.client_key_id else None
    return jwt.encode(claims, key, algorithm=alg, headers=headers)


def _client_auth(provider, data, audience=None):
    """Add client authentication to a form post; returns (data, headers). ``audience`` is the endpoint posted to
    (the audience of a private_key_jwt assertion)."""
    data = dict(data)
    headers = {"Accept": "application/json"}
    if provider.token_endpoint_auth == "private_key_jwt":
        data["client_id"] = provider.client_id
        data["client_assertion_type"] = CLIENT_ASSERTION_TYPE
        data["client_assertion"] = client_assertion(provider, audience or provider.issuer)
    elif provider.token_endpoint_auth == "client_secret_basic":
        # RFC 6749 section 2.3.1: both parts are form-urlencoded before base64.
        pair = f"{quote_plus(provider.client_id)}:{quote_plus(provider.client_secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    else:
        data["client_id"] = provider.client_id
        data["client_secret"] = provider.client_secret
    return data, headers


def _add_query(url, params):
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AuthRequest:
    """One started login. Store ``state``, ``nonce`` and ``code_verifier`` with the consent
    request, redirect the browser to ``url``, and use it exactly once in
    :func:`finish_authentication`."""

    url: str
    state: str
    nonce: str = dataclasses.field(repr=False)
    code_verifier: str = dataclasses.field(repr=False)
    created_at: float

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        return cls(**{field.name: values[field.name] for field in dataclasses.fields(cls)})


def start_authentication(provider, metadata, redirect_uri, session=None, ui_locales=None):
    """Start a login: fresh state, nonce and PKCE verifier (256 bits each), and the URL to send
    the browser to. With ``provider.use_par`` and a PAR endpoint in the metadata, the parameters
    are pushed to that endpoint first and the URL carries only ``client_id`` and ``request_uri``.
    ``ui_locales`` (OpenID Connect Core 3.1.2.1, e.g. ``"nb en"``) asks for the login page's language."""
    _check_metadata(provider, metadata)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce_challenge(code_verifier),
        "code_challenge_method": "S256",
    }
    if provider.acr_values:
        params["acr_values"] = " ".join(provider.acr_values)
    if ui_locales:
        params["ui_locales"] = ui_locales
    par_endpoint = metadata.get("pushed_authorization_request_endpoint")
    if (provider.use_par or metadata.get("require_pushed_authorization_requests")) and not par_endpoint:
        # Never a silent fallback to a plain authorization request: the configuration is wrong.
        raise OidcConfigError(
            "Pushed authorization requests (PAR) are required, but the provider does not advertise a PAR endpoint"
        )
    if par_endpoint and (provider.use_par or metadata.get("require_pushed_authorization_requests")):
        # RFC 9126 section 2: the issuer identifier is a valid audience of the client assertion.
        data, headers = _client_auth(provider, params, audience=provider.issuer)
        pushed = _http(session, "POST", par_endpoint, provider.timeout, data=data, headers=headers)
        request_uri = pushed.get("request_uri")
        if not request_uri or not isinstance(request_uri, str):
            raise OidcHttpError(par_endpoint, "the pushed authorization response has no request_uri")
        url = _add_query(
            metadata["authorization_endpoint"], {"client_id": provider.client_id, "request_uri": request_uri}
        )
    else:
        url = _add_query(metadata["authorization_endpoint"], params)
    return AuthRequest(url=url, state=state, nonce=nonce, code_verifier=code_verifier, created_at=time.time())


def _same_secret(received, expected):
    """Constant-time comparison of two strings; False for anything that is not a non-empty str."""
    if not isinstance(received, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def _param(params, name):
    value = params.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else None
    return value


@dataclasses.dataclass(frozen=True)
class VerifiedIdentity:
    """The person the provider vouched for. ``national_id`` is empty when the provider did not
    release it (scope not granted)."""

    sub: str
    name: str
    given_name: str
    family_name: str
    birthdate: str
    national_id: str = dataclasses.field(repr=False)
    acr: str
    amr: tuple
    issuer: str
    claims: dict = dataclasses.field(repr=False)
    #: BankID's ``bankid_altsub``: the stable identifier BankID recommends over ``sub``; "" when absent.
    altsub: str = ""
    #: The level of assurance the login proved (:data:`ASSURANCE_LEVELS`), "" when unknown.
    assurance: str = ""


def finish_authentication(provider, metadata, auth_request, callback_params, redirect_uri, session=None, now=None):
    """Check the callback, redeem the code and verify the ID token; returns a :class:`VerifiedIdentity`.

    ``callback_params`` is the query of the redirect back from the provider (a dict or a
    multidict). ``now`` (epoch seconds, default the current time) dates the callback against the
    age of ``auth_request``; the ID token's ``exp`` and ``iat`` are checked by PyJWT against the
    system clock, with ``provider.leeway``.
    """
    _check_metadata(provider, metadata)
    received_state = _param(callback_params, "state")
    if not received_state:
        raise OidcStateMismatch("the callback has no state parameter")
    if not _same_secret(received_state, auth_request.state):
        raise OidcStateMismatch("the callback state does not match the state of the stored authentication request")
    now = time.time() if now is None else now
    if now - auth_request.created_at > provider.request_ttl:
        raise OidcStateMismatch(
            f"the authentication request is older than {provider.request_ttl} seconds; start the login again"
        )
    callback_issuer = _param(callback_params, "iss")
    if callback_issuer is not None and callback_issuer != provider.issuer:
        # RFC 9207: an authorization response from another issuer (mix-up attack).
        raise OidcStateMismatch(f"the callback comes from issuer {callback_issuer!r}, expected {provider.issuer!r}")
    error = _param(callback_params, "error")
    if error:
        raise OidcProviderError(error, _param(callback_params, "error_description") or "")
    code = _param(callback_params, "code")
    if not code:
        raise OidcProviderError("invalid_request", "the callback carries neither a code nor an error")

    data, headers = _client_auth(
        provider,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": auth_request.code_verifier,
        },
        audience=metadata["token_endpoint"],
    )
    tokens = _http(session, "POST", metadata["token_endpoint"], provider.timeout, data=data, headers=headers)
    id_token = tokens.get("id_token")
    if not id_token or not isinstance(id_token, str):
        raise OidcTokenInvalid("no_id_token", "the token response carries no id_token")
    claims = validate_id_token(provider, metadata, id_token, auth_request.nonce, session=session)
    if _lacks_claims(provider, claims):
        claims = _with_userinfo(provider, metadata, claims, tokens.get("access_token"), session)
    check_assurance(provider, claims)
    return map_identity(provider, claims)


def _lacks_claims(provider, claims):
    """Whether the ID token lacks the name or, when asked for, the national identity number (Signicat, by
    default, releases them at its userinfo endpoint only)."""
    has_name = bool(_text(claims.get("name")) or (_text(claims.get("given_name")) and _text(claims.get("family_name"))))
    national_id_asked = any(scope in provider.scopes for scope in NATIONAL_ID_SCOPES)
    has_national_id = any(claims.get(claim) for claim in CLAIM_MAPPINGS[provider.claim_mapping])
    return not has_name or (national_id_asked and not has_national_id)


def _with_userinfo(provider, metadata, claims, access_token, session):
    """The ID token's claims completed from the userinfo endpoint, whose ``sub`` must be the ID token's."""
    endpoint = metadata.get("userinfo_endpoint")
    if not endpoint or not access_token or not isinstance(access_token, str):
        return claims
    userinfo = _http(
        session,
        "GET",
        endpoint,
        provider.timeout,
        headers={"Accept": "application/json", "Authorization": f"Bearer {access_token}"},
    )
    if not _same_secret(userinfo.get("sub"), claims["sub"]):
        # OpenID Connect Core 5.3.2: the userinfo answer may be for another person (token substitution).
        raise OidcTokenInvalid("userinfo_sub", "the userinfo sub is not the sub of the ID token")
    # The signed ID token wins where both speak.
    return {**userinfo, **claims}


class JwksCache:
    """The providers' signing keys, by JWKS address, kept for ``ttl`` seconds; fetched again once when an ID
    token names a ``kid`` the cached set does not hold (the provider rotated its keys)."""

    def __init__(self, ttl=3600):
        self.ttl = ttl
        self._entries = {}

    def clear(self):
        self._entries.clear()

    def _fetch(self, uri, session, timeout):
        data = _http(session, "GET", uri, timeout, headers={"Accept": "application/json"})
        try:
            keys = jwt.PyJWKSet.from_dict(data).keys
        except (jwt.PyJWKSetError, jwt.PyJWKError) as exc:
            raise OidcTokenInvalid("key", f"the provider's JWKS holds no usable key ({exc})") from exc
        self._entries[uri] = (time.monotonic() + self.ttl, keys)
        return keys

    @staticmethod
    def _match(keys, kid):
        signing = [key for key in keys if key.public_key_use in (None, "sig")]
        if kid is None:
            return signing[0] if len(signing) == 1 else None
        return next((key for key in signing if key.key_id == kid), None)

    def signing_key(self, uri, kid, session=None, timeout=10):
        entry = self._entries.get(uri)
        fetched = entry is None or entry[0] <= time.monotonic()
        keys = self._fetch(uri, session, timeout) if fetched else entry[1]
        key = self._match(keys, kid)
        if key is None and not fetched:
            key = self._match(self._fetch(uri, session, timeout), kid)
        if key is None:
            raise OidcTokenInvalid("key", f"no signing key for kid {kid!r} in the provider's JWKS")
        return key


#: The process-wide cache of signing keys.
JWKS_CACHE = JwksCache()


_PYJWT_ERRORS = (
    # Most specific first: several of these subclass one another.
    (jwt.ExpiredSignatureError, "expired", "the token has expired (exp)"),
    (jwt.ImmatureSignatureError, "iat", "the token is not valid yet (iat or nbf in the future)"),
    (jwt.InvalidAudienceError, "aud", "the audience (aud) is not this client"),
    (jwt.InvalidIssuerError, "iss", "the issuer (iss) is not the configured issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim", None),
    (jwt.InvalidSignatureError, "signature", "the signature does not verify with the provider's key"),
    (jwt.InvalidAlgorithmError, "alg", "the signing algorithm is not allowed"),
    (jwt.DecodeError, "malformed", "the token cannot be decoded"),
)


def validate_id_token(provider, metadata, id_token, expected_nonce, session=None, jwks_cache=None):
    """Verify an ID token and return its claims; raises :class:`OidcTokenInvalid`.

    The algorithm must be in the provider's allowlist and advertised by its discovery document. The
    signing keys come from ``jwks_cache`` (default :data:`JWKS_CACHE`), fetched again once on an
    unknown ``kid``, so a rotated provider key is used at once.
    """
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.InvalidTokenError as exc:
        raise OidcTokenInvalid("malformed", f"the token header cannot be read ({exc})") from exc
    alg = header.get("alg")
    algorithms = signing_algorithms(provider, metadata)
    if alg not in algorithms:
        raise OidcTokenInvalid(
            "alg",
            f"signing algorithm {alg!r} is not in the allowlist {', '.join(provider.allowed_algorithms)} "
            "as far as the provider advertises it",
        )
    cache = jwks_cache if jwks_cache is not None else JWKS_CACHE
    signing_key = cache.signing_key(metadata["jwks_uri"], header.get("kid"), session, provider.timeout)
    try:
        claims = jwt.decode(
            id_token,
            signing_key.key,
            algorithms=[alg],
            audience=provider.client_id,
            issuer=provider.issuer,
            leeway=provider.leeway,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.InvalidTokenError as exc:
        for error_class, reason, message in _PYJWT_ERRORS:
            if isinstance(exc, error_class):
                if error_class is jwt.MissingRequiredClaimError:
                    message = f"the required claim {exc.claim!r} is missing"
                raise OidcTokenInvalid(reason, message) from exc
        raise OidcTokenInvalid("invalid", f"the token is invalid ({exc})") from exc
    if not _same_secret(claims.get("nonce"), expected_nonce):
        raise OidcTokenInvalid("nonce", "the nonce does not match the nonce of the stored authentication request")
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if ("azp" in claims or len(audiences) > 1) and claims.get("azp") != provider.client_id:
        raise OidcTokenInvalid(
            "azp", f"the authorized party (azp) {claims.get('azp')!r} is not this client {provider.client_id!r}"
        )
    if not isinstance(claims.get("sub"), str) or not claims["sub"].strip():
        raise OidcTokenInvalid("sub", "the subject (sub) is empty")
    return claims


def _text(value):
    return value.strip() if isinstance(value, str) else ""


def map_identity(provider, claims):
    """Build a :class:`VerifiedIdentity` from verified claims with the provider's claim mapping."""
    national_id = ""
    for claim in CLAIM_MAPPINGS[provider.claim_mapping]:
        value = claims.get(claim)
        if isinstance(value, int):
            value = str(value)
        value = re.sub(r"[\s-]", "", _text(value))
        if value:
            national_id = value
            break
    given_name = _text(claims.get("given_name"))
    family_name = _text(claims.get("family_name"))
    name = _text(claims.get("name")) or " ".join(part for part in (given_name, family_name) if part)
    amr = claims.get("amr") or ()
    amr = (amr,) if isinstance(amr, str) else tuple(str(item) for item in amr)
    acr_claim = ASSURANCE_PROFILES[provider.assurance_profile]["claim"]
    return VerifiedIdentity(
        altsub=_text(claims.get("bankid_altsub")),
        assurance=assurance_level(provider.assurance_profile, claims),
        sub=claims["sub"],
        name=name,
        given_name=given_name,
        family_name=family_name,
        birthdate=_text(claims.get("birthdate")),
        national_id=national_id,
        acr=_text(claims.get(acr_claim)) or _text(claims.get("acr")),
        amr=amr,
        issuer=claims["iss"],
        claims=dict(claims),
    )


# ---------------------------------------------------------------------------------------------
# Name matching
# ---------------------------------------------------------------------------------------------


class NameMatch(NamedTuple):
    score: float
    matches: bool


_LETTER_FOLDS = (
    ("å", "aa"),
    ("æ", "ae"),
    ("ä", "ae"),
    ("ø", "o"),
    ("ö", "o"),
    ("œ", "o"),
    ("ß", "ss"),
)


def _name_tokens(text):
    """Lowercase ASCII tokens of a name, with Nordic spellings folded together."""
    text = unicodedata.normalize("NFC", text or "").casefold()
    for letter, fold in _LETTER_FOLDS:
        text = text.replace(letter, fold)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    # Åsen = Aasen = Asen, Sørensen = Soerensen = Sorensen.
    text = text.replace("aa", "a").replace("oe", "o")
    return [token for token in re.split(r"[^a-z0-9]+", text) if token]


def _token_hit(token, candidates):
    """1 for a full match, 0.5 for an initial ("K" for "Kari"), else 0."""
    if token in candidates:
        return 1.0
    if len(token) == 1 and any(candidate.startswith(token) for candidate in candidates):
        return 0.5
    return 0.0


def name_matches(card_name, verified_given, verified_family, verified_full=""):
    """Compare the name on the customer card with the name the identity provider verified.

    Returns ``NameMatch(score, matches)``.

    Both names are cut into words after folding case and spelling: accents are dropped,
    ø/ö/oe become o, å/aa become a, æ/ä become ae, and hyphens and commas separate words, so
    "Nordmann, Kari", "KARI NORDMANN" and "Kari-Anne Nordmann" are compared word by word and
    in any order. When the given or family name is missing, ``verified_full`` is split instead:
    its last word is the family name, the rest the given names.

    ``matches`` is true when the card holds at least one of the verified family names AND at
    least one of the verified given names, written out in full. Middle names present on only one
    side are tolerated, a different family name or a different first name is not, and an initial
    alone never suffices.

    ``score`` is the Dice coefficient of the two word sets (2 x shared / total), where an initial
    on the card that fits a verified given name counts as half a shared word: 1.0 for the same
    words, lower with every extra or missing word.
    """
    given = _name_tokens(verified_given)
    family = _name_tokens(verified_family)
    if not given or not family:
        full = _name_tokens(verified_full)
        if len(full) >= 2:
            given = given or full[:-1]
            family = family or full[-1:]
    card = _name_tokens(card_name)
    verified = set(given) | set(family)
    if not card or not verified:
        return NameMatch(0.0, False)
    card_set = set(card)
    shared = sum(_token_hit(token, verified) for token in card_set)
    score = round(min(1.0, 2 * shared / (len(card_set) + len(verified))), 4)
    family_hit = any(token in card_set for token in family)
    given_hit = any(token in card_set for token in given)
    return NameMatch(score, bool(family_hit and given_hit))
