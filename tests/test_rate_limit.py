from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.efaktura_rate_limit import MISS_LIMIT, RATE_LIMIT, RATE_WINDOW
from .test_consent import INGRID_NNIN, ConsentCase


@tagged("post_install", "-at_install")
class TestRateLimit(ConsentCase):
    """Abuse limits on the public consent routes: 429 past the limit, expired links, no replayed logins."""

    def test_consent_link_answers_429_past_the_limit(self):
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        page = self.url_open(f"/efaktura/consent/{token}")
        self.assertEqual(page.status_code, 200)
        bankid_action, bankid_values = self.form(page, "/bankid")
        decline_action, decline_values = self.form(page, "/decline")
        for _i in range(RATE_LIMIT - 1):
            self.assertEqual(self.url_open(f"/efaktura/consent/{token}").status_code, 200)
        # The page, BankID start and decline share the count of this link from this address.
        too_many = self.url_open(f"/efaktura/consent/{token}")
        self.assertEqual(too_many.status_code, 429)
        self.assertEqual(too_many.headers["Retry-After"], str(RATE_WINDOW))
        self.assertNotIn(self.company.name, too_many.text)
        self.assertEqual(self.post(bankid_action, bankid_values).status_code, 429)
        self.assertEqual(self.post(decline_action, decline_values).status_code, 429)
        self.assertEqual(self.consent_of(self.ingrid).state, "sent", "nothing was answered")
        # Another link from the same address is counted apart.
        self.assertEqual(self.url_open("/efaktura/consent/another-link").status_code, 404)
        # The next window starts afresh. The limiter's windows follow the clock (time.time()), not the test
        # transaction's start (cr.now()), which may lie in the window before the requests'.
        with freeze_time(fields.Datetime.now() + timedelta(seconds=RATE_WINDOW + 1)):
            self.assertEqual(self.url_open(f"/efaktura/consent/{token}").status_code, 200)

    def test_guessing_links_is_stopped(self):
        statuses = [self.url_open(f"/efaktura/consent/guess-{i}").status_code for i in range(MISS_LIMIT + 2)]
        self.assertEqual(set(statuses[:MISS_LIMIT]), {404})
        self.assertEqual(statuses[-1], 429)

    @mute_logger("odoo.addons.l10n_no_efaktura_b2c.controllers.main")
    def test_callback_answers_429_past_the_limit(self):
        url = self.url("/efaktura/bankid/callback?code=abc&state=forged-state")
        statuses = [self.opener.get(url, timeout=30).status_code for _i in range(RATE_LIMIT + 1)]
        self.assertEqual(set(statuses[:RATE_LIMIT]), {400})
        self.assertEqual(statuses[-1], 429)

    def test_counter_is_one_row_per_key_and_window(self):
        Limit = self.env["efaktura.rate.limit"].sudo()
        self.assertEqual([Limit._hit("consent", "10.0.0.1", "t") for _i in range(3)], [1, 2, 3])
        self.assertEqual(Limit._hit("consent", "10.0.0.2", "t"), 1)
        self.assertEqual(Limit.search_count([]), 2)
        self.assertNotIn("10.0.0.1", str(Limit.search([]).mapped("key")), "addresses and tokens are kept hashed")
        with freeze_time(fields.Datetime.now() + timedelta(seconds=3 * RATE_WINDOW)):
            Limit._gc_windows()
            self.assertEqual(Limit.search_count([]), 0)

    def test_expired_link_answers_410_everywhere(self):
        self.request_consent()
        token = self.token_from_sms(self.ingrid)
        page = self.url_open(f"/efaktura/consent/{token}")
        bankid_action, bankid_values = self.form(page, "/bankid")
        decline_action, decline_values = self.form(page, "/decline")
        consent = self.consent_of(self.ingrid)
        with freeze_time(consent.deadline + timedelta(seconds=1)):
            self.assertEqual(self.url_open(f"/efaktura/consent/{token}").status_code, 410)
            self.assertEqual(self.post(bankid_action, bankid_values).status_code, 410)
            self.assertEqual(self.post(decline_action, decline_values).status_code, 410)
        self.assertEqual(consent.state, "sent")

    def test_used_login_state_cannot_be_replayed(self):
        self.request_consent()
        self.ingrid_registry.jtta = True  # she said yes to all in her nettbank meanwhile
        token = self.token_from_sms(self.ingrid)
        callback = self.bankid_login(token, INGRID_NNIN)
        self.assertEqual(self.opener.get(callback, timeout=60).status_code, 200)
        self.assertEqual(self.consent_of(self.ingrid).state, "accepted")
        self.assertEqual(self.opener.get(callback, timeout=30).status_code, 400)
