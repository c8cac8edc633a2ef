"""The relying party against what real BankID brokers do: levels of assurance, claims at userinfo, other
signing algorithms, private_key_jwt, no PAR, key rotation, and https issuers. Against the local OIDC peer."""

import dataclasses
import json

import jwt
from cryptography.hazmat.primitives import serialization

from odoo.tests import BaseCase, tagged

from ..sandbox.bankid import find_test_person, generate_ec_key_pem, generate_rsa_key_pem
from ..tools import oidc
from .oidc_peer import OidcPeer

REDIRECT_URI = "https://odoo.example.com/efaktura/bankid/callback"
KARI = find_test_person("14038541286")
SECRET_CLIENT = "secret-client"
USERINFO_CLIENT = "userinfo-client"  # as Signicat by default: name and national id only at userinfo
KEY_CLIENT = "key-client"  # private_key_jwt
KEY_ID = "odoo-key-1"


def _public_jwk(private_pem, kid):
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    algorithm = jwt.algorithms.ECAlgorithm if hasattr(key, "curve") else jwt.algorithms.RSAAlgorithm
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    return dict(jwk, kid=kid, use="sig")


@tagged("post_install", "-at_install")
class TestOidcBrokers(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client_key_pem = generate_rsa_key_pem()
        clients = {
            SECRET_CLIENT: {"secret": "s3cret", "redirect_uris": [REDIRECT_URI]},
            USERINFO_CLIENT: {"secret": "s3cret", "redirect_uris": [REDIRECT_URI], "claims_at_userinfo": True},
            KEY_CLIENT: {
                "auth": "private_key_jwt",
                "jwks": {"keys": [_public_jwk(cls.client_key_pem, KEY_ID)]},
                "redirect_uris": [REDIRECT_URI],
            },
        }
        cls.peer = OidcPeer(clients).start()
        cls.addClassCleanup(cls.peer.stop)
        cls.ps_peer = OidcPeer(clients, signing_alg="PS256").start()
        cls.addClassCleanup(cls.ps_peer.stop)
        cls.es_peer = OidcPeer(clients, signing_key_pem=generate_ec_key_pem(), signing_alg="ES256").start()
        cls.addClassCleanup(cls.es_peer.stop)

    def setUp(self):
        super().setUp()
        for peer in (self.peer, self.ps_peer, self.es_peer):
            peer.reset()
        oidc.JWKS_CACHE.clear()

    def provider(self, peer=None, **values):
        peer = peer or self.peer
        values = {
            "issuer": peer.issuer,
            "client_id": SECRET_CLIENT,
            "client_secret": "s3cret",
            "scopes": ("openid", "profile", "nnin_altsub"),
            **values,
        }
        return oidc.Provider(**values)

    def login(self, provider, peer=None, method=None, metadata=None):
        peer = peer or self.peer
        metadata = metadata or oidc.discover(peer.issuer)
        auth = oidc.start_authentication(provider, metadata, REDIRECT_URI)
        callback = peer.login(auth.url, KARI.nnin, method=method)
        return oidc.finish_authentication(provider, metadata, auth, callback, REDIRECT_URI)

    # -- levels of assurance --------------------------------------------------------------

    def test_required_level_is_asked_for_and_checked(self):
        provider = self.provider()
        auth = oidc.start_authentication(provider, oidc.discover(self.peer.issuer), REDIRECT_URI)
        self.assertIn("acr_values=urn%3Abankid%3Abid%3BLOA%3D4+urn%3Abankid%3Abim%3BLOA%3D4", auth.url)
        self.assertEqual(self.login(provider).assurance, "high")
        # BankID with biometrics is "substantial": refused when high is required, with the reason.
        with self.assertRaises(oidc.OidcAssuranceError) as caught:
            self.login(provider, method="substantial")
        self.assertEqual((caught.exception.acr, caught.exception.required), ("urn:bankid:bis;LOA=3", "high"))
        substantial = self.provider(min_assurance="substantial")
        self.assertEqual(self.login(substantial, method="substantial").assurance, "substantial")

    def test_assurance_mapping_per_provider(self):
        cases = (
            ("bankid", {"acr": "urn:bankid:bid;LOA=4"}, "high"),
            ("bankid", {"acr": "urn:bankid:bis;LOA=3"}, "substantial"),
            ("bankid", {"acr": "urn:bankid:low"}, ""),
            ("idura", {"acr": "urn:grn:authn:no:bankid:high"}, "high"),
            ("idura", {"acr": "urn:grn:authn:no:bankid:substantial"}, "substantial"),
            ("idura", {"acr": "urn:grn:authn:se:bankid"}, ""),  # a broker's other e-ID
            ("signicat", {"acr": "idp:nbid", "nbid_acr": "urn:bankid:bid;LOA=4"}, "high"),
            ("signicat", {"acr": "idp:nbid", "nbid_acr": "urn:bankid:bis;LOA=3"}, "substantial"),
            ("signicat", {"acr": "idp:sbid"}, ""),
        )
        for profile, claims, level in cases:
            with self.subTest(profile=profile, claims=claims):
                self.assertEqual(oidc.assurance_level(profile, claims), level)
                provider = self.provider(claim_mapping=profile)
                if level == "high":
                    oidc.check_assurance(provider, claims)
                else:
                    with self.assertRaises(oidc.OidcAssuranceError):
                        oidc.check_assurance(provider, claims)
        self.assertEqual(
            oidc.required_acr_values("idura", "high"), ("urn:grn:authn:no:bankid:high",), "sent to every provider"
        )
        self.assertEqual(
            oidc.required_acr_values("bankid", "substantial"),
            ("urn:bankid:bid;LOA=4", "urn:bankid:bim;LOA=4", "urn:bankid:bis;LOA=3"),
        )
        self.assertEqual(oidc.required_acr_values("signicat", "high"), ("idp:nbid",))

    # -- claims at userinfo ------------------------------------------------------------------

    def test_claims_missing_from_the_id_token_come_from_userinfo(self):
        provider = self.provider(client_id=USERINFO_CLIENT)
        identity = self.login(provider)
        self.assertEqual(self.peer.hits[("GET", "/userinfo")], 1)
        self.assertEqual((identity.name, identity.national_id), ("Kari Nordmann", KARI.nnin))
        self.assertNotIn("name", jwt.decode(self.peer_last_id_token(provider), options={"verify_signature": False}))
        # Claims in the ID token already: no userinfo call.
        self.peer.reset()
        self.login(self.provider())
        self.assertEqual(self.peer.hits[("GET", "/userinfo")], 0)

    def peer_last_id_token(self, provider):
        captured = []
        self.peer.id_token_rewriter = lambda token, _claims: captured.append(token) or token
        self.login(provider)
        self.peer.id_token_rewriter = None
        return captured[0]

    def test_userinfo_of_another_subject_is_refused(self):
        self.peer.userinfo_rewriter = lambda body: dict(body, sub="someone-else")
        with self.assertRaises(oidc.OidcTokenInvalid) as caught:
            self.login(self.provider(client_id=USERINFO_CLIENT))
        self.assertEqual(caught.exception.reason, "userinfo_sub")

    def test_bankid_altsub_is_the_stable_identifier(self):
        first = self.login(self.provider())
        second = self.login(self.provider())
        self.assertTrue(first.altsub)
        self.assertEqual(first.altsub, second.altsub)
        self.assertNotEqual(first.altsub, first.sub)

    # -- signing algorithms ----------------------------------------------------------------------

    def test_ps256_and_es256_from_the_allowlist(self):
        for peer, alg in ((self.ps_peer, "PS256"), (self.es_peer, "ES256")):
            with self.subTest(alg=alg):
                metadata = oidc.discover(peer.issuer)
                self.assertEqual(metadata["id_token_signing_alg_values_supported"], [alg])
                self.assertEqual(self.login(self.provider(peer), peer).national_id, KARI.nnin)

    def test_algorithm_not_advertised_by_discovery_is_refused(self):
        self.es_peer.metadata_overrides = {"id_token_signing_alg_values_supported": ["RS256"]}
        with self.assertRaises(oidc.OidcTokenInvalid) as caught:
            self.login(self.provider(self.es_peer), self.es_peer)
        self.assertEqual(caught.exception.reason, "alg")
        # Advertised, but outside the allowlist: refused too.
        self.es_peer.reset()
        with self.assertRaises(oidc.OidcTokenInvalid) as caught:
            self.login(self.provider(self.es_peer, allowed_algorithms=("RS256",)), self.es_peer)
        self.assertEqual(caught.exception.reason, "alg")
        metadata = oidc.discover(self.es_peer.issuer)
        self.assertIn(
            "none is in the allowlist",
            " ".join(oidc.configuration_problems(self.provider(self.es_peer, allowed_algorithms=("RS256",)), metadata)),
        )

    # -- private_key_jwt -------------------------------------------------------------------------

    def test_private_key_jwt_client_authentication(self):
        provider = self.provider(
            client_id=KEY_CLIENT,
            client_secret="",
            token_endpoint_auth="private_key_jwt",
            client_private_key=self.client_key_pem,
            client_key_id=KEY_ID,
        )
        self.assertEqual(self.login(provider).national_id, KARI.nnin)
        # Through PAR too.
        self.assertEqual(self.login(dataclasses.replace(provider, use_par=True)).sub, self.login(provider).sub)
        # Another key, or the client's secret instead of its key, is refused by the provider.
        wrong = dataclasses.replace(provider, client_private_key=generate_rsa_key_pem())
        with self.assertRaises(oidc.OidcHttpError) as caught:
            self.login(wrong)
        self.assertEqual((caught.exception.status, caught.exception.error), (401, "invalid_client"))
        with self.assertRaises(oidc.OidcHttpError) as caught:
            self.login(self.provider(client_id=KEY_CLIENT, client_secret="guess"))
        self.assertEqual(caught.exception.error, "invalid_client")

    # -- PAR, https, keys ----------------------------------------------------------------------------

    def test_par_ticked_but_not_advertised_is_a_configuration_error(self):
        self.peer.metadata_overrides = {"pushed_authorization_request_endpoint": None}
        metadata = oidc.discover(self.peer.issuer)
        provider = self.provider(use_par=True)
        with self.assertRaisesRegex(oidc.OidcConfigError, "PAR"):
            oidc.start_authentication(provider, metadata, REDIRECT_URI)
        self.assertEqual(self.peer.hits[("GET", "/authorize")], 0)
        self.assertTrue(oidc.configuration_problems(provider, metadata))
        self.assertFalse(oidc.configuration_problems(self.provider(), metadata))

    def test_http_issuer_is_refused_when_https_is_required(self):
        with self.assertRaisesRegex(oidc.OidcConfigError, "not an https address"):
            oidc.Provider(issuer="http://bankid.example.com", client_id="c", require_https=True)
        oidc.Provider(issuer="https://bankid.example.com", client_id="c", require_https=True)
        oidc.Provider(issuer="http://127.0.0.1:8080", client_id="c", require_https=True)  # loopback only

    def test_jwks_is_cached_and_fetched_again_once_on_an_unknown_kid(self):
        provider = self.provider()
        self.login(provider)
        self.login(provider)
        self.assertEqual(self.peer.hits[("GET", "/jwks")], 1, "cached between logins")
        old_key = self.peer.signing_key_pem
        self.peer.simulator.rotate_key(generate_rsa_key_pem())
        self.addCleanup(self.peer.simulator.rotate_key, old_key)
        self.login(provider)
        self.assertEqual(self.peer.hits[("GET", "/jwks")], 2, "fetched again once for the new kid")
        # A kid the provider never had: one more fetch, then refused.
        self.peer.id_token_rewriter = lambda _token, claims: self.peer.simulator.sign(claims, {"kid": "unknown"})
        with self.assertRaises(oidc.OidcTokenInvalid) as caught:
            self.login(provider)
        self.assertEqual(caught.exception.reason, "key")
        self.assertEqual(self.peer.hits[("GET", "/jwks")], 3)
