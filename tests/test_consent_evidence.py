"""Who may read a consent's evidence and its links: the evidence is on the consent record for the accounting
managers of its company, the customer's chatter says what happened without personal data, the links travel
only in the outgoing e-mail, and the evidence is cleared after the company's retention period."""

from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .. import compat
from ..sandbox.bankid import TEST_PERSONS
from .test_consent import INGRID_NNIN, KARI_NNIN, ConsentCase
from .test_public_routes import identity_of

EVIDENCE = ("bankid_name", "ip_address", "user_agent", "bankid_sub", "name_mismatch")


@tagged("post_install", "-at_install")
class TestConsentEvidence(ConsentCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.billing_user = new_test_user(
            cls.env,
            login="evidence_billing",
            groups="account.group_account_invoice,base.group_partner_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.manager = new_test_user(
            cls.env,
            login="evidence_manager",
            groups="account.group_account_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.other_company = cls.env["res.company"].create({"name": "Annen AS"})
        cls.other_manager = new_test_user(
            cls.env,
            login="evidence_other_manager",
            groups="account.group_account_manager",
            company_id=cls.other_company.id,
            company_ids=[cls.other_company.id],
        )

    def chatter(self, partner):
        partner.invalidate_recordset()
        return " ".join(partner.message_ids.mapped("body"))

    def as_user(self, record, user):
        return record.with_user(user).with_context(allowed_company_ids=user.company_ids.ids)

    def test_chatter_says_what_happened_without_personal_data(self):
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        kari = next(p for p in TEST_PERSONS if p.given_name == "Kari")
        someone_else = identity_of(self.kari, KARI_NNIN)
        outcome = consent._accept(someone_else, ip_address="203.0.113.7", user_agent="Firefox/Kari")
        self.assertEqual(outcome, "name_mismatch")
        self.assertIn("does not match", self.chatter(self.ingrid))
        self.ingrid_registry.jtta = True  # she said yes to all: the lookup after BankID finds her
        self.assertEqual(consent._accept(identity_of(self.ingrid, INGRID_NNIN), ip_address="203.0.113.8"), "accepted")
        self.assertIn("Approved eFaktura with BankID", self.chatter(self.ingrid))
        consent.action_withdraw(ip_address="203.0.113.9", user_agent="Firefox/Ingrid")
        self.assertIn("withdrawn through the link", self.chatter(self.ingrid))
        chatter = self.chatter(self.ingrid)
        for personal in (kari.name, "Kari", "Ingrid Hansen", "203.0.113", "Firefox", INGRID_NNIN, KARI_NNIN):
            self.assertNotIn(personal, chatter)
        # The evidence is on the consent record.
        self.assertEqual(consent.bankid_name, "Ingrid Hansen")
        self.assertEqual(consent.ip_address, "203.0.113.8")
        self.assertEqual(consent.withdrawn_ip_address, "203.0.113.9")
        self.assertEqual(consent.withdrawn_user_agent, "Firefox/Ingrid")

    def test_evidence_is_for_the_accounting_managers_of_the_company(self):
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        consent._accept(identity_of(self.kari, KARI_NNIN), ip_address="203.0.113.7")
        as_billing = self.as_user(consent, self.billing_user)
        self.assertEqual(as_billing.state, "sent", "the billing user follows the request")
        for field in EVIDENCE:
            with self.subTest(field=field), self.assertRaises(AccessError):
                as_billing.read([field])
        as_manager = self.as_user(consent, self.manager)
        self.assertEqual(as_manager.bankid_name, "Kari Nordmann")
        self.assertEqual(as_manager.ip_address, "203.0.113.7")
        with self.assertRaises(AccessError):
            self.as_user(consent, self.other_manager).read(["bankid_name"])
        self.assertFalse(self.as_user(self.env["efaktura.consent"], self.other_manager).search([]))

    def test_links_are_not_readable_in_the_messages(self):
        """The consent and withdrawal links act in the customer's name: a billing user finds them in no
        mail.message, while the queued e-mail still carries them."""
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        token = self.token_from_sms(self.ingrid)
        self.ingrid_registry.jtta = True
        self.assertEqual(consent._accept(identity_of(self.ingrid, INGRID_NNIN)), "accepted")
        mails = self.env["mail.mail"].sudo().search([("model", "=", "efaktura.consent"), ("res_id", "=", consent.id)])
        self.assertEqual(len(mails), 2, "the request and the receipt")
        self.assertIn(f"/efaktura/consent/{token}", " ".join(mails.mapped("body_html")))
        self.assertIn("/efaktura/consent/withdraw/", " ".join(mails.mapped("body_html")))
        self.assertTrue(all(mails.mapped("auto_delete")), "deleted once sent")
        messages = self.as_user(self.env["mail.message"], self.billing_user).search(
            [("model", "=", "efaktura.consent"), ("res_id", "=", consent.id)]
        )
        self.assertEqual(len(messages), 2, "the billing user sees that e-mails went out")
        bodies = " ".join(str(body) for body in messages.mapped("body"))
        self.assertNotIn(token, bodies)
        self.assertNotIn("/efaktura/consent/", bodies)
        # The customer's chatter says the request went out, without the link.
        chatter = " ".join(self.as_user(self.ingrid, self.billing_user).message_ids.mapped("body"))
        self.assertIn("Asked to approve eFaktura", chatter)
        self.assertNotIn(token, chatter)

    def test_evidence_is_cleared_after_the_retention_period(self):
        self.assertEqual(self.company.efaktura_evidence_retention_months, 12)
        consents = {}
        for partner in (self.ingrid, self.per, self.siri):
            self.request_consent(partner)
            consents[partner] = self.consent_of(partner)
        now = fields.Datetime.now()
        ingrid, per, siri = consents[self.ingrid], consents[self.per], consents[self.siri]
        self.ingrid_registry.jtta = True
        self.assertEqual(ingrid._accept(identity_of(self.ingrid, INGRID_NNIN), ip_address="203.0.113.1"), "accepted")
        ingrid.action_withdraw(ip_address="203.0.113.2")
        per._accept(identity_of(self.kari, KARI_NNIN), ip_address="203.0.113.3")  # a mismatch, then no answer
        per._expire()
        # Siri approved before this version's lookup by national id (no test person has her number).
        siri.sudo().write(
            {"state": "accepted", "bankid_name": "Siri Berg", "ip_address": "203.0.113.4", "decided_at": now}
        )
        siri.action_withdraw(ip_address="203.0.113.5")
        ingrid.withdrawn_at = now - relativedelta(months=13)
        per.deadline = now - relativedelta(months=13)
        siri.withdrawn_at = now - relativedelta(months=11)
        compat.run_cron(self, self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_consent_evidence"))
        for consent in (ingrid, per):
            consent.invalidate_recordset()
            with self.subTest(consent=consent.partner_id.name):
                self.assertTrue(consent.evidence_cleared_at)
                self.assertFalse(consent.bankid_name)
                self.assertFalse(consent.ip_address)
                self.assertFalse(consent.bankid_sub)
                self.assertFalse(consent.sudo().national_id_hash)
                self.assertFalse(consent.withdrawn_ip_address)
                self.assertFalse(consent.name_mismatch)
        self.assertEqual(ingrid.state, "withdrawn", "the record stays, with its state and dates")
        self.assertTrue(ingrid.decided_at)
        siri.invalidate_recordset()
        self.assertEqual(siri.bankid_name, "Siri Berg", "still within 12 months")
        self.assertFalse(siri.evidence_cleared_at)
        self.company.efaktura_evidence_retention_months = 6
        self.env["efaktura.consent"]._cron_clear_evidence()
        siri.invalidate_recordset()
        self.assertFalse(siri.bankid_name)
        self.assertTrue(siri.evidence_cleared_at)
