"""Chaos read-back (run by ``odoo-bin shell``): the status poll cron, until the network has answered for all.

Maventa takes an invoice as PENDING and routes it later; the module learns the outcome (SENT, or ERROR and
then e-mail or post) by reading the invoice's status back. The status cron runs in rounds, 0.3 s apart,
until no delivery of the chaos company is left in the state "submitted", or 50 rounds have passed (a call
that fails ends a round early, as in the cron). Prints ``CHAOS_POLL <json>`` with the rounds and the
deliveries still waiting.
"""

import json
import sys
import time

env = globals()["env"]  # provided by odoo-bin shell
company = env["res.company"].search([("name", "=", "Chaos Elektro AS")], limit=1)
Delivery = env["efaktura.delivery"].sudo()
waiting_domain = [
    ("company_id", "=", company.id),
    ("state", "=", "submitted"),
    ("channel", "in", ("nettbank", "vipps")),
    ("network_reference", "!=", False),
]
rounds = 0
while rounds < 50 and Delivery.search_count(waiting_domain):
    rounds += 1
    time.sleep(0.3)
    env["efaktura.delivery"]._cron_poll_status()
    env.cr.commit()  # pylint: disable=invalid-commit
    env.invalidate_all()
result = {"poll_rounds": rounds, "still_submitted": Delivery.search_count(waiting_domain)}
sys.stdout.write("CHAOS_POLL " + json.dumps(result, sort_keys=True) + "\n")
