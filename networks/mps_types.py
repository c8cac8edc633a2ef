"""The MPS eFaktura types, in plain Python: where the services live, and the values the calls take and give.

The service addresses and the WSDL files the module carries, the document types, :class:`MpsConfig` (where and how
to reach MPS) and the frozen dataclasses :class:`.mps_client.MpsClient` takes and returns. Every name here is
importable from :mod:`.mps_client` too, which re-exports it.
"""

import dataclasses
import datetime
import decimal
import os
import urllib.parse

NAMESPACE = "https://efaktura-services.nets.no/invoicing-erp/v4/"
#: The documented service location; test environments and proxies are set in MpsConfig.endpoint.
PRODUCTION_ENDPOINT = NAMESPACE
WSDL_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wsdl", "efaktura-erp-v4.wsdl")
XSD_PATH = os.path.join(os.path.dirname(WSDL_PATH), "efaktura-erp-v4.xsd")
BINDING = f"{{{NAMESPACE}}}EfakturaErpBinding"

SUBMITTER_NAMESPACE = "https://efaktura-services.nets.no/invoicing-nets-submitter/v1/"
SUBMITTER_PATH = "/invoicing-nets-submitter/v1/"
#: The documented location of the "Issuer via MPS" service.
SUBMITTER_PRODUCTION_ENDPOINT = SUBMITTER_NAMESPACE
SUBMITTER_WSDL_PATH = os.path.join(os.path.dirname(WSDL_PATH), "efaktura-submitter-v1.wsdl")
SUBMITTER_XSD_PATH = os.path.join(os.path.dirname(WSDL_PATH), "efaktura-submitter-v1.xsd")
SUBMITTER_BINDING = f"{{{SUBMITTER_NAMESPACE}}}EfakturaNetsSubmitterBinding"

DOCUMENT_INVOICE = "INVOICE"
DOCUMENT_CREDIT_NOTE = "CREDIT_NOTE"


@dataclasses.dataclass(frozen=True)
class MpsConfig:
    """Where and how to reach MPS.

    ``endpoint`` is the ERP service v4. ``submitter_endpoint`` is the "Issuer via MPS" service that
    cancels invoices; when empty it is derived from ``endpoint``: the same scheme and host with the
    documented path ``/invoicing-nets-submitter/v1/`` (see :attr:`submitter_address`), which for the
    production ERP address is the documented production address of that service.
    ``client_cert`` and ``client_key`` are the paths of the PEM certificate and key of the mutual
    TLS agreement (the key may sit in the certificate file); ``ca_bundle`` the CA file that signs
    the server, empty for the system store. ``timeout`` is in seconds, for each call.
    """

    endpoint: str = PRODUCTION_ENDPOINT
    issuer_org_number: str = ""
    wsdl_path: str = WSDL_PATH
    submitter_endpoint: str = ""
    submitter_wsdl_path: str = SUBMITTER_WSDL_PATH
    client_cert: str = ""
    client_key: str = ""
    ca_bundle: str = ""
    timeout: float = 30.0
    # ((operation, SOAPAction), ...): overrides of the SOAP actions the WSDL gives, for when MPS's differ.
    soap_actions: tuple = ()

    def __post_init__(self):
        if not self.endpoint:
            raise ValueError("MpsConfig.endpoint is required")
        if not self.timeout or self.timeout <= 0:
            raise ValueError(f"MpsConfig.timeout must be a positive number of seconds, not {self.timeout!r}")
        if self.client_key and not self.client_cert:
            raise ValueError("MpsConfig.client_key is set without client_cert")

    @property
    def submitter_address(self):
        """The address of the "Issuer via MPS" service: ``submitter_endpoint``, or derived from ``endpoint``."""
        if self.submitter_endpoint:
            return self.submitter_endpoint
        parts = urllib.parse.urlsplit(self.endpoint)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, SUBMITTER_PATH, "", ""))


@dataclasses.dataclass(frozen=True)
class MpsIssuer:
    issuer_id: str  # organisation number, 9 digits
    name: str
    account_number: str  # 11 digits, MOD11 (error 5006 otherwise)
    email: str = ""


@dataclasses.dataclass(frozen=True)
class IdentifierQuery:
    """One consumer to look up: by national id, or by name with a phone number and/or e-mail."""

    reference: str  # echoed back in the answer, 1..50 characters
    national_id: str = ""
    name: str = ""
    phone: str = ""  # E.164
    email: str = ""
    birthdate: datetime.date = None

    def check(self):
        if not self.reference or len(self.reference) > 50:
            raise ValueError(f"An identifier query needs a reference of 1 to 50 characters, not {self.reference!r}")
        if not self.national_id and not (self.name and (self.phone or self.email)):
            raise ValueError(
                f"Identifier query {self.reference!r} needs a national id, or a name with a phone number or e-mail"
            )


@dataclasses.dataclass(frozen=True)
class IdentifierAnswer:
    reference: str
    efaktura_identifier: str = ""  # empty: no consumer found
    auto_accept: bool = False  # the consumer said "yes to all" eFaktura
    blocked: bool = False  # the consumer blocked this issuer

    @property
    def usable(self):
        """Whether an invoice from this issuer can reach the consumer by eFaktura now."""
        return bool(self.efaktura_identifier) and self.auto_accept and not self.blocked


@dataclasses.dataclass(frozen=True)
class MpsInvoice:
    invoice_number: str
    customer_name: str
    account_number: str
    amount: decimal.Decimal  # NOK, two decimals, never negative
    issue_date: datetime.date
    due_date: datetime.date
    efaktura_identifier: str = ""
    efaktura_reference: str = ""
    social_security_number: str = ""
    kid: str = ""
    document_type: str = DOCUMENT_INVOICE
    presentation_url: str = ""


@dataclasses.dataclass(frozen=True)
class ConsignmentStatus:
    consignment_id: str
    status: str  # ConsignmentStatusType
    number_of_invoices: int = 0
    status_text: str = ""


@dataclasses.dataclass(frozen=True)
class CancellableInvoice:
    invoice_number: str
    status: str  # InvoiceStatusType
    consignment_id: str = ""


@dataclasses.dataclass(frozen=True)
class InvoiceStatus:
    invoice_number: str
    consignment_id: str
    status: str  # InvoiceStatusType
    status_text: str = ""
    last_changed: datetime.datetime = None
