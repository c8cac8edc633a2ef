"""How the sandbox BankID authenticates its clients, in plain Python (no Odoo import).

At the token and PAR endpoints a client proves who it is with ``client_secret_basic``, ``client_secret_post`` or
``private_key_jwt`` (RFC 7523, a signed client assertion used once). :class:`ClientAuthentication` holds these checks
for :class:`~.bankid.Simulator`, whose ``clients``, ``store``, ``issuer`` and ``endpoint()`` they use.
"""

import base64
import hmac
from urllib.parse import unquote_plus

import jwt

from .bankid_protocol import SIGNING_ALGORITHMS, SimulatorError, _digest


class ClientAuthentication:
    """The client authentication of :class:`~.bankid.Simulator` (a mixin: it needs the simulator's ``clients``,
    ``store``, ``issuer`` and ``endpoint``)."""

    def _client(self, client_id, status=401):
        client = self.clients.get(client_id) if isinstance(client_id, str) else None
        if client is None:
            raise SimulatorError("invalid_client", f"unknown client {client_id!r}", status=status)
        return client

    def _authenticate_assertion(self, params, client_auth, audiences):
        """private_key_jwt (RFC 7523): the assertion is signed with the key the client registered, names the
        client as ``iss`` and ``sub`` and this provider (or the endpoint) as ``aud``, and is used once."""
        if client_auth or "client_secret" in params:
            raise SimulatorError("invalid_request", "use one client authentication method, not two")
        if params.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise SimulatorError("invalid_client", "unsupported client_assertion_type", status=401)
        assertion = params.get("client_assertion") or ""
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise SimulatorError("invalid_client", "the client assertion cannot be decoded", status=401) from None
        client_id = unverified.get("iss")
        client = self._client(client_id)
        if params.get("client_id") not in (None, client_id):
            raise SimulatorError("invalid_client", "client_id in the body differs from the assertion's issuer", 401)
        if client.get("auth") != "private_key_jwt" or not client.get("jwks"):
            raise SimulatorError("invalid_client", f"client {client_id!r} has no registered key", status=401)
        try:
            keys = jwt.PyJWKSet.from_dict(client["jwks"]).keys
            kid = jwt.get_unverified_header(assertion).get("kid")
            key = next((k for k in keys if kid in (None, k.key_id)), None)
            if key is None:
                raise SimulatorError("invalid_client", f"no registered key with kid {kid!r}", status=401)
            claims = jwt.decode(
                assertion,
                key.key,
                algorithms=list(SIGNING_ALGORITHMS),
                audience=list(audiences),
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.InvalidTokenError as exc:
            raise SimulatorError("invalid_client", f"the client assertion is not valid: {exc}", status=401) from None
        if claims["sub"] != client_id:
            raise SimulatorError("invalid_client", "the client assertion's sub is not its iss", status=401)
        if self.store.get("jti:" + _digest(claims["jti"])) is not None:
            raise SimulatorError("invalid_client", "the client assertion was already used", status=401)
        self.store.set("jti:" + _digest(claims["jti"]), {"client_id": client_id}, 600)
        return client_id

    def authenticate_client(self, params, client_auth, endpoint=None):
        """Return the client_id authenticated by the Authorization header, the posted secret or a signed
        client assertion (private_key_jwt).

        ``client_auth`` is the request's ``Authorization`` header value (or None); ``endpoint`` the name of
        the endpoint posted to (an audience a client assertion may name, beside the issuer).
        """
        if "client_assertion" in params or "client_assertion_type" in params:
            audiences = [self.issuer] + ([self.endpoint(endpoint)] if endpoint else [])
            return self._authenticate_assertion(params, client_auth, audiences)
        if client_auth:
            scheme, _, encoded = client_auth.partition(" ")
            if scheme.lower() != "basic":
                raise SimulatorError("invalid_client", f"unsupported authentication scheme {scheme!r}", status=401)
            if "client_secret" in params:
                raise SimulatorError("invalid_request", "use one client authentication method, not two")
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise SimulatorError("invalid_client", "malformed Basic credentials", status=401) from None
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                raise SimulatorError("invalid_client", "malformed Basic credentials", status=401)
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            if params.get("client_id") not in (None, client_id):
                raise SimulatorError(
                    "invalid_client", "client_id in the body differs from the authenticated client", 401
                )
        elif "client_secret" in params:
            client_id, secret = params.get("client_id"), params["client_secret"]
        else:
            raise SimulatorError("invalid_client", "client authentication is required", status=401)
        client = self._client(client_id)
        if client.get("auth") == "private_key_jwt":
            raise SimulatorError("invalid_client", f"client {client_id!r} must authenticate with private_key_jwt", 401)
        expected = client.get("secret") or ""
        if not expected or not hmac.compare_digest(str(secret).encode("utf-8"), expected.encode("utf-8")):
            raise SimulatorError("invalid_client", f"wrong secret for client {client_id!r}", status=401)
        return client_id
