from odoo.tests import tagged

from .common import EfakturaInvoiceCase
from .test_consent import ConsentCase


def chatter(move):
    return "\n".join(move.message_ids.mapped("body"))


@tagged("post_install", "-at_install")
class TestChatterLanguage(EfakturaInvoiceCase):
    """Chatter lines and tasks written by crons are in the customer's language, else the company's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("nb_NO")
        cls.env["ir.module.module"]._load_module_terms(["l10n_no_efaktura_b2c"], ["nb_NO"])
        cls.nb = cls.env["efaktura.chain"].with_context(lang="nb_NO").env
        cls.cron = cls.env["efaktura.chain"].with_user(cls.env.ref("base.user_root")).with_context(lang="en_US")

    def norwegian(self, text, **params):
        translated = self.nb._(text, **params)
        self.assertNotEqual(translated, text % params if params else text, f"no Norwegian for {text!r}")
        return translated

    def test_cron_written_line_for_a_norwegian_customer_is_norwegian(self):
        self.kari.lang = "nb_NO"
        move = self.make_invoice(self.kari)
        move._efaktura_queue()
        self.cron._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "sent")
        body = chatter(move)
        self.assertIn(self.norwegian("Queued for delivery by eFaktura B2C."), body)
        self.assertNotIn("Queued for delivery", body)
        self.assertNotIn("Delivered by", body)
        self.assertIn("Vipps", body)

    def test_english_customer_of_a_norwegian_company_reads_english(self):
        self.company.partner_id.lang = "nb_NO"
        self.kari.lang = "en_US"
        move = self.make_invoice(self.kari)
        move._efaktura_queue()
        self.cron._cron_dispatch()
        self.assertIn("Queued for delivery by eFaktura B2C.", chatter(move))

    def test_customer_without_language_reads_the_company_language(self):
        self.company.partner_id.lang = "nb_NO"
        self.kari.lang = False
        move = self.make_invoice(self.kari)
        move._efaktura_queue()
        self.cron._cron_dispatch()
        self.assertIn(self.norwegian("Queued for delivery by eFaktura B2C."), chatter(move))

    def test_print_task_for_a_norwegian_customer_is_norwegian(self):
        self.siri.lang = "nb_NO"
        self.siri.with_company(self.company)._efaktura_set_state("declined")
        move = self.make_invoice(self.siri)
        move._efaktura_queue()
        self.cron._cron_dispatch()
        self.assertEqual(move.efaktura_state, "manual")
        activity = move.activity_ids
        self.assertEqual(activity.summary, self.norwegian("Print and post"))
        self.assertNotEqual(activity.user_id, self.env.ref("base.user_root"))

    def test_every_fallback_names_its_reason(self):
        self.company.efaktura_issuer_state = "inactive"
        move = self.make_invoice(self.kari)
        self.dispatch(move)
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("fallback_sent", "email"))
        body = chatter(move)
        self.assertIn("Not sent by Vipps: the issuer agreement is not active.", body)
        self.assertIn("Not sent by eFaktura (nettbank): the issuer agreement is not active.", body)

    def test_fallback_after_the_deadline_names_it(self):
        move = self.make_invoice(self.per)
        self.dispatch(move)
        self.assertEqual(move.efaktura_state, "awaiting_consent")
        self.env["efaktura.consent"].search([("partner_id", "=", self.per.id)])._expire()
        move.invalidate_recordset()
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("fallback_sent", "post"))
        self.assertIn("the customer did not approve eFaktura before the deadline", chatter(move))

    def test_fallback_of_a_eur_invoice_names_it(self):
        eur = self.setup_other_currency("EUR")
        move = self.make_invoice(self.kari, post=False)
        move.currency_id = eur
        move.action_post()
        self.dispatch(move)
        self.assertEqual(move.efaktura_channel, "email")
        self.assertIn("Not sent by Vipps: the invoice is not in NOK.", chatter(move))


@tagged("post_install", "-at_install")
class TestCustomerStepsOnPublicPages(ConsentCase):
    """The customer's own steps on the public pages: written in their language, with them as author."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("nb_NO")
        cls.env["ir.module.module"]._load_module_terms(["l10n_no_efaktura_b2c"], ["nb_NO"])

    def test_decline_is_logged_by_the_customer_in_norwegian(self):
        self.ingrid.lang = "nb_NO"
        move = self.request_consent()
        page = self.url_open(f"/efaktura/consent/{self.token_from_sms(self.ingrid)}")
        action, values = self.form(page, "/decline")
        self.assertEqual(self.post(action, values).status_code, 200)
        self.env.invalidate_all()
        line = self.ingrid.message_ids[0]
        self.assertEqual(line.author_id, self.ingrid, "the customer, not Public user")
        nb = self.env["efaktura.chain"].with_context(lang="nb_NO").env
        self.assertIn(nb._("eFaktura status:"), line.body)
        self.assertNotIn("eFaktura status:", line.body)
        self.assertIn(nb._("Said no thanks to eFaktura."), line.body)
        self.assertIn(nb._("The customer said no thanks to eFaktura."), chatter(move))

    def test_consent_email_heading_reads_well_in_norwegian(self):
        self.ingrid.lang = "nb_NO"
        self.request_consent()
        consent = self.consent_of(self.ingrid)
        mail = self.env["mail.mail"].sudo().search([("model", "=", "efaktura.consent"), ("res_id", "=", consent.id)])
        self.assertIn("Ditt eFaktura-samtykke", mail.body_html)
        self.assertNotIn("Din eFaktura", mail.body_html)
        self.assertIn("/efaktura/consent/", mail.body_html)
