"""Benchmark measurements (run by ``odoo-bin shell`` on a seeded copy; see bench/run.sh).

BENCH_MODE:
  module   (a) this module's dispatch of 1,000 invoices, one per JTTA consumer, first contact (JTTA lookup
           included), then 1,000 more to the same, now known, consumers; then 1,000 to consumers who said
           no to eFaktura (the e-mail fallback channel)
  native   (b) Odoo's own Send & Print by e-mail of the same first 1,000 invoices
  queries  queries per batch of 10, 100 and 1,000, for this module and the native path
  scaling  the dispatch cron over 1k, 5k and 10k queued invoices to known consumers

Nothing is committed: every measurement is rolled back, so the seeded copy stays as it was.
Prints one ``BENCH_RESULT {json}`` line.
"""

import json
import os
import sys
import time

import odoo

from odoo.addons.l10n_no_efaktura_b2c.networks.base import Recipient

env = globals()["env"]  # provided by odoo-bin shell
company = env["res.company"].search([("name", "=", "Bench Elektro AS")], limit=1)
env = env(context=dict(env.context, allowed_company_ids=[company.id], tracking_disable=False))
company = company.with_env(env)
mode = os.environ["BENCH_MODE"]
Move = env["account.move"]
all_moves = Move.search([("company_id", "=", company.id), ("move_type", "=", "out_invoice")], order="id")
consumers = len(all_moves.partner_id)
chain = env["efaktura.chain"]
result = {"mode": mode, "loadavg_start": os.getloadavg()[0]}


def measure(fn):
    """Wall and CPU seconds and queries of fn(), with everything flushed to the database."""
    env.flush_all()
    env.invalidate_all()
    queries, all_queries = env.cr.sql_log_count, odoo.sql_db.sql_counter
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    env.flush_all()
    return {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        # On the transaction's cursor; the sandbox network writes through a cursor of its own (it stands in
        # for a remote system), whose statements are counted in all_queries only.
        "queries": env.cr.sql_log_count - queries,
        "all_queries": odoo.sql_db.sql_counter - all_queries,
    }


def queue(moves):
    moves._efaktura_queue()
    env.flush_all()
    env.invalidate_all()
    return moves


def module_dispatch(moves):
    queue(moves)
    figures = measure(lambda: chain._dispatch_locked(moves))
    moves.invalidate_recordset()
    figures["states"] = {state: len(group) for state, group in moves.grouped("efaktura_state").items()}
    figures["invoices"] = len(moves)
    return figures


def native_send(moves):
    user = env.user

    def send():
        env["account.move.send"]._generate_and_send_invoices(
            moves,
            from_cron=True,
            allow_raising=False,
            sending_methods={"email"},
            author_user_id=user.id,
            author_partner_id=user.partner_id.id,
        )

    figures = measure(send)
    figures["invoices"] = len(moves)
    figures["mails"] = (
        env["mail.mail"]
        .sudo()
        .search_count([("model", "=", "account.move"), ("res_id", "in", moves.ids), ("state", "=", "outgoing")])
    )
    return figures


def learn_identifiers(partners):
    """What the first dispatch to a consumer does: find the eFaktura identifier in the JTTA registry."""
    found = company._efaktura_network().lookup(
        [Recipient(ref=str(p.id), name=p.name, mobile=p.mobile or "", email=p.email or "") for p in partners]
    )
    for partner in partners.with_company(company).sudo():
        partner.write({"efaktura_identifier": found[str(partner.id)].efaktura_identifier, "efaktura_state": "active"})
    env.flush_all()


def per_consumer(offset, count):
    """``count`` invoices, each to a different consumer, starting at the offset-th round of invoices."""
    return all_moves[offset * consumers : offset * consumers + count]


if mode == "module":
    first = per_consumer(0, consumers)
    result["first_contact"] = module_dispatch(first)
    result["known"] = module_dispatch(per_consumer(1, consumers))
    if os.environ.get("BENCH_EMAIL_FALLBACK") == "1":
        # Consumers who said no thanks: the chain skips eFaktura and uses Odoo's e-mail path.
        third = per_consumer(2, consumers)
        third.partner_id.with_company(company).sudo().write(
            {"efaktura_state": "declined", "efaktura_identifier": False, "efaktura_found_in_vipps": False}
        )
        result["email_fallback"] = module_dispatch(third)
    with env.registry.cursor() as cr:  # the sandbox commits on its own cursor: read it from a fresh one
        cr.execute("SELECT count(*) FROM efaktura_sandbox_document WHERE company_id = %s", [company.id])
        result["sandbox_documents"] = cr.fetchone()[0]
elif mode == "native":
    result["native"] = native_send(per_consumer(0, consumers))
elif mode == "queries":
    # First contact: the batch also learns each consumer's eFaktura identifier.
    result["first_contact"] = {
        "10": module_dispatch(all_moves[0:10])["queries"],
        "100": module_dispatch(all_moves[10:110])["queries"],
    }
    learn_identifiers(all_moves.partner_id)
    module_dispatch(per_consumer(1, 3))  # warm-up: caches that any first batch fills
    result["known"] = {}
    for batch in (per_consumer(2, 10), per_consumer(2, 110)[10:], per_consumer(3, consumers)):
        result["known"][str(len(batch))] = module_dispatch(batch)["queries"]
    env.cr.rollback()
    env.invalidate_all()
    native_send(per_consumer(4, 3))  # the same warm-up for the native path
    result["native"] = {}
    for batch in (per_consumer(5, 10), per_consumer(5, 110)[10:]):
        result["native"][str(len(batch))] = native_send(batch)["queries"]
elif mode == "scaling":
    learn_identifiers(all_moves.partner_id)
    type(chain)._can_commit = lambda self: False  # one transaction, rolled back: nothing is committed
    dispatched = {}

    def cron_dispatch():
        dispatched["count"] = chain._cron_dispatch(batch_size=200, time_budget=10**6)

    result["scaling"] = {}
    for size in [int(s) for s in os.environ.get("BENCH_SIZES", "1000,5000,10000").split(",")]:
        moves = all_moves[:size]
        queue(moves)
        figures = measure(cron_dispatch)
        moves.invalidate_recordset()
        figures["dispatched"] = dispatched["count"]
        figures["sent"] = len(moves.filtered(lambda m: m.efaktura_state == "sent"))
        result["scaling"][str(size)] = figures
        env.cr.rollback()
        env.invalidate_all()
        learn_identifiers(all_moves.partner_id)

env.cr.rollback()
result["loadavg_end"] = os.getloadavg()[0]
sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")
