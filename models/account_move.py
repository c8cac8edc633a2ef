import logging
import re
import time
from datetime import datetime
from datetime import time as day_time

from dateutil.relativedelta import relativedelta
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, consteq
from odoo.tools.misc import hmac as hmac_sign

from .efaktura_channel import NETWORK_CHANNELS
from .efaktura_delivery import DELIVERY_CHANNELS

_logger = logging.getLogger(__name__)

# The nettbank and Vipps fetch the PDF while the customer deals with the invoice: the link lives until this many
# months after the due date (or after the day it is made, for an invoice already overdue), then expires.
DOCUMENT_LINK_MONTHS_AFTER_DUE = 3
DOCUMENT_TOKEN_RE = re.compile(r"(?P<revision>[0-9]{1,9})\.(?P<expires>[0-9]{1,12})\.(?P<signature>[0-9a-f]{1,128})")
MOVE_STATES = [
    ("none", "Not sent by eFaktura B2C"),
    ("queued", "Queued"),
    ("awaiting_consent", "Awaiting consent"),
    ("sent", "Sent"),
    ("fallback_sent", "Sent by fallback"),
    ("manual", "To print and post"),
    ("error", "Needs attention"),
    ("cancelling", "Being taken back"),
]


class AccountMove(models.Model):
    _inherit = "account.move"

    efaktura_state = fields.Selection(
        MOVE_STATES, string="eFaktura B2C", default="none", required=True, copy=False, index=True, tracking=True
    )
    efaktura_channel = fields.Selection(DELIVERY_CHANNELS, string="Delivered by", copy=False, readonly=True)
    efaktura_deadline = fields.Datetime(
        string="Consent deadline",
        copy=False,
        readonly=True,
        help="If the customer has not approved eFaktura by then, the invoice goes by e-mail or post.",
    )
    efaktura_next_try = fields.Datetime(string="Next dispatch", copy=False, readonly=True)
    efaktura_retry_count = fields.Integer(copy=False, readonly=True)
    efaktura_revision = fields.Integer(
        copy=False, readonly=True, help="Counts the times a delivered invoice was taken back, so that it is sent anew."
    )
    efaktura_error = fields.Text(string="eFaktura problem", copy=False, readonly=True)
    efaktura_delivery_ids = fields.One2many("efaktura.delivery", "move_id", string="Deliveries")
    efaktura_delivery_count = fields.Integer(compute="_compute_efaktura_delivery_count")
    efaktura_reminder_ids = fields.One2many("efaktura.reminder", "move_id", string="Reminders")
    efaktura_receipt = fields.Selection(
        [
            ("submitted", "Submitted"),
            ("accepted", "Accepted"),
            ("shown", "Shown to the customer"),
            ("paid", "Paid"),
            ("rejected", "Rejected"),
        ],
        string="Network receipt",
        compute="_compute_efaktura_receipt",
        help="The latest status Vipps or the nettbank reported for this invoice.",
    )
    efaktura_preview_channel = fields.Selection(
        DELIVERY_CHANNELS,
        string="Would go by",
        compute="_compute_efaktura_preview",
        help="The channel the chain would take if the invoice were sent now.",
    )
    efaktura_preview_reason = fields.Text(string="Why", compute="_compute_efaktura_preview")
    efaktura_switched_on = fields.Boolean(related="company_id.efaktura_switched_on", string="eFaktura B2C enabled")
    efaktura_company_mode = fields.Selection(related="company_id.efaktura_mode", string="eFaktura B2C mode")

    def _compute_efaktura_delivery_count(self):
        counts = dict(
            self.env["efaktura.delivery"]._read_group([("move_id", "in", self.ids)], ["move_id"], ["__count"])
        )
        for move in self:
            move.efaktura_delivery_count = counts.get(move, 0)

    @api.depends("efaktura_delivery_ids.state", "efaktura_delivery_ids.channel")
    def _compute_efaktura_receipt(self):
        for move in self:
            network = move.efaktura_delivery_ids.filtered(
                lambda d: d.channel in NETWORK_CHANNELS and d.state != "cancelled"
            ).sorted("id")
            state = network[-1:].state
            move.efaktura_receipt = state if state in ("submitted", "accepted", "shown", "paid", "rejected") else False

    @api.depends(
        "partner_id", "state", "amount_total", "invoice_line_ids.price_total", "invoice_date_due", "payment_reference"
    )
    @api.depends_context("company")
    def _compute_efaktura_preview(self):
        relevant = self.filtered(
            lambda m: m.company_id.efaktura_switched_on and m.is_sale_document(include_receipts=False)
        )
        (self - relevant).efaktura_preview_channel = False
        (self - relevant).efaktura_preview_reason = False
        if not relevant:
            return
        no_customer = relevant.filtered(lambda m: not m.partner_id)
        no_customer.efaktura_preview_channel = False
        no_customer.efaktura_preview_reason = self.env._(
            "The route is decided when the invoice is posted and sent: it depends on the customer."
        )
        relevant -= no_customer
        if not relevant:
            return
        previews = self.env["efaktura.chain"]._preview(relevant)
        for move in relevant:
            channel, reasons = previews[move]
            if move.state == "draft":
                reasons = [self.env._("The route is decided when the invoice is posted and sent. As it stands:")]
                reasons += previews[move][1]
            move.efaktura_preview_channel = channel
            move.efaktura_preview_reason = "\n".join(reasons)

    # ------------------------------------------------------------------
    # Queue
    # ------------------------------------------------------------------

    def _efaktura_lock(self, state):
        """The moves still in eFaktura state ``state`` that this transaction can lock; another worker holds the
        others (FOR UPDATE SKIP LOCKED)."""
        self.env["account.move"].flush_model(["efaktura_state"])
        self.env.cr.execute(
            SQL(
                "SELECT id FROM account_move WHERE id IN %s AND efaktura_state = %s FOR UPDATE SKIP LOCKED",
                tuple(self.ids),
                state,
            )
        )
        locked = self.browse([row[0] for row in self.env.cr.fetchall()])
        locked.invalidate_recordset(["efaktura_state"])
        return locked

    def _efaktura_queue(self):
        """Hand posted customer invoices to the chain. Idempotent: queued or waiting ones stay as they are."""
        moves = self.filtered(
            lambda m: (
                m.state == "posted"
                and m.is_sale_document(include_receipts=False)
                and m.company_id.efaktura_switched_on
                and m.efaktura_state not in ("queued", "awaiting_consent", "cancelling")
            )
        )
        if not moves:
            return moves
        moves._efaktura_write({"efaktura_state": "queued", "efaktura_next_try": False, "efaktura_error": False})
        for group in moves._efaktura_by_lang().values():
            group._message_log_batch(
                bodies=dict.fromkeys(group.ids, group.env._("Queued for delivery by eFaktura B2C."))
            )
        self.env["efaktura.chain"]._trigger_dispatch()
        return moves

    def action_efaktura_send(self):
        """Send now through the chain, from the invoice form or the list.

        An invoice already queued (by "Send on post", or waiting for a retry) goes at once; one that waits for the
        customer's consent, or was delivered already, is not sent again, and the user is told why.
        """
        # The chain writes and sends with elevated rights: only those who may change the invoices may send them.
        self.check_access("write")
        moves = self.filtered(lambda m: m.state == "posted" and m.is_sale_document(include_receipts=False))
        if not moves:
            raise UserError(self.env._("Only posted customer invoices and credit notes can be sent by eFaktura B2C."))
        sendable = moves.filtered(lambda m: m.efaktura_state in ("none", "error", "queued"))
        reasons = [move._efaktura_not_sendable_reason() for move in moves - sendable]
        if not sendable:
            raise UserError("\n".join(reasons))
        waiting_retry = sendable.filtered(lambda m: m.efaktura_state == "queued" and m.efaktura_next_try)
        waiting_retry._efaktura_write({"efaktura_next_try": False})
        sendable._efaktura_queue()
        self.env["efaktura.chain"]._dispatch_locked(sendable)
        if not reasons:
            return True
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "warning",
                "title": self.env._("Some invoices were not sent again"),
                "message": "\n".join(reasons),
                "sticky": True,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _efaktura_not_sendable_reason(self):
        self.ensure_one()
        if self.efaktura_state == "awaiting_consent":
            return self.env._(
                "%(invoice)s waits for the customer to approve eFaktura until %(deadline)s; it goes by another "
                "channel after that.",
                invoice=self.name,
                deadline=self.env["efaktura.chain"]._format_when(self.efaktura_deadline),
            )
        return self.env._(
            "%(invoice)s was already delivered by %(channel)s.",
            invoice=self.name,
            channel=self._fields["efaktura_channel"].convert_to_export(self.efaktura_channel, self),
        )

    def action_efaktura_view_deliveries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("l10n_no_efaktura_b2c.efaktura_delivery_action")
        action["domain"] = [("move_id", "=", self.id)]
        action["context"] = {"default_move_id": self.id}
        return action

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        to_queue = posted.filtered(
            lambda m: (
                m.company_id.efaktura_switched_on
                and m.company_id.efaktura_send_on_post
                and m.is_sale_document(include_receipts=False)
                and m.partner_id.with_company(m.company_id).efaktura_b2c_customer
            )
        )
        if to_queue:
            to_queue._efaktura_queue()
        return posted

    def button_draft(self):
        TakeBack = self.env["efaktura.take.back"]
        rest = self - TakeBack._request(self, "draft")
        result = super(AccountMove, rest).button_draft() if rest else True
        TakeBack._forget_deliveries(rest)
        return result

    def button_cancel(self):
        TakeBack = self.env["efaktura.take.back"]
        rest = self - TakeBack._request(self, "cancel")
        result = super(AccountMove, rest).button_cancel() if rest else True
        TakeBack._forget_deliveries(rest)
        return result

    def _efaktura_write(self, vals):
        """Write eFaktura delivery fields of many invoices in one statement.

        These fields carry no accounting meaning, so the accounting checks and the line synchronisation
        of ``account.move.write`` are skipped; that keeps a batch of any size at a fixed number of queries.
        """
        if not self:
            return
        columns = sorted(vals)
        if not all(name.startswith("efaktura_") and self._fields[name].column_type for name in columns):
            raise ValueError(f"_efaktura_write only writes stored eFaktura fields, not {columns}")
        self.flush_recordset(columns)
        context = self.env.context
        if "efaktura_state" in vals and not (context.get("tracking_disable") or context.get("mail_notrack")):
            self.env["efaktura.state.tracking"]._prepare(self)
        assignments = [
            SQL("%s = %s", SQL.identifier(name), self._fields[name].convert_to_column(vals[name], self))
            for name in columns
        ]
        sent = vals.get("efaktura_state") in ("sent", "fallback_sent")
        if sent:
            # Reached the customer: Odoo's own "Sent" flag (the list's Sent column, the secondary Send button)
            # says so too, as after Send & Print. The chain's chatter line already tells how it went.
            self.flush_recordset(["is_move_sent"])
            assignments.append(SQL("is_move_sent = TRUE"))
        assignments = SQL(", ").join(assignments)
        self.env.cr.execute(
            SQL(
                "UPDATE account_move SET %s, write_date = %s, write_uid = %s WHERE id IN %s",
                assignments,
                fields.Datetime.now(),
                self.env.uid,
                tuple(self.ids),
            )
        )
        self.invalidate_recordset(
            [*columns, "write_date", "write_uid", *(("is_move_sent", "move_sent_values") if sent else ())]
        )

    def _message_log_batch(self, bodies, *args, **kwargs):
        """The eFaktura status change is shown under the last line logged on the invoice (see
        ``efaktura.state.tracking``), not as a line of its own."""
        messages = super()._message_log_batch(bodies, *args, **kwargs)
        if not kwargs.get("tracking_value_ids"):
            self.env["efaktura.state.tracking"]._logged(messages)
        return messages

    def _efaktura_by_lang(self):
        """The moves grouped by the language of the chatter lines and tasks the module writes on them (crons,
        callbacks and public pages included): the customer's, else the company's. Each group's environment
        speaks that language."""
        return {
            lang: moves.with_context(lang=lang)
            for lang, moves in self.grouped(
                lambda m: (
                    m.partner_id._efaktura_lang(m.company_id)
                    if m.partner_id
                    else m.company_id.partner_id.lang or self.env.lang or "en_US"
                )
            ).items()
        }

    def _mail_track(self, tracked_fields, initial_values):
        """Tracked values of a customer invoice (the eFaktura B2C status among them) in the language of the
        module's other chatter lines on it: the customer's, else the company's, whoever made the change."""
        initial_values = self.env["efaktura.state.tracking"]._leave_to_module(self, initial_values)
        if "efaktura_state" in tracked_fields and self.is_sale_document() and self.partner_id:
            lang = self.partner_id._efaktura_lang(self.company_id)
            if lang != self.env.lang:
                move = self.with_context(lang=lang)
                tracked_fields = move.fields_get(
                    list(tracked_fields), attributes=("string", "type", "selection", "currency_field")
                )
                return super(AccountMove, move)._mail_track(tracked_fields, initial_values)
        return super()._mail_track(tracked_fields, initial_values)

    def _efaktura_log(self, bodies):
        """Chatter lines for many moves in one go; ``bodies`` maps move id to text."""
        if bodies:
            self.browse(list(bodies))._message_log_batch(
                bodies={move_id: Markup("%s") % body for move_id, body in bodies.items()}
            )

    # ------------------------------------------------------------------
    # Document links
    # ------------------------------------------------------------------

    def _efaktura_document_signature(self, expires, revision=None):
        """Signs the invoice, its revision and the expiry: a reset, edit and repost makes a new revision, whose
        document an old link no longer reaches."""
        revision = self.efaktura_revision if revision is None else revision
        return hmac_sign(self.env(su=True), "l10n_no_efaktura_b2c.document", f"{self.id}:{revision}:{expires}")

    def _efaktura_document_expiry(self):
        """The end of the link's life: some months after the due date, or after today once that is past."""
        self.ensure_one()
        start = max(filter(None, (self.invoice_date_due, fields.Date.context_today(self))))
        last_day = start + relativedelta(months=DOCUMENT_LINK_MONTHS_AFTER_DUE)
        return int(datetime.combine(last_day, day_time.max).timestamp())

    def _efaktura_document_url(self, ttl=None):
        """A signed link to this revision's PDF that needs no login and expires; nothing is written to the database.

        ``ttl`` (seconds from now) overrides the expiry computed from the due date.
        """
        self.ensure_one()
        expires = int(time.time()) + ttl if ttl is not None else self._efaktura_document_expiry()
        token = f"{self.efaktura_revision}.{expires}.{self._efaktura_document_signature(expires)}"
        return f"{self.get_base_url()}/efaktura/document/{self.id}/{token}"

    def _efaktura_check_document_token(self, token):
        """The token is this invoice's, of its current revision, and has not expired. A draft (being edited) is
        never served."""
        self.ensure_one()
        match = DOCUMENT_TOKEN_RE.fullmatch(token or "")
        if not match:
            return False
        revision, expires, signature = int(match["revision"]), int(match["expires"]), match["signature"]
        if expires < time.time() or revision != self.efaktura_revision or self.state == "draft":
            return False
        return consteq(signature, self._efaktura_document_signature(expires, revision))

    def _efaktura_document_pdf(self):
        """The invoice PDF: the one Odoo stored when it was sent, else freshly rendered."""
        self.ensure_one()
        if self.invoice_pdf_report_id:
            return self.invoice_pdf_report_id.raw, self.invoice_pdf_report_id.name
        report = self.partner_id.invoice_template_pdf_report_id or self.env.ref("account.account_invoices")
        pdf, _type = (
            self.env["ir.actions.report"].with_company(self.company_id)._render_qweb_pdf(report.report_name, self.ids)
        )
        return pdf, self._get_invoice_report_filename()

    def _efaktura_ubl_file(self, embed_pdf=True):
        """``(filename, xml)``: the invoice or credit note as Peppol BIS 3.0 / EHF, by account_edi_ubl_cii.

        Odoo's own generator writes it (PaymentMeans/PaymentID is the move's own payment reference: the KID of
        an invoice, never the one of the invoice a credit note credits), and Odoo's Send & Print step embeds
        the PDF as an AdditionalDocumentReference (unless ``embed_pdf`` is False).
        """
        self.ensure_one()
        builder = self.env["account.edi.xml.ubl_bis3"].with_company(self.company_id)
        xml, errors = builder._export_invoice(self)
        if errors:
            _logger.info("EHF of %s has remarks: %s", self.name, "; ".join(sorted(map(str, errors))))
        if not embed_pdf:
            return builder._export_invoice_filename(self), xml
        pdf, pdf_name = self._efaktura_document_pdf()
        invoice_data = {
            "ubl_cii_xml_attachment_values": {"raw": xml},
            "ubl_cii_xml_options": {"builder": builder},
            "pdf_attachment_values": {"name": pdf_name, "raw": pdf, "mimetype": "application/pdf"},
        }
        self.env["account.move.send"]._postprocess_invoice_ubl_xml(self, invoice_data)
        return builder._export_invoice_filename(self), invoice_data["ubl_cii_xml_attachment_values"]["raw"]

    # ------------------------------------------------------------------
    # KID per sales journal
    # ------------------------------------------------------------------

    def _get_kid_number(self):
        """The KID in the journal's length and algorithm, from l10n_no's digits (partner id, invoice
        number); with the defaults, 15 digits and MOD10, it is l10n_no's KID exactly."""
        self.ensure_one()
        return self.journal_id._efaktura_make_kid(self.partner_id.id, self.name)

    def _efaktura_kid_problem(self):
        """An empty string when the payment reference is a KID in the journal's length and algorithm,
        else the reason it is not."""
        self.ensure_one()
        return self.journal_id._efaktura_kid_problem(self.payment_reference)
