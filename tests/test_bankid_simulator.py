import base64
import dataclasses
import re
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from ..models.efaktura_bankid import BANKID_SIMULATOR_PATH
from ..sandbox.bankid import TEST_PERSONS, find_test_person
from ..sandbox.models.efaktura_bankid_simulator import SIGNING_KEY_PARAM, DatabaseStore, InProcessAdapter
from ..tools import oidc
from .common import EfakturaCase

KARI = find_test_person("14038541286")
OLA = find_test_person("02118341344")
ROUTES = ("/.well-known/openid-configuration", "/jwks", "/authorize", "/par", "/token")
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def without_csrf(html):
    return re.sub(r'csrf_token: "[^"]*"', 'csrf_token: ""', html)


@tagged("post_install", "-at_install")
class TestBankidSimulatorHttp(EfakturaCase, HttpCase):
    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", self.base_url())
        self.issuer = self.base_url() + BANKID_SIMULATOR_PATH
        self.redirect_uri = self.env["efaktura.bankid"]._redirect_uri(self.company)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def sim_url(self, path, **query):
        url = self.issuer + path
        return f"{url}?{urlencode(query)}" if query else url

    def start(self, use_par=False):
        """Start a login for the company as the relying party does; returns (provider, metadata, auth)."""
        self.company.efaktura_bankid_use_par = use_par
        provider = self.env["efaktura.bankid"]._provider(self.company)
        metadata = oidc.discover(provider.issuer, session=self.opener)
        auth = oidc.start_authentication(provider, metadata, self.redirect_uri, session=self.opener)
        return provider, metadata, auth

    def open_login(self, url):
        """Open the login page; returns its HTML and the hidden fields of its form."""
        response = self.url_open(url, allow_redirects=False)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertIn("text/html", response.headers["Content-Type"])
        self.assertIn("no-store", response.headers["Cache-Control"])
        fields = {
            name: re.search(rf'name="{name}" value="([^"]+)"', response.text).group(1)
            for name in ("csrf_token", "request_id")
        }
        return response.text, fields

    def submit(self, fields, action, person=None):
        data = dict(fields, action=action)
        if person is not None:
            data["person"] = person
        return self.opener.post(self.sim_url("/authorize"), data=data, allow_redirects=False, timeout=30)

    def callback_params(self, response):
        """The query of the redirect back to the relying party."""
        self.assertEqual(response.status_code, 303, response.text)
        location = response.headers["Location"]
        self.assertTrue(location.startswith(self.redirect_uri + "?"), location)
        return dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))

    def login(self, person=KARI, use_par=False):
        """A whole login up to the callback; returns (provider, metadata, auth, callback params)."""
        provider, metadata, auth = self.start(use_par=use_par)
        _page, fields = self.open_login(auth.url)
        params = self.callback_params(self.submit(fields, "approve", person.nnin))
        return provider, metadata, auth, params

    def post_token(self, data, auth=None):
        headers = {"Authorization": auth} if auth else {}
        return self.opener.post(self.sim_url("/token"), data=data, headers=headers, allow_redirects=False, timeout=30)

    def basic(self, client_id, secret):
        return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()

    def assert_json_error(self, response, status, error):
        self.assertEqual(response.status_code, status, response.text)
        self.assertIn("application/json", response.headers["Content-Type"])
        self.assertEqual(response.json()["error"], error, response.text)
        self.assertTrue(response.json()["error_description"])

    def switch_to_production(self, companies):
        companies.sudo().write({"efaktura_network_mode": "production"})

    # ------------------------------------------------------------------
    # Documents
    # ------------------------------------------------------------------

    def test_discovery_and_jwks(self):
        response = self.url_open(self.sim_url("/.well-known/openid-configuration"))
        self.assertEqual(response.status_code, 200)
        self.assertIn("application/json", response.headers["Content-Type"])
        metadata = response.json()
        self.assertEqual(metadata["issuer"], self.issuer)
        self.assertEqual(metadata["issuer"], self.env["efaktura.bankid"]._provider(self.company).issuer)
        for key, path in (
            ("authorization_endpoint", "/authorize"),
            ("token_endpoint", "/token"),
            ("jwks_uri", "/jwks"),
            ("pushed_authorization_request_endpoint", "/par"),
        ):
            self.assertEqual(metadata[key], self.issuer + path)
        self.assertEqual(metadata["code_challenge_methods_supported"], ["S256"])
        self.assertEqual(oidc.discover(self.issuer, session=self.opener), metadata)

        response = self.url_open(metadata["jwks_uri"])
        self.assertEqual(response.status_code, 200)
        (key,) = response.json()["keys"]
        self.assertEqual((key["kty"], key["alg"], key["use"]), ("RSA", "RS256", "sig"))
        self.assertTrue(key["kid"] and key["n"] and key["e"])
        for member in PRIVATE_JWK_MEMBERS:
            self.assertNotIn(member, key)
        self.assertEqual(key["kid"], self.env["efaktura.bankid.simulator.entry"]._simulator().kid)

    def test_machine_endpoints_refuse_other_methods(self):
        for path, method in (
            ("/token", "get"),
            ("/par", "get"),
            ("/jwks", "post"),
            ("/.well-known/openid-configuration", "put"),
        ):
            with self.subTest(path=path, method=method):
                response = getattr(self.opener, method)(self.sim_url(path), allow_redirects=False, timeout=30)
                self.assertEqual(response.status_code, 405)
                self.assertTrue(response.headers["Allow"])

    # ------------------------------------------------------------------
    # Logins, driven by the relying party in oidc.py
    # ------------------------------------------------------------------

    def test_login_page_then_approve_returns_the_identity(self):
        provider, metadata, auth = self.start()
        self.assertEqual(provider.client_id, self.env["efaktura.bankid"]._sandbox_client_id(self.company))
        self.assertTrue(auth.url.startswith(self.issuer + "/authorize?"))
        page, fields = self.open_login(auth.url)
        self.assertIn("BankID simulator — sandbox", page)
        self.assertIn("Test tool", page)
        self.assertIn(self.company.name, page)
        for person in TEST_PERSONS:
            self.assertIn(person.name, page)
            self.assertIn(f"{person.nnin[:6]} *****", page)
        self.assertEqual(page.count('name="person"'), len(TEST_PERSONS))
        self.assertIn('value="approve"', page)
        self.assertIn('value="cancel"', page)

        params = self.callback_params(self.submit(fields, "approve", KARI.nnin))
        self.assertEqual(params["state"], auth.state)
        self.assertEqual(params["iss"], self.issuer)
        self.assertTrue(params["code"])
        identity = oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual(identity.national_id, KARI.nnin)
        self.assertEqual((identity.given_name, identity.family_name), (KARI.given_name, KARI.family_name))
        self.assertEqual(identity.name, KARI.name)
        self.assertEqual(identity.birthdate, KARI.birthdate)
        self.assertEqual(identity.issuer, self.issuer)
        self.assertEqual(identity.claims["aud"], provider.client_id)
        self.assertTrue(identity.sub)

        # The same person keeps the same subject across logins; another person has another one.
        provider, metadata, auth, params = self.login(OLA)
        ola = oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual(ola.national_id, OLA.nnin)
        self.assertNotEqual(ola.sub, identity.sub)
        provider, metadata, auth, params = self.login(KARI)
        again = oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual(again.sub, identity.sub)

    def test_login_with_pushed_authorization_request(self):
        provider, metadata, auth = self.start(use_par=True)
        self.assertTrue(provider.use_par)
        query = dict(parse_qsl(urlsplit(auth.url).query))
        self.assertEqual(set(query), {"client_id", "request_uri"})
        self.assertTrue(query["request_uri"].startswith("urn:ietf:params:oauth:request_uri:"))
        _page, fields = self.open_login(auth.url)
        params = self.callback_params(self.submit(fields, "approve", OLA.nnin))
        self.assertEqual(params["state"], auth.state)
        identity = oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual(identity.national_id, OLA.nnin)
        # A pushed request is used once.
        self.assert_json_error(self.url_open(auth.url, allow_redirects=False), 400, "invalid_request_uri")

    def test_par_needs_client_authentication(self):
        data = {
            "client_id": self.env["efaktura.bankid"]._sandbox_client_id(self.company),
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": "openid",
            "code_challenge": "A" * 43,
            "code_challenge_method": "S256",
        }
        response = self.opener.post(self.sim_url("/par"), data=data, allow_redirects=False, timeout=30)
        self.assert_json_error(response, 401, "invalid_client")
        self.assertIn("Basic", response.headers["WWW-Authenticate"])
        secret = self.env["efaktura.bankid"]._sandbox_client_secret(self.company)
        response = self.opener.post(
            self.sim_url("/par"), data=dict(data, client_secret=secret), allow_redirects=False, timeout=30
        )
        self.assertEqual(response.status_code, 201, response.text)
        self.assertIn("no-store", response.headers["Cache-Control"])
        self.assertTrue(response.json()["request_uri"])
        self.assertGreater(response.json()["expires_in"], 0)

    def test_cancel_redirects_with_access_denied(self):
        provider, metadata, auth = self.start()
        _page, fields = self.open_login(auth.url)
        params = self.callback_params(self.submit(fields, "cancel"))
        self.assertEqual(params["error"], "access_denied")
        self.assertEqual(params["state"], auth.state)
        self.assertNotIn("code", params)
        with self.assertRaises(oidc.OidcProviderError) as caught:
            oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertTrue(caught.exception.cancelled)
        # The login is over: approving it afterwards is refused.
        self.assert_json_error(self.submit(fields, "approve", KARI.nnin), 400, "invalid_request")

    def test_approve_without_a_person_shows_the_page_again(self):
        _provider, _metadata, auth = self.start()
        _page, fields = self.open_login(auth.url)
        response = self.submit(fields, "approve")
        self.assertEqual(response.status_code, 400)
        self.assertIn("Choose a test person", response.text)
        self.assertIn(KARI.name, response.text)
        # The login is still pending and can be finished.
        self.callback_params(self.submit(fields, "approve", KARI.nnin))

    def test_replayed_code_is_refused(self):
        provider, metadata, auth, params = self.login()
        oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        with self.assertRaises(oidc.OidcHttpError) as caught:
            oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual((caught.exception.status, caught.exception.error), (400, "invalid_grant"))
        self.assertIn("already used", caught.exception.description)

        response = self.post_token(
            {
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.redirect_uri,
                "code_verifier": auth.code_verifier,
            },
            auth=self.basic(provider.client_id, provider.client_secret),
        )
        self.assert_json_error(response, 400, "invalid_grant")
        self.assertIn("no-store", response.headers["Cache-Control"])

    def test_a_company_finishes_only_its_own_logins(self):
        other = self.env["res.company"].create({"name": "Fjord Test AS", "efaktura_mode": "test"})
        provider, metadata, auth, params = self.login()
        other_provider = self.env["efaktura.bankid"]._provider(other)
        self.assertNotEqual(other_provider.client_id, provider.client_id)
        with self.assertRaises(oidc.OidcHttpError) as caught:
            oidc.finish_authentication(other_provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual((caught.exception.status, caught.exception.error), (400, "invalid_grant"))
        self.assertIn("another client", caught.exception.description)

    def test_weaker_login_method_is_refused_by_the_relying_party(self):
        provider, metadata, auth = self.start()
        page, fields = self.open_login(auth.url)
        self.assertIn('value="substantial"', page, "the simulator offers the weaker BankID with biometrics")
        response = self.opener.post(
            self.sim_url("/authorize"),
            data=dict(fields, action="approve", person=KARI.nnin, method="substantial"),
            allow_redirects=False,
            timeout=30,
        )
        params = self.callback_params(response)
        with self.assertRaises(oidc.OidcAssuranceError) as caught:
            oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual(caught.exception.acr, "urn:bankid:bis;LOA=3")

    def test_wrong_client_secret_is_refused(self):
        provider, metadata, auth, params = self.login()
        wrong = dataclasses.replace(provider, client_secret="not-the-secret")
        with self.assertRaises(oidc.OidcHttpError) as caught:
            oidc.finish_authentication(wrong, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual((caught.exception.status, caught.exception.error), (401, "invalid_client"))
        for post in (False, True):
            with self.subTest(client_secret_post=post):
                data = {"grant_type": "authorization_code", "code": params["code"], "redirect_uri": self.redirect_uri}
                if post:
                    response = self.post_token(dict(data, client_id=provider.client_id, client_secret="nope"))
                else:
                    response = self.post_token(data, auth=self.basic(provider.client_id, "nope"))
                self.assert_json_error(response, 401, "invalid_client")
                self.assertIn("Basic", response.headers["WWW-Authenticate"])
                self.assertIn("no-store", response.headers["Cache-Control"])
        # Refused authentication does not burn the code: the real client still redeems it.
        identity = oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=self.opener)
        self.assertEqual(identity.national_id, KARI.nnin)

    def test_token_answer_and_id_token(self):
        provider, _metadata, auth, params = self.login()
        response = self.post_token(
            {
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.redirect_uri,
                "code_verifier": auth.code_verifier,
                "client_id": provider.client_id,
                "client_secret": provider.client_secret,
            }
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertIn("no-store", response.headers["Cache-Control"])
        self.assertIn("application/json", response.headers["Content-Type"])
        body = response.json()
        self.assertEqual(body["token_type"], "Bearer")
        jwks = self.url_open(self.sim_url("/jwks")).json()
        header = jwt.get_unverified_header(body["id_token"])
        self.assertEqual((header["alg"], header["kid"]), ("RS256", jwks["keys"][0]["kid"]))
        key = jwt.PyJWK(jwks["keys"][0]).key
        claims = jwt.decode(body["id_token"], key, algorithms=["RS256"], audience=provider.client_id)
        self.assertEqual(claims["iss"], self.issuer)
        self.assertEqual(claims["nonce"], auth.nonce)
        self.assertEqual(claims["nnin_altsub"], KARI.nnin)

    def test_in_process_session_reaches_the_same_simulator(self):
        """The relying party inside this server can use the simulator without calling itself over HTTP."""
        session = self.env["efaktura.bankid.simulator.entry"]._simulator_session()
        self.assertIsInstance(session.get_adapter(self.issuer + "/token"), InProcessAdapter)
        self.assertNotIsInstance(session.get_adapter("https://auth.bankid.no/token"), InProcessAdapter)
        for use_par in (False, True):
            with self.subTest(use_par=use_par):
                self.company.efaktura_bankid_use_par = use_par
                provider = self.env["efaktura.bankid"]._provider(self.company)
                metadata = oidc.discover(provider.issuer, session=session)
                self.assertEqual(metadata, self.url_open(self.sim_url("/.well-known/openid-configuration")).json())
                auth = oidc.start_authentication(provider, metadata, self.redirect_uri, session=session)
                # The person's part happens in the browser, over HTTP.
                _page, fields = self.open_login(auth.url)
                params = self.callback_params(self.submit(fields, "approve", OLA.nnin))
                identity = oidc.finish_authentication(
                    provider, metadata, auth, params, self.redirect_uri, session=session
                )
                self.assertEqual(identity.national_id, OLA.nnin)
                with self.assertRaises(oidc.OidcHttpError) as caught:
                    oidc.finish_authentication(provider, metadata, auth, params, self.redirect_uri, session=session)
                self.assertEqual((caught.exception.status, caught.exception.error), (400, "invalid_grant"))
        # Only the machine endpoints answer in-process; the login page is the browser's.
        response = session.get(self.sim_url("/authorize", client_id="x"), timeout=10)
        self.assertEqual((response.status_code, response.json()["error"]), (404, "not_found"))
        response = session.get(self.sim_url("/token"), timeout=10)
        self.assertEqual((response.status_code, response.headers["Allow"]), (405, "POST"))
        response = session.post(self.sim_url("/token"), data={"client_id": "x", "client_secret": "y"}, timeout=10)
        self.assert_json_error(response, 401, "invalid_client")
        self.assertIn("no-store", response.headers["Cache-Control"])

    # ------------------------------------------------------------------
    # Only in sandbox mode
    # ------------------------------------------------------------------

    def test_every_route_is_not_found_without_a_sandbox_company(self):
        entries = self.env["efaktura.bankid.simulator.entry"]
        self.assertTrue(entries._simulator_enabled())
        client_id = self.env["efaktura.bankid"]._sandbox_client_id(self.company)
        secret = self.env["efaktura.bankid"]._sandbox_client_secret(self.company)
        self.switch_to_production(self.env["res.company"].sudo().search([]))
        self.assertFalse(entries._simulator_enabled())
        unknown = self.url_open(self.sim_url("/no-such-route"), allow_redirects=False)
        self.assertEqual(unknown.status_code, 404)
        for path in ROUTES:
            for method in ("get", "post"):
                with self.subTest(path=path, method=method):
                    response = getattr(self.opener, method)(
                        self.sim_url(path),
                        params={"client_id": client_id, "response_type": "code"},
                        data={"client_id": client_id, "client_secret": secret} if method == "post" else None,
                        allow_redirects=False,
                        timeout=30,
                    )
                    self.assertEqual(response.status_code, 404, response.text)
                    self.assertTrue(response.headers["Content-Type"].startswith("text/html"))
                    # The same page as for an unknown URL, but for its per-request CSRF token.
                    self.assertEqual(without_csrf(response.text), without_csrf(unknown.text))
                    self.assertNotIn("openid", response.text)

    def test_client_of_a_production_company_is_unknown(self):
        other = self.env["res.company"].create({"name": "Fjord Sandkasse AS", "efaktura_mode": "test"})
        self.assertEqual(other.efaktura_network_mode, "sandbox")
        self.switch_to_production(self.env["res.company"].sudo().search([("id", "!=", other.id)]))
        self.assertTrue(self.env["efaktura.bankid.simulator.entry"]._simulator_enabled())
        client_id = self.env["efaktura.bankid"]._sandbox_client_id(self.company)
        response = self.url_open(
            self.sim_url(
                "/authorize",
                client_id=client_id,
                response_type="code",
                redirect_uri=self.redirect_uri,
                scope="openid",
                code_challenge="A" * 43,
                code_challenge_method="S256",
                state="s",
            ),
            allow_redirects=False,
        )
        self.assert_json_error(response, 400, "invalid_client")
        response = self.post_token(
            {"grant_type": "authorization_code", "code": "x", "redirect_uri": self.redirect_uri},
            auth=self.basic(client_id, self.env["efaktura.bankid"]._sandbox_client_secret(self.company)),
        )
        self.assert_json_error(response, 401, "invalid_client")
        # The company still in the sandbox logs in as before.
        provider = self.env["efaktura.bankid"]._provider(other)
        metadata = oidc.discover(provider.issuer, session=self.opener)
        auth = oidc.start_authentication(
            provider, metadata, self.env["efaktura.bankid"]._redirect_uri(other), session=self.opener
        )
        self.assertEqual(self.open_login(auth.url)[0].count('name="person"'), len(TEST_PERSONS))

    # ------------------------------------------------------------------
    # Garbage in, a clear 4xx out
    # ------------------------------------------------------------------

    @mute_logger("odoo.addons.l10n_no_efaktura_b2c.controllers.bankid_simulator")
    def test_garbage_input_never_gives_a_server_error(self):
        client_id = self.env["efaktura.bankid"]._sandbox_client_id(self.company)
        good = {
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile",
            "code_challenge": "A" * 43,
            "code_challenge_method": "S256",
            "state": "abc",
        }
        refused = [
            ({}, "invalid_client"),
            (dict(good, client_id="efaktura-sandbox-999999"), "invalid_client"),
            (dict(good, client_id="<script>alert(1)</script>"), "invalid_client"),
            (dict(good, redirect_uri="https://evil.example.com/cb"), "invalid_request"),
            ({k: v for k, v in good.items() if k != "redirect_uri"}, "invalid_request"),
            (dict(good, request_uri="urn:ietf:params:oauth:request_uri:nope"), "invalid_request_uri"),
        ]
        for params, error in refused:
            with self.subTest(params=params):
                response = self.url_open(self.sim_url("/authorize", **params), allow_redirects=False)
                self.assert_json_error(response, 400, error)
                self.assertNotIn("Location", response.headers)
        duplicated = self.url_open(
            self.sim_url("/authorize") + "?" + urlencode([*good.items(), ("client_id", client_id)]),
            allow_redirects=False,
        )
        self.assert_json_error(duplicated, 400, "invalid_request")

        # Errors the client may hear about go back to its registered redirect URI.
        redirected = [
            dict(good, response_type="token"),
            dict(good, scope="profile"),
            dict(good, scope="openid email"),
            {k: v for k, v in good.items() if k != "code_challenge"},
            dict(good, code_challenge_method="plain"),
            dict(good, code_challenge="short"),
        ]
        for params in redirected:
            with self.subTest(params=params):
                callback = self.callback_params(
                    self.url_open(self.sim_url("/authorize", **params), allow_redirects=False)
                )
                self.assertEqual(callback["state"], "abc")
                self.assertTrue(callback["error"])
                self.assertNotIn("code", callback)

        basic = self.basic(client_id, self.env["efaktura.bankid"]._sandbox_client_secret(self.company))
        grant = {"grant_type": "authorization_code"}
        token_cases = [
            ({}, None, 401, "invalid_client"),
            (grant, "Bearer abc", 401, "invalid_client"),
            (grant, "Basic !!!not base64", 401, "invalid_client"),
            (grant, "Basic " + base64.b64encode(b"no-colon").decode(), 401, "invalid_client"),
            ({"grant_type": "password"}, basic, 400, "unsupported_grant_type"),
            (grant, basic, 400, "invalid_request"),
            (dict(grant, code="forged"), basic, 400, "invalid_grant"),
        ]
        for data, auth, status, error in token_cases:
            with self.subTest(data=data, auth=auth):
                self.assert_json_error(self.post_token(data, auth=auth), status, error)
        response = self.opener.post(
            self.sim_url("/par"), data={"client_id": "nobody", "client_secret": "x"}, timeout=30
        )
        self.assert_json_error(response, 401, "invalid_client")

        # The login form: no CSRF token, a forged one, an unknown login, an unknown person or action.
        _provider, _metadata, auth = self.start()
        _page, fields = self.open_login(auth.url)
        form_cases = [
            ({k: v for k, v in fields.items() if k != "csrf_token"}, "approve", KARI.nnin),
            (dict(fields, csrf_token="forged"), "approve", KARI.nnin),
            (dict(fields, request_id="no-such-login"), "approve", KARI.nnin),
            (dict(fields, request_id="no-such-login"), "cancel", None),
            (fields, "approve", "12345678901"),
            (fields, "approve", "<script>alert(1)</script>"),
            (fields, "delete-everything", None),
        ]
        for form, action, person in form_cases:
            with self.subTest(form=form, action=action, person=person):
                response = self.submit(form, action, person)
                self.assert_json_error(response, 400, "invalid_request")
        # None of these ended the login: it is still there to approve.
        self.callback_params(self.submit(fields, "approve", KARI.nnin))

    def test_login_page_escapes_what_it_shows(self):
        self.company.name = 'Nordlys <script>alert("x")</script> AS'
        _provider, _metadata, auth = self.start()
        page, _fields = self.open_login(auth.url)
        self.assertNotIn("<script>alert", page)
        self.assertIn("Nordlys &lt;script&gt;alert", page)

    # ------------------------------------------------------------------
    # Signing key and storage
    # ------------------------------------------------------------------

    def test_signing_key_persists_per_database_and_stays_private(self):
        first = self.url_open(self.sim_url("/jwks")).json()["keys"][0]["kid"]
        second = self.url_open(self.sim_url("/jwks")).json()["keys"][0]["kid"]
        self.assertEqual(first, second)
        pem = self.env["ir.config_parameter"].sudo().get_param(SIGNING_KEY_PARAM)
        self.assertIn("PRIVATE KEY", pem)
        self.assertEqual(self.env["efaktura.bankid.simulator.entry"]._simulator().kid, first)
        key_lines = [line for line in pem.splitlines() if line and "PRIVATE KEY" not in line]
        bodies = [
            self.url_open(self.sim_url("/.well-known/openid-configuration")).text,
            self.url_open(self.sim_url("/jwks")).text,
            self.open_login(self.start()[2].url)[0],
        ]
        for body in bodies:
            self.assertNotIn("PRIVATE KEY", body)
            for line in key_lines:
                self.assertNotIn(line, body)
        jwk = self.url_open(self.sim_url("/jwks")).json()["keys"][0]
        for member in PRIVATE_JWK_MEMBERS:
            self.assertNotIn(member, jwk)
        # A new key (rotation by removing the parameter) gives a new kid, kept from then on.
        self.env["ir.config_parameter"].sudo().search([("key", "=", SIGNING_KEY_PARAM)]).unlink()
        rotated = self.url_open(self.sim_url("/jwks")).json()["keys"][0]["kid"]
        self.assertNotEqual(rotated, first)
        self.assertEqual(self.url_open(self.sim_url("/jwks")).json()["keys"][0]["kid"], rotated)

    def test_store_entries_expire_and_pop_once(self):
        entries = self.env["efaktura.bankid.simulator.entry"]
        now = [time.time()]
        store = DatabaseStore(entries, clock=lambda: now[0])
        store.set("code:one", {"client_id": "a", "n": 1}, ttl=60)
        store.set("code:two", {"client_id": "b"}, ttl=10)
        self.assertEqual(store.get("code:one"), {"client_id": "a", "n": 1})
        store.set("code:one", {"client_id": "a", "n": 2}, ttl=60)
        self.assertEqual(store.get("code:one"), {"client_id": "a", "n": 2})
        self.assertEqual(store.pop_once("code:one"), {"client_id": "a", "n": 2})
        self.assertIsNone(store.pop_once("code:one"))
        self.assertIsNone(store.get("code:one"))
        now[0] += 11
        self.assertIsNone(store.get("code:two"))
        self.assertIsNone(store.pop_once("code:two"))
        store.set("code:three", {"client_id": "c"}, ttl=-3600)
        store.set("code:four", {"client_id": "d"}, ttl=3600)
        self.assertIsNone(store.get("code:three"))
        store.delete("code:four")
        self.assertIsNone(store.get("code:four"))
        store.set("code:five", {"client_id": "e"}, ttl=3600)
        self.assertGreaterEqual(entries._cron_delete_expired(), 1)
        keys = entries.search([("key", "like", "code:%")]).mapped("key")
        self.assertNotIn("code:three", keys)
        self.assertIn("code:five", keys)
        cron = self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_bankid_simulator_cleanup")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "hours"))

    def test_entries_are_for_administrators_only(self):
        entries = self.env["efaktura.bankid.simulator.entry"]
        DatabaseStore(entries).set("req:secret", {"client_id": "x"}, ttl=60)
        with self.assertRaises(AccessError):
            entries.with_user(self.billing_user).search([])
        self.assertEqual(
            entries.with_user(self.env.ref("base.user_admin")).search([("key", "=", "req:secret")]).key, "req:secret"
        )
