"""Bounded versions of ``make chaos``: crashes after the network accepted, repeated workers, flaky networks."""

import random
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.efaktura_delivery import HANDED_OVER_STATES
from ..sandbox.models.efaktura_sandbox_document import EfakturaSandboxDocument, _OdooSandboxStore
from ..sandbox.network import SandboxNetwork
from .common import EfakturaInvoiceCase
from .test_sandbox_network import MemoryStore


class Crash(BaseException):
    """The process died: its transaction is gone, what the network stored stays."""


class RemoteStore(MemoryStore):
    """The sandbox as a remote system: the registry from the database, the mailbox outside any transaction."""

    def __init__(self, env, company):
        super().__init__()
        self.registry = _OdooSandboxStore(env, company, detached=False)

    def hash_national_id(self, national_id):
        return self.registry.hash_national_id(national_id)

    def find_consumers(self, *args, **kwargs):
        return self.registry.find_consumers(*args, **kwargs)


@tagged("post_install", "-at_install")
class TestReliability(EfakturaInvoiceCase):
    def setUp(self):
        super().setUp()
        self.store = RemoteStore(self.env, self.company)
        self.failure = "none"
        self.rng = random.Random(7)

        def network(model, company):
            issuer = model.env["efaktura.network.factory"]._issuer(company)
            return SandboxNetwork(issuer, self.store, failure=self.failure, rng=self.rng)

        patcher = patch.object(EfakturaSandboxDocument, "_sandbox_network", network)
        patcher.start()
        self.addCleanup(patcher.stop)

    def assert_exactly_once(self, moves):
        moves.invalidate_recordset()
        references = []
        for move in moves:
            delivered = move.efaktura_delivery_ids.filtered(
                lambda d: d.state in HANDED_OVER_STATES or (d.channel == "manual" and d.state == "pending")
            )
            self.assertEqual(len(delivered), 1, f"{move.name}: {move.efaktura_delivery_ids.mapped('state')}")
            self.assertIn(move.efaktura_state, ("sent", "fallback_sent", "manual"))
            if delivered.network_reference:
                references.append(delivered.network_reference)
        self.assertEqual(len(references), len(set(references)), "no network reference twice")
        in_mailbox = [item.document.invoice_number for item in self.store.documents.values()]
        self.assertEqual(len(in_mailbox), len(set(in_mailbox)), "no invoice twice in the consumers' banks")
        self.assertEqual(
            sorted(in_mailbox), sorted(m.name for m in moves if m.efaktura_channel in ("nettbank", "vipps"))
        )

    def test_crash_after_the_network_accepted_delivers_once(self):
        moves = self.make_invoices(self.ola, 4) | self.make_invoices(self.kari, 3)
        moves._efaktura_queue()
        Chain = self.env["efaktura.chain"]
        Sender = self.env["efaktura.network.sender"]
        crash_points = [(Sender, "_mark_delivered"), (Chain, "_flush_logs"), None, (Sender, "_mark_delivered"), None]
        for point in crash_points:
            with self.assertRaises(Crash), self.env.cr.savepoint():
                if point:
                    model, method = point
                    with patch.object(type(model), method, side_effect=Crash, autospec=True):
                        Chain._cron_dispatch(batch_size=3)
                else:
                    Chain._cron_dispatch(batch_size=3)
                    raise Crash
            self.env.invalidate_all()
            self.assertEqual(set(moves.mapped("efaktura_state")), {"queued"}, "the crash undid the dispatch")
            self.assertFalse(moves.efaktura_delivery_ids)
        self.assertEqual(len(self.store.documents), 7, "the network kept what it accepted, once")
        Chain._cron_dispatch(batch_size=3)
        self.assert_exactly_once(moves)
        duplicates = [a for a in self.store.attempts if a.duplicate]
        self.assertGreaterEqual(len(duplicates), 7, "the resubmissions were recognised")
        self.assertEqual({d.network_reference for d in moves.efaktura_delivery_ids}, set(self.store.documents))

    def test_second_worker_and_repeated_runs_send_nothing_again(self):
        moves = self.make_invoices(self.ola, 3) | self.make_invoices(self.kari, 2)
        moves._efaktura_queue()
        Chain = self.env["efaktura.chain"]
        Chain._dispatch_locked(moves)
        # A second worker that read the same queue before the first one committed finds nothing to lock.
        self.assertFalse(Chain._dispatch_locked(moves))
        self.assertEqual(Chain._cron_dispatch(), 0)
        # Queued again (Send pressed twice): the outbox knows it was delivered.
        moves._efaktura_queue()
        Chain._dispatch_locked(moves)
        self.assert_exactly_once(moves)
        self.assertEqual(len(self.store.attempts), 5, "submitted once; the second time the outbox stopped it")

    @mute_logger(
        "odoo.addons.l10n_no_efaktura_b2c.models.efaktura_chain",
        "odoo.addons.l10n_no_efaktura_b2c.models.efaktura_network_sender",
    )
    def test_flaky_network_ends_delivered_or_fallen_back(self):
        self.failure = "flaky"
        moves = self.make_invoices(self.ola, 12) | self.make_invoices(self.kari, 12)
        moves._efaktura_queue()
        Chain = self.env["efaktura.chain"]
        for _round in range(30):
            Chain._cron_dispatch(batch_size=4)
            # Time passes: waiting retries are due.
            waiting = moves.filtered(lambda m: m.efaktura_state == "queued")
            if not waiting:
                break
            waiting._efaktura_write({"efaktura_next_try": False})
        self.assert_exactly_once(moves)
        failed = [a for a in self.store.attempts if a.failed]
        self.assertTrue(failed, "faults were injected")
        retried = moves.efaktura_delivery_ids.filtered(lambda d: d.attempt_count > 1)
        self.assertTrue(retried, "retries are counted on the deliveries")
        self.assertEqual(
            sum(
                moves.efaktura_delivery_ids.filtered(lambda d: d.channel in ("nettbank", "vipps")).mapped(
                    "attempt_count"
                )
            ),
            len(self.store.attempts),
            "every attempt is counted once",
        )
