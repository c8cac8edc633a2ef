"""The post and e-mail fallbacks in batches give what Odoo's own per-record paths give.

Odoo's snailmail.letter.create posts one chatter message per letter; the chain creates its letters with
``snailmail.letter._efaktura_create_batch``, which makes the same messages in one insert. These tests create
letters both ways for a small sample, on invoices that differ only by their number, and compare everything the
two paths leave behind: the letters' fields, their chatter messages (body, author, type, subtype, record,
parent), recipients and notifications, attachments, and the invoices' followers.
"""

import logging
import re
from contextlib import nullcontext
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged

from ..compat import GROUPS
from .common import EfakturaInvoiceCase

_logger = logging.getLogger(__name__)

LETTER_FIELDS = (
    "partner_id",
    "model",
    "company_id",
    "user_id",
    "report_template",
    "state",
    "street",
    "street2",
    "zip",
    "city",
    "state_id",
    "country_id",
    "attachment_id",
    "color",
    "cover",
    "duplex",
)
MESSAGE_FIELDS = (
    "body",
    "author_id",
    "author_guest_id",
    "email_from",
    "model",
    "message_type",
    "subtype_id",
    "subject",
    "is_internal",
    "email_add_signature",
    "record_alias_domain_id",
    "record_company_id",
    "partner_ids",
    "attachment_ids",
    "starred_partner_ids",
)


@tagged("post_install", "-at_install")
def inbox_watcher(env):
    """An internal user notified in Odoo's inbox: whoever follows an invoice this way keeps Odoo's own path."""
    user = env["res.users"].create(
        {
            "name": "Revisor",
            "login": "revisor",
            "email": "revisor@example.com",
            "notification_type": "inbox",
            GROUPS: [fields.Command.set([env.ref("base.group_user").id])],
        }
    )
    return user.partner_id


class TestBatchedLetters(EfakturaInvoiceCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners = cls.per | cls.ola | cls.ingrid

    def letter_values(self, moves):
        send = self.env["account.move.send"]
        return [
            {**send._prepare_snailmail_letter_values(move), "user_id": self.env.user.id, "company_id": self.company.id}
            for move in moves
        ]

    def sample(self):
        """One invoice per partner, each with a first chatter message (the letter's message threads under it)."""
        moves = self.env["account.move"]
        for partner in self.partners:
            moves |= self.make_invoice(partner)
        moves._message_log_batch(bodies=dict.fromkeys(moves.ids, "Invoice validated"))
        return moves

    def snapshot(self, letters, moves):
        """What a path left behind, with each invoice's own names and ids replaced by placeholders."""

        def local(value, move):
            if isinstance(value, str):
                return value.replace(move.display_name, "<invoice>")
            return value

        own = letters.message_id.ids

        def parent(message):
            """The message's parent: one of these letters' messages (by position), or another by its content."""
            if message.parent_id.id in own:
                return ("letter", own.index(message.parent_id.id))
            return (message.parent_id.message_type, str(message.parent_id.body))

        result = []
        for letter, move in zip(letters, moves, strict=True):
            message = letter.message_id
            first = move.message_ids.sorted("id")[0]
            result.append(
                {
                    "letter": {name: letter[name] for name in LETTER_FIELDS},
                    "letter_record": (letter.model, letter.res_id == move.id),
                    "message": {name: message[name] for name in MESSAGE_FIELDS},
                    "message_record": (message.res_id == move.id, local(message.record_name, move)),
                    "reply_to": local(message.reply_to, move),
                    "parent_is_first_message": message.parent_id == first,
                    "parent": parent(message),
                    "notifications": [
                        (n.notification_type, n.res_partner_id, n.notification_status, n.is_read, n.author_id)
                        for n in message.notification_ids
                    ],
                    "letter_notifications": letter.notification_ids == message.notification_ids,
                    "followers": sorted(
                        move.message_follower_ids.mapped(lambda f: (f.partner_id.id, f.subtype_ids.ids))
                    ),
                    "messages_on_invoice": len(move.message_ids),
                }
            )
        return result

    def test_batch_equals_odoo_per_record(self):
        Letter = self.env["snailmail.letter"].sudo()
        odoo_moves, batch_moves = self.sample(), self.sample()
        odoo_letters = Letter.browse()
        for values in self.letter_values(odoo_moves):  # Odoo's own path, one letter at a time
            odoo_letters |= Letter.create([values])
        batch_letters = Letter._efaktura_create_batch(self.letter_values(batch_moves))
        self.assertEqual(len(batch_letters), 3)
        self.assertEqual(batch_letters.mapped("res_id"), batch_moves.ids, "the letters come back in order")
        expected = self.snapshot(odoo_letters, odoo_moves)
        self.assertTrue(expected[0]["message"]["body"], "Odoo's path posted a chatter message")
        self.assertTrue(expected[0]["notifications"], "Odoo's path made a snail notification")
        self.assertEqual(self.snapshot(batch_letters, batch_moves), expected)

    def test_repeated_record_equals_odoo_per_record(self):
        """An invoice that gets two letters in one batch: each message under the parent Odoo's path gives it
        (the second one's depends on the first one's, and on an earlier comment on the invoice)."""
        Letter = self.env["snailmail.letter"].sudo()
        odoo_moves, batch_moves = self.sample(), self.sample()
        for moves in (odoo_moves, batch_moves):
            moves[1]._message_log(body="Kunden ringte", message_type="comment")
        repeated = [0, 0, 1, 1, 2]
        odoo_moves, batch_moves = (
            moves.browse([moves.ids[i] for i in repeated]) for moves in (odoo_moves, batch_moves)
        )
        odoo_letters = Letter.browse()
        for values in self.letter_values(odoo_moves):
            odoo_letters += Letter.create([values])
        batch_letters = Letter._efaktura_create_batch(self.letter_values(batch_moves))
        self.assertEqual(batch_letters.mapped("res_id"), batch_moves.ids)
        expected = self.snapshot(odoo_letters, odoo_moves)
        self.assertEqual(self.snapshot(batch_letters, batch_moves), expected)

    def test_batch_costs_the_same_queries_for_more_letters(self):
        self.count_queries(self.sample()[:1])  # warm-up: caches any first call fills
        one, three = self.count_queries(self.sample()[:1]), self.count_queries(self.sample())
        self.assertEqual(three, one, "three letters cost as many queries as one")

    def count_queries(self, moves):
        Letter = self.env["snailmail.letter"].sudo()
        values = self.letter_values(moves)
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        Letter._efaktura_create_batch(values)
        self.env.flush_all()
        return self.env.cr.sql_log_count - before

    def test_followers_of_internal_notes_keep_odoo_path(self):
        """Someone who follows the invoice's internal notes is notified of the letter, as Odoo's path does."""
        moves = self.sample()
        watcher = inbox_watcher(self.env)
        moves[1].message_subscribe(partner_ids=watcher.ids, subtype_ids=[self.env.ref("mail.mt_note").id])
        letters = self.env["snailmail.letter"].sudo()._efaktura_create_batch(self.letter_values(moves))
        self.assertEqual(letters.mapped("res_id"), moves.ids)
        self.assertIn(watcher, letters[1].message_id.notification_ids.res_partner_id)
        self.assertNotIn(watcher, letters[0].message_id.notification_ids.res_partner_id)

    def test_chain_post_fallback_uses_the_batch(self):
        """The deadline cron's post fallback: one letter per invoice, each with Odoo's chatter line."""
        moves = self.make_invoice(self.per) | self.make_invoice(self.per, amount=2000)
        moves.efaktura_deadline = fields.Datetime.now() - timedelta(minutes=1)
        self.dispatch(moves)
        for move in moves:
            self.assertEqual((move.efaktura_state, move.efaktura_channel), ("fallback_sent", "post"))
            letter = move.efaktura_delivery_ids.snailmail_letter_id
            self.assertEqual((letter.res_id, letter.partner_id, letter.street), (move.id, self.per, "Storgata 1"))
            self.assertEqual(letter.message_id.message_type, "snailmail")
            self.assertEqual(letter.message_id.res_id, move.id)
            self.assertEqual(letter.notification_ids.notification_type, "snail")


@tagged("post_install", "-at_install")
class TestDispatchLanes(EfakturaInvoiceCase):
    def test_queueing_wakes_every_lane(self):
        """Two cron records run the same dispatch, so two cron workers can take from the queue at once."""
        lanes = self.env.ref("l10n_no_efaktura_b2c.ir_cron_efaktura_dispatch") | self.env.ref(
            "l10n_no_efaktura_b2c.ir_cron_efaktura_dispatch_lane2"
        )
        self.assertEqual(set(lanes.mapped("code")), {"model._cron_dispatch()"})
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = {lane: Trigger.search_count([("cron_id", "=", lane.id)]) for lane in lanes}
        self.make_invoice(self.ola)._efaktura_queue()
        for lane in lanes:
            self.assertGreater(Trigger.search_count([("cron_id", "=", lane.id)]), before[lane], lane.name)


@tagged("post_install", "-at_install")
class TestBatchedMailRendering(EfakturaInvoiceCase):
    """The e-mail fallback renders the mail template once per batch: the same language, subject and body as Odoo's
    rendering one invoice at a time."""

    def test_batch_rendering_equals_per_invoice(self):
        self.env["res.lang"]._activate_lang("nb_NO")
        self.ola.lang = "nb_NO"
        moves = self.make_invoice(self.ingrid) | self.make_invoice(self.ola) | self.make_invoice(self.kari, amount=7)
        Send = self.env["account.move.send"]
        keys = ("mail_template", "mail_lang", "mail_subject", "mail_body", "mail_partner_ids")
        per_invoice = [
            {key: Send._get_default_sending_settings(move, sending_methods={"email"})[key] for key in keys}
            for move in moves
        ]
        batch = Send.with_context(efaktura_rendered=Send._efaktura_render_batch(moves))
        batched = [
            {key: batch._get_default_sending_settings(move, sending_methods={"email"})[key] for key in keys}
            for move in moves
        ]
        self.assertEqual(len(batch.env.context["efaktura_rendered"]), 12, "language, subject, body and sender of each")
        self.assertEqual(batched, per_invoice)
        for move, settings in zip(moves, per_invoice, strict=True):
            template, lang = settings["mail_template"], settings["mail_lang"]
            self.assertEqual(batch._efaktura_rendered("body", template, lang, move), settings["mail_body"])
            self.assertEqual(batch._efaktura_rendered("subject", template, lang, move), settings["mail_subject"])
            self.assertEqual(
                batch._efaktura_rendered("email_from", template, lang, move),
                Send._get_mail_default_field_value_from_template(template, lang, move, "email_from"),
            )
        self.assertEqual(per_invoice[1]["mail_lang"], "nb_NO")
        self.assertIn(moves[0].name, per_invoice[0]["mail_subject"])

    def test_chain_email_fallback_renders_each_invoice(self):
        moves = self.make_invoice(self.ingrid) | self.make_invoice(self.ingrid, amount=5)
        moves.efaktura_deadline = fields.Datetime.now() - timedelta(minutes=1)
        self.dispatch(moves)
        for move in moves:
            self.assertEqual((move.efaktura_state, move.efaktura_channel), ("fallback_sent", "email"))
            mail = move.efaktura_delivery_ids.mail_message_id
            self.assertIn(move.name, mail.subject)
            self.assertEqual(mail.attachment_ids.mapped("name"), [move._get_invoice_report_filename()])


@tagged("post_install", "-at_install")
class TestBatchedMails(EfakturaInvoiceCase):
    """The e-mail fallback posts a batch's e-mails together (efaktura.mail.batch._post_mails): the same
    messages, e-mails, notifications and attachments as Odoo's Send & Print posting them one invoice at a time."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("nb_NO")
        cls.ola.lang = "nb_NO"

    def send(self, moves, batched, user):
        # The e-mails stay in the queue, to be compared (Odoo deletes a sent invoice e-mail).
        moves = moves.with_user(user).with_context(mail_notify_force_send=False)
        Send = self.env["account.move.send"].with_user(user)
        if batched:
            Send = Send.with_context(efaktura_render_batch=True)
        Send._generate_and_send_invoices(
            moves,
            from_cron=True,
            allow_raising=False,
            sending_methods={"email"},
            author_user_id=user.id,
            author_partner_id=user.partner_id.id,
        )
        self.env.flush_all()
        self.env.invalidate_all()

    def snapshot(self, moves, first_message):
        """Everything the sending left on the invoices, with the new records' own ids and message-ids replaced."""
        result = []
        for move in moves:
            [message] = move.message_ids.filtered(lambda m, first=first_message: m.id >= first)
            mails = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])

            def attachments(records, message=message):
                return [
                    (a.name, a.checksum, a.mimetype, a.res_model, a.res_id == message.id, a.type)
                    for a in records.sorted("name")
                ]

            def body(mail):
                # The signup token in the customer's link carries the time it was made.
                return re.sub(r"auth_signup_token=[\w-]+", "auth_signup_token=<token>", mail.body_html)

            def references(mail, message=message):
                return mail.references.replace(message.message_id, "<self>")

            result.append(
                {
                    "message": {name: message[name] for name in MESSAGE_FIELDS if name != "attachment_ids"}
                    | {
                        "res_id": message.res_id == move.id,
                        "record_name": message.record_name,
                        "parent": message.parent_id == move.message_ids.sorted("id")[0],
                        "parent_message": (message.parent_id.message_type, str(message.parent_id.body)),
                        "reply_to": message.reply_to,
                        "email_layout_xmlid": message.email_layout_xmlid,
                        "mail_server_id": message.mail_server_id,
                        "reply_to_force_new": message.reply_to_force_new,
                        "attachments": attachments(message.attachment_ids),
                    },
                    "mails": [
                        {
                            "recipients": mail.recipient_ids,
                            "email_to": mail.email_to,
                            "subject": mail.subject,
                            "body_html": body(mail),
                            "email_from": mail.email_from,
                            "reply_to": mail.reply_to,
                            "auto_delete": mail.auto_delete,
                            "headers": mail.headers,
                            "references": references(mail),
                            "state": mail.state,
                            "attachments": attachments(mail.attachment_ids),
                        }
                        for mail in mails
                    ],
                    "notifications": [
                        (
                            n.notification_type,
                            n.res_partner_id,
                            n.notification_status,
                            n.is_read,
                            n.author_id,
                            n.mail_mail_id == mails[:1],
                        )
                        for n in message.notification_ids.sorted("res_partner_id")
                    ],
                    "followers": sorted(
                        move.message_follower_ids.mapped(lambda f: (f.partner_id.id, tuple(f.subtype_ids.ids)))
                    ),
                    "messages_on_invoice": len(move.message_ids),
                    "pdf_copies": self.env["ir.attachment"]
                    .sudo()
                    .search_count(
                        [
                            ("checksum", "=", move.invoice_pdf_report_id.checksum),
                            "|",
                            ("res_field", "=", False),
                            ("res_field", "!=", False),
                        ]
                    ),
                    "sent": move.is_move_sent,
                }
            )
        return result

    def run_path(self, moves, batched, user):
        """Send ``moves`` one way as ``user``, take the snapshot, and roll everything back. The batch posts every
        invoice itself (none through Odoo's own _send_mail)."""
        savepoint = self.env.cr.savepoint()
        Send = type(self.env["account.move.send"])
        own_path = patch.object(Send, "_send_mail", autospec=True, side_effect=Send._send_mail)
        try:
            first = self.env["efaktura.fallback.sender"]._next_message_id()
            with own_path if batched else nullcontext() as send_mail:
                self.send(moves, batched, user)
            if batched:
                self.assertFalse(send_mail.called, "the batch posted every invoice")
            return self.snapshot(moves, first)
        finally:
            savepoint.close(rollback=True)
            self.env.invalidate_all()

    def compare_paths(self, user):
        moves = self.make_invoice(self.ingrid) | self.make_invoice(self.ola) | self.make_invoice(self.kari, amount=7)
        moves._message_log_batch(bodies=dict.fromkeys(moves.ids, "Invoice validated"))
        moves[1]._message_log(body="Kunden ringte", message_type="comment")  # a discussion message on one
        # The PDFs and the customers' portal tokens exist before either path runs (both would make the same ones).
        self.env["account.move.send"]._generate_and_send_invoices(moves, sending_methods={"manual"})
        for move in moves:
            move._portal_ensure_token()
        self.env.flush_all()
        expected = self.run_path(moves, batched=False, user=user)
        self.assertEqual([len(entry["mails"]) for entry in expected], [1, 1, 1], "Odoo's path made one e-mail each")
        self.assertEqual(expected[0]["message"]["message_type"], "comment")
        self.assertEqual(expected[1]["mails"][0]["recipients"], self.ola)
        self.assertEqual(expected[0]["pdf_copies"], 2, "Odoo's path: the invoice's PDF and one copy on the message")
        self.assertNotEqual(expected[0]["mails"][0]["body_html"], expected[1]["mails"][0]["body_html"])
        self.assertIn(("email", self.ola), [n[:2] for n in expected[1]["notifications"]])
        batched = self.run_path(moves, batched=True, user=user)
        for got, want, move in zip(batched, expected, moves, strict=True):
            self.assertEqual(got, want, move.partner_id.name)

    def test_batch_equals_odoo_per_record(self):
        self.compare_paths(self.env.user)

    def test_batch_equals_odoo_per_record_for_the_cron_user(self):
        """The chain's crons run as OdooBot, an inactive user: message_post then treats the author differently."""
        root = self.env.ref("base.user_root")
        self.assertFalse(root.active)
        self.compare_paths(root)

    def test_inbox_follower_keeps_odoo_path(self):
        """An invoice followed by someone notified in Odoo's inbox is posted by Odoo's own path, the others in
        the batch; each message notifies whom Odoo's path notifies."""
        moves = self.make_invoice(self.ingrid) | self.make_invoice(self.ola) | self.make_invoice(self.kari)
        self.env["account.move.send"]._generate_and_send_invoices(moves, sending_methods={"manual"})
        watcher = inbox_watcher(self.env)
        moves[1].message_subscribe(partner_ids=watcher.ids)
        first = self.env["efaktura.fallback.sender"]._next_message_id()
        self.send(moves, batched=True, user=self.env.user)
        for move in moves:
            [message] = move.message_ids.filtered(lambda m: m.id >= first)
            notified = {(n.res_partner_id, n.notification_type) for n in message.notification_ids}
            if move == moves[1]:
                self.assertEqual(notified, {(self.ola, "email"), (watcher, "inbox")})
            else:
                self.assertEqual(notified, {(move.partner_id, "email")})
            self.assertEqual(message.attachment_ids.res_id, message.id)

    def count_queries(self, moves, batched):
        """Queries of account.move.send._send_mails for ``moves`` (PDFs stored, settings computed beforehand)."""
        Send = self.env["account.move.send"]
        if batched:
            Send = Send.with_context(efaktura_render_batch=True)
            Send = Send.with_context(efaktura_rendered=Send._efaktura_render_batch(moves))
        data = {
            move.with_context(mail_notify_force_send=False): {
                **Send._get_default_sending_settings(move, sending_methods={"email"}),
                "author_partner_id": self.env.user.partner_id.id,
            }
            for move in moves
        }
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        Send._send_mails(data)
        self.env.flush_all()
        count = self.env.cr.sql_log_count - before
        self.assertEqual(len(moves.message_ids.filtered(lambda m: m.message_type == "comment")), len(moves))
        self.assertEqual(len(self.env["mail.mail"].search([("res_id", "in", moves.ids)])), len(moves))
        return count

    def test_batch_queries_grow_sublinearly(self):
        sizes = (1, 5, 20, 5, 20)
        samples = [self.make_invoices(self.ola, size) for size in sizes]
        for moves in samples:
            self.env["account.move.send"]._generate_and_send_invoices(moves, sending_methods={"manual"})
            for move in moves:
                move._portal_ensure_token()
        _warm_up, five, twenty, odoo_five, odoo_twenty = (
            self.count_queries(moves, batched=index < 3) for index, moves in enumerate(samples)
        )
        _logger.info(
            "e-mail fallback queries for 5 and 20 invoices: batched %s and %s, Odoo's path %s and %s",
            five,
            twenty,
            odoo_five,
            odoo_twenty,
        )
        self.assertLess(twenty - five, 5, "15 more invoices cost fewer than 5 more queries")
        self.assertGreater(odoo_twenty - odoo_five, 15 * 10, "Odoo's path costs queries per invoice")
