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

The parts live beside this module, which keeps the login flow and re-exports their public names:
``oidc_errors`` (the errors), ``oidc_provider`` (provider configuration, levels of assurance, discovery, HTTP),
``oidc_tokens`` (ID-token validation, JWKS cache, the verified identity) and ``name_match`` (name matching).
"""

import base64
import dataclasses
import hashlib
import secrets
import time
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from .name_match import NameMatch, name_matches
from .oidc_errors import (
    OidcAssuranceError,
    OidcConfigError,
    OidcError,
    OidcHttpError,
    OidcProviderError,
    OidcStateMismatch,
    OidcTokenInvalid,
)
from .oidc_provider import (
    ASSURANCE_LEVELS,
    ASSURANCE_PROFILES,
    ASYMMETRIC_ALGORITHMS,
    CLAIM_MAPPINGS,
    CLIENT_ASSERTION_TYPE,
    DEFAULT_ALGORITHMS,
    DISCOVERY_PATH,
    LOOPBACK_HOSTS,
    NATIONAL_ID_SCOPES,
    REQUIRED_CLAIMS,
    TOKEN_ENDPOINT_AUTH_METHODS,
    Provider,
    _check_metadata,
    _http,
    _load_private_key,
    assurance_level,
    check_assurance,
    configuration_problems,
    discover,
    required_acr_values,
    signing_algorithms,
)
from .oidc_tokens import JWKS_CACHE, JwksCache, VerifiedIdentity, _same_secret, _text, map_identity, validate_id_token

# The public names of the relying party, wherever they are defined: callers import them all from here.
__all__ = [
    "ASSURANCE_LEVELS",
    "ASSURANCE_PROFILES",
    "ASYMMETRIC_ALGORITHMS",
    "CLAIM_MAPPINGS",
    "CLIENT_ASSERTION_TYPE",
    "DEFAULT_ALGORITHMS",
    "DISCOVERY_PATH",
    "JWKS_CACHE",
    "LOOPBACK_HOSTS",
    "NATIONAL_ID_SCOPES",
    "REQUIRED_CLAIMS",
    "TOKEN_ENDPOINT_AUTH_METHODS",
    "AuthRequest",
    "JwksCache",
    "NameMatch",
    "OidcAssuranceError",
    "OidcConfigError",
    "OidcError",
    "OidcHttpError",
    "OidcProviderError",
    "OidcStateMismatch",
    "OidcTokenInvalid",
    "Provider",
    "VerifiedIdentity",
    "assurance_level",
    "check_assurance",
    "client_assertion",
    "configuration_problems",
    "discover",
    "finish_authentication",
    "map_identity",
    "name_matches",
    "pkce_challenge",
    "required_acr_values",
    "signing_algorithms",
    "start_authentication",
    "validate_id_token",
]


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


def _param(params, name):
    value = params.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else None
    return value


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
