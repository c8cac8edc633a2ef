import hashlib
import time

from odoo import api, fields, models
from odoo.tools import SQL

from .. import compat

# Requests per client address and token within one window; past the limit the routes answer 429.
RATE_LIMIT = 20
RATE_WINDOW = 600  # seconds
# Unknown tokens per client address within one window: guessing tokens is stopped early.
MISS_LIMIT = 60


class EfakturaRateLimit(models.Model):
    """Counters for the public consent routes, per client and token, in fixed time windows.

    A counter is one row per key and window, raised with a single ``INSERT ... ON CONFLICT DO UPDATE``:
    atomic, and shared by every worker of every server on the database.
    """

    _name = "efaktura.rate.limit"
    _description = "eFaktura public route rate limit"
    _log_access = False

    # SHA-256 of the route group, client address and token: neither address nor token is kept.
    key = fields.Char(required=True, readonly=True)
    # The window's start, in seconds since 1970.
    window_start = fields.Integer(required=True, readonly=True)
    hits = fields.Integer(required=True, readonly=True, default=0)

    _key_window_uniq = compat.Constraint("unique(key, window_start)", "One counter per key and window.")

    @api.model
    def _key(self, scope, client, token):
        return hashlib.sha256(f"{scope}|{client}|{token}".encode()).hexdigest()

    @api.model
    def _hit(self, scope, client, token, period=RATE_WINDOW):
        """Count one request and return the number of requests in this window, this one included."""
        window = int(time.time()) // period * period
        self.env.cr.execute(
            SQL(
                """INSERT INTO efaktura_rate_limit (key, window_start, hits) VALUES (%s, %s, 1)
                   ON CONFLICT (key, window_start) DO UPDATE SET hits = efaktura_rate_limit.hits + 1
                   RETURNING hits""",
                self._key(scope, client, token),
                window,
            )
        )
        return self.env.cr.fetchone()[0]

    @api.model
    def _exceeded(self, scope, client, token, limit=RATE_LIMIT, period=RATE_WINDOW):
        """Count one request; True once the client made more than ``limit`` in this window."""
        return self._hit(scope, client, token, period=period) > limit

    @api.autovacuum
    def _gc_windows(self):
        """Counters of past windows serve no purpose."""
        self.env.cr.execute(
            SQL("DELETE FROM efaktura_rate_limit WHERE window_start < %s", int(time.time()) - 2 * RATE_WINDOW)
        )
