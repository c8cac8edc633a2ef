"""Mastercard Payment Services (MPS, formerly Nets) eFaktura ERP service v4, in plain Python.

The ERP service ("EfakturaErpService", https://efaktura-services.nets.no/invoicing-erp/v4/) is a
SOAP 1.1 document/literal service secured with mutual TLS. MPS publishes no WSDL, so the module
carries one written from the public developer documentation (``wsdl/efaktura-erp-v4.wsdl`` and
``.xsd``; see their comments for what is documented and what was chosen). zeep builds and reads
every message from that WSDL. **This contract is unverified**: wsdl/INVENTED.md lists every element
it invents. An issuer loads the WSDL MPS hands out at onboarding (``MpsConfig.wsdl_path``), and may
override the SOAP actions (``MpsConfig.soap_actions``) and the cancellation address
(``MpsConfig.submitter_endpoint``).

Cancelling an invoice is not part of the ERP service v4: it belongs to the "Issuer via MPS" service
("EfakturaNetsSubmitterService", https://efaktura-services.nets.no/invoicing-nets-submitter/v1/),
whose two cancellation operations, getCancellableInvoice and cancelInvoice, are described in
``wsdl/efaktura-submitter-v1.wsdl`` and ``.xsd`` and reached at ``MpsConfig.submitter_address``.

:class:`MpsClient` speaks the operations one to one. The network adapter built on it, for the "nettbank"
channel, is :class:`.mps.MpsNetwork`. The addresses and types it speaks in are in :mod:`.mps_types`, the SOAP
faults and their codes in :mod:`.mps_faults`; both are re-exported here.
"""

import decimal
import uuid

import requests
import zeep
import zeep.exceptions
import zeep.helpers
from lxml import etree
from zeep.transports import Transport

from .base import (
    NetworkRejected,
    NetworkUnavailable,
)

# The types and the faults live in modules of their own; every public name stays importable from here.
from .mps_faults import (  # noqa: F401  # pylint: disable=unused-import
    DUPLICATE_CONSIGNMENT,
    FAULT_CODES,
    INVOICE_ALREADY_CANCELLED,
    INVOICE_PAID,
    INVOICE_UNKNOWN,
    ISSUER_UNKNOWN,
    RECIPIENT_MISSING,
    SUBMITTER_FAULT_CODES,
    fault_to_error,
)
from .mps_types import (  # noqa: F401  # pylint: disable=unused-import
    BINDING,
    DOCUMENT_CREDIT_NOTE,
    DOCUMENT_INVOICE,
    NAMESPACE,
    PRODUCTION_ENDPOINT,
    SUBMITTER_BINDING,
    SUBMITTER_NAMESPACE,
    SUBMITTER_PATH,
    SUBMITTER_PRODUCTION_ENDPOINT,
    SUBMITTER_WSDL_PATH,
    SUBMITTER_XSD_PATH,
    WSDL_PATH,
    XSD_PATH,
    CancellableInvoice,
    ConsignmentStatus,
    IdentifierAnswer,
    IdentifierQuery,
    InvoiceStatus,
    MpsConfig,
    MpsInvoice,
    MpsIssuer,
)

MESSAGE_IDENTIFIER_PREFIX = "odoo-"  # followed by 32 hex digits: 37 characters, within 5..50
LOOKUP_BATCH_SIZE = 100  # efakturaIdentifierRequest maxOccurs in the XSD
INVOICE_STATUS_BATCH_SIZE = 1000  # invoiceNumber maxOccurs in the XSD
# At most 1,000 transactions per shipment: the only per-shipment figure the public pages give.
ADD_INVOICES_BATCH_SIZE = 1000

# HTTP statuses that say "later" rather than "never".
_RETRYABLE_HTTP = (408, 429)


def new_message_identifier():
    """A fresh auditInformation.messageIdentifier: unique per request, 5 to 50 characters."""
    return MESSAGE_IDENTIFIER_PREFIX + uuid.uuid4().hex


class _Transport(Transport):
    """zeep's transport, refusing HTTP answers that cannot carry a SOAP message.

    SOAP 1.1 answers with 200, or with 500 and a fault; anything else (403 from a TLS proxy, 502 or
    503 from a load balancer, ...) is reported by its status instead of being parsed.
    """

    def post(self, address, message, headers):
        response = super().post(address, message, headers)
        if response.status_code not in (200, 500):
            raise zeep.exceptions.TransportError(
                f"Server returned HTTP status {response.status_code}",
                status_code=response.status_code,
                content=response.content,
            )
        return response


class MpsClient:
    """The ERP service v4 operations, and the "Issuer via MPS" cancellation operations, over mutual TLS.

    Every call sends a fresh ``auditInformation.messageIdentifier`` (kept in
    ``last_message_identifier``) and raises :class:`NetworkRejected` or
    :class:`NetworkUnavailable` when it does not succeed. ``issuer_id`` defaults to
    ``config.issuer_org_number``.
    """

    def __init__(self, config, session=None):
        self.config = config
        self.session = session or requests.Session()
        if config.client_cert:
            self.session.cert = (config.client_cert, config.client_key) if config.client_key else config.client_cert
        self.session.verify = config.ca_bundle or True
        self.transport = _Transport(session=self.session, timeout=config.timeout, operation_timeout=config.timeout)
        self._zeep = zeep.Client(config.wsdl_path, transport=self.transport)
        self._service = self._zeep.create_service(self._binding_name(self._zeep), config.endpoint)
        self._apply_soap_actions(self._zeep)
        self._submitter = None  # built on first use: most clients never cancel
        self.last_message_identifier = ""

    # -- operations ---------------------------------------------------------------------------

    def create_issuer(self, issuer):
        """Create (or update) the eFaktura B2C issuer. Returns its issuerId."""
        issuer_params = {
            "issuerId": issuer.issuer_id,
            "name": issuer.name,
            "accountNumber": issuer.account_number,
            "email": issuer.email or None,
        }
        answer = self._call("createIssuer", issuer=issuer_params)
        return answer.get("issuerId") or issuer.issuer_id

    def get_issuer(self, issuer_id=None):
        """The issuer as MPS knows it (:class:`MpsIssuer`); 5002 when it does not exist."""
        answer = self._call("getIssuer", issuerId=self._issuer_id(issuer_id))
        issuer = self._require(answer, "issuer", "getIssuer")
        return MpsIssuer(
            issuer_id=issuer.get("issuerId") or "",
            name=issuer.get("name") or "",
            account_number=issuer.get("accountNumber") or "",
            email=issuer.get("email") or "",
        )

    def delete_issuer(self, issuer_id=None):
        self._call("deleteIssuer", issuerId=self._issuer_id(issuer_id))

    def add_brand_agreement_rule(self, account_number, customer_reference_position="", brand_name="", issuer_id=None):
        """Add a brand agreement rule: invoices to ``account_number`` (and, with a position such as
        ``KID[1-6]``, with that part of the KID) belong to the brand."""
        rule = {
            "accountNumber": account_number,
            "customerReferencePosition": customer_reference_position or None,
            "brandName": brand_name or None,
        }
        self._call("addBrandAgreementRule", issuerId=self._issuer_id(issuer_id), brandAgreementRule=rule)

    def delete_brand_agreement_rule(self, account_number, customer_reference_position="", issuer_id=None):
        """Delete the brand agreement rule for ``account_number`` (and KID position), as added before."""
        rule = {"accountNumber": account_number, "customerReferencePosition": customer_reference_position or None}
        self._call("deleteBrandAgreementRule", issuerId=self._issuer_id(issuer_id), brandAgreementRule=rule)

    def get_efaktura_identifiers(self, queries, issuer_id=None):
        """Look consumers up (:class:`IdentifierQuery`); one :class:`IdentifierAnswer` per query found."""
        queries = list(queries)
        for query in queries:
            query.check()
        answers = []
        for start in range(0, len(queries), LOOKUP_BATCH_SIZE):
            batch = queries[start : start + LOOKUP_BATCH_SIZE]
            answer = self._call(
                "getEfakturaIdentifiers",
                issuerId=self._issuer_id(issuer_id),
                efakturaIdentifierRequest=[self._identifier_request(query) for query in batch],
            )
            for entry in answer.get("efakturaIdentifierResponse") or []:
                answers.append(
                    IdentifierAnswer(
                        reference=entry.get("reference") or "",
                        efaktura_identifier=entry.get("efakturaIdentifier") or "",
                        auto_accept=bool(entry.get("hasAutoAcceptAgreements")),
                        blocked=bool(entry.get("blockedByReceiver")),
                    )
                )
        return answers

    def add_invoices(self, consignment_id, invoices, issuer_id=None):
        """Send invoices (:class:`MpsInvoice`) as one consignment. Returns the number MPS took in.

        A consignmentId used before is refused with code 209.
        """
        invoices = list(invoices)
        if not invoices:
            raise ValueError("A consignment needs at least one invoice")
        if len(invoices) > ADD_INVOICES_BATCH_SIZE:
            raise ValueError(f"A consignment takes at most {ADD_INVOICES_BATCH_SIZE} invoices, not {len(invoices)}")
        answer = self._call(
            "addInvoices",
            issuerId=self._issuer_id(issuer_id),
            consignmentId=consignment_id,
            invoices={"invoice": [self._invoice_params(invoice) for invoice in invoices]},
        )
        return int(answer.get("numberOfInvoices") or 0)

    def get_consignment_status(self, consignment_id, issuer_id=None):
        answer = self._call("getConsignmentStatus", issuerId=self._issuer_id(issuer_id), consignmentId=consignment_id)
        return ConsignmentStatus(
            consignment_id=answer.get("consignmentId") or consignment_id,
            status=self._require(answer, "status", "getConsignmentStatus"),
            number_of_invoices=int(answer.get("numberOfInvoices") or 0),
            status_text=answer.get("statusText") or "",
        )

    def get_invoice_status(self, invoice_numbers, issuer_id=None):
        """The status of the issuer's invoices by invoice number; unknown numbers are left out."""
        invoice_numbers = list(invoice_numbers)
        statuses = []
        for start in range(0, len(invoice_numbers), INVOICE_STATUS_BATCH_SIZE):
            batch = invoice_numbers[start : start + INVOICE_STATUS_BATCH_SIZE]
            answer = self._call("getInvoiceStatus", issuerId=self._issuer_id(issuer_id), invoiceNumber=batch)
            for entry in answer.get("invoiceStatus") or []:
                statuses.append(
                    InvoiceStatus(
                        invoice_number=entry.get("invoiceNumber") or "",
                        consignment_id=entry.get("consignmentId") or "",
                        status=entry.get("status") or "",
                        status_text=entry.get("statusText") or "",
                        last_changed=entry.get("lastChanged"),
                    )
                )
        return statuses

    def get_cancellable_invoice(self, invoice_number, issuer_id=None, consignment_id=None):
        """The invoice (:class:`CancellableInvoice`) when MPS can still cancel it, else None.

        MPS answers 5004 for an invoice it does not know, 5005 for a paid one and 5006 for one
        cancelled before; those raise :class:`NetworkRejected` with the code.
        """
        answer = self._call(
            "getCancellableInvoice",
            service=self._submitter_service(),
            issuerId=self._issuer_id(issuer_id),
            invoiceNumber=invoice_number,
            consignmentId=consignment_id or None,
        )
        found = answer.get("cancellableInvoice")
        if not found:
            return None
        return CancellableInvoice(
            invoice_number=found.get("invoiceNumber") or invoice_number,
            status=found.get("status") or "",
            consignment_id=found.get("consignmentId") or "",
        )

    def cancel_invoice(self, invoice_number, issuer_id=None):
        """Cancel one invoice (cancelInvoice). Returns the invoice's status after it, DELETED."""
        answer = self._call(
            "cancelInvoice",
            service=self._submitter_service(),
            issuerId=self._issuer_id(issuer_id),
            invoiceNumber=invoice_number,
        )
        return answer.get("status") or "DELETED"

    # -- plumbing -----------------------------------------------------------------------------

    def _submitter_service(self):
        if self._submitter is None:
            client = zeep.Client(self.config.submitter_wsdl_path, transport=self.transport)
            self._submitter = client.create_service(SUBMITTER_BINDING, self.config.submitter_address)
            self._apply_soap_actions(client)
        return self._submitter

    @staticmethod
    def _binding_name(client):
        """The stand-in's binding; in a WSDL MPS handed out with another binding name, its first binding."""
        bindings = list(client.wsdl.bindings)
        if BINDING in bindings or not bindings:
            return BINDING
        return bindings[0]

    def _apply_soap_actions(self, client):
        """Set the configured SOAP actions on the operations of every binding of ``client`` that has them."""
        overrides = dict(self.config.soap_actions)
        if not overrides:
            return
        for binding in client.wsdl.bindings.values():
            for name, operation in binding._operations.items():
                if name in overrides:
                    operation.soapaction = overrides[name]

    def _issuer_id(self, issuer_id):
        issuer_id = issuer_id or self.config.issuer_org_number
        if not issuer_id:
            raise ValueError("No issuer organisation number: pass issuer_id or set MpsConfig.issuer_org_number")
        return issuer_id

    @staticmethod
    def _identifier_request(query):
        if query.national_id:
            return {"reference": query.reference, "socialSecurityNumber": query.national_id}
        return {
            "reference": query.reference,
            "consumer": {
                "name": query.name,
                "phoneNumber": query.phone or None,
                "email": query.email or None,
                "dateOfBirth": query.birthdate or None,
            },
        }

    @staticmethod
    def _invoice_params(invoice):
        return {
            "invoiceNumber": invoice.invoice_number,
            "efakturaReference": invoice.efaktura_reference or None,
            "efakturaIdentifier": invoice.efaktura_identifier or None,
            "socialSecurityNumber": invoice.social_security_number or None,
            "documentType": invoice.document_type,
            "customerName": invoice.customer_name,
            "accountNumber": invoice.account_number,
            "kid": invoice.kid or None,
            "amount": decimal.Decimal(invoice.amount).quantize(decimal.Decimal("0.01")),
            "issueDate": invoice.issue_date,
            "dueDate": invoice.due_date,
            "presentationUrl": invoice.presentation_url or None,
        }

    @staticmethod
    def _require(answer, name, operation):
        value = answer.get(name)
        if value is None:
            raise NetworkUnavailable(f"MPS {operation}: the answer has no {name}")
        return value

    def _call(self, operation, service=None, **params):
        """Run one operation and return its answer as a dict; map every failure to a typed error.

        ``service`` is the zeep service of the "Issuer via MPS" service for its operations; the ERP
        service v4 by default.
        """
        submitter = service is not None
        address = self.config.submitter_address if submitter else self.config.endpoint
        message_identifier = new_message_identifier()
        self.last_message_identifier = message_identifier
        method = getattr(service or self._service, operation)
        try:
            response = method(auditInformation={"messageIdentifier": message_identifier}, **params)
        except zeep.exceptions.Fault as exc:
            raise fault_to_error(exc, operation, SUBMITTER_FAULT_CODES if submitter else None) from exc
        except zeep.exceptions.TransportError as exc:
            raise self._transport_error(exc, operation, address) from exc
        except zeep.exceptions.ValidationError as exc:
            raise NetworkRejected(f"MPS {operation}: the request does not fit the service's schema: {exc}") from exc
        except (zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
            raise NetworkUnavailable(f"MPS {operation}: the answer could not be read: {exc}") from exc
        except requests.Timeout as exc:
            raise NetworkUnavailable(f"MPS {operation}: no answer within {self.config.timeout:g} s") from exc
        except requests.RequestException as exc:
            raise NetworkUnavailable(f"MPS {operation}: could not reach {address}: {exc}") from exc
        answer = zeep.helpers.serialize_object(response, dict)
        if not isinstance(answer, dict):
            raise NetworkUnavailable(f"MPS {operation}: the answer is empty or not the expected message")
        echoed = (answer.get("auditInformation") or {}).get("messageIdentifier")
        if echoed and echoed != message_identifier:
            raise NetworkUnavailable(
                f"MPS {operation}: the answer belongs to message {echoed!r}, not to {message_identifier!r}"
            )
        return answer

    def _transport_error(self, exc, operation, address):
        status = exc.status_code
        if status and 400 <= status < 500 and status not in _RETRYABLE_HTTP:
            return NetworkRejected(
                f"MPS {operation}: HTTP {status} from {address}; check the endpoint and the client certificate"
            )
        if status in (200, 500):
            return NetworkUnavailable(
                f"MPS {operation}: the answer could not be read (HTTP {status}): {exc.message[:300]}"
            )
        if status:
            return NetworkUnavailable(f"MPS {operation}: HTTP {status} from {address}")
        return NetworkUnavailable(f"MPS {operation}: {exc.message[:300]}")
