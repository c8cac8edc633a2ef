"""The migrations, run against a database as the previous version left it."""

import hashlib
import importlib.util
from pathlib import Path

from odoo.tests import tagged

from .common import EfakturaInvoiceCase


def load_migration(version, name):
    path = Path(__file__).parent.parent / "migrations" / version / f"{name}.py"
    module_name = f"efaktura_{name.replace('-', '_')}_{version.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration


@tagged("post_install", "-at_install")
class TestModeMigration(EfakturaInvoiceCase):
    def test_existing_companies_keep_their_mode(self):
        """18.0.1.0.1: efaktura_enabled and efaktura_network_mode of an existing database become efaktura_mode."""
        migration = load_migration("18.0.1.0.1", "pre-migration")
        other = self.env["res.company"].create({"name": "Prod AS", "efaktura_mode": "enabled"})
        off = self.env["res.company"].create({"name": "Av AS"})
        self.env.flush_all()
        cr = self.env.cr
        with cr.savepoint(flush=False) as savepoint:
            # The database as the previous version left it: no mode, the two old columns.
            cr.execute("ALTER TABLE res_company DROP COLUMN efaktura_mode")
            cr.execute("ALTER TABLE res_company DROP COLUMN efaktura_production_route")
            cr.execute("ALTER TABLE res_company RENAME COLUMN efaktura_switched_on TO efaktura_enabled")
            migration.migrate(cr, "18.0.1.0.0")
            cr.execute(
                "SELECT id, efaktura_mode FROM res_company WHERE id IN %s", [(self.company.id, other.id, off.id)]
            )
            modes = dict(cr.fetchall())
            # Production meant MPS direct before the route existed: those companies keep it.
            cr.execute("SELECT DISTINCT efaktura_production_route FROM res_company")
            self.assertEqual(cr.fetchall(), [("mps",)])
            migration.migrate(cr, "18.0.1.0.0")  # a second run changes nothing
            cr.execute("SELECT count(*) FROM res_company WHERE efaktura_mode IS NULL")
            self.assertEqual(cr.fetchone()[0], 0)
            savepoint.rollback()  # the column as the ORM made it
        self.assertEqual(modes, {self.company.id: "test", other.id: "enabled", off.id: "disabled"})

    def test_deliveries_keep_their_invoices_under_the_new_keys(self):
        """18.0.1.0.1: the current delivery of each invoice gets its key in the new form, so an invoice delivered
        under the old key (which hashed the amount left to pay) is not sent again."""
        migration = load_migration("18.0.1.0.1", "post-migration")
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        self.assertEqual(len(delivery), 1)
        expected = delivery.idempotency_key
        # As the previous version left it: a key that hashed the document.
        self.env.cr.execute(
            "UPDATE efaktura_delivery SET idempotency_key = %s WHERE id = %s", ["0123456789abcdef" * 2, delivery.id]
        )
        delivery.invalidate_recordset(["idempotency_key"])
        migration.migrate(self.env.cr, "18.0.1.0.0")
        delivery.invalidate_recordset(["idempotency_key"])
        self.assertEqual(delivery.idempotency_key, expected)
        self.dispatch(move)
        self.assertEqual(len(move.efaktura_delivery_ids), 1)
        self.assertEqual(len(self.mailbox(move)), 1)

    def test_nettbank_deliveries_made_under_the_old_code_keep_their_keys(self):
        """18.0.1.0.2: keys keep spelling the nettbank channel "efaktura", as before its code was renamed: a delivery
        made then is still recognised (and the networks, which received the key, still deduplicate by it)."""
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        self.assertEqual(delivery.channel, "nettbank")
        db_uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid")
        raw = f"{db_uuid}|{move.id}|efaktura|rev:{move.efaktura_revision}|reminder:0"
        self.assertEqual(delivery.idempotency_key, hashlib.sha256(raw.encode()).hexdigest()[:32])
        move._efaktura_write({"efaktura_state": "queued"})
        self.dispatch(move)
        self.assertEqual(move.efaktura_delivery_ids, delivery, "recognised as delivered: not sent again")
        self.assertEqual(len(self.mailbox(move)), 1)

    def test_renamed_fields_and_the_nettbank_channel_keep_their_data(self):
        """18.0.1.0.2: the four booleans get names that say what they mean and the nettbank channel's code
        "efaktura" becomes "nettbank"; columns, values and Odoo's records of the fields are carried over."""
        migration = load_migration("18.0.1.0.2", "pre-migration")
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(move.efaktura_channel, "nettbank")
        self.env["efaktura.reminder"].sudo().create(
            {"move_id": move.id, "company_id": self.company.id, "step": 1, "channel": "nettbank"}
        )
        self.company.efaktura_uses_vipps_api = True
        self.kari.with_company(self.company).sudo().write({"efaktura_found_in_vipps": True})
        saved = {
            ("efaktura.delivery", "[('channel', '=', 'efaktura')]"): "[('channel', '=', 'nettbank')]",
            ("res.partner", "[('efaktura_b2c_enabled', '=', True), ('efaktura_vipps', '=', True)]"): (
                "[('efaktura_b2c_customer', '=', True), ('efaktura_found_in_vipps', '=', True)]"
            ),
            ("account.move", "[('company_id.efaktura_enabled', '=', True), ('name', '=', 'efaktura')]"): (
                "[('company_id.efaktura_switched_on', '=', True), ('name', '=', 'efaktura')]"
            ),
        }
        filters = {
            self.env["ir.filters"].create({"name": f"Saved {index}", "model_id": model, "domain": new}): old
            for index, ((model, old), new) in enumerate(saved.items())
        }
        self.env.flush_all()
        cr = self.env.cr
        tables = {
            (model.replace(".", "_"), field)
            for model, field in migration.CHANNEL_FIELDS
            if field != "efaktura_preview_channel"  # computed, not stored
        }
        fields_before = self._field_ids(migration)
        selections_before = self._nettbank_selection_ids(migration)
        self.assertEqual(len(selections_before), len(migration.CHANNEL_FIELDS))
        with cr.savepoint(flush=False) as savepoint:
            counts = {}
            for table, column in tables:
                cr.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" = %s', ["nettbank"])
                counts[table, column] = cr.fetchone()[0]
                self.assertGreater(counts[table, column], 0, f"{table}.{column}")
            # The database as the previous version left it: the old names and the old channel code.
            for model, old, new in migration.RENAMED_FIELDS:
                migration.rename_field(cr, model, new, old)
            for model, field in migration.CHANNEL_FIELDS:
                migration.rename_selection_value(cr, model, field, "nettbank", "efaktura")
            for saved_filter, old in filters.items():
                cr.execute("UPDATE ir_filters SET domain = %s WHERE id = %s", [old, saved_filter.id])
            self.assertFalse(self._field_ids(migration), "the old state has none of the new names")
            cr.execute("SELECT efaktura_vipps_enabled FROM res_company WHERE id = %s", [self.company.id])
            self.assertEqual(cr.fetchone(), (True,))

            for _run in range(2):  # a second run changes nothing
                migration.migrate(cr, "18.0.1.0.1")
                for table, column in tables:
                    cr.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" = %s', ["nettbank"])
                    self.assertEqual(cr.fetchone()[0], counts[table, column], f"{table}.{column}")
                    cr.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" = %s', ["efaktura"])
                    self.assertEqual(cr.fetchone()[0], 0, f"{table}.{column}")
                self.assertEqual(self._field_ids(migration), fields_before, "the same field records, renamed")
                self.assertEqual(self._nettbank_selection_ids(migration), selections_before)
                cr.execute(
                    "SELECT efaktura_switched_on, efaktura_uses_vipps_api FROM res_company WHERE id = %s",
                    [self.company.id],
                )
                self.assertEqual(cr.fetchone(), (True, True))
                cr.execute(
                    "SELECT efaktura_found_in_vipps->>%s FROM res_partner WHERE id = %s",
                    [str(self.company.id), self.kari.id],
                )
                self.assertEqual(cr.fetchone(), ("true",))
                cr.execute("SELECT model_id, domain FROM ir_filters WHERE id IN %s", [tuple(f.id for f in filters)])
                self.assertEqual(
                    sorted(cr.fetchall()),
                    sorted((f.model_id, f.domain) for f in filters),
                    "saved filters name the new fields, and the new channel code where a channel is stored",
                )
            savepoint.rollback()
        self.env.invalidate_all()

    def _field_ids(self, migration):
        """{(model, new name): (field id, XML id)} of the renamed fields, as the database has them."""
        found = {}
        for model, _old, new in migration.RENAMED_FIELDS:
            self.env.cr.execute(
                """SELECT f.id, d.name FROM ir_model_fields f
                     JOIN ir_model_data d ON d.model = 'ir.model.fields' AND d.res_id = f.id AND d.module = %s
                    WHERE f.model = %s AND f.name = %s""",
                [migration.MODULE, model, new],
            )
            for row in self.env.cr.fetchall():
                found[model, new] = row
        return found

    def _nettbank_selection_ids(self, migration):
        """{(model, field): (selection id, XML id)} of the value "nettbank" of each channel field."""
        found = {}
        for model, field in migration.CHANNEL_FIELDS:
            self.env.cr.execute(
                """SELECT s.id, d.name FROM ir_model_fields_selection s
                     JOIN ir_model_fields f ON f.id = s.field_id
                     JOIN ir_model_data d ON d.model = 'ir.model.fields.selection' AND d.res_id = s.id
                                         AND d.module = %s
                    WHERE f.model = %s AND f.name = %s AND s.value = 'nettbank'""",
                [migration.MODULE, model, field],
            )
            for row in self.env.cr.fetchall():
                found[model, field] = row
        return found
