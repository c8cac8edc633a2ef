"""The e-mail fallback's e-mails posted in batches: what Odoo's Send & Print does per invoice (one message_post,
its attachments, e-mails and notifications) done once for the whole batch.

With context ``efaktura_render_batch`` (the chain's e-mail fallback sets it), account.move.send._send_mails hands
its invoices over to this model. Each value is the one Odoo's own code computes; only the queries and inserts are
batched, and an invoice this does not cover the way Odoo does keeps Odoo's own path.
"""

from markupsafe import escape

from odoo import api, models
from odoo.tools import clean_context, split_every

from .. import compat


class EfakturaMailBatch(models.AbstractModel):
    """Posts the e-mail fallback's e-mails for a whole batch of invoices at once: the messages, attachments,
    e-mails and notifications, each created in one batch, for account.move.send._send_mails to delegate to."""

    _name = "efaktura.mail.batch"
    _description = "eFaktura B2C e-mail fallback posted in batches"

    @property
    def _move_send(self):
        """Odoo's Send & Print, whose values and own per-invoice path this batches."""
        return self.env["account.move.send"]

    @api.model
    def _send_mails(self, moves_data):
        """account.move.send._send_mails for the whole batch: the e-mails are posted together (_post_mails)
        instead of one message_post per invoice in _send_mail. The values are Odoo's own: this is Odoo's loop,
        collecting what it would pass to _send_mail."""
        send = self._move_send
        subtype = self.env.ref("mail.mt_comment")
        send._generate_dynamic_reports(moves_data)
        posts = []
        to_send = {
            move: move_data
            for move, move_data in moves_data.items()
            if move.partner_id.email or move_data.get("mail_partner_ids")
        }
        all_params = self._mail_params(to_send)
        authors = {}
        for move, move_data in to_send.items():
            mail_template = move_data["mail_template"]
            mail_lang = move_data["mail_lang"]
            mail_params = all_params[move]
            if not mail_params:
                continue
            if move_data.get("proforma_pdf_attachment"):
                attachment = move_data["proforma_pdf_attachment"]
                mail_params["attachments"].append((attachment.name, attachment.raw))
            email_from = send._get_mail_default_field_value_from_template(mail_template, mail_lang, move, "email_from")
            # The author and sender as Odoo's _send_mails gives them (found from the sender once per sender).
            key = (mail_params.pop("author_id"), email_from)
            if key not in authors:
                authors[key] = compat.invoice_mail_author(move, *key)
            posts.append(
                (
                    move,
                    mail_template,
                    {
                        "subtype_id": subtype.id,
                        "model_description": move.with_context(lang=mail_lang).type_name,
                        **authors[key],
                        **mail_params,
                    },
                )
            )
        self._post_mails(posts)

    @api.model
    def _mail_params(self, moves_data):
        """Odoo's _get_mail_params for each move, {move: params}, the attachments' existence checked at once."""
        send = self._move_send
        wanted = {}
        for move, move_data in moves_data.items():
            mail_attachments_widget = move_data.get("mail_attachments_widget")
            seen_attachment_ids = set()
            to_exclude = {x["name"] for x in mail_attachments_widget if x.get("skip")}
            for attachment_data in send._get_invoice_extra_attachments_data(move) + mail_attachments_widget:
                if attachment_data["name"] in to_exclude and not attachment_data.get("manual"):
                    continue
                try:
                    attachment_id = int(attachment_data["id"])
                except ValueError:
                    continue
                seen_attachment_ids.add(attachment_id)
            wanted[move] = list(seen_attachment_ids)
        attachments = self.env["ir.attachment"].browse({i for ids in wanted.values() for i in ids}).exists()
        attachments.mapped("raw")  # read together
        existing = set(attachments.ids)
        return {
            move: {
                "author_id": move_data["author_partner_id"],
                "body": move_data["mail_body"],
                "subject": move_data["mail_subject"],
                "partner_ids": move_data["mail_partner_ids"],
                "attachments": [
                    (attachment.name, attachment.raw)
                    for attachment in self.env["ir.attachment"].browse([i for i in wanted[move] if i in existing])
                ],
            }
            for move, move_data in moves_data.items()
        }

    @api.model
    def _post_mails(self, posts):
        """What ``_send_mail(move, mail_template, **kwargs)`` does for each ``(move, mail_template, kwargs)``, for
        all of them at once: the messages, their attachments and e-mails are each created in one batch, and the
        e-mails are sent together.

        Each value comes from the code ``message_post`` runs (author, reply-to, alias domain, company, the
        notification layout rendered for each recipient group, the e-mail's headers and references); only the
        queries and inserts are batched. An invoice whose notification this does not cover the way Odoo does
        (someone notified in the inbox or by SMS, an author among the recipients, recipients made followers) keeps
        Odoo's own ``_send_mail``.
        """
        if not posts:
            return self.env["mail.message"]
        # message_post runs in the invoices' environment (Send & Print's moves are in sudo): so does the batch.
        self = self.with_env(posts[0][0].env)
        batch, own_path = [], []
        for post in posts:
            move, _template, kwargs = post
            partner_ids = kwargs.get("partner_ids", [])
            if (
                kwargs["author_id"] in partner_ids
                or self.env.user.partner_id.id in partner_ids
                or self.env.context.get("mail_post_autofollow")
            ):
                own_path.append(post)
            else:
                batch.append(post)
        moves = self.env["account.move"].union(*(move for move, _t, _k in batch))
        if len(moves) != len(batch):  # an invoice twice in one batch: Odoo's path for all
            own_path, batch = posts, []
        prepared = self._prepare_messages(batch) if batch else []
        recipients = self._mail_recipients(prepared) if prepared else {}
        for entry in prepared:
            if recipients.get(entry["move"].id) is None:
                own_path.append(entry["post"])
        prepared = [entry for entry in prepared if recipients.get(entry["move"].id) is not None]
        for move, mail_template, kwargs in own_path:
            self._move_send._send_mail(move, mail_template, **kwargs)
        if not prepared:
            return self.env["mail.message"]
        return self._create_messages(prepared, recipients)

    @api.model
    def _prepare_messages(self, posts):
        """message_post's values for each post, the per-record lookups done for all the records at once."""
        moves = self.env["account.move"].union(*(move for move, _t, _k in posts))
        threads = moves.with_context(no_document=True, no_new_invoice=True)._fallback_lang()
        company = self.env.company
        alias_domains = threads.sudo()._mail_get_alias_domains(default_company=company)
        companies = threads._mail_get_companies(default=company)
        parents = compat.message_parents(moves)
        record_values = compat.post_record_values(threads)
        Message = self.env["mail.message"]
        # _send_mail's context and message_post's arguments; message_post finds the author from the sender's
        # address (a search per message), here once per author and sender.
        calls, found = [], {}
        for move, mail_template, kwargs in posts:
            context, post_kwargs = compat.send_mail_post(kwargs)
            thread = move.with_context(**context)._fallback_lang()
            key = (post_kwargs.pop("author_id", None), post_kwargs.pop("email_from", None))
            if key not in found:
                found[key] = compat.message_author(thread, *key)
            # _send_mail's own arguments after the ones it was given
            post_kwargs.update(
                {
                    "email_layout_xmlid": self._move_send._get_mail_layout(),
                    "email_add_signature": not mail_template,
                    "mail_auto_delete": mail_template.auto_delete,
                    "mail_server_id": mail_template.mail_server_id.id,
                    "reply_to_force_new": False,
                }
            )
            calls.append((thread, *found[key], post_kwargs))
        reply_to = compat.reply_to(
            threads,
            defaults={thread.id: email_from for thread, _a, email_from, _k in calls},
            author_ids={thread.id: author_id for thread, author_id, _e, _k in calls},
        )
        prepared = []
        for post, (thread, author_id, email_from, kwargs) in zip(posts, calls, strict=True):
            move = post[0]
            partner_ids = list(kwargs.pop("partner_ids", None) or [])
            attachments = kwargs.pop("attachments", None) or []
            body = kwargs.pop("body", "")
            subject = kwargs.pop("subject", None)
            subtype_id = kwargs.pop("subtype_id")
            # message_post: the message's own values, the rest for the notification
            msg_values = {key: value for key, value in kwargs.items() if key in Message._fields}
            notify = {key: value for key, value in kwargs.items() if key not in msg_values}
            msg_values.setdefault("email_add_signature", True)
            msg_values.update(
                {
                    "author_id": author_id,
                    "author_guest_id": False,
                    "email_from": email_from,
                    "model": move._name,
                    "res_id": move.id,
                    "body": escape(body),
                    "message_type": "comment",
                    "parent_id": parents.get(move.id, False),
                    "subject": subject or False,
                    "subtype_id": subtype_id,
                    "partner_ids": partner_ids,
                    **record_values[move.id],
                    "record_alias_domain_id": alias_domains[move.id].id,
                    "record_company_id": companies[move.id].id,
                    "reply_to": reply_to[move.id],
                }
            )
            prepared.append(
                {
                    "post": post,
                    "move": move,
                    "thread": thread,
                    "msg_values": msg_values,
                    "attachments": attachments,
                    "notify": notify,
                }
            )
        return prepared

    @api.model
    def _mail_recipients(self, prepared):
        """_notify_get_recipients for each message, from one query: {move id: recipients data}, or None for a
        move whose recipients are not all notified by e-mail (Odoo's own path notifies those)."""
        moves = self.env["account.move"].union(*(entry["move"] for entry in prepared))
        subtypes = {entry["msg_values"]["subtype_id"] for entry in prepared}
        all_pids = sorted({pid for entry in prepared for pid in entry["msg_values"]["partner_ids"]})
        if len(subtypes) != 1:
            return {}
        data = self.env["mail.followers"]._get_recipient_data(moves, "comment", subtypes.pop(), all_pids)
        result = {}
        for entry in prepared:
            move, own = entry["move"], set(entry["msg_values"]["partner_ids"])
            # _notify_get_recipients: the author is not notified of their own message (mail_notify_author aside)
            real_author_id = compat.skipped_author(entry["thread"], entry["msg_values"], entry["notify"])
            recipients = []
            for pid, pdata in data[move.id].items():
                if pid in all_pids and pid not in own:
                    if pdata["is_follower"]:  # another invoice's recipient who follows this one: Odoo's path
                        recipients = None
                        break
                    continue
                if (pid and pid == real_author_id) or pdata["active"] is False:
                    continue
                if pdata["notif"] != "email":
                    recipients = None
                    break
                recipients.append(pdata)
            result[move.id] = recipients
        return result

    @api.model
    def _create_messages(self, prepared, recipients):
        """Create the messages, attachments, e-mails and notifications of ``prepared`` in one batch each, with
        Odoo's own values, and send the e-mails as ``_notify_thread_by_email`` sends them."""
        Attachment = self.env["ir.attachment"].sudo()
        attachment_values, owners = [], []
        for index, entry in enumerate(prepared):
            move = entry["move"]
            for name, content in entry["attachments"]:
                attachment_values.append(
                    {
                        "name": name,
                        "raw": content,
                        "type": "binary",
                        "description": name,
                        "res_model": move._name,
                        "res_id": move.id,
                    }
                )
                owners.append(index)
        attachments = Attachment.create(attachment_values) if attachment_values else Attachment
        per_entry = [[] for _entry in prepared]
        for index, attachment in zip(owners, attachments, strict=True):
            per_entry[index].append(attachment.id)
        values_list = []
        for entry, attachment_ids in zip(prepared, per_entry, strict=True):
            entry["msg_values"]["attachment_ids"] = [(4, attachment_id) for attachment_id in attachment_ids]
            values_list.append(entry["msg_values"])
        moves = self.env["account.move"].union(*(entry["move"] for entry in prepared))
        messages = moves._message_create(values_list)
        # message_post makes the real author (the posting user, or the author when an inactive user such as a
        # cron's posts for them) follow the record after creating the message.
        by_author = {}
        for entry in prepared:
            real_author = compat.author_to_subscribe(entry["thread"], entry["msg_values"])
            if real_author:
                by_author.setdefault(real_author.id, []).append(entry["move"].id)
        for author_id, move_ids in by_author.items():
            moves.browse(move_ids)._message_subscribe(partner_ids=[author_id])
        for entry, message in zip(prepared, messages, strict=True):
            entry["thread"]._message_post_after_hook(message, entry["msg_values"])
        emails = self._notify_by_email(prepared, messages, recipients)
        # _send_mail: the attachments belong to the message, not to the invoice.
        if attachments:
            Attachment.flush_model(["res_model", "res_id"])
            pairs = [
                (attachment_id, message.id)
                for message, ids in zip(messages, per_entry, strict=True)
                for attachment_id in ids
            ]
            self.env.cr.execute(
                """UPDATE ir_attachment a SET res_model = 'mail.message', res_id = v.message_id
                     FROM unnest(%s::int[], %s::int[]) AS v(attachment_id, message_id)
                    WHERE a.id = v.attachment_id""",
                [[pair[0] for pair in pairs], [pair[1] for pair in pairs]],
            )
            attachments.invalidate_recordset(["res_model", "res_id"])
        self._send_notification_emails(emails)
        return messages

    @api.model
    def _notify_by_email(self, prepared, messages, recipients):
        """_notify_thread_by_email for each message, the e-mails and notifications created in one batch."""
        gen_batch_size = int(self.env["ir.config_parameter"].sudo().get_param("mail.batch_size")) or 50
        ancestors = self._ancestors(messages.filtered(lambda m: recipients[m.res_id]))
        mail_values, notification_values = [], []
        for entry, message in zip(prepared, messages, strict=True):
            thread, notify = entry["thread"], dict(entry["notify"])
            # A message just created has no tracking values: said here, the rendering does not search for them.
            msg_values = {**entry["msg_values"], "tracking_value_ids": []}
            partners_data = recipients[entry["move"].id]
            compat.notify_out_of_office(thread, message, partners_data, msg_values, entry["notify"])
            if not partners_data:
                continue
            base_mail_values = self._base_mail_values(
                thread,
                message,
                ancestors,
                partners_data,
                additional_values={"auto_delete": notify.pop("mail_auto_delete")},
            )
            base_notification = {
                "author_id": message.author_id.id,
                "is_read": True,
                "mail_message_id": message.id,
                "notification_status": "ready",
                "notification_type": "email",
            }
            for _lang, render_values, recipients_group in thread._notify_get_classified_recipients_iterator(
                message, partners_data, msg_vals=msg_values, model_description=notify.get("model_description")
            ):
                mail_body = thread._notify_by_email_render_layout(
                    message, recipients_group, msg_vals=msg_values, render_values=render_values
                )
                recipient_ids, recipient_emails = compat.group_recipients(recipients_group)
                for chunk in split_every(gen_batch_size, recipient_ids):
                    mail_values.append(
                        thread._notify_by_email_get_final_mail_values(
                            chunk, base_mail_values, additional_values={"body_html": mail_body}
                        )
                    )
                    notification_values.append(
                        [{**base_notification, "res_partner_id": recipient_id} for recipient_id in chunk]
                    )
                if recipient_emails:  # the addresses notified without a partner (19.0)
                    values = thread._notify_by_email_get_final_mail_values(
                        [], base_mail_values, additional_values={"body_html": mail_body}
                    )
                    mail_values.append({**values, "email_to": ",".join(recipient_emails)})
                    notification_values.append(
                        [{**base_notification, "mail_email_address": email} for email in recipient_emails]
                    )
        if not mail_values:
            return self.env["mail.mail"].sudo()
        context = clean_context(self.env.context)
        clean_env = self.env(context=context)
        emails = clean_env["mail.mail"].sudo().create(mail_values)
        clean_env["mail.notification"].sudo().create(
            [
                {**values, "mail_mail_id": email.id}
                for email, chunk in zip(emails, notification_values, strict=True)
                for values in chunk
            ]
        )
        self._notify_by_web_push(prepared, messages, recipients)
        return emails

    @api.model
    def _notify_by_web_push(self, prepared, messages, recipients):
        """_notify_thread_by_web_push for each message, when one of the recipients has a browser to push to (one
        query for the batch; Odoo's own method then pushes each message)."""
        partner_ids = {data["id"] for entry in prepared for data in recipients[entry["move"].id] or [] if data["id"]}
        if not partner_ids or not self.env["mail.push.device"].sudo().search_count(
            [("partner_id", "in", list(partner_ids))], limit=1
        ):
            return
        for entry, message in zip(prepared, messages, strict=True):
            if recipients[entry["move"].id]:
                entry["thread"]._notify_thread_by_web_push(
                    message, recipients[entry["move"].id], msg_vals=entry["msg_values"], **entry["notify"]
                )

    @api.model
    def _ancestors(self, messages):
        """The messages _notify_by_email_get_base_mail_values searches for each message's references (the 32
        newest others on its record with a subtype and a message-id), for all messages in one query:
        {message id: messages, newest first}."""
        if not messages:
            return {}
        Message = self.env["mail.message"].sudo()
        Message.flush_model(["model", "res_id", "subtype_id", "message_id"])
        self.env.cr.execute(
            """SELECT me.id, an.id
                 FROM mail_message me
                 JOIN LATERAL (
                      SELECT other.id FROM mail_message other
                       WHERE other.model = me.model AND other.res_id = me.res_id AND other.id != me.id
                         AND other.subtype_id IS NOT NULL AND other.message_id IS NOT NULL
                    ORDER BY other.id DESC LIMIT 32
                 ) an ON TRUE
                WHERE me.id IN %s
             ORDER BY me.id, an.id DESC""",
            [tuple(messages.ids)],
        )
        found = {}
        for message_id, ancestor_id in self.env.cr.fetchall():
            found.setdefault(message_id, []).append(ancestor_id)
        every = Message.browse({i for ids in found.values() for i in ids})
        every.fetch(["is_internal", "subtype_id", "message_type", "message_id"])  # read together
        every.subtype_id.fetch(["internal"])
        return {message.id: every.browse(found.get(message.id, [])) for message in messages}

    @api.model
    def _base_mail_values(self, thread, message, ancestors, recipients_data, additional_values=None):
        """mail.thread._notify_by_email_get_base_mail_values, with the ancestors found beforehand."""
        mail_subject = message.subject
        if not mail_subject and thread and hasattr(thread, "_message_compute_subject"):
            mail_subject = thread._message_compute_subject()
        if not mail_subject:
            mail_subject = message.record_name
        if mail_subject:
            mail_subject = " ".join(mail_subject.splitlines())
        message_sudo = message.sudo()
        outgoing_types = ("comment", "auto_comment", "email", "email_outgoing")
        history_ancestors = ancestors[message.id].sorted(
            lambda m: (
                not m.is_internal and not m.subtype_id.internal,
                m.message_type in outgoing_types,
                m.message_type not in compat.REFERENCES_LAST_TYPES,
            ),
            reverse=True,
        )
        references = " ".join(m.message_id for m in (history_ancestors[:3].sorted("id") + message_sudo))
        base_mail_values = {"mail_message_id": message.id, "references": references}
        if mail_subject != message.subject:
            base_mail_values["subject"] = mail_subject
        if additional_values:
            base_mail_values.update(additional_values)
        headers = compat.notification_headers(thread, message, recipients_data)
        if message_sudo.record_alias_domain_id.bounce_email:
            headers["Return-Path"] = message_sudo.record_alias_domain_id.bounce_email
        headers = thread._notify_by_email_get_headers(headers=headers)
        if headers:
            base_mail_values["headers"] = repr(headers)
        return base_mail_values

    @api.model
    def _send_notification_emails(self, emails):
        """Send as _notify_thread_by_email does for each message: the e-mails of a message with fewer than Odoo's
        force-send limit go at once in tests, after the commit otherwise; here together, in one send."""
        if not emails or not self.env.context.get("mail_notify_force_send", True):
            return
        limit = int(self.env["ir.config_parameter"].sudo().get_param("mail.mail.force.send.limit", 100))
        per_message = {}
        for email in emails:
            per_message.setdefault(email.mail_message_id.id, []).append(email.id)
        emails = emails.browse([i for ids in per_message.values() if len(ids) < limit for i in ids])
        if emails:
            compat.send_notification_emails(emails)
