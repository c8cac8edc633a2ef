from odoo.tests import tagged

from ..compat import PARTNER_MOBILE as MOBILE
from .common import EfakturaInvoiceCase


@tagged("post_install", "-at_install")
class TestDispatchQueries(EfakturaInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The chain's own queries, against the sandbox's own network (as for the MPS route). For the Visma
        # AutoInvoice route the sandbox plays Maventa and renders each invoice's EHF file, one at a time, as the
        # Maventa network does (TestMaventaSandbox).
        cls.company.efaktura_production_route = "mps"

    def queued(self, count):
        moves = self.make_invoices(self.ola, count)
        moves._efaktura_queue()
        self.env.flush_all()
        self.env.invalidate_all()
        return moves

    def count_dispatch(self, moves):
        start = self.env.cr.sql_log_count
        self.env["efaktura.chain"]._dispatch_locked(moves)
        self.env.flush_all()
        return self.env.cr.sql_log_count - start

    def test_batch_queries_do_not_grow_with_the_batch(self):
        # The first invoice learns Ola's eFaktura identifier; from then on no lookup is needed.
        self.dispatch(self.make_invoice(self.ola))
        self.count_dispatch(self.queued(3))  # warm-up: caches that any first batch fills
        small = self.count_dispatch(self.queued(10))
        large = self.count_dispatch(self.queued(100))
        self.assertEqual(small, large, "a batch of 100 takes as many queries as a batch of 10")
        # The ORM inserts at most INSERT_BATCH_SIZE (100) rows per statement, so 200 invoices cost one more
        # INSERT for each of the three tables written in bulk: outbox, chatter and the network's mailbox.
        moves = self.queued(200)
        with self.assertQueryCount(small + 3):
            self.env["efaktura.chain"]._dispatch_locked(moves)
            self.env.flush_all()
        moves.invalidate_recordset()
        self.assertEqual(set(moves.mapped("efaktura_state")), {"sent"})
        self.assertEqual(len(self.mailbox(moves)), 200)
        self.assertLess((small + 3) / 200, 0.2, "well under one query per invoice")

    def new_consumers_with_invoices(self, count, start):
        """``count`` customers who said yes to all, never looked up yet, with one queued invoice each."""
        b2c = {"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno"}
        partners = self.env["res.partner"].create(
            [{"name": f"Kunde {start + i}", MOBILE: f"+47412{start + i:05d}", **b2c} for i in range(count)]
        )
        self.env["efaktura.sandbox.consumer"].create(
            [{"name": p.name, "mobile": p[MOBILE], "jtta": True} for p in partners]
        )
        moves = self.env["account.move"].browse()
        for partner in partners:
            moves |= self.make_invoice(partner, amount=100)
        moves._efaktura_queue()
        self.env.flush_all()
        self.env.invalidate_all()
        return moves

    def test_first_contact_queries_do_not_grow_with_the_batch(self):
        """The lookup of customers never seen before is batched too: one call, one state change for all."""
        self.count_dispatch(self.new_consumers_with_invoices(3, 0))  # warm-up
        small = self.count_dispatch(self.new_consumers_with_invoices(5, 100))
        moves = self.new_consumers_with_invoices(25, 200)
        large = self.count_dispatch(moves)
        self.assertEqual(small, large, "25 new customers take as many queries as 5")
        moves.invalidate_recordset()
        self.assertEqual(set(moves.mapped("efaktura_state")), {"sent"})
        self.assertTrue(all(moves.partner_id.with_company(self.company).mapped("efaktura_identifier")))
