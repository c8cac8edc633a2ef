"""The module's tracking of an invoice's eFaktura status (``account.move.efaktura_state``).

The module writes that status with raw SQL (``account.move._efaktura_write``: a batch of any size at a fixed number
of queries), which Odoo's tracking does not see. This model tracks those writes the way
``mail.thread._track_prepare``/``_track_finalize`` do, in batch: the state each invoice had before its first change
is kept, and when the precommit hooks run (at commit, and at every savepoint's flush) each invoice whose state
differs gets one tracking value (several changes between two runs make one, first to last, as with the ORM), under
the last line logged on it (as Odoo does for a line given with ``_track_set_log_message``).

One tracker per change: a status Odoo's own tracking captured (any ORM write of the invoice captures every tracked
field) is taken over from it, and Odoo's tracking leaves the status to this one, so no change is shown twice. While
the chain sends invoices, it holds their changes (``_held``): a savepoint in the middle of a dispatch does not show
them on lines of their own, before the chain has logged what it did.
"""

from contextlib import contextmanager

from odoo import api, models
from odoo.tools.mail import generate_tracking_message_id

from .. import compat

# On the cursor, as they must outlive the precommit runs of savepoint flushes while a dispatch holds its invoices:
# each invoice's status before its first raw write not yet shown, and the invoices a dispatch holds. The last line
# logged on each invoice is kept per precommit run, as mail.thread keeps its own tracking data (cr.precommit.data).
TRACKING_KEY = "l10n_no_efaktura_b2c.state_tracking"
HELD_KEY = "l10n_no_efaktura_b2c.state_tracking_held"
LOGGED_KEY = "l10n_no_efaktura_b2c.logged_lines"
FINALIZER_KEY = "l10n_no_efaktura_b2c.state_tracking_finalizer"
ODOO_TRACKING_KEY = "mail.tracking.account.move"


class EfakturaStateTracking(models.AbstractModel):
    _name = "efaktura.state.tracking"
    _description = "eFaktura B2C status tracking"

    @api.model
    def _prepare(self, moves):
        """Before a raw write of ``efaktura_state`` on ``moves``: keep the state each had before its first change."""
        initial = self._store()
        odoo_initial = self.env.cr.precommit.data.get(ODOO_TRACKING_KEY) or {}
        for move in moves:
            captured = odoo_initial.get(move.id)
            before = captured.pop("efaktura_state", move.efaktura_state) if captured else move.efaktura_state
            initial.setdefault(move.id, before)

    @api.model
    def _store(self):
        """The states to track, on the cursor; the finalizer is registered for the next precommit run, and the
        store is emptied when the transaction rolls back."""
        cr = self.env.cr
        if FINALIZER_KEY not in cr.precommit.data:
            cr.precommit.data[FINALIZER_KEY] = True
            cr.precommit.add(self._finalize)
            cr.postrollback.add(lambda: cr.cache.pop(TRACKING_KEY, None))
        return cr.cache.setdefault(TRACKING_KEY, {})

    @api.model
    @contextmanager
    def _held(self, moves):
        """While the chain sends ``moves``, the precommit runs of savepoint flushes leave their status changes for
        later: they are shown under the line the chain logs once it is done with them."""
        held = self.env.cr.cache.setdefault(HELD_KEY, set())
        held.update(moves.ids)
        try:
            yield
        finally:
            held.difference_update(moves.ids)
            if self.env.cr.cache.get(TRACKING_KEY):
                self._store()

    @api.model
    def _logged(self, messages):
        """Lines just logged on invoices: the last one on each carries its status change."""
        self.env.cr.precommit.data.setdefault(LOGGED_KEY, {}).update((m.res_id, m.id) for m in messages)

    @api.model
    def _leave_to_module(self, move, initial_values):
        """Odoo's own tracking leaves ``efaktura_state`` to this one while it tracks the invoice."""
        if "efaktura_state" in initial_values and move.id in self.env.cr.cache.get(TRACKING_KEY, {}):
            return {name: value for name, value in initial_values.items() if name != "efaktura_state"}
        return initial_values

    @api.model
    def _finalize(self):
        logged = self.env.cr.precommit.data.pop(LOGGED_KEY, {})
        initial = self.env.cr.cache.get(TRACKING_KEY) or {}
        held = self.env.cr.cache.get(HELD_KEY) or set()
        ready = [move_id for move_id in initial if move_id not in held]
        if not ready:
            return
        odoo_initial = self.env.cr.precommit.data.get(ODOO_TRACKING_KEY) or {}
        for move_id in ready:
            if odoo_initial.get(move_id):
                odoo_initial[move_id].pop("efaktura_state", None)  # an ORM write after the raw one: shown here
        initial = {move_id: initial.pop(move_id) for move_id in ready}
        moves = self.env["account.move"].browse(ready).exists().sudo()
        moves.invalidate_recordset(["efaktura_state"])
        changed = moves.filtered(lambda m: m.efaktura_state != initial[m.id])
        if not changed:
            return
        Tracking = self.env["mail.tracking.value"]
        logged_values = compat.logged_message_values(self.env)
        on_logged_lines, on_new_lines, values_list = [], [], []
        for lang_moves in changed._efaktura_by_lang().values():
            fields_info = lang_moves.fields_get(["efaktura_state"], attributes=("string", "type", "selection"))
            for move in lang_moves:
                tracking = Tracking._create_tracking_values(
                    initial[move.id], move.efaktura_state, "efaktura_state", fields_info["efaktura_state"], move
                )
                if move.id in logged:
                    on_logged_lines.append(dict(tracking, mail_message_id=logged[move.id]))
                    continue
                on_new_lines.append(tracking)
                # The values mail.thread._message_log gives a tracking message, for many moves at once.
                values_list.append(
                    {
                        **logged_values,
                        "model": "account.move",
                        "res_id": move.id,
                        "body": "",
                        "message_id": generate_tracking_message_id("message-notify"),
                    }
                )
        messages = self.env["mail.thread"].sudo()._message_create(values_list) if values_list else []
        # One INSERT for all tracking values (as commands on each message they would be one INSERT per message).
        Tracking.sudo().create(
            on_logged_lines
            + [dict(value, mail_message_id=message.id) for value, message in zip(on_new_lines, messages, strict=True)]
        )
        self.env.flush_all()
