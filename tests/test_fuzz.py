"""Fuzzing with hypothesis: the validators and every public route.

The suite runs a bounded number of examples; ``make chaos`` sets EFAKTURA_FUZZ_INPUTS and
EFAKTURA_FUZZ_REQUESTS for the full runs.
"""

import logging
import os
from urllib.parse import quote, unquote, urlencode, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..compat import PARTNER_MOBILE as MOBILE
from ..models.efaktura_bankid import BANKID_SIMULATOR_PATH
from ..sandbox.bankid import ENDPOINT_PATHS
from ..tools.kid import KidError, make_kid, validate_kid
from ..tools.validation import InvalidValue, normalize_account_number, normalize_no_mobile, normalize_org_number
from .common import EfakturaCase
from .test_consent import ConsentCase
from .test_public_routes import identity_of

_logger = logging.getLogger(__name__)

INPUTS = int(os.environ.get("EFAKTURA_FUZZ_INPUTS", "1000"))
REQUESTS = int(os.environ.get("EFAKTURA_FUZZ_REQUESTS", "200"))
# The methods a link checker, a CORS preflight or a proxy sends, for which Odoo checks no CSRF token: none may
# change anything.
UNSAFE_READS = ("HEAD", "OPTIONS", "TRACE")
# What PostgreSQL cannot store in a text column, and what UTF-8 cannot encode.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


def fuzz_settings(share, total=INPUTS):
    return settings(
        max_examples=max(1, int(total * share)),
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


def digits(min_size=0, max_size=30):
    return st.text("0123456789", min_size=min_size, max_size=max_size)


def written_like_people_do(core):
    """Digits as people type them: spaces, dots, dashes, prefixes, letters and junk around them."""
    separators = st.sampled_from(["", " ", "-", ".", "  ", "/", "\t"])
    return st.one_of(
        core,
        st.builds(lambda s, sep: sep.join(s[i : i + 3] for i in range(0, len(s), 3)), core, separators),
        st.builds(lambda p, s: p + s, st.sampled_from(["+47", "0047", "47", "+46", "(+47) ", "00", "+"]), core),
        st.builds(lambda s, junk: s + junk, core, TEXT),
        TEXT,
        st.none(),
        st.integers(),
        st.floats(allow_nan=True),
        st.booleans(),
    )


ROUTES = [
    "page",
    "bankid",
    "decline",
    "callback",
    "withdraw",
    "document",
    "issuer",
    "sim_discovery",
    "sim_jwks",
    "sim_authorize",
    "sim_token",
    "sim_par",
]


class Counted:
    inputs = 0


@tagged("post_install", "-at_install")
class TestFuzzValidators(EfakturaCase):
    """Each input gets a normalised value or a clear validation error, never anything else."""

    @classmethod
    def tearDownClass(cls):
        _logger.info("eFaktura fuzz: %s validator inputs", Counted.inputs)
        super().tearDownClass()

    def expect(self, normalize, value, error_types, pattern):
        Counted.inputs += 1
        try:
            result = normalize(value)
        except error_types as exc:
            self.assertTrue(str(exc))
            return None
        self.assertRegex(result, pattern)
        self.assertEqual(normalize(result), result, "a normalised value stays as it is")
        return result

    @fuzz_settings(0.25)
    @given(
        written_like_people_do(st.builds(lambda first, rest: first + rest, st.sampled_from("4912305"), digits(0, 10)))
    )
    def test_mobile_numbers(self, value):
        self.expect(normalize_no_mobile, value, InvalidValue, r"^\+47[49]\d{7}$")

    @fuzz_settings(0.1)
    @given(written_like_people_do(digits(0, 12)))
    def test_org_numbers(self, value):
        self.expect(normalize_org_number, value, InvalidValue, r"^\d{9}$")

    @fuzz_settings(0.1)
    @given(written_like_people_do(digits(0, 14)))
    def test_account_numbers(self, value):
        self.expect(normalize_account_number, value, InvalidValue, r"^\d{11}$")

    @fuzz_settings(0.15)
    @given(
        written_like_people_do(digits(0, 27)),
        st.sampled_from([None, "MOD10", "MOD11", "mod10", "MOD97", "", 11]),
        st.one_of(st.none(), st.integers(-3, 30), st.text(max_size=3)),
    )
    def test_kids(self, value, algorithm, length):
        self.expect(lambda v: validate_kid(v, algorithm=algorithm, length=length), value, KidError, r"^\d{2,25}$")

    @fuzz_settings(0.1)
    @given(
        st.one_of(st.integers(-5, 10**26), digits(0, 27), TEXT, st.none(), st.floats()),
        st.one_of(st.integers(-2, 30), st.none(), st.text(max_size=2)),
        st.sampled_from(["MOD10", "MOD11", "x", None]),
        st.booleans(),
    )
    def test_kids_built(self, number, length, algorithm, avoid_dash):
        Counted.inputs += 1
        try:
            kid = make_kid(number, length, algorithm, avoid_dash=avoid_dash)
        except KidError as exc:
            self.assertTrue(str(exc))
            return
        self.assertEqual(len(kid), length)
        self.assertEqual(validate_kid(kid, algorithm=algorithm, length=length), kid)

    @fuzz_settings(0.2)
    @given(
        name=TEXT,
        street=TEXT,
        zip_code=TEXT,
        city=TEXT,
        mobile=written_like_people_do(digits(8, 8)).filter(lambda v: not isinstance(v, float | bool)),
        is_company=st.booleans(),
        b2c=st.booleans(),
    )
    def test_customers(self, name, street, zip_code, city, mobile, is_company, b2c):
        """A customer card: saved with a normalised mobile, or refused with a message naming the rule."""
        Counted.inputs += 1
        values = {
            "name": name or "x",
            "street": street,
            "zip": zip_code,
            "city": city,
            MOBILE: mobile if isinstance(mobile, str) else False,
            "is_company": is_company,
            "efaktura_receive_edocuments": b2c,
            "efaktura_access_point": "b2cno",
        }
        try:
            with self.env.cr.savepoint():
                partner = self.env["res.partner"].create(values)
                partner.flush_recordset()
        except ValidationError as exc:
            self.assertRegex(str(exc), "Mobile|Phone|company")
            return
        if b2c and not is_company:
            self.assertRegex(partner[MOBILE], r"^\+47[49]\d{7}$")

    @fuzz_settings(0.1)
    @given(
        org=written_like_people_do(digits(9, 9)).filter(lambda v: v is not None),
        account=written_like_people_do(digits(11, 11)).filter(lambda v: v is not None),
        email=TEXT,
    )
    def test_issuer_agreement(self, org, account, email):
        Counted.inputs += 1
        try:
            with self.env.cr.savepoint():
                self.company.write(
                    {
                        "efaktura_issuer_org_number": org,
                        "efaktura_billing_account": account,
                        "efaktura_contact_email": email,
                    }
                )
                self.company.flush_recordset()
        except ValidationError as exc:
            self.assertRegex(str(exc), "organisation number|account number|e-mail")
            return
        finally:
            self.company.invalidate_recordset()
        if org:
            self.assertRegex(self.company.efaktura_issuer_org_number, r"^\d{9}$")


@tagged("post_install", "-at_install")
class TestFuzzHttp(ConsentCase):
    """Random and mutated requests to every public route: no 500, no trace, no invoice data."""

    def setUp(self):
        super().setUp()
        self.delivered = self.dispatch(self.make_invoice(self.ola, amount=4321.77))
        self.waiting = self.request_consent(amount=8765.43)
        self.consent_token = self.token_from_sms(self.ingrid)
        page = self.url_open(f"/efaktura/consent/{self.consent_token}")
        self.csrf = self.form(page, "/bankid")[1].get("csrf_token", "")
        self.document_token = self.delivered._efaktura_document_url().rsplit("/", 1)[1]
        self.issuer_token = self.env["efaktura.issuer"]._sandbox_token(self.company)
        # An accepted consent, for the withdrawal link.
        self.request_consent(self.per)
        accepted = self.consent_of(self.per)
        self.assertTrue(accepted._accept(identity_of(self.per)))
        self.withdraw_token = accepted._new_token()
        accepted.sudo().withdraw_token_hash = accepted._hash_token_value(self.withdraw_token)
        self.secrets = set()
        for move in self.delivered | self.waiting:
            amount = move.amount_total
            self.secrets |= {
                move.name,
                move.payment_reference,
                f"{amount:.2f}",
                f"{amount:,.2f}",
                f"{amount:.2f}".replace(".", ","),
                f"{amount:,.2f}".replace(",", " ").replace(".", ","),
            }
        self.sent = self.server_errors = self.leaks = self.unframed = self.state_changes = self.core_answers = 0

    def mutate(self, token, how, junk):
        if how == "keep":
            return token
        if how == "flip" and token:
            index = len(junk) % len(token)
            return token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
        if how == "truncate":
            return token[: len(junk) % (len(token) or 1)]
        if how == "append":
            return token + junk
        if how == "long":
            return (token + junk) * 20
        if how == "traversal":
            return "../" + token + "/..%2f" + junk
        return junk

    def route(self, which, token, extra):
        sim = BANKID_SIMULATOR_PATH
        return {
            "page": ("GET", f"/efaktura/consent/{token}"),
            "bankid": ("POST", f"/efaktura/consent/{token}/bankid"),
            "decline": ("POST", f"/efaktura/consent/{token}/decline"),
            "callback": ("GET", "/efaktura/bankid/callback?" + urlencode(extra)),
            "withdraw": (extra.get("method", "GET"), f"/efaktura/consent/withdraw/{token}"),
            "document": ("GET", f"/efaktura/document/{self.delivered.id if len(token) % 2 else 0}/{token}"),
            "issuer": (extra.get("method", "GET"), f"/efaktura/sandbox/issuer/{self.company.id}/{token}"),
            "sim_discovery": ("GET", sim + ENDPOINT_PATHS["discovery"]),
            "sim_jwks": (extra.get("method", "GET"), sim + ENDPOINT_PATHS["jwks"]),
            "sim_authorize": (extra.get("method", "GET"), sim + ENDPOINT_PATHS["authorization"]),
            "sim_token": ("POST", sim + ENDPOINT_PATHS["token"]),
            "sim_par": ("POST", sim + ENDPOINT_PATHS["par"]),
        }[which]

    def snapshot(self):
        """What a request may change: the consents, the waiting invoices, the issuer agreement."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT (SELECT array_agg((id, state, oidc_state_hash, withdraw_token_hash) ORDER BY id)::text
                         FROM efaktura_consent),
                      (SELECT array_agg((id, efaktura_state) ORDER BY id)::text FROM account_move),
                      (SELECT efaktura_issuer_state FROM res_company WHERE id = %s)""",
            [self.company.id],
        )
        return self.env.cr.fetchone()

    def module_route(self, response):
        """Whether the path the server got is one of the module's routes. A mutated token with dots, slashes or
        a newline can make a path no route takes: then Odoo's router answers (its 404, the 301 that merges
        slashes, or a 500 of its own), which is not the module's to judge."""
        path = unquote(urlsplit(response.request.url).path)
        adapter = self.env["ir.http"].routing_map().bind("localhost")
        try:
            rule, _args = adapter.match(path, method="GET", return_rule=True)
        except HTTPException:
            return False
        return rule.rule.startswith("/efaktura/")

    def check(self, method, path, params, skip_leak_check=False):
        self.sent += 1
        if self.sent % 15 == 0:
            # Start fresh windows now and then, so that the fuzzing reaches past the rate limit too.
            self.env.cr.execute("DELETE FROM efaktura_rate_limit")
        url = self.url(path)
        before = self.snapshot() if method in UNSAFE_READS else None
        if method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            response = self.opener.request(method, url, params=params, allow_redirects=False, timeout=30)
        else:
            response = self.opener.request(method, url, data=params, allow_redirects=False, timeout=30)
        body = response.content.decode("utf-8", "replace")
        ours = self.module_route(response)
        if not ours:
            self.core_answers += 1
        elif response.status_code >= 500 and response.status_code != 503:
            self.server_errors += 1
        self.assertNotIn("Traceback", body, f"{method} {path}")
        if ours:
            self.assertNotEqual(response.status_code, 500, f"{method} {path} {params}: {body[:300]}")
            # Every answer of the module's routes refuses to be framed.
            framed = response.headers.get("X-Frame-Options") != "DENY" or "frame-ancestors 'none'" not in (
                response.headers.get("Content-Security-Policy", "")
            )
            self.unframed += framed
            self.assertFalse(framed, f"{method} {path} ({response.status_code}) can be framed")
        if before is not None:
            changed = self.snapshot() != before
            self.state_changes += changed
            self.assertFalse(changed, f"{method} {path} changed state without a POST")
        if before is not None and ours:
            # 405, or what the GET answers for HEAD (the simulator's 400 and 401 to a request without parameters).
            self.assertIn(response.status_code, (200, 400, 401, 403, 404, 405, 410, 429), f"{method} {path}")
        if not skip_leak_check:
            leaked = [secret for secret in self.secrets if secret and secret in body]
            self.leaks += bool(leaked)
            self.assertFalse(leaked, f"{method} {path} shows invoice data")

    def log_counts(self):
        _logger.info(
            "eFaktura fuzz: %s requests, %s server errors, %s leaks, %s framable, %s changed without POST "
            "(%s answered by Odoo's router: a mutated path no route takes)",
            self.sent,
            self.server_errors,
            self.leaks,
            self.unframed,
            self.state_changes,
            self.core_answers,
        )

    @mute_logger("odoo.http", "odoo.addons.l10n_no_efaktura_b2c.controllers.main")
    def test_head_options_trace_on_every_route(self):
        """Every public route, with its real tokens, under the methods Odoo checks no CSRF token for."""
        for which in ROUTES:
            token = {
                "withdraw": self.withdraw_token,
                "document": self.document_token,
                "issuer": self.issuer_token,
            }.get(which, self.consent_token)
            _method, path = self.route(which, token, {"state": "x", "code": "y"})
            for method in UNSAFE_READS:
                with self.subTest(route=which, method=method):
                    self.check(method, path, {"csrf_token": self.csrf}, skip_leak_check=which == "document")
        self.log_counts()
        self.assertEqual(self.sent, len(ROUTES) * len(UNSAFE_READS))

    def test_non_ascii_tokens_are_refused(self):
        """A constant-time comparison cannot take non-ASCII text: such links are refused, not a server error."""
        for path in (
            f"/efaktura/sandbox/issuer/{self.company.id}/{self.issuer_token}\x80",
            f"/efaktura/document/{self.delivered.id}/{self.document_token}é",
            f"/efaktura/document/{self.delivered.id}/1.é",
        ):
            with self.subTest(path=path):
                self.assertIn(self.url_open(path).status_code, (403, 404))

    @mute_logger("odoo.http", "odoo.addons.l10n_no_efaktura_b2c.controllers.main")
    def test_random_and_mutated_requests(self):
        tokens = {
            "consent": self.consent_token,
            "withdraw": self.withdraw_token,
            "document": self.document_token,
            "issuer": self.issuer_token,
            "random": "",
        }
        params = st.dictionaries(
            st.sampled_from(
                [
                    "state",
                    "code",
                    "error",
                    "error_description",
                    "csrf_token",
                    "person",
                    "action",
                    "request_id",
                    "client_id",
                    "redirect_uri",
                    "response_type",
                    "scope",
                    "nonce",
                    "code_challenge",
                    "grant_type",
                    "code_verifier",
                    "client_secret",
                    "request_uri",
                    "method",
                    "x",
                ]
            ),
            TEXT,
            max_size=6,
        )

        @settings(
            max_examples=REQUESTS,
            database=None,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            which=st.sampled_from(ROUTES),
            base=st.sampled_from(sorted(tokens)),
            how=st.sampled_from(["keep", "flip", "truncate", "append", "long", "traversal", "junk"]),
            junk=TEXT,
            extra=params,
            with_csrf=st.booleans(),
            quoted=st.booleans(),
            verb=st.sampled_from([None, None, None, *UNSAFE_READS]),
        )
        def one_request(which, base, how, junk, extra, with_csrf, quoted, verb):
            token = self.mutate(tokens[base], how, junk)
            token = quote(token, safe="") if quoted or not token else token
            method, path = self.route(which, token or "x", extra)
            extra = {k: v for k, v in extra.items() if k != "method"}
            if with_csrf and method == "POST":
                extra["csrf_token"] = self.csrf
            if method not in ("GET", "HEAD", "POST", "PUT", "DELETE", *UNSAFE_READS):
                method = "GET"
            if verb:
                # A link checker or a preflight on the same route, with the same (perhaps valid) CSRF token.
                method = verb
                extra["csrf_token"] = self.csrf
            # The real link to the PDF serves the invoice, as it should.
            legit = which == "document" and token == self.document_token
            self.check(method, path, extra, skip_leak_check=legit)

        one_request()
        self.log_counts()
        self.assertGreaterEqual(self.sent, min(REQUESTS, 50))
