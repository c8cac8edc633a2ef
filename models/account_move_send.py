from odoo import api, models
from odoo.tools import frozendict

METHOD = "efaktura_b2c"


class AccountMoveSend(models.AbstractModel):
    _inherit = "account.move.send"

    @api.model
    def _efaktura_is_default(self, move):
        """Eligible consumers get the chain by default."""
        partner = move.partner_id.with_company(move.company_id)
        return bool(
            move.company_id.efaktura_switched_on and partner.sudo().efaktura_b2c_customer and not partner.is_company
        )

    @api.model
    def _get_default_sending_method(self, move):
        # EXTENDS 'account' (18.0)
        return METHOD if self._efaktura_is_default(move) else super()._get_default_sending_method(move)

    @api.model
    def _get_default_sending_methods(self, move):
        # EXTENDS 'account' (19.0: the default methods are a set)
        return {METHOD} if self._efaktura_is_default(move) else super()._get_default_sending_methods(move)

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
    def _hook_if_success(self, moves_data, **kwargs):
        # EXTENDS 'account': invoices sent with the B2C method go through the chain. (19.0 passes from_cron.)
        res = super()._hook_if_success(moves_data, **kwargs)
        moves = self.env["account.move"].union(
            *(move for move, move_data in moves_data.items() if METHOD in move_data["sending_methods"])
        )
        if moves:
            queued = moves._efaktura_queue()
            self.env["efaktura.chain"]._dispatch_locked(queued)
        return res

    @api.model
    def _hook_if_errors(self, moves_data, allow_raising=True):
        # EXTENDS 'account': the e-mail fallback learns which invoices could not be sent from here, on both series
        # (19.0 keeps an error in sending_data only when Odoo will retry it).
        failed = self.env.context.get("efaktura_send_errors")
        if failed is not None:
            failed.update(move.id for move in moves_data)
        return super()._hook_if_errors(moves_data, allow_raising=allow_raising)

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
    # The e-mail fallback: messages and e-mails created in one batch, by efaktura.mail.batch
    # ------------------------------------------------------------------

    @api.model
    def _send_mails(self, moves_data):
        # EXTENDS 'account': with context ``efaktura_render_batch``, the e-mails of the whole batch are posted
        # together (efaktura.mail.batch) instead of one message_post per invoice in _send_mail.
        if not self.env.context.get("efaktura_render_batch"):
            return super()._send_mails(moves_data)
        return self.env["efaktura.mail.batch"]._send_mails(moves_data)
