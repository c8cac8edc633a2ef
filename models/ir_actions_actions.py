from odoo import api, models
from odoo.fields import Command

from .. import compat


class IrActionsActions(models.Model):
    _inherit = "ir.actions.actions"

    @api.model
    def _efaktura_restrict_to_group(self, action_xmlids, group_xmlid):
        """Show the module's actions only to a group, on either series (its field is groups_id on 18.0 and
        group_ids on 19.0, so the data files cannot name it). Called from the data files after the actions."""
        group = self.env.ref(group_xmlid)
        for xmlid in action_xmlids:
            action = self.env.ref(xmlid)
            action.write({compat.GROUPS: [Command.link(group.id)]})
