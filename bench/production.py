"""Production path through Odoo (run by ``odoo-bin shell`` on a seeded copy; see bench/run.sh).

The company is switched to production mode against the local MPS SOAP peer (tests/mps_peer.py: every request
and answer validated against the module's XSD) and the local Vipps REST peer (tests/vipps_peer.py: every request
checked against the published OpenAPI document), both served over loopback HTTP from threads of this process.
Then, one after the other, on the same 1,000 invoices and rolled back after each:

  mps     the chain's dispatch of 1,000 invoices to consumers whose eFaktura identifier is known, in one batch:
          one addInvoices shipment of 1,000 (MPS takes at most 1,000 transactions per shipment,
          networks/mps_client.py ADD_INVOICES_BATCH_SIZE)
  vipps   the same 1,000 invoices to consumers who receive eFaktura in Vipps: one PUT per invoice
  native  Odoo's own Send & Print by e-mail of the same invoices (as row 1b)

The dispatch is timed with the network's work included (zeep building and reading SOAP, the HTTP round trips,
the peers' validation, which runs in this process too). Prints one ``BENCH_RESULT {json}`` line.
"""

import json
import os
import sys
import time

import odoo

from odoo.addons.l10n_no_efaktura_b2c.networks import mps_client

# The peers live in the test package: imported as the tests import them.
_test_enable = odoo.tools.config["test_enable"]
odoo.tools.config["test_enable"] = True
from odoo.addons.l10n_no_efaktura_b2c.tests.mps_peer import MpsPeer  # noqa: E402
from odoo.addons.l10n_no_efaktura_b2c.tests.vipps_peer import VippsPeer  # noqa: E402

odoo.tools.config["test_enable"] = _test_enable

env = globals()["env"]  # provided by odoo-bin shell
company = env["res.company"].search([("name", "=", "Bench Elektro AS")], limit=1)
env = env(context=dict(env.context, allowed_company_ids=[company.id], tracking_disable=False))
company = company.with_env(env)
COUNT = int(os.environ.get("BENCH_PRODUCTION_INVOICES", "1000"))
Move = env["account.move"]
moves = Move.search([("company_id", "=", company.id), ("move_type", "=", "out_invoice")], order="id", limit=COUNT)
chain = env["efaktura.chain"]
result = {"mode": "production", "invoices": len(moves), "loadavg_start": os.getloadavg()[0]}


def measure(fn):
    env.flush_all()
    env.invalidate_all()
    queries = env.cr.sql_log_count
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    env.flush_all()
    seconds = time.perf_counter() - wall
    count = env.cr.sql_log_count - queries
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(time.process_time() - cpu, 3),
        "queries": count,
        "queries_per_invoice": round(count / len(moves), 4),
        "invoices_per_s": round(len(moves) / seconds, 1),
    }


def states():
    moves.invalidate_recordset()
    return {f"{s}/{c}": len(g) for (s, c), g in moves.grouped(lambda m: (m.efaktura_state, m.efaktura_channel)).items()}


def dispatch():
    moves._efaktura_queue()
    env.flush_all()
    figures = measure(lambda: chain._dispatch_locked(moves))
    figures["states"] = states()
    return figures


mps_peer = MpsPeer().start()
vipps_peer = VippsPeer().start()
try:
    env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.bench.example.com")
    company.write(
        {
            "efaktura_network_mode": "production",
            "efaktura_production_route": "mps",
            "efaktura_mps_endpoint": mps_peer.url,
            "efaktura_mps_cancel_endpoint": mps_peer.base_url.rstrip("/") + mps_client.SUBMITTER_PATH,
            "efaktura_mps_client_cert": __file__ if "__file__" in globals() else "/dev/null",
            "efaktura_uses_vipps_api": True,
            "efaktura_vipps_base_url": vipps_peer.base_url,
            "efaktura_vipps_token_url": vipps_peer.token_url,
            "efaktura_vipps_client_id": vipps_peer.client_id,
            "efaktura_vipps_client_secret": vipps_peer.client_secret,
            "efaktura_vipps_subscription_key": vipps_peer.subscription_key,
        }
    )
    mps_peer.add_issuer(company.efaktura_issuer_org_number, company.name, company.efaktura_billing_account)
    partners = moves.partner_id.with_company(company).sudo()
    for partner in partners:
        mps_peer.add_consumer(f"7{partner.id:08d}", partner.name, phone=partner.mobile)
        vipps_peer.add_user(msisdn=partner.mobile.lstrip("+"))
    env.flush_all()
    env.cr.execute("SAVEPOINT bench_production")

    # MPS: known nettbank consumers (their identifier was learnt by an earlier lookup), not in Vipps.
    for partner in partners:
        partner.write(
            {"efaktura_identifier": f"7{partner.id:08d}", "efaktura_found_in_vipps": False, "efaktura_state": "active"}
        )
    result["mps"] = dispatch()
    result["mps"]["add_invoices_calls"] = len(mps_peer.requests_for("addInvoices"))
    result["mps"]["invoices_at_peer"] = len(mps_peer.invoices)
    result["mps"]["duplicates_at_peer"] = len(mps_peer.duplicates)
    result["mps"]["peer_errors"] = len(mps_peer.errors)
    result["mps"]["http_requests"] = len(mps_peer.requests)
    env.cr.execute("ROLLBACK TO SAVEPOINT bench_production")
    env.invalidate_all()

    # Vipps: consumers who receive eFaktura in Vipps (the chain's first channel).
    for partner in partners:
        partner.write({"efaktura_identifier": False, "efaktura_found_in_vipps": True, "efaktura_state": "active"})
    result["vipps"] = dispatch()
    result["vipps"]["invoices_at_peer"] = len(vipps_peer.invoices)
    result["vipps"]["duplicates_at_peer"] = len(vipps_peer.duplicates)
    result["vipps"]["peer_errors"] = len(vipps_peer.internal_errors)
    result["vipps"]["http_requests"] = len(vipps_peer.requests)
    env.cr.execute("ROLLBACK TO SAVEPOINT bench_production")
    env.invalidate_all()

    # Odoo's own Send & Print by e-mail of the same invoices, in the same process.
    user = env.user
    result["native"] = measure(
        lambda: env["account.move.send"]._generate_and_send_invoices(
            moves,
            from_cron=True,
            allow_raising=False,
            sending_methods={"email"},
            author_user_id=user.id,
            author_partner_id=user.partner_id.id,
        )
    )
    result["native"]["mails"] = (
        env["mail.mail"]
        .sudo()
        .search_count([("model", "=", "account.move"), ("res_id", "in", moves.ids), ("state", "=", "outgoing")])
    )
    for name in ("mps", "vipps"):
        result[name]["ratio"] = round(result[name]["seconds"] / result["native"]["seconds"], 4)
finally:
    mps_peer.stop()
    vipps_peer.stop()
    env.cr.rollback()

result["sql_counter"] = odoo.sql_db.sql_counter
result["loadavg_end"] = os.getloadavg()[0]
sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")
