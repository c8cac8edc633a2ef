"""The migrations, run against a database as the previous version left it."""

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
