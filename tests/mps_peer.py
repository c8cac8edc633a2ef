"""A local stand-in for MPS' eFaktura ERP service v4 and the "Issuer via MPS" cancellation operations, for tests.

:class:`MpsPeer` is a threaded HTTP server on 127.0.0.1 that takes SOAP 1.1 requests, validates the
body element against the module's XSD, and answers as the documentation describes: the answer
messages, or a validationFault with the documented code (5002 unknown issuer, 5003 no recipient,
5006 bad account number, 5007 bad CustomerReferencePosition, 5008 rule exists, 209 duplicate
consignmentId, 201 unknown consignment) or, for a request that breaks the schema, a validationFault
without code whose message names the schema error. Responses are built with lxml and checked
against the same XSD; anything the peer gets wrong lands in ``errors``.

On :data:`SUBMITTER_PATH` it serves getCancellableInvoice and cancelInvoice of the "Issuer via MPS"
service, validated against that service's XSD, for the same invoices: an invoice cannot be cancelled
once it is paid (5005), cancelled (5006), unknown (5004), or closed for cancellation
(:meth:`MpsPeer.close_cancellation`: getCancellableInvoice then finds nothing).

It keeps issuers, consumers, consignments and invoices in memory, records every request, and can
be switched to answer with an HTTP error, hang, garbage, or an injected fault. It can also lose answers
after doing the work (:meth:`MpsPeer.lose_answers`: the request is carried out, then the connection is
closed without a word, as after a timeout), and fail a share of all calls at random, before or after doing
the work (:meth:`MpsPeer.set_chaos`).

Every invoice of every addInvoices is recorded in ``submissions``. An invoice number the issuer already has
live at the peer (not deleted) is a second copy of the same invoice in the consumer's online bank: it is
kept out (the first copy stays as it was) and recorded in ``duplicates``; ``duplicate_count`` is what tests
assert on.
"""

import copy
import dataclasses
import datetime
import random
import re

from lxml import etree
from stdnum.no import kontonr

from ..networks import mps_client
from .local_peer import LocalPeer, PeerHandler

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = mps_client.NAMESPACE
PATH = "/invoicing-erp/v4/"
SUBMITTER_NS = mps_client.SUBMITTER_NAMESPACE
SUBMITTER_PATH = mps_client.SUBMITTER_PATH
#: The soapAction of each service's operations: namespace or documented prefix + operation name.
_ACTION_PREFIX = {NS: NS, SUBMITTER_NS: "https://efaktura-services.nets.no/efaktura-submitter-service/v1/"}
_SERVICE_PATH = {NS: PATH, SUBMITTER_NS: SUBMITTER_PATH}

MODE_NORMAL = "normal"
MODE_HTTP_ERROR = "http_error"  # answer with ``http_status`` and an HTML page
MODE_HANG = "hang"  # answer nothing until ``hang_seconds`` passed or the peer stops
MODE_GARBAGE = "garbage"  # answer 200 with text that is not XML
MODE_NOT_SOAP = "not_soap"  # answer 200 with XML that is not a SOAP envelope
MODES = (MODE_NORMAL, MODE_HTTP_ERROR, MODE_HANG, MODE_GARBAGE, MODE_NOT_SOAP)

_POSITION = re.compile(r"KID\[(\d+)-(\d+)\]")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def _q(name, ns=NS):
    return f"{{{ns}}}{name}"


def _ns(element):
    return etree.QName(element).namespace or NS


def _text(element, path):
    """The text at a path of local names below ``element`` ("a/b"), in its namespace, or ""."""
    found = element.find("/".join(_q(part, _ns(element)) for part in path.split("/")))
    return (found.text or "").strip() if found is not None else ""


def _add(parent, name, text=None):
    child = etree.SubElement(parent, _q(name, _ns(parent)))
    if text is not None:
        child.text = str(text)
    return child


class Refusal(Exception):
    """A fault to answer: ``kind`` is "validationFault" or "serverFault"."""

    def __init__(self, code, message, kind="validationFault"):
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.ns = NS  # the namespace of the service that answers


@dataclasses.dataclass
class RecordedRequest:
    path: str
    soap_action: str
    headers: dict
    body: bytes
    operation: str = ""
    namespace: str = ""
    message_identifier: str = ""
    schema_error: str = ""


@dataclasses.dataclass
class PeerConsumer:
    identifier: str
    name: str
    ssn: str = ""
    phone: str = ""
    email: str = ""
    auto_accept: bool = True
    blocked_issuers: frozenset = frozenset()


class _Handler(PeerHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def _post_only(self):
        """A SOAP service: POST only."""
        self.send_error(405)

    do_GET = do_PUT = do_DELETE = do_PATCH = _post_only

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        answer = self.server.peer.answer(self.path, dict(self.headers), body)
        if answer is None:
            self.close_connection = True
            return
        status, content_type, payload = answer
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class MpsPeer(LocalPeer):
    """The fake service. Use as a context manager, or call :meth:`start` and :meth:`stop`."""

    handler = _Handler
    thread_name = "mps-peer"

    def __init__(self, xsd_path=mps_client.XSD_PATH, submitter_xsd_path=mps_client.SUBMITTER_XSD_PATH):
        super().__init__()
        self.schema = etree.XMLSchema(etree.parse(xsd_path))
        self.schemas = {NS: self.schema, SUBMITTER_NS: etree.XMLSchema(etree.parse(submitter_xsd_path))}
        self.reset()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def url(self):
        """The endpoint to configure, shaped like the real one."""
        return self.base_url.rstrip("/") + PATH

    def reset(self):
        """Forget all data and recorded requests and answer normally again."""
        with self._lock:
            self.mode = MODE_NORMAL
            self.http_status = 500
            self.hang_seconds = 5.0
            self.injected = []
            self.echo_message_identifier = None  # set to answer with another messageIdentifier
            self.issuers = {}
            self.rules = {}
            self.consumers = []
            self.consignments = {}
            self.invoices = {}
            self.requests = []
            self.errors = []
            self.submissions = []
            self.duplicates = []
            self.lost = {}  # operation: how many answers to lose after doing the work
            self.lost_answers = 0
            self.chaos_rate = 0.0
            self.chaos_faults = {"before": 0, "after": 0}
            self._rng = random.Random(0)

    # -- test controls ----------------------------------------------------------------------------

    def add_issuer(self, issuer_id, name, account_number, email=""):
        with self._lock:
            self.issuers[issuer_id] = {"name": name, "accountNumber": account_number, "email": email}

    def add_consumer(self, identifier, name, **values):
        with self._lock:
            self.consumers.append(PeerConsumer(identifier, name, **values))

    def inject_fault(self, kind, code, message):
        """Answer the next request (after schema validation) with this fault."""
        with self._lock:
            self.injected.append(Refusal(code, message, kind))

    def process_consignment(self, consignment_id):
        """What MPS does in the background: route the invoices, or refuse those nobody can receive."""
        with self._lock:
            consignment = self.consignments[consignment_id]
            consignment["status"] = "PROCESSED"
            for number in consignment["invoices"]:
                invoice = self.invoices[(consignment["issuerId"], number)]
                consumer = self._receiver(invoice, consignment["issuerId"])
                if consumer is None:
                    self._set_invoice(invoice, "REJECTED", "No eFaktura agreement for the receiver")
                else:
                    self._set_invoice(invoice, "DELIVERED", f"Shown in the online bank of {consumer.name}")

    def stop_consignment(self, consignment_id, text):
        with self._lock:
            consignment = self.consignments[consignment_id]
            consignment["status"] = "STOPPED"
            consignment["statusText"] = text
            for number in consignment["invoices"]:
                self._set_invoice(self.invoices[(consignment["issuerId"], number)], "REJECTED", text)

    def set_invoice_status(self, issuer_id, invoice_number, status, text=""):
        with self._lock:
            self._set_invoice(self.invoices[(issuer_id, invoice_number)], status, text)

    def mark_paid(self, issuer_id, invoice_number):
        """The consumer paid the invoice in the online bank: MPS refuses to cancel it (5005)."""
        with self._lock:
            self.invoices[(issuer_id, invoice_number)]["paid"] = True

    def close_cancellation(self, issuer_id, invoice_number):
        """MPS passed the point where it can take the invoice back: it is no longer cancellable."""
        with self._lock:
            self.invoices[(issuer_id, invoice_number)]["cancellable"] = False

    def lose_answers(self, operation, count=1):
        """Carry out the next ``count`` requests of ``operation``, then close the connection without answering."""
        with self._lock:
            self.lost[operation] = self.lost.get(operation, 0) + count

    def live_invoices(self):
        """The (issuer, invoice number) the peer holds live: what the consumers' online banks show."""
        with self._lock:
            return sorted(key for key, invoice in self.invoices.items() if invoice["status"] != "DELETED")

    def stats(self):
        """Counts for a chaos report, as plain data."""
        with self._lock:
            return {
                "requests": len(self.requests),
                "submissions": len(self.submissions),
                "duplicates": len(self.duplicates),
                "duplicate_examples": [list(d) for d in self.duplicates[:5]],
                "lost_answers": self.lost_answers,
                "faults": dict(self.chaos_faults),
                "live": [number for _issuer, number in self.live_invoices()],
            }

    def requests_for(self, operation):
        return [request for request in self.requests if request.operation == operation]

    # -- request handling ---------------------------------------------------------------------

    def answer(self, path, headers, body):
        """(HTTP status, content type, payload) for one request, or None to send nothing."""
        with self._lock:
            record = RecordedRequest(path=path, soap_action=headers.get("SOAPAction", ""), headers=headers, body=body)
            self.requests.append(record)
            mode = self.mode
            try:
                request = self._read_envelope(body, record)
            except Refusal as refusal:
                refusal.ns = SUBMITTER_NS if path == SUBMITTER_PATH else NS
                return self._fault(refusal)
        with self._lock:
            chaos = ""
            if self.chaos_rate and self._rng.random() < self.chaos_rate:
                chaos = self._rng.choice(("before", "after"))
                self.chaos_faults[chaos] += 1
            if chaos == "before":
                return 503, "text/html", b"<html><body><h1>Service unavailable</h1></body></html>"
            lose = chaos == "after"
            if self.lost.get(record.operation):
                self.lost[record.operation] -= 1
                lose = True
        if mode == MODE_HANG:
            self._release.wait(self.hang_seconds)
            return None
        if mode == MODE_HTTP_ERROR:
            return self.http_status, "text/html", b"<html><body><h1>Service unavailable</h1></body></html>"
        if mode == MODE_GARBAGE:
            return 200, "text/xml; charset=utf-8", b"\x00\x01 this is not XML <<<"
        if mode == MODE_NOT_SOAP:
            return 200, "text/xml; charset=utf-8", b"<?xml version='1.0'?><html><body>Maintenance</body></html>"
        with self._lock:
            try:
                self._validate(request, record)
                if self.injected:
                    raise self.injected.pop(0)
                handler = getattr(self, f"_op_{record.operation}", None)
                if handler is None:
                    raise Refusal(None, f"Unknown operation {record.operation}")
                response = handler(request)
            except Refusal as refusal:
                refusal.ns = record.namespace
                return self._fault(refusal)
            self._check_response(response, record.operation)
            if lose:
                self.lost_answers += 1
                return None  # the work is done, the answer never arrives
            return 200, "text/xml; charset=utf-8", self._envelope(response)

    def _read_envelope(self, body, record):
        try:
            envelope = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise Refusal(None, f"The request is not well-formed XML: {exc}") from exc
        if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
            raise Refusal(None, f"The request is not a SOAP 1.1 envelope but {envelope.tag}")
        soap_body = envelope.find(f"{{{SOAP_ENV}}}Body")
        children = [child for child in soap_body if isinstance(child.tag, str)] if soap_body is not None else []
        if len(children) != 1:
            raise Refusal(None, "The SOAP body must hold exactly one element")
        request = children[0]
        record.operation = etree.QName(request).localname
        record.namespace = _ns(request)
        record.message_identifier = _text(request, "auditInformation/messageIdentifier")
        return request

    def _validate(self, request, record):
        schema = self.schemas.get(record.namespace)
        if schema is None:
            raise Refusal(None, f"Unknown namespace {record.namespace}")
        if record.path != _SERVICE_PATH[record.namespace]:
            self.errors.append(f"{record.operation}: sent to {record.path!r}, not to its service's path")
        document = etree.ElementTree(copy.deepcopy(request))
        if not schema.validate(document):
            record.schema_error = "; ".join(f"line {error.line}: {error.message}" for error in schema.error_log)
            raise Refusal(None, f"Schema validation failed at {record.schema_error}")
        expected_action = _ACTION_PREFIX[record.namespace] + record.operation
        if record.soap_action.strip('"') != expected_action:
            self.errors.append(f"{record.operation}: SOAPAction {record.soap_action!r}, expected {expected_action!r}")

    def _check_response(self, response, operation):
        schema = self.schemas[_ns(response)]
        if not schema.validate(etree.ElementTree(response)):
            self.errors.append(f"{operation}: the peer's answer breaks the schema: {schema.error_log.last_error}")

    @staticmethod
    def _envelope(element):
        envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "tns": _ns(element)})
        etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(element)
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    @staticmethod
    def _fault(refusal):
        envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "tns": refusal.ns})
        fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
        faultcode = "soap:Client" if refusal.kind == "validationFault" else "soap:Server"
        etree.SubElement(fault, "faultcode").text = faultcode
        etree.SubElement(fault, "faultstring").text = refusal.message
        typed = etree.SubElement(etree.SubElement(fault, "detail"), _q(refusal.kind, refusal.ns))
        if refusal.code:
            _add(typed, "code", refusal.code)
        _add(typed, "message", refusal.message)
        return 500, "text/xml; charset=utf-8", etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    def _response(self, request, name):
        response = etree.Element(_q(name, _ns(request)), nsmap={"tns": _ns(request)})
        echoed = self.echo_message_identifier or _text(request, "auditInformation/messageIdentifier")
        _add(_add(response, "auditInformation"), "messageIdentifier", echoed)
        return response

    # -- business rules -----------------------------------------------------------------------

    def _known_issuer(self, request):
        issuer_id = _text(request, "issuerId")
        if issuer_id not in self.issuers:
            raise Refusal(
                "5002",
                f"Issuer {issuer_id} does not exist or user is not authorized to view information about this issuer.",
            )
        return issuer_id

    @staticmethod
    def _check_account(number):
        if not kontonr.is_valid(number):
            raise Refusal(
                "5006",
                f"Invalid billing account number {number}. Must be a Norwegian account number with 11 digits "
                "and modulus 11 valid.",
            )

    def _receiver(self, invoice, issuer_id):
        for consumer in self.consumers:
            matches = (invoice["efakturaIdentifier"] and invoice["efakturaIdentifier"] == consumer.identifier) or (
                invoice["socialSecurityNumber"] and invoice["socialSecurityNumber"] == consumer.ssn
            )
            if matches and consumer.auto_accept and issuer_id not in consumer.blocked_issuers:
                return consumer
        return None

    @staticmethod
    def _set_invoice(invoice, status, text):
        invoice["status"] = status
        invoice["statusText"] = text
        invoice["lastChanged"] = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

    # -- operations ---------------------------------------------------------------------------

    def _op_createIssuer(self, request):
        issuer = request.find(_q("issuer"))
        issuer_id = _text(issuer, "issuerId")
        self._check_account(_text(issuer, "accountNumber"))
        self.issuers[issuer_id] = {
            "name": _text(issuer, "name"),
            "accountNumber": _text(issuer, "accountNumber"),
            "email": _text(issuer, "email"),
        }
        response = self._response(request, "createIssuerResponse")
        _add(response, "issuerId", issuer_id)
        return response

    def _op_getIssuer(self, request):
        issuer_id = self._known_issuer(request)
        data = self.issuers[issuer_id]
        response = self._response(request, "getIssuerResponse")
        issuer = _add(response, "issuer")
        _add(issuer, "issuerId", issuer_id)
        _add(issuer, "name", data["name"])
        _add(issuer, "accountNumber", data["accountNumber"])
        if data["email"]:
            _add(issuer, "email", data["email"])
        return response

    def _op_deleteIssuer(self, request):
        issuer_id = self._known_issuer(request)
        del self.issuers[issuer_id]
        self.rules.pop(issuer_id, None)
        response = self._response(request, "deleteIssuerResponse")
        _add(response, "issuerId", issuer_id)
        return response

    def _op_addBrandAgreementRule(self, request):
        issuer_id = self._known_issuer(request)
        account = _text(request, "brandAgreementRule/accountNumber")
        position = _text(request, "brandAgreementRule/customerReferencePosition")
        self._check_account(account)
        if position:
            match = _POSITION.fullmatch(position)
            if not match or not 1 <= int(match[1]) <= int(match[2]) <= 25:
                raise Refusal(
                    "5007", f"Invalid CustomerReferencePosition {position}. Must be on the format KID[digit-digit]."
                )
        rules = self.rules.setdefault(issuer_id, set())
        if (account, position) in rules:
            raise Refusal("5008", "Brand agreement rule already exists.")
        rules.add((account, position))
        response = self._response(request, "addBrandAgreementRuleResponse")
        _add(response, "issuerId", issuer_id)
        return response

    def _op_deleteBrandAgreementRule(self, request):
        issuer_id = self._known_issuer(request)
        account = _text(request, "brandAgreementRule/accountNumber")
        position = _text(request, "brandAgreementRule/customerReferencePosition")
        rules = self.rules.setdefault(issuer_id, set())
        if (account, position) not in rules:
            # Choice of the stand-in contract: an unknown rule is a validation fault with the rule's own code.
            raise Refusal("5007", f"No brand agreement rule for {account} {position or ''}".strip() + ".")
        rules.discard((account, position))
        response = self._response(request, "deleteBrandAgreementRuleResponse")
        _add(response, "issuerId", issuer_id)
        return response

    def _op_getEfakturaIdentifiers(self, request):
        issuer_id = self._known_issuer(request)
        response = self._response(request, "getEfakturaIdentifiersResponse")
        _add(response, "issuerId", issuer_id)
        for query in request.findall(_q("efakturaIdentifierRequest")):
            consumer = self._find_consumer(query)
            entry = _add(response, "efakturaIdentifierResponse")
            _add(entry, "reference", _text(query, "reference"))
            if consumer is not None:
                _add(entry, "efakturaIdentifier", consumer.identifier)
            _add(entry, "hasAutoAcceptAgreements", "true" if consumer is not None and consumer.auto_accept else "false")
            blocked = consumer is not None and issuer_id in consumer.blocked_issuers
            _add(entry, "blockedByReceiver", "true" if blocked else "false")
        return response

    def _find_consumer(self, query):
        ssn = _text(query, "socialSecurityNumber")
        name = _text(query, "consumer/name").casefold()
        phone = _text(query, "consumer/phoneNumber")
        email = _text(query, "consumer/email").casefold()
        for consumer in self.consumers:
            if ssn:
                if consumer.ssn == ssn:
                    return consumer
            elif consumer.name.casefold() == name and (
                (phone and consumer.phone == phone) or (email and consumer.email.casefold() == email)
            ):
                return consumer
        return None

    def _op_addInvoices(self, request):
        issuer_id = self._known_issuer(request)
        consignment_id = _text(request, "consignmentId")
        if consignment_id in self.consignments:
            raise Refusal(
                "209", f"Duplicate consignmentId {consignment_id} (Sender has used this consignmentId before)"
            )
        invoices = []
        for element in request.findall(f"{_q('invoices')}/{_q('invoice')}"):
            number = _text(element, "invoiceNumber")
            recipient = {name: _text(element, name) for name in ("efakturaReference", "efakturaIdentifier")}
            recipient["socialSecurityNumber"] = _text(element, "socialSecurityNumber")
            if not any(recipient.values()):
                raise Refusal(
                    "5003",
                    f"Invoice {number}: "
                    "One of efakturaReference,efakturaIdentifier or socialSecurityNumber is required",
                )
            self._check_account(_text(element, "accountNumber"))
            invoices.append((number, recipient))
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self.consignments[consignment_id] = {
            "issuerId": issuer_id,
            "status": "RECEIVED",
            "statusText": "",
            "invoices": [number for number, _recipient in invoices],
        }
        for number, recipient in invoices:
            self.submissions.append((issuer_id, number, consignment_id))
            earlier = self.invoices.get((issuer_id, number))
            if earlier is not None and earlier["status"] != "DELETED":
                # A second live copy of the same invoice: the consumer would see it twice. Kept out, and counted.
                self.duplicates.append((issuer_id, number, earlier["consignmentId"], consignment_id))
                continue
            self.invoices[(issuer_id, number)] = {
                "consignmentId": consignment_id,
                "status": "RECEIVED",
                "statusText": "",
                "lastChanged": now,
                "paid": False,
                "cancellable": True,
                **recipient,
            }
        response = self._response(request, "addInvoicesResponse")
        _add(response, "consignmentId", consignment_id)
        _add(response, "numberOfInvoices", len(invoices))
        return response

    def _op_getConsignmentStatus(self, request):
        issuer_id = self._known_issuer(request)
        consignment_id = _text(request, "consignmentId")
        consignment = self.consignments.get(consignment_id)
        if consignment is None or consignment["issuerId"] != issuer_id:
            raise Refusal("201", f"Unable to find consignment {consignment_id}.")
        response = self._response(request, "getConsignmentStatusResponse")
        _add(response, "consignmentId", consignment_id)
        _add(response, "status", consignment["status"])
        _add(response, "numberOfInvoices", len(consignment["invoices"]))
        if consignment["statusText"]:
            _add(response, "statusText", consignment["statusText"])
        return response

    def _op_getInvoiceStatus(self, request):
        issuer_id = self._known_issuer(request)
        response = self._response(request, "getInvoiceStatusResponse")
        for element in request.findall(_q("invoiceNumber")):
            invoice = self.invoices.get((issuer_id, (element.text or "").strip()))
            if invoice is None:
                continue
            entry = _add(response, "invoiceStatus")
            _add(entry, "invoiceNumber", element.text.strip())
            _add(entry, "consignmentId", invoice["consignmentId"])
            _add(entry, "status", invoice["status"])
            if invoice["statusText"]:
                _add(entry, "statusText", invoice["statusText"])
            _add(entry, "lastChanged", invoice["lastChanged"].isoformat())
        return response

    # -- "Issuer via MPS" cancellation operations ---------------------------------------------

    def _cancellation_target(self, request):
        """The invoice a cancellation request names, refused as cancelInvoice documents (5004, 5005, 5006)."""
        issuer_id = _text(request, "issuerId")
        number = _text(request, "invoiceNumber")
        invoice = self.invoices.get((issuer_id, number))
        if invoice is None:
            raise Refusal("5004", f"Unable to find invoice {number}.")
        if invoice["paid"]:
            raise Refusal("5005", f"Cancellation on paid invoice {number}.")
        if invoice["status"] == "DELETED":
            raise Refusal("5006", f"Invoice {number} already cancelled.")
        return number, invoice

    def _op_getCancellableInvoice(self, request):
        number, invoice = self._cancellation_target(request)
        consignment_id = _text(request, "consignmentId")
        response = self._response(request, "getCancellableInvoiceResponse")
        if invoice["cancellable"] and consignment_id in ("", invoice["consignmentId"]):
            found = _add(response, "cancellableInvoice")
            _add(found, "invoiceNumber", number)
            _add(found, "consignmentId", invoice["consignmentId"])
            _add(found, "status", invoice["status"])
        return response

    def _op_cancelInvoice(self, request):
        number, invoice = self._cancellation_target(request)
        if not invoice["cancellable"]:
            raise Refusal(None, f"Invoice {number} can no longer be cancelled.")
        self._set_invoice(invoice, "DELETED", "Cancelled by the issuer")
        response = self._response(request, "cancelInvoiceResponse")
        _add(response, "invoiceNumber", number)
        _add(response, "status", "DELETED")
        return response
