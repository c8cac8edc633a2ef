from odoo import api, models

METHOD = "efaktura_b2c"


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_default_sending_method(self, move):
        # EXTENDS 'account': eligible consumers get the chain by default.
        partner = move.partner_id.with_company(move.company_id)
        if move.company_id.efaktura_enabled and partner.sudo().efaktura_b2c_enabled and not partner.is_company:
            return METHOD
        return super()._get_default_sending_method(move)

    @api.model
    def _is_applicable_to_company(self, method, company):
        # EXTENDS 'account'
        if method == METHOD:
            return company.efaktura_enabled
        return super()._is_applicable_to_company(method, company)

    @api.model
    def _is_applicable_to_move(self, method, move, **move_data):
        # EXTENDS 'account'
        if method == METHOD:
            return move.company_id.efaktura_enabled and move.is_sale_document(include_receipts=False)
        return super()._is_applicable_to_move(method, move, **move_data)

    @api.model
    def _get_alerts(self, moves, moves_data):
        # EXTENDS 'account'
        alerts = super()._get_alerts(moves, moves_data)
        not_consumers = moves.filtered(
            lambda m: (
                METHOD in moves_data[m]["sending_methods"]
                and not m.partner_id.with_company(m.company_id).sudo().efaktura_b2c_enabled
            )
        )
        if not_consumers:
            alerts["l10n_no_efaktura_b2c_not_consumer"] = {
                "level": "info",
                "message": self.env._(
                    "These customers are not set up for B2C eFaktura, so the chain sends them by e-mail or "
                    "post: %(partners)s",
                    partners=", ".join(not_consumers.partner_id.mapped("display_name")),
                ),
                "action_text": self.env._("View customers"),
                "action": not_consumers.partner_id._get_records_action(name=self.env._("Customers")),
            }
        return alerts

    @api.model
    def _hook_if_success(self, moves_data):
        # EXTENDS 'account': invoices sent with the B2C method go through the chain.
        res = super()._hook_if_success(moves_data)
        moves = self.env["account.move"].union(
            *(move for move, move_data in moves_data.items() if METHOD in move_data["sending_methods"])
        )
        if moves:
            queued = moves._efaktura_queue()
            self.env["efaktura.chain"]._dispatch_locked(queued)
        return res
