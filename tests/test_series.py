"""The module on the Odoo series it runs on (18.0 or 19.0): the failures that 19.0 would let pass in silence.

`make test` runs the whole suite on both series; these tests make sure that neither series installs or runs the
module with a part of it quietly gone: the module not installed (a manifest version 19.0 refuses), unique
constraints not created (19.0 ignores ``_sql_constraints``), B2C not the default sending method (19.0 renamed the
hook), a failed e-mail reported as sent (19.0 keeps an error in ``sending_data`` only when it retries). That no
deprecation warning is logged is checked on the whole log of each series by scripts/summarize_test_log.py, which
`TestDeprecationCheck` tests.
"""

import importlib.util
import shutil
import tempfile
from pathlib import Path
from unittest.mock import patch

from odoo import release
from odoo.tests import BaseCase, Form, tagged
from odoo.tools import mute_logger

from odoo.addons.account.models.account_move_send import AccountMoveSend

from .. import compat
from .common import EfakturaInvoiceCase, RealQueues

MODULE = "l10n_no_efaktura_b2c"
ROOT = Path(__file__).parent.parent
#: (table, constraint) of every unique constraint the module declares. Listed here, not read from the models, so that
#: a constraint the series drops in silence is missed by this list and the test fails.
UNIQUE_CONSTRAINTS = {
    ("efaktura_channel", "efaktura_channel_code_company_uniq"),
    ("efaktura_delivery", "efaktura_delivery_idempotency_key_uniq"),
    ("efaktura_rate_limit", "efaktura_rate_limit_key_window_uniq"),
    ("efaktura_reminder", "efaktura_reminder_move_step_uniq"),
    ("efaktura_bankid_simulator_entry", "efaktura_bankid_simulator_entry_key_unique"),
    ("efaktura_sandbox_consumer", "efaktura_sandbox_consumer_efaktura_identifier_uniq"),
    ("efaktura_sandbox_document", "efaktura_sandbox_document_key_uniq"),
    ("efaktura_sandbox_document", "efaktura_sandbox_document_reference_uniq"),
}


@tagged("post_install", "-at_install")
class TestSeries(RealQueues, EfakturaInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Ingrid said no to eFaktura: her invoices go by e-mail, then post.
        cls.ingrid.with_company(cls.company)._efaktura_set_state("declined")

    def deliveries(self, move, channel):
        return move.efaktura_delivery_ids.filtered(lambda d: d.channel == channel)

    def notes(self, move):
        return "\n".join(move.message_ids.mapped("body"))

    def test_the_module_is_installed_on_this_series(self):
        module = self.env["ir.module.module"].search([("name", "=", MODULE)])
        self.assertEqual(module.state, "installed")
        self.assertTrue(module.latest_version.startswith(f"{release.major_version}."), module.latest_version)
        self.assertEqual(compat.SERIES, release.version_info[0])

    def test_the_unique_constraints_exist_in_the_database(self):
        self.env.cr.execute(
            """SELECT conrelid::regclass::text, conname FROM pg_constraint
                WHERE contype = 'u' AND conrelid::regclass::text IN %s""",
            [tuple({table for table, _name in UNIQUE_CONSTRAINTS})],
        )
        self.assertEqual(set(self.env.cr.fetchall()), UNIQUE_CONSTRAINTS)
        # ... and the rate limiter's ON CONFLICT, which needs its constraint, works.
        RateLimit = self.env["efaktura.rate.limit"]
        self.assertEqual([RateLimit._hit("series", "client", "token") for _ in range(3)], [1, 2, 3])

    def test_b2c_is_the_default_sending_method(self):
        """Send & Print opens with the B2C method ticked for a B2C consumer, and not for anybody else."""
        for partner, expected in ((self.kari, True), (self.env["res.partner"].create({"name": "Firma AS"}), False)):
            move = self.make_invoice(partner)
            with self.subTest(partner=partner.name):
                defaults = self.env["account.move.send"]._get_default_sending_settings(move)
                self.assertEqual("efaktura_b2c" in defaults["sending_methods"], expected)
                wizard = Form(
                    self.env["account.move.send.wizard"].with_context(active_model="account.move", active_ids=move.ids)
                )
                self.assertEqual("efaktura_b2c" in (wizard.sending_methods or []), expected)

    @mute_logger(
        "odoo.addons.account.models.account_move_send", "odoo.addons.l10n_no_efaktura_b2c.models.efaktura_chain"
    )
    def test_a_failed_email_is_not_reported_as_sent(self):
        """Send & Print reports an error for the invoice (an electronic document it could not make, as an EDI
        module does): the e-mail channel fails, no e-mail is queued, and the invoice takes the next channel."""

        def edi_fails(self, invoices_data):
            for invoice_data in invoices_data.values():
                invoice_data["error"] = {"error_title": "The EHF document could not be made", "errors": ["no VAT"]}

        move = self.make_invoice(self.ingrid)
        with patch.object(AccountMoveSend, "_call_web_service_before_invoice_pdf_render", edi_fails):
            self.dispatch(move)
        email = self.deliveries(move, "email")
        # Refused before the hand-off, as a network refuses a document it cannot take (not "failed" after it).
        self.assertEqual((email.state, email.final), ("rejected", True))
        self.assertIn("the e-mail could not be generated", email.last_error)
        self.assertFalse(self.env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "=", move.id)]))
        self.assertNotEqual(move.efaktura_channel, "email")
        self.assertIn(move.efaktura_channel, ("post", "manual"))
        self.assertIn("the e-mail could not be generated", self.notes(move))


def load_summary():
    path = ROOT / "scripts" / "summarize_test_log.py"
    spec = importlib.util.spec_from_file_location("efaktura_summarize_test_log", path)
    summary = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(summary)
    return summary


@tagged("post_install", "-at_install")
class TestDeprecationCheck(BaseCase):
    """`make test` fails on a deprecation warning the module causes, on either series."""

    def log(self, *lines):
        path = Path(self.tmp) / "test.log"
        head = "2026-12-02 10:00:00,000 1 INFO db odoo.modules.loading: Module l10n_no_efaktura_b2c loaded in 1s\n"
        result = (
            "2026-12-02 10:00:01,000 1 INFO db odoo.tests.result: 0 failed, 0 error(s) of 3 tests when loading "
            "database 'db'\n"
        )
        path.write_text(head + "".join(f"2026-12-02 10:00:00,500 1 WARNING db {line}\n" for line in lines) + result)
        return str(path)

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        self.summary = load_summary()

    def run_summary(self, log):
        with patch("builtins.print"):
            return self.summary.main(["--module", MODULE, f"19={log}=0"])

    def test_a_deprecation_the_module_causes_fails_the_run(self):
        for line in (
            f"py.warnings: /addons/{MODULE}/models/account_move.py:82: DeprecationWarning: read_group is deprecated",
            "odoo.orm.model_classes: Model attribute '_sql_constraints' is no longer supported, please define "
            "model.Constraint on the model.",
            f"odoo.addons.{MODULE}.models.efaktura_chain: ir.cron._notify_progress is deprecated",
        ):
            with self.subTest(line=line):
                self.assertEqual(self.run_summary(self.log(line)), 1)

    def test_odoos_own_deprecations_and_a_clean_log_pass(self):
        self.assertEqual(self.run_summary(self.log()), 0)
        other = "py.warnings: /opt/odoo/addons/mail/models/mail_thread.py:10: DeprecationWarning: x is deprecated"
        self.assertEqual(self.run_summary(self.log(other)), 0)
