"""The public routes as a hostile client and a link checker use them: only a POST with a valid CSRF token
changes anything, no page can be framed, and every answer speaks the customer's language."""

from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import compat
from ..models.efaktura_bankid import BANKID_SIMULATOR_PATH
from ..sandbox.bankid import ENDPOINT_PATHS
from .test_consent import INGRID_NNIN, ConsentCase

UNSAFE_READS = ("HEAD", "OPTIONS", "TRACE")


def identity_of(partner, nnin=""):
    """What BankID says about the person behind ``partner``."""
    from ..tools.oidc import VerifiedIdentity

    given, family = partner.name.split(" ", 1)
    return VerifiedIdentity(
        sub=f"sub-{partner.id}",
        name=partner.name,
        given_name=given,
        family_name=family,
        birthdate="1992-07-21",
        national_id=nnin,
        acr="urn:bankid:bis;LOA=3",
        amr=["BIS"],
        issuer="https://issuer.example",
        claims={},
    )


class PublicRouteCase(ConsentCase):
    def accepted_with_withdraw_link(self, partner):
        """An accepted consent of ``partner`` and the token of its withdrawal link."""
        self.request_consent(partner)
        consent = self.consent_of(partner)
        if partner == self.ingrid:
            self.ingrid_registry.jtta = True  # she said yes to all: the lookup after BankID finds her
            outcome = consent._accept(identity_of(partner, INGRID_NNIN), ip_address="198.51.100.4")
            self.assertEqual(outcome, "accepted")
        else:
            # No test person has this customer's national id: the acceptance as the lookup records it.
            consent.sudo().write(
                {"state": "accepted", "decided_at": fields.Datetime.now(), "ip_address": "198.51.100.4"}
            )
            partner.with_company(self.company)._efaktura_set_state("active")
        token = consent._new_token()
        consent.sudo().withdraw_token_hash = consent._hash_token_value(token)
        return consent, token

    def send(self, method, path, data=None, session=None):
        return (session or self.opener).request(method, self.url(path), data=data, allow_redirects=False, timeout=30)

    def assert_not_framable(self, response, what):
        self.assertEqual(response.headers.get("X-Frame-Options"), "DENY", what)
        self.assertIn("frame-ancestors 'none'", response.headers.get("Content-Security-Policy", ""), what)


@tagged("post_install", "-at_install")
class TestPublicRoutes(PublicRouteCase):
    @mute_logger("odoo.http")
    def test_head_options_trace_never_change_a_consent(self):
        """A link checker's HEAD, a CORS preflight's OPTIONS or a TRACE neither withdraws, declines nor starts
        BankID: 405, or the GET page for HEAD on a page, and the consent stays as it was."""
        consent, withdraw_token = self.accepted_with_withdraw_link(self.ingrid)
        self.request_consent(self.per)
        open_consent = self.consent_of(self.per)
        open_token = self.token_from_sms(self.per)
        routes = {
            f"/efaktura/consent/withdraw/{withdraw_token}": ("GET", "POST"),
            f"/efaktura/consent/{open_token}/decline": ("POST",),
            f"/efaktura/consent/{open_token}/bankid": ("POST",),
            f"/efaktura/consent/{open_token}": ("GET",),
        }
        for path, allowed in routes.items():
            for method in UNSAFE_READS:
                with self.subTest(method=method, path=path):
                    response = self.send(method, path)
                    consent.invalidate_recordset()
                    open_consent.invalidate_recordset()
                    self.assertEqual(consent.state, "accepted", f"{method} {path} withdrew the consent")
                    self.assertEqual(open_consent.state, "sent", f"{method} {path} answered the request")
                    self.assertFalse(open_consent.sudo().oidc_state_hash, f"{method} {path} started a BankID login")
                    if method == "HEAD" and "GET" in allowed:
                        self.assertEqual(response.status_code, 200)
                    else:
                        self.assertEqual(response.status_code, 405)
                        self.assertIn("POST" if "POST" in allowed else "GET", response.headers.get("Allow", ""))
                    self.assert_not_framable(response, f"{method} {path}")
        self.assertEqual(self.ingrid.with_company(self.company).efaktura_state, "active")
        self.assertEqual(self.per.with_company(self.company).efaktura_state, "consent_requested")
        # Odoo's own CSRF check is not the only guard: a POST without a valid token changes nothing either.
        for path in (f"/efaktura/consent/withdraw/{withdraw_token}", f"/efaktura/consent/{open_token}/decline"):
            with self.subTest(path=path, csrf="forged"):
                self.assertEqual(self.send("POST", path, {"csrf_token": "forged"}).status_code, 400)
        consent.invalidate_recordset()
        open_consent.invalidate_recordset()
        self.assertEqual((consent.state, open_consent.state), ("accepted", "sent"))

    @mute_logger("odoo.http")
    def test_every_public_page_refuses_to_be_framed(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        _consent, withdraw_token = self.accepted_with_withdraw_link(self.per)
        document = move._efaktura_document_url()[len(move.get_base_url()) :]
        sim = BANKID_SIMULATOR_PATH
        issuer_token = self.env["efaktura.issuer"]._sandbox_token(self.company)
        pages = [
            ("GET", f"/efaktura/consent/{token}"),
            ("GET", "/efaktura/consent/not-a-token"),
            ("GET", f"/efaktura/consent/withdraw/{withdraw_token}"),
            ("GET", "/efaktura/consent/withdraw/not-a-token"),
            ("POST", f"/efaktura/consent/{token}/decline"),
            ("POST", f"/efaktura/consent/{token}/bankid"),
            ("GET", "/efaktura/bankid/callback?state=forged&code=x"),
            ("GET", document),
            ("GET", document[:-2] + "00"),
            ("GET", f"/efaktura/sandbox/issuer/{self.company.id}/{issuer_token}"),
            ("GET", f"/efaktura/sandbox/issuer/{self.company.id}/00"),
            ("GET", sim + ENDPOINT_PATHS["discovery"]),
            ("GET", sim + ENDPOINT_PATHS["jwks"]),
            ("GET", sim + ENDPOINT_PATHS["authorization"] + "?client_id=x"),
            ("POST", sim + ENDPOINT_PATHS["token"]),
            ("POST", sim + ENDPOINT_PATHS["par"]),
        ]
        for method, path in pages:
            with self.subTest(method=method, path=path):
                response = self.send(method, path)
                self.assertLess(response.status_code, 500)
                self.assert_not_framable(response, f"{method} {path} ({response.status_code})")

    def test_link_after_the_deadline_job_says_it_expired(self):
        """The deadline job marked the request expired: the customer never answered, and is told the link
        expired and that the invoice comes by e-mail or post; not "Already answered"."""
        move = self.request_consent()
        token = self.token_from_sms(self.ingrid)
        consent = self.consent_of(self.ingrid)
        with freeze_time(consent.deadline + timedelta(minutes=1)):
            compat.run_cron(self, self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_deadlines"))
        consent.invalidate_recordset()
        move.invalidate_recordset()
        self.assertEqual(consent.state, "expired")
        self.assertEqual(move.efaktura_channel, "email")
        page = self.url_open(f"/efaktura/consent/{token}")
        self.assertEqual(page.status_code, 410)
        self.assertNotIn("Already answered", page.text)
        self.assertIn("This link has expired", page.text)
        self.assertIn("e-mail or post", page.text)
        self.assertIn('data-kind="expired"', page.text)
        # The same on the form's own routes, for a page opened before the deadline.
        answer = self.send("POST", f"/efaktura/consent/{token}/decline", {"csrf_token": "x"})
        self.assertIn('data-kind="expired"', answer.text)
        # An answered request still says so.
        self.request_consent(self.per)
        per_token = self.token_from_sms(self.per)
        self.consent_of(self.per)._decline()
        self.assertIn('data-kind="answered"', self.url_open(f"/efaktura/consent/{per_token}").text)

    @mute_logger("odoo.http")
    def test_form_posted_without_the_session_gets_the_module_page_in_norwegian(self):
        """A tab left open (the session cookie is gone) posts the form: the module's own page, in the customer's
        language, says the page expired; not Odoo's English "Session expired (invalid CSRF token)"."""
        self.env["res.lang"]._activate_lang("nb_NO")
        self.ingrid.lang = "nb_NO"
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        page = self.url_open(f"/efaktura/consent/{token}")
        stale_tab = compat.new_browser(self)
        self.addCleanup(stale_tab.close)
        for action in ("/decline", "/bankid"):
            with self.subTest(action=action):
                form_action, values = self.form(page, action)
                answer = self.send("POST", form_action, values, session=stale_tab)
                self.assertEqual(answer.status_code, 400)
                self.assertIn('data-kind="stale"', answer.text)
                self.assertIn('lang="nb-NO"', answer.text)
                self.assertNotIn("Session expired", answer.text)
                self.assert_not_framable(answer, action)
        consent = self.consent_of(self.ingrid)
        self.assertEqual(consent.state, "sent")
        # The withdrawal form too; with the page's own session, the same form works.
        self.per.lang = "nb_NO"
        consent, withdraw_token = self.accepted_with_withdraw_link(self.per)
        withdraw_page = self.url_open(f"/efaktura/consent/withdraw/{withdraw_token}")
        form_action, values = self.form(withdraw_page, "/withdraw/")
        answer = self.send("POST", form_action, values, session=stale_tab)
        self.assertEqual(answer.status_code, 400)
        self.assertIn('data-kind="stale"', answer.text)
        self.assertIn('lang="nb-NO"', answer.text)
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "accepted")
        self.assertEqual(self.send("POST", form_action, values).status_code, 200)
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "withdrawn")
