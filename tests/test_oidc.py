import base64
import dataclasses
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, parse_qsl, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from stdnum.no import fodselsnummer

from odoo.tests import BaseCase, tagged

from ..sandbox.bankid import (
    DEFAULT_ACR,
    TEST_PERSONS,
    MemoryStore,
    Simulator,
    SimulatorError,
    find_test_person,
    generate_rsa_key_pem,
)
from ..tools import oidc
from .oidc_peer import OidcPeer

CLIENT_ID = "efaktura-odoo"
# Spaces and symbols check that Basic credentials are form-urlencoded on both sides.
CLIENT_SECRET = "s3cret with spaces & symbols:+/="
REDIRECT_URI = "https://odoo.example.com/efaktura/bankid/callback"
PAR_ONLY_CLIENT = "par-only"

HIGH_ACR = "urn:bankid:bid;LOA=4"
KARI = find_test_person("14038541286")
OLA = find_test_person("02118341344")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_json(value):
    return _b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


@tagged("post_install", "-at_install")
class TestOidcRelyingParty(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = OidcPeer(
            {
                CLIENT_ID: {"secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]},
                PAR_ONLY_CLIENT: {"secret": "par-secret", "redirect_uris": [REDIRECT_URI], "require_par": True},
            }
        ).start()
        cls.simulator = cls.peer.simulator
        try:
            cls.metadata = oidc.discover(cls.peer.issuer)
        except Exception:
            cls.peer.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.peer.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.peer.reset()
        oidc.JWKS_CACHE.clear()
        self.addCleanup(self._check_peer)

    def _check_peer(self):
        self.assertEqual(self.peer.failures, [], "the OIDC peer crashed while answering")

    # -- helpers ----------------------------------------------------------------------------

    def provider(self, **values):
        values = {
            "issuer": self.peer.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": ("openid", "profile", "nnin_altsub"),
            **values,
        }
        return oidc.Provider(**values)

    def login(self, provider=None, person=KARI):
        provider = provider or self.provider()
        auth = oidc.start_authentication(provider, self.metadata, REDIRECT_URI)
        return provider, auth, self.peer.login(auth.url, person.nnin)

    def finish(self, provider, auth, callback):
        return oidc.finish_authentication(provider, self.metadata, auth, callback, REDIRECT_URI)

    def login_with_rewritten_token(self, rewrite, provider=None):
        """A full login whose ID token the token endpoint replaces with ``rewrite(token, claims)``."""
        self.peer.id_token_rewriter = rewrite
        provider, auth, callback = self.login(provider)
        return self.finish(provider, auth, callback)

    def assert_rejected(self, rewrite, reason, provider=None):
        with self.assertRaises(oidc.OidcTokenInvalid) as caught:
            self.login_with_rewritten_token(rewrite, provider)
        self.assertEqual(caught.exception.reason, reason, str(caught.exception))
        self.assertEqual(self.peer.hits[("POST", "/token")], 1)
        return caught.exception

    def resign(self, **changes):
        """A rewriter re-signing the real claims, changed, with the simulator's own key."""

        def rewrite(_token, claims):
            claims = dict(claims, **changes)
            return self.simulator.sign({key: value for key, value in claims.items() if value is not None})

        return rewrite

    def public_key_pem(self):
        jwk = self.simulator.jwks()["keys"][0]
        public_key = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
        return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def simulator_alone(self, clock=time.time, **options):
        """A simulator without HTTP, for protocol checks."""
        return Simulator(
            "https://bankid.sandbox.example",
            self.peer.signing_key_pem,
            {CLIENT_ID: {"secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]}},
            store=MemoryStore(clock),
            clock=clock,
            **options,
        )

    @staticmethod
    def authorization_params(**changes):
        verifier = secrets.token_urlsafe(64)
        params = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile nnin_altsub",
            "state": "state-1",
            "nonce": "nonce-1",
            "code_challenge": oidc.pkce_challenge(verifier),
            "code_challenge_method": "S256",
            **changes,
        }
        return {key: value for key, value in params.items() if value is not None}, verifier

    @staticmethod
    def post_auth(params):
        return dict(params, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)

    # -- the relying party, end to end -------------------------------------------------------

    def test_happy_path_end_to_end(self):
        self.assertEqual(self.metadata["issuer"], self.peer.issuer)
        provider = self.provider()
        auth = oidc.start_authentication(provider, self.metadata, REDIRECT_URI)
        query = parse_qs(urlsplit(auth.url).query)
        self.assertTrue(auth.url.startswith(self.metadata["authorization_endpoint"] + "?"))
        self.assertEqual(query["code_challenge_method"], ["S256"])
        self.assertEqual(query["code_challenge"], [oidc.pkce_challenge(auth.code_verifier)])
        self.assertEqual(
            query["code_challenge"][0],
            _b64url(hashlib.sha256(auth.code_verifier.encode("ascii")).digest()),
        )
        self.assertEqual(query["state"], [auth.state])
        self.assertEqual(query["nonce"], [auth.nonce])
        self.assertEqual(query["acr_values"], ["urn:bankid:bid;LOA=4 urn:bankid:bim;LOA=4"], "high by default")
        self.assertNotIn("client_secret", query)
        for value in (auth.state, auth.nonce, auth.code_verifier):
            self.assertGreaterEqual(len(value), 43, "at least 256 bits of randomness, base64url")
        other = oidc.start_authentication(provider, self.metadata, REDIRECT_URI)
        self.assertNotEqual(
            (auth.state, auth.nonce, auth.code_verifier), (other.state, other.nonce, other.code_verifier)
        )

        callback = self.peer.login(auth.url, KARI.nnin)
        self.assertEqual(callback["state"], auth.state)
        identity = self.finish(provider, auth, callback)

        self.assertEqual(identity.national_id, KARI.nnin)
        self.assertTrue(fodselsnummer.is_valid(identity.national_id))
        self.assertEqual(identity.name, "Kari Nordmann")
        self.assertEqual(identity.given_name, "Kari")
        self.assertEqual(identity.family_name, "Nordmann")
        self.assertEqual(identity.birthdate, "1985-03-14")
        self.assertEqual(identity.sub, self.simulator.subject(KARI.nnin))
        self.assertEqual(identity.acr, HIGH_ACR)
        self.assertEqual(identity.assurance, "high")
        self.assertEqual(identity.amr, ("BID",))
        self.assertEqual(identity.altsub, "altsub-" + self.simulator.subject(KARI.nnin))
        self.assertEqual(identity.issuer, self.peer.issuer)
        self.assertEqual(self.peer.hits[("POST", "/token")], 1)
        self.assertEqual(self.peer.hits[("GET", "/jwks")], 1)

    def test_par_path(self):
        provider = self.provider(
            client_id=PAR_ONLY_CLIENT,
            client_secret="par-secret",
            use_par=True,
            token_endpoint_auth="client_secret_post",
        )
        auth = oidc.start_authentication(provider, self.metadata, REDIRECT_URI)
        self.assertEqual(self.peer.hits[("POST", "/par")], 1)
        query = parse_qs(urlsplit(auth.url).query)
        self.assertEqual(set(query), {"client_id", "request_uri"}, "the parameters travel through PAR only")
        self.assertEqual(query["client_id"], [PAR_ONLY_CLIENT])
        self.assertTrue(query["request_uri"][0].startswith("urn:ietf:params:oauth:request_uri:"))
        callback = self.peer.login(auth.url, OLA.nnin)
        identity = self.finish(provider, auth, callback)
        self.assertEqual(identity.national_id, OLA.nnin)
        self.assertEqual(identity.name, "Ola Nordmann")

    def test_par_only_client_cannot_skip_par(self):
        provider = self.provider(client_id=PAR_ONLY_CLIENT, client_secret="par-secret", use_par=False)
        auth = oidc.start_authentication(provider, self.metadata, REDIRECT_URI)
        self.assertEqual(self.peer.hits[("POST", "/par")], 0)
        response = requests.get(auth.url, allow_redirects=False, timeout=10)
        self.assertEqual(response.status_code, 302)
        callback = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
        with self.assertRaises(oidc.OidcProviderError) as caught:
            self.finish(provider, auth, callback)
        self.assertEqual(caught.exception.error, "unauthorized_client")
        self.assertFalse(caught.exception.cancelled)

    def test_state_mismatch(self):
        provider, auth, callback = self.login()
        with self.assertRaisesRegex(oidc.OidcStateMismatch, "state does not match"):
            self.finish(provider, auth, dict(callback, state=secrets.token_urlsafe(32)))
        with self.assertRaisesRegex(oidc.OidcStateMismatch, "no state"):
            self.finish(provider, auth, {key: value for key, value in callback.items() if key != "state"})
        self.assertEqual(self.peer.hits[("POST", "/token")], 0, "no code is redeemed for a foreign callback")

    def test_stale_authentication_request(self):
        provider, auth, callback = self.login(self.provider(request_ttl=600))
        with self.assertRaisesRegex(oidc.OidcStateMismatch, "older than 600 seconds"):
            oidc.finish_authentication(provider, self.metadata, auth, callback, REDIRECT_URI, now=auth.created_at + 601)
        self.assertEqual(self.peer.hits[("POST", "/token")], 0)

    def test_callback_from_another_issuer(self):
        provider, auth, callback = self.login()
        self.assertEqual(callback["iss"], self.peer.issuer)
        with self.assertRaisesRegex(oidc.OidcStateMismatch, "comes from issuer"):
            self.finish(provider, auth, dict(callback, iss="https://evil.example"))
        self.assertEqual(self.peer.hits[("POST", "/token")], 0)

    def test_provider_error_access_denied(self):
        provider = self.provider()
        auth = oidc.start_authentication(provider, self.metadata, REDIRECT_URI)
        callback = self.peer.cancel_login(auth.url)
        with self.assertRaises(oidc.OidcProviderError) as caught:
            self.finish(provider, auth, callback)
        self.assertEqual(caught.exception.error, "access_denied")
        self.assertTrue(caught.exception.cancelled)
        self.assertIn("cancelled", caught.exception.description)
        self.assertEqual(self.peer.hits[("POST", "/token")], 0)

    def test_discovery_issuer_mismatch(self):
        self.peer.metadata_overrides = {"issuer": "https://auth.bankid.no/auth/realms/prod"}
        with self.assertRaisesRegex(oidc.OidcConfigError, "names issuer 'https://auth.bankid.no"):
            oidc.discover(self.peer.issuer)
        with self.assertRaisesRegex(oidc.OidcConfigError, "names issuer"):
            oidc.discover(self.peer.issuer + oidc.DISCOVERY_PATH)

    def test_wrong_client_secret(self):
        provider = self.provider(client_secret="not-the-secret")
        provider, auth, callback = self.login(provider)
        with self.assertRaises(oidc.OidcHttpError) as caught:
            self.finish(provider, auth, callback)
        self.assertEqual((caught.exception.status, caught.exception.error), (401, "invalid_client"))

    # -- the ID token ------------------------------------------------------------------------

    def test_wrong_signing_key_with_same_kid(self):
        other_key = generate_rsa_key_pem()

        def rewrite(_token, claims):
            return jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": self.simulator.kid})

        self.assert_rejected(rewrite, "signature")
        self.assertEqual(self.peer.hits[("GET", "/jwks")], 1)

    def test_unknown_kid(self):
        def rewrite(_token, claims):
            return jwt.encode(claims, generate_rsa_key_pem(), algorithm="RS256", headers={"kid": "attacker-key"})

        error = self.assert_rejected(rewrite, "key")
        self.assertIn("attacker-key", str(error))

    def test_alg_none_rejected_before_fetching_keys(self):
        def rewrite(_token, claims):
            return jwt.encode(claims, None, algorithm="none", headers={"kid": self.simulator.kid})

        self.assert_rejected(rewrite, "alg")
        self.assertEqual(self.peer.hits[("GET", "/jwks")], 0, "the keys must not even be fetched")

    def test_hs256_with_public_key_as_secret(self):
        public_pem = self.public_key_pem()

        def rewrite(_token, claims):
            # The classic algorithm confusion: an HMAC keyed with the published RSA public key.
            # PyJWT refuses to produce it, so it is assembled from PyJWT's own HMAC primitive.
            header = {"alg": "HS256", "typ": "JWT", "kid": self.simulator.kid}
            signing_input = f"{_b64url_json(header)}.{_b64url_json(claims)}"
            hmac_sha256 = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256)
            signature = hmac_sha256.sign(signing_input.encode("ascii"), public_pem)
            return f"{signing_input}.{_b64url(signature)}"

        self.assert_rejected(rewrite, "alg")
        self.assertEqual(self.peer.hits[("GET", "/jwks")], 0, "the keys must not even be fetched")

    def test_wrong_audience(self):
        self.assert_rejected(self.resign(aud="another-client", azp=None), "aud")

    def test_wrong_issuer(self):
        self.assert_rejected(self.resign(iss="https://auth.current.bankid.no/auth/realms/current"), "iss")

    def test_expired(self):
        now = int(time.time())
        self.assert_rejected(self.resign(iat=now - 600, exp=now - 120), "expired")

    def test_expiry_within_leeway_is_accepted(self):
        now = int(time.time())
        identity = self.login_with_rewritten_token(self.resign(iat=now - 600, exp=now - 30))
        self.assertEqual(identity.national_id, KARI.nnin)

    def test_issued_in_the_future_beyond_leeway(self):
        now = int(time.time())
        self.assert_rejected(self.resign(iat=now + 300, exp=now + 900), "iat")

    def test_wrong_nonce(self):
        error = self.assert_rejected(self.resign(nonce=secrets.token_urlsafe(32)), "nonce")
        self.assertIn("nonce does not match", str(error))

    def test_missing_nonce(self):
        error = self.assert_rejected(self.resign(nonce=None), "missing_claim")
        self.assertIn("'nonce'", str(error))

    def test_azp_mismatch(self):
        with self.subTest("single audience, foreign azp"):
            self.peer.reset()
            self.assert_rejected(self.resign(azp="another-client"), "azp")
        with self.subTest("several audiences, no azp"):
            self.peer.reset()
            self.assert_rejected(self.resign(aud=[CLIENT_ID, "another-client"], azp=None), "azp")
        with self.subTest("several audiences, azp of this client"):
            self.peer.reset()
            identity = self.login_with_rewritten_token(self.resign(aud=[CLIENT_ID, "another-client"], azp=CLIENT_ID))
            self.assertEqual(identity.national_id, KARI.nnin)

    def test_tampered_payload(self):
        def rewrite(token, claims):
            header, _payload, signature = token.split(".")
            return ".".join((header, _b64url_json(dict(claims, nnin_altsub=OLA.nnin)), signature))

        self.assert_rejected(rewrite, "signature")

    def test_replayed_authorization_code(self):
        provider, auth, callback = self.login()
        self.assertEqual(self.finish(provider, auth, callback).national_id, KARI.nnin)
        with self.assertRaises(oidc.OidcHttpError) as caught:
            self.finish(provider, auth, callback)
        self.assertEqual((caught.exception.status, caught.exception.error), (400, "invalid_grant"))
        self.assertIn("already used", caught.exception.description)
        self.assertEqual(self.peer.hits[("POST", "/token")], 2)

    def test_wrong_code_verifier(self):
        provider, auth, callback = self.login()
        forged = dataclasses.replace(auth, code_verifier=secrets.token_urlsafe(64))
        with self.assertRaises(oidc.OidcHttpError) as caught:
            self.finish(provider, forged, callback)
        self.assertEqual(caught.exception.error, "invalid_grant")
        self.assertIn("code_verifier", caught.exception.description)
        # The code is burnt by the failed attempt: the right verifier cannot use it afterwards.
        with self.assertRaisesRegex(oidc.OidcHttpError, "already used"):
            self.finish(provider, auth, callback)

    # -- claim mapping -----------------------------------------------------------------------

    def test_claim_mapping_bankid(self):
        identity = self.login_with_rewritten_token(self.resign(nnin_altsub=None, nnin=KARI.nnin))
        self.assertEqual(identity.national_id, KARI.nnin, "BankID falls back to the nnin claim")
        self.peer.reset()
        identity = self.login_with_rewritten_token(self.resign(nnin=OLA.nnin))
        self.assertEqual(identity.national_id, KARI.nnin, "nnin_altsub comes first")

    def test_claim_mapping_signicat(self):
        provider = self.provider(claim_mapping="signicat", assurance_profile="bankid")
        identity = self.login_with_rewritten_token(self.resign(nnin_altsub=None, nin=KARI.nnin), provider)
        self.assertEqual(identity.national_id, KARI.nnin)
        self.peer.reset()
        identity = self.login_with_rewritten_token(self.resign(), provider)
        self.assertEqual(identity.national_id, "", "Signicat's mapping does not read BankID's claim")

    def test_claim_mapping_idura(self):
        provider = self.provider(claim_mapping="idura", assurance_profile="bankid")
        identity = self.login_with_rewritten_token(self.resign(nnin_altsub=None, ssn=KARI.nnin), provider)
        self.assertEqual(identity.national_id, KARI.nnin)
        self.peer.reset()
        identity = self.login_with_rewritten_token(self.resign(nnin_altsub=None, socialno=OLA.nnin), provider)
        self.assertEqual(identity.national_id, OLA.nnin, "the older socialno claim is read too")
        self.peer.reset()
        identity = self.login_with_rewritten_token(self.resign(), provider)
        self.assertEqual(identity.national_id, "")

    def test_names_from_given_and_family_name(self):
        identity = self.login_with_rewritten_token(self.resign(name=None))
        self.assertEqual(identity.name, "Kari Nordmann")

    def test_national_id_only_with_its_scope(self):
        provider = self.provider(scopes=("openid", "profile"))
        provider, auth, callback = self.login(provider)
        identity = self.finish(provider, auth, callback)
        self.assertEqual(identity.national_id, "")
        self.assertNotIn("nnin_altsub", identity.claims)
        self.assertEqual(identity.name, "Kari Nordmann")

    # -- name matching -----------------------------------------------------------------------

    def test_name_matches_positives(self):
        cases = (
            ("Kari Nordmann", "Kari", "Nordmann", ""),
            ("Nordmann, Kari", "Kari", "Nordmann", ""),
            ("KARI NORDMANN", "Kari", "Nordmann", ""),
            ("Kari Nordmann", "Kari Marie", "Nordmann", ""),
            ("Kari Marie Nordmann", "Kari", "Nordmann", ""),
            ("Åse Sørensen", "Aase", "Soerensen", ""),
            ("Ase Sorensen", "Åse", "Sørensen", ""),
            ("Ase Sörensen", "Åse", "Sørensen", ""),
            ("Per Olsen-Bræk", "Per", "Olsen Braek", ""),
            ("Hélène Dupont", "Helene", "Dupont", ""),
            ("Nordmann Kari", "", "", "Kari Nordmann"),
        )
        for card, given, family, full in cases:
            with self.subTest(card=card, verified=(given, family, full)):
                score, ok = oidc.name_matches(card, given, family, full)
                self.assertTrue(ok)
                self.assertGreater(score, 0.5)
        self.assertEqual(oidc.name_matches("Nordmann, Kari", "Kari", "Nordmann", ""), (1.0, True))
        self.assertLess(
            oidc.name_matches("Kari Marie Nordmann", "Kari", "Nordmann", "").score,
            oidc.name_matches("Kari Nordmann", "Kari", "Nordmann", "").score,
        )

    def test_name_matches_negatives(self):
        cases = (
            ("Kari Hansen", "Kari", "Nordmann", ""),
            ("Ola Nordmann", "Kari", "Nordmann", ""),
            ("K. Nordmann", "Kari", "Nordmann", ""),
            ("Nordmann", "Kari", "Nordmann", ""),
            ("Ingrid Hansen", "Kari", "Nordmann", ""),
            ("", "Kari", "Nordmann", ""),
            ("Kari Nordmann", "", "", ""),
            ("Kari Nordmannsen", "Kari", "Nordmann", ""),
        )
        for card, given, family, full in cases:
            with self.subTest(card=card, verified=(given, family, full)):
                self.assertFalse(oidc.name_matches(card, given, family, full).matches)
        self.assertEqual(oidc.name_matches("Per Olsen", "Kari", "Nordmann", "").score, 0.0)

    # -- configuration -----------------------------------------------------------------------

    def test_provider_refuses_unsafe_algorithms(self):
        for algorithms, message in (
            (("none",), "must not contain 'none'"),
            (("None",), "must not contain 'none'"),
            (("HS256",), "symmetric algorithm 'HS256'"),
            (("RS256", "HS512"), "symmetric algorithm 'HS512'"),
            (("hs384",), "symmetric algorithm 'hs384'"),
            ((), "at least one"),
        ):
            with self.subTest(algorithms=algorithms), self.assertRaisesRegex(oidc.OidcConfigError, message):
                self.provider(allowed_algorithms=algorithms)
        self.assertEqual(self.provider(allowed_algorithms=("RS256", "PS256")).allowed_algorithms, ("RS256", "PS256"))
        self.assertEqual(self.provider().allowed_algorithms, ("RS256", "PS256", "ES256"))

    def test_provider_refuses_other_bad_settings(self):
        for values, message in (
            ({"scopes": ("profile",)}, "openid"),
            ({"claim_mapping": "keycloak"}, "claim mapping"),
            ({"token_endpoint_auth": "client_secret_jwt"}, "token endpoint authentication"),
            ({"token_endpoint_auth": "private_key_jwt"}, "private_key_jwt needs the client's private key"),
            ({"token_endpoint_auth": "private_key_jwt", "client_private_key": "not a key"}, "cannot be read"),
            ({"min_assurance": "low"}, "level of assurance"),
            ({"client_id": ""}, "client_id"),
            ({"leeway": -1}, "leeway"),
        ):
            with self.subTest(values=values), self.assertRaisesRegex(oidc.OidcConfigError, message):
                self.provider(**values)
        self.assertNotIn(CLIENT_SECRET, repr(self.provider()))

    # -- the simulator -----------------------------------------------------------------------

    def test_simulator_redirect_uri_mismatch(self):
        simulator = self.simulator_alone()
        params, _verifier = self.authorization_params(redirect_uri="https://evil.example/callback")
        with self.assertRaises(SimulatorError) as caught:
            simulator.authorize(params)
        self.assertEqual(caught.exception.error, "invalid_request")
        self.assertIsNone(caught.exception.redirect_url, "never redirect to an unregistered URI")

    def test_simulator_unknown_client(self):
        simulator = self.simulator_alone()
        params, _verifier = self.authorization_params(client_id="stranger")
        with self.assertRaises(SimulatorError) as caught:
            simulator.authorize(params)
        self.assertEqual(caught.exception.error, "invalid_client")
        self.assertIsNone(caught.exception.redirect_url)
        with self.assertRaises(SimulatorError) as caught:
            simulator.token({"grant_type": "authorization_code", "code": "x"}, None)
        self.assertEqual((caught.exception.error, caught.exception.status), ("invalid_client", 401))

    def test_simulator_requires_pkce_s256(self):
        simulator = self.simulator_alone()
        for changes in ({"code_challenge": None}, {"code_challenge_method": "plain"}, {"code_challenge_method": None}):
            with self.subTest(changes=changes):
                params, _verifier = self.authorization_params(**changes)
                with self.assertRaises(SimulatorError) as caught:
                    simulator.authorize(params)
                self.assertEqual(caught.exception.error, "invalid_request")
                self.assertIn("error=invalid_request", caught.exception.redirect_url)
                self.assertIn("state=state-1", caught.exception.redirect_url)

    def test_simulator_response_type_and_scope(self):
        simulator = self.simulator_alone()
        params, _verifier = self.authorization_params(response_type="token")
        with self.assertRaises(SimulatorError) as caught:
            simulator.authorize(params)
        self.assertEqual(caught.exception.error, "unsupported_response_type")
        params, _verifier = self.authorization_params(scope="profile")
        with self.assertRaises(SimulatorError) as caught:
            simulator.authorize(params)
        self.assertEqual(caught.exception.error, "invalid_scope")

    def test_simulator_token_checks(self):
        clock = [1_000_000.0]
        simulator = self.simulator_alone(clock=lambda: clock[0])

        def new_code():
            params, verifier = self.authorization_params()
            location = simulator.approve(simulator.authorize(params), KARI)
            return parse_qs(urlsplit(location).query)["code"][0], verifier

        def redeem(code, verifier, **changes):
            params = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
                **changes,
            }
            return simulator.token(self.post_auth(params), None)

        code, verifier = new_code()
        with self.assertRaisesRegex(SimulatorError, "redirect_uri differs"):
            redeem(code, verifier, redirect_uri="https://odoo.example.com/other")
        code, verifier = new_code()
        clock[0] += 61
        with self.assertRaises(SimulatorError) as caught:
            redeem(code, verifier)
        self.assertEqual(caught.exception.error, "invalid_grant")
        code, verifier = new_code()
        with self.assertRaisesRegex(SimulatorError, "unsupported_grant_type"):
            redeem(code, verifier, grant_type="client_credentials")
        body = redeem(code, verifier)
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 300)
        header = jwt.get_unverified_header(body["id_token"])
        self.assertEqual((header["alg"], header["kid"]), ("RS256", simulator.kid))
        claims = jwt.decode(
            body["id_token"],
            jwt.PyJWKSet.from_dict(simulator.jwks()).keys[0].key,
            algorithms=["RS256"],
            audience=CLIENT_ID,
            issuer=simulator.issuer,
            options={"verify_exp": False, "verify_iat": False},
        )
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        self.assertEqual((claims["azp"], claims["nonce"], claims["acr"]), (CLIENT_ID, "nonce-1", DEFAULT_ACR))
        self.assertEqual(claims["nnin_altsub"], KARI.nnin)
        with self.assertRaisesRegex(SimulatorError, "already used"):
            redeem(code, verifier)

    def test_simulator_par_request_uri_is_single_use(self):
        simulator = self.simulator_alone()
        params, _verifier = self.authorization_params()
        pushed = simulator.par(self.post_auth(params), None)
        self.assertEqual(pushed["expires_in"], 90)
        self.assertTrue(simulator.authorize({"client_id": CLIENT_ID, "request_uri": pushed["request_uri"]}))
        with self.assertRaises(SimulatorError) as caught:
            simulator.authorize({"client_id": CLIENT_ID, "request_uri": pushed["request_uri"]})
        self.assertEqual(caught.exception.error, "invalid_request_uri")
        with self.assertRaises(SimulatorError) as caught:
            simulator.par(dict(params, client_id=CLIENT_ID, client_secret="wrong"), None)
        self.assertEqual((caught.exception.error, caught.exception.status), ("invalid_client", 401))

    def test_simulator_cancel_and_single_use_login(self):
        simulator = self.simulator_alone()
        params, _verifier = self.authorization_params()
        request_id = simulator.authorize(params)
        location = simulator.cancel(request_id)
        query = parse_qs(urlsplit(location).query)
        self.assertEqual((query["error"], query["state"]), (["access_denied"], ["state-1"]))
        with self.assertRaises(SimulatorError):
            simulator.approve(request_id, KARI)

    def test_simulator_subjects_and_keys(self):
        simulator = self.simulator_alone()
        self.assertEqual(simulator.subject(KARI.nnin), self.simulator.subject(KARI.nnin), "stable for a key")
        self.assertNotEqual(simulator.subject(KARI.nnin), simulator.subject(OLA.nnin))
        other = Simulator(simulator.issuer, generate_rsa_key_pem(), simulator.clients)
        self.assertNotEqual(other.kid, simulator.kid)
        self.assertNotEqual(other.subject(KARI.nnin), simulator.subject(KARI.nnin))
        (key,) = simulator.jwks()["keys"]
        self.assertEqual((key["kty"], key["use"], key["alg"], key["kid"]), ("RSA", "sig", "RS256", simulator.kid))
        self.assertNotIn("d", key, "the JWKS publishes the public key only")
        metadata = simulator.metadata()
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "pushed_authorization_request_endpoint"):
            self.assertTrue(metadata[name].startswith(simulator.issuer + "/"), name)

    def test_test_persons(self):
        names = {person.name for person in TEST_PERSONS}
        self.assertLessEqual({"Kari Nordmann", "Ola Nordmann", "Ingrid Hansen", "Per Olsen"}, names)
        self.assertGreaterEqual(len(TEST_PERSONS), 5)
        for person in TEST_PERSONS:
            with self.subTest(person=person.name):
                self.assertTrue(fodselsnummer.is_valid(person.nnin))
                self.assertEqual(str(fodselsnummer.get_birth_date(person.nnin)), person.birthdate)
        self.assertEqual(len({person.nnin for person in TEST_PERSONS}), len(TEST_PERSONS))
