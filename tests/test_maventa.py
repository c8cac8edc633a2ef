"""Production through Visma AutoInvoice (Maventa), against the strict local Maventa peer over real HTTP."""

import base64
import contextlib
import json
import uuid
from datetime import timedelta

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import Form, HttpCase, tagged

from ..models.efaktura_chain import MAX_ATTEMPTS
from ..networks import maventa, maventa_contract
from ..networks.base import Document, Issuer, NetworkRejected, NetworkUnavailable
from . import test_sandbox_network
from .common import EfakturaInvoiceCase, RealTimeoutsOnLoopback
from .maventa_peer import MaventaPeer


class MaventaProductionMixin(RealTimeoutsOnLoopback):
    """A company in production mode on the Visma AutoInvoice route, with a confirmed B2C agreement."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = MaventaPeer().start()
        cls.addClassCleanup(cls.peer.stop)
        cls.company.write(
            {
                "efaktura_network_mode": "production",
                "efaktura_production_route": "maventa",
                "efaktura_maventa_environment": "custom",
                "efaktura_maventa_url": cls.peer.url,
                "efaktura_maventa_company_uuid": cls.peer.company_uuid,
                "efaktura_maventa_user_api_key": cls.peer.user_api_key,
                "efaktura_maventa_vendor_api_key": cls.peer.vendor_api_key,
            }
        )

    def setUp(self):
        super().setUp()
        self.peer.reset()
        self.peer.agreement = {
            "status": maventa_contract.AGREEMENT_CONFIRMED,
            "signer_name": self.company.name,
            "signer_email": "faktura@nordlys.example.com",
        }
        # Ola and Kari said "yes to all" in their nettbank; Ingrid did not.
        self.peer.add_jtta_consumer(phone="+4790011222")
        self.peer.add_jtta_consumer(email="kari@example.com")
        self.addCleanup(self.assert_peer_clean)

    def assert_peer_clean(self):
        self.assertEqual(self.peer.errors, [], "the Maventa peer saw a request its contract forbids")
        self.assertEqual(self.peer.internal_errors, [])
        self.assertEqual(self.peer.duplicates, 0, "an invoice number reached Maventa twice")
        self.assertEqual(self.peer.second_claims, 0, "a KID was claimed twice")
        self.assertEqual(self.peer.credit_notes_with_kid, 0, "a credit note carried an invoice's KID")

    def poll(self):
        self.env["efaktura.delivery"]._cron_poll_status()


@tagged("post_install", "-at_install")
class TestMaventaProduction(MaventaProductionMixin, EfakturaInvoiceCase):
    def test_first_contact_through_jtta_and_delivery(self):
        self.assertFalse(self.ola.with_company(self.company).efaktura_identifier, "nobody asked before")
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "nettbank"))
        delivery = move.efaktura_delivery_ids
        self.assertEqual((delivery.network, delivery.state), ("maventa", "submitted"))
        self.assertEqual(self.ola.with_company(self.company).efaktura_identifier, maventa.JTTA_ROUTED)
        [invoice] = self.peer.invoices.values()
        self.assertEqual(invoice["id"], delivery.network_reference)
        self.assertEqual(invoice["invoice_nr"], move.name)
        self.assertEqual(invoice["type"], "invoice")
        self.assertEqual(invoice["kid"], move.payment_reference, "the KID is the Peppol PaymentID")
        self.assertTrue(invoice["pdf"], "the PDF is embedded in the EHF")
        self.assertEqual(invoice["forced_route"], maventa_contract.ROUTE_EFAKTURA)
        self.assertEqual(invoice["phone"], "90011222", "JTTA matches on the invoice's own data")
        [post] = self.peer.requests_to("POST", maventa_contract.INVOICES_PATH)
        self.assertIn(b"<Invoice", post.body)
        self.assertFalse(self.mailbox(move), "nothing went to the sandbox")

    def test_status_read_back_by_polling(self):
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        self.poll()
        self.assertEqual(delivery.state, "submitted", "Maventa has not routed it yet (PENDING)")
        self.peer.process()
        self.poll()
        self.assertEqual(delivery.state, "accepted")
        self.peer.set_status(delivery.network_reference, "PAID")
        self.poll()
        self.assertEqual(delivery.state, "paid")

    def test_consumer_without_jtta_goes_by_email(self):
        move = self.dispatch(self.make_invoice(self.ingrid))
        self.assertEqual(move.efaktura_delivery_ids.network, "maventa")
        self.peer.process()
        self.poll()
        nettbank = move.efaktura_delivery_ids.filtered(lambda d: d.channel == "nettbank")
        self.assertEqual(nettbank.state, "rejected")
        self.assertIn("JTTA", nettbank.last_error)
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("fallback_sent", "email"))
        self.assertEqual(len(self.peer.invoices), 1, "Maventa did not send it by e-mail as well")

    def test_route_everything_lets_maventa_choose(self):
        self.company.efaktura_maventa_route_everything = True
        self.addCleanup(setattr, self.company, "efaktura_maventa_route_everything", False)
        move = self.dispatch(self.make_invoice(self.ingrid))
        [invoice] = self.peer.invoices.values()
        self.assertEqual(invoice["forced_route"], "", "no route is forced")
        self.peer.process()
        self.poll()
        self.assertEqual(invoice["route"], "EMAIL")
        self.assertEqual(move.efaktura_delivery_ids.state, "accepted")

    def test_lost_answer_is_settled_by_asking_maventa(self):
        self.peer.add_fault("lose_answer", method="POST", path=maventa_contract.INVOICES_PATH)
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual((move.efaktura_state, move.efaktura_delivery_ids.state), ("sent", "submitted"))
        self.assertIn("the network already had it", move.message_ids[0].body)
        self.assertEqual(len(self.peer.invoices), 1)
        self.assertEqual(len(self.peer.requests_to("POST", maventa_contract.INVOICES_PATH)), 1)

    def test_lost_answer_and_retry_reach_maventa_once(self):
        self.peer.add_fault("lose_answer", method="POST", path=maventa_contract.INVOICES_PATH)
        self.peer.add_fault("500", method="GET", path=maventa_contract.INVOICES_PATH)
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        self.assertEqual((delivery.state, delivery.final), ("failed", False), "unknown outcome: retried later")
        self.assertEqual(move.efaktura_state, "queued")
        # The retry: Maventa has the UUID, refuses a second one, and the chain records the first.
        move.efaktura_next_try = False
        self.env["efaktura.chain"]._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual((move.efaktura_state, delivery.state), ("sent", "submitted"))
        self.assertEqual(len(self.peer.invoices), 1)
        self.assertEqual(len(self.peer.requests_to("POST", maventa_contract.INVOICES_PATH)), 2)
        self.assertEqual([r.status for r in self.peer.requests_to("POST", maventa_contract.INVOICES_PATH)][1], 409)
        # Sending again changes nothing either.
        with self.assertRaisesRegex(UserError, "already delivered"):
            move.action_efaktura_send()
        self.dispatch(move)
        self.env["efaktura.chain"]._cron_dispatch()
        self.assertEqual(len(self.peer.invoices), 1)

    def test_lost_answer_then_maventa_down_never_falls_back_to_another_channel(self):
        self.peer.add_fault("lose_answer", method="POST", path=maventa_contract.INVOICES_PATH)
        self.peer.add_fault("500", method="GET", path=maventa_contract.INVOICES_PATH)
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        self.assertEqual((delivery.state, delivery.outcome_unknown), ("failed", True), "Maventa may hold it")
        # Maventa is then out of reach for more attempts than the chain's limit (found by the chaos faults run):
        # the invoice waits for Maventa's answer instead of going by e-mail or post beside the eFaktura.
        for _attempt in range(MAX_ATTEMPTS + 1):
            self.peer.add_fault("500", method="POST", path=maventa_contract.TOKEN_PATH)
            move.efaktura_next_try = False
            self.env["efaktura.chain"]._cron_dispatch()
            move.invalidate_recordset()
            self.assertEqual(move.efaktura_state, "queued")
            self.assertEqual(move.efaktura_delivery_ids.mapped("channel"), ["nettbank"], "no other channel")
        move.efaktura_next_try = False
        self.env["efaktura.chain"]._cron_dispatch()
        move.invalidate_recordset()
        self.assertEqual((move.efaktura_state, delivery.state), ("sent", "submitted"))
        self.assertEqual(len(self.peer.invoices), 1)

    def test_crash_after_maventa_took_it_delivers_once(self):
        move = self.make_invoice(self.ola)
        move._efaktura_queue()
        with self.assertRaisesRegex(RuntimeError, "crash"), self.env.cr.savepoint():
            self.env["efaktura.chain"]._dispatch_locked(move)
            self.assertEqual(len(self.peer.invoices), 1)
            raise RuntimeError("crash: the worker dies before its transaction commits")
        self.env.invalidate_all()
        self.assertFalse(move.efaktura_delivery_ids, "Odoo forgot the delivery")
        self.assertEqual(move.efaktura_state, "queued")
        self.dispatch(move)
        self.assertEqual((move.efaktura_state, move.efaktura_delivery_ids.state), ("sent", "submitted"))
        self.assertEqual(len(self.peer.invoices), 1, "Maventa got it once")
        self.assertEqual(self.peer.requests_to("POST", maventa_contract.INVOICES_PATH)[-1].status, 409)

    def test_reminder_goes_by_email_not_as_a_second_claim(self):
        self.company.write({"efaktura_reminder_enabled": True, "efaktura_reminder_days": "14"})
        move = self.dispatch(self.make_invoice(self.ola))
        self.peer.process()
        with freeze_time(move.invoice_date_due + timedelta(days=14)):
            self.env["efaktura.reminder"]._cron_send()
        move.invalidate_recordset()
        reminder = move.efaktura_reminder_ids
        self.assertEqual(reminder.channel, "email")
        self.assertEqual(len(self.peer.invoices), 1, "no new invoice with the same KID went to the nettbank")
        refused = move.efaktura_delivery_ids.filtered(lambda d: d.error_code == maventa.REMINDER_NOT_SUPPORTED)
        self.assertEqual(refused.channel, "nettbank")
        self.assertEqual(move.efaktura_state, "sent", "the invoice keeps its own delivery")

    def test_credit_note_goes_through_maventa_without_the_invoice_kid(self):
        move = self.dispatch(self.make_invoice(self.ola))
        self.peer.process()
        wizard = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create({"journal_id": move.journal_id.id, "reason": "Feil timepris"})
        )
        refund = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        refund.invoice_line_ids.price_unit = 250
        refund.action_post()
        self.dispatch(refund)
        self.assertEqual((refund.efaktura_state, refund.efaktura_channel), ("sent", "nettbank"))
        [credit_note] = [i for i in self.peer.invoices.values() if i["type"] == "credit_note"]
        self.assertEqual(credit_note["invoice_nr"], refund.name)
        self.assertEqual(credit_note["billing_reference"], move.name, "attached to the invoice it credits")
        self.assertNotEqual(credit_note["kid"], move.payment_reference)

    def test_cancel_is_refused_so_the_reset_is_blocked(self):
        move = self.dispatch(self.make_invoice(self.ola))
        move.button_draft()
        self.assertEqual((move.state, move.efaktura_state), ("posted", "cancelling"))
        self.env["efaktura.take.back"]._process(move)  # what runs right after the commit
        self.assertEqual((move.state, move.efaktura_state), ("posted", "sent"))
        self.assertRegex(move.efaktura_error, "no way to take back")


@tagged("post_install", "-at_install")
class TestMaventaAgreement(MaventaProductionMixin, EfakturaInvoiceCase):
    def setUp(self):
        super().setUp()
        self.peer.agreement = None
        self.company.write({"efaktura_issuer_state": "inactive", "efaktura_maventa_agreement": "none"})

    def test_activation_then_confirmation(self):
        self.env["efaktura.issuer"]._submit(self.company)
        self.assertEqual(self.peer.agreement["status"], maventa_contract.AGREEMENT_PENDING)
        self.assertEqual(self.peer.agreement["signer_email"], "faktura@nordlys.example.com")
        self.assertEqual(
            (self.company.efaktura_issuer_state, self.company.efaktura_maventa_agreement),
            ("pending_approval", "pending"),
        )
        settings = self.env["res.config.settings"].create({})
        self.assertFalse(settings.efaktura_check_maventa_agreement)
        # Invoices are refused until Maventa confirms the agreement: nothing goes out before.
        self.peer.confirm_agreement()
        self.env["efaktura.issuer"]._refresh(self.company)
        self.assertEqual(
            (self.company.efaktura_issuer_state, self.company.efaktura_maventa_agreement), ("active", "confirmed")
        )
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.efaktura_check_maventa_agreement)
        self.assertTrue(settings.efaktura_check_issuer)
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual(move.efaktura_delivery_ids.network, "maventa")

    def test_agreement_held_elsewhere_needs_a_signature(self):
        self.peer.mps_agreement_elsewhere = True
        self.env["efaktura.issuer"]._submit(self.company)
        self.assertEqual(self.company.efaktura_maventa_agreement, "signature_needed")
        self.assertEqual(self.company.efaktura_issuer_state, "pending_approval")
        self.assertTrue(any("Visma Sign" in message.body for message in self.company.partner_id.message_ids))

    def test_settings_choose_the_route_and_test_the_connection(self):
        self.company.efaktura_production_route = "mps"
        with Form(self.env["res.config.settings"]) as form:
            form.efaktura_production_route = "maventa"
            form.efaktura_maventa_environment = "staging"
        self.assertEqual(self.company.efaktura_production_route, "maventa")
        self.assertEqual(
            self.env["efaktura.network.factory"]._maventa_base_url(self.company), maventa_contract.STAGING_BASE_URL
        )
        self.company.efaktura_maventa_environment = "custom"
        settings = self.env["res.config.settings"].create({})
        self.peer.agreement = {"status": maventa_contract.AGREEMENT_CONFIRMED, "signer_name": "x", "signer_email": "y"}
        action = settings.action_efaktura_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Confirmed", action["params"]["message"])
        self.assertEqual(self.company.efaktura_issuer_state, "active")
        self.company.efaktura_maventa_user_api_key = "wrong"
        with self.assertRaisesRegex(Exception, "connection test failed.*401"):
            settings.action_efaktura_test_connection()
        self.assertEqual(self.peer.errors, ["POST /oauth2/token: unknown company UUID, API key or vendor API key"])
        self.peer.errors.clear()


@tagged("post_install", "-at_install")
class TestMaventaClient(EfakturaInvoiceCase):
    """The client alone: token caching, strictness of the peer, the network's refusals."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peer = MaventaPeer().start()
        cls.addClassCleanup(cls.peer.stop)

    def setUp(self):
        super().setUp()
        self.peer.reset()
        self.peer.agreement = {"status": maventa_contract.AGREEMENT_CONFIRMED, "signer_name": "a", "signer_email": "b"}
        self.config = maventa.MaventaConfig(
            company_uuid=self.peer.company_uuid,
            user_api_key=self.peer.user_api_key,
            vendor_api_key=self.peer.vendor_api_key,
            base_url=self.peer.url,
        )

    def document(self, **values):
        return Document(
            **{
                "key": "k1",
                "invoice_number": "2026/0001",
                "recipient": maventa.JTTA_ROUTED,
                "recipient_name": "Ola Nordmann",
                "kid": "0000012345678903",
                "amount_ore": 100000,
                "currency": "NOK",
                "issue_date": self.env.cr.now().date(),
                "due_date": self.env.cr.now().date() + timedelta(days=14),
                **values,
            }
        )

    def test_token_is_cached_and_renewed_after_a_401(self):
        client = maventa.MaventaClient(self.config)
        client.get_agreement()
        client.get_agreement()
        self.assertEqual(len(self.peer.requests_to("POST", maventa_contract.TOKEN_PATH)), 1)
        self.peer.tokens.clear()  # revoked at Maventa
        client.get_agreement()
        self.assertEqual(len(self.peer.requests_to("POST", maventa_contract.TOKEN_PATH)), 2)
        [token] = self.peer.requests_to("POST", maventa_contract.TOKEN_PATH)[:1]
        self.assertIn(b"grant_type=client_credentials", token.body)
        self.assertIn(b"vendor_api_key=", token.body)

    def test_status_returns_what_it_could_read_when_some_reads_fail(self):
        network = maventa.MaventaNetwork(
            Issuer(org_number="123456785", name="Nordlys", account_number="86011117947"), self.config
        )
        client = network.client
        _name, xml = test_sandbox_network.ubl_file(self.document())
        ids = [str(uuid.uuid4()) for _i in range(3)]
        for invoice_id, number in zip(ids, ("2026/0001", "2026/0002", "2026/0003"), strict=True):
            client.send_invoice(invoice_id, "a.xml", xml.replace(b"2026/0001", number.encode()))
        self.peer.process()  # no JTTA consumer: forced to eFaktura, all three fail at Maventa
        self.peer.add_fault("500", method="GET", path=maventa_contract.INVOICE_PATH.format(id=ids[1]))
        results = network.status("nettbank", ids)
        self.assertEqual([r.network_reference for r in results], [ids[0], ids[2]], "the failed read is skipped")
        self.assertEqual({r.state for r in results}, {"rejected"})
        for invoice_id in ids:
            self.peer.add_fault("500", method="GET", path=maventa_contract.INVOICE_PATH.format(id=invoice_id))
        with self.assertRaises(NetworkUnavailable):
            network.status("nettbank", ids)

    def test_peer_counts_for_the_chaos_check_what_it_holds_twice(self):
        """What chaos/check.py reads: a second invoice number under a new UUID is counted as a duplicate, with
        an example, and the faults it injects are counted, a lost answer after the work included."""
        client = maventa.MaventaClient(self.config)
        _name, xml = test_sandbox_network.ubl_file(self.document())
        first, second = (str(uuid.uuid4()) for _i in range(2))
        client.send_invoice(first, "a.xml", xml)
        self.assertEqual(self.peer.stats()["duplicates"], 0)
        client.send_invoice(second, "a.xml", xml)
        stats = self.peer.stats()
        self.assertEqual((stats["duplicates"], stats["submissions"]), (1, 2))
        self.assertEqual(stats["duplicate_examples"], [["2026/0001", first, second]])
        self.assertEqual(sorted(stats["live"]), sorted([first, second]))
        self.peer.set_chaos(1.0, seed=3)
        for _i in range(6):
            with contextlib.suppress(NetworkUnavailable):
                client.get_invoice(first)
        stats = self.peer.stats()
        self.assertEqual(sum(stats["faults"].values()), 6)
        self.assertEqual(stats["lost_answers"], stats["faults"]["after"])
        self.assertTrue(stats["faults"]["after"] and stats["faults"]["before"], stats["faults"])
        self.peer.set_chaos(0)

    def test_peer_refuses_unknown_and_missing_fields(self):
        client = maventa.MaventaClient(self.config)
        headers = {"Authorization": f"Bearer {client.access_token()}"}
        answer = client.session.post(
            self.peer.url + maventa_contract.INVOICES_PATH,
            files={"file": ("a.xml", b"<Invoice/>"), "recipient_ssn": (None, "01010112345")},
            headers=headers,
            timeout=5,
        )
        self.assertEqual(answer.status_code, 400)
        self.assertIn("unknown field(s) recipient_ssn", answer.json()["message"])
        answer = client.session.post(
            self.peer.url + maventa_contract.INVOICES_PATH,
            files={"id": (None, "6f1c3a52-8a0e-4a47-9f55-2b7f6c1de0a1")},
            headers=headers,
            timeout=5,
        )
        self.assertIn("required field(s) file missing", answer.json()["message"])
        self.peer.errors.clear()

    def test_network_refuses_reminders_and_credit_notes_with_a_kid(self):
        network = maventa.MaventaNetwork(
            Issuer("123456785", "Nordlys", "86011117947"), self.config, render=lambda d: ("a.xml", b"<Invoice/>")
        )
        reminder, credit = network.submit(
            "nettbank",
            [
                self.document(key="r", kind="reminder", original_invoice_number="2026/0001"),
                self.document(key="c", kind="credit_note"),
            ],
        )
        self.assertEqual(reminder.error.code, maventa.REMINDER_NOT_SUPPORTED)
        self.assertEqual(credit.error.code, "CREDIT_NOTE_KID")
        self.assertFalse(self.peer.requests_to("POST", maventa_contract.INVOICES_PATH))
        with self.assertRaises(NetworkRejected):
            network.cancel("nettbank", "x")

    def test_same_key_same_uuid(self):
        self.assertEqual(maventa.invoice_uuid("123456785", "k1"), maventa.invoice_uuid("123456785", "k1"))
        self.assertNotEqual(maventa.invoice_uuid("123456785", "k1"), maventa.invoice_uuid("123456785", "k2"))

    def test_outage_is_retryable(self):
        self.peer.add_fault("500", method="POST", path=maventa_contract.TOKEN_PATH)
        with self.assertRaises(NetworkUnavailable):
            maventa.MaventaClient(self.config).access_token()


@tagged("post_install", "-at_install")
class TestMaventaWebhook(MaventaProductionMixin, EfakturaInvoiceCase, HttpCase):
    def post_json(self, path, body):
        return self.url_open(path, data=json.dumps(body), headers={"Content-Type": "application/json"})

    def test_webhook_is_checked_and_read_back(self):
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", self.base_url())
        self.env["efaktura.maventa.webhook"]._subscribe(self.company)
        [subscription] = self.peer.subscriptions
        self.assertEqual(subscription["events"], list(maventa_contract.EVENTS))
        destination = subscription["destination"]
        token = destination.rsplit("/", 1)[1]
        self.assertNotIn(token, self.company.sudo().efaktura_maventa_webhook_hash, "stored hashed only")
        move = self.dispatch(self.make_invoice(self.ola))
        delivery = move.efaktura_delivery_ids
        self.peer.process()
        body = {
            maventa_contract.EVENT_NAME_FIELD: maventa_contract.EVENT_DELIVERED,
            "invoice_id": delivery.network_reference,
        }
        path = destination[len(self.base_url()) :]
        # A wrong secret is refused and reads nothing.
        forged = self.post_json(path[:-4] + "AAAA", body)
        self.assertEqual(forged.status_code, 403)
        gets = len(self.peer.requests_to("GET", maventa_contract.INVOICES_PATH))
        # The event itself is not trusted: the state is read from Maventa.
        answer = self.post_json(path, {**body, "status": "PAID"})
        self.assertEqual(answer.status_code, 204)
        self.assertEqual(len(self.peer.requests_to("GET", maventa_contract.INVOICES_PATH)), gets + 1)
        delivery.invalidate_recordset()
        self.assertEqual(delivery.state, "accepted", "Maventa says SENT, whatever the event claimed")
        self.assertEqual(self.post_json(path, {"invoice_id": "not-a-uuid"}).status_code, 400)


@tagged("post_install", "-at_install")
class TestMaventaSandbox(EfakturaInvoiceCase):
    """Test mode with Visma AutoInvoice as the production route (the default): the sandbox plays Maventa."""

    def reverse(self, move):
        wizard = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=move.ids)
            .create({"journal_id": move.journal_id.id, "reason": "Feil timepris"})
        )
        refund = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        refund.action_post()
        return refund

    def network_file(self, document):
        return maventa_contract.read_ubl(base64.b64decode(document.network_file))

    def test_the_sandbox_receives_the_invoice_as_maventa_would(self):
        self.assertEqual(self.company.efaktura_production_route, "maventa")
        move = self.dispatch(self.make_invoice(self.ola))
        self.assertEqual((move.efaktura_state, move.efaktura_channel), ("sent", "nettbank"))
        delivery = move.efaktura_delivery_ids
        document = self.mailbox(move)
        self.assertEqual(document.played_network, "maventa")
        # Filed under the invoice UUID the Maventa network would send it with, which the outbox shows.
        invoice_id = maventa.invoice_uuid(self.company.efaktura_issuer_org_number, delivery.idempotency_key)
        self.assertEqual((document.reference, delivery.network_reference), (invoice_id, invoice_id))
        # The Peppol BIS 3.0 file of Odoo's generator, as Maventa reads it: an invoice, its number, its KID.
        self.assertTrue(document.network_file_name.endswith(".xml"))
        read = self.network_file(document)
        self.assertEqual(
            (read["type"], read["invoice_nr"], read["kid"]), ("invoice", move.name, move.payment_reference)
        )
        log = self.env["efaktura.sandbox.submission"].search([("reference", "=", invoice_id)])
        self.assertEqual(log.played_network, "maventa")

    def test_a_credit_note_goes_as_a_credit_note_file_without_the_invoice_kid(self):
        invoice = self.dispatch(self.make_invoice(self.ola))
        refund = self.dispatch(self.reverse(invoice))
        self.assertEqual((refund.efaktura_state, refund.efaktura_channel), ("sent", "nettbank"))
        read = self.network_file(self.mailbox(refund))
        self.assertEqual(
            (read["type"], read["invoice_nr"], read["billing_reference"]), ("credit_note", refund.name, invoice.name)
        )
        self.assertNotEqual(read["kid"], invoice.payment_reference, "no second claim under the invoice's KID")

    def test_the_credit_note_reference_is_written_by_the_node_generator_too(self):
        """account_edi_ubl_cii's other generator (the document's nodes: 19.0's only one, on 18.0 behind this
        parameter) attaches the credit note to its invoice as well."""
        self.env["ir.config_parameter"].sudo().set_param("account_edi_ubl_cii.use_new_dict_to_xml_helpers", "1")
        invoice = self.dispatch(self.make_invoice(self.ola))
        refund = self.dispatch(self.reverse(invoice))
        read = self.network_file(self.mailbox(refund))
        self.assertEqual(
            (read["type"], read["invoice_nr"], read["billing_reference"]), ("credit_note", refund.name, invoice.name)
        )

    def test_other_routes_keep_the_sandbox_own_network(self):
        self.company.efaktura_production_route = "mps"
        move = self.dispatch(self.make_invoice(self.ola))
        document = self.mailbox(move)
        self.assertEqual((document.played_network, document.network_file), ("sandbox", False))
        self.assertTrue(document.reference.startswith("SBX-"))
