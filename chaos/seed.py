"""Chaos seed (run by ``odoo-bin shell``): a Norwegian sandbox company and posted, queued invoices.

Environment:
  CHAOS_INVOICES   invoices to create (queued for the chain)
  CHAOS_CONSUMERS  JTTA consumers of the sandbox registry they are spread over
  CHAOS_CONSENT    consumers without eFaktura yet, one invoice each, left awaiting consent
  CHAOS_HANDOFF    invoices to consumers outside the eFaktura network, one each: 40% said no to eFaktura (e-mail),
                   30% also have no e-mail address (post), 30% are asked for consent (SMS and e-mail)
"""

import os
import sys

from odoo import Command, fields

env = globals()["env"]  # provided by odoo-bin shell
env = env(context=dict(env.context, tracking_disable=True, mail_notrack=True, mail_create_nolog=True))

invoices = int(os.environ.get("CHAOS_INVOICES", "100"))
consumers = int(os.environ.get("CHAOS_CONSUMERS", "50"))
consent = int(os.environ.get("CHAOS_CONSENT", "0"))
handoff = int(os.environ.get("CHAOS_HANDOFF", "0"))

company = env["res.company"].search([("name", "=", "Chaos Elektro AS")], limit=1)
if not company:
    company = env["res.company"].create(
        {
            "name": "Chaos Elektro AS",
            "country_id": env.ref("base.no").id,
            "currency_id": env.ref("base.NOK").id,
            "email": "faktura@chaos.example.com",
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
            "efaktura_issuer_org_number": "123456785",
            "efaktura_billing_account": "86011117947",
            "efaktura_contact_email": "faktura@chaos.example.com",
            "efaktura_send_on_post": False,
        }
    )
    company.efaktura_issuer_state = "active"
    company._efaktura_ensure_channels()
    env.ref("base.user_root").write({"company_ids": [Command.link(company.id)]})
    env.ref("base.user_admin").write({"company_ids": [Command.link(company.id)]})
env = env(context=dict(env.context, allowed_company_ids=[company.id]))
company = company.with_env(env)
journal = env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "sale")], limit=1)
journal.invoice_reference_model = "no"

address = {"street": "Kirkeveien 10", "zip": "0368", "city": "Oslo", "country_id": env.ref("base.no").id}
b2c = {"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno"}


def mobile(index):
    return f"+479{index:07d}"


Registry = env["efaktura.sandbox.consumer"]
Partner = env["res.partner"].with_company(company)
partners = Partner.create(
    [
        {"name": f"Chaos Kunde {i}", "mobile": mobile(i), "email": f"kunde{i}@chaos.example.com", **address, **b2c}
        for i in range(consumers)
    ]
)
Registry.create(
    [{"name": f"Chaos Kunde {i}", "mobile": mobile(i), "jtta": True, "vipps": i % 5 == 0} for i in range(consumers)]
)
waiting = Partner.create(
    [
        {
            "name": f"Chaos Venter {i}",
            "mobile": mobile(500_000 + i),
            "email": f"venter{i}@chaos.example.com",
            **address,
            **b2c,
        }
        for i in range(consent)
    ]
)
for i, _partner in enumerate(waiting):
    # In the bank's registry, but without "yes to all": found only after a BankID consent.
    registry = Registry.create({"name": f"Chaos Venter {i}", "mobile": mobile(500_000 + i), "jtta": False})
    registry.national_id = f"{10_000_000_000 + i:011d}"

kinds = [
    ("email", "email", "email", "email", "post", "post", "post", "consent", "consent", "consent")[i % 10]
    for i in range(handoff)
]
outside = Partner.create(
    [
        {
            "name": f"Chaos Utenfor {i}",
            "mobile": mobile(700_000 + i),
            "email": "" if kind == "post" else f"utenfor{i}@chaos.example.com",
            **address,
            **b2c,
        }
        for i, kind in enumerate(kinds)
    ]
)
outside.filtered(lambda p: not p.email or kinds[int(p.name.split()[-1])] == "email")._efaktura_set_state("declined")

term = env.ref("account.account_payment_term_30days")
targets = [partners[i % len(partners)] for i in range(invoices)] + list(waiting) + list(outside)
moves = env["account.move"]
for start in range(0, len(targets), 250):
    chunk = env["account.move"].create(
        [
            {
                "move_type": "out_invoice",
                "company_id": company.id,
                "journal_id": journal.id,
                "partner_id": partner.id,
                "invoice_date": fields.Date.today(),
                "invoice_payment_term_id": term.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": f"Elektrikertime {start + n}",
                            "quantity": 1,
                            "price_unit": 1000 + start + n,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
            for n, partner in enumerate(targets[start : start + 250])
        ]
    )
    chunk.action_post()
    moves |= chunk
    env.cr.commit()  # pylint: disable=invalid-commit
moves._efaktura_queue()
env.cr.commit()  # pylint: disable=invalid-commit
sys.stdout.write(
    f"seeded company {company.id}: {len(moves)} invoices, {len(partners)} consumers, {consent} waiting, "
    f"{handoff} outside the network\n"
)
