import logging

from markupsafe import escape

from odoo import api, fields, models
from odoo.tools.translate import code_translations

from odoo.addons.snailmail.models.snailmail_letter import SnailmailLetter as OdooSnailmailLetter

from .. import compat

_logger = logging.getLogger(__name__)

KEPT = "efaktura_test"
#: The chatter line Odoo's snailmail.letter.create posts for each letter, translated from the snailmail module.
LETTER_POSTED = "Letter sent by post with Snailmail"


class SnailmailLetter(models.Model):
    _inherit = "snailmail.letter"

    state = fields.Selection(
        selection_add=[(KEPT, "Kept in the eFaktura test inbox")],
        ondelete={KEPT: lambda letters: letters.write({"state": "canceled"})},
    )

    @api.model_create_multi
    def create(self, vals_list):
        """In Test mode (context ``efaktura_test_outbox``), the module's letters are never printed or posted."""
        company_id = self.env.context.get("efaktura_test_outbox", {}).get("letter")
        if company_id:
            for vals in vals_list:
                vals["state"] = KEPT
        if self.env.context.get("efaktura_letters_logged"):
            # The chatter messages exist already (``message_id`` in the values): Odoo's create without its
            # message_post per letter, then what it does after (address, notifications, attachment check).
            self._efaktura_copy_addresses(vals_list)
            letters = super(OdooSnailmailLetter, self).create(vals_list)
            self._efaktura_notify_logged(letters)
        else:
            letters = super().create(vals_list)
        if company_id:
            company = self.env["res.company"].browse(company_id)
            self.env["efaktura.test.message"].sudo().create(
                [
                    {
                        "kind": "letter",
                        "company_id": company.id,
                        "partner_id": letter.partner_id.id,
                        "recipient": ", ".join(
                            part
                            for part in (
                                letter.partner_id.name,
                                letter.partner_id.street,
                                letter.partner_id.zip,
                                letter.partner_id.city,
                            )
                            if part
                        ),
                        "subject": letter.display_name,
                        "res_model": letter.model,
                        "res_id": letter.res_id,
                    }
                    for letter in letters
                ]
            )
        return letters

    @api.model
    def _efaktura_create_batch(self, vals_list):
        """Odoo's ``create`` for many letters on one model, with their chatter messages created in one batch.

        Odoo's snailmail.letter.create posts a chatter message per letter (``message_post`` on the document, one
        record at a time), which is most of the cost of a letter. Here the messages get the values
        ``message_post`` gives them, computed for all the documents at once and inserted together; the author
        follows the documents as ``message_post`` makes them; the letters and their notifications are created
        as Odoo creates them. A document whose followers get internal notes (whom ``message_post`` would notify
        of each letter) keeps Odoo's own path.
        """
        if not vals_list:
            return self.browse()
        [model] = {vals["model"] for vals in vals_list}
        noted = self._efaktura_notes_followed(self.env[model].browse([vals["res_id"] for vals in vals_list]))
        own_path = [vals for vals in vals_list if vals["res_id"] in noted]
        batch = [vals for vals in vals_list if vals["res_id"] not in noted]
        letters = self.create(own_path) if own_path else self.browse()
        if batch:
            messages = self._efaktura_post_letter_messages(self.env[model].browse([vals["res_id"] for vals in batch]))
            for vals, message in zip(batch, messages, strict=True):
                vals["message_id"] = message.id
            letters |= self.with_context(efaktura_letters_logged=True).create(batch)
        order = {id(vals): index for index, vals in enumerate(vals_list)}
        by_vals = dict(zip([id(vals) for vals in own_path + batch], letters, strict=True))
        return self.browse([by_vals[key].id for key in sorted(by_vals, key=order.get)])

    @api.model
    def _efaktura_notes_followed(self, records):
        """The ids of the records that have a follower subscribed to internal notes."""
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        self.env["mail.followers"].flush_model()
        self.env.cr.execute(
            """SELECT DISTINCT f.res_id FROM mail_followers f
                 JOIN mail_followers_mail_message_subtype_rel r ON r.mail_followers_id = f.id
                WHERE f.res_model = %s AND f.res_id IN %s AND r.mail_message_subtype_id = %s""",
            [records._name, tuple(records.ids) or (0,), note],
        )
        return {row[0] for row in self.env.cr.fetchall()}

    @api.model
    def _efaktura_post_letter_messages(self, records):
        """What ``message_post(body=..., message_type="snailmail")`` creates on each record (one per record, in
        order; a record may come twice), in one insert (one more for each repeat of a record), without notifying
        anyone (nobody follows internal notes on these records)."""
        threads = records._fallback_lang()
        unique = threads.browse(list(dict.fromkeys(threads.ids)))
        lang = threads.env.lang or "en_US"
        body = escape(code_translations.get_python_translations("snailmail", lang).get(LETTER_POSTED, LETTER_POSTED))
        author_id, email_from = compat.message_author(unique)
        company = self.env.company
        alias_domains = unique.sudo()._mail_get_alias_domains(default_company=company)
        companies = unique._mail_get_companies(default=company)
        reply_to = compat.reply_to(
            unique, defaults=dict.fromkeys(unique.ids, email_from), author_ids=dict.fromkeys(unique.ids, author_id)
        )
        record_values = compat.post_record_values(unique)
        parents = compat.message_parents(unique)
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")

        def values(res_id):
            return {
                "author_id": author_id,
                "author_guest_id": False,
                "email_from": email_from,
                "model": unique._name,
                "res_id": res_id,
                "body": body,
                "message_type": "snailmail",
                "parent_id": parents.get(res_id, False),
                "subject": False,
                "subtype_id": subtype_id,
                "partner_ids": [],
                "email_add_signature": True,
                **record_values[res_id],
                "record_alias_domain_id": alias_domains[res_id].id,
                "record_company_id": companies[res_id].id,
                "reply_to": reply_to[res_id],
                "attachment_ids": [],
            }

        # A record that comes twice gets its second message in a second insert, under the parent message_post
        # gives it once the first is posted.
        rounds, seen = [], {}
        for position, res_id in enumerate(threads.ids):
            occurrence = seen[res_id] = seen.get(res_id, -1) + 1
            if occurrence == len(rounds):
                rounds.append([])
            rounds[occurrence].append(position)
        found = {}
        for positions in rounds:
            created = unique._message_create([values(threads.ids[position]) for position in positions])
            for position, message in zip(positions, created, strict=True):
                res_id = threads.ids[position]
                if unique._mail_flat_thread:
                    parent = message.browse(parents.get(res_id, []))
                    parents[res_id] = compat.parent_after_post(parent, message).id
                found[position] = message.id
        messages = created.browse([found[position] for position in range(len(threads.ids))])
        # message_post makes the real author follow the document (on 18.0; not for a note on 19.0).
        follower = compat.author_to_subscribe(unique[:1], values(unique.ids[0]))
        if follower:
            unique._message_subscribe(partner_ids=follower.ids)
        return messages

    @api.model
    def _efaktura_copy_addresses(self, vals_list):
        """The recipient's address on each letter's values, as Odoo's snailmail.letter.create copies it."""
        partners = self.env["res.partner"].browse([vals["partner_id"] for vals in vals_list])
        for vals, partner in zip(vals_list, partners, strict=True):
            vals.update(
                {
                    "street": partner.street,
                    "street2": partner.street2,
                    "zip": partner.zip,
                    "city": partner.city,
                    "state_id": partner.state_id.id,
                    "country_id": partner.country_id.id,
                }
            )

    def _efaktura_notify_logged(self, letters):
        """The snail notification of each letter and the attachment check, as Odoo's create makes them."""
        self.env["mail.notification"].sudo().create(
            [
                {
                    "author_id": letter.message_id.author_id.id,
                    "mail_message_id": letter.message_id.id,
                    "res_partner_id": letter.partner_id.id,
                    "notification_type": "snail",
                    "letter_id": letter.id,
                    "is_read": True,
                    "notification_status": "ready",
                }
                for letter in letters
            ]
        )
        compat.check_attachments_read(letters.attachment_id)
        return letters

    def _snailmail_print(self, immediate=True):
        """A letter kept for test is never sent to the print service."""
        return super(SnailmailLetter, self.filtered(lambda letter: letter.state != KEPT))._snailmail_print(immediate)

    def write(self, vals):
        # EXTENDS 'snailmail': a letter of an eFaktura delivery that was posted, failed or was cancelled is read back.
        res = super().write(vals)
        if vals.get("state") in ("sent", "error", "canceled"):
            deliveries = (
                self.env["efaktura.delivery"]
                .sudo()
                .search([("snailmail_letter_id", "in", self.ids), ("state", "=", "submitted")])
            )
            if deliveries:
                try:
                    with self.env.cr.savepoint():
                        self.env["efaktura.delivery"]._read_back(deliveries)
                except Exception:
                    _logger.exception("eFaktura: could not read back letters %s", self.ids)
        return res
