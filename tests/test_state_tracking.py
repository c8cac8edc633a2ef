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
