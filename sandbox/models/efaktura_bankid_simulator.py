"""The sandbox BankID simulator of one database: its storage and its configuration.

The protocol lives in ``sandbox/bankid.py``; this model keeps the simulator's pending logins,
pushed requests and authorization codes in the database, so that every worker of the server sees
them, and builds the :class:`~..bankid.Simulator` the HTTP layer answers with.

:func:`answer_machine_request` answers the endpoints a relying party calls (discovery, JWKS, PAR,
token) for the HTTP controller and for :class:`InProcessAdapter`, which lets code running inside
this Odoo server reach the simulator without an HTTP call to itself.
"""

import datetime
import io
import json
import logging
import time
from http import HTTPStatus
from urllib.parse import parse_qsl

import requests
from requests.structures import CaseInsensitiveDict

from odoo import api, fields, models
from odoo.tools import SQL

from ... import compat
from ..bankid import ENDPOINT_PATHS, Simulator, SimulatorError, generate_rsa_key_pem

_logger = logging.getLogger(__name__)

# The simulator's RSA private key, PEM, generated on first use and kept per database.
SIGNING_KEY_PARAM = "l10n_no_efaktura_b2c.bankid_simulator_key"
# The companies the simulator serves, one client each.
SANDBOX_COMPANIES = [("efaktura_mode", "=", "test")]
# Token and PAR answers carry credentials (RFC 6749 section 5.1).
NO_STORE_HEADERS = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
# The endpoints a relying party calls, by name, with the method each answers to.
MACHINE_ENDPOINTS = {"discovery": "GET", "jwks": "GET", "par": "POST", "token": "POST", "userinfo": "GET"}


def _utc_from_epoch(epoch):
    """A naive UTC datetime, as Odoo stores Datetime fields, from epoch seconds."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)


def single_values(pairs):
    """The parameters as a dict; a parameter sent twice is an error (RFC 6749 section 3.1)."""
    values = {}
    duplicated = set()
    for name, value in pairs:
        if name in values:
            duplicated.add(name)
        values[name] = value
    if duplicated:
        raise SimulatorError("invalid_request", f"parameter(s) sent more than once: {', '.join(sorted(duplicated))}")
    return values


def answer_machine_request(simulator, endpoint, pairs=(), authorization=None):
    """Answer one of :data:`MACHINE_ENDPOINTS`; ``pairs`` are the form parameters of a POST and
    ``authorization`` its Authorization header. Returns ``(status, JSON body, headers)``: errors
    are RFC 6749 JSON errors with their status, never exceptions."""
    try:
        if endpoint == "discovery":
            return 200, simulator.metadata(), []
        if endpoint == "jwks":
            return 200, simulator.jwks(), []
        if endpoint == "par":
            return 201, simulator.par(single_values(pairs), authorization), list(NO_STORE_HEADERS)
        if endpoint == "token":
            return 200, simulator.token(single_values(pairs), authorization), list(NO_STORE_HEADERS)
        if endpoint == "userinfo":
            return 200, simulator.userinfo(authorization), list(NO_STORE_HEADERS)
        raise ValueError(f"{endpoint!r} is not a machine endpoint of the simulator")
    except SimulatorError as exc:
        _logger.info("BankID simulator: %s request refused: %s", endpoint, exc)
        headers = list(NO_STORE_HEADERS)
        if exc.status == 401:
            headers.append(("WWW-Authenticate", 'Basic realm="BankID simulator"'))
        return exc.status, exc.as_dict(), headers


class InProcessAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport answering the simulator's machine endpoints in this process.

    Mounted on the issuer URL of a session (see ``_simulator_session``), it lets the relying party
    in this server discover, push requests and redeem codes through the same simulator, in the
    current transaction, without the HTTP call to itself that a single worker cannot answer. The
    login page (``/authorize``) is the browser's: it answers 404 here.
    """

    def __init__(self, simulator):
        super().__init__()
        self.simulator = simulator

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        rest = request.url[len(self.simulator.issuer) :]
        path = rest.partition("?")[0]
        endpoint = next((name for name in MACHINE_ENDPOINTS if ENDPOINT_PATHS[name] == path), None)
        if endpoint is None:
            return self._response(request, 404, {"error": "not_found", "error_description": f"no endpoint {path!r}"})
        if request.method != MACHINE_ENDPOINTS[endpoint]:
            body = {"error": "invalid_request", "error_description": f"use {MACHINE_ENDPOINTS[endpoint]}"}
            return self._response(request, 405, body, [("Allow", MACHINE_ENDPOINTS[endpoint])])
        form = request.body or ""
        if isinstance(form, bytes):
            form = form.decode("utf-8", errors="replace")
        pairs = parse_qsl(form, keep_blank_values=True) if request.method == "POST" else []
        status, body, headers = answer_machine_request(
            self.simulator, endpoint, pairs, request.headers.get("Authorization")
        )
        return self._response(request, status, body, headers)

    def close(self):
        """Nothing to release: no connection is ever opened."""

    @staticmethod
    def _response(request, status, body, headers=()):
        response = requests.Response()
        response.status_code = status
        response.reason = HTTPStatus(status).phrase
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **dict(headers)})
        response.raw = io.BytesIO(json.dumps(body).encode("utf-8"))
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        return response


class DatabaseStore:
    """A :class:`~..bankid.Store` kept in ``efaktura.bankid.simulator.entry`` rows.

    Expiry is dated with ``clock`` (epoch seconds, the simulator's clock by default), not with the
    database's transaction time, so an entry expires on time even inside a long transaction.
    """

    def __init__(self, model, clock=time.time):
        self._model = model.sudo()
        self._clock = clock

    def _now(self):
        return _utc_from_epoch(self._clock())

    def get(self, key):
        return self._model._store_get(key, self._now())

    def set(self, key, value, ttl):
        self._model._store_set(key, value, _utc_from_epoch(self._clock() + ttl))

    def delete(self, key):
        self._model._store_delete(key)

    def pop_once(self, key):
        return self._model._store_pop_once(key, self._now())


class EfakturaBankidSimulatorEntry(models.Model):
    _name = "efaktura.bankid.simulator.entry"
    _description = "BankID simulator entry"
    _log_access = False
    _rec_name = "key"
    _order = "id"

    key = fields.Char(required=True, readonly=True)
    value = fields.Text(required=True, readonly=True, help="The stored value, as JSON.")
    expires_at = fields.Datetime(string="Expires at", required=True, readonly=True, index=True)

    _key_unique = compat.Constraint("UNIQUE(key)", "A BankID simulator entry key must be unique.")

    # ------------------------------------------------------------------
    # Store primitives (raw SQL: atomic across workers, no ORM cache)
    # ------------------------------------------------------------------

    @api.model
    def _store_get(self, key, now):
        self.env.cr.execute(
            SQL("SELECT value FROM %s WHERE key = %s AND expires_at > %s", SQL.identifier(self._table), key, now)
        )
        row = self.env.cr.fetchone()
        return json.loads(row[0]) if row else None

    @api.model
    def _store_set(self, key, value, expires_at):
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO %(table)s (key, value, expires_at) VALUES (%(key)s, %(value)s, %(expires_at)s)
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
                """,
                table=SQL.identifier(self._table),
                key=key,
                value=json.dumps(value),
                expires_at=expires_at,
            )
        )

    @api.model
    def _store_delete(self, key):
        self.env.cr.execute(SQL("DELETE FROM %s WHERE key = %s", SQL.identifier(self._table), key))

    @api.model
    def _store_pop_once(self, key, now):
        """Delete the entry and return its value if it was live: of two concurrent calls, the
        row lock lets one delete it and the other find nothing."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM %s WHERE key = %s AND expires_at > %s RETURNING value",
                SQL.identifier(self._table),
                key,
                now,
            )
        )
        row = self.env.cr.fetchone()
        return json.loads(row[0]) if row else None

    @api.model
    def _cron_delete_expired(self):
        """Forget the pending logins, pushed requests and codes that have expired."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM %s WHERE expires_at <= %s",
                SQL.identifier(self._table),
                _utc_from_epoch(time.time()),
            )
        )
        if self.env.cr.rowcount:
            _logger.info("BankID simulator: deleted %s expired entries", self.env.cr.rowcount)
        return self.env.cr.rowcount

    # ------------------------------------------------------------------
    # The simulator of this database
    # ------------------------------------------------------------------

    @api.model
    def _sandbox_companies(self):
        return self.env["res.company"].sudo().search(SANDBOX_COMPANIES)

    @api.model
    def _simulator_enabled(self):
        """True when at least one company uses the sandbox, the only case the simulator answers in."""
        return bool(self.env["res.company"].sudo().search_count(SANDBOX_COMPANIES, limit=1))

    @api.model
    def _simulator_signing_key(self):
        """The simulator's RSA private key (PEM), created on first use; never leaves the server."""
        config = self.env["ir.config_parameter"].sudo()
        pem = config.get_param(SIGNING_KEY_PARAM)
        if pem:
            return pem
        # Two workers may get here at once: serialise them, and let the second one read the key
        # the first one stored instead of replacing it (tokens already signed would not verify).
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(hashtext(%s))", SIGNING_KEY_PARAM))
        self.env.cr.execute(SQL("SELECT value FROM ir_config_parameter WHERE key = %s", SIGNING_KEY_PARAM))
        row = self.env.cr.fetchone()
        if row and row[0]:
            return row[0]
        pem = generate_rsa_key_pem()
        config.set_param(SIGNING_KEY_PARAM, pem)
        _logger.info("BankID simulator: generated a new signing key for this database")
        return pem

    @api.model
    def _simulator_clients(self):
        """The simulator's clients: one per company in sandbox mode."""
        Bankid = self.env["efaktura.bankid"]
        return {
            Bankid._sandbox_client_id(company): {
                "secret": Bankid._sandbox_client_secret(company),
                "redirect_uris": [Bankid._redirect_uri(company)],
                "name": company.name,
            }
            for company in self._sandbox_companies()
        }

    @api.model
    def _simulator(self):
        """The BankID simulator of this database, backed by this model."""
        issuer = self.env["efaktura.bankid"]._sandbox_issuer(self.env["res.company"].sudo().browse())
        return Simulator(
            issuer,
            self._simulator_signing_key(),
            self._simulator_clients(),
            store=DatabaseStore(self),
        )

    @api.model
    def _simulator_session(self):
        """A ``requests`` session that reaches this database's simulator in-process and anything
        else over the network; pass it as ``session`` to the ``oidc`` functions for a company in
        sandbox mode."""
        simulator = self._simulator()
        session = requests.Session()
        session.mount(simulator.issuer + "/", InProcessAdapter(simulator))
        return session
