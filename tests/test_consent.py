import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import requests
from freezegun import freeze_time
from lxml import html
from psycopg2 import IntegrityError

from odoo import fields, http
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .. import compat
from ..sandbox.bankid import TEST_PERSONS
from ..sandbox.models.efaktura_bankid_simulator import InProcessAdapter
from .common import EfakturaInvoiceCase, SelfCallsInProcess

INGRID_NNIN = next(p.nnin for p in TEST_PERSONS if p.given_name == "Ingrid")
KARI_NNIN = next(p.nnin for p in TEST_PERSONS if p.given_name == "Kari")
LINK_RE = re.compile(r"/efaktura/consent/([A-Za-z0-9_-]{43,})")


class ConsentCase(SelfCallsInProcess, EfakturaInvoiceCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("web.base.url", cls.base_url())
        # Ingrid has eFaktura in her bank but did not say yes to all issuers.
        cls.ingrid_registry = registry = cls.env["efaktura.sandbox.consumer"].create(
            {"name": "Ingrid Hansen", "mobile": "+4791345678", "jtta": False, "vipps": False}
        )
        registry.national_id = INGRID_NNIN

    def request_consent(self, partner=None, amount=1000):
        move = self.dispatch(self.make_invoice(partner or self.ingrid, amount=amount))
        self.assertEqual(move.efaktura_state, "awaiting_consent")
        return move

    def consent_of(self, partner):
        return self.env["efaktura.consent"].search([("partner_id", "=", partner.id)], order="id desc", limit=1)

    def sms_to(self, partner):
        return self.env["sms.sms"].sudo().search([("partner_id", "=", partner.id)])

    def token_from_sms(self, partner):
        sms = self.sms_to(partner)
        self.assertEqual(len(sms), 1)
        match = LINK_RE.search(sms.body)
        self.assertTrue(match, sms.body)
        return match.group(1)

    def form(self, response, action_contains=""):
        """The page's POST form: its action and its fields, as a browser would submit them."""
        tree = html.fromstring(response.content)
        for form in tree.forms:
            if action_contains in (form.action or ""):
                values = dict(form.form_values())
                return form.action, values
        self.fail(f"no form with {action_contains!r} in {response.url}")

    def post(self, url, data):
        return self.opener.post(
            self.url(url) if url.startswith("/") else url, data=data, allow_redirects=False, timeout=30
        )

    def url(self, path):
        return self.base_url() + path

    def find_text_in_database(self, needle):
        """Every text column of every table that holds the value: a SQL search of the whole database."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT table_name, column_name FROM information_schema.columns
                WHERE table_schema = 'public' AND data_type IN ('character varying', 'text', 'jsonb')"""
        )
        hits = []
        for table, column in self.env.cr.fetchall():
            self.env.cr.execute(
                f'SELECT 1 FROM "{table}" WHERE "{column}"::text LIKE %s LIMIT 1',
                [f"%{needle}%"],
            )
            if self.env.cr.fetchone():
                hits.append(f"{table}.{column}")
        return hits

    def bankid_login(self, token, nnin, action="approve"):
        """Open the consent page, start BankID, pick a test person in the simulator; returns the callback URL."""
        page = self.url_open(f"/efaktura/consent/{token}")
        self.assertEqual(page.status_code, 200)
        action_url, values = self.form(page, "/bankid")
        start = self.post(action_url, values)
        self.assertEqual(start.status_code, 303, start.text[:500])
        authorize = self.opener.get(start.headers["Location"], timeout=30)
        self.assertEqual(authorize.status_code, 200)
        sim_action, sim_values = self.form(authorize, "/efaktura/bankid-sim")
        sim_values.update({"person": nnin, "action": action})
        answer = self.post(sim_action, sim_values)
        self.assertIn(answer.status_code, (302, 303))
        return answer.headers["Location"]


@tagged("post_install", "-at_install")
class TestConsentFlow(ConsentCase):
    def test_request_sends_sms_and_mail_with_link_once(self):
        move = self.request_consent()
        consent = self.consent_of(self.ingrid)
        self.assertEqual(consent.state, "sent")
        self.assertEqual(consent.move_ids, move)
        self.assertAlmostEqual(consent.deadline, fields.Datetime.now() + timedelta(days=3), delta=timedelta(minutes=1))
        self.assertEqual(move.efaktura_deadline, consent.deadline)
        sms = self.sms_to(self.ingrid)
        self.assertEqual(len(sms), 1)
        self.assertEqual(sms.number, "+4791345678")
        token = self.token_from_sms(self.ingrid)
        self.assertGreaterEqual(len(token), 43, "at least 256 bits")
        # One SMS segment says who asks, what and how; the e-mail tells the rest.
        for words in (self.company.name, "eFaktura", "BankID"):
            self.assertIn(words, sms.body)
        mail = self.env["mail.mail"].sudo().search([("model", "=", "efaktura.consent"), ("res_id", "=", consent.id)])
        self.assertEqual(len(mail), 1)
        for words in ("No fees", "e-mail or post", "BankID"):
            self.assertIn(words, mail.body_html)
        self.assertIn(f"/efaktura/consent/{token}", mail.body_html)
        self.assertIn(self.ingrid, mail.recipient_ids)
        # Only a hash of the token is kept.
        self.assertNotEqual(consent.sudo().token_hash, token)
        self.assertEqual(len(consent.sudo().token_hash), 64)
        self.assertEqual(self.env["efaktura.consent"]._find_by_token(token), consent)
        self.assertEqual(self.ingrid.with_company(self.company).efaktura_state, "consent_requested")
        # A second invoice waits with the first: no second SMS, no second request.
        second = self.request_consent(amount=250)
        self.assertEqual(len(self.sms_to(self.ingrid)), 1)
        self.assertEqual(self.env["efaktura.consent"].search_count([("partner_id", "=", self.ingrid.id)]), 1)
        self.assertEqual(consent.move_ids, move | second)
        self.assertEqual(second.efaktura_deadline, consent.deadline)

    def test_one_open_request_per_customer_is_enforced_by_the_database(self):
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            consent.sudo().copy({"state": "sent"})

    def test_norwegian_customer_gets_norwegian_sms(self):
        self.env["res.lang"]._activate_lang("nb_NO")
        self.env["ir.module.module"]._load_module_terms(["l10n_no_efaktura_b2c"], ["nb_NO"], overwrite=True)
        self.ingrid.lang = "nb_NO"
        self.request_consent()
        body = self.sms_to(self.ingrid).body
        self.assertIn("Godkjenn med BankID", body)
        self.assertIn("nettbanken", body)

    def test_full_flow_through_http_delivers_to_the_nettbank(self):
        move = self.request_consent()
        token = self.token_from_sms(self.ingrid)
        page = self.url_open(f"/efaktura/consent/{token}")
        self.assertIn(self.company.name, page.text)
        self.assertIn("Accept with BankID", page.text)
        self.assertIn("No thanks", page.text)
        for secret in (move.name, move.payment_reference, "1,000", "1 000"):
            self.assertNotIn(secret, page.text, "the consent page shows no invoice data")
        callback = self.bankid_login(token, INGRID_NNIN)
        self.assertTrue(callback.startswith(self.url("/efaktura/bankid/callback")))
        guidance = self.opener.get(callback, timeout=60)
        self.assertEqual(guidance.status_code, 200, guidance.text[:500])
        # eFaktura 2.0: BankID proves who she is, but she has not said yes to all issuers in her bank, and a
        # lookup by national id does not change that. The page tells her how, in Norwegian.
        self.assertIn("Ja takk til alle", guidance.text)
        self.assertIn("Jeg har gjort det", guidance.text)
        self.assertNotIn("Thank you", guidance.text)
        consent = self.consent_of(self.ingrid)
        consent.invalidate_recordset()
        self.assertEqual((consent.state, consent.lookup_state), ("sent", "not_found"))
        self.assertEqual(self.ingrid.with_company(self.company).efaktura_state, "consent_requested")
        self.assertFalse(self.ingrid.with_company(self.company).efaktura_identifier)
        self.assertEqual(move.efaktura_state, "awaiting_consent")
        self.assertEqual(
            self.find_text_in_database(INGRID_NNIN),
            ["efaktura_consent.lookup_national_id"],
            "while the lookups need it, the national id is kept in one system-only field",
        )
        # "I have done it" before she did: still not found.
        action, values = self.form(guidance, "/check")
        again = self.post(action, values)
        self.assertIn("fortsatt ikke", again.text)
        # She switches eFaktura on for all issuers in her nettbank, and says so.
        self.ingrid_registry.jtta = True
        done = self.post(action, values)
        self.assertEqual(done.status_code, 200, done.text[:500])
        self.assertIn("Thank you", done.text)
        consent.invalidate_recordset()
        move.invalidate_recordset()
        self.assertEqual(consent.state, "accepted")
        self.assertEqual(consent.lookup_count, 3)
        self.assertTrue(consent.bankid_altsub, "BankID's stable identifier is recorded")
        self.assertEqual(consent.bankid_name, "Ingrid Hansen")
        self.assertTrue(consent.bankid_sub)
        self.assertTrue(consent.ip_address)
        self.assertTrue(consent.acr)
        self.assertFalse(consent.name_mismatch)
        ingrid = self.ingrid.with_company(self.company)
        self.assertEqual(ingrid.efaktura_state, "active")
        self.assertTrue(ingrid.efaktura_identifier, "the verified identity found her eFaktura identifier")
        self.assertEqual(move.efaktura_state, "sent", move.message_ids.mapped("body"))
        self.assertEqual(move.efaktura_channel, "nettbank")
        self.assertEqual(len(self.mailbox(move)), 1, "delivered to the sandbox nettbank")
        self.assertIn("approved eFaktura with BankID", " ".join(move.message_ids.mapped("body")))
        self.assertIn("Approved eFaktura with BankID", " ".join(self.ingrid.message_ids.mapped("body")))
        # A receipt with a withdrawal link went out.
        receipt = (
            self.env["mail.mail"]
            .sudo()
            .search([("model", "=", "efaktura.consent"), ("res_id", "=", consent.id), ("subject", "ilike", "approved")])
        )
        self.assertEqual(len(receipt), 1)
        self.assertIn("/efaktura/consent/withdraw/", receipt.body_html)
        # The login cannot be replayed, and the link is used.
        self.assertEqual(self.opener.get(callback, timeout=30).status_code, 400)
        self.assertEqual(self.url_open(f"/efaktura/consent/{token}").status_code, 410)
        # No clear national identity number anywhere in the database.
        self.assertFalse(self.find_text_in_database(INGRID_NNIN))
        # The next invoice needs no consent and no SMS: straight to the nettbank.
        sms_count = len(self.sms_to(self.ingrid))
        later = self.dispatch(self.make_invoice(self.ingrid, amount=99))
        self.assertEqual(later.efaktura_channel, "nettbank")
        self.assertEqual(later.efaktura_state, "sent")
        self.assertEqual(len(self.sms_to(self.ingrid)), sms_count)

    def test_decline_falls_back_at_once(self):
        move = self.request_consent()
        token = self.token_from_sms(self.ingrid)
        page = self.url_open(f"/efaktura/consent/{token}")
        action, values = self.form(page, "/decline")
        answer = self.post(action, values)
        self.assertEqual(answer.status_code, 200)
        self.assertIn("Noted", answer.text)
        move.invalidate_recordset()
        consent = self.consent_of(self.ingrid)
        self.assertEqual(consent.state, "declined")
        self.assertEqual(self.ingrid.with_company(self.company).efaktura_state, "declined")
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertEqual(move.efaktura_channel, "email")
        # Declined customers are not asked again.
        later = self.dispatch(self.make_invoice(self.ingrid, amount=12))
        self.assertEqual(later.efaktura_channel, "email")
        self.assertEqual(len(self.sms_to(self.ingrid)), 1)

    def test_deadline_expires_then_accept_is_refused(self):
        move = self.request_consent()
        per_move = self.request_consent(self.per)
        token = self.token_from_sms(self.ingrid)
        consent = self.consent_of(self.ingrid)
        with freeze_time(consent.deadline + timedelta(minutes=1)):
            compat.run_cron(self, self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_deadlines"))
        consent.invalidate_recordset()
        (move | per_move).invalidate_recordset()
        self.assertEqual(consent.state, "expired")
        self.assertEqual(move.efaktura_channel, "email", "e-mail with the PDF")
        self.assertEqual(per_move.efaktura_channel, "post", "post when there is no e-mail")
        with freeze_time(consent.deadline + timedelta(minutes=2)):
            self.assertEqual(self.url_open(f"/efaktura/consent/{token}").status_code, 410)

    def test_accept_at_the_deadline_edge_has_one_outcome(self):
        move = self.request_consent()
        consent = self.consent_of(self.ingrid)
        with freeze_time(consent.deadline):
            self.env["efaktura.consent"]._cron_expire()
            consent.invalidate_recordset()
            self.assertEqual(consent.state, "expired")
            with self.assertRaisesRegex(Exception, "already answered|expired"):
                consent._accept(self._identity("Ingrid", "Hansen", INGRID_NNIN))
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_channel, "email")
        self.assertEqual(len(move.efaktura_delivery_ids), 1)

    def _identity(self, given, family, nnin):
        from ..tools.oidc import VerifiedIdentity

        return VerifiedIdentity(
            sub="sub-1",
            name=f"{given} {family}",
            given_name=given,
            family_name=family,
            birthdate="1992-07-21",
            national_id=nnin,
            acr="urn:bankid:bis;LOA=3",
            amr=["BIS"],
            issuer="https://issuer.example",
            claims={},
        )

    def test_name_mismatch_is_recorded_and_shown(self):
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        callback = self.bankid_login(token, KARI_NNIN)
        answer = self.opener.get(callback, timeout=60)
        self.assertEqual(answer.status_code, 403)
        self.assertIn("does not match", answer.text)
        consent = self.consent_of(self.ingrid)
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "sent", "still open for the right person")
        self.assertTrue(consent.name_mismatch)
        self.assertEqual(consent.bankid_name, "Kari Nordmann")
        self.assertIn("does not match", self.ingrid.message_ids[0].body)

    def test_cancelled_bankid_changes_nothing(self):
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        callback = self.bankid_login(token, INGRID_NNIN, action="cancel")
        self.assertEqual(parse_qs(urlsplit(callback).query)["error"], ["access_denied"])
        answer = self.opener.get(callback, timeout=60)
        self.assertIn("cancelled", answer.text)
        self.assertEqual(self.consent_of(self.ingrid).state, "sent")

    def test_unknown_or_tampered_token_gets_404_without_trace(self):
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        for bad in (tampered, "x", "a" * 43, token + "x"):
            with self.subTest(token=bad):
                response = self.url_open(f"/efaktura/consent/{bad}")
                self.assertEqual(response.status_code, 404)
                self.assertNotIn("Traceback", response.text)
                self.assertNotIn(self.company.name, response.text)
        forged_state = self.opener.get(self.url("/efaktura/bankid/callback?code=abc&state=forged"), timeout=30)
        self.assertEqual(forged_state.status_code, 400)

    def test_withdrawal_link_and_partner_button(self):
        move = self.request_consent()
        self.ingrid_registry.jtta = True  # she said yes to all in her nettbank meanwhile
        token = self.token_from_sms(self.ingrid)
        self.opener.get(self.bankid_login(token, INGRID_NNIN), timeout=60)
        consent = self.consent_of(self.ingrid)
        receipt = (
            self.env["mail.mail"]
            .sudo()
            .search([("model", "=", "efaktura.consent"), ("res_id", "=", consent.id), ("subject", "ilike", "approved")])
        )
        withdraw_path = re.search(r"/efaktura/consent/withdraw/[A-Za-z0-9_-]+", receipt.body_html).group(0)
        page = self.url_open(withdraw_path)
        self.assertEqual(page.status_code, 200)
        action, values = self.form(page, "/withdraw/")
        self.assertEqual(self.post(action, values).status_code, 200)
        consent.invalidate_recordset()
        self.assertEqual(consent.state, "withdrawn")
        self.assertTrue(consent.bankid_sub, "the audit record stays")
        self.assertEqual(self.ingrid.with_company(self.company).efaktura_state, "withdrawn")
        later = self.dispatch(self.make_invoice(self.ingrid, amount=77))
        self.assertEqual(later.efaktura_channel, "email", "later invoices take the fallback channels")
        self.assertEqual(move.efaktura_channel, "nettbank")
        # The withdrawal link works once.
        self.assertEqual(self.url_open(withdraw_path).status_code, 404)

    def test_partner_button_withdraws(self):
        self.dispatch(self.make_invoice(self.ola))
        ola = self.ola.with_company(self.company)
        self.assertEqual(ola.efaktura_state, "active")
        ola.action_efaktura_withdraw()
        self.assertEqual(ola.efaktura_state, "withdrawn")
        self.assertFalse(ola.efaktura_identifier)
        self.assertEqual(self.dispatch(self.make_invoice(self.ola)).efaktura_channel, "email")


@tagged("post_install", "-at_install")
class TestBankidWithoutSelfCalls(ConsentCase):
    """In Test mode the consent's BankID login reaches the simulator in process, so the consent page works on a
    server with one worker: any call of the server to itself over HTTP fails this test."""

    self_calls = []

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        url = urlsplit(r.url)
        in_process = isinstance(s.get_adapter(r.url), InProcessAdapter)
        if (
            http.request
            and url.port == cls.http_port()
            and url.hostname in ("127.0.0.1", "localhost")
            and not in_process
        ):
            cls.self_calls.append(f"{r.method} {url.path}")
            raise requests.ConnectionError(f"the server called itself over HTTP: {r.method} {url.path}")
        return super()._request_handler(s, r, **kw)

    def test_bankid_login_needs_no_call_to_itself(self):
        move = self.request_consent()
        self.ingrid_registry.jtta = True  # she has said yes to all issuers since: the lookup by national id finds her
        token = self.token_from_sms(self.ingrid)
        callback = self.bankid_login(token, INGRID_NNIN)
        self.assertEqual(self.opener.get(callback, timeout=60).status_code, 200)
        self.assertEqual(self.self_calls, [], "discovery, keys and token were asked in process")
        self.assertEqual(self.consent_of(self.ingrid).state, "accepted")
        move.invalidate_recordset()
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "nettbank"))
