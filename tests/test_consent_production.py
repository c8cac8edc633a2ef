"""The consent flow in PRODUCTION mode (eFaktura 2.0), against the local MPS and OpenID provider peers.

BankID proves who the consumer is; the agreement is the consumer's "yes to all" in the nettbank or in Vipps,
which the issuer can only look up (getEfakturaIdentifiers by national identity number).
"""

import logging
from datetime import timedelta
from urllib.parse import urlencode

from freezegun import freeze_time

from odoo.tests import Form, new_test_user, tagged

from .. import compat
from ..models import efaktura_bankid
from .mps_peer import MODE_HTTP_ERROR, MODE_NORMAL, MpsPeer
from .oidc_peer import OidcPeer
from .test_consent import INGRID_NNIN, KARI_NNIN, ConsentCase

CLIENT_ID = "nordlys-odoo"
CLIENT_SECRET = "nordlys-secret"
INGRID_IDENTIFIER = "700000031"


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestConsentProduction(ConsentCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mps_peer = MpsPeer().start()
        cls.addClassCleanup(cls.mps_peer.stop)
        callback = cls.base_url() + "/efaktura/bankid/callback"
        cls.oidc_peer = OidcPeer({CLIENT_ID: {"secret": CLIENT_SECRET, "redirect_uris": [callback]}}).start()
        cls.addClassCleanup(cls.oidc_peer.stop)
        cls.company.write(
            {
                "efaktura_mode": "enabled",
                "efaktura_production_route": "mps",
                "efaktura_mps_endpoint": cls.mps_peer.url,
                "efaktura_mps_client_cert": __file__,  # plain HTTP to the peer: no TLS handshake is made
                "efaktura_bankid_provider": "bankid",
                "efaktura_bankid_issuer": cls.oidc_peer.issuer,
                "efaktura_bankid_client_id": CLIENT_ID,
                "efaktura_bankid_client_secret": CLIENT_SECRET,
            }
        )

    def setUp(self):
        super().setUp()
        efaktura_bankid._DISCOVERY_CACHE.clear()
        self.mps_peer.reset()
        self.mps_peer.add_issuer("123456785", self.company.name, "86011117947")
        self.oidc_peer.reset()
        self.addCleanup(self._check_peers)

    def _check_peers(self):
        self.assertEqual(self.mps_peer.errors, [], "the MPS peer saw something its schema forbids")
        self.assertEqual(self.oidc_peer.failures, [], "the OIDC peer crashed")

    def switch_on_efaktura(self, nnin=INGRID_NNIN, identifier=INGRID_IDENTIFIER):
        """The consumer says "yes to all" in the nettbank: only a lookup by national id finds her."""
        self.mps_peer.add_consumer(identifier, "Ingrid Hansen", ssn=nnin, auto_accept=True)

    def login(self, token, nnin=INGRID_NNIN, method=None, opener=None):
        """Open the consent page, start BankID, log in at the provider peer; returns the callback answer."""
        opener = opener or self.opener
        page = opener.get(self.url(f"/efaktura/consent/{token}"), timeout=30)
        self.assertEqual(page.status_code, 200)
        action, values = self.form(page, "/bankid")
        start = opener.post(self.url(action), data=values, allow_redirects=False, timeout=30)
        self.assertEqual(start.status_code, 303, start.text[:500])
        self.assertTrue(start.headers["Location"].startswith(self.oidc_peer.issuer))
        params = self.oidc_peer.login(start.headers["Location"], nnin, method=method)
        return opener.get(self.url("/efaktura/bankid/callback?" + urlencode(params)), timeout=60)

    def ingrid_state(self):
        ingrid = self.ingrid.with_company(self.company)
        ingrid.invalidate_recordset()
        return ingrid.efaktura_state, ingrid.efaktura_identifier

    # ------------------------------------------------------------------

    def test_found_at_once_is_accepted_with_the_identifier_and_the_invoice_goes_out(self):
        self.switch_on_efaktura()
        move = self.request_consent()
        answer = self.login(self.token_from_sms(self.ingrid))
        self.assertEqual(answer.status_code, 200, answer.text[:500])
        self.assertIn("Thank you", answer.text)
        self.assertNotIn("TEST", answer.text, "no test badge in production")
        consent = self.consent_of(self.ingrid)
        consent.invalidate_recordset()
        move.invalidate_recordset()
        self.assertEqual(consent.state, "accepted")
        self.assertEqual(self.ingrid_state(), ("active", INGRID_IDENTIFIER))
        self.assertEqual(consent.acr, "urn:bankid:bid;LOA=4")
        self.assertTrue(consent.bankid_altsub)
        self.assertFalse(consent.sudo().lookup_national_id, "erased once found")
        self.assertFalse(self.find_text_in_database(INGRID_NNIN))
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "nettbank"))
        self.assertIn(("123456785", move.name), self.mps_peer.invoices)
        # The provider was asked for the national id and the high level, and MPS was asked by national id.
        self.assertEqual(self.oidc_peer.hits[("POST", "/token")], 1)
        lookups = [r for r in self.mps_peer.requests if r.operation == "getEfakturaIdentifiers"]
        bodies = [r.body.decode() if isinstance(r.body, bytes) else r.body for r in lookups]
        self.assertTrue(any(INGRID_NNIN in body for body in bodies), "looked up by the verified national id")

    def test_not_found_then_switched_on_later_is_found_by_the_daily_lookup(self):
        move = self.request_consent()
        answer = self.login(self.token_from_sms(self.ingrid))
        self.assertEqual(answer.status_code, 200)
        self.assertIn("Slå på eFaktura i nettbanken eller i Vipps", answer.text)
        self.assertIn("Ja takk til alle", answer.text)
        consent = self.consent_of(self.ingrid)
        consent.invalidate_recordset()
        self.assertEqual((consent.state, consent.lookup_state), ("sent", "not_found"))
        self.assertEqual(self.ingrid_state(), ("consent_requested", False), "never active without an identifier")
        self.assertTrue(consent.sudo().lookup_national_id)
        # Not yet the next day: the cron leaves her alone.
        self.assertEqual(self.env["efaktura.consent.lookup"]._cron_lookup(), 0)
        self.switch_on_efaktura()
        with freeze_time(consent.next_lookup_at + timedelta(minutes=1)):
            self.assertEqual(self.env["efaktura.consent.lookup"]._cron_lookup(), 1)
        consent.invalidate_recordset()
        move.invalidate_recordset()
        self.assertEqual(consent.state, "accepted")
        self.assertEqual(self.ingrid_state(), ("active", INGRID_IDENTIFIER))
        self.assertFalse(consent.sudo().lookup_national_id)
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "nettbank"))

    def test_i_have_done_it_looks_up_at_once(self):
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        answer = self.login(token)
        action, values = self.form(answer, "/check")
        self.switch_on_efaktura()
        done = self.post(action, values)
        self.assertIn("Thank you", done.text)
        self.assertEqual(self.ingrid_state(), ("active", INGRID_IDENTIFIER))

    def test_the_consent_link_leads_back_to_the_guidance(self):
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        self.login(token)
        page = self.url_open(f"/efaktura/consent/{token}")
        self.assertIn("Jeg har gjort det", page.text)
        self.assertNotIn("Accept with BankID", page.text, "no second BankID login")
        action, values = self.form(page, "/check")
        self.switch_on_efaktura()
        self.assertIn("Thank you", self.post(action, values).text)

    def test_not_found_by_the_deadline_falls_back_and_erases_the_national_id(self):
        move = self.request_consent()
        self.login(self.token_from_sms(self.ingrid))
        consent = self.consent_of(self.ingrid)
        self.assertTrue(consent.sudo().lookup_national_id)
        lookups = consent.lookup_count
        with freeze_time(consent.deadline - timedelta(minutes=1)):
            self.env["efaktura.consent.lookup"]._cron_lookup()
        self.assertEqual(consent.lookup_count, lookups + 1, "a last lookup before the deadline")
        with freeze_time(consent.deadline + timedelta(minutes=1)):
            self.assertEqual(self.env["efaktura.consent.lookup"]._cron_lookup(), 0, "no lookup after the deadline")
            compat.run_cron(self, self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_deadlines"))
        consent.invalidate_recordset()
        move.invalidate_recordset()
        self.assertEqual(consent.state, "expired")
        self.assertFalse(consent.sudo().lookup_national_id, "erased at the deadline")
        self.assertFalse(self.find_text_in_database(INGRID_NNIN))
        self.assertEqual(move.efaktura_channel, "email")
        self.assertEqual(self.ingrid_state()[1], False)

    def test_lookup_outage_is_retried_and_never_active_without_identifier(self):
        self.switch_on_efaktura()
        move = self.request_consent()
        self.mps_peer.mode = MODE_HTTP_ERROR
        answer = self.login(self.token_from_sms(self.ingrid))
        self.assertEqual(answer.status_code, 200)
        self.assertIn("Vi fikk ikke kontakt", answer.text)
        consent = self.consent_of(self.ingrid)
        consent.invalidate_recordset()
        self.assertEqual((consent.state, consent.lookup_state), ("sent", "error"))
        self.assertEqual(self.ingrid_state(), ("consent_requested", False))
        self.assertLessEqual(consent.next_lookup_at, consent.requested_at + timedelta(hours=1), "retried soon")
        self.mps_peer.mode = MODE_NORMAL
        with freeze_time(consent.next_lookup_at + timedelta(minutes=1)):
            self.env["efaktura.consent.lookup"]._cron_lookup()
        consent.invalidate_recordset()
        move.invalidate_recordset()
        self.assertEqual(consent.state, "accepted")
        self.assertEqual(self.ingrid_state(), ("active", INGRID_IDENTIFIER))
        self.assertEqual(move.efaktura_channel, "nettbank")

    def test_weaker_login_is_refused_with_a_clear_page(self):
        self.switch_on_efaktura()
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        answer = self.login(token, method="substantial")
        self.assertEqual(answer.status_code, 403)
        self.assertIn("stronger login", answer.text)
        consent = self.consent_of(self.ingrid)
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "sent")
        self.assertFalse(consent.bankid_sub, "nothing recorded from a refused login")
        self.assertEqual(self.ingrid_state(), ("consent_requested", False))
        # The requested level was sent to the provider, and the company may accept biometrics.
        self.company.efaktura_bankid_min_assurance = "substantial"
        answer = self.login(token, method="substantial")
        self.assertIn("Thank you", answer.text)

    def test_state_is_bound_to_the_browser_that_started_the_login(self):
        self.switch_on_efaktura()
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        page = self.url_open(f"/efaktura/consent/{token}")
        action, values = self.form(page, "/bankid")
        start = self.post(action, values)
        params = self.oidc_peer.login(start.headers["Location"], INGRID_NNIN)
        other_browser = compat.new_browser(self)
        answer = other_browser.get(self.url("/efaktura/bankid/callback?" + urlencode(params)), timeout=60)
        self.assertEqual(answer.status_code, 400)
        self.assertEqual(self.consent_of(self.ingrid).state, "sent")
        self.assertEqual(self.oidc_peer.hits[("POST", "/token")], 0, "the code was not even redeemed")

    def test_name_mismatch_records_no_national_id(self):
        self.request_consent()
        answer = self.login(self.token_from_sms(self.ingrid), nnin=KARI_NNIN)
        self.assertEqual(answer.status_code, 403)
        consent = self.consent_of(self.ingrid)
        self.assertFalse(consent.sudo().lookup_national_id)
        self.assertFalse(self.find_text_in_database(KARI_NNIN))

    def test_national_id_never_in_a_log_line_a_view_or_the_chatter(self):
        capture = _Capture()
        root = logging.getLogger()
        root.addHandler(capture)
        self.addCleanup(root.removeHandler, capture)
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        self.mps_peer.mode = MODE_HTTP_ERROR
        self.login(token)
        self.mps_peer.mode = MODE_NORMAL
        consent = self.consent_of(self.ingrid)
        with freeze_time(consent.next_lookup_at + timedelta(minutes=1)):
            self.env["efaktura.consent.lookup"]._cron_lookup()
        self.switch_on_efaktura()
        self.assertIn("Thank you", self.post(*self.form(self.url_open(f"/efaktura/consent/{token}"), "/check")).text)
        self.assertTrue(capture.lines)
        self.assertFalse([line for line in capture.lines if INGRID_NNIN in line], "never in a log line")
        messages = self.env["mail.message"].sudo().search([])
        self.assertFalse(messages.filtered(lambda m: INGRID_NNIN in (m.body or "")), "never in the chatter")
        for view_type in ("form", "list"):
            arch = self.env["efaktura.consent"].get_view(view_type=view_type)["arch"]
            self.assertNotIn("national_id", arch.replace("national_id_hash", ""))
        manager = new_test_user(
            self.env, login="efaktura_manager", groups="account.group_account_manager", company_id=self.company.id
        )
        self.assertNotIn("lookup_national_id", self.env["efaktura.consent"].with_user(manager).fields_get())

    # ------------------------------------------------------------------
    # The company's BankID configuration
    # ------------------------------------------------------------------

    def test_par_ticked_but_not_advertised_is_a_configuration_error(self):
        self.oidc_peer.metadata_overrides = {"pushed_authorization_request_endpoint": None}
        self.company.efaktura_bankid_use_par = True
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        page = self.url_open(f"/efaktura/consent/{token}")
        action, values = self.form(page, "/bankid")
        answer = self.post(action, values)
        self.assertEqual(answer.status_code, 503, "no silent fallback to a plain authorization request")
        self.assertIn("BankID set-up", answer.text)
        self.assertEqual(self.oidc_peer.hits[("GET", "/authorize")], 0)
        self.assertIn("PAR", self.company.efaktura_bankid_problem)
        # The settings page shows it, and the check says what to do.
        settings_env = self.env(context=dict(self.env.context, allowed_company_ids=[self.company.id]))
        form = Form(settings_env["res.config.settings"])
        self.assertIn("PAR", form.efaktura_bankid_problem)
        self.company.efaktura_bankid_problem = False
        self.env["efaktura.bankid"]._check_configuration(self.company)
        self.assertIn("pushed_authorization_request_endpoint", self.company.efaktura_bankid_problem)
        self.company.efaktura_bankid_use_par = False
        self.env["efaktura.bankid"]._check_configuration(self.company)
        self.assertFalse(self.company.efaktura_bankid_problem)

    def test_http_issuer_is_refused_in_production(self):
        self.company.efaktura_bankid_issuer = "http://bankid.example.com/auth/realms/prod"
        self.env["efaktura.bankid"]._check_configuration(self.company)
        self.assertIn("not an https address", self.company.efaktura_bankid_problem)
        self.request_consent()
        page = self.url_open(f"/efaktura/consent/{self.token_from_sms(self.ingrid)}")
        action, values = self.form(page, "/bankid")
        self.assertEqual(self.post(action, values).status_code, 503)
