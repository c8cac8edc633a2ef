from datetime import timedelta

from odoo import api, fields, models

from .. import compat
from .efaktura_consent import OPEN_STATES, _hash_token
from .mail_mail import KEPT

NOT_REACHED = ("none", "failed")


class EfakturaConsentRequest(models.AbstractModel):
    """Asking customers for eFaktura consent: the request with its link, sent by SMS and e-mail in the customer's
    language, and what became of those messages, read back from Odoo's SMS and e-mail queues. A request that
    reached the customer by neither releases its waiting invoices at once."""

    _name = "efaktura.consent.request"
    _description = "eFaktura B2C consent request"

    @api.model
    def _request(self, partners, moves, company):
        """Ask these customers for consent, unless a request is already open; attach the waiting invoices.

        Returns the consents that were created (and sent) now.
        """
        Consent = self.env["efaktura.consent"]
        partners = partners.with_company(company)
        open_consents = Consent.sudo().search(
            [("partner_id", "in", partners.ids), ("company_id", "=", company.id), ("state", "in", OPEN_STATES)]
        )
        by_partner = {consent.partner_id: consent for consent in open_consents}
        now = fields.Datetime.now()
        deadline = now + timedelta(days=company.efaktura_consent_days)
        to_create = [p for p in partners if p not in by_partner and p.efaktura_state not in ("active", "declined")]
        tokens = {}
        values = []
        for partner in to_create:
            token = Consent._new_token()
            tokens[partner.id] = token
            values.append(
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "token_hash": _hash_token(token),
                    "requested_at": now,
                    "deadline": deadline,
                    "state": "draft",
                }
            )
        created = Consent.sudo().create(values)
        for consent in created:
            by_partner[consent.partner_id] = consent
        for partner, partner_moves in moves.grouped("partner_id").items():
            consent = by_partner.get(partner.with_company(company))
            if consent:
                consent.move_ids = [fields.Command.link(move.id) for move in partner_moves]
                partner_moves._efaktura_write({"efaktura_deadline": consent.deadline})
        if created:
            created.env[self._name]._send_request(
                created, {consent.id: tokens[consent.partner_id.id] for consent in created}
            )
            for consent in created.filtered(lambda c: c.state in OPEN_STATES):
                consent.partner_id.with_company(company)._efaktura_set_state(
                    "consent_requested",
                    note=self.env._("Asked to approve eFaktura: %(what)s.", what=self._delivery_summary(consent)),
                )
        return created

    @api.model
    def _send_request(self, consents, tokens):
        """The SMS and the e-mail with the consent link, in the customer's language; what went out is recorded.

        With ``efaktura_sms_now`` in the context (a user asked from the customer card) the SMS is sent at once, so
        that the user is told when it fails; the chain leaves it to the SMS queue.
        """
        sms_template = consents.env.ref("l10n_no_efaktura_b2c.sms_template_consent_request")
        mail_template = consents.env.ref("l10n_no_efaktura_b2c.mail_template_consent_request")
        sms_values = []
        with_sms = consents.browse()
        for consent in consents:
            url = consent._consent_url(tokens[consent.id])
            lang = consent.partner_id.lang or consent.company_id.partner_id.lang or "en_US"
            body = sms_template.with_context(efaktura_consent_url=url)._render_field(
                "body", consent.ids, compute_lang=True
            )[consent.id]
            values = {"state": "sent", "sms_state": "none", "mail_state": "none"}
            if consent.partner_id[compat.PARTNER_MOBILE]:
                sms_values.append(
                    {
                        "partner_id": consent.partner_id.id,
                        "number": consent.partner_id[compat.PARTNER_MOBILE],
                        "body": body,
                    }
                )
                with_sms |= consent
                values["sms_state"] = "queued"
            if consent.partner_id.email:
                values["mail_id"] = self._send_link_mail(
                    consent,
                    mail_template.with_context(
                        efaktura_consent_url=url, lang=lang, **consent.company_id._efaktura_test_outbox()
                    ),
                )
                values["mail_state"] = "queued"
            consent.write(values)
        if sms_values:
            # In Test mode the SMS stay in the test phone (one company per request batch).
            outbox = consents.company_id[:1]._efaktura_test_outbox() if len(consents.company_id) == 1 else {}
            sms = consents.env["sms.sms"].sudo().with_context(**outbox).create(sms_values)
            for consent, record in zip(with_sms, sms, strict=True):
                consent.sms_id = record
            if consents.env.context.get("efaktura_sms_now"):
                sms.send()
            else:
                consents.env.ref("sms.ir_cron_sms_scheduler_action")._trigger()
        # Mails sent at once (a test, or an SMS refused at once) are known already, and so are messages kept in
        # the test phone and inbox in Test mode.
        self._read_back_mails(consents.mail_id)
        self._read_back_sms(consents)
        self._check_reached(consents)

    # ------------------------------------------------------------------
    # What went out
    # ------------------------------------------------------------------

    @api.model
    def _read_back_sms(self, consents):
        """The SMS state as Odoo's SMS queue set it: sent (to the operator, or delivered) or failed, with why."""
        labels = dict(consents.env["sms.sms"]._fields["failure_type"]._description_selection(consents.env))
        for consent in consents.filtered("sms_id"):
            sms = consent.sms_id.sudo()
            if sms.state in ("pending", "sent", KEPT):
                consent.write({"sms_state": "sent", "sms_error": False})
            elif sms.state in ("error", "canceled"):
                reason = (
                    labels.get(sms.failure_type) or labels.get("unknown")
                    if sms.state == "error"
                    else consents.env._("cancelled")
                )
                consent.write({"sms_state": "failed", "sms_error": reason})
        self._check_reached(consents)

    @api.model
    def _read_back_mails(self, mails):
        """The consent request e-mails among ``mails`` (mail.mail, state final): sent, or failed and why."""
        labels = dict(self.env["mail.mail"]._fields["failure_type"]._description_selection(self.env))
        consents = self.env["efaktura.consent"].sudo().search([("mail_id", "in", mails.ids)])
        for consent in consents:
            mail = consent.mail_id
            if mail.state in ("sent", KEPT):
                consent.write({"mail_state": "sent", "mail_error": False})
            elif mail.state in ("exception", "cancel"):
                reason = labels.get(mail.failure_type) or labels.get("unknown")
                if mail.failure_reason:
                    reason = f"{reason} ({mail.failure_reason.strip().splitlines()[0][:200]})"
                consent.write({"mail_state": "failed", "mail_error": reason})
        self._check_reached(consents)

    @api.model
    def _check_reached(self, consents):
        """Requests that reached the customer neither by SMS nor by e-mail: nobody can answer them, so the waiting
        invoices go on down the chain at once, and the user is told why on the customer card."""
        env = consents.env
        for consent in consents.filtered(lambda c: c.state in OPEN_STATES):
            if consent.sms_state == "failed" and consent.mail_state not in NOT_REACHED:
                consent.partner_id._message_log(
                    body=env._(
                        "The eFaktura request SMS to %(number)s failed: %(reason)s. The e-mail went to %(email)s.",
                        number=consent.partner_id[compat.PARTNER_MOBILE],
                        reason=consent.sms_error,
                        email=consent.partner_id.email,
                    )
                )
        unreached = consents.filtered(
            lambda c: c.state in OPEN_STATES and c.sms_state in NOT_REACHED and c.mail_state in NOT_REACHED
        )
        if not unreached:
            return
        unreached.write({"state": "failed"})
        for consent in unreached:
            reason = self._delivery_summary(consent)
            partner = consent.partner_id.with_company(consent.company_id)
            partner._efaktura_set_state(
                "not_checked",
                note=env._(
                    "The eFaktura request reached the customer neither by SMS nor by e-mail: %(why)s.", why=reason
                ),
            )
            moves = consent.move_ids.filtered(lambda m: m.efaktura_state == "awaiting_consent")
            if moves:
                moves._efaktura_write(
                    {"efaktura_state": "queued", "efaktura_deadline": fields.Datetime.now(), "efaktura_next_try": False}
                )
                moves._message_log_batch(
                    bodies=dict.fromkeys(
                        moves.ids,
                        env._(
                            "The eFaktura request reached the customer neither by SMS nor by e-mail (%(why)s): "
                            "sending by another channel now.",
                            why=reason,
                        ),
                    )
                )
                env["efaktura.chain"]._trigger_dispatch()

    @api.model
    def _delivery_summary(self, consent):
        """What went out for this request, in words: "SMS failed (Insufficient Credit), no e-mail address"."""
        consent.ensure_one()
        env = consent.env
        sms = {
            "none": env._("no mobile number"),
            "queued": env._("SMS queued"),
            "sent": env._("SMS sent"),
            "failed": env._("SMS failed (%(why)s)", why=consent.sms_error or ""),
        }.get(consent.sms_state or "none")
        mail = {
            "none": env._("no e-mail address"),
            "queued": env._("e-mail queued"),
            "sent": env._("e-mail sent"),
            "failed": env._("e-mail failed (%(why)s)", why=consent.mail_error or ""),
        }.get(consent.mail_state or "none")
        return f"{sms}, {mail}"

    @api.model
    def _send_link_mail(self, consent, template):
        """E-mail the customer a link that acts in their name; returns the mail.mail id.

        The link lives only in the outgoing mail.mail, which only administrators can read and which is deleted
        once sent (the templates' auto_delete), as Odoo's own sign-up and password reset links. The
        mail.message behind it, readable by whoever may read the consent, keeps the subject but no body, so a
        queued or failed e-mail shows no link. The customer's chatter says a request went out, without it.
        """
        consent.ensure_one()
        mail = (
            consent.env["mail.mail"]
            .sudo()
            .browse(template.send_mail(consent.id, email_layout_xmlid="l10n_no_efaktura_b2c.mail_layout_consent"))
        )
        mail.mail_message_id.body = False
        return mail.id
