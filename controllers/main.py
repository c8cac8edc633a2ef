import functools
import logging
import secrets

from odoo import http
from odoo.http import request
from odoo.tools import consteq

from ..models.efaktura_bankid import BankidPageError
from ..models.efaktura_rate_limit import MISS_LIMIT, RATE_LIMIT, RATE_WINDOW

_logger = logging.getLogger(__name__)

# Provider metadata rarely changes: keep each discovery document for an hour per issuer.
# Binds a BankID login to the browser that started it: the callback must come with this cookie.
BROWSER_COOKIE = "efaktura_bankid"
CALLBACK_PATH = "/efaktura/bankid/callback"


# Sent with every answer of the public routes: no other site may frame a page of the module (clickjacking).
FRAME_HEADERS = [
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
]


def deny_framing(response):
    """Add the no-framing headers to an answer that does not set its own."""
    response.headers.extend((name, value) for name, value in FRAME_HEADERS if name not in response.headers)
    return response


def public_methods(*allowed, head=True):
    """Let only these HTTP methods reach a public route (HEAD with GET, without a body, unless ``head`` is
    False: for a GET that changes state); every other one gets a 405 page and changes nothing. Every answer
    carries the no-framing headers.

    The routes take every method (``methods=None``) so that this check, not Werkzeug or Odoo, answers them:
    Odoo adds OPTIONS to every route and skips its CSRF check for HEAD, OPTIONS and TRACE, so a route that
    only looked at ``method != "GET"`` changed state on a HEAD from a link checker.
    """

    def decorate(endpoint):
        @functools.wraps(endpoint)
        def checked(self, *args, **kwargs):
            method = request.httprequest.method
            readable = head and "GET" in allowed
            if method in allowed or (method == "HEAD" and readable):
                response = endpoint(self, *args, **kwargs)
            else:
                response = self._method_not_allowed((*allowed, "HEAD") if readable else allowed)
            return deny_framing(response)

        return checked

    return decorate


def public_route(path, *allowed, head=True):
    """A public page of the module: ``http.route`` taking every method, with ``public_methods(*allowed)`` in
    front; no login, no sitemap, and the route's own CSRF check (``_csrf_ok``) where it changes state."""
    route = http.route(path, type="http", auth="public", methods=None, csrf=False, sitemap=False)
    check = public_methods(*allowed, head=head)
    return lambda endpoint: route(check(endpoint))


class EfakturaController(http.Controller):
    # ------------------------------------------------------------------
    # Signed document links
    # ------------------------------------------------------------------

    @public_route("/efaktura/document/<int:move_id>/<string:token>", "GET")
    def efaktura_document(self, move_id, token, **kwargs):
        """The invoice PDF behind a signed, time-limited link, for the nettbank and Vipps to show."""
        move = request.env["account.move"].sudo().browse(move_id).exists()
        # Signatures are ASCII: anything else is refused before the constant-time comparison, which cannot take it.
        if not move or not token.isascii() or not move._efaktura_check_document_token(token):
            return request.make_response(
                "This link is not valid or has expired.",
                headers=[("Content-Type", "text/plain; charset=utf-8")],
                status=403,
            )
        pdf, filename = move._efaktura_document_pdf()
        return request.make_response(
            pdf,
            headers=[
                ("Content-Type", "application/pdf"),
                ("Content-Disposition", http.content_disposition(filename, disposition_type="inline")),
                ("Cache-Control", "private, no-store"),
                ("X-Robots-Tag", "noindex, nofollow"),
            ],
        )

    # ------------------------------------------------------------------
    # Consent pages
    # ------------------------------------------------------------------

    def _page_lang(self, lang=None, company=None):
        """The language of a public page: the customer's, else the company's, else None (the browser's).
        Without a company (a link that leads nowhere), the language of the companies that use eFaktura B2C, when
        they share one."""
        installed = dict(request.env["res.lang"].get_installed())
        if company:
            company_langs = {company.partner_id.lang}
        else:
            companies = request.env["res.company"].sudo().search([("efaktura_mode", "!=", "disabled")])
            company_langs = set(companies.partner_id.mapped("lang"))
        candidates = [lang, company_langs.pop() if len(company_langs) == 1 else None]
        return next((code for code in candidates if code in installed), None)

    def _render(self, template, values, status=200, lang=None):
        """A public page in the customer's language, else the company's, else the browser's; kept out of caches
        and search engines."""
        lang = self._page_lang(lang, values.get("company"))
        if lang:
            request.update_context(lang=lang)
        return request.render(
            template,
            values,
            status=status,
            headers=[
                ("Cache-Control", "no-store"),
                ("X-Robots-Tag", "noindex, nofollow"),
                ("Referrer-Policy", "no-referrer"),
            ],
        )

    def _method_not_allowed(self, allowed):
        """405: this link is opened (GET) or its form posted (POST); nothing else happens."""
        return request.make_response(
            request.env._("This address does not accept this kind of request."),
            headers=[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Allow", ", ".join(allowed)),
                ("Cache-Control", "no-store"),
            ],
            status=405,
        )

    def _csrf_ok(self):
        """The form's CSRF token is valid for this browser session.

        The routes check it themselves (``csrf=False``), so that a form posted from a tab left open after the
        session ended gets the module's page in the customer's language, not Odoo's bare English 400 page.
        """
        token = request.params.get("csrf_token")
        return isinstance(token, str) and token.isascii() and request.validate_csrf(token)

    def _stale_form(self, company=None, lang=None):
        return self._message("stale", status=400, company=company, lang=lang)

    @staticmethod
    def _lang_of(consent):
        """The customer's language, else that of the company that asks."""
        return consent.partner_id.lang or consent.company_id.partner_id.lang or None

    def _message(self, kind, status=200, company=None, lang=None):
        """A short page that says what happened; it never shows invoice data."""
        return self._render(
            "l10n_no_efaktura_b2c.consent_message", {"kind": kind, "company": company}, status=status, lang=lang
        )

    def _too_many(self):
        """429: this client sent too many requests for this link or login, or guessed too many links."""
        return request.make_response(
            request.env._("Too many attempts. Please try again later."),
            headers=[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Retry-After", str(RATE_WINDOW)),
                ("Cache-Control", "no-store"),
            ],
            status=429,
        )

    def _rate_limited(self, scope, token, limit=RATE_LIMIT):
        """Count this request per client address and token; the 429 page once past the limit, else None."""
        limits = request.env["efaktura.rate.limit"].sudo()
        if limits._exceeded(scope, request.httprequest.remote_addr, token or "", limit=limit):
            return self._too_many()
        return None

    def _open_consent(self, token):
        """The consent behind a link, or the page to show instead: 404 unknown, 410 expired or already answered,
        429 too many requests from this client."""
        if limited := self._rate_limited("consent", token):
            return None, limited
        consent = request.env["efaktura.consent"].sudo()._find_by_token(token)
        if not consent:
            # Guessing links: unknown tokens are counted per client address.
            if limited := self._rate_limited("unknown", "", limit=MISS_LIMIT):
                return None, limited
            return None, self._message("not_found", status=404)
        if problem := consent._link_problem():
            return None, self._message(problem, status=410, company=consent.company_id, lang=self._lang_of(consent))
        return consent, None

    def _open_posted_consent(self, token):
        """``_open_consent`` for a form posted from the consent page: its CSRF token must be valid too."""
        consent, error_page = self._open_consent(token)
        if not error_page and not self._csrf_ok():
            error_page = self._stale_form(consent.company_id, self._lang_of(consent))
        return consent, error_page

    def _client(self):
        httprequest = request.httprequest
        return httprequest.remote_addr, httprequest.headers.get("User-Agent", "")

    # Not readonly: every request is counted for the rate limit.
    @public_route("/efaktura/consent/<string:token>", "GET")
    def consent_page(self, token, **kwargs):
        consent, error_page = self._open_consent(token)
        if error_page:
            return error_page
        if consent.lookup_state:
            # Confirmed with BankID already: what is left is switching eFaktura on in the nettbank or Vipps.
            return self._enable_efaktura_page(consent, f"/efaktura/consent/{token}/check", consent.lookup_state)
        values = {"company": consent.company_id, "token": token, "days": consent.company_id.efaktura_consent_days}
        return self._render("l10n_no_efaktura_b2c.consent_page", values, lang=self._lang_of(consent))

    def _enable_efaktura_page(self, consent, check_action, kind, status=200):
        """How to switch on eFaktura in the nettbank or in Vipps, with the "I have done it" button."""
        values = {
            "company": consent.company_id,
            "consent": consent,
            "kind": kind,
            "check_action": check_action,
            "deadline": consent.deadline,
        }
        return self._render(
            "l10n_no_efaktura_b2c.consent_enable_efaktura", values, status=status, lang=self._lang_of(consent)
        )

    def _lookup_outcome_page(self, consent, outcome, check_action=None):
        lang = self._lang_of(consent)
        company = consent.company_id
        if outcome == "accepted":
            return self._message("accepted", company=company, lang=lang)
        if outcome in ("not_found", "error", "still_not_found"):
            if check_action is None:
                token = consent.env["efaktura.consent.lookup"]._issue_check_token(consent)
                check_action = f"/efaktura/consent/{token}/check"
            return self._enable_efaktura_page(consent, check_action, outcome)
        if outcome == "name_mismatch":
            return self._message("name_mismatch", status=403, company=company, lang=lang)
        if outcome == "no_national_id":
            return self._message("no_national_id", status=400, company=company, lang=lang)
        return self._message("expired", status=410, company=company, lang=lang)

    @public_route("/efaktura/consent/<string:token>/check", "POST")
    def consent_check(self, token, **kwargs):
        """ "I have done it": look the consumer up again at once, after they switched eFaktura on."""
        if limited := self._rate_limited("check", token):
            return limited
        Consent = request.env["efaktura.consent"].sudo()
        consent = Consent._find_by_token(token) or Consent._find_by_token(token, field="check_token_hash")
        if not consent:
            return self._message("not_found", status=404)
        lang = self._lang_of(consent)
        if not self._csrf_ok():
            return self._stale_form(consent.company_id, lang)
        if consent.state == "accepted":
            return self._message("accepted", company=consent.company_id, lang=lang)
        if consent._link_problem():
            return self._message("expired", status=410, company=consent.company_id, lang=lang)
        if not consent.lookup_state:
            return self._message("not_found", status=404)
        outcome = consent.env["efaktura.consent.lookup"]._lookup(consent)
        if outcome == "not_found":
            outcome = "still_not_found"
        return self._lookup_outcome_page(consent, outcome, check_action=f"/efaktura/consent/{token}/check")

    @public_route("/efaktura/consent/<string:token>/bankid", "POST")
    def consent_bankid(self, token, **kwargs):
        """Start the BankID login for this consent request."""
        consent, error_page = self._open_posted_consent(token)
        if error_page:
            return error_page
        company = consent.company_id
        if consent.lookup_state:
            return self._enable_efaktura_page(consent, f"/efaktura/consent/{token}/check", consent.lookup_state)
        browser_key = secrets.token_urlsafe(32)
        try:
            url, ttl = consent._bankid_start(browser_key, lang=self._page_lang(consent.partner_id.lang, company))
        except BankidPageError as error:
            return self._message(error.kind, status=error.status, company=company, lang=consent.partner_id.lang)
        response = request.redirect(url, code=303, local=False)
        # Lax: sent on the top-level redirect back from the provider, not on cross-site subrequests.
        response.set_cookie(
            BROWSER_COOKIE,
            browser_key,
            max_age=ttl,
            path=CALLBACK_PATH,
            secure=request.httprequest.scheme == "https",
            httponly=True,
            samesite="Lax",
        )
        return response

    # A GET that uses up the login: a HEAD must not.
    @public_route("/efaktura/bankid/callback", "GET", head=False)
    def bankid_callback(self, **params):
        """BankID sends the customer back here; the consent is accepted only after every check passed."""
        if limited := self._rate_limited("callback", params.get("state")):
            return limited
        ip_address, user_agent = self._client()
        try:
            consent, outcome = (
                request.env["efaktura.consent"]
                .sudo()
                ._bankid_finish(
                    params,
                    request.httprequest.cookies.get(BROWSER_COOKIE) or "",
                    ip_address=ip_address,
                    user_agent=user_agent,
                )
            )
        except BankidPageError as error:
            consent = error.consent
            if not consent:
                return self._message(error.kind, status=error.status)
            return self._message(
                error.kind, status=error.status, company=consent.company_id, lang=consent.partner_id.lang
            )
        return self._lookup_outcome_page(consent, outcome)

    @public_route("/efaktura/consent/<string:token>/decline", "POST")
    def consent_decline(self, token, **kwargs):
        consent, error_page = self._open_posted_consent(token)
        if error_page:
            return error_page
        ip_address, user_agent = self._client()
        consent._decline(ip_address=ip_address, user_agent=user_agent)
        return self._message("declined", company=consent.company_id, lang=consent.partner_id.lang)

    @public_route("/efaktura/consent/withdraw/<string:token>", "GET", "POST")
    def consent_withdraw(self, token, **kwargs):
        if limited := self._rate_limited("withdraw", token):
            return limited
        consent = request.env["efaktura.consent"].sudo()._find_by_token(token, field="withdraw_token_hash")
        if not consent or consent.state != "accepted":
            return self._message("not_found", status=404)
        lang = self._lang_of(consent)
        if request.httprequest.method != "POST":
            values = {"company": consent.company_id, "token": token}
            return self._render("l10n_no_efaktura_b2c.consent_withdraw_page", values, lang=lang)
        if not self._csrf_ok():
            return self._stale_form(consent.company_id, lang)
        ip_address, user_agent = self._client()
        consent.action_withdraw(ip_address=ip_address, user_agent=user_agent)
        return self._message("withdrawn", company=consent.company_id, lang=lang)

    # ------------------------------------------------------------------
    # Sandbox issuer approval
    # ------------------------------------------------------------------

    @public_route("/efaktura/sandbox/issuer/<int:company_id>/<string:token>", "GET", "POST")
    def sandbox_issuer_approval(self, company_id, token, **kwargs):
        """The sandbox's stand-in for the operator approving an issuer agreement (sandbox mode only)."""
        company = request.env["res.company"].sudo().browse(company_id).exists()
        if not company or company.efaktura_mode != "test":
            return self._message("not_found", status=404)
        Issuer = request.env["efaktura.issuer"].sudo()
        if not token.isascii() or not consteq(token, Issuer._sandbox_token(company)):
            return self._message("not_found", status=404)
        approved = company.efaktura_issuer_state == "active"
        if request.httprequest.method == "POST" and not approved:
            if not self._csrf_ok():
                return self._stale_form(company)
            approved = Issuer._sandbox_approve(company, token)
        return self._render(
            "l10n_no_efaktura_b2c.sandbox_issuer_approval_page", {"company": company, "approved": approved}
        )
