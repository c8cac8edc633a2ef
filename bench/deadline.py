"""Deadline cron benchmark (run by ``odoo-bin shell`` on a throwaway copy; see bench/run.sh).

BENCH_DEADLINE_MODE:
  seed     BENCH_DEADLINE_COUNT consumers with an expired consent request and one waiting invoice each,
           cloned by SQL from one record of each kind made by the ORM. The consumers have a postal address
           and no e-mail, so the chain's fallback is the post channel (a snailmail letter, queued).
  run      ``efaktura.chain._cron_deadlines`` as the cron runs it (batches of 500, committed), stopped after
           BENCH_DEADLINE_BUDGET seconds; with BENCH_DEADLINE_EXPIRY_ONLY=1 the chain's dispatch is left out,
           which measures the expiry step alone.
  profile  cProfile of the full chain over BENCH_DEADLINE_PROFILE_BATCHES batches (committed as the cron
           commits them; the batch after them is rolled back).

Prints one ``BENCH_RESULT {json}`` line.
"""

import cProfile
import io
import json
import os
import pstats
import resource
import sys
import time
from datetime import timedelta

import odoo
from odoo import Command, fields

env = globals()["env"]  # provided by odoo-bin shell
company = env["res.company"].search([("name", "=", "Bench Elektro AS")], limit=1)
env = env(context=dict(env.context, allowed_company_ids=[company.id], tracking_disable=True))
company = company.with_env(env)
mode = os.environ["BENCH_DEADLINE_MODE"]
cr = env.cr
result = {"mode": f"deadline_{mode}", "loadavg_start": os.getloadavg()[0]}


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def columns(table, skip=("id",)):
    cr.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND table_schema = current_schema()",
        [table],
    )
    return [row[0] for row in cr.fetchall() if row[0] not in skip]


def clone(table, template_id, overrides, source_sql, params):
    """INSERT one row per row of source_sql (aliased s, with a column g), copying the template row."""
    cols = columns(table)
    select = ", ".join(overrides.get(c, f't."{c}"') for c in cols)
    cr.execute(
        f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)}) '
        f'SELECT {select} FROM "{table}" t, ({source_sql}) s WHERE t.id = %s ORDER BY s.g RETURNING id',
        [*params, template_id],
    )
    return [row[0] for row in cr.fetchall()]


if mode == "seed":
    count = int(os.environ.get("BENCH_DEADLINE_COUNT", "100000"))
    started = time.monotonic()
    address = {"street": "Kirkeveien 10", "zip": "0368", "city": "Oslo", "country_id": env.ref("base.no").id}
    partner = (
        env["res.partner"]
        .with_company(company)
        .create(
            {
                "name": "Bench Venter 0",
                "mobile": "+4740000000",
                "efaktura_receive_edocuments": True,
                "efaktura_access_point": "b2cno",
                **address,
            }
        )
    )
    journal = env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "sale")], limit=1)
    move = env["account.move"].create(
        {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "journal_id": journal.id,
            "invoice_date": fields.Date.today(),
            "invoice_payment_term_id": env.ref("account.account_payment_term_30days").id,
            "invoice_line_ids": [Command.create({"name": "Elektrikertime", "price_unit": 1000, "tax_ids": []})],
        }
    )
    move.action_post()
    past = fields.Datetime.now() - timedelta(hours=1)
    # One consent made the way the chain makes it, to copy.
    consent = (
        env["efaktura.consent"]
        .sudo()
        .create(
            {
                "partner_id": partner.id,
                "company_id": company.id,
                "state": "sent",
                "token_hash": "0" * 64,
                "requested_at": past - timedelta(days=3),
                "deadline": past,
                "move_ids": [Command.link(move.id)],
            }
        )
    )
    partner.with_company(company).sudo().write({"efaktura_state": "consent_requested"})
    move._efaktura_write({"efaktura_state": "awaiting_consent", "efaktura_deadline": past})
    env.flush_all()
    series = "SELECT generate_series(1, %s) AS g"
    partner_ids = clone(
        "res_partner",
        partner.id,
        {
            "name": "'Bench Venter ' || s.g",
            "complete_name": "'Bench Venter ' || s.g",
            "mobile": "'+474' || lpad(s.g::text, 7, '0')",
            "phone_sanitized": "NULL",
        },
        series,
        [count - 1],
    )
    cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", [partner_ids])
    by_partner = "SELECT p AS partner, g FROM unnest(%s::int[]) WITH ORDINALITY AS u(p, g)"
    move_ids = clone(
        "account_move",
        move.id,
        {
            "name": "'BENCH/' || s.g",
            "partner_id": "s.partner",
            "commercial_partner_id": "s.partner",
            "partner_shipping_id": "s.partner",
            "sequence_prefix": "'BENCH/'",
            "sequence_number": "s.g",
            "access_token": "NULL",
            "payment_reference": "t.payment_reference",
        },
        by_partner,
        [partner_ids],
    )
    consent_ids = clone(
        "efaktura_consent",
        consent.id,
        {"partner_id": "s.partner", "token_hash": "md5(s.partner::text) || md5('t' || s.partner::text)"},
        by_partner,
        [partner_ids],
    )
    cr.execute(
        """INSERT INTO efaktura_consent_move_rel (consent_id, move_id)
           SELECT c, m FROM unnest(%s::int[], %s::int[]) AS u(c, m)""",
        [consent_ids, move_ids],
    )
    # The PDF Odoo stores when it sends (as bench/seed.py does): the e-mail fallback attaches it, rendering none.
    attachment = env["ir.attachment"].create(
        {
            "name": "BENCH_0.pdf",
            "raw": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
            "mimetype": "application/pdf",
            "res_model": "account.move",
            "res_id": move.id,
            "res_field": "invoice_pdf_report_file",
            "company_id": company.id,
        }
    )
    env.flush_all()
    clone(
        "ir_attachment",
        attachment.id,
        {"name": "'BENCH_' || s.g || '.pdf'", "res_id": "s.move", "access_token": "NULL"},
        "SELECT m AS move, g FROM unnest(%s::int[]) WITH ORDINALITY AS u(m, g)",
        [move_ids],
    )
    cr.commit()  # pylint: disable=invalid-commit  # the seed is kept for the runs that follow
    cr.execute("ANALYZE")
    env.invalidate_all()
    result.update(
        consents=env["efaktura.consent"].search_count(
            [("state", "=", "sent"), ("deadline", "<=", fields.Datetime.now())]
        ),
        waiting=env["account.move"].search_count([("efaktura_state", "=", "awaiting_consent")]),
        seconds=time.monotonic() - started,
    )

elif mode in ("run", "profile"):
    fallback = os.environ.get("BENCH_DEADLINE_FALLBACK", "post")
    if fallback == "email":
        # The same consumers with an e-mail address: the chain's fallback is Odoo's e-mail send with the PDF.
        cr.execute(
            "UPDATE res_partner SET email = 'venter' || id || '@bench.example.com' WHERE name LIKE 'Bench Venter %%'"
        )
        cr.commit()  # pylint: disable=invalid-commit  # a throwaway copy, set up for this run
    result["fallback"] = fallback
    result["batch_size"] = int(os.environ.get("BENCH_DEADLINE_BATCH", "500"))
    Chain = type(env["efaktura.chain"])
    expiry_only = os.environ.get("BENCH_DEADLINE_EXPIRY_ONLY") == "1"
    budget = float(os.environ.get("BENCH_DEADLINE_BUDGET", "240"))
    profile_batches = int(os.environ.get("BENCH_DEADLINE_PROFILE_BATCHES", "2"))
    batch_size = int(os.environ.get("BENCH_DEADLINE_BATCH", "500"))
    if expiry_only:
        Chain._dispatch_locked = lambda self, moves: moves
    env.cr.execute("SELECT count(*) FROM efaktura_consent WHERE state = 'sent'")
    open_before = env.cr.fetchone()[0]
    rss_before = rss_mb()
    commits = []  # (seconds, global query counter) at each committed batch
    started = time.monotonic()

    def can_commit(self):
        if mode == "profile":
            return len(commits) < profile_batches and not commits.append((time.monotonic() - started, 0))
        now = time.monotonic() - started
        if now > budget:
            return False
        commits.append((now, odoo.sql_db.sql_counter))
        return True

    Chain._can_commit = can_commit
    queries_start = odoo.sql_db.sql_counter
    if mode == "profile":
        profiler = cProfile.Profile()
        profiler.enable()
        env["efaktura.chain"]._cron_deadlines(batch_size=batch_size)
        profiler.disable()
        env.cr.rollback()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(40)
        tottime = io.StringIO()
        pstats.Stats(profiler, stream=tottime).sort_stats("tottime").print_stats(20)
        path = os.environ.get("BENCH_PROFILE_OUT", "/tmp/deadline_profile.txt")
        with open(path, "w") as handle:
            handle.write(out.getvalue())
            handle.write(tottime.getvalue())
        result.update(profile=path, profiled_consents=batch_size * profile_batches)
    else:
        env["efaktura.chain"]._cron_deadlines(batch_size=batch_size)
        env.cr.rollback()  # the batch that ran past the budget was not committed
        env.invalidate_all()
        env.cr.execute("SELECT count(*) FROM efaktura_consent WHERE state = 'sent'")
        open_after = env.cr.fetchone()[0]
        env.cr.execute(
            "SELECT efaktura_state, efaktura_channel, count(*) FROM account_move "
            "WHERE name LIKE 'BENCH/%%' OR partner_id IN (SELECT partner_id FROM efaktura_consent) "
            "GROUP BY 1, 2"
        )
        states = {f"{s}/{c}": n for s, c, n in env.cr.fetchall()}
        done = open_before - open_after
        seconds = commits[-1][0] if commits else 0.0
        queries = (commits[-1][1] - queries_start) if commits else 0
        result.update(
            expiry_only=expiry_only,
            open_before=open_before,
            processed=done,
            seconds=seconds,
            finished=open_after == 0,
            rate=done / seconds if seconds else 0.0,
            queries=queries,
            queries_per_1000=1000 * queries / done if done else 0.0,
            move_states=states,
        )
    result.update(rss_before_mb=rss_before, peak_rss_mb=rss_mb())

result["loadavg_end"] = os.getloadavg()[0]
sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")
