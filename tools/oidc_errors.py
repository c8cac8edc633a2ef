"""The errors of the OpenID Connect relying party (``tools/oidc.py`` and its parts), in plain Python (no Odoo import).

Every failure raises a subclass of :class:`OidcError`: a configuration or provider metadata that cannot be used
safely, a callback that does not belong to the login, an error answered by the provider, an ID token that fails a
check, a level of assurance too low, or an HTTP call that failed.
"""


class OidcError(Exception):
    """Base class of every error raised by the relying party."""


class OidcConfigError(OidcError, ValueError):
    """A provider configuration or provider metadata that cannot be used safely."""


class OidcStateMismatch(OidcError):
    """The callback does not belong to the stored authentication request (CSRF, replay, mix-up)."""


class OidcProviderError(OidcError):
    """The provider answered the authentication request with an error instead of a code.

    ``error`` is the OAuth error code (``access_denied`` when the person cancelled or refused),
    ``description`` the provider's ``error_description``.
    """

    def __init__(self, error, description=""):
        self.error = error or "unknown_error"
        self.description = description or ""
        text = f"the identity provider returned error {self.error!r}"
        if self.description:
            text += f": {self.description}"
        super().__init__(text)

    @property
    def cancelled(self):
        """True when the person cancelled or refused the login."""
        return self.error == "access_denied"


class OidcTokenInvalid(OidcError):
    """The ID token failed a check. ``reason`` is a short key naming the check.

    Reasons: ``malformed``, ``alg``, ``key``, ``signature``, ``expired``, ``iat``, ``aud``,
    ``iss``, ``missing_claim``, ``nonce``, ``azp``, ``sub``, ``no_id_token``.
    """

    def __init__(self, reason, message):
        self.reason = reason
        super().__init__(f"ID token rejected ({reason}): {message}")


class OidcAssuranceError(OidcError):
    """The login was made with a method or level of assurance below the one required.

    ``acr`` is what the provider reported, ``required`` the required level.
    """

    def __init__(self, acr, required):
        self.acr = acr
        self.required = required
        super().__init__(f"the login's level of assurance {acr!r} is below the required level {required!r}")


class OidcHttpError(OidcError):
    """An HTTP call to the provider failed: network error, bad status or unreadable answer.

    ``status`` is the HTTP status (None when there was no answer), ``error`` and ``description``
    the OAuth error from the body when there was one (``invalid_grant``, ``invalid_client``...).
    """

    def __init__(self, url, message, status=None, error=None, description=None):
        self.url = url
        self.status = status
        self.error = error
        self.description = description
        super().__init__(f"{url}: {message}")
