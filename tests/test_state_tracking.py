from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from .common import EfakturaInvoiceCase


@tagged("post_install", "-at_install")
class TestStateTracking(EfakturaInvoiceCase):
    """``efaktura_state`` is declared tracked; the module's own writes bypass the ORM (``_efaktura_write``) and still
    leave the tracking line Odoo's own write would leave."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=False, mail_notrack=False))

    def flush_tracking(self):
        """What happens at commit: Odoo's and the module's tracking are written (as mail's tests do)."""
        self.env.flush_all()
        self.env.cr.precommit.run()

    def tracking_lines(self, move):
        messages = self.env["mail.message"].search(
            [("model", "=", "account.move"), ("res_id", "=", move.id), ("tracking_value_ids", "!=", False)],
            order="id",
        )
        return [
            (tracking.field_id.name, tracking.old_value_char, tracking.new_value_char)
            for message in messages
            for tracking in message.tracking_value_ids
            if tracking.field_id.name == "efaktura_state"
        ]

    def test_dispatch_leaves_a_tracking_line(self):
        move = self.make_invoice(self.kari)
        self.flush_tracking()
        self.dispatch(move)
        self.flush_tracking()
        self.assertEqual(move.efaktura_state, "sent")
        self.assertEqual(
            self.tracking_lines(move),
            [
                ("efaktura_state", "Not sent by eFaktura B2C", "Queued"),  # queued when posted
                ("efaktura_state", "Queued", "Sent"),
            ],
        )
        sent = self.env["mail.tracking.value"].search(
            [("mail_message_id.res_id", "=", move.id), ("new_value_char", "=", "Sent")]
        )
        self.assertIn(
            "Delivered by Vipps", str(sent.mail_message_id.body), "shown under the chain's own line, not on its own"
        )

    def test_changes_in_one_transaction_make_one_line(self):
        move = self.make_invoice(self.per)
        self.flush_tracking()
        move._efaktura_write({"efaktura_state": "queued"})
        move._efaktura_write({"efaktura_state": "awaiting_consent"})
        move._efaktura_write({"efaktura_state": "manual"})
        self.flush_tracking()
        self.assertEqual(
            self.tracking_lines(move),
            [("efaktura_state", "Not sent by eFaktura B2C", "To print and post")],
            "first to last, as the ORM's tracking does",
        )

    def test_same_line_as_odoos_own_tracked_write(self):
        by_orm, by_module = self.make_invoices(self.ola, 2)
        self.flush_tracking()
        by_orm.write({"efaktura_state": "manual"})
        by_module._efaktura_write({"efaktura_state": "manual"})
        self.flush_tracking()
        self.assertEqual(
            self.tracking_lines(by_orm), [("efaktura_state", "Not sent by eFaktura B2C", "To print and post")]
        )
        self.assertEqual(self.tracking_lines(by_module), self.tracking_lines(by_orm))
        orm_message, module_message = (
            self.env["mail.message"].search(
                [("model", "=", "account.move"), ("res_id", "=", move.id), ("tracking_value_ids", "!=", False)]
            )
            for move in (by_orm, by_module)
        )
        for field in ("message_type", "subtype_id", "author_id", "body", "is_internal"):
            self.assertEqual(module_message[field], orm_message[field], field)

    def test_no_line_without_a_change_or_when_tracking_is_off(self):
        unchanged, untracked = self.make_invoices(self.per, 2)
        self.flush_tracking()
        unchanged._efaktura_write({"efaktura_state": "queued"})
        unchanged._efaktura_write({"efaktura_state": "none"})
        untracked.with_context(tracking_disable=True)._efaktura_write({"efaktura_state": "error"})
        untracked.with_context(mail_notrack=True)._efaktura_write({"efaktura_state": "manual"})
        self.flush_tracking()
        self.assertEqual(self.tracking_lines(unchanged), [])
        self.assertEqual(self.tracking_lines(untracked), [])

    def test_line_in_the_customers_language(self):
        self.env["res.lang"]._activate_lang("nb_NO")
        self.env["ir.module.module"]._load_module_terms(["l10n_no_efaktura_b2c"], ["nb_NO"])
        self.ingrid.lang = "nb_NO"
        norwegian, english = self.make_invoice(self.ingrid), self.make_invoice(self.ola)
        self.flush_tracking()
        (norwegian | english).with_context(lang="en_US")._efaktura_write({"efaktura_state": "manual"})
        self.flush_tracking()
        nb = self.env["account.move"].with_context(lang="nb_NO").fields_get(["efaktura_state"])["efaktura_state"]
        labels = dict(nb["selection"])
        self.assertNotEqual(labels["manual"], "To print and post", "the state has a Norwegian label")
        self.assertEqual(self.tracking_lines(norwegian), [("efaktura_state", labels["none"], labels["manual"])])
        self.assertEqual(
            self.tracking_lines(english), [("efaktura_state", "Not sent by eFaktura B2C", "To print and post")]
        )

    def test_many_moves_cost_a_fixed_number_of_queries(self):
        warm, few, many = (self.make_invoices(self.per, count) for count in (1, 3, 30))
        self.flush_tracking()
        counts = []
        for moves in (warm, few, many):  # the first fills the caches (field ids, subtype)
            moves._efaktura_write({"efaktura_state": "manual"})
            self.env.flush_all()
            before = self.cr.sql_log_count
            self.env.cr.precommit.run()
            counts.append(self.cr.sql_log_count - before)
        self.assertEqual(len(self.env["mail.tracking.value"].search([("mail_message_id.res_id", "in", many.ids)])), 30)
        self.assertEqual(counts[1], counts[2], f"queries for 1, 3 and 30 moves: {counts}")
        self.assertLessEqual(counts[2], 5, "read the states, insert the messages, insert the tracking values")

    def chatter(self, move):
        """Each line of the invoice's chatter with an eFaktura status change: its text and the change(s) under it."""
        messages = self.env["mail.message"].search(
            [("model", "=", "account.move"), ("res_id", "=", move.id), ("tracking_value_ids", "!=", False)],
            order="id",
        )
        return [
            (
                str(message.body or ""),
                [
                    (tracking.old_value_char, tracking.new_value_char)
                    for tracking in message.tracking_value_ids
                    if tracking.field_id.name == "efaktura_state"
                ],
            )
            for message in messages
        ]

    def assert_each_change_once_under_a_line(self, move):
        chatter = self.chatter(move)
        changes = [change for _body, values in chatter for change in values]
        self.assertEqual(len(changes), len(set(changes)), f"a change shown twice: {chatter}")
        for body, values in chatter:
            if values:
                self.assertTrue(body, f"{values} on a line of its own, not under the module's line: {chatter}")
        return changes

    def test_deadline_fallbacks_show_each_change_once_under_its_line(self):
        """The consent deadline's cron queues the invoices again and runs the chain in a savepoint per company:
        the savepoint's flushes run the tracking (as at commit) in between, and each change still shows once,
        under the line that tells it."""
        by_email, by_post, by_hand = (
            self.make_invoice(self.ingrid),
            self.make_invoice(self.per),
            self.make_invoice(self.siri),
        )
        moves = by_email | by_post | by_hand
        self.dispatch(moves)
        self.flush_tracking()
        self.assertEqual(set(moves.mapped("efaktura_state")), {"awaiting_consent"})
        with freeze_time(max(moves.mapped("efaktura_deadline")) + timedelta(minutes=1)):
            self.env["efaktura.chain"]._cron_deadlines()
            self.flush_tracking()
        moves.invalidate_recordset()
        self.assertEqual(moves.mapped("efaktura_state"), ["fallback_sent", "fallback_sent", "manual"])
        for move in moves:
            changes = self.assert_each_change_once_under_a_line(move)
            self.assertEqual(changes[-1][0], "Queued", changes)

    def test_nettbank_delivery_shows_its_change_under_its_line(self):
        """An ORM write of the invoice before the dispatch makes Odoo's tracking capture every tracked field, the
        eFaktura status among them: the change is still shown once, under the chain's line."""
        move = self.make_invoice(self.ola)
        self.flush_tracking()
        move.write({"ref": "Order 17"})
        self.dispatch(move)
        self.flush_tracking()
        self.assertEqual(move.efaktura_channel, "nettbank")
        self.assert_each_change_once_under_a_line(move)
        sent = self.env["mail.tracking.value"].search(
            [("mail_message_id.res_id", "=", move.id), ("new_value_char", "=", "Sent")]
        )
        self.assertIn("Delivered by eFaktura", str(sent.mail_message_id.body))

    def test_orm_and_raw_writes_in_one_transaction_make_one_change(self):
        before_raw, after_raw, both = self.make_invoices(self.per, 3)
        self.flush_tracking()
        before_raw.write({"ref": "Order 1"})  # Odoo's tracking captures "Not sent" first
        before_raw._efaktura_write({"efaktura_state": "manual"})
        after_raw._efaktura_write({"efaktura_state": "queued"})
        after_raw.write({"ref": "Order 2"})  # captures the status the raw write left
        after_raw.write({"efaktura_state": "error"})
        both.write({"efaktura_state": "queued"})
        both._efaktura_write({"efaktura_state": "manual"})
        self.flush_tracking()
        self.assertEqual(
            self.tracking_lines(before_raw), [("efaktura_state", "Not sent by eFaktura B2C", "To print and post")]
        )
        self.assertEqual(
            self.tracking_lines(after_raw), [("efaktura_state", "Not sent by eFaktura B2C", "Needs attention")]
        )
        self.assertEqual(
            self.tracking_lines(both), [("efaktura_state", "Not sent by eFaktura B2C", "To print and post")]
        )

    def test_a_savepoint_flush_during_a_dispatch_leaves_the_change_for_the_chains_line(self):
        """The chain holds its invoices' changes while it sends them: a savepoint in the middle (an e-mail, a letter,
        a network call) runs the precommit hooks, and the change still waits for the line the chain logs."""
        move = self.make_invoice(self.per)
        self.flush_tracking()
        with self.env["efaktura.state.tracking"]._held(move):
            move._efaktura_write({"efaktura_state": "manual"})
            with self.env.cr.savepoint():
                pass
            self.assertEqual(self.tracking_lines(move), [], "held while the chain works")
            move._efaktura_log({move.id: "Printed and posted by hand."})
        self.flush_tracking()
        self.assertEqual(
            self.chatter(move),
            [("<p>Printed and posted by hand.</p>", [("Not sent by eFaktura B2C", "To print and post")])],
        )

    def test_rollback_forgets_the_states_kept_for_tracking(self):
        move = self.make_invoice(self.per)
        self.flush_tracking()
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            move._efaktura_write({"efaktura_state": "manual"})
            raise ZeroDivisionError
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "none")
        self.flush_tracking()
        self.assertEqual(self.tracking_lines(move), [], "the change was undone")
