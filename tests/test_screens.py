"""Every screen the module adds or extends, opened the way the web client opens it.

``odoo.tests.Form`` calls ``onchange()`` (with the defaults) on a new record, ``web_read`` on an existing one and
``web_save`` on save, each with the view's own field specification; lists, graphs and pivots are read with
``web_search_read`` / ``web_read_group`` and the fields of their own views. Each screen is opened by an
accounting manager and by a plain billing user, in English and in Norwegian, in a company with eFaktura B2C on.
"""

from lxml import etree

from odoo import Command, fields
from odoo.exceptions import UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from .. import compat
from ..compat import PARTNER_MOBILE as MOBILE
from .common import EfakturaInvoiceCase

MODULE = "l10n_no_efaktura_b2c"
LANGS = ("en_US", "nb_NO")
DRAFT_NOTE = "The route is decided when the invoice is posted and sent."


@tagged("post_install", "-at_install")
class ScreensCase(EfakturaInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("nb_NO")
        cls.env["ir.module.module"]._load_module_terms([MODULE], ["nb_NO"])
        company = cls.company
        common = {"company_id": company.id, "company_ids": [Command.set(company.ids)]}
        cls.manager = new_test_user(
            cls.env,
            login="efaktura_screens_manager",
            groups="account.group_account_manager,base.group_partner_manager",
            **common,
        )
        cls.billing = new_test_user(
            cls.env,
            login="efaktura_screens_billing",
            groups="account.group_account_invoice,base.group_partner_manager",
            **common,
        )
        cls.acme = cls.env["res.partner"].create(
            {"name": "Fjordkraft Bedrift AS", "is_company": True, "email": "post@fjordbedrift.example.com"}
        )
        cls.product_line = {"name": "Elektrikertime", "quantity": 2, "price_unit": 750.0}

    def each_env(self, users=None):
        for user in users or (self.manager, self.billing):
            for lang in LANGS:
                yield (
                    user,
                    lang,
                    self.env(
                        user=user,
                        context=dict(self.env.context, lang=lang, allowed_company_ids=[self.company.id]),
                    ),
                )

    def new_invoice_form(self, env, move_type="out_invoice"):
        return Form(env["account.move"].with_context(default_move_type=move_type), view="account.view_move_form")

    def add_line(self, form):
        with form.invoice_line_ids.new() as line:
            line.name = self.product_line["name"]
            line.quantity = self.product_line["quantity"]
            line.price_unit = self.product_line["price_unit"]
            line.tax_ids.clear()


@tagged("post_install", "-at_install")
class TestInvoiceScreens(ScreensCase):
    def test_new_empty_customer_invoice_opens(self):
        """Invoicing > Invoices > New: the form and its eFaktura tab open without error."""
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                form = self.new_invoice_form(env)
                self.assertEqual(form.state, "draft")
                self.assertTrue(form.efaktura_switched_on)
                self.assertEqual(form.efaktura_state, "none")
                # The tab says what would happen, without a number or a customer yet.
                self.assertFalse(form.efaktura_preview_channel)
                if lang == "en_US":
                    self.assertIn(DRAFT_NOTE[:-1], form.efaktura_preview_reason)
                    self.assertIn("it depends on the customer", form.efaktura_preview_reason)
                move = form.save()
                self.assertEqual(move.move_type, "out_invoice")
                reopened = Form(move.with_env(env), view="account.view_move_form")
                self.assertEqual(reopened.state, "draft")
                self.assertTrue(reopened.efaktura_preview_reason)

    def test_b2c_invoice_saved_as_draft_reopened_then_posted(self):
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                form = self.new_invoice_form(env)
                form.partner_id = self.ola.with_env(env)
                form.invoice_date = fields.Date.today()
                form.invoice_payment_term_id = self.payment_term
                self.add_line(form)
                self.assertEqual(form.efaktura_preview_channel, "nettbank", form.efaktura_preview_reason)
                move = form.save()
                self.assertEqual(move.state, "draft")
                self.assertFalse(move.payment_reference)

                draft = Form(move, view="account.view_move_form")
                self.assertEqual(draft.efaktura_preview_channel, "nettbank")
                if lang == "en_US":
                    self.assertIn(DRAFT_NOTE, draft.efaktura_preview_reason)
                    self.assertIn("eFaktura (nettbank): the", draft.efaktura_preview_reason)
                    # The KID is made on posting: a draft is not sent to e-mail for want of one.
                    self.assertNotIn("payment reference", draft.efaktura_preview_reason)
                draft.narration = "Takk for handelen"
                draft.save()

                move.action_post()
                self.assertTrue(move.payment_reference)
                posted = Form(move, view="account.view_move_form")
                self.assertEqual(posted.state, "posted")
                self.assertEqual(posted.efaktura_preview_channel, "nettbank")
                if lang == "en_US":
                    self.assertNotIn(DRAFT_NOTE, posted.efaktura_preview_reason)

    def test_customer_of_a_draft_changed_from_company_to_person_and_back(self):
        self.company.efaktura_send_on_post = False
        self.dispatch(self.make_invoice(self.kari))  # the lookup finds Kari in Vipps
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                form = self.new_invoice_form(env)
                form.partner_id = self.acme
                self.add_line(form)
                self.assertEqual(form.efaktura_preview_channel, "email")
                form.partner_id = self.ola
                self.assertEqual(form.efaktura_preview_channel, "nettbank", form.efaktura_preview_reason)
                form.partner_id = self.acme
                self.assertEqual(form.efaktura_preview_channel, "email")
                move = form.save()
                self.assertEqual(move.partner_id, self.acme)
                again = Form(move, view="account.view_move_form")
                again.partner_id = self.kari
                self.assertEqual(again.efaktura_preview_channel, "vipps")
                again.save()
                self.assertEqual(move.partner_id, self.kari)

    def test_vendor_bill_from_a_private_person_and_an_entry(self):
        for user, lang, env in self.each_env(users=(self.manager,)):
            with self.subTest(user=user.login, lang=lang):
                form = self.new_invoice_form(env, move_type="in_invoice")
                form.partner_id = self.kari
                form.invoice_date = fields.Date.today()
                self.add_line(form)
                self.assertFalse(form.efaktura_preview_channel)
                bill = form.save()
                bill.action_post()
                self.assertEqual(bill.efaktura_state, "none")
                self.assertFalse(Form(bill, view="account.view_move_form").efaktura_preview_channel)

                entry_form = Form(
                    env["account.move"].with_context(default_move_type="entry"), view="account.view_move_form"
                )
                self.assertFalse(entry_form.efaktura_preview_channel)
                entry = entry_form.save()
                self.assertEqual(entry.move_type, "entry")
                Form(entry, view="account.view_move_form")

    def test_credit_note_through_the_reversal_wizard(self):
        invoice = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(invoice.efaktura_channel, "nettbank")
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                wizard = Form(
                    env["account.move.reversal"].with_context(active_model="account.move", active_ids=invoice.ids)
                )
                wizard.reason = "Feil antall timer"
                action = wizard.save().refund_moves()
                credit_note = env["account.move"].browse(action["res_id"])
                self.assertEqual(credit_note.move_type, "out_refund")
                draft = Form(credit_note, view="account.view_move_form")
                self.assertEqual(draft.efaktura_preview_channel, "nettbank")
                draft.save()
                credit_note.action_post()
                posted = Form(credit_note, view="account.view_move_form")
                self.assertEqual(posted.efaktura_preview_channel, "nettbank")

    def test_posted_invoice_delivered_reopened(self):
        invoice = self.dispatch(self.make_invoice(self.kari))
        self.assertEqual(invoice.efaktura_state, "sent")
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                form = Form(invoice.with_env(env), view="account.view_move_form")
                self.assertEqual(form.efaktura_state, "sent")
                self.assertEqual(form.efaktura_channel, "vipps")
                self.assertEqual(len(form.efaktura_delivery_ids), 1)
                form.save()


@tagged("post_install", "-at_install")
class TestSendScreens(ScreensCase):
    def setUp(self):
        super().setUp()
        self.company.efaktura_send_on_post = False

    def test_send_and_print_one_invoice(self):
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                move = self.make_invoice(self.ola).with_env(env)
                action = move.action_send_and_print()
                self.assertEqual(action["res_model"], "account.move.send.wizard")
                wizard = Form(env[action["res_model"]].with_context(**action["context"]))
                self.assertIn("efaktura_b2c", wizard.sending_methods)
                wizard.save().action_send_and_print()
                move.invalidate_recordset()
                self.assertEqual(move.efaktura_state, "sent")
                self.assertEqual(move.efaktura_channel, "nettbank")
                self.assertTrue(move.is_move_sent)

    def test_send_and_print_several_invoices(self):
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                moves = (self.make_invoice(self.ola) | self.make_invoice(self.kari)).with_env(env)
                action = moves.action_send_and_print()
                self.assertEqual(action["res_model"], "account.move.send.batch.wizard")
                wizard = Form(env[action["res_model"]].with_context(**action["context"]))
                self.assertEqual(wizard.summary_data["efaktura_b2c"]["count"], 2)
                wizard.save().action_send_and_print(force_synchronous=True)
                moves.invalidate_recordset()
                self.assertEqual(moves.mapped("efaktura_state"), ["sent", "sent"])
                self.assertEqual(sorted(moves.mapped("efaktura_channel")), ["nettbank", "vipps"])


@tagged("post_install", "-at_install")
class TestPartnerAndSettingsScreens(ScreensCase):
    def test_new_partner_becomes_b2c(self):
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                form = Form(env["res.partner"])
                form.name = f"Solveig Lie {user.id} {lang}"
                form[MOBILE] = "+47 934 56 789"
                form.email = "solveig@example.com"
                form.efaktura_receive_edocuments = True
                form.efaktura_access_point = "b2cno"
                partner = form.save()
                self.assertEqual(partner[MOBILE], "+4793456789")
                self.assertTrue(partner.with_company(self.company).efaktura_b2c_customer)
                reopened = Form(partner, view="base.view_partner_form")
                self.assertEqual(reopened.efaktura_state, "not_checked")

    def test_existing_b2c_partner_edited(self):
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                form = Form(self.ingrid.with_env(env), view="base.view_partner_form")
                self.assertTrue(form.efaktura_receive_edocuments)
                form[MOBILE] = "913 45 679"
                form.save()
                self.assertEqual(self.ingrid[MOBILE], "+4791345679")

    def test_settings_page(self):
        admin = self.env.ref("base.user_admin")
        admin.write({"company_ids": [Command.link(self.company.id)], "company_id": self.company.id})
        for user, lang, env in self.each_env(users=(admin,)):
            with self.subTest(user=user.login, lang=lang):
                form = Form(env["res.config.settings"])
                self.assertEqual(form.efaktura_mode, "test")
                form.efaktura_consent_days = 4
                form.efaktura_billing_user_id = admin
                form.save().execute()
                self.assertEqual(self.company.efaktura_consent_days, 4)
                self.assertEqual(self.company.efaktura_billing_user_id, admin)

    def test_sales_journal_form(self):
        journal = self.company_data["default_journal_sale"]
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                form = Form(journal.with_env(env))
                self.assertEqual(form.invoice_reference_model, "no")
                if user == self.manager:
                    form.efaktura_kid_length = 12
                    form.save()
                    self.assertEqual(journal.efaktura_kid_length, 12)


@tagged("post_install", "-at_install")
class TestEfakturaScreens(ScreensCase):
    """Every window action of the module, in each of its view types, and its wizard."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.efaktura_send_on_post = False
        # Something in every list: deliveries by each channel, a consent, a mailbox, a case that needs attention.
        moves = (
            cls.make_invoice(cls.kari)
            | cls.make_invoice(cls.ola)
            | cls.make_invoice(cls.ingrid)
            | cls.make_invoice(cls.siri)
        )
        moves._efaktura_queue()
        cls.env["efaktura.chain"]._dispatch_locked(moves)
        cls.attention = cls.make_invoice(cls.per)
        cls.attention._efaktura_write({"efaktura_state": "error", "efaktura_error": "Nettverket svarte ikke"})

    def module_actions(self):
        data = self.env["ir.model.data"].search([("module", "=", MODULE), ("model", "=", "ir.actions.act_window")])
        return self.env["ir.actions.act_window"].browse(data.mapped("res_id"))

    @staticmethod
    def spec_of(arch, fields_info):
        """The field specification the web client reads a list with: the view's top-level fields."""
        spec = {}
        for node in etree.fromstring(arch).iterchildren("field"):
            name = node.get("name")
            kind = fields_info[name]["type"]
            spec[name] = {"fields": {"display_name": {}}} if kind in ("many2one", "one2many", "many2many") else {}
        return spec

    def open_action(self, env, action):
        values = action.sudo().read()[0]
        eval_context = {
            "uid": env.uid,
            "allowed_company_ids": [self.company.id],
            "context_today": fields.Date.context_today,
            "active_id": False,
            "active_ids": [],
        }
        domain = safe_eval(values.get("domain") or "[]", eval_context)
        context = safe_eval(values.get("context") or "{}", eval_context)
        Model = env[values["res_model"]].with_context(
            **{k: v for k, v in context.items() if not k.startswith("search_default")}
        )
        modes = values["view_mode"].split(",")
        view_ids = {mode: view_id for view_id, mode in values.get("views") or []}
        views = Model.get_views([(view_ids.get(mode, False), mode) for mode in [*modes, "search"]])
        fields_info = views["models"][Model._name]["fields"]
        opened = []
        for mode in modes:
            arch = views["views"][mode]["arch"]
            tree = etree.fromstring(arch)
            if mode == "list":
                result = Model.web_search_read(domain, self.spec_of(arch, fields_info), limit=80)
                opened.append((mode, result["length"]))
            elif mode in ("graph", "pivot"):
                groupby = [
                    # A date is grouped by the view's interval, by month if it names none (as the web client does).
                    f"{n.get('name')}:{n.get('interval') or 'month'}"
                    if Model._fields[n.get("name")].type in ("date", "datetime") and ":" not in n.get("name")
                    else n.get("name")
                    for n in tree.iterchildren("field")
                    if n.get("type") in ("row", "col")
                ]
                measures = [f"{n.get('name')}:sum" for n in tree.iterchildren("field") if n.get("type") == "measure"]
                groups = compat.web_read_group(
                    Model, domain, measures or ["__count"], groupby[:1] or ["create_date:month"]
                )
                opened.append((mode, groups["length"]))
            elif mode == "form":
                record = Model.search(domain, limit=1)
                if record:
                    form = Form(record, view=view_ids.get("form") or False)
                    opened.append((mode, form.id))
                if Model.has_access("create") and tree.get("create") != "0":
                    Form(Model, view=view_ids.get("form") or False)
                    opened.append(("new", True))
        return opened

    def test_every_window_action_opens(self):
        actions = self.module_actions()
        self.assertGreaterEqual(len(actions), 10)
        for user, lang, env in self.each_env():
            for action in actions:
                if action[compat.GROUPS] and not action[compat.GROUPS] & user[compat.GROUPS]:
                    continue  # the menu is not shown to this user
                if not env[action.res_model].has_access("read"):
                    continue
                with self.subTest(user=user.login, lang=lang, action=action.name):
                    opened = self.open_action(env, action)
                    self.assertTrue(opened, f"{action.name} showed nothing")

    def test_outbox_and_consent_lists_show_records(self):
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                outbox = self.open_action(env, self.env.ref(f"{MODULE}.efaktura_delivery_action"))
                self.assertGreaterEqual(dict(outbox)["list"], 2)
                consents = self.open_action(env, self.env.ref(f"{MODULE}.efaktura_consent_action"))
                self.assertEqual(dict(consents)["list"], 2)
                attention = self.open_action(env, self.env.ref(f"{MODULE}.account_move_action_efaktura_attention"))
                self.assertEqual(dict(attention)["list"], 1)

    def test_resend_wizard(self):
        for user, lang, env in self.each_env():
            with self.subTest(user=user.login, lang=lang):
                move = self.make_invoice(self.per)
                move._efaktura_write({"efaktura_state": "error", "efaktura_error": "Nettverket svarte ikke"})
                wizard = Form(
                    env["efaktura.resend.wizard"].with_context(active_model="account.move", active_ids=move.ids)
                )
                wizard.channel = "post"
                self.assertFalse(wizard.problem)
                wizard.save().action_send()
                move.invalidate_recordset()
                self.assertEqual(move.efaktura_state, "fallback_sent")
                self.assertEqual(move.efaktura_channel, "post")


@tagged("post_install", "-at_install")
class TestSendNowAndZeroAmount(ScreensCase):
    def test_send_now_sends_a_queued_invoice_at_once(self):
        """With "Send on post" on, the invoice is queued on posting; "Send by eFaktura B2C" sends it now."""
        self.company.efaktura_send_on_post = True
        move = self.make_invoice(self.ola)
        self.assertEqual(move.efaktura_state, "queued")
        result = move.with_user(self.billing).action_efaktura_send()
        self.assertIs(result, True)
        move.invalidate_recordset()
        self.assertEqual(move.efaktura_state, "sent")
        self.assertEqual(move.efaktura_channel, "nettbank")

    def test_send_now_says_why_not(self):
        self.company.efaktura_send_on_post = False
        delivered = self.dispatch(self.make_invoice(self.kari))
        waiting = self.dispatch(self.make_invoice(self.ingrid))
        self.assertEqual(waiting.efaktura_state, "awaiting_consent")
        with self.assertRaisesRegex(UserError, "already delivered by Vipps"):
            delivered.action_efaktura_send()
        with self.assertRaisesRegex(UserError, "waits for the customer to approve eFaktura"):
            waiting.action_efaktura_send()
        fresh = self.make_invoice(self.ola)
        result = (fresh | delivered).action_efaktura_send()
        self.assertEqual(result["tag"], "display_notification")
        self.assertIn("already delivered", result["params"]["message"])
        self.assertEqual(fresh.efaktura_state, "sent")
        self.assertEqual(len(delivered.efaktura_delivery_ids), 1)

    def test_zero_amount_invoice_sent_as_a_document(self):
        """A zero-amount invoice through Send & Print: no payment claim to the networks, but the customer gets it
        by e-mail, and the outbox and the invoice say so."""
        self.company.efaktura_send_on_post = False
        move = self.make_invoice(self.ola, amount=0.0)
        self.assertTrue(move.currency_id.is_zero(move.amount_total))
        self.assertIn("zero-amount invoice claims no payment", move.efaktura_preview_reason)
        self.assertEqual(move.efaktura_preview_channel, "email")
        action = move.action_send_and_print()
        wizard = Form(self.env[action["res_model"]].with_context(**action["context"]))
        self.assertIn("efaktura_b2c", wizard.sending_methods)
        wizard.save().action_send_and_print()
        move.invalidate_recordset()
        self.assertTrue(move.is_move_sent)
        self.assertEqual(move.efaktura_state, "fallback_sent")
        self.assertEqual(move.efaktura_channel, "email")
        self.assertEqual(move.efaktura_delivery_ids.mapped("channel"), ["email"])
        self.assertFalse(self.mailbox(move))
