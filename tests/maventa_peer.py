"""A local Maventa (Visma AutoInvoice) for tests, built only from the contract in networks/maventa_contract.py.

``MaventaPeer`` serves, on 127.0.0.1 and a free port, the endpoints the contract names:
``POST /oauth2/token``, ``POST /v1/invoices``, ``GET /v1/invoices/{id}``, ``POST
/v1/company/notifications`` and ``GET``/``POST`` of the B2C Norway agreement. It is strict:

* a form or JSON field the contract does not name is refused (400, naming the field); a required
  one missing is refused too; a call without a valid bearer token gets 401;
* the invoice file must be UBL (``<Invoice>`` or ``<CreditNote>``, the root decides the type, as
  Maventa's docs say), with an invoice number; an invoice needs a PaymentID (the KID);
* B2C invoices are refused until the B2C Norway agreement is CONFIRMED, as the docs require;
* a second POST with a UUID the peer has is answered 409 and creates nothing.

It counts what must never happen: ``duplicates`` (a second invoice with an invoice number the
company already sent), ``second_claims`` (a new invoice carrying a KID an earlier invoice already
claims) and ``credit_notes_with_kid`` (a credit note whose PaymentID is the KID of an invoice).

For the chaos runs (chaos/peers.py), :meth:`MaventaPeer.set_chaos` fails a share of all calls at
random, half with a 500 before doing anything, half by doing the work and dropping the answer (the
ambiguous case); :meth:`MaventaPeer.stats` reports the counts and the invoices held live.

Maventa works asynchronously: new invoices are PENDING; :meth:`MaventaPeer.process` routes them.
With the route forced to eFaktura, a consumer found in the JTTA registry (by the invoice's phone
number or e-mail address) makes the invoice SENT, anyone else makes it ERROR; without a forced
route the peer falls back to e-mail, then print, as Maventa's routing does.
"""

import dataclasses
import email.parser
import email.policy
import json
import random
import re
import secrets
import urllib.parse
import uuid

from ..networks import maventa_contract as contract
from .local_peer import LocalPeer, PeerHandler

INVOICE_PATH_RE = re.compile(r"/v1/invoices/([0-9a-fA-F-]{36})")
FAULTS = ("500", "lose_answer")


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes
    status: int = None


class _Refused(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(PeerHandler):
    server_version = "MaventaPeer/1.0"


class MaventaPeer(LocalPeer):
    handler = _Handler
    thread_name = "maventa-peer"

    def __init__(
        self,
        company_uuid="5b0a4c1e-8c55-4a51-9d1e-6a2f0c3b9e10",
        user_api_key="peer-user-key",
        vendor_api_key="peer-vendor-key",
    ):
        self.company_uuid = company_uuid
        self.user_api_key = user_api_key
        self.vendor_api_key = vendor_api_key
        super().__init__()
        self.reset()

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls ----------------------------------------------------------------------

    def reset(self):
        with self._lock:
            self.requests = []
            self.errors = []  # requests the contract forbids, with the reason
            self.internal_errors = []
            self.tokens = {}
            self.token_lifetime = contract.TOKEN_LIFETIME
            self.invoices = {}  # uuid -> dict
            self.jtta = []  # (phone, email) of consumers who said yes to all
            self.agreement = None  # dict with status, signer_name, signer_email
            self.mps_agreement_elsewhere = False
            self.subscriptions = []
            self.duplicates = 0
            self.duplicate_examples = []  # (invoice number, earlier invoice id, new invoice id)
            self.submissions = 0  # invoices created (a POST answered 409 creates none)
            self.lost_answers = 0
            self.chaos_rate = 0.0
            self.chaos_faults = {"before": 0, "after": 0}
            self._rng = random.Random(0)
            self.second_claims = 0
            self.credit_notes_with_kid = 0
            self.faults = []  # (fault, method, path prefix), taken in order by the first request they match

    def add_jtta_consumer(self, phone="", email=""):
        self.jtta.append((re.sub(r"\D", "", phone or "")[-8:], (email or "").strip().lower()))

    def confirm_agreement(self):
        """Maventa picked the agreement up from MPS (the docs: within about an hour)."""
        with self._lock:
            self.agreement["status"] = contract.AGREEMENT_CONFIRMED

    def add_fault(self, fault, method=None, path=None):
        """The next request of ``method`` to a path starting with ``path`` fails: "500", or "lose_answer" (the
        request is carried out, but the connection closes before the answer)."""
        assert fault in FAULTS
        with self._lock:
            self.faults.append((fault, method, path))

    @property
    def duplicate_count(self):
        return self.duplicates

    def live_invoices(self):
        """The ids of the invoices Maventa holds and delivers (or will): all but those it failed (ERROR)."""
        with self._lock:
            return sorted(i for i, invoice in self.invoices.items() if invoice["status"] != contract.STATUS_ERROR)

    def stats(self):
        """Counts for a chaos report, as plain data."""
        with self._lock:
            return {
                "requests": len(self.requests),
                "submissions": self.submissions,
                "duplicates": self.duplicates,
                "duplicate_examples": [list(d) for d in self.duplicate_examples[:5]],
                "second_claims": self.second_claims,
                "credit_notes_with_kid": self.credit_notes_with_kid,
                "lost_answers": self.lost_answers,
                "faults": dict(self.chaos_faults),
                "refused": len(self.errors),
                "refused_examples": self.errors[:5],
                "by_status": {
                    status: sum(1 for i in self.invoices.values() if i["status"] == status)
                    for status in sorted({i["status"] for i in self.invoices.values()})
                },
                "live": self.live_invoices(),
            }

    def process(self):
        """Route every PENDING invoice, as Maventa's workers would."""
        with self._lock:
            for invoice in self.invoices.values():
                if invoice["status"] != contract.STATUS_PENDING:
                    continue
                matched = self._jtta_match(invoice)
                if matched:
                    invoice.update(status=contract.STATUS_SENT, route="EFAKTURA", status_message="eFaktura")
                elif invoice["forced_route"] == contract.ROUTE_EFAKTURA:
                    invoice.update(
                        status=contract.STATUS_ERROR,
                        status_message="eFaktura: the consumer is not in the yes-to-all (JTTA) registry",
                    )
                elif invoice["email"]:
                    invoice.update(status=contract.STATUS_SENT, route="EMAIL", status_message="e-mail")
                else:
                    invoice.update(status=contract.STATUS_SENT, route="PRINT", status_message="print")

    def set_status(self, invoice_id, status):
        with self._lock:
            self.invoices[invoice_id]["status"] = status

    def requests_to(self, method, path):
        return [r for r in self.requests if r.method == method and r.path.startswith(path)]

    def sent(self):
        """The invoices the consumers got (or will get), by invoice number."""
        return [i for i in self.invoices.values() if i["status"] != contract.STATUS_ERROR]

    # -- serving ----------------------------------------------------------------------------

    def _serve(self, request):
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(request.path).path
        headers = {k.lower(): v for k, v in request.headers.items()}
        record = Recorded(request.command, path, headers, body)
        with self._lock:
            self.requests.append(record)
            fault = None
            for index, (name, method, prefix) in enumerate(self.faults):
                if (method is None or method == request.command) and (prefix is None or path.startswith(prefix)):
                    fault = name
                    del self.faults[index]
                    break
            if fault is None and self.chaos_rate and self._rng.random() < self.chaos_rate:
                chaos = self._rng.choice(("before", "after"))
                self.chaos_faults[chaos] += 1
                fault = "500" if chaos == "before" else "lose_answer"
        if fault == "500":
            record.status = 500
            self._write(request, 500, {"code": "INTERNAL", "message": "internal error"})
            return
        try:
            with self._lock:
                status, answer = self._route(request.command, path, headers, body)
        except _Refused as refused:
            with self._lock:
                self.errors.append(f"{request.command} {path}: {refused.message}")
            status, answer = refused.status, {"code": refused.code, "message": refused.message}
        except Exception as exc:  # noqa: BLE001 - a peer bug must show in the test
            with self._lock:
                self.internal_errors.append(f"{request.command} {path}: {exc!r}")
            status, answer = 500, {"code": "INTERNAL", "message": repr(exc)}
        record.status = status
        if fault == "lose_answer":
            # Done, but the answer never reaches the client: the connection is closed.
            with self._lock:
                self.lost_answers += 1
            request.close_connection = True
            return
        self._write(request, status, answer)

    @staticmethod
    def _write(request, status, answer):
        data = json.dumps(answer).encode() if answer is not None else b""
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return

    def _route(self, method, path, headers, body):
        if path == contract.TOKEN_PATH and method == "POST":
            return self._token(headers, body)
        self._check_bearer(headers)
        if path == contract.INVOICES_PATH and method == "POST":
            return self._post_invoice(headers, body)
        match = INVOICE_PATH_RE.fullmatch(path)
        if match and method == "GET":
            invoice = self.invoices.get(match.group(1))
            return (
                (404, {"code": "NOT_FOUND", "message": "no such invoice"})
                if invoice is None
                else (
                    200,
                    self._invoice_out(invoice),
                )
            )
        if path == contract.NOTIFICATIONS_PATH and method == "POST":
            return self._subscribe(self._json_body(headers, body, contract.NOTIFICATION_FIELDS))
        if path == contract.B2CNO_AGREEMENT_PATH and method == "GET":
            return (
                (404, {"code": "NOT_FOUND", "message": "no agreement"})
                if self.agreement is None
                else (
                    200,
                    dict(self.agreement),
                )
            )
        if path == contract.B2CNO_AGREEMENT_PATH and method == "POST":
            return self._order_agreement(self._json_body(headers, body, contract.AGREEMENT_FIELDS))
        raise _Refused(404, "NOT_FOUND", f"{method} {path} is not an endpoint of the contract")

    # -- checks -----------------------------------------------------------------------------

    @staticmethod
    def _only(fields, allowed, required, where):
        unknown = sorted(set(fields) - set(allowed))
        if unknown:
            raise _Refused(400, "UNKNOWN_FIELD", f"{where}: unknown field(s) {', '.join(unknown)}")
        missing = [name for name in required if not fields.get(name)]
        if missing:
            raise _Refused(400, "MISSING_FIELD", f"{where}: required field(s) {', '.join(missing)} missing")

    def _check_bearer(self, headers):
        value = headers.get("authorization", "")
        if not value.startswith("Bearer ") or value[7:] not in self.tokens:
            raise _Refused(401, "UNAUTHORIZED", "missing or unknown bearer token")

    def _json_body(self, headers, body, allowed):
        if not headers.get("content-type", "").startswith("application/json"):
            raise _Refused(400, "CONTENT_TYPE", "expected a JSON body")
        try:
            data = json.loads(body or b"null")
        except ValueError as exc:
            raise _Refused(400, "INVALID_JSON", "the body is not JSON") from exc
        if not isinstance(data, dict):
            raise _Refused(400, "INVALID_JSON", "the body is not an object")
        self._only(data, allowed, allowed, "body")
        return data

    # -- endpoints --------------------------------------------------------------------------

    def _token(self, headers, body):
        if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            raise _Refused(400, "CONTENT_TYPE", "the token request is a form")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        self._only(form, contract.TOKEN_FORM_FIELDS, contract.TOKEN_REQUIRED_FIELDS, "token request")
        if form["grant_type"] != contract.GRANT_TYPE:
            raise _Refused(400, "UNSUPPORTED_GRANT_TYPE", f"grant_type {form['grant_type']!r}")
        if (form["client_id"], form["client_secret"], form["vendor_api_key"]) != (
            self.company_uuid,
            self.user_api_key,
            self.vendor_api_key,
        ):
            raise _Refused(401, "INVALID_CLIENT", "unknown company UUID, API key or vendor API key")
        token = secrets.token_urlsafe(32)
        self.tokens[token] = form.get("scope", "")
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": form.get("scope", ""),
        }

    def _multipart(self, headers, body):
        content_type = headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise _Refused(400, "CONTENT_TYPE", "POST /v1/invoices takes multipart/form-data")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name in fields:
                raise _Refused(400, "REPEATED_FIELD", f"field {name} given twice")
            fields[name] = part.get_payload(decode=True)
        return fields

    def _post_invoice(self, headers, body):
        fields = self._multipart(headers, body)
        self._only(fields, contract.INVOICE_FORM_FIELDS, contract.INVOICE_REQUIRED_FIELDS, "POST /v1/invoices")
        route = (fields.get(contract.FIELD_ROUTE) or b"").decode()
        if route and route != contract.ROUTE_EFAKTURA:
            raise _Refused(400, "INVALID_ROUTE", f"unknown route {route!r}")
        if not self.agreement or self.agreement["status"] != contract.AGREEMENT_CONFIRMED:
            raise _Refused(403, "B2CNO_AGREEMENT", "the B2C Norway agreement is not active for the company")
        invoice_id = (fields.get(contract.FIELD_INVOICE_UUID) or b"").decode()
        if invoice_id and not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", invoice_id):
            raise _Refused(400, "INVALID_ID", f"id {invoice_id!r} is not a UUID")
        if invoice_id in self.invoices:
            return contract.HTTP_ALREADY_EXISTS, {"code": "ALREADY_EXISTS", "message": f"invoice {invoice_id} exists"}
        parsed = self._read_ubl(fields[contract.FIELD_FILE])
        invoice_id = invoice_id or str(uuid.uuid4())
        earlier = [i for i in self.invoices.values() if i["invoice_nr"] == parsed["invoice_nr"]]
        if earlier:
            self.duplicates += 1
            self.duplicate_examples.append((parsed["invoice_nr"], earlier[0]["id"], invoice_id))
        if (
            parsed["type"] == "invoice"
            and parsed["kid"]
            and any(i["type"] == "invoice" and i["kid"] == parsed["kid"] for i in self.invoices.values())
        ):
            self.second_claims += 1
        if (
            parsed["type"] == "credit_note"
            and parsed["kid"]
            and any(i["type"] == "invoice" and i["kid"] == parsed["kid"] for i in self.invoices.values())
        ):
            self.credit_notes_with_kid += 1
        invoice = {
            "id": invoice_id,
            "status": contract.STATUS_PENDING,
            "forced_route": route,
            "route": "",
            "status_message": "",
            **parsed,
        }
        self.invoices[invoice_id] = invoice
        self.submissions += 1
        return 201, self._invoice_out(invoice)

    @staticmethod
    def _read_ubl(data):
        try:
            return contract.read_ubl(data)
        except contract.UnreadableFile as exc:
            raise _Refused(400, exc.code, str(exc)) from exc

    def _jtta_match(self, invoice):
        return any(
            (phone and phone == invoice["phone"]) or (mail and mail == invoice["email"]) for phone, mail in self.jtta
        )

    @staticmethod
    def _invoice_out(invoice):
        return {
            "id": invoice["id"],
            "status": invoice["status"],
            "invoice_nr": invoice["invoice_nr"],
            "status_message": invoice["status_message"],
        }

    def _subscribe(self, data):
        if data["destination_type"] != contract.DESTINATION_TYPE_WEBHOOK:
            raise _Refused(400, "DESTINATION_TYPE", f"destination_type {data['destination_type']!r}")
        unknown = sorted(set(data["events"]) - set(contract.EVENTS))
        if unknown:
            raise _Refused(400, "EVENTS", f"unknown events {', '.join(unknown)}")
        subscription = {"id": str(uuid.uuid4()), **data}
        self.subscriptions.append(subscription)
        return 201, subscription

    def _order_agreement(self, data):
        if "@" not in data["signer_email"]:
            raise _Refused(400, "SIGNER", "signer_name or signer_email missing or invalid")
        if self.agreement and self.agreement["status"] == contract.AGREEMENT_CONFIRMED:
            return 200, dict(self.agreement)
        status = contract.AGREEMENT_SIGNATURE_NEEDED if self.mps_agreement_elsewhere else contract.AGREEMENT_PENDING
        self.agreement = {"status": status, **data}
        return 201, dict(self.agreement)
