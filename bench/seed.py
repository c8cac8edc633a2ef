"""Benchmark seed (run by ``odoo-bin shell``): a Norwegian sandbox company, JTTA consumers and posted
invoices whose PDF is already stored, so that no benchmark renders a PDF.

Environment:
  BENCH_CONSUMERS  consumers in the sandbox JTTA registry (nettbank, "yes to all"), with e-mail and address
  BENCH_INVOICES   posted invoices, spread round-robin over the consumers (invoice i -> consumer i % consumers)
"""

import os
import sys
import time

from odoo import Command, fields

env = globals()["env"]  # provided by odoo-bin shell
env = env(context=dict(env.context, tracking_disable=True, mail_notrack=True, mail_create_nolog=True))

consumers = int(os.environ.get("BENCH_CONSUMERS", "1000"))
invoices = int(os.environ.get("BENCH_INVOICES", "10000"))
started = time.monotonic()

# The smallest valid one-page PDF: stands in for the rendered invoice on both sides of the comparison.
PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj
trailer << /Root 1 0 R /Size 4 >>
%%EOF
"""

company = env["res.company"].create(
    {
        "name": "Bench Elektro AS",
        "country_id": env.ref("base.no").id,
        "currency_id": env.ref("base.NOK").id,
        "email": "faktura@bench.example.com",
        "company_registry": "123456785",
        "iap_enrich_auto_done": True,
        "street": "Storgata 1",
        "zip": "0155",
        "city": "Oslo",
    }
)
env["account.chart.template"].try_loading("no", company, install_demo=False)
company.write(
    {
        "efaktura_switched_on": True,
        "efaktura_network_mode": "sandbox",
        # The sandbox's own network, as measured so far: for the Visma AutoInvoice route it would play Maventa
        # and render each invoice's EHF file (the Maventa production path is bench/maventa_client.py's row).
        "efaktura_production_route": "mps",
        "efaktura_issuer_org_number": "123456785",
        "efaktura_billing_account": "86011117947",
        "efaktura_contact_email": "faktura@bench.example.com",
        "efaktura_send_on_post": False,
    }
)
company.efaktura_issuer_state = "active"
company._efaktura_ensure_channels()
for xmlid in ("base.user_root", "base.user_admin"):
    env.ref(xmlid).write({"company_ids": [Command.link(company.id)], "company_id": company.id})
env.ref("base.user_admin").partner_id.email = "admin@bench.example.com"
env = env(context=dict(env.context, allowed_company_ids=[company.id]))
company = company.with_env(env)
journal = env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "sale")], limit=1)
journal.invoice_reference_model = "no"
env.cr.commit()

address = {"street": "Kirkeveien 10", "zip": "0368", "city": "Oslo", "country_id": env.ref("base.no").id}
b2c = {"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno"}
Partner = env["res.partner"].with_company(company)
partners = Partner.create(
    [
        {"name": f"Bench Kunde {i}", "mobile": f"+479{i:07d}", "email": f"kunde{i}@bench.example.com", **address, **b2c}
        for i in range(consumers)
    ]
)
env["efaktura.sandbox.consumer"].create(
    [{"name": f"Bench Kunde {i}", "mobile": f"+479{i:07d}", "jtta": True, "vipps": False} for i in range(consumers)]
)
env.cr.commit()

term = env.ref("account.account_payment_term_30days")
for start in range(0, invoices, 500):
    chunk = env["account.move"].create(
        [
            {
                "move_type": "out_invoice",
                "company_id": company.id,
                "journal_id": journal.id,
                "partner_id": partners[i % consumers].id,
                "invoice_date": fields.Date.today(),
                "invoice_payment_term_id": term.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": f"Elektrikertime {i}",
                            "quantity": 1,
                            "price_unit": 1000 + i,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
            for i in range(start, min(start + 500, invoices))
        ]
    )
    chunk.action_post()
    # The PDF Odoo would have stored when sending: the same attachment field Send & Print fills.
    env["ir.attachment"].create(
        [
            {
                "name": f"{move.name.replace('/', '_')}.pdf",
                "raw": PDF,
                "mimetype": "application/pdf",
                "res_model": "account.move",
                "res_id": move.id,
                "res_field": "invoice_pdf_report_file",
                "company_id": company.id,
            }
            for move in chunk
        ]
    )
    env.cr.commit()
    env.invalidate_all()
    sys.stderr.write(f"seed: {start + len(chunk)} invoices, {time.monotonic() - started:.0f} s\n")

env.cr.commit()
sys.stdout.write(
    f"BENCH_SEEDED company={company.id} consumers={consumers} invoices={invoices} "
    f"seconds={time.monotonic() - started:.1f}\n"
)
