"""Accept-to-delivery seed (run by ``odoo-bin shell``): BENCH_LATENCY_RUNS consumers, each with one invoice
waiting for eFaktura consent (SMS and e-mail with a link sent), and the links' tokens in BENCH_LATENCY_TOKENS.

Every consumer is a namesake of the BankID simulator's test person Ingrid Hansen, with a mobile number and e-mail
address of their own: the JTTA lookup at the first dispatch (by mobile or e-mail, and name) does not find them, so
their invoices wait for consent; after the BankID login the lookup by the verified national identity number finds
Ingrid, who said "yes to all" in her nettbank (eFaktura 2.0: only then does the lookup give an identifier).
"""

import json
import os
import re
import sys

from odoo import Command, fields

from odoo.addons.l10n_no_efaktura_b2c.sandbox.bankid import TEST_PERSONS

env = globals()["env"]  # provided by odoo-bin shell
# BENCH_LATENCY_COMPANY: the xml id of the company to use (the demo's Norwegian company for the make demo run).
company = (
    env.ref(os.environ["BENCH_LATENCY_COMPANY"])
    if os.environ.get("BENCH_LATENCY_COMPANY")
    else env["res.company"].search([("name", "=", "Bench Elektro AS")], limit=1)
)
env = env(context=dict(env.context, allowed_company_ids=[company.id], tracking_disable=True))
company = company.with_env(env)
runs = int(os.environ.get("BENCH_LATENCY_RUNS", "100"))
base_url = os.environ["BENCH_BASE_URL"]
person = next(p for p in TEST_PERSONS if p.given_name == "Ingrid")

params = env["ir.config_parameter"].sudo()
params.set_param("web.base.url", base_url)
params.set_param("web.base.url.freeze", "True")
registry = env["efaktura.sandbox.consumer"].search([("mobile", "=", "+4791345678")], limit=1) or env[
    "efaktura.sandbox.consumer"
].create({"name": person.name, "mobile": "+4791345678", "jtta": True, "vipps": False})
registry.write({"jtta": True, "vipps": False})
registry.national_id = person.nnin
partners = (
    env["res.partner"]
    .with_company(company)
    .create(
        [
            {
                "name": person.name,
                "mobile": f"+4745{i:06d}",
                "email": f"ingrid{i}@bench.example.com",
                "street": "Storgata 1",
                "zip": "0155",
                "city": "Oslo",
                "country_id": env.ref("base.no").id,
                "efaktura_receive_edocuments": True,
                "efaktura_access_point": "b2cno",
            }
            for i in range(runs)
        ]
    )
)
journal = env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "sale")], limit=1)
moves = env["account.move"].create(
    [
        {
            "move_type": "out_invoice",
            "partner_id": partner.id,
            "journal_id": journal.id,
            "invoice_date": fields.Date.today(),
            "invoice_payment_term_id": env.ref("account.account_payment_term_30days").id,
            "invoice_line_ids": [Command.create({"name": "Elektrikertime", "price_unit": 500 + i, "tax_ids": []})],
        }
        for i, partner in enumerate(partners)
    ]
)
moves.action_post()
moves._efaktura_queue()
env["efaktura.chain"]._dispatch_locked(moves)
moves.invalidate_recordset()
waiting = moves.filtered(lambda m: m.efaktura_state == "awaiting_consent")
link = re.compile(r"/efaktura/consent/([A-Za-z0-9_-]{43,})")
sms = {s.partner_id.id: s.body for s in env["sms.sms"].sudo().search([("partner_id", "in", partners.ids)])}
items = [
    {"token": link.search(sms[move.partner_id.id]).group(1), "invoice": move.name, "move_id": move.id}
    for move in waiting
]
env.cr.commit()
with open(os.environ["BENCH_LATENCY_TOKENS"], "w") as handle:
    json.dump({"nnin": person.nnin, "items": items}, handle)
sys.stdout.write(f"BENCH_RESULT {json.dumps({'mode': 'latency_seed', 'waiting': len(items), 'runs': runs})}\n")
