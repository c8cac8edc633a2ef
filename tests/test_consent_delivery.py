"""What really went out for a consent request: read back from Odoo's SMS queue and mail queue.

SMS failures come from Odoo's own IAP mock (``MockSMS``: the gateway answering "insufficient_credit",
"wrong_number_format", ...), e-mail failures from an SMTP server that cannot be reached.
"""

import smtplib
from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.sms.tests.common import MockSMS

from .. import compat
from .common import RealQueues
from .test_consent import ConsentCase

QUIET = ("odoo.addons.mail.models.mail_mail", "odoo.addons.sms.models.sms_sms")


def smtp_down(*args, **kwargs):
    raise smtplib.SMTPConnectError(421, "Service not available")


@tagged("post_install", "-at_install")
class TestConsentDelivery(RealQueues, MockSMS, ConsentCase):
    def send_sms_queue(self, error=None):
        with self.mockSMSGateway(sim_error=error):
            compat.run_cron(self, self.env.ref("sms.ir_cron_sms_scheduler_action"))

    def send_mail_queue(self, failing=False):
        mails = self.env["mail.mail"].sudo().search([("model", "=", "efaktura.consent"), ("state", "=", "outgoing")])
        if failing:
            with patch.object(self.registry["ir.mail_server"], compat.MAIL_SERVER_CONNECT, side_effect=smtp_down):
                mails.send()
        else:
            mails.send()

    def test_sms_and_email_sent(self):
        move = self.request_consent()
        consent = self.consent_of(self.ingrid)
        self.assertEqual((consent.sms_state, consent.mail_state), ("queued", "queued"))
        self.assertTrue(consent.sms_id and consent.mail_id)
        self.send_sms_queue()
        self.send_mail_queue()
        self.assertEqual((consent.sms_state, consent.mail_state), ("sent", "sent"))
        self.assertEqual(consent.state, "sent")
        self.assertEqual(move.efaktura_state, "awaiting_consent")

    @mute_logger(*QUIET)
    def test_sms_failure_is_shown_and_told(self):
        move = self.request_consent()
        consent = self.consent_of(self.ingrid)
        self.send_sms_queue(error="credit")
        self.assertEqual(consent.sms_id.state, "error")
        self.assertEqual(consent.sms_id.failure_type, "sms_credit")
        self.assertEqual((consent.sms_state, consent.sms_error), ("failed", "Insufficient Credit"))
        note = self.ingrid.message_ids[0].body
        self.assertIn("The eFaktura request SMS to +4791345678 failed: Insufficient Credit", note)
        self.send_mail_queue()
        self.assertEqual(consent.mail_state, "sent")
        self.assertEqual(move.efaktura_state, "awaiting_consent", "the e-mail reached the customer: the deadline holds")

    @mute_logger(*QUIET)
    def test_neither_reached_sends_the_invoice_on_at_once(self):
        move = self.request_consent()
        consent = self.consent_of(self.ingrid)
        self.send_sms_queue(error="wrong_number_format")
        self.assertEqual(move.efaktura_state, "awaiting_consent", "the e-mail may still go")
        self.send_mail_queue(failing=True)
        self.assertEqual((consent.sms_state, consent.mail_state), ("failed", "failed"))
        self.assertEqual(consent.sms_error, "Wrong Number Format")
        self.assertEqual(consent.state, "failed")
        self.assertEqual(self.ingrid.with_company(self.company).efaktura_state, "not_checked")
        self.assertEqual(move.efaktura_state, "queued", "not held until the deadline")
        self.assertIn("reached the customer neither by SMS nor by e-mail", move.message_ids[0].body)
        self.env["efaktura.chain"]._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("fallback_sent", "email"))

    def request_now(self, partner, error=None):
        partner = partner.with_company(self.company).with_context(allowed_company_ids=[self.company.id])
        with self.mockSMSGateway(sim_error=error):
            return partner.action_efaktura_request_consent()["params"]

    @mute_logger(*QUIET)
    def test_request_now_without_email_says_what_went_out(self):
        answer = self.request_now(self.per, error="credit")
        self.assertNotIn("SMS and e-mail", answer["message"])
        self.assertIn("SMS failed (Insufficient Credit), no e-mail address", answer["message"])
        self.assertEqual(answer["type"], "warning")
        consent = self.consent_of(self.per)
        self.assertEqual((consent.state, consent.sms_state, consent.mail_state), ("failed", "failed", "none"))
        self.assertEqual(self.per.with_company(self.company).efaktura_state, "not_checked")
        # Once the SMS credit is there, the user asks again and is told it went.
        answer = self.request_now(self.per)
        self.assertIn("SMS sent, no e-mail address", answer["message"])
        consent = self.consent_of(self.per)
        self.assertEqual((consent.state, consent.sms_state), ("sent", "sent"))
        self.assertEqual(self.per.with_company(self.company).efaktura_state, "consent_requested")
