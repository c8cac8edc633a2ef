"""Names that misled are renamed, keeping their data (issue #17):

* the nettbank channel's code ``efaktura`` (the module's own prefix) becomes ``nettbank`` wherever a channel is
  stored: the company's channels, the outbox, invoices, reminders, the sandbox's store, and the selection values
  Odoo keeps for those fields;
* ``res.company.efaktura_enabled`` (the mode is not Disabled) becomes ``efaktura_switched_on``, also on invoices and
  in the settings; ``res.company.efaktura_vipps_enabled`` (the company sends through the Vipps Invoice API) becomes
  ``efaktura_uses_vipps_api``; ``res.partner.efaktura_vipps`` (the lookup found the consumer in Vipps) becomes
  ``efaktura_found_in_vipps``; ``res.partner.efaktura_b2c_enabled`` (a B2C eFaktura customer) becomes
  ``efaktura_b2c_customer``.

A column is renamed in place, and so are the field's ``ir_model_fields`` row and its XML id, so that Odoo finds the
field it knew under its new name (with its id, and whatever refers to it) instead of dropping the old one and making
a new one. Saved filters (``ir_filters``) follow: the renamed fields in any filter, the channel code in filters on
the models that store a channel. Each step is guarded, so a second run changes nothing.

The idempotency keys of deliveries are not touched: they keep spelling the nettbank channel "efaktura" (see
``models/efaktura_channel.py``, ``KEY_SPELLING``), because the networks received them and deliveries made before are
recognised by them.
"""

import ast

from odoo.tools import SQL
from odoo.tools.sql import column_exists, rename_column

MODULE = "l10n_no_efaktura_b2c"
#: (model, old name, new name) of the renamed fields.
RENAMED_FIELDS = (
    ("res.company", "efaktura_enabled", "efaktura_switched_on"),
    ("account.move", "efaktura_enabled", "efaktura_switched_on"),
    ("res.config.settings", "efaktura_enabled", "efaktura_switched_on"),
    ("res.company", "efaktura_vipps_enabled", "efaktura_uses_vipps_api"),
    ("res.config.settings", "efaktura_vipps_enabled", "efaktura_uses_vipps_api"),
    ("res.partner", "efaktura_vipps", "efaktura_found_in_vipps"),
    ("res.partner", "efaktura_b2c_enabled", "efaktura_b2c_customer"),
)
OLD_NETTBANK, NETTBANK = "efaktura", "nettbank"
#: (model, field) of every selection that holds a channel code.
CHANNEL_FIELDS = (
    ("efaktura.channel", "code"),
    ("efaktura.delivery", "channel"),
    ("efaktura.reminder", "channel"),
    ("account.move", "efaktura_channel"),
    ("account.move", "efaktura_preview_channel"),
    ("efaktura.sandbox.submission", "channel"),
    ("efaktura.sandbox.document", "channel"),
)


def migrate(cr, version):
    if not version:
        return
    for model, old, new in RENAMED_FIELDS:
        rename_field(cr, model, old, new)
    for model, field in CHANNEL_FIELDS:
        rename_selection_value(cr, model, field, OLD_NETTBANK, NETTBANK)
    update_saved_filters(cr)


def _field_xmlid(model, name):
    return f"field_{model.replace('.', '_')}__{name}"


def rename_field(cr, model, old, new):
    """Rename a field of this module: its column (if stored), its ir_model_fields row and that row's XML id."""
    table = model.replace(".", "_")
    if column_exists(cr, table, old) and not column_exists(cr, table, new):
        rename_column(cr, table, old, new)
    cr.execute(
        """UPDATE ir_model_fields f
              SET name = %(new)s
            WHERE f.model = %(model)s AND f.name = %(old)s
              AND NOT EXISTS (SELECT 1 FROM ir_model_fields n WHERE n.model = %(model)s AND n.name = %(new)s)""",
        {"model": model, "old": old, "new": new},
    )
    cr.execute(
        """UPDATE ir_model_data d
              SET name = %(new)s
            WHERE d.module = %(module)s AND d.model = 'ir.model.fields' AND d.name = %(old)s
              AND NOT EXISTS (SELECT 1 FROM ir_model_data n WHERE n.module = %(module)s AND n.name = %(new)s)""",
        {"module": MODULE, "old": _field_xmlid(model, old), "new": _field_xmlid(model, new)},
    )


def rename_selection_value(cr, model, field, old, new):
    """Rename a selection value: in the field's column (if stored) and in Odoo's record of the field's values."""
    table = model.replace(".", "_")
    if column_exists(cr, table, field):
        cr.execute(
            SQL(
                "UPDATE %(table)s SET %(column)s = %(new)s WHERE %(column)s = %(old)s",
                table=SQL.identifier(table),
                column=SQL.identifier(field),
                new=new,
                old=old,
            )
        )
    cr.execute("SELECT id FROM ir_model_fields WHERE model = %s AND name = %s", (model, field))
    row = cr.fetchone()
    if not row:
        return
    cr.execute(
        """UPDATE ir_model_fields_selection s
              SET value = %(new)s
            WHERE s.field_id = %(field_id)s AND s.value = %(old)s
              AND NOT EXISTS (SELECT 1 FROM ir_model_fields_selection n
                               WHERE n.field_id = %(field_id)s AND n.value = %(new)s)""",
        {"field_id": row[0], "old": old, "new": new},
    )
    prefix = f"selection__{table}__{field}__"
    cr.execute(
        """UPDATE ir_model_data d
              SET name = %(new)s
            WHERE d.module = %(module)s AND d.model = 'ir.model.fields.selection' AND d.name = %(old)s
              AND NOT EXISTS (SELECT 1 FROM ir_model_data n WHERE n.module = %(module)s AND n.name = %(new)s)""",
        {"module": MODULE, "old": prefix + old, "new": prefix + new},
    )


def update_saved_filters(cr):
    """Saved filters speak of fields and values by name: give them the new ones. A renamed field is renamed in any
    filter (the names are this module's own); the channel code only in a condition on a channel field."""
    for old, new in sorted({(old, new) for _model, old, new in RENAMED_FIELDS}):
        for column in ("domain", "context", "sort"):
            cr.execute(
                SQL(
                    "UPDATE ir_filters SET %(column)s = regexp_replace(%(column)s, %(pattern)s, %(new)s, 'g') "
                    "WHERE %(column)s ~ %(pattern)s",
                    column=SQL.identifier(column),
                    pattern=rf"\m{old}\M",
                    new=new,
                )
            )
    channel_fields = {}
    for model, field in CHANNEL_FIELDS:
        channel_fields.setdefault(model, set()).add(field)
    cr.execute(
        "SELECT id, model_id, domain FROM ir_filters WHERE model_id IN %s AND domain LIKE %s",
        (tuple(channel_fields), f"%{OLD_NETTBANK}%"),
    )
    for filter_id, model, text in cr.fetchall():
        try:
            domain = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            continue  # a domain with expressions in it (context_today(), uid): left as it is
        if not isinstance(domain, list):
            continue
        renamed = [_rename_channel_in_leaf(leaf, channel_fields[model]) for leaf in domain]
        if renamed != domain:
            cr.execute("UPDATE ir_filters SET domain = %s WHERE id = %s", (repr(renamed), filter_id))


def _rename_channel_in_leaf(leaf, fields):
    if not isinstance(leaf, (list, tuple)) or len(leaf) != 3 or leaf[0] not in fields:
        return leaf
    value = leaf[2]
    if value == OLD_NETTBANK:
        value = NETTBANK
    elif isinstance(value, (list, tuple)):
        value = type(value)(NETTBANK if item == OLD_NETTBANK else item for item in value)
    return type(leaf)((leaf[0], leaf[1], value))
