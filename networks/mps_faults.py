"""The SOAP faults of MPS' eFaktura services, in plain Python: their codes and the typed errors they become.

MPS says why it refused a request in a validationFault or serverFault with a numeric code; :func:`fault_to_error`
turns a fault read by zeep into :class:`.base.NetworkRejected` or :class:`.base.NetworkUnavailable` with that code.
:class:`.mps_client.MpsClient` raises what it returns; the names are importable from :mod:`.mps_client` too.
"""

from lxml import etree

from .base import (
    NetworkRejected,
    NetworkUnavailable,
)

#: Error codes MPS puts in validationFault, with whether the same call may succeed later and what
#: they mean. Sources on https://www.efaktura.no/developer/documentation/:
#: efaktura-erp-v4 (5002, 5006, 5007, 5008), efaktura-nets-submitter-v1 (5003, 5009, 5010) and
#: submitter-service (209, 201, 202, 205). A validationFault says the request itself is wrong, so
#: none of them is retryable; any other validationFault code is treated the same way. A serverFault
#: is always retryable, whatever its code.
FAULT_CODES = {
    "5002": (False, "Issuer does not exist or user is not authorized to view information about this issuer."),
    "5003": (False, "One of efakturaReference, efakturaIdentifier or socialSecurityNumber is required."),
    "5006": (
        False,
        "Invalid billing account number. Must be a Norwegian account number with 11 digits and modulus 11 valid.",
    ),
    "5007": (False, "Invalid CustomerReferencePosition. Must be on the format KID[digit-digit]."),
    "5008": (False, "Brand agreement rule already exists."),
    "5009": (False, "User must supply service provider id."),
    "5010": (False, "User not allowed to supply service provider id."),
    "209": (False, "Duplicate consignmentId (the sender has used this consignmentId before)."),
    "201": (False, "Unable to find consignment."),
    "202": (False, "Multiple consignments found for id."),
    "205": (False, "Consignment already cancelled."),
}
#: validationFault codes of the "Issuer via MPS" cancellation operations, documented for
#: cancelInvoice on .../issuer-via-mastercard-payment-services-service. The same numbers mean other
#: things in the ERP service v4 (5006 there is an invalid account number), so they are read with
#: this table only for answers of that service. None of them will pass on a later try.
SUBMITTER_FAULT_CODES = {
    "5004": (False, "Unable to find invoice."),
    "5005": (False, "Cancellation on paid invoice: the invoice is already paid."),
    "5006": (False, "Invoice already cancelled."),
    "5008": (False, "Authorization failed."),
}
INVOICE_UNKNOWN = "5004"
INVOICE_PAID = "5005"
INVOICE_ALREADY_CANCELLED = "5006"

ISSUER_UNKNOWN = "5002"
RECIPIENT_MISSING = "5003"
DUPLICATE_CONSIGNMENT = "209"


def _localname(element):
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _child_text(element, name):
    for child in element:
        if _localname(child) == name:
            return (child.text or "").strip()
    return ""


def fault_to_error(fault, operation="call", codes=None):
    """The typed error for a SOAP fault read by zeep.

    A validationFault becomes :class:`NetworkRejected` (or :class:`NetworkUnavailable` for a code
    that :data:`FAULT_CODES` marks retryable) carrying MPS' code; a serverFault becomes
    :class:`NetworkUnavailable`. A fault without a typed detail follows its faultcode: "Client"
    is refused for good, anything else may pass later. ``codes`` is the code table of the service
    that answered, :data:`FAULT_CODES` by default; a known code's meaning is added to the message
    when MPS' own text does not already say it.
    """
    kind = code = text = ""
    detail = fault.detail
    if isinstance(detail, etree._Element):
        for child in detail:
            if _localname(child) in ("validationFault", "serverFault"):
                kind = _localname(child)
                code = _child_text(child, "code")
                text = _child_text(child, "message")
                break
    message = text or fault.message or ""
    if kind == "validationFault":
        retryable, meaning = (FAULT_CODES if codes is None else codes).get(code, (False, ""))
        error_class = NetworkUnavailable if retryable else NetworkRejected
        reason = message or meaning or "no reason given"
        if message and meaning and meaning.rstrip(".") not in message:
            reason = f"{message} ({meaning.rstrip('.')})"
        return error_class(f"MPS {operation} refused the request: {reason}", code or None)
    if kind == "serverFault":
        return NetworkUnavailable(f"MPS {operation} failed on the server: {message or 'no reason given'}", code or None)
    if not fault.code and not isinstance(detail, etree._Element):
        return NetworkUnavailable(f"MPS {operation} failed: the server answered with an error that is not a SOAP fault")
    faultcode = (fault.code or "").rpartition(":")[2]
    if faultcode == "Client":
        return NetworkRejected(f"MPS {operation} refused the request: {message or 'no reason given'}")
    return NetworkUnavailable(f"MPS {operation} failed: {message or 'the answer held no fault details'}")
