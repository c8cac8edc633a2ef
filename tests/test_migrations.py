"""The migrations, run against a database as the previous version left it."""

import hashlib
import importlib.util
from pathlib import Path
from unittest import skipUnless

from odoo.modules.migration import MigrationManager
from odoo.modules.module import get_manifest
from odoo.tests import tagged

from .. import compat
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


class UpgradedModule:
    """The module as Odoo's migration manager sees it while upgrading an 18.0 database (installed version
    18.0.1.0.2) to this series."""

    name = "l10n_no_efaktura_b2c"
    state = load_state = "to upgrade"
    load_version = installed_version = "18.0.1.0.2"

    def __init__(self):
        version = get_manifest(self.name)["version"]
        self.manifest = self.data = {"version": version}


@tagged("post_install", "-at_install")
class TestUpgradeTo19(EfakturaInvoiceCase):
    """An 18.0 database upgraded to 19.0 brings its customers' mobile numbers along (migrations/19.0.1.0.3): the
    database as 18.0 left it (the res_partner.mobile column, with the numbers in it), upgraded by Odoo's own
    migration manager."""

    def upgrade(self):
        self.env.flush_all()
        manager = MigrationManager(self.env.cr, [UpgradedModule()])
        for stage in ("pre", "post", "end"):
            manager.migrate_module(UpgradedModule(), stage)
        self.env.invalidate_all()

    @skipUnless(compat.ODOO_19, "an 18.0 database is upgraded on 19.0")
    def test_the_mobiles_of_an_18_database_come_along(self):
        Partner = self.env["res.partner"]
        only_mobile = Partner.create({"name": "Bare Mobil"})
        same = Partner.create({"name": "Samme Nummer", "phone": "+47 412 34 567"})
        landline = Partner.create({"name": "Fasttelefon", "phone": "22 33 44 55"})
        # Kari is a B2C customer: the module used her mobile on 18.0, and keeps using it.
        self.kari.phone = "+4748012345"
        other = Partner.create({"name": "Annen Kunde", "phone": "+4748012346"})
        foreign = Partner.create({"name": "Svensk", "phone": "22 33 44 56"})
        mobiles = {
            only_mobile: "900 11 223",
            same: "41234567",
            landline: "+47 913 45 670",
            self.kari: "+4791234567",
            other: "+4790011224",
            foreign: "+46 70 123 45 67",
        }
        self.env.flush_all()
        cr = self.env.cr
        with cr.savepoint(flush=False) as savepoint:
            cr.execute("ALTER TABLE res_partner ADD COLUMN mobile varchar")
            for partner, mobile in mobiles.items():
                cr.execute("UPDATE res_partner SET mobile = %s WHERE id = %s", [mobile, partner.id])
            self.upgrade()
            phones = {partner: partner.phone for partner in mobiles}
            notes = {partner: partner.message_ids.mapped("body") for partner in mobiles}
            cr.execute(
                "SELECT id, efaktura_legacy_mobile FROM res_partner WHERE id IN %s", [tuple(p.id for p in mobiles)]
            )
            legacy = dict(cr.fetchall())
            # On 19.0 the module reads the mobile from the phone: Kari is still a valid B2C customer.
            self.assertEqual(self.kari.with_company(self.company)._efaktura_skip_reason(), "")
            self.upgrade()  # a second run changes nothing
            self.assertEqual({partner: partner.phone for partner in mobiles}, phones)
            self.assertEqual({partner: partner.message_ids.mapped("body") for partner in mobiles}, notes)
            savepoint.rollback()
        self.env.invalidate_all()
        self.assertEqual(legacy, {partner.id: mobile for partner, mobile in mobiles.items()}, "the 18.0 values kept")
        self.assertEqual(phones[only_mobile], "900 11 223")
        self.assertEqual(phones[same], "+47 412 34 567")
        self.assertEqual(phones[landline], "+47 913 45 670")
        self.assertEqual(phones[self.kari], "+4791234567")
        self.assertEqual(phones[other], "+4748012346", "not a B2C customer: the phone stays")
        self.assertEqual(phones[foreign], "22 33 44 56")
        # Nothing is lost: each number that is no longer the phone is in a note on the contact.
        self.assertFalse(notes[only_mobile] + notes[same])
        for partner, kept in (
            (landline, "22 33 44 55"),
            (self.kari, "+4748012345"),
            (other, "+4790011224"),
            (foreign, "+46 70 123 45 67"),
        ):
            with self.subTest(partner=partner.name):
                self.assertEqual(len(notes[partner]), 1)
                self.assertIn(kept, notes[partner][0])

    def test_an_upgrade_within_18_leaves_the_mobiles_alone(self):
        if compat.ODOO_19:
            self.skipTest("18.0 only: the mobile field of 18.0")
        self.kari.phone = "22 33 44 55"
        self.upgrade()
        self.assertEqual((self.kari.mobile, self.kari.phone), ("+4741234567", "22 33 44 55"))
        self.assertTrue(self.env["res.partner"]._fields["mobile"].store)
