"""Chaos after the hand-off (run by ``odoo-bin shell``): 30% of e-mails, SMS and letters fail once Odoo has them.

The outside world is replaced at its edge only, where Odoo itself talks to it: the SMTP server
(``ir.mail_server.connect`` / ``send_email``), the SMS gateway (``SmsApi._contact_iap``) and the snailmail
service (``iap_jsonrpc``); each refuses 30% of what it gets, with the error codes Odoo knows. Odoo's own
queues then run as their crons do (mail queue, SMS queue, snailmail cron) and set the failure states; the
chain reads them back. The invoice PDF is a fixed one-page PDF here (real rendering is covered by
``TestPdfRendering``), so that the run measures the hand-off, not wkhtmltopdf.

Between rounds time moves forward: retries and consent deadlines become due. Prints ``CHAOS_HANDOFF <json>``.
"""

import io
import json
import os
import random
import smtplib
import sys
from unittest.mock import patch

from odoo.tools.pdf import PdfFileWriter

from odoo.addons.account.models.account_move_send import AccountMoveSend
from odoo.addons.base.models.ir_mail_server import IrMailServer
from odoo.addons.sms.tools.sms_api import SmsApi
from odoo.addons.snailmail.models.snailmail_letter import SnailmailLetter

env = globals()["env"]  # provided by odoo-bin shell
# This run is about what Odoo's own mail, SMS and snailmail queues do after the hand-off: the company sends as in
# production, not into the Test mode's test phone and inbox.
type(env["res.company"])._efaktura_test_outbox = lambda self: {}
company = env["res.company"].search([("name", "=", "Chaos Elektro AS")], limit=1)
rng = random.Random(int(os.environ.get("CHAOS_SEED", "5")))
RATE = float(os.environ.get("CHAOS_HANDOFF_RATE", "0.3"))
injected = {"mails": 0, "mails_failed": 0, "sms": 0, "sms_failed": 0, "letters": 0, "letters_failed": 0}


def _one_page_pdf():
    writer = PdfFileWriter()
    writer.addBlankPage(595, 842)
    stream = io.BytesIO()
    writer.write(stream)
    return stream.getvalue()


PDF = _one_page_pdf()


class Session:
    def quit(self):
        pass


def connect(*args, **kwargs):
    return Session()


def send_email(self, message, *args, **kwargs):
    injected["mails"] += 1
    if rng.random() < RATE:
        injected["mails_failed"] += 1
        raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"5.1.1 Mailbox unavailable")})
    return message["Message-Id"]


def contact_iap(endpoint, params):
    results = []
    for message in params["messages"]:
        for number in message["numbers"]:
            injected["sms"] += 1
            state = "success"
            if rng.random() < RATE:
                injected["sms_failed"] += 1
                state = rng.choice(("insufficient_credit", "wrong_number_format", "server_error"))
            results.append({"uuid": number["uuid"], "state": state, "credit": 1})
    return results


def snailmail_create(letters, route):
    return {"documents": [{"letter_id": letter.id} for letter in letters], "options": {}}


def iap_jsonrpc(url, params=None, timeout=None):
    documents = []
    for doc in params["documents"]:
        injected["letters"] += 1
        if rng.random() < RATE:
            injected["letters_failed"] += 1
            error = rng.choice(("CREDIT_ERROR", "FORMAT_ERROR", "NO_PRICE_AVAILABLE", "UNKNOWN_ERROR"))
            documents.append({"letter_id": doc["letter_id"], "sent": False, "error": error})
        else:
            documents.append({"letter_id": doc["letter_id"], "sent": True, "send_id": rng.randrange(10**6)})
    return {"request_code": 200, "total_cost": len(documents), "request": {"documents": documents}}


def fixed_pdf(self, invoices_data):
    for invoice, invoice_data in invoices_data.items():
        invoice_data["pdf_attachment_values"] = {
            "name": invoice._get_invoice_report_filename(),
            "raw": PDF,
            "mimetype": "application/pdf",
            "res_model": invoice._name,
            "res_id": invoice.id,
            "res_field": "invoice_pdf_report_file",
        }


def commit():
    env.cr.commit()  # pylint: disable=invalid-commit
    env.invalidate_all()


def open_work():
    env.cr.execute(
        """SELECT (SELECT count(*) FROM account_move WHERE company_id = %(c)s AND efaktura_state IN
                   ('queued', 'awaiting_consent')),
                  (SELECT count(*) FROM mail_mail WHERE state = 'outgoing'),
                  (SELECT count(*) FROM sms_sms WHERE state = 'outgoing'),
                  (SELECT count(*) FROM snailmail_letter WHERE state = 'pending')""",
        {"c": company.id},
    )
    return env.cr.fetchone()


rounds = 0
with (
    patch.object(IrMailServer, "connect", connect),
    patch.object(IrMailServer, "send_email", send_email),
    patch.object(SmsApi, "_contact_iap", staticmethod(contact_iap)),
    patch.object(SnailmailLetter, "_snailmail_create", snailmail_create),
    patch("odoo.addons.iap.tools.iap_tools.iap_jsonrpc", iap_jsonrpc),
    patch.object(AccountMoveSend, "_prepare_invoice_pdf_report", fixed_pdf),
):
    while rounds < 40:
        rounds += 1
        env["efaktura.chain"]._cron_dispatch(batch_size=int(os.environ.get("CHAOS_BATCH", "25")), time_budget=3600)
        commit()
        env["mail.mail"].process_email_queue()
        commit()
        env["sms.sms"]._process_queue()
        commit()
        env["snailmail.letter"]._snailmail_cron()
        commit()
        env["efaktura.delivery"]._cron_read_back()
        commit()
        if rounds >= 2:
            # Time passes: the consent deadlines of requests that did reach someone run out.
            env.cr.execute(
                """UPDATE efaktura_consent SET deadline = now() at time zone 'UTC' - interval '1 second'
                    WHERE company_id = %s AND state IN ('draft', 'sent')""",
                [company.id],
            )
            env.cr.execute(
                """UPDATE account_move SET efaktura_deadline = now() at time zone 'UTC' - interval '1 second'
                    WHERE company_id = %s AND efaktura_state = 'awaiting_consent'""",
                [company.id],
            )
            commit()
            env["efaktura.chain"]._cron_deadlines()
            commit()
        # Retries are due.
        env.cr.execute(
            """UPDATE account_move SET efaktura_next_try = now() at time zone 'UTC' - interval '1 second'
                WHERE company_id = %s AND efaktura_state = 'queued' AND efaktura_next_try IS NOT NULL""",
            [company.id],
        )
        commit()
        if not any(open_work()):
            break
env.cr.execute(
    """SELECT channel || ':' || state || ':' || COALESCE(error_code, '-'), count(*) FROM efaktura_delivery
        WHERE company_id = %s AND channel IN ('email', 'post') GROUP BY 1 ORDER BY 1""",
    [company.id],
)
outcomes = dict(env.cr.fetchall())
env.cr.execute(
    """SELECT COALESCE(sms_state, '-') || '/' || COALESCE(mail_state, '-'), count(*) FROM efaktura_consent
        WHERE company_id = %s GROUP BY 1 ORDER BY 1""",
    [company.id],
)
consent_outcomes = dict(env.cr.fetchall())
result = {
    "rounds": rounds,
    "calls": injected["mails"] + injected["sms"] + injected["letters"],
    "faults": injected["mails_failed"] + injected["sms_failed"] + injected["letters_failed"],
    "injected": injected,
    "handoff_outcomes": outcomes,
    "consent_outcomes": consent_outcomes,
    "open_work": list(open_work()),
}
sys.stdout.write("CHAOS_HANDOFF " + json.dumps(result, sort_keys=True) + "\n")
