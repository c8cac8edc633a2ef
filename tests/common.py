from unittest.mock import patch
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict
from werkzeug.test import Client as WerkzeugClient

from odoo import Command, fields, http
from odoo.tests import TransactionCase, new_test_user
from odoo.tests.common import _super_send

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .. import compat
from ..compat import PARTNER_MOBILE as MOBILE


class EfakturaCase(TransactionCase):
    """A Norwegian company with eFaktura enabled, a billing user and a consumer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env["res.company"].create(
            {
                "name": "Nordlys Elektro AS",
                "country_id": cls.env.ref("base.no").id,
                "currency_id": cls.env.ref("base.NOK").id,
                "email": "faktura@nordlys.example.com",
                "company_registry": "123456785",
            }
        )
        cls.company.efaktura_switched_on = True
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))
        cls.billing_user = new_test_user(
            cls.env,
            login="efaktura_billing",
            groups="account.group_account_invoice,base.group_partner_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.consumer = cls.env["res.partner"].create(
            {
                "name": "Kari Nordmann",
                "email": "kari@example.com",
                MOBILE: "912 34 567",
                "street": "Storgata 1",
                "zip": "0155",
                "city": "Oslo",
                "country_id": cls.env.ref("base.no").id,
            }
        )

    @staticmethod
    def as_user(record, user):
        """The record as the user sees it, in the user's own companies."""
        return record.with_user(user).with_context(allowed_company_ids=user.company_ids.ids)

    @classmethod
    def enable_b2c(cls, partner, **extra):
        partner.write({"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno", **extra})
        return partner


class EfakturaInvoiceCase(AccountTestInvoicingCommon):
    """A Norwegian company with an active issuer agreement in sandbox mode, KID invoices and one consumer
    per path of the chain: Vipps, nettbank (JTTA), e-mail, post and manual."""

    @classmethod
    @AccountTestInvoicingCommon.setup_country("no")
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.company_data["company"]
        cls.company.write(
            {
                "efaktura_switched_on": True,
                "efaktura_network_mode": "sandbox",
                "efaktura_issuer_org_number": "123456785",
                "efaktura_billing_account": "86011117947",
                "efaktura_contact_email": "faktura@nordlys.example.com",
                "email": "faktura@nordlys.example.com",
            }
        )
        cls.company.efaktura_issuer_state = "active"
        cls.company_data["default_journal_sale"].invoice_reference_model = "no"
        cls.payment_term = cls.env.ref("account.account_payment_term_30days")
        address = {"street": "Storgata 1", "zip": "0155", "city": "Oslo", "country_id": cls.env.ref("base.no").id}
        Partner = cls.env["res.partner"]
        b2c = {"efaktura_receive_edocuments": True, "efaktura_access_point": "b2cno"}
        cls.kari = Partner.create(
            {"name": "Kari Nordmann", MOBILE: "412 34 567", "email": "kari@example.com", **address, **b2c}
        )
        cls.ola = Partner.create(
            {"name": "Ola Nordmann", MOBILE: "900 11 222", "email": "ola@example.com", **address, **b2c}
        )
        cls.ingrid = Partner.create(
            {"name": "Ingrid Hansen", MOBILE: "913 45 678", "email": "ingrid@example.com", **address, **b2c}
        )
        cls.per = Partner.create({"name": "Per Olsen", MOBILE: "924 56 789", **address, **b2c})
        cls.siri = Partner.create(
            {"name": "Siri Berg", MOBILE: "935 67 890", "country_id": address["country_id"], **b2c}
        )
        Registry = cls.env["efaktura.sandbox.consumer"]
        Registry.create({"name": "Kari Nordmann", "mobile": "+4741234567", "jtta": True, "vipps": True})
        Registry.create({"name": "Ola Nordmann", "mobile": "+4790011222", "jtta": True, "vipps": False})

    @classmethod
    def make_invoice(cls, partner, amount=1000.0, post=True):
        return cls.make_invoices(partner, 1, amount=amount, post=post)

    @classmethod
    def make_invoices(cls, partner, count, amount=100.0, post=True):
        """``count`` invoices of 30 days to ``partner``, of ``amount``, ``amount + 1``, ... NOK without VAT."""
        moves = cls.env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_date": fields.Date.today(),
                    "invoice_payment_term_id": cls.payment_term.id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": f"Elektrikertime {i + 1}",
                                "quantity": 1,
                                "price_unit": amount + i,
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
                for i in range(count)
            ]
        )
        if post:
            moves.action_post()
        return moves

    def mailbox(self, moves=None):
        domain = [("company_id", "=", self.company.id)]
        if moves is not None:
            domain.append(("invoice_number", "in", moves.mapped("name")))
        return self.env["efaktura.sandbox.document"].search(domain)

    def dispatch(self, moves):
        moves._efaktura_queue()
        self.env["efaktura.chain"]._dispatch_locked(moves)
        moves.invalidate_recordset()
        return moves


class RealTimeoutsOnLoopback:
    """Let calls to the local peers on 127.0.0.1 keep the client's own timeouts.

    Odoo's test request handler stretches any timeout under 10 s to 10 s; the peers' hang and timeout
    tests need the real ones.
    """

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if urlsplit(r.url).hostname == "127.0.0.1":
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)


class SelfCallsInProcess:
    """For HttpCase: serve the Odoo server's HTTP calls to itself in process.

    In tests every request shares the one test cursor, held for the whole request. When a route calls
    another route of the same server over HTTP (the consent page asking the sandbox BankID simulator for its
    discovery document, keys and tokens), the second request would wait for that cursor forever. Here such a
    call goes through Odoo's real WSGI application, routing and controllers in the calling thread, which may
    take the cursor again; only the socket is left out. Calls from the test itself still use the socket.
    """

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        url = urlsplit(r.url)
        outer = http.request
        if outer and url.hostname in ("127.0.0.1", "localhost") and url.port == cls.http_port():
            headers = {k: v for k, v in r.headers.items() if k.lower() not in ("content-length", "host")}
            if cookie := outer.httprequest.headers.get("Cookie"):
                headers["Cookie"] = cookie
            answer = WerkzeugClient(http.root, use_cookies=False).open(
                url.path,
                query_string=url.query,
                method=r.method,
                headers=headers,
                data=r.body,
                base_url=f"{url.scheme}://{url.netloc}",
            )
            response = requests.Response()
            response.status_code = answer.status_code
            response._content = answer.get_data()
            response.headers = CaseInsensitiveDict(answer.headers)
            response.url = r.url
            response.request = r
            response.encoding = "utf-8"
            return response
        return super()._request_handler(s, r, **kw)


class RealQueues:
    """Odoo's own mail, SMS and snailmail queues, as a company in production uses them.

    In Test mode the module keeps its messages in the test phone and inbox, so they never reach those queues;
    tests of what the queues do with a message after the hand-off (sent, refused, bounced) switch that off.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company_class = type(cls.env["res.company"])
        cls.startClassPatcher(patch.object(company_class, "_efaktura_test_outbox", lambda self: {}))
        for patcher in compat.mail_queue_patchers(cls.env):
            cls.startClassPatcher(patcher)
