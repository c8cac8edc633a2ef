"""The sandbox BankID simulator over HTTP.

The protocol is :class:`~..bankid.Simulator`'s; this controller only maps requests to it:
discovery and JWKS documents, the login page (``/authorize``, where a person picks a test person
and approves or cancels), pushed authorization requests and the token endpoint. The simulator only
exists while a company uses the sandbox: otherwise every route answers a plain 404, as an unknown
URL does.
"""

import functools
import logging

from odoo import fields, http
from odoo.http import request
from odoo.tools import format_date

from ...controllers.main import deny_framing
from ...models.efaktura_bankid import BANKID_SIMULATOR_PATH
from ..bankid import ENDPOINT_PATHS, TEST_PERSONS, SimulatorError
from ..models.efaktura_bankid_simulator import (
    MACHINE_ENDPOINTS,
    NO_STORE_HEADERS,
    answer_machine_request,
    single_values,
)

_logger = logging.getLogger(__name__)

PAGE_TEMPLATE = "l10n_no_efaktura_b2c.bankid_simulator_page"
# Frontend routes, like the pages of the portal: the login page speaks the visitor's language, and a
# disabled simulator's 404 is the same not-found page as that of a URL no route matches. Not
# multilang: no redirect to a language-prefixed URL, which would break the OAuth endpoints.
ROUTE_OPTIONS = {"type": "http", "auth": "public", "website": True, "multilang": False, "sitemap": False}
# The login page: never cached, never framed by another site.
PAGE_HEADERS = [
    *NO_STORE_HEADERS,
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
]


def _framing_denied(endpoint):
    """Every answer of the simulator, JSON and redirects too, says it may not be framed."""

    @functools.wraps(endpoint)
    def wrapped(self, *args, **kwargs):
        return deny_framing(endpoint(self, *args, **kwargs))

    return wrapped


def _path(endpoint):
    return BANKID_SIMULATOR_PATH + ENDPOINT_PATHS[endpoint]


def _masked_national_id(nnin):
    """The birth date part of a national identity number, the personal number hidden."""
    return f"{nnin[:6]} *****"


class BankidSimulatorController(http.Controller):
    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _simulator(self):
        """The simulator of this database; a plain 404 when no company uses the sandbox."""
        entries = request.env["efaktura.bankid.simulator.entry"].sudo()
        if not entries._simulator_enabled():
            raise request.not_found()
        return entries._simulator()

    def _json_error(self, exc):
        _logger.info("BankID simulator: %s refused: %s", request.httprequest.path, exc)
        return request.make_json_response(exc.as_dict(), headers=NO_STORE_HEADERS, status=exc.status)

    def _machine(self, endpoint):
        """Answer a discovery, JWKS, PAR or token request."""
        simulator = self._simulator()
        method = MACHINE_ENDPOINTS[endpoint]
        if not (self._is_read() if method == "GET" else request.httprequest.method == method):
            return self._method_not_allowed(method)
        status, body, headers = answer_machine_request(
            simulator,
            endpoint,
            request.httprequest.form.items(multi=True),
            request.httprequest.headers.get("Authorization"),
        )
        return request.make_json_response(body, headers=headers, status=status)

    def _error(self, exc):
        """Send the error back to the client when the core allows it, else answer it directly."""
        if exc.redirect_url:
            _logger.info("BankID simulator: authorization refused, redirected back: %s", exc)
            return request.redirect(exc.redirect_url, code=303, local=False)
        return self._json_error(exc)

    def _method_not_allowed(self, *allowed):
        method = request.httprequest.method
        return request.make_json_response(
            {
                "error": "invalid_request",
                "error_description": f"{method} is not allowed here; use {', '.join(allowed)}",
            },
            headers=[("Allow", ", ".join(allowed))],
            status=405,
        )

    def _is_read(self):
        return request.httprequest.method in ("GET", "HEAD")

    def _ui_lang(self, ui_locales):
        """The first installed language among the login request's ui_locales (BCP 47, preferred first)."""
        installed = [code for code, _name in request.env["res.lang"].get_installed()]
        for tag in (ui_locales or "").split():
            code = tag.replace("-", "_")
            match = next((c for c in installed if c == code), None) or next(
                (c for c in installed if c.split("_")[0] == code.split("_")[0]), None
            )
            if match:
                return match
        return None

    def _render_login(self, simulator, request_id, error=None, status=200):
        pending = simulator.pending(request_id)
        if pending is None:
            raise SimulatorError("invalid_request", "the login request is unknown, expired or already finished")
        # The page speaks the language the client asked for, like BankID's own; else the browser's.
        if lang := self._ui_lang(pending.get("ui_locales")):
            request.update_context(lang=lang)
        client = simulator.clients.get(pending["client_id"]) or {}
        persons = [
            {
                "nnin": person.nnin,
                "name": person.name,
                "birthdate": format_date(request.env, fields.Date.to_date(person.birthdate)),
                "masked_nnin": _masked_national_id(person.nnin),
            }
            for person in TEST_PERSONS
        ]
        values = {
            "request_id": request_id,
            "client_name": client.get("name") or pending["client_id"],
            "shares_national_id": "nnin_altsub" in pending["scope"].split(),
            "methods": [
                ("high", request.env._("BankID app or code device (high)")),
                ("substantial", request.env._("BankID with biometrics (substantial: weaker)")),
            ],
            "persons": persons,
            "form_action": _path("authorization"),
            "error": error,
        }
        return request.render(PAGE_TEMPLATE, values, status=status, headers=PAGE_HEADERS)

    # ------------------------------------------------------------------
    # Documents
    # ------------------------------------------------------------------

    @http.route(_path("discovery"), csrf=False, **ROUTE_OPTIONS)
    @_framing_denied
    def bankid_simulator_discovery(self, **kwargs):
        return self._machine("discovery")

    @http.route(_path("jwks"), csrf=False, **ROUTE_OPTIONS)
    @_framing_denied
    def bankid_simulator_jwks(self, **kwargs):
        return self._machine("jwks")

    # ------------------------------------------------------------------
    # The login page
    # ------------------------------------------------------------------

    # csrf=False: the POSTed form's CSRF token is checked in _authorize_form, after the 404 of a
    # disabled simulator, so that a disabled simulator answers every request the same way.
    @http.route(_path("authorization"), csrf=False, **ROUTE_OPTIONS)
    @_framing_denied
    def bankid_simulator_authorize(self, **kwargs):
        simulator = self._simulator()
        if request.httprequest.method == "POST":
            return self._authorize_form(simulator)
        if not self._is_read():
            return self._method_not_allowed("GET", "POST")
        try:
            request_id = simulator.authorize(single_values(request.httprequest.args.items(multi=True)))
            return self._render_login(simulator, request_id)
        except SimulatorError as exc:
            return self._error(exc)

    def _authorize_form(self, simulator):
        form = request.httprequest.form
        if not request.validate_csrf(form.get("csrf_token")):
            _logger.warning("BankID simulator: CSRF validation failed on the login form")
            return self._json_error(
                SimulatorError(
                    "invalid_request",
                    "the login form has expired or was not sent from the simulator's page; start the login again",
                )
            )
        try:
            form = single_values(form.items(multi=True))
            request_id = form.get("request_id")
            action = form.get("action")
            if action == "cancel":
                location = simulator.cancel(request_id)
            elif action == "approve":
                if not form.get("person"):
                    return self._render_login(
                        simulator,
                        request_id,
                        error=request.env._("Choose a test person to log in as, or cancel."),
                        status=400,
                    )
                location = simulator.approve(request_id, form["person"], form.get("method") or None)
            else:
                raise SimulatorError("invalid_request", f"unknown action {action!r}; expected approve or cancel")
        except SimulatorError as exc:
            return self._error(exc)
        return request.redirect(location, code=303, local=False)

    # ------------------------------------------------------------------
    # Machine endpoints
    # ------------------------------------------------------------------

    @http.route(_path("par"), csrf=False, **ROUTE_OPTIONS)
    @_framing_denied
    def bankid_simulator_par(self, **kwargs):
        return self._machine("par")

    @http.route(_path("token"), csrf=False, **ROUTE_OPTIONS)
    @_framing_denied
    def bankid_simulator_token(self, **kwargs):
        return self._machine("token")

    @http.route(_path("userinfo"), csrf=False, **ROUTE_OPTIONS)
    def bankid_simulator_userinfo(self, **kwargs):
        return self._machine("userinfo")
