import base64

from odoo import api, fields, models
from odoo.tools import file_open

from .. import compat

# The demo consumers' mobile numbers, typed the ways people type them (normalized when B2C is switched on).
DEMO_MOBILES = {
    "vipps": "+47 412 34 567",
    "nettbank": "900 11 222",
    "email": "0047 913 45 678",
    "declined": "+47 958 76 543",
    "post": "+47 924-56-789",
    "manual": "93567890",
}


class EfakturaDemo(models.AbstractModel):
    """The demo set-up of ``make demo``: the Norwegian demo company in Test mode with the sandbox network, its
    consumers, channel prices, a document layout and one invoice per consumer. Called from demo/efaktura_demo.xml;
    nothing here runs without demo data."""

    _name = "efaktura.demo"
    _description = "eFaktura B2C demo set-up"

    @api.model
    def _setup(self):
        """Demo data: eFaktura on the Norwegian demo company, and the demo consumers enabled there."""
        company = self.env.ref("base.demo_company_no", raise_if_not_found=False) or self.env.company
        company.write(
            {
                "efaktura_mode": "test",
                "efaktura_issuer_org_number": company._efaktura_default_org_number() or "123456785",
                "efaktura_billing_account": "86011117947",
                "efaktura_contact_email": company.email or "faktura@example.com",
            }
        )
        company._efaktura_ensure_channels()
        # What each channel costs the issuer, so that the cost report means something.
        prices = {"vipps": 1.5, "nettbank": 2.5, "email": 0.0, "post": 17.0}
        for channel in company.efaktura_channel_ids:
            channel.price = prices.get(channel.code, 0.0)
        # A document layout and a logo: the first Send does not stop at "Configure your document layout".
        layout_values = {}
        if not company.external_report_layout_id:
            layout_values["external_report_layout_id"] = self.env.ref("web.external_layout_standard").id
        if not company.logo or company.logo == company._get_logo():
            with file_open("l10n_no_efaktura_b2c/static/description/icon.png", "rb") as logo:
                layout_values["logo"] = base64.b64encode(logo.read())
        if layout_values:
            company.write(layout_values)
        consumers = self.env["res.partner"]
        for xmlid, mobile in DEMO_MOBILES.items():
            consumer = self.env.ref(f"l10n_no_efaktura_b2c.demo_consumer_{xmlid}")
            consumer.write({compat.PARTNER_MOBILE: mobile})
            consumers |= consumer
        consumers.with_company(company).write({"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno"})
        # Nora said no thanks to eFaktura: her invoices go by e-mail with the PDF.
        self.env.ref("l10n_no_efaktura_b2c.demo_consumer_declined").with_company(company)._efaktura_set_state(
            "declined"
        )
        admin = self.env.ref("base.user_admin")
        admin.write({"company_ids": [fields.Command.link(company.id)], "company_id": company.id})
        company.efaktura_billing_user_id = admin
        if company == self.env.ref("base.demo_company_no", raise_if_not_found=False):
            # Norwegian customers read Norwegian: their SMS, e-mails and consent pages are in Bokmål.
            self.env["res.lang"]._activate_lang("nb_NO")
            self.env["ir.module.module"].search([("state", "=", "installed")])._update_translations(["nb_NO"])
            (consumers - self.env.ref("l10n_no_efaktura_b2c.demo_consumer_vipps")).lang = "nb_NO"
            # A Norwegian company: its public pages and chatter lines default to Norwegian.
            company.partner_id.lang = "nb_NO"
        self._invoices(company, consumers)
        return company

    @api.model
    def _invoices(self, company, consumers):
        """One posted invoice per demo consumer, queued for the chain; the dispatch cron sends them when the
        server starts. Per and Siri's consent windows are already over, so their invoices show the post and
        manual paths at once."""
        journal = self.env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "sale")], limit=1)
        if not journal:
            return self.env["account.move"]
        # The sandbox approves the issuer agreement; production goes through the network.
        company.efaktura_issuer_state = "active"
        journal.invoice_reference_model = "no"
        moves = (
            self.env["account.move"]
            .with_company(company)
            .create(
                [
                    {
                        "move_type": "out_invoice",
                        "company_id": company.id,
                        "journal_id": journal.id,
                        "partner_id": consumer.id,
                        "invoice_user_id": company.efaktura_billing_user_id.id or self.env.ref("base.user_admin").id,
                        "invoice_date": fields.Date.context_today(company),
                        "invoice_date_due": fields.Date.add(fields.Date.context_today(company), days=14),
                        "invoice_line_ids": [
                            fields.Command.create(
                                {
                                    "name": "Elektrikerarbeid, 2 timer",
                                    "quantity": 2,
                                    "price_unit": 850.0 + 100 * index,
                                    "tax_ids": [fields.Command.clear()],
                                }
                            )
                        ],
                    }
                    for index, consumer in enumerate(consumers)
                ]
            )
        )
        moves.action_post()
        moves._efaktura_queue()
        over = fields.Datetime.subtract(fields.Datetime.now(), minutes=1)
        late = moves.filtered(lambda m: m.partner_id.name in ("Per Olsen", "Siri Berg"))
        late.efaktura_deadline = over
        # They were asked three days ago and did not answer: their requests have expired, as the deadline cron
        # would have left them, so the customer card, the consent list and the invoice tell the same story.
        asked = fields.Datetime.subtract(over, days=company.efaktura_consent_days or 3)
        self.env["efaktura.consent"].sudo().create(
            [
                {
                    "partner_id": move.partner_id.id,
                    "company_id": company.id,
                    "state": "expired",
                    "requested_at": asked,
                    "deadline": over,
                    "move_ids": [fields.Command.link(move.id)],
                }
                for move in late
            ]
        )
        late.partner_id.with_company(company)._efaktura_set_state("consent_requested")
        late.partner_id.with_company(company)._efaktura_set_state(
            "not_checked", note=self.env._("No answer to the eFaktura request before the deadline.")
        )
        return moves
