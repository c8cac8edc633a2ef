"""Chaos faults (run by ``odoo-bin shell``): the sandbox fails 30% of its calls (HTTP 5xx, timeouts,
malformed answers); the dispatch cron runs until every invoice is delivered or has fallen back.

Between rounds time moves forward: the retries that are waiting become due, as they would after
5, 10, 20 and 40 minutes. Prints ``CHAOS_FAULTS <json>`` with the faults injected and the rounds.
"""

import json
import os
import random
import sys

from odoo.addons.l10n_no_efaktura_b2c.sandbox import network as sandbox

env = globals()["env"]  # provided by odoo-bin shell
company = env["res.company"].search([("name", "=", "Chaos Elektro AS")], limit=1)
# In production mode the faults come from the MPS and Vipps peers (chaos/peers.py), which count them.
production = company.efaktura_network_mode == "production"
if not production:
    company.efaktura_sandbox_failure = "flaky"
env.cr.commit()  # pylint: disable=invalid-commit

injected = {"calls": 0, "faults": 0}
kinds = {}
original = sandbox.SandboxNetwork._injected_failure
rng = random.Random(int(os.environ.get("CHAOS_SEED", "5")))


def counting_failure(self):
    self.rng = rng
    error = original(self)
    injected["calls"] += 1
    if error is not None:
        injected["faults"] += 1
        kinds[error.code] = kinds.get(error.code, 0) + 1
    return error


sandbox.SandboxNetwork._injected_failure = counting_failure
rounds = 0
while rounds < 50:
    rounds += 1
    env["efaktura.chain"]._cron_dispatch(batch_size=int(os.environ.get("CHAOS_BATCH", "50")), time_budget=3600)
    env.cr.commit()  # pylint: disable=invalid-commit
    # Time passes: every waiting retry is due now.
    env.cr.execute(
        """UPDATE account_move SET efaktura_next_try = now() at time zone 'UTC' - interval '1 second'
            WHERE company_id = %s AND efaktura_state = 'queued' AND efaktura_next_try IS NOT NULL""",
        [company.id],
    )
    waiting = env.cr.rowcount
    env.cr.execute(
        """UPDATE efaktura_delivery SET next_retry_at = now() at time zone 'UTC' - interval '1 second'
            WHERE company_id = %s AND state = 'failed' AND NOT final""",
        [company.id],
    )
    env.cr.commit()  # pylint: disable=invalid-commit
    env.invalidate_all()
    if not waiting:
        break
if not production:
    company.efaktura_sandbox_failure = "none"
env.cr.commit()  # pylint: disable=invalid-commit
result = {"rounds": rounds}
if not production:
    result.update(calls=injected["calls"], faults=injected["faults"], kinds=kinds)
sys.stdout.write("CHAOS_FAULTS " + json.dumps(result, sort_keys=True) + "\n")
