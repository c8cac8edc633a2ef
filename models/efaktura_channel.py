from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .. import compat

# The chain's channels, best first, as codes of efaktura.channel (and, with "manual", of the outbox). "manual" is not
# listed: it always ends the chain. "nettbank" is eFaktura shown in the consumer's nettbank (MPS or Maventa).
# Not to be confused with sandbox/network.py's SANDBOX_CHANNELS, the channels the sandbox network carries.
CHAIN_CHANNELS = [
    ("vipps", "Vipps"),
    ("nettbank", "eFaktura (nettbank)"),
    ("email", "E-mail with PDF"),
    ("post", "Post"),
]
# The channels a network carries (a nettbank or Vipps shows the invoice); the others are Odoo's e-mail and post.
NETWORK_CHANNELS = ("vipps", "nettbank")
DEFAULT_PRICES = {"vipps": 0.0, "nettbank": 0.0, "email": 0.0, "post": 0.0}
# How a channel is spelled inside idempotency keys. The nettbank channel was coded "efaktura" before 18.0.1.0.2; its
# keys keep that spelling, because the networks received them and the deliveries made before are recognised by them.
KEY_SPELLING = {"nettbank": "efaktura"}


class EfakturaChannel(models.Model):
    _name = "efaktura.channel"
    _description = "eFaktura delivery channel"
    _order = "company_id, sequence, id"

    company_id = fields.Many2one(
        "res.company", required=True, ondelete="cascade", index=True, default=lambda self: self.env.company
    )
    code = fields.Selection(CHAIN_CHANNELS, required=True)
    name = fields.Char(compute="_compute_name", store=True)
    sequence = fields.Integer(default=10, help="Channels are tried in this order, lowest first.")
    active = fields.Boolean(default=True, help="An archived channel is skipped by the chain.")
    currency_id = fields.Many2one("res.currency", default=lambda self: self.env.ref("base.NOK"), readonly=True)
    price = fields.Monetary(
        string="Price per invoice",
        currency_field="currency_id",
        help="What one delivery by this channel costs, in NOK. Shown as the cost of each delivery.",
    )

    _code_company_uniq = compat.Constraint(
        "unique(company_id, code)",
        "Each channel can be listed only once per company.",
    )

    @api.depends("code")
    def _compute_name(self):
        labels = dict(self._fields["code"]._description_selection(self.env))
        for channel in self:
            channel.name = labels.get(channel.code, "")

    @api.constrains("price")
    def _check_price(self):
        for channel in self:
            if channel.price < 0:
                raise ValidationError(
                    self.env._(
                        "Price per invoice: the price of channel %(channel)s cannot be negative.", channel=channel.name
                    )
                )
