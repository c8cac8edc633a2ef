import threading

from markupsafe import escape

from odoo import api, models
from odoo.tools import clean_context, frozendict, split_every

METHOD = "efaktura_b2c"


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _get_default_sending_method(self, move):
        # EXTENDS 'account': eligible consumers get the chain by default.
        partner = move.partner_id.with_company(move.company_id)
        if move.company_id.efaktura_switched_on and partner.sudo().efaktura_b2c_customer and not partner.is_company:
            return METHOD
        return super()._get_default_sending_method(move)

    @api.model
    def _is_applicable_to_company(self, method, company):
        # EXTENDS 'account'
        if method == METHOD:
            return company.efaktura_switched_on
        return super()._is_applicable_to_company(method, company)

    @api.model
    def _is_applicable_to_move(self, method, move, **move_data):
        # EXTENDS 'account'
        if method == METHOD:
            return move.company_id.efaktura_switched_on and move.is_sale_document(include_receipts=False)
        return super()._is_applicable_to_move(method, move, **move_data)

    @api.model
    def _get_alerts(self, moves, moves_data):
        # EXTENDS 'account'
        alerts = super()._get_alerts(moves, moves_data)
        not_consumers = moves.filtered(
            lambda m: (
                METHOD in moves_data[m]["sending_methods"]
                and not m.partner_id.with_company(m.company_id).sudo().efaktura_b2c_customer
            )
        )
        if not_consumers:
            alerts["l10n_no_efaktura_b2c_not_consumer"] = {
                "level": "info",
                "message": self.env._(
                    "These customers are not set up for B2C eFaktura, so the chain sends them by e-mail or "
                    "post: %(partners)s",
                    partners=", ".join(not_consumers.partner_id.mapped("display_name")),
                ),
                "action_text": self.env._("View customers"),
                "action": not_consumers.partner_id._get_records_action(name=self.env._("Customers")),
            }
        return alerts

    @api.model
    def _hook_if_success(self, moves_data):
        # EXTENDS 'account': invoices sent with the B2C method go through the chain.
        res = super()._hook_if_success(moves_data)
        moves = self.env["account.move"].union(
            *(move for move, move_data in moves_data.items() if METHOD in move_data["sending_methods"])
        )
        if moves:
            queued = moves._efaktura_queue()
            self.env["efaktura.chain"]._dispatch_locked(queued)
        return res

    # ------------------------------------------------------------------
    # The e-mail fallback: templates rendered once per batch
    # ------------------------------------------------------------------

    @api.model
    def _generate_and_send_invoices(
        self, moves, from_cron=False, allow_raising=True, allow_fallback_pdf=False, **custom
    ):
        # EXTENDS 'account': with context ``efaktura_render_batch``, the mail template's language, subject and body
        # are rendered for the whole batch at once (one render call per template, language and field), instead of
        # once per invoice in _get_default_sending_settings; the values are the same.
        if self.env.context.get("efaktura_render_batch") and "efaktura_rendered" not in self.env.context:
            self = self.with_context(efaktura_rendered=self._efaktura_render_batch(moves, **custom))
        return super()._generate_and_send_invoices(
            moves, from_cron=from_cron, allow_raising=allow_raising, allow_fallback_pdf=allow_fallback_pdf, **custom
        )

    @api.model
    def _efaktura_render_batch(self, moves, **custom):
        """{(field, template id, lang, move id): value} for the e-mail's language, subject, body and sender."""
        rendered = {}
        by_template = {}
        for move in moves:
            template = custom.get("mail_template") or self._get_default_mail_template_id(move)
            if template:
                by_template.setdefault(template, []).append(move.id)
        for template, ids in by_template.items():
            langs = template._render_lang(ids)
            for move_id in ids:
                rendered["lang", template.id, False, move_id] = langs.get(move_id)
            by_lang = {}
            for move_id in ids:
                by_lang.setdefault(custom.get("mail_lang") or langs.get(move_id), []).append(move_id)
            for lang, lang_ids in by_lang.items():
                localized = template.with_context(lang=lang)
                bodies = localized._render_field("body_html", lang_ids, options={"post_process": True})
                subjects = localized._render_field("subject", lang_ids)
                senders = localized._render_field("email_from", lang_ids)
                for move_id in lang_ids:
                    rendered["body", template.id, lang, move_id] = bodies[move_id]
                    rendered["subject", template.id, lang, move_id] = subjects[move_id]
                    rendered["email_from", template.id, lang, move_id] = senders[move_id]
        return frozendict(rendered)

    def _efaktura_rendered(self, field, template, lang, move):
        rendered = self.env.context.get("efaktura_rendered")
        if not rendered or not template:
            return None
        return rendered.get((field, template.id, lang, move._origin.id))

    @api.model
    def _get_default_mail_lang(self, move, mail_template):
        # EXTENDS 'account'
        rendered = self._efaktura_rendered("lang", mail_template, False, move)
        return rendered if rendered is not None else super()._get_default_mail_lang(move, mail_template)

    @api.model
    def _get_default_mail_body(self, move, mail_template, mail_lang):
        # EXTENDS 'account'
        rendered = self._efaktura_rendered("body", mail_template, mail_lang, move)
        return rendered if rendered is not None else super()._get_default_mail_body(move, mail_template, mail_lang)

    @api.model
    def _get_default_mail_subject(self, move, mail_template, mail_lang):
        # EXTENDS 'account'
        rendered = self._efaktura_rendered("subject", mail_template, mail_lang, move)
        return rendered if rendered is not None else super()._get_default_mail_subject(move, mail_template, mail_lang)

    @api.model
    def _get_mail_default_field_value_from_template(self, mail_template, lang, move, field, **kwargs):
        # EXTENDS 'account': the sender rendered with the batch
        if field == "email_from" and not kwargs:
            rendered = self._efaktura_rendered("email_from", mail_template, lang, move)
            if rendered is not None:
                return rendered
        return super()._get_mail_default_field_value_from_template(mail_template, lang, move, field, **kwargs)

    # ------------------------------------------------------------------
    # The e-mail fallback: messages and e-mails created in one batch
    # ------------------------------------------------------------------

    @api.model
    def _send_mails(self, moves_data):
        # EXTENDS 'account': with context ``efaktura_render_batch``, the e-mails of the whole batch are posted
        # together (_efaktura_post_mails) instead of one message_post per invoice in _send_mail. The values are
        # Odoo's own: this is Odoo's loop, collecting what it would pass to _send_mail.
        if not self.env.context.get("efaktura_render_batch"):
            return super()._send_mails(moves_data)
        subtype = self.env.ref("mail.mt_comment")
        self._generate_dynamic_reports(moves_data)
        posts = []
        to_send = {
            move: move_data
            for move, move_data in moves_data.items()
            if move.partner_id.email or move_data.get("mail_partner_ids")
        }
        all_params = self._efaktura_mail_params(to_send)
        for move, move_data in to_send.items():
            mail_template = move_data["mail_template"]
            mail_lang = move_data["mail_lang"]
            mail_params = all_params[move]
            if not mail_params:
                continue
            if move_data.get("proforma_pdf_attachment"):
                attachment = move_data["proforma_pdf_attachment"]
                mail_params["attachments"].append((attachment.name, attachment.raw))
            email_from = self._get_mail_default_field_value_from_template(mail_template, mail_lang, move, "email_from")
            posts.append(
                (
                    move,
                    mail_template,
                    {
                        "subtype_id": subtype.id,
                        "model_description": move.with_context(lang=mail_lang).type_name,
                        "email_from": email_from,
                        **mail_params,
                    },
                )
            )
        self._efaktura_post_mails(posts)

    @api.model
    def _efaktura_mail_params(self, moves_data):
        """Odoo's _get_mail_params for each move, {move: params}, the attachments' existence checked at once."""
        wanted = {}
        for move, move_data in moves_data.items():
            mail_attachments_widget = move_data.get("mail_attachments_widget")
            seen_attachment_ids = set()
            to_exclude = {x["name"] for x in mail_attachments_widget if x.get("skip")}
            for attachment_data in self._get_invoice_extra_attachments_data(move) + mail_attachments_widget:
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
    def _efaktura_post_mails(self, posts):
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
            if kwargs["author_id"] in kwargs.get("partner_ids", []) or self.env.context.get("mail_post_autofollow"):
                own_path.append(post)
            else:
                batch.append(post)
        moves = self.env["account.move"].union(*(move for move, _t, _k in batch))
        if len(moves) != len(batch):  # an invoice twice in one batch: Odoo's path for all
            own_path, batch = posts, []
        prepared = self._efaktura_prepare_messages(batch) if batch else []
        recipients = self._efaktura_mail_recipients(prepared) if prepared else {}
        for entry in prepared:
            if recipients.get(entry["move"].id) is None:
                own_path.append(entry["post"])
        prepared = [entry for entry in prepared if recipients.get(entry["move"].id) is not None]
        for move, mail_template, kwargs in own_path:
            self._send_mail(move, mail_template, **kwargs)
        if not prepared:
            return self.env["mail.message"]
        return self._efaktura_create_messages(prepared, recipients)

    @api.model
    def _efaktura_thread(self, move, author_id, partner_ids):
        """The move as ``_send_mail`` posts on it: its context, and message_post's language fallback."""
        return move.with_context(
            no_document=True,
            no_new_invoice=True,
            mail_notify_author=author_id in partner_ids,
            email_notification_allow_footer=True,
        )._fallback_lang()

    @api.model
    def _efaktura_prepare_messages(self, posts):
        """message_post's values for each post, the per-record lookups done for all the records at once."""
        moves = self.env["account.move"].union(*(move for move, _t, _k in posts))
        threads = moves.with_context(no_document=True, no_new_invoice=True)._fallback_lang()
        company = self.env.company
        alias_domains = threads.sudo()._mail_get_alias_domains(default_company=company)
        companies = threads._mail_get_companies(default=company)
        names = {record.id: record.display_name for record in threads.sudo()}
        parents = self._efaktura_first_messages(moves)
        # _send_mail gives message_post the sender but not the author: message_post finds the author from the
        # sender's address (a search per message), here once per sender.
        authors, by_sender, found = [], {}, {}
        for move, _template, kwargs in posts:
            thread = self._efaktura_thread(move, kwargs["author_id"], kwargs.get("partner_ids") or [])
            if kwargs["email_from"] not in found:
                found[kwargs["email_from"]] = thread._message_compute_author(
                    None, kwargs["email_from"], raise_on_email=True
                )
            author = found[kwargs["email_from"]]
            authors.append((thread, *author))
            by_sender.setdefault(author[1], []).append(move.id)
        reply_to = {
            email_from: threads.browse(ids)._notify_get_reply_to(default=email_from)
            for email_from, ids in by_sender.items()
        }
        prepared = []
        for post, (thread, author_id, email_from) in zip(posts, authors, strict=True):
            move, mail_template, kwargs = post
            kwargs = dict(kwargs)
            partner_ids = list(kwargs.pop("partner_ids", None) or [])
            del kwargs["author_id"], kwargs["email_from"]
            attachments = kwargs.pop("attachments", None) or []
            msg_values = {
                "email_layout_xmlid": self._get_mail_layout(),
                "email_add_signature": not mail_template,
                "mail_server_id": mail_template.mail_server_id.id,
                "reply_to_force_new": False,
                "record_name": names[move.id],
                "author_id": author_id,
                "author_guest_id": False,
                "email_from": email_from,
                "model": move._name,
                "res_id": move.id,
                "body": escape(kwargs.pop("body", "")),
                "message_type": "comment",
                "parent_id": parents.get(move.id, False),
                "subject": kwargs.pop("subject", None) or False,
                "subtype_id": kwargs.pop("subtype_id"),
                "partner_ids": partner_ids,
                "record_alias_domain_id": alias_domains[move.id].id,
                "record_company_id": companies[move.id].id,
                "reply_to": reply_to[email_from][move.id],
            }
            notify = {**kwargs, "mail_auto_delete": mail_template.auto_delete}
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
    def _efaktura_first_messages(self, moves):
        """message_post's parent on a flat thread: the first message of each record, {res_id: message id}."""
        if not moves._mail_flat_thread:
            return {}
        self.env["mail.message"].flush_model(["model", "res_id", "message_type"])
        self.env.cr.execute(
            """SELECT res_id, MIN(id) FROM mail_message
                WHERE model = %s AND res_id IN %s AND message_type != 'user_notification'
             GROUP BY res_id""",
            [moves._name, tuple(moves.ids)],
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _efaktura_mail_recipients(self, prepared):
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
            real_author_id = self.env.user.partner_id.id if self.env.user.active else entry["msg_values"]["author_id"]
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
    def _efaktura_create_messages(self, prepared, recipients):
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
        # message_post subscribes the posting user, or the author when an inactive user (a cron's) posts for them,
        # after creating the message (mail_create_nosubscribe aside).
        if not self.env.context.get("mail_create_nosubscribe"):
            by_author = {}
            for entry in prepared:
                if self.env.user.active:
                    real_author = self.env.user.partner_id
                else:
                    real_author = self.env["res.partner"].browse(entry["msg_values"]["author_id"])
                    real_author = real_author if real_author.active else real_author.browse()
                if real_author:
                    by_author.setdefault(real_author.id, []).append(entry["move"].id)
            for author_id, move_ids in by_author.items():
                moves.browse(move_ids)._message_subscribe(partner_ids=[author_id])
        for entry, message in zip(prepared, messages, strict=True):
            entry["thread"]._message_post_after_hook(message, entry["msg_values"])
        emails = self._efaktura_notify_by_email(prepared, messages, recipients)
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
        self._efaktura_send_notification_emails(emails)
        return messages

    @api.model
    def _efaktura_notify_by_email(self, prepared, messages, recipients):
        """_notify_thread_by_email for each message, the e-mails and notifications created in one batch."""
        gen_batch_size = int(self.env["ir.config_parameter"].sudo().get_param("mail.batch_size")) or 50
        ancestors = self._efaktura_ancestors(messages.filtered(lambda m: recipients[m.res_id]))
        mail_values, notification_values = [], []
        for entry, message in zip(prepared, messages, strict=True):
            thread, notify = entry["thread"], dict(entry["notify"])
            # A message just created has no tracking values: said here, the rendering does not search for them.
            msg_values = {**entry["msg_values"], "tracking_value_ids": []}
            partners_data = recipients[entry["move"].id]
            if not partners_data:
                continue
            base_mail_values = self._efaktura_base_mail_values(
                thread, message, ancestors, additional_values={"auto_delete": notify.pop("mail_auto_delete")}
            )
            for _lang, render_values, recipients_group in thread._notify_get_classified_recipients_iterator(
                message, partners_data, msg_vals=msg_values, model_description=notify.get("model_description")
            ):
                mail_body = thread._notify_by_email_render_layout(
                    message, recipients_group, msg_vals=msg_values, render_values=render_values
                )
                for chunk in split_every(gen_batch_size, recipients_group.pop("recipients")):
                    mail_values.append(
                        thread._notify_by_email_get_final_mail_values(
                            chunk, base_mail_values, additional_values={"body_html": mail_body}
                        )
                    )
                    notification_values.append(
                        [
                            {
                                "author_id": message.author_id.id,
                                "is_read": True,
                                "mail_message_id": message.id,
                                "notification_status": "ready",
                                "notification_type": "email",
                                "res_partner_id": recipient_id,
                            }
                            for recipient_id in chunk
                        ]
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
        return emails

    @api.model
    def _efaktura_ancestors(self, messages):
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
    def _efaktura_base_mail_values(self, thread, message, ancestors, additional_values=None):
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
                m.message_type != "user_notification",
            ),
            reverse=True,
        )
        references = " ".join(m.message_id for m in (history_ancestors[:3].sorted("id") + message_sudo))
        base_mail_values = {"mail_message_id": message.id, "references": references}
        if mail_subject != message.subject:
            base_mail_values["subject"] = mail_subject
        if additional_values:
            base_mail_values.update(additional_values)
        headers = {}
        if message_sudo.record_alias_domain_id.bounce_email:
            headers["Return-Path"] = message_sudo.record_alias_domain_id.bounce_email
        headers = thread._notify_by_email_get_headers(headers=headers)
        if headers:
            base_mail_values["headers"] = repr(headers)
        return base_mail_values

    @api.model
    def _efaktura_send_notification_emails(self, emails):
        """Send as _notify_thread_by_email does for each message: the e-mails of a message with fewer than Odoo's
        force-send limit go at once in tests, after the commit otherwise; here together, in one send."""
        if not emails or not self.env.context.get("mail_notify_force_send", True):
            return
        limit = int(self.env["ir.config_parameter"].sudo().get_param("mail.mail.force.send.limit", 100))
        per_message = {}
        for email in emails:
            per_message.setdefault(email.mail_message_id.id, []).append(email.id)
        emails = emails.browse([i for ids in per_message.values() if len(ids) < limit for i in ids])
        test_mode = getattr(threading.current_thread(), "testing", False)
        if emails and (not self.pool._init or test_mode):
            if test_mode:
                emails.send()
            else:
                emails.send_after_commit()
