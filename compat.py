"""What differs between Odoo 18.0 and 19.0, in one place.

The module runs on both series from one codebase. Everything that is spelled differently on the two is named
here once, and the rest of the module uses these names: no other file asks which series it runs on.
"""

import threading

from odoo import models
from odoo.release import version_info

SERIES = version_info[0]
ODOO_19 = SERIES >= 19

# The customer's Norwegian mobile number. 18.0 keeps a mobile beside the phone; 19.0 keeps one number, the phone,
# which is the number Odoo 19 sends its SMS to. An 18.0 database brings its mobiles along (see the migration
# 19.0.1.0.3).
PARTNER_MOBILE = "phone" if ODOO_19 else "mobile"

# The groups of users, menus and actions (groups_id on 18.0, group_ids on 19.0).
GROUPS = "group_ids" if ODOO_19 else "groups_id"
# A group's users, those of the groups that imply it included (18.0 keeps them all in users).
GROUP_USERS = "all_user_ids" if ODOO_19 else "users"

if ODOO_19:
    from odoo.fields import Domain
    from odoo.service.model import call_kw as _call_kw
    from odoo.tools.mail import email_normalize, email_split_and_format_normalize, formataddr

    Constraint = models.Constraint

    def domain_or(domains):
        return list(Domain.OR(domains))

    def domain_and(domains):
        return list(Domain.AND(domains))

    def commit_progress(env, processed, remaining):
        """Commit a cron's batch and report its progress."""
        env["ir.cron"]._commit_progress(processed, remaining=remaining)

    def web_read_group(model, domain, aggregates, groupby):
        """The groups a list or graph view reads: {"groups": [...], "length": n}."""
        return model.web_read_group(domain, groupby, aggregates)

else:
    from odoo.api import call_kw as _call_kw
    from odoo.osv import expression

    class Constraint:
        """models.Constraint of 19.0 on 18.0: declared the same way, a class attribute whose name (without its
        leading underscore) names the constraint, and added to the model's _sql_constraints."""

        def __init__(self, definition, message=""):
            self.definition = definition
            self.message = message

        def __set_name__(self, owner, name):
            own = list(owner.__dict__.get("_sql_constraints", []))
            own.append((name[1:], self.definition, self.message))
            owner._sql_constraints = own

    def domain_or(domains):
        return expression.OR(domains)

    def domain_and(domains):
        return expression.AND(domains)

    def commit_progress(env, processed, remaining):
        """Commit a cron's batch and report its progress."""
        progress = env["ir.cron.progress"].sudo().browse(env.context.get("ir_cron_progress_id"))
        done = (progress.done if progress.exists() else 0) + processed
        env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        env.cr.commit()  # pylint: disable=invalid-commit  # one batch per transaction, as 19.0's _commit_progress

    def web_read_group(model, domain, aggregates, groupby):
        """The groups a list or graph view reads: {"groups": [...], "length": n}."""
        return model.web_read_group(domain, aggregates, groupby)


def message_author(thread, author_id=None, email_from=None, raise_on_email=True):
    """mail.thread._message_compute_author: (author id, email_from). 19.0 never raises for a missing address, and
    no longer takes raise_on_email."""
    if ODOO_19:
        return thread._message_compute_author(author_id, email_from)
    return thread._message_compute_author(author_id, email_from, raise_on_email=raise_on_email)


def run_cron(case, cron):
    """Run a cron from a test as Odoo's scheduler runs it. 19.0 runs it in a cursor of its own, which a test that
    is not an HttpCase must route to the test's cursor (enter_registry_test_mode); 18.0 runs it in the current one."""
    if ODOO_19 and not case._registry_patched:
        with case.enter_registry_test_mode():
            return cron.method_direct_trigger()
    return cron.method_direct_trigger()


def logged_message_values(env):
    """What mail.thread._message_log gives every message it logs on a document, apart from the document, the body
    and the tracking values (19.0 dropped record_name and gives the author to the reply-to)."""
    thread = env["mail.thread"]
    author_id, email_from = message_author(thread, raise_on_email=False)
    if ODOO_19:
        reply_to = thread._notify_get_reply_to(default=email_from, author_id=author_id)[False]
    else:
        reply_to = thread._notify_get_reply_to(default=email_from)[False]
    values = {
        "author_id": author_id,
        "email_from": email_from,
        "record_alias_domain_id": False,
        "record_company_id": False,
        "message_type": "notification",
        "is_internal": True,
        "subtype_id": env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
        "email_add_signature": False,
        "reply_to": reply_to,
    }
    if not ODOO_19:
        values["record_name"] = False
    return values


# ir.mail_server's SMTP connection, which tests make fail.
MAIL_SERVER_CONNECT = "_connect__" if ODOO_19 else "connect"


def new_browser(case):
    """A requests session as another browser opens one, for an HttpCase: none of the test's cookies. On 19.0 its
    requests are let through to the test's transaction as the test's own opener's are (allow_requests and the
    test cursor cookie), the cookie being the only one it sends."""
    import requests  # tests only

    if not ODOO_19:
        return requests.Session()
    from odoo.tests.common import TEST_CURSOR_COOKIE_NAME  # tests only

    class Browser(requests.Session):
        def request(self, *args, **kwargs):
            case.cr.flush()
            case.cr.clear()
            with case.allow_requests():
                self.cookies.set(TEST_CURSOR_COOKIE_NAME, case.http_request_key)
                return super().request(*args, **kwargs)

    return Browser()


class _SmtpServerTakingAll:
    """An SMTP server that takes every e-mail, as Odoo's own MockSmtplibCase has one."""

    def __init__(self, *args, **kwargs):
        pass

    def set_debuglevel(self, level):
        pass

    def starttls(self, *args, **kwargs):
        pass

    def login(self, user, password):
        pass

    def ehlo_or_helo_if_needed(self):
        pass

    def send_message(self, message, smtp_from, smtp_to_list):
        return {}

    def quit(self):
        pass


def mail_queue_patchers(env):
    """What a test starts (startClassPatcher) to have Odoo's mail queue send its e-mails as in production, to a
    mail server that takes them all. 18.0 sends them in tests, skipping only the SMTP exchange; 19.0 skips the
    whole sending in tests (mail.mail._send returns at once, the e-mails stay outgoing) unless sending is enabled,
    so there the SMTP connection is a stand-in instead."""
    if not ODOO_19:
        return []
    from unittest.mock import patch  # tests only

    return [
        patch.object(type(env["ir.mail_server"]), "_disable_send", lambda self: False),
        patch("smtplib.SMTP", _SmtpServerTakingAll),
        patch("smtplib.SMTP_SSL", _SmtpServerTakingAll),
    ]


def call_kw(model, name, args, kwargs):
    """A call as the web client's /web/dataset/call_kw makes it."""
    return _call_kw(model, name, args, kwargs)


# ----------------------------------------------------------------------------------------------------------------
# Posting in batches: what message_post, _notify_thread and Send & Print's _send_mail(s) do differently on the two
# series, for efaktura.mail.batch and snailmail.letter._efaktura_create_batch.
# ----------------------------------------------------------------------------------------------------------------

# The message types message_post's e-mail references take last (after the public discussion).
REFERENCES_LAST_TYPES = ("user_notification", "out_of_office") if ODOO_19 else ("user_notification",)


def invoice_mail_author(move, author_id, email_from):
    """account.move.send._send_mails: the author and sender it gives _send_mail for an invoice, as keyword
    arguments. 19.0 finds the author from the template's sender there, and lets the author be notified when
    among the recipients; 18.0 leaves the author to message_post."""
    if not ODOO_19:
        return {"author_id": author_id, "email_from": email_from}
    if email_from or not author_id:
        author_id, email_from = move._message_compute_author(email_from=email_from)
    return {"author_id": author_id, "email_from": email_from, "notify_author_mention": True}


def send_mail_post(kwargs):
    """account.move.send._send_mail(move, template, **kwargs): (the context it posts the message in, the keyword
    arguments it gives message_post besides its own)."""
    kwargs = dict(kwargs)
    if ODOO_19:
        return {"email_notification_allow_footer": True, "disable_attachment_import": True, "no_document": True}, kwargs
    author_id = kwargs.pop("author_id")
    context = {
        "no_document": True,
        "no_new_invoice": True,
        "mail_notify_author": author_id in kwargs.get("partner_ids", []),
        "email_notification_allow_footer": True,
    }
    return context, kwargs


def post_record_values(records):
    """The values message_post gives each record's message besides the ones both series give: {id: values}.
    18.0 stores the record's name; 19.0 the e-mail addresses notified outside Odoo (none here)."""
    if ODOO_19:
        empty = {"incoming_email_to": False, "incoming_email_cc": False, "outgoing_email_to": False}
        return {record.id: dict(empty) for record in records}
    return {record.id: {"record_name": record.display_name} for record in records.sudo()}


def message_parents(records):
    """message_post's parent for a message without one (_message_compute_parent_id), for all the records of one
    model at once: {res_id: message id}. On a flat thread, 18.0 takes the record's first message; 19.0 its latest
    comment or e-mail, else its latest message, among its 200 latest."""
    if not records or not records._mail_flat_thread:
        return {}
    records.env["mail.message"].flush_model(["model", "res_id", "message_type", "date", "create_date"])
    if ODOO_19:
        query = """
            SELECT DISTINCT ON (res_id) res_id, id
              FROM (SELECT res_id, id, message_type, date, create_date,
                           row_number() OVER (PARTITION BY res_id ORDER BY date DESC, id DESC) AS latest
                      FROM mail_message
                     WHERE model = %s AND res_id IN %s AND message_type != 'user_notification') AS m
             WHERE latest <= 200
          ORDER BY res_id, message_type IN ('comment', 'email') DESC, COALESCE(date, create_date) DESC, id DESC"""
    else:
        query = """
            SELECT res_id, MIN(id) FROM mail_message
             WHERE model = %s AND res_id IN %s AND message_type != 'user_notification'
          GROUP BY res_id"""
    records.env.cr.execute(query, [records._name, tuple(set(records.ids))])
    return dict(records.env.cr.fetchall())


def parent_after_post(parent, message):
    """The parent message_post gives the next message without one on a record, once ``message`` is posted on it
    under ``parent`` (the parent before, maybe none): on 18.0 the record's first message, on 19.0 its latest
    comment or e-mail, else its latest message."""
    if ODOO_19:
        discussion = ("comment", "email")
        if parent and parent.message_type in discussion and message.message_type not in discussion:
            return parent
        return message
    return parent or message


def reply_to(records, defaults, author_ids):
    """_notify_get_reply_to for each record with its own default (and, on 19.0, author): {res_id: reply-to}."""
    if ODOO_19:
        return records._notify_get_reply_to_batch(defaults=defaults, author_ids=author_ids)
    result = {}
    by_default = {}
    for res_id, default in defaults.items():
        by_default.setdefault(default, []).append(res_id)
    for default, ids in by_default.items():
        result.update(records.browse(ids)._notify_get_reply_to(default=default))
    return result


def author_to_subscribe(thread, msg_values):
    """Whom message_post makes follow the record after posting (the real author), or no partner."""
    Partner = thread.env["res.partner"]
    if ODOO_19:
        if (
            thread.env.context.get("mail_post_autofollow_author_skip")
            or msg_values["message_type"] in ("notification", "user_notification", "auto_comment", "out_of_office")
            or msg_values["subtype_id"] != thread.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        ):
            return Partner
        real_author = thread._message_compute_real_author(msg_values["author_id"])
        return real_author if real_author and not real_author.partner_share else Partner
    if thread.env.context.get("mail_create_nosubscribe") or msg_values["message_type"] == "notification":
        return Partner
    if thread.env.user.active:
        return thread.env.user.partner_id
    author = Partner.browse(msg_values["author_id"] or [])
    return author if author.active else Partner


def skipped_author(thread, msg_values, notify):
    """_notify_get_recipients: the partner not notified of their own message (the real author), or False."""
    context = thread.env.context
    if notify.get("notify_author") or context.get("mail_notify_author"):
        return False
    if ODOO_19:
        mention = notify.get("notify_author_mention") or context.get("mail_notify_author_mention")
        skipped = thread._message_compute_real_author(msg_values["author_id"]).id
        return False if mention and skipped in msg_values["partner_ids"] else skipped
    return thread.env.user.partner_id.id if thread.env.user.active else msg_values["author_id"]


def notify_out_of_office(thread, message, recipients_data, msg_values, notify):
    """_notify_thread's out-of-office replies (19.0; 18.0 has none)."""
    if ODOO_19:
        thread._notify_thread_with_out_of_office(message, recipients_data, msg_vals=msg_values, **notify)


def group_recipients(recipients_group):
    """_notify_thread_by_email: (partner ids, e-mail addresses) a recipients group's e-mails go to."""
    if ODOO_19:
        return recipients_group["recipients_ids"], recipients_group["recipients_emails"]
    return recipients_group.pop("recipients"), []


def notification_headers(thread, message, recipients_data):
    """_notify_by_email_get_base_mail_values: the headers besides Return-Path. 19.0 names the customers
    notified besides the addressee (X-Msg-To-Add), for Reply-All."""
    headers = {}
    if ODOO_19:
        external = [r for r in recipients_data if r["active"] and r["email_normalized"] and r["share"]]
        external_emails = [formataddr((r["name"], r["email_normalized"])) for r in external]
        normalized = [r["email_normalized"] for r in external]
        message_sudo = message.sudo()
        external_emails += list(
            {
                email
                for email in email_split_and_format_normalize(
                    f"{message_sudo.incoming_email_to or ''},{message_sudo.incoming_email_cc or ''}"
                )
                if email_normalize(email) not in normalized
            }
        )
        if external_emails and len(external_emails) < thread._CUSTOMER_HEADERS_LIMIT_COUNT:
            headers["X-Msg-To-Add"] = ",".join(external_emails)
    return headers


def send_notification_emails(emails):
    """_notify_thread_by_email's sending, once it decided to send now (force_send, under the limit)."""
    if ODOO_19:
        emails.send_after_commit()
        return
    test_mode = getattr(threading.current_thread(), "testing", False)
    if not emails.pool._init or test_mode:
        if test_mode:
            emails.send()
        else:
            emails.send_after_commit()


def check_attachments_read(attachments):
    """snailmail.letter.create's read check of the letters' documents."""
    if ODOO_19:
        attachments.check_access("read")
    else:
        attachments.check("read")
