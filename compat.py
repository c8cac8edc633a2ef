"""What differs between Odoo 18.0 and 19.0, in one place.

The module runs on both series from one codebase. Everything that is spelled differently on the two is named
here once, and the rest of the module uses these names: no other file asks which series it runs on.
"""

from unittest.mock import patch

from odoo import models
from odoo.release import version_info

SERIES = version_info[0]
ODOO_19 = SERIES >= 19

# The customer's Norwegian mobile number. 18.0 keeps a mobile beside the phone; 19.0 keeps one number, the phone,
# which is the number Odoo 19 sends its SMS to. An 18.0 database brings its mobiles along (see the migration
# 19.0.1.0.3).
PARTNER_MOBILE = "phone" if ODOO_19 else "mobile"

# The e-mail and post fallbacks post their chatter messages for a whole batch at once (efaktura.mail.batch,
# snailmail.letter._efaktura_create_batch), with the values message_post computes. That code follows 18.0's
# message_post, which 19.0 changed (no record_name, new recipient fields, another notification layout): on 19.0 the
# fallbacks post one message per invoice with Odoo's own code, which is slower but the same for the customer.
BATCHED_POSTING = not ODOO_19

# The groups of users, menus and actions (groups_id on 18.0, group_ids on 19.0).
GROUPS = "group_ids" if ODOO_19 else "groups_id"
# A group's users, those of the groups that imply it included (18.0 keeps them all in users).
GROUP_USERS = "all_user_ids" if ODOO_19 else "users"

if ODOO_19:
    from odoo.fields import Domain
    from odoo.service.model import call_kw as _call_kw

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
    """A requests session as another browser opens one, for an HttpCase: none of the test's cookies, except, on
    19.0, the one its test server needs to run the request in the test's transaction."""
    import requests  # tests only

    session = requests.Session()
    if ODOO_19:
        from odoo.tests.common import TEST_CURSOR_COOKIE_NAME  # tests only

        if key := case.opener.cookies.get(TEST_CURSOR_COOKIE_NAME):
            session.cookies.set(TEST_CURSOR_COOKIE_NAME, key)
    return session


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
    return [
        patch.object(type(env["ir.mail_server"]), "_disable_send", lambda self: False),
        patch("smtplib.SMTP", _SmtpServerTakingAll),
        patch("smtplib.SMTP_SSL", _SmtpServerTakingAll),
    ]


def call_kw(model, name, args, kwargs):
    """A call as the web client's /web/dataset/call_kw makes it."""
    return _call_kw(model, name, args, kwargs)
