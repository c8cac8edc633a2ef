"""ID-token validation for the relying party, in plain Python (no Odoo import).

The ID token is verified with PyJWT: the ``alg`` header must be in the provider's allowlist, as far as its discovery
document advertises it, before any key is fetched; the key comes from the provider's JWKS by ``kid``
(:class:`JwksCache`, fetched again once on an unknown ``kid``); and ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``,
``azp`` and ``sub`` are checked. The verified claims become a :class:`VerifiedIdentity` with the provider's claim
mapping (:func:`map_identity`).
"""

import dataclasses
import hmac
import re
import time

import jwt

from .oidc_errors import OidcTokenInvalid
from .oidc_provider import (
    ASSURANCE_PROFILES,
    CLAIM_MAPPINGS,
    REQUIRED_CLAIMS,
    _http,
    assurance_level,
    signing_algorithms,
)


def _same_secret(received, expected):
    """Constant-time comparison of two strings; False for anything that is not a non-empty str."""
    if not isinstance(received, str) or not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


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
