"""What the Maventa (Visma AutoInvoice) client relies on: documented facts, and named guesses.

Everything the client (:mod:`.maventa`) and the local peer (tests/maventa_peer.py) send or accept
comes from this module, so that a reader can tell what is documented from what is guessed and
correct a guess in one place once Maventa's Swagger (swagger.maventa.com, behind a partner login)
is at hand. Each value below says where it comes from:

* ``DOC``: read in Maventa's public documentation, with the page;
* ``GUESS``: the public pages are silent; the value is a guess, listed in the README.

Pages used (stored copies, read 2026-12):

* AUTH  https://documentation-next.maventa.com/api-specification/rest-api/authentication
* NO    https://documentation-next.maventa.com/integration-guide/invoice-sending/consumer-invoicing/no
* B2C   https://documentation-next.maventa.com/integration-guide/invoice-sending/consumer-invoicing
* SEND  https://documentation.maventa.com/integration-guide/invoice-sending/invoice-sending-via-api
* SEND2 https://documentation.maventa.com/integration-guide/invoice-sending/invoice-sending/
* HOOK  https://documentation-next.maventa.com/integration-guide/integration-tools/webhooks
* TYPES https://documentation-next.maventa.com/integration-guide/invoicing-formats/document-types
* DOCS  https://documentation-next.maventa.com/integration-guide/peppol/document-exchange
* SOAP  https://documentation.maventa.com/api-specification/soap-api/b2c-norway-api-methods
* CHG   https://documentation-next.maventa.com/changelogs/developer-changelog/
        2025-08-27-added-support-for-sending-invoice-xml-as-email-invoice-attachment
"""

import base64
import re

from lxml import etree

# -- Environments -------------------------------------------------------------------------------

STAGING_BASE_URL = "https://ax-stage.maventa.com"  # DOC (AUTH, NO: "POST https://ax-stage.maventa.com/oauth2/token")
PRODUCTION_BASE_URL = "https://ax.maventa.com"  # GUESS: the staging host without "-stage"

# -- OAuth2 client credentials (DOC: AUTH) -------------------------------------------------------
# POST /oauth2/token with client_id = the company UUID, client_secret = the user API key, and the
# partner's vendor_api_key; the answer has access_token and expires_in (seconds; "valid for 1 hour").
TOKEN_PATH = "/oauth2/token"
TOKEN_FORM_FIELDS = ("grant_type", "client_id", "client_secret", "vendor_api_key", "scope")
TOKEN_REQUIRED_FIELDS = ("grant_type", "client_id", "client_secret", "vendor_api_key")
GRANT_TYPE = "client_credentials"
# DOC (the scope list of the docs' Swagger sign-in): the scopes this client needs.
SCOPES = ("invoice:send", "company:read", "company:write")
TOKEN_ANSWER_FIELDS = ("access_token", "token_type", "expires_in", "scope")
TOKEN_LIFETIME = 3600  # DOC: "The token is valid for 1 hour"

# -- Sending an invoice ----------------------------------------------------------------------------
# DOC (B2C, SEND2): consumer invoices use the same POST /v1/invoices as B2B; the call takes the
# invoice XML (or a ZIP with the XML and attachments) as a file, creates the invoice and returns
# its id. DOC (SEND): "it is possible to specify invoice UUID yourself ... for case of timeouts,
# you can retry with same UUID and if it already exists you know the invoice got created already."
# DOC (CHG): parameters of POST /v1/invoices are form fields with bracketed names
# (email_settings[xml_format]); DOC (NO): an invoice "can be forced to go to a specific route like
# eFaktura" or let Maventa's routing try every route in a predefined order.
INVOICES_PATH = "/v1/invoices"
INVOICE_PATH = "/v1/invoices/{id}"  # DOC (SEND2: GET /v1/invoices/{id}/files/{file_id} hangs off it)
FIELD_FILE = "file"  # DOC (SEND2, DOCS: "file": the document file in XML format)
FIELD_INVOICE_UUID = "id"  # GUESS: the name of the form field that carries our own invoice UUID
FIELD_ROUTE = "routing[route]"  # GUESS: the name of the field that forces the route
ROUTE_EFAKTURA = "EFAKTURA"  # GUESS: the value forcing eFaktura (nettbank and Vipps, matched by JTTA)
INVOICE_FORM_FIELDS = (FIELD_FILE, FIELD_INVOICE_UUID, FIELD_ROUTE)
INVOICE_REQUIRED_FIELDS = (FIELD_FILE,)
# GUESS: the HTTP status of a POST whose UUID Maventa already has (the docs only say "you know
# the invoice got created already").
HTTP_ALREADY_EXISTS = 409
# The answer of POST /v1/invoices and GET /v1/invoices/{id}: DOC (SEND2) "id" and "status";
# GUESS: "invoice_nr" (the invoice number read from the XML) and "status_message".
INVOICE_ANSWER_FIELDS = ("id", "status", "invoice_nr", "status_message")

# The invoice format. DOC (SEND2): "Maventa recommends Peppol BIS 3.0"; DOC (TYPES): for UBL
# formats the root element decides the type: <Invoice> is an invoice, <CreditNote> a credit note.
# Maventa JSON is marked "Preview" in the docs' navigation, so the client sends Peppol BIS 3.0
# (Norway's EHF 3), made by Odoo's own account_edi_ubl_cii generator, with the PDF embedded.
UBL_INVOICE_ROOT = "Invoice"
UBL_CREDIT_NOTE_ROOT = "CreditNote"
UBL_NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}


class UnreadableFile(ValueError):
    """A file Maventa would refuse; ``code`` names the rule."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def read_ubl(data):
    """What Maventa reads from a UBL file: the type (the root decides, DOC: TYPES), the invoice number, the
    KID (PaymentID; DOC (NO): a Norwegian consumer invoice needs one), the buyer's phone and e-mail (what
    JTTA matches on, DOC: NO), the invoice credited, and whether a PDF is embedded. Raises
    :class:`UnreadableFile` for a file Maventa would refuse."""
    try:
        root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise UnreadableFile("INVALID_XML", f"the file is not XML: {exc}") from exc
    localname = etree.QName(root).localname
    if localname not in (UBL_INVOICE_ROOT, UBL_CREDIT_NOTE_ROOT):
        raise UnreadableFile("UNKNOWN_FORMAT", f"root element {localname} is neither Invoice nor CreditNote")
    number = root.findtext("cbc:ID", namespaces=UBL_NS)
    if not number:
        raise UnreadableFile("INVOICE_NUMBER", "the invoice has no number (cbc:ID)")
    kid = root.findtext("cac:PaymentMeans/cbc:PaymentID", namespaces=UBL_NS) or ""
    kind = "invoice" if localname == UBL_INVOICE_ROOT else "credit_note"
    if kind == "invoice" and not kid:
        raise UnreadableFile("PAYMENT_ID", "an invoice to a Norwegian consumer needs a KID (PaymentID)")
    customer = root.find("cac:AccountingCustomerParty/cac:Party", namespaces=UBL_NS)
    phone = mail = ""
    if customer is not None:
        phone = customer.findtext("cac:Contact/cbc:Telephone", namespaces=UBL_NS) or ""
        mail = customer.findtext("cac:Contact/cbc:ElectronicMail", namespaces=UBL_NS) or ""
    pdfs = [
        node
        for node in root.iterfind(
            "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject", namespaces=UBL_NS
        )
        if node.get("mimeCode") == "application/pdf"
    ]
    return {
        "type": kind,
        "invoice_nr": number,
        "kid": kid,
        "billing_reference": root.findtext(
            "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=UBL_NS
        )
        or "",
        "phone": re.sub(r"\D", "", phone)[-8:],
        "email": mail.strip().lower(),
        "pdf": bool(pdfs) and base64.b64decode("".join(pdfs[0].text.split()))[:4] in (b"%PDF", b"<!DO", b"<htm"),
    }


# Invoice states (DOC: SEND, "Invoice statuses"). The main ones are PENDING, SENT and ERROR; the
# others are "internal and should be used for information only".
STATUS_PENDING = "PENDING"  # awaiting delivery
STATUS_SENT = "SENT"  # sent on (with the route forced to eFaktura: handed to the consumer's bank or Vipps)
STATUS_ERROR = "ERROR"  # send error: for a forced eFaktura route, the consumer was not found in JTTA
STATUSES = (STATUS_PENDING, STATUS_SENT, "DECLINED", "ACCEPTED", "PAID", "VIEWED", "DISPUTED", STATUS_ERROR)

# -- Webhooks (DOC: HOOK) --------------------------------------------------------------------------
# POST /v1/company/notifications {destination_type: "WEBHOOK", destination, events} answers with
# the subscription's id; Maventa then POSTs an event to the destination when an invoice changes.
NOTIFICATIONS_PATH = "/v1/company/notifications"
NOTIFICATION_FIELDS = ("destination_type", "destination", "events")
DESTINATION_TYPE_WEBHOOK = "WEBHOOK"
EVENT_DELIVERED = "DOCUMENTS.INVOICE.DELIVERED"
EVENT_DELIVERY_CONFIRMED = "DOCUMENTS.INVOICE.DELIVERY_CONFIRMED"
EVENT_FAILED = "DOCUMENTS.INVOICE.FAILED"
EVENTS = (EVENT_DELIVERED, EVENT_DELIVERY_CONFIRMED, EVENT_FAILED)
# GUESS: the event body's field names. The docs show no body and no signature, so the receiving
# route trusts nothing in it: the secret in the destination URL (>= 256 bits, stored hashed) admits
# the call, and the invoice's state is then read from GET /v1/invoices/{id} with our own token.
EVENT_NAME_FIELD = "event"
EVENT_INVOICE_ID_FIELDS = ("invoice_id", "id")

# -- The Norwegian B2C agreement -------------------------------------------------------------------
# DOC (NO): activation through the API or UI makes Maventa ask MPS whether the company has an
# agreement with another provider; without one it is active at once, with one the signatory signs
# a transfer in Visma Sign; MPS creates the agreement at once and Maventa picks it up within about
# an hour. DOC (SOAP): the older SOAP method b2c_issuer_agreement_order takes signer_name and
# signer_email; agreements are PENDING or CONFIRMED.
B2CNO_AGREEMENT_PATH = "/v1/company/b2cno/agreement"  # GUESS: the REST address of the B2CNO agreement
AGREEMENT_FIELDS = ("signer_name", "signer_email")  # DOC (SOAP)
AGREEMENT_PENDING = "PENDING"  # DOC (SOAP)
AGREEMENT_CONFIRMED = "CONFIRMED"  # DOC (SOAP)
AGREEMENT_SIGNATURE_NEEDED = "SIGNATURE_NEEDED"  # GUESS: another provider's agreement must be transferred
AGREEMENT_STATES = (AGREEMENT_PENDING, AGREEMENT_CONFIRMED, AGREEMENT_SIGNATURE_NEEDED)
AGREEMENT_ANSWER_FIELDS = ("status", "signer_name", "signer_email")

# -- Errors ------------------------------------------------------------------------------------------
# GUESS: an error answer is JSON with a "code" and a "message".
ERROR_FIELDS = ("code", "message")

# -- Reminders ---------------------------------------------------------------------------------------
# DOC (TYPES): the only reminder type named is Finvoice's INV08 "Reminder Invoice" (a Finnish
# format); DOC (DOCS): Peppol reminders go by POST /v1/documents, which needs the recipient's Peppol
# id and has no recipient lookup, so it cannot reach a consumer's nettbank. The docs show no
# reminder for Norwegian eFaktura, so a reminder is never sent through Maventa as a new invoice
# (that would be a second payment claim in the nettbank): the chain sends it by e-mail or post.
REMINDERS_SUPPORTED = False
