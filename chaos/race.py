"""Chaos race (run by ``odoo-bin shell``, two at once): the consent deadline against the customer's
acceptance, at the deadline's edge.

CHAOS_ROLE=deadline runs the deadline cron from the deadline on; CHAOS_ROLE=accept accepts every
open consent with a verified BankID identity, starting just before the deadline. CHAOS_DEADLINE is the
deadline (epoch seconds) that ``CHAOS_ROLE=arm`` sets on every open consent and its invoices.
"""

import datetime
import os
import sys
import time

from psycopg2 import errors
from stdnum.no import fodselsnummer

from odoo.exceptions import UserError

from odoo.addons.l10n_no_efaktura_b2c.tools.oidc import VerifiedIdentity

env = globals()["env"]  # provided by odoo-bin shell


def _national_id(index):
    """A made-up national identity number that passes the checks (born 1990), distinct per index."""
    day = 1 + index % 28
    for individual in range(index % 500, 500):
        base = f"{day:02d}0190{individual:03d}"
        first = fodselsnummer.calc_check_digit1(base)
        number = base + first + fodselsnummer.calc_check_digit2(base + first)
        if fodselsnummer.is_valid(number):
            return number
    raise ValueError(f"no national id for index {index}")


role = os.environ["CHAOS_ROLE"]
edge = float(os.environ["CHAOS_DEADLINE"])
deadline = datetime.datetime.fromtimestamp(edge, datetime.UTC).replace(tzinfo=None)
company = env["res.company"].search([("name", "=", "Chaos Elektro AS")], limit=1)
Consent = env["efaktura.consent"]
retryable = (errors.SerializationFailure, errors.LockNotAvailable, errors.DeadlockDetected)

if role == "arm":
    consents = Consent.search([("company_id", "=", company.id), ("state", "in", ("draft", "sent"))])
    consents.sudo().write({"deadline": deadline})
    consents.move_ids._efaktura_write({"efaktura_deadline": deadline})
    env.cr.commit()  # pylint: disable=invalid-commit
    sys.stdout.write(f"armed {len(consents)}\n")
elif role == "deadline":
    time.sleep(max(0.0, edge - time.time()))
    runs = 0
    while runs < 200:
        runs += 1
        try:
            env["efaktura.chain"]._cron_deadlines(batch_size=5)
            env.cr.commit()  # pylint: disable=invalid-commit
        except retryable:
            env.cr.rollback()  # as the cron runner does: the job runs again
            env.invalidate_all()
            continue
        env.invalidate_all()
        if not Consent.search_count([("company_id", "=", company.id), ("state", "in", ("draft", "sent"))]):
            break
        time.sleep(0.05)
    sys.stdout.write(f"deadline cron ran {runs} times\n")
else:
    consents = Consent.search([("company_id", "=", company.id), ("state", "in", ("draft", "sent"))], order="id")
    accepted = refused = 0
    for position, consent in enumerate(consents):
        # The acceptances are spread over the two seconds around the deadline.
        time.sleep(max(0.0, edge - 1.0 + 2.0 * position / max(len(consents), 1) - time.time()))
        partner = consent.partner_id
        index = int(partner.name.rsplit(" ", 1)[1])
        identity = VerifiedIdentity(
            sub=f"sub-{index}",
            name=partner.name,
            given_name=" ".join(partner.name.split()[:-1]),
            family_name=partner.name.split()[-1],
            birthdate="1990-01-01",
            national_id=_national_id(index),
            acr="urn:bankid:bis;LOA=3",
            amr=["BIS"],
            issuer="https://bankid.chaos.example",
            claims={},
        )
        try:
            # eFaktura 2.0: accepted only when the lookup by national id finds the consumer; otherwise the request
            # stays open (looked up again) until the deadline cron expires it.
            outcome = consent._accept(identity, ip_address="127.0.0.1", user_agent="chaos")
            env.cr.commit()  # pylint: disable=invalid-commit
            accepted += outcome == "accepted"
            refused += outcome != "accepted"
        except (UserError, *retryable):
            env.cr.rollback()
            env.invalidate_all()
            refused += 1
    sys.stdout.write(f"accepted {accepted}, refused {refused}\n")
