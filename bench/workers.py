"""Two workers on one queue (run by ``odoo-bin shell``; see bench/run.sh).

BENCH_WORKERS_MODE:
  prepare  the consumers' eFaktura identifiers learnt (as after a first dispatch) and the first
           BENCH_WORKERS_INVOICES invoices queued; committed
  work     one worker: waits until the file BENCH_WORKERS_GO exists (so that every worker has loaded Odoo before
           the clock starts), then runs the dispatch cron's own loop, ``_cron_dispatch(batch_size=200)``, committing
           per batch, until the queue is empty; prints when it started and ended and how many it dispatched
  check    what the network received: documents per invoice in the sandbox nettbank (duplicates), invoices not
           delivered (lost), states

Prints one ``BENCH_RESULT {json}`` line.
"""

import json
import os
import sys
import time

from odoo.addons.l10n_no_efaktura_b2c.networks.base import Recipient

env = globals()["env"]  # provided by odoo-bin shell
company = env["res.company"].search([("name", "=", "Bench Elektro AS")], limit=1)
env = env(context=dict(env.context, allowed_company_ids=[company.id]))
company = company.with_env(env)
mode = os.environ["BENCH_WORKERS_MODE"]
count = int(os.environ.get("BENCH_WORKERS_INVOICES", "10000"))
moves = env["account.move"].search(
    [("company_id", "=", company.id), ("move_type", "=", "out_invoice"), ("name", "not like", "BENCH/%")],
    order="id",
    limit=count,
)
result = {"mode": f"workers_{mode}", "loadavg_start": os.getloadavg()[0]}

if mode == "prepare":
    partners = moves.partner_id
    found = company._efaktura_network().lookup(
        [Recipient(ref=str(p.id), name=p.name, mobile=p.mobile or "", email=p.email or "") for p in partners]
    )
    for partner in partners.with_company(company).sudo():
        partner.write({"efaktura_identifier": found[str(partner.id)].efaktura_identifier, "efaktura_state": "active"})
    moves._efaktura_queue()
    env.cr.commit()  # pylint: disable=invalid-commit  # the workers run in processes of their own
    result["queued"] = env["account.move"].search_count([("efaktura_state", "=", "queued")])
elif mode == "work":
    go = os.environ["BENCH_WORKERS_GO"]
    open(os.environ["BENCH_WORKERS_READY"], "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
    started = time.time()
    cpu = time.process_time()
    done = env["efaktura.chain"]._cron_dispatch(batch_size=200, time_budget=10**6)
    result.update(
        started=started, ended=time.time(), dispatched=done, cpu_seconds=time.process_time() - cpu, pid=os.getpid()
    )
elif mode == "check":
    env.cr.execute(
        """SELECT count(*), count(DISTINCT invoice_number) FROM efaktura_sandbox_document
            WHERE company_id = %s AND invoice_number = ANY(%s)""",
        [company.id, moves.mapped("name")],
    )
    documents, distinct = env.cr.fetchone()
    states = {state: len(group) for state, group in moves.grouped("efaktura_state").items()}
    result.update(
        invoices=len(moves),
        documents=documents,
        duplicates=documents - distinct,
        lost=len(moves) - distinct,
        states=states,
    )

result["loadavg_end"] = os.getloadavg()[0]
sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")
