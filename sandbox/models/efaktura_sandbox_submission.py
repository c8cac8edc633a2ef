from odoo import fields, models

from .efaktura_sandbox_document import PLAYED_NETWORKS


class EfakturaSandboxSubmission(models.Model):
    _name = "efaktura.sandbox.submission"
    _description = "eFaktura sandbox submission"
    _order = "create_date desc, id desc"
    _rec_name = "key"

    company_id = fields.Many2one("res.company", string="Issuer", required=True, readonly=True, index=True)
    channel = fields.Selection(
        [("nettbank", "eFaktura (nettbank)"), ("vipps", "Vipps")],
        readonly=True,
        help="Empty when the call named a channel the sandbox does not know.",
    )
    key = fields.Char(string="Idempotency key", readonly=True, index=True)
    reference = fields.Char(string="Network reference", readonly=True, index=True)
    duplicate = fields.Boolean(
        readonly=True, help="The sandbox already had this key: nothing new reached the consumer."
    )
    failed = fields.Boolean(readonly=True, help="The document was not delivered: see the error.")
    error = fields.Char(readonly=True)
    played_network = fields.Selection(
        PLAYED_NETWORKS,
        string="Plays",
        default="sandbox",
        readonly=True,
        help="The network whose part the sandbox played: Visma AutoInvoice (Maventa) when it is the company's "
        "production route.",
    )
