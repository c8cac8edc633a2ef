import logging
import time

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import consteq
from odoo.tools.misc import hmac as hmac_sign

from ..tools import oidc
from .efaktura_consent import _hash_token

_logger = logging.getLogger(__name__)

# Where the sandbox BankID simulator answers, on this Odoo server.
BANKID_SIMULATOR_PATH = "/efaktura/bankid-sim"
# OpenID provider metadata, per issuer, for an hour.
_DISCOVERY_CACHE = {}
DISCOVERY_TTL = 3600


class BankidPageError(Exception):
    """The BankID login cannot go on: the page the customer sees instead (a message ``kind`` of the public pages
    and its HTTP ``status``), and the consent when it is known."""

    def __init__(self, kind, status, consent=None):
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.consent = consent


def _discover(provider, session=None):
    cached = _DISCOVERY_CACHE.get(provider.issuer)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    metadata = oidc.discover(provider.issuer, session=session, timeout=provider.timeout)
    _DISCOVERY_CACHE[provider.issuer] = (metadata, time.monotonic() + DISCOVERY_TTL)
    return metadata


class EfakturaBankid(models.AbstractModel):
    """The BankID login (OpenID Connect) of the consent page: a company's OpenID provider (the simulator in Test
    mode, else the configured one) and its settings check, and the login of a consent request, started and
    finished here and rendered by the controller."""

    _name = "efaktura.bankid"
    _description = "eFaktura B2C BankID login"

    # ------------------------------------------------------------------
    # The company's OpenID provider
    # ------------------------------------------------------------------

    @api.model
    def _sandbox_issuer(self, company):
        return f"{company.get_base_url()}{BANKID_SIMULATOR_PATH}"

    @api.model
    def _sandbox_client_id(self, company):
        company.ensure_one()
        return f"efaktura-sandbox-{company.id}"

    @api.model
    def _sandbox_client_secret(self, company):
        company.ensure_one()
        return hmac_sign(company.env(su=True), "l10n_no_efaktura_b2c.bankid_simulator_client", str(company.id))

    @api.model
    def _redirect_uri(self, company):
        return f"{company.get_base_url()}/efaktura/bankid/callback"

    @api.model
    def _provider(self, company):
        """The OpenID provider ``company``'s consumers log in with: the simulator in Test mode, else the configured
        one.

        The national identity number is always asked for (the eFaktura lookup needs it), the company's minimum
        level of assurance is asked for and checked, and in production the issuer must be https.
        """
        company.ensure_one()
        if company.efaktura_mode == "test":
            return oidc.Provider(
                issuer=self._sandbox_issuer(company),
                client_id=self._sandbox_client_id(company),
                client_secret=self._sandbox_client_secret(company),
                scopes=("openid", "profile", "nnin_altsub"),
                claim_mapping="bankid",
                use_par=company.efaktura_bankid_use_par,
                min_assurance=company.efaktura_bankid_min_assurance,
            )
        config = company.sudo()
        configured = config.efaktura_bankid_issuer and config.efaktura_bankid_client_id
        if company.efaktura_mode != "enabled" or not configured:
            raise UserError(
                company.env._(
                    "%(company)s: BankID is not configured. Fill in the issuer URL and client ID in the eFaktura "
                    "settings, or switch eFaktura B2C to Test mode.",
                    company=company.name,
                )
            )
        national_id_scope = {"bankid": "nnin_altsub", "signicat": "nin", "idura": "ssn"}[
            config.efaktura_bankid_provider
        ]
        return oidc.Provider(
            issuer=config.efaktura_bankid_issuer.rstrip("/"),
            client_id=config.efaktura_bankid_client_id,
            client_secret=config.efaktura_bankid_client_secret or "",
            scopes=("openid", "profile", national_id_scope),
            claim_mapping=config.efaktura_bankid_provider,
            use_par=config.efaktura_bankid_use_par,
            min_assurance=config.efaktura_bankid_min_assurance,
            token_endpoint_auth=config.efaktura_bankid_client_auth,
            client_private_key=config.efaktura_bankid_private_key or "",
            client_key_id=config.efaktura_bankid_key_id or "",
            require_https=True,
        )

    @api.model
    def _check_configuration(self, companies):
        """Read the provider's discovery document and say what in the BankID settings cannot work with it."""
        companies.check_access("write")
        for company in companies:
            try:
                provider = self._provider(company)
                problems = oidc.configuration_problems(
                    provider, oidc.discover(provider.issuer, timeout=provider.timeout)
                )
            except (oidc.OidcError, UserError) as error:
                problems = [str(error)]
            self._record_problem(company, " ".join(problems))
        return True

    @api.model
    def _record_problem(self, company, problem):
        """Remember (or clear) why BankID logins cannot start, for the settings page."""
        company.ensure_one()
        problem = (problem or "")[:500] or False
        if company.sudo().efaktura_bankid_problem != problem:
            company.sudo().efaktura_bankid_problem = problem

    # ------------------------------------------------------------------
    # The login of a consent request
    # ------------------------------------------------------------------

    @api.model
    def _session(self, consent):
        """In Test mode the BankID simulator of this database answers the relying party's calls in this process
        (discovery, pushed request, token, keys), so the consent page works whatever the server's worker set-up;
        in production, None: the real provider over HTTPS."""
        consent.ensure_one()
        if consent.company_id.efaktura_mode == "test":
            return consent.env["efaktura.bankid.simulator.entry"].sudo()._simulator_session()
        return None

    @api.model
    def _start(self, consent, browser_key, lang=None):
        """Start the customer's BankID login for ``consent``: keep what the callback checks (hashed state and
        browser key, nonce, PKCE verifier) and return ``(url, ttl)``, the provider's login page and how long it may
        take.

        :raises BankidPageError: BankID is misconfigured (recorded for the settings) or unreachable.
        """
        consent.ensure_one()
        company = consent.company_id
        session = self._session(consent)
        try:
            provider = self._provider(company)
            metadata = _discover(provider, session)
            # The BankID page in the customer's language too (OpenID Connect ui_locales, BCP 47 tags).
            ui_locales = f"{lang.replace('_', '-')} {lang.split('_')[0]}" if lang else None
            auth = oidc.start_authentication(
                provider, metadata, self._redirect_uri(company), session=session, ui_locales=ui_locales
            )
        except (oidc.OidcConfigError, UserError) as error:
            # The company's BankID set-up is wrong (PAR not offered, http issuer...): the settings show it.
            _logger.warning("BankID login could not start for consent %s: %s", consent.id, error)
            self._record_problem(company, str(error))
            raise BankidPageError("bankid_misconfigured", 503, consent) from error
        except Exception as error:
            _logger.warning("BankID login could not start for consent %s: %s", consent.id, error)
            raise BankidPageError("bankid_unavailable", 503, consent) from error
        self._record_problem(company, False)
        consent.write(
            {
                "oidc_state_hash": _hash_token(auth.state),
                "oidc_browser_hash": _hash_token(browser_key),
                "oidc_nonce": auth.nonce,
                "oidc_code_verifier": auth.code_verifier,
                "oidc_started_at": fields.Datetime.now(),
            }
        )
        return auth.url, provider.request_ttl

    @api.model
    def _finish(self, params, browser_key, ip_address=None, user_agent=None):
        """Finish a BankID login from the provider's callback ``params``, in the browser that started it
        (``browser_key``, its cookie). Every OpenID Connect check runs; only then is the consent accepted (see
        ``efaktura.consent._accept``). A login is used once. Returns ``(consent, outcome)``.

        :raises BankidPageError: unknown or replayed login, another browser, cancelled, refused, too weak a login,
            BankID misconfigured, or the request expired or was answered meanwhile.
        """
        consent = self.env["efaktura.consent"]._find_by_oidc_state(params.get("state"))
        if not consent or not consent.oidc_nonce or not consent.oidc_code_verifier:
            raise BankidPageError("invalid", 400)
        # The state must come back to the browser that started the login, not to any browser holding the URL.
        expected = consent.oidc_browser_hash or ""
        if not expected or not consteq(_hash_token(browser_key or ""), expected):
            _logger.warning("BankID callback for consent %s came from another browser: refused", consent.id)
            raise BankidPageError("invalid", 400, consent)
        auth_request = oidc.AuthRequest(
            url="",
            state=params.get("state"),
            nonce=consent.oidc_nonce,
            code_verifier=consent.oidc_code_verifier,
            created_at=consent.oidc_started_at.timestamp() if consent.oidc_started_at else 0,
        )
        # A login is used once: a replayed callback finds nothing.
        consent.write(
            {"oidc_state_hash": False, "oidc_browser_hash": False, "oidc_nonce": False, "oidc_code_verifier": False}
        )
        company = consent.company_id
        session = self._session(consent)
        try:
            provider = self._provider(company)
            identity = oidc.finish_authentication(
                provider,
                _discover(provider, session),
                auth_request,
                params,
                self._redirect_uri(company),
                session=session,
            )
        except oidc.OidcProviderError as error:
            if error.cancelled:
                raise BankidPageError("cancelled", 200, consent) from error
            _logger.info("BankID login failed for consent %s: %s", consent.id, error)
            raise BankidPageError("invalid", 400, consent) from error
        except oidc.OidcAssuranceError as error:
            _logger.info("BankID login too weak for consent %s: %s", consent.id, error)
            raise BankidPageError("weak_login", 403, consent) from error
        except oidc.OidcError as error:
            _logger.warning("BankID answer rejected for consent %s: %s", consent.id, error)
            raise BankidPageError("invalid", 400, consent) from error
        except UserError as error:
            _logger.warning("BankID is not configured for consent %s: %s", consent.id, error)
            raise BankidPageError("bankid_misconfigured", 503, consent) from error
        try:
            return consent, consent._accept(identity, ip_address=ip_address, user_agent=user_agent)
        except UserError as error:  # expired or answered meanwhile: say so, never a trace
            _logger.info("Consent %s could not be accepted: %s", consent.id, error)
            raise BankidPageError("expired", 410, consent) from error
