import datetime

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..compat import PARTNER_MOBILE as MOBILE
from ..networks.base import Document, NetworkRejected, NetworkUnavailable, Recipient
from ..sandbox.network import SandboxNetwork
from .common import EfakturaCase

NATIONAL_ID = "24048812345"


@tagged("post_install", "-at_install")
class TestSandboxModels(EfakturaCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Documents made here have no invoice in Odoo: the sandbox's own network (as for the MPS route), not its
        # Maventa part, which sends each invoice's file (TestMaventaSandbox).
        cls.company.write(
            {
                "efaktura_issuer_org_number": "123456785",
                "efaktura_billing_account": "8601 11 17947",
                "efaktura_production_route": "mps",
            }
        )
        cls.manager = new_test_user(
            cls.env,
            login="efaktura_sandbox_manager",
            groups="account.group_account_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        Registry = cls.env["efaktura.sandbox.consumer"]
        cls.registered = Registry.create(
            {
                "name": "Kari Nordmann",
                "mobile": "912 34 567",
                "email": "Kari@Example.com",
                "national_id": NATIONAL_ID,
                "jtta": True,
                "vipps": True,
            }
        )
        cls.nettbank_only = Registry.create({"name": "Ola Nordmann", "mobile": "+4790011222", "jtta": True})

    def network(self, company=None):
        return (company or self.company)._efaktura_network()

    def document(self, key="key-1", recipient=None, **overrides):
        values = {
            "key": key,
            "invoice_number": "INV/2025/00001",
            "recipient": recipient or self.registered.efaktura_identifier,
            "recipient_name": "Kari Nordmann",
            "kid": "0000123455",
            "amount_ore": 123450,
            "currency": "NOK",
            "issue_date": datetime.date(2025, 3, 1),
            "due_date": datetime.date(2025, 3, 15),
            "document_url": "https://example.com/invoice.pdf",
            "document_hash": "ab" * 32,
            **overrides,
        }
        return Document(**values)

    def deliver(self, channel="nettbank", **overrides):
        (result,) = self.network().submit(channel, [self.document(**overrides)])
        self.assertTrue(result.ok, result.error)
        return self.env["efaktura.sandbox.document"].search([("reference", "=", result.network_reference)])

    # ------------------------------------------------------------------
    # Registry
    # ------------------------------------------------------------------

    def test_registry_consumer_is_normalised(self):
        self.assertEqual(self.registered.mobile, "+4791234567")
        self.assertEqual(self.registered.email, "kari@example.com")
        self.assertRegex(self.registered.efaktura_identifier, r"^[1-9]\d{8}$")
        self.assertNotEqual(self.registered.efaktura_identifier, self.nettbank_only.efaktura_identifier)
        self.assertTrue(self.registered.national_id_set)
        self.assertFalse(self.nettbank_only.national_id_set)
        with self.assertRaisesRegex(ValidationError, "Mobile: 12345 is not valid"):
            self.env["efaktura.sandbox.consumer"].create({"name": "Bad Mobile", "mobile": "12345"})
        with self.assertRaisesRegex(ValidationError, "National id: 1234 is not valid"):
            self.env["efaktura.sandbox.consumer"].create({"name": "Bad Id", "national_id": "1234"})
        with self.assertRaisesRegex(ValidationError, "Mobile: Vipps Only uses Vipps"):
            self.env["efaktura.sandbox.consumer"].create({"name": "Vipps Only", "vipps": True})

    def test_identifier_is_unique(self):
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["efaktura.sandbox.consumer"].create(
                {"name": "Copy", "efaktura_identifier": self.registered.efaktura_identifier}
            )

    def test_national_id_is_stored_only_hashed(self):
        self.env.flush_all()
        consumer = self.registered.sudo()
        self.assertRegex(consumer.national_id_hash, r"^[0-9a-f]{64}$")
        self.assertFalse(consumer.national_id, "the national id cannot be read back")
        secret = self.env["ir.config_parameter"].sudo().get_param("l10n_no_efaktura_b2c.sandbox_secret")
        self.assertRegex(secret, r"^[0-9a-f]{64}$")
        self.assertEqual(
            self.env["efaktura.sandbox.consumer"].search([("national_id", "=", "240488 12345")]), self.registered
        )
        # No text column of any table holds the clear value; the scan does find the hash.
        self.assertEqual(self.tables_containing(NATIONAL_ID), [])
        self.assertEqual(self.tables_containing(consumer.national_id_hash), ["efaktura_sandbox_consumer"])

    def tables_containing(self, value):
        """The tables with a text column that contains ``value``."""
        self.env.cr.execute(
            """
            SELECT c.table_name, array_agg(c.column_name::text)
              FROM information_schema.columns c
              JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
               AND c.data_type IN ('character varying', 'text', 'jsonb')
          GROUP BY c.table_name
          ORDER BY c.table_name
            """
        )
        found = []
        for table, columns in self.env.cr.fetchall():
            condition = " OR ".join(f'"{column}"::text LIKE %s' for column in columns)
            self.env.cr.execute(f'SELECT 1 FROM "{table}" WHERE {condition} LIMIT 1', [f"%{value}%"] * len(columns))
            if self.env.cr.fetchone():
                found.append(table)
        return found

    def test_national_id_is_readable_by_managers_only(self):
        with self.assertRaises(AccessError):
            self.as_user(self.registered, self.billing_user).read(["national_id_hash"])
        self.assertTrue(self.as_user(self.registered, self.billing_user).national_id_set)
        self.assertTrue(self.as_user(self.registered, self.manager).national_id_hash)

    # ------------------------------------------------------------------
    # The network through the database
    # ------------------------------------------------------------------

    def test_company_network_is_the_sandbox(self):
        network = self.network()
        self.assertIsInstance(network, SandboxNetwork)
        self.assertEqual(network.name, "sandbox")
        self.assertEqual(network.failure, "none")
        self.assertEqual(network.issuer.org_number, "123456785")
        self.assertEqual(network.issuer.account_number, "86011117947")

    def test_lookup_finds_registry_consumers(self):
        results = self.network().lookup(
            [
                Recipient(ref=str(self.consumer.id), name=self.consumer.name, mobile=self.consumer[MOBILE]),
                Recipient(ref="by-email", name="kari nordmann", email="kari@example.com"),
                Recipient(ref="by-national-id", name="K. N.", national_id=NATIONAL_ID),
                Recipient(ref="ola", name="Ola Nordmann", mobile="900 11 222"),
                Recipient(ref="ingrid", name="Ingrid Hansen", mobile="+4791345678"),
            ]
        )
        for ref in (str(self.consumer.id), "by-email", "by-national-id"):
            with self.subTest(ref=ref):
                self.assertEqual(results[ref].efaktura_identifier, self.registered.efaktura_identifier)
                self.assertTrue(results[ref].vipps)
                self.assertEqual(results[ref].vipps_recipient, "+4791234567")
        self.assertEqual(results["ola"].efaktura_identifier, self.nettbank_only.efaktura_identifier)
        self.assertFalse(results["ola"].vipps)
        self.assertEqual(results["ingrid"].efaktura_identifier, "")
        self.nettbank_only.active = False
        self.assertEqual(
            self.network()
            .lookup([Recipient(ref="ola", name="Ola Nordmann", mobile="+4790011222")])["ola"]
            .efaktura_identifier,
            "",
            "an archived consumer left the registry",
        )

    def test_submit_and_status_fill_the_mailbox(self):
        network = self.network()
        results = network.submit(
            "nettbank",
            [self.document(), self.document(key="key-2", kid="12", recipient="000000000")],
        )
        self.assertTrue(results[0].ok)
        self.assertEqual(results[1].error.code, "RECIPIENT")
        document = self.env["efaktura.sandbox.document"].search([("company_id", "=", self.company.id)])
        self.assertEqual(len(document), 1)
        self.assertEqual(document.reference, results[0].network_reference)
        self.assertRecordValues(
            document,
            [
                {
                    "consumer_id": self.registered.id,
                    "channel": "nettbank",
                    "key": "key-1",
                    "state": "submitted",
                    "amount": 1234.5,
                    "currency_id": self.env.ref("base.NOK").id,
                    "kid": "0000123455",
                    "account_number": "86011117947",
                    "due_date": datetime.date(2025, 3, 15),
                    "kind": "invoice",
                }
            ],
        )
        self.assertEqual(self.registered.document_count, 1)
        self.assertEqual(
            [(r.network_reference, r.state) for r in network.status("nettbank", [document.reference])],
            [(document.reference, "submitted")],
        )
        log = self.env["efaktura.sandbox.submission"].search([("company_id", "=", self.company.id)])
        self.assertEqual(sorted(log.mapped("failed")), [False, True])

    def test_vipps_delivery_addresses_the_mobile(self):
        document = self.deliver(channel="vipps", recipient="+4791234567")
        self.assertEqual((document.channel, document.consumer_id), ("vipps", self.registered))

    def test_resubmission_is_a_duplicate(self):
        first = self.deliver()
        (again,) = self.network().submit("nettbank", [self.document()])
        self.assertTrue(again.duplicate)
        self.assertEqual(again.network_reference, first.reference)
        self.assertEqual(self.env["efaktura.sandbox.document"].search_count([("key", "=", "key-1")]), 1)
        log = self.env["efaktura.sandbox.submission"].search([("key", "=", "key-1")])
        self.assertEqual(sorted(log.mapped("duplicate")), [False, True])
        self.assertEqual(set(log.mapped("reference")), {first.reference})

    def test_failure_mode_from_the_settings(self):
        settings = self.env["res.config.settings"].create({})
        settings.efaktura_sandbox_failure = "outage"
        settings.execute()
        self.assertEqual(self.company.efaktura_sandbox_failure, "outage")
        # Not under assertRaises, whose savepoint would roll the submission log back.
        try:
            self.network().submit("nettbank", [self.document()])
        except NetworkUnavailable as exc:
            self.assertEqual(exc.code, "503")
        else:
            self.fail("an outage fails the call")
        self.assertFalse(self.env["efaktura.sandbox.document"].search([("company_id", "=", self.company.id)]))
        log = self.env["efaktura.sandbox.submission"].search([("company_id", "=", self.company.id)])
        self.assertEqual((log.key, log.failed), ("key-1", True))
        self.assertIn("503", log.error)

        self.company.efaktura_sandbox_failure = "reject"
        (result,) = self.network().submit("nettbank", [self.document()])
        self.assertEqual(result.error.code, "REJECTED")
        self.assertFalse(self.env["efaktura.sandbox.document"].search([("company_id", "=", self.company.id)]))

    def test_cron_advances_receipts_one_step_per_run(self):
        document = self.deliver()
        Document = self.env["efaktura.sandbox.document"]
        for expected in ("accepted", "shown", "shown"):
            Document._cron_advance()
            self.assertEqual(document.state, expected)
            self.assertEqual(self.network().status("nettbank", [document.reference])[0].state, expected)
        cron = self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_sandbox_advance")
        self.assertEqual((cron.interval_number, cron.interval_type), (5, "minutes"))

    def test_consumer_shows_and_pays(self):
        document = self.deliver()
        with self.assertRaises(AccessError):
            self.as_user(document, self.billing_user).action_sandbox_pay()
        self.as_user(document, self.manager).action_sandbox_show()
        self.assertEqual(document.state, "shown")
        self.as_user(document, self.manager).action_sandbox_pay()
        self.assertEqual(document.state, "paid")
        self.assertEqual(self.network().status("nettbank", [document.reference])[0].state, "paid")
        with self.assertRaisesRegex(UserError, "only a document still in the mailbox can be paid"):
            document.action_sandbox_pay()
        with self.assertRaises(NetworkRejected) as caught:
            self.network().cancel("nettbank", document.reference)
        self.assertEqual(caught.exception.code, "PAID")
        # the cron leaves paid documents alone
        self.env["efaktura.sandbox.document"]._cron_advance()
        self.assertEqual(document.state, "paid")

    def test_cancel_takes_the_document_out_of_the_mailbox(self):
        document = self.deliver()
        self.network().cancel("nettbank", document.reference)
        self.assertEqual(document.state, "cancelled")
        with self.assertRaisesRegex(UserError, "only a document still in the mailbox can be paid"):
            document.action_sandbox_pay()
        credit_note = self.deliver(key="credit", kind="credit_note", kid="")
        with self.assertRaisesRegex(UserError, "is a credit note"):
            credit_note.action_sandbox_pay()

    # ------------------------------------------------------------------
    # Companies
    # ------------------------------------------------------------------

    def test_documents_are_isolated_per_company(self):
        document = self.deliver()
        other_company = self.env["res.company"].create(
            {
                "name": "Annen AS",
                "efaktura_mode": "test",
                "country_id": self.env.ref("base.no").id,
                "efaktura_issuer_org_number": "974760673",
                "efaktura_billing_account": "86011117947",
                "efaktura_production_route": "mps",
            }
        )
        other_user = new_test_user(
            self.env,
            login="efaktura_sandbox_other",
            groups="account.group_account_manager",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        Mailbox = self.as_user(self.env["efaktura.sandbox.document"], other_user)
        self.assertFalse(Mailbox.search([]))
        self.assertFalse(self.as_user(self.env["efaktura.sandbox.submission"], other_user).search([]))
        with self.assertRaises(AccessError):
            self.as_user(document, other_user).read(["reference"])
        self.assertEqual(self.as_user(self.env["efaktura.sandbox.document"], self.billing_user).search([]), document)
        # The other issuer's network neither sees nor deduplicates against this one's documents.
        other_network = self.network(other_company)
        self.assertEqual(other_network.status("nettbank", [document.reference]), [])
        with self.assertRaises(NetworkRejected):
            other_network.cancel("nettbank", document.reference)
        (result,) = other_network.submit("nettbank", [self.document()])
        self.assertFalse(result.duplicate)
        self.assertNotEqual(result.network_reference, document.reference)
        self.assertEqual(Mailbox.search([]).mapped("reference"), [result.network_reference])
