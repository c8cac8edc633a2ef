"""A BankID-like OpenID provider for sandbox mode, in plain Python (no Odoo import).

This is the protocol core; an HTTP layer (an Odoo controller, or the test peer) maps requests to
it. It implements what the relying party in ``tools/oidc.py`` uses against the real BankID:

* discovery metadata, with authorization, token, JWKS and PAR endpoints under the issuer URL;
* the authorization code flow with mandatory PKCE S256, ``state``, ``nonce`` and ``acr_values``;
* pushed authorization requests (RFC 9126);
* client authentication with ``client_secret_basic`` or ``client_secret_post``;
* single-use, short-lived authorization codes bound to the client, redirect URI and verifier;
* RS256-signed ID tokens with a ``kid``, carrying ``nnin_altsub`` only when that scope was asked.

Instead of a BankID login the person is chosen by the caller: :meth:`Simulator.approve` logs in one
of :data:`TEST_PERSONS` (or any person dict) and :meth:`Simulator.cancel` plays a cancelled login.

Pending requests and codes live in a :class:`Store`; the default keeps them in memory, a database
backed store can be passed instead. Stored values are JSON-serialisable dicts.

The parts live beside this module, which re-exports the names other code imports from it:
``bankid_protocol`` (endpoint paths, acr values, scopes, time limits, :class:`SimulatorError`), ``bankid_persons``
(the test persons), ``bankid_store`` (the :class:`Store` interface and :class:`MemoryStore`) and ``bankid_clients``
(client authentication at the token and PAR endpoints).
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .bankid_clients import ClientAuthentication
from .bankid_persons import TEST_PERSONS, Person, find_test_person
from .bankid_protocol import (
    ACR_VALUES,
    AMR_BY_ACR,
    DEFAULT_ACR,
    ENDPOINT_PATHS,
    METHODS,
    PAR_TTL,
    PAR_URI_PREFIX,
    PENDING_TTL,
    SCOPES,
    SIGNING_ALGORITHMS,
    USERINFO_ONLY_CLAIMS,
    SimulatorError,
    _digest,
)
from .bankid_store import MemoryStore, Store

# The names other code imports from here, wherever they are defined.
__all__ = [
    "ENDPOINT_PATHS",
    "TEST_PERSONS",
    "MemoryStore",
    "Person",
    "Simulator",
    "SimulatorError",
    "Store",
    "find_test_person",
    "generate_ec_key_pem",
    "generate_rsa_key_pem",
]

_PKCE_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_CHALLENGE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def generate_rsa_key_pem(key_size=2048):
    """A new RSA private key as unencrypted PKCS#8 PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def generate_ec_key_pem():
    """A new EC P-256 private key (for ES256) as unencrypted PKCS#8 PEM text."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _add_query(url, params):
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


class Simulator(ClientAuthentication):
    """The sandbox OpenID provider.

    ``clients`` maps each client_id to ``{"secret": ..., "redirect_uris": [...]}``, plus
    ``"require_par": True`` for a client that may only start logins through PAR. ``clock``
    returns the current epoch time (tests may pass their own).
    """

    def __init__(
        self,
        issuer,
        signing_key_pem,
        clients,
        code_ttl=60,
        token_ttl=300,
        store=None,
        clock=time.time,
        signing_alg="RS256",
    ):
        self.issuer = issuer.rstrip("/")
        if signing_alg not in SIGNING_ALGORITHMS:
            raise ValueError(f"the simulator signs with {', '.join(SIGNING_ALGORITHMS)}, not {signing_alg!r}")
        self.signing_alg = signing_alg
        self._set_key(signing_key_pem)
        # Derives pairwise-stable subjects from the first key, so a person keeps one sub per database.
        self._sub_secret = hashlib.sha256(b"sub:" + self._key_pem).digest()
        self.clients = {client_id: dict(config) for client_id, config in clients.items()}
        self.code_ttl = code_ttl
        self.token_ttl = token_ttl
        self.store = store if store is not None else MemoryStore(clock)
        self.clock = clock

    def _set_key(self, signing_key_pem):
        if isinstance(signing_key_pem, str):
            signing_key_pem = signing_key_pem.encode("ascii")
        key = serialization.load_pem_private_key(signing_key_pem, password=None)
        if self.signing_alg == "ES256":
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError("the simulator signs with ES256 and needs an EC P-256 private key")
            public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
            members = {"crv": public_jwk["crv"], "kty": "EC", "x": public_jwk["x"], "y": public_jwk["y"]}
        else:
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"the simulator signs with {self.signing_alg} and needs an RSA private key")
            public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            members = {"e": public_jwk["e"], "kty": "RSA", "n": public_jwk["n"]}
        self._key = key
        self._key_pem = getattr(self, "_key_pem", None) or signing_key_pem
        self._public_jwk = dict(members)
        # RFC 7638 thumbprint: stable for the key, new for a new key.
        thumbprint_input = json.dumps(members, separators=(",", ":"), sort_keys=True)
        self.kid = _b64url(hashlib.sha256(thumbprint_input.encode("ascii")).digest())

    def rotate_key(self, signing_key_pem):
        """Sign with a new key (new ``kid``) from now on, as a provider rotating its keys does."""
        self._set_key(signing_key_pem)

    # -- documents ---------------------------------------------------------------------------

    def endpoint(self, name):
        return self.issuer + ENDPOINT_PATHS[name]

    def metadata(self):
        """The discovery document."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("authorization"),
            "token_endpoint": self.endpoint("token"),
            "jwks_uri": self.endpoint("jwks"),
            "pushed_authorization_request_endpoint": self.endpoint("par"),
            "userinfo_endpoint": self.endpoint("userinfo"),
            "require_pushed_authorization_requests": False,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.signing_alg],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": list(SCOPES),
            "acr_values_supported": list(ACR_VALUES),
            "claims_supported": [
                "iss",
                "aud",
                "azp",
                "sub",
                "iat",
                "exp",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "name",
                "given_name",
                "family_name",
                "birthdate",
                "nnin_altsub",
                "bankid_altsub",
            ],
            "authorization_response_iss_parameter_supported": True,
        }

    def jwks(self):
        """The public signing key as a JWK set."""
        return {"keys": [dict(self._public_jwk, kid=self.kid, use="sig", alg=self.signing_alg)]}

    def sign(self, claims, headers=None):
        """Sign claims as a JWT with this provider's key, algorithm and ``kid``."""
        return jwt.encode(claims, self._key, algorithm=self.signing_alg, headers={"kid": self.kid, **(headers or {})})

    # -- authorization ------------------------------------------------------------------------

    def _validate_authorization(self, params, pushed=False):
        """Check an authorization request; returns the normalised request to keep."""
        client_id = params.get("client_id")
        client = self._client(client_id, status=400)
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri or redirect_uri not in client.get("redirect_uris", ()):
            # Never redirect to an unregistered URI (RFC 6749 section 4.1.2.1).
            raise SimulatorError(
                "invalid_request", f"redirect_uri {redirect_uri!r} is not registered for {client_id!r}"
            )
        state = params.get("state")

        def fail(error, description):
            redirect_url = _add_query(
                redirect_uri, {"error": error, "error_description": description, "state": state, "iss": self.issuer}
            )
            return SimulatorError(error, description, redirect_url=redirect_url)

        if client.get("require_par") and not pushed:
            raise fail("unauthorized_client", f"client {client_id!r} must use pushed authorization requests")
        if params.get("response_type") != "code":
            raise fail(
                "unsupported_response_type", f"response_type must be 'code', got {params.get('response_type')!r}"
            )
        scopes = (params.get("scope") or "").split()
        if "openid" not in scopes:
            raise fail("invalid_scope", "the scope must include 'openid'")
        unknown = [scope for scope in scopes if scope not in SCOPES]
        if unknown:
            raise fail("invalid_scope", f"unsupported scope(s): {' '.join(unknown)}")
        challenge = params.get("code_challenge")
        if not challenge:
            raise fail("invalid_request", "PKCE is required: code_challenge is missing")
        if params.get("code_challenge_method") != "S256":
            raise fail("invalid_request", "PKCE method must be S256")
        if not _CHALLENGE_RE.match(challenge):
            raise fail("invalid_request", "code_challenge is not a base64url SHA-256 digest")
        requested_acr = (params.get("acr_values") or "").split()
        acr = next((value for value in requested_acr if value in ACR_VALUES), DEFAULT_ACR)
        return {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "nonce": params.get("nonce"),
            "code_challenge": challenge,
            "acr": acr,
            "ui_locales": params.get("ui_locales") or "",
        }

    def authorize(self, params):
        """Accept an authorization request (direct, or by ``request_uri`` after PAR).

        Returns the id of the pending login, to be finished with :meth:`approve` or :meth:`cancel`.
        """
        params = dict(params)
        request_uri = params.get("request_uri")
        if request_uri:
            self._client(params.get("client_id"), status=400)
            pushed = self.store.pop_once("par:" + _digest(request_uri))
            if pushed is None:
                raise SimulatorError("invalid_request_uri", "request_uri is unknown, expired or already used")
            if pushed["client_id"] != params.get("client_id"):
                raise SimulatorError("invalid_request_uri", "request_uri was pushed by another client")
            request = pushed
        else:
            request = self._validate_authorization(params)
        request_id = secrets.token_urlsafe(32)
        self.store.set("req:" + request_id, request, PENDING_TTL)
        return request_id

    def pending(self, request_id):
        """The pending authorization request (client_id, scope, acr...), or None."""
        return self.store.get("req:" + request_id) if request_id else None

    def _take_pending(self, request_id):
        request = self.store.pop_once("req:" + request_id) if request_id else None
        if request is None:
            raise SimulatorError("invalid_request", "the login request is unknown, expired or already finished")
        return request

    def approve(self, request_id, person, method=None):
        """Log ``person`` in (a :class:`Person`, a dict with the same keys, or a test national id).

        ``method`` plays how the person logged in: a key of :data:`METHODS` ("substantial" is BankID with
        biometrics, weaker than the code device or app), or an acr value; by default what the client asked.
        Returns the redirect URL back to the client, carrying a fresh code and the state.
        """
        if isinstance(person, str):
            found = find_test_person(person)
            if found is None:
                raise SimulatorError("invalid_request", f"no test person with national id {person!r}")
            person = found
        if isinstance(person, Person):
            person = person.to_dict()
        missing = [key for key in ("nnin", "given_name", "family_name", "birthdate") if not person.get(key)]
        if missing:
            raise SimulatorError("invalid_request", f"the person lacks {', '.join(missing)}")
        if method and METHODS.get(method, method) not in ACR_VALUES:
            raise SimulatorError("invalid_request", f"unknown login method {method!r}")
        request = self._take_pending(request_id)
        code = secrets.token_urlsafe(32)
        now = self.clock()
        if method:
            request = dict(request, acr=METHODS.get(method, method))
        grant = dict(request, person=dict(person), auth_time=int(now), expires_at=now + self.code_ttl)
        self.store.set("code:" + _digest(code), grant, self.code_ttl)
        return _add_query(request["redirect_uri"], {"code": code, "state": request["state"], "iss": self.issuer})

    def cancel(self, request_id, description="The user cancelled the login"):
        """End a pending login as cancelled; returns the redirect URL with ``error=access_denied``."""
        request = self._take_pending(request_id)
        return _add_query(
            request["redirect_uri"],
            {"error": "access_denied", "error_description": description, "state": request["state"], "iss": self.issuer},
        )

    def par(self, params, client_auth):
        """A pushed authorization request (RFC 9126). Returns the JSON body of the 201 answer."""
        params = dict(params)
        client_id = self.authenticate_client(params, client_auth, endpoint="par")
        for name in ("client_secret", "client_assertion", "client_assertion_type"):
            params.pop(name, None)
        params.setdefault("client_id", client_id)
        if "request_uri" in params:
            raise SimulatorError("invalid_request", "request_uri is not allowed in a pushed authorization request")
        try:
            request = self._validate_authorization(params, pushed=True)
        except SimulatorError as exc:
            exc.redirect_url = None  # PAR errors are answered directly, never redirected
            raise
        request_uri = PAR_URI_PREFIX + secrets.token_urlsafe(32)
        self.store.set("par:" + _digest(request_uri), request, PAR_TTL)
        return {"request_uri": request_uri, "expires_in": PAR_TTL}

    # -- token ----------------------------------------------------------------------------------

    def subject(self, nnin):
        """The stable ``sub`` of a person at this provider."""
        return _b64url(hmac.new(self._sub_secret, nnin.encode("utf-8"), hashlib.sha256).digest()[:18])

    def token(self, params, client_auth):
        """Redeem an authorization code. Returns the JSON body of the token response."""
        params = dict(params)
        client_id = self.authenticate_client(params, client_auth, endpoint="token")
        if params.get("grant_type") != "authorization_code":
            raise SimulatorError("unsupported_grant_type", f"grant_type {params.get('grant_type')!r} is not supported")
        code = params.get("code")
        if not code:
            raise SimulatorError("invalid_request", "code is missing")
        code_key = _digest(code)
        grant = self.store.pop_once("code:" + code_key)
        if grant is None:
            if self.store.get("used:" + code_key) is not None:
                raise SimulatorError("invalid_grant", "the authorization code was already used")
            raise SimulatorError("invalid_grant", "the authorization code is unknown or expired")
        # Remember the code as used for a while, so that a replay is reported as one.
        self.store.set("used:" + code_key, {"client_id": grant["client_id"]}, max(self.code_ttl, 1) * 10)
        now = self.clock()
        if grant["client_id"] != client_id:
            raise SimulatorError("invalid_grant", "the authorization code was issued to another client")
        if grant["expires_at"] <= now:
            raise SimulatorError("invalid_grant", "the authorization code has expired")
        if params.get("redirect_uri") != grant["redirect_uri"]:
            raise SimulatorError("invalid_grant", "redirect_uri differs from the one in the authorization request")
        verifier = params.get("code_verifier")
        if not verifier or not _PKCE_RE.match(verifier):
            raise SimulatorError("invalid_grant", "code_verifier is missing or malformed")
        challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        if not hmac.compare_digest(challenge.encode("ascii"), grant["code_challenge"].encode("ascii")):
            raise SimulatorError("invalid_grant", "code_verifier does not match the code_challenge")
        claims = self.id_token_claims(grant, now)
        id_token_claims = claims
        if self.clients[client_id].get("claims_at_userinfo"):
            # As Signicat by default: the name and national id only at the userinfo endpoint.
            id_token_claims = {key: value for key, value in claims.items() if key not in USERINFO_ONLY_CLAIMS}
        access_token = secrets.token_urlsafe(32)
        # Only a client that gets its claims at userinfo leaves them in the store; the others get the sub there.
        userinfo = {key: value for key, value in claims.items() if key == "sub" or key in USERINFO_ONLY_CLAIMS}
        if not self.clients[client_id].get("claims_at_userinfo"):
            userinfo = {"sub": claims["sub"]}
        self.store.set("at:" + _digest(access_token), userinfo, self.token_ttl)
        return {
            "access_token": access_token,
            "id_token": self.sign(id_token_claims),
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
        }

    def userinfo(self, authorization):
        """The userinfo answer (OpenID Connect Core 5.3) for a Bearer access token."""
        scheme, _, token = (authorization or "").partition(" ")
        claims = self.store.get("at:" + _digest(token.strip())) if scheme.lower() == "bearer" and token else None
        if claims is None:
            raise SimulatorError("invalid_token", "the access token is unknown or expired", status=401)
        return claims

    def id_token_claims(self, grant, now):
        """The ID token claims for a redeemed grant."""
        person = grant["person"]
        scopes = grant["scope"].split()
        claims = {
            "iss": self.issuer,
            "aud": grant["client_id"],
            "azp": grant["client_id"],
            "sub": self.subject(person["nnin"]),
            "iat": int(now),
            "exp": int(now) + self.token_ttl,
            "auth_time": grant["auth_time"],
            "acr": grant["acr"],
            "amr": [AMR_BY_ACR.get(grant["acr"], "BIS")],
        }
        if grant.get("nonce"):
            claims["nonce"] = grant["nonce"]
        if "profile" in scopes:
            claims.update(
                name=f"{person['given_name']} {person['family_name']}",
                given_name=person["given_name"],
                family_name=person["family_name"],
                birthdate=person["birthdate"],
            )
        if "nnin_altsub" in scopes:
            claims["nnin_altsub"] = person["nnin"]
        # BankID's stable identifier of the person, recommended over sub.
        claims["bankid_altsub"] = "altsub-" + self.subject(person["nnin"])
        return claims
