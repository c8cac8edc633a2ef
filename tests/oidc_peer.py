"""The sandbox BankID simulator served over HTTP on loopback, for tests.

It answers the standard endpoints (discovery, ``/authorize``, ``/token``, ``/jwks``, ``/par``) from a
:class:`~..sandbox.bankid.Simulator`, plus two test-only ones standing in for the login page:
``/approve?request_id=...&person=<national id>`` and ``/cancel?request_id=...``, both answering
with the redirect back to the client.

Tests can count the calls per endpoint (``hits``), replace the ID token the token endpoint returns
(``id_token_rewriter``) and change the discovery document (``metadata_overrides``; a value of None
removes the entry, as a provider without PAR has no ``pushed_authorization_request_endpoint``).
It also answers ``/userinfo`` for the access tokens it issued, and checks ``private_key_jwt`` client
assertions of clients registered with ``{"auth": "private_key_jwt", "jwks": {...}}``.
"""

import collections
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import jwt
import requests

from ..sandbox.bankid import ENDPOINT_PATHS, Simulator, SimulatorError, generate_rsa_key_pem


class _Handler(BaseHTTPRequestHandler):
    server_version = "OidcPeer/1"

    def log_message(self, *args):
        """Keep the test log free of one line per request."""

    def _send(self, status, body=None, location=None, headers=None):
        payload = json.dumps(body).encode("utf-8") if body is not None else b""
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        if location:
            self.send_header("Location", location)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _form(self):
        length = int(self.headers.get("Content-Length") or 0)
        pairs = parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
        names = [name for name, _value in pairs]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise SimulatorError("invalid_request", f"parameter(s) sent more than once: {', '.join(duplicated)}")
        return dict(pairs)

    def _dispatch(self, method):
        peer = self.server.peer
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        simulator = peer.simulator
        peer.hits[(method, url.path)] += 1
        route = (method, url.path)
        try:
            if route == ("GET", ENDPOINT_PATHS["discovery"]):
                metadata = dict(simulator.metadata(), **peer.metadata_overrides)
                return self._send(200, {key: value for key, value in metadata.items() if value is not None})
            if route == ("GET", ENDPOINT_PATHS["jwks"]):
                return self._send(200, simulator.jwks())
            if route == ("GET", ENDPOINT_PATHS["authorization"]):
                return self._send(200, {"request_id": simulator.authorize(query)})
            if route == ("GET", ENDPOINT_PATHS["userinfo"]):
                body = simulator.userinfo(self.headers.get("Authorization"))
                if peer.userinfo_rewriter is not None:
                    body = peer.userinfo_rewriter(dict(body))
                return self._send(200, body, headers={"Cache-Control": "no-store"})
            if route == ("GET", "/approve"):
                location = simulator.approve(query.get("request_id"), query.get("person"), query.get("method"))
                return self._send(302, location=location)
            if route == ("GET", "/cancel"):
                return self._send(302, location=simulator.cancel(query.get("request_id")))
            if route == ("POST", ENDPOINT_PATHS["par"]):
                body = simulator.par(self._form(), self.headers.get("Authorization"))
                return self._send(201, body, headers={"Cache-Control": "no-store"})
            if route == ("POST", ENDPOINT_PATHS["token"]):
                body = simulator.token(self._form(), self.headers.get("Authorization"))
                if peer.id_token_rewriter is not None:
                    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
                    body["id_token"] = peer.id_token_rewriter(body["id_token"], claims)
                return self._send(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
            return self._send(404, {"error": "not_found", "error_description": f"no route {method} {url.path}"})
        except SimulatorError as exc:
            if exc.redirect_url and method == "GET":
                return self._send(302, location=exc.redirect_url)
            headers = {"WWW-Authenticate": 'Basic realm="oidc-peer"'} if exc.status == 401 else None
            if exc.error == "invalid_token":
                headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return self._send(exc.status, exc.as_dict(), headers=headers)
        except Exception as exc:  # noqa: BLE001 - answered as a 500 so that the client sees it
            peer.failures.append(exc)
            return self._send(500, {"error": "server_error", "error_description": repr(exc)})

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")


class OidcPeer:
    """A loopback HTTP server in front of a :class:`Simulator`.

    ``clients`` is passed to the simulator; the issuer is ``http://127.0.0.1:<port>``.
    """

    def __init__(self, clients, signing_key_pem=None, **simulator_options):
        self.clients = clients
        self.signing_key_pem = signing_key_pem or generate_rsa_key_pem()
        self.simulator_options = simulator_options
        self.simulator = None
        self.server = None
        self.thread = None
        self.hits = collections.Counter()
        self.failures = []
        self.id_token_rewriter = None
        self.userinfo_rewriter = None
        self.metadata_overrides = {}

    @property
    def issuer(self):
        return self.simulator.issuer

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.peer = self
        host, port = self.server.server_address[:2]
        self.simulator = Simulator(
            f"http://{host}:{port}", self.signing_key_pem, self.clients, **self.simulator_options
        )
        self.thread = threading.Thread(target=self.server.serve_forever, name="oidc-peer", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)
            self.server = None

    def reset(self):
        """Forget the counters and the test overrides."""
        self.hits.clear()
        self.failures.clear()
        self.id_token_rewriter = None
        self.userinfo_rewriter = None
        self.metadata_overrides = {}

    def _redirect_params(self, response):
        if response.status_code != 302:
            raise AssertionError(f"expected a redirect, got HTTP {response.status_code}: {response.text}")
        return dict(parse_qsl(urlsplit(response.headers["Location"]).query, keep_blank_values=True))

    def open_login(self, authorization_url):
        """Open the authorization URL as the browser would; returns the pending request id."""
        response = requests.get(authorization_url, allow_redirects=False, timeout=10)
        if response.status_code != 200:
            raise AssertionError(f"authorization refused with HTTP {response.status_code}: {response.text}")
        return response.json()["request_id"]

    def login(self, authorization_url, person_nnin, method=None):
        """Log a test person in (``method``: "high" or "substantial", see ``bankid_simulator.METHODS``); returns
        the query parameters of the redirect back to the client."""
        request_id = self.open_login(authorization_url)
        response = requests.get(
            self.issuer + "/approve",
            params={"request_id": request_id, "person": person_nnin, **({"method": method} if method else {})},
            allow_redirects=False,
            timeout=10,
        )
        return self._redirect_params(response)

    def cancel_login(self, authorization_url):
        """Cancel the login; returns the query parameters of the redirect back to the client."""
        request_id = self.open_login(authorization_url)
        response = requests.get(
            self.issuer + "/cancel", params={"request_id": request_id}, allow_redirects=False, timeout=10
        )
        return self._redirect_params(response)
