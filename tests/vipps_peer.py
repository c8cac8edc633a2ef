"""A local Vipps Invoice ISP API for tests, that holds every request to the Swagger spec.

``VippsPeer`` serves, on 127.0.0.1 and a free port:

* ``POST /accessToken/get``: the Vipps access token API (outside the spec: headers
  ``client_id``, ``client_secret``, ``Ocp-Apim-Subscription-Key``, empty body).
* Under the spec's ``basePath``: ``POST /recipients/tokens``, ``PUT`` and ``GET
  /invoices/{invoiceId}`` and ``PUT /invoices/{invoiceId}/status/revoked``.

Every API request is checked against tests/data/vipps-swagger-isp.yaml before it is served: the
path and method must be an operation of the spec; the subscription key (``Ocp-Apim-Subscription-Key``
header or ``subscription-key`` query) and every required header parameter must be present; path
parameters must match their pattern; a JSON body must validate against the operation's schema
(``$ref`` resolved in ``#/definitions``, ``date-time`` checked as RFC 3339). A request that
breaks a rule gets the spec's error answer (400 with the ``Error`` body naming the rule, 401 with
``MsError``). Every answer the peer gives is checked against the status codes and response
schemas of the spec too; a peer answer that breaks the spec is recorded in ``internal_errors``.

On top of the schema, ``PUT /invoices`` applies the quick validation the API guide lists (due
at least 72 hours and at most a year ahead, KID 4 to 25 digits MOD10/MOD11 with ``-`` allowed
as MOD11 check, 11-digit MOD11 account, minAmount not above amount, https URLs, ...), answering
400 with the problem types of the guide's problem list.

Idempotency: a PUT of an invoice id that exists is answered 200 when the invoice is the same
(the recipient token may differ, as long as it resolves to the same recipient) and 409
``invoice-conflict`` when it differs, as the spec and the API guide say. A revoke repeated with
the same ``Idempotency-Key`` is answered 204 again.

New invoices are stored in the state ``created``; tests move them on with :meth:`VippsPeer.set_state`,
as Vipps' validation workers and the recipient's app would.

Every new invoice is recorded in ``submissions``. A new invoice id whose ``metadata.invoiceNumber`` is
already live at the peer for the same issuer (not revoked, deleted, expired or rejected) is the same invoice
twice in the consumer's app: it is stored (Vipps cannot know better) and recorded in ``duplicates``;
``duplicate_count`` is what tests assert on. :meth:`VippsPeer.lose_answers` carries out requests and then
drops the answer (closes the connection), as after a timeout; :meth:`VippsPeer.set_chaos` fails a share of
all calls at random, before or after doing the work.
"""

import copy
import dataclasses
import datetime
import json
import pathlib
import random
import re
import secrets
import threading
import time
import urllib.parse
import uuid

import jsonschema
import yaml
from stdnum import luhn
from stdnum.no import kontonr, orgnr

from .local_peer import LocalPeer, PeerHandler

SPEC_PATH = pathlib.Path(__file__).parent / "data" / "vipps-swagger-isp.yaml"
PROBLEMS = "https://vipps.no/invoice/v1/problems/"
TOKEN_PATH = "/accessToken/get"
RECIPIENT_TOKEN_TTL = 15 * 60
COMMERCIAL_MIME_TYPES = ("application/pdf", "text/html", "image/jpeg", "image/png", "image/jpg", "text/plain")
REVOCABLE = ("created", "pending", "rejected")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.ASCII | re.IGNORECASE)
FAULTS = ("500", "429", "hang", "malformed")
NOT_LIVE = ("revoked", "deleted", "expired", "rejected")


def parse_rfc3339(value):
    """A strict RFC 3339 timestamp as an aware datetime, or None."""
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.upper().replace("Z", "+00:00"))
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_date_time(value):
    return not isinstance(value, str) or parse_rfc3339(value) is not None


def _kid_ok(value):
    """The API guide's KID rule: 4 to 25 characters, digits, MOD10 or MOD11 ('-' allowed as MOD11 check)."""
    if not 4 <= len(value) <= 25 or not value[:-1].isdigit() or not (value[-1].isdigit() or value[-1] == "-"):
        return False
    payload, check = value[:-1], value[-1]
    remainder = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(payload))) % 11
    mod11 = {0: "0", 1: "-"}.get(remainder, str(11 - remainder))
    return check == mod11 or (check != "-" and luhn.is_valid(value))


class Problem(Exception):
    """A request the peer refuses, answered with the spec's Error body (or MsError for 401)."""

    def __init__(self, status, slug, title, detail=""):
        super().__init__(f"{status} {slug}: {title} {detail}")
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail

    def body(self):
        if self.status == 401:
            return {
                "responseInfo": {"responseCode": 401, "responseMessage": self.title},
                "result": {"message": f"{self.title} {self.detail}".strip()},
            }
        error = {"type": PROBLEMS + self.slug, "title": self.title}
        if self.detail:
            error["detail"] = self.detail
        error["correlationId"] = str(uuid.uuid4())
        return {"error": error}


@dataclasses.dataclass
class Recorded:
    """One request the peer received, and what it answered."""

    method: str
    path: str
    query: dict
    headers: dict  # lower-cased names
    body: bytes
    status: int = None
    answer: object = None

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def json(self):
        return json.loads(self.body) if self.body else None


class _Handler(PeerHandler):
    server_version = "VippsPeer/1.0"


class VippsPeer(LocalPeer):
    """The local Vipps. Use as a context manager, or :meth:`start` and :meth:`stop`."""

    handler = _Handler
    thread_name = "vipps-peer"

    def __init__(self, client_id="peer-client", client_secret="peer-secret", subscription_key="peer-key"):
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.subscription_key = subscription_key
        self.spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
        self.base_path = self.spec["basePath"]
        self._operations = self._read_operations()
        self.token_lifetime = 3600  # seconds, as the access token API's expires_in
        self.hang_seconds = 5.0  # how long a "hang" fault holds an answer back
        self.now = lambda: datetime.datetime.now(datetime.timezone.utc)
        self.reset()

    @property
    def root_url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self):
        return self.root_url + self.base_path

    @property
    def token_url(self):
        return self.root_url + TOKEN_PATH

    # -- test controls --------------------------------------------------------------------------

    def reset(self):
        """Forget users, invoices, tokens, requests and faults; let answers held by a "hang" go."""
        with self._lock:
            self._release.set()
            self._release = threading.Event()
            self.msisdn_users = set()
            self.nin_users = set()
            self.invoices = {}
            self.access_tokens = {}
            self.recipient_tokens = {}
            self.transitions = {}
            self.requests = []
            self.internal_errors = []
            self.fault = None
            self.fault_on = "api"
            self.fault_count = None
            self.fault_after = 0
            self.submissions = []
            self.duplicates = []
            self.lost = {}  # (method, path template): answers to drop after doing the work
            self.lost_answers = 0
            self.chaos_rate = 0.0
            self.chaos_faults = {"before": 0, "after": 0}
            self._rng = random.Random(0)

    def add_user(self, msisdn=None, nin=None):
        """Register a person who receives eFaktura in Vipps."""
        with self._lock:
            if msisdn:
                self.msisdn_users.add(msisdn)
            if nin:
                self.nin_users.add(nin)

    def set_fault(self, fault, on="api", count=None, after=0):
        """Answer requests badly: "500", "429" (rate limit), "hang" (no answer for ``hang_seconds``)
        or "malformed" (200 with a body that is not JSON). ``on`` is "api", "token" or "all";
        ``after`` requests are served normally first; ``count`` limits how many requests are hit
        (None: until cleared with ``set_fault(None)``)."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}, expected one of {FAULTS}")
        with self._lock:
            self.fault, self.fault_on, self.fault_count, self.fault_after = fault, on, count, after

    def lose_answers(self, method, template, count=1):
        """Carry out the next ``count`` requests of an operation (``"PUT"``, ``"/invoices/{invoiceId}"``), then
        close the connection without answering."""
        with self._lock:
            self.lost[(method, template)] = self.lost.get((method, template), 0) + count

    def live_invoices(self):
        """The invoice ids the consumers' apps show."""
        with self._lock:
            return sorted(i for i, stored in self.invoices.items() if stored["state"] not in NOT_LIVE)

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
                "live": self.live_invoices(),
            }

    def expire_access_tokens(self):
        """Make every access token issued so far invalid, as an early expiry would."""
        with self._lock:
            self.access_tokens.clear()

    def set_state(self, invoice_id, state, problems=None, amount=None, due=None):
        """Move an invoice to a state, as Vipps' workers or the recipient's app would."""
        with self._lock:
            stored = self.invoices[invoice_id]
            stored["state"] = state
            stored["etag"] = str(uuid.uuid4())
            stored["last_modified"] = self._timestamp()
            stored["problems"] = problems or []
            stored["approved"] = {"amount": amount, "due": due} if state == "approved" else {}

    def requests_to(self, method, fragment):
        """The recorded requests with this method whose path contains ``fragment``."""
        return [r for r in self.requests if r.method == method and fragment in r.path]

    # -- spec -----------------------------------------------------------------------------------

    def _read_operations(self):
        operations = []
        for template, item in self.spec["paths"].items():
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.base_path + template))
            methods = {method.upper(): op for method, op in item.items() if isinstance(op, dict)}
            operations.append((re.compile(pattern), template, methods))
        return operations

    def _schema(self, schema):
        return {"allOf": [schema], "definitions": self.spec["definitions"]}

    def _schema_errors(self, schema, instance):
        validator = jsonschema.Draft4Validator(self._schema(schema), format_checker=FORMATS)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{'.'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}" for error in errors]

    def _check_request(self, request, query, headers, body):
        """Hold a request to the spec. Returns (path template, path parameters, JSON body)."""
        path = urllib.parse.unquote(request.path.split("?", 1)[0])
        routes = [(template, methods, regex.fullmatch(path)) for regex, template, methods in self._operations]
        template, methods, match = next(((t, m, found) for t, m, found in routes if found), (None, None, None))
        if match is None:
            raise Problem(404, "not-found", "Not found", f"No operation of the spec at {path}.")
        operation = methods.get(request.command)
        if operation is None:
            raise Problem(405, "not-found", "Method not allowed", f"{request.command} {template} is not in the spec.")
        if headers.get("ocp-apim-subscription-key") != self.subscription_key and query.get("subscription-key") != [
            self.subscription_key
        ]:
            raise Problem(401, "invalid-authorization-token", "Access denied due to missing subscription key.")
        params = match.groupdict()
        payload = None
        for parameter in operation.get("parameters", []):
            name, place = parameter["name"], parameter["in"]
            if place == "header":
                value = headers.get(name.lower())
                if name == "Authorization":
                    self._check_bearer(value)
                elif parameter.get("required") and not value:
                    raise Problem(400, f"missing-header-{name.lower()}", f"Missing Header: {name}")
            elif place == "path":
                value = params.get(name, "")
                if len(value.encode()) > 200:
                    raise Problem(400, "invalid-invoice-id-length", "The invoice ID cannot be more than 200 bytes.")
                if "pattern" in parameter and not re.search(parameter["pattern"], value):
                    raise Problem(
                        400,
                        "invalid-invoice-id-format",
                        "Invalid invoice id format",
                        f"path parameter {name}={value!r} does not match {parameter['pattern']}",
                    )
            elif place == "body":
                payload = self._check_body(request, headers, body, parameter, operation)
        return template, params, payload

    def _check_bearer(self, value):
        match = re.fullmatch(r"bearer (\S+)", value or "", re.IGNORECASE)
        if not match:
            raise Problem(401, "invalid-authorization-token", "Invalid or missing Authorization token")
        expiry = self.access_tokens.get(match[1])
        if expiry is None or expiry < time.monotonic():
            raise Problem(401, "invalid-authorization-token", "Invalid or expired access token")

    def _check_body(self, request, headers, body, parameter, operation):
        if not body:
            if parameter.get("required"):
                raise Problem(400, "reading-request-body", "Error reading the request body", "The body is missing.")
            return None
        content_type = (headers.get("content-type") or "").split(";")[0].strip()
        if content_type not in operation.get("consumes", self.spec.get("consumes", ["application/json"])):
            raise Problem(400, "reading-request-body", "Unsupported content type", f"got {content_type!r}")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise Problem(400, "invalid-json", "Invalid JSON", str(exc)) from exc
        errors = self._schema_errors(parameter["schema"], payload)
        if errors:
            raise Problem(
                400,
                "input-validation-failed",
                "Validation of input failed",
                f"{len(errors)} validation error(s) occurred. " + " | ".join(errors),
            )
        return payload

    def _check_answer(self, method, template, status, answer):
        """Hold the peer's own answer to the spec: a success must be a declared status, and an
        answer with a declared schema must validate. (The spec does not list every error status,
        for instance 400 for a GET with a malformed id, so undeclared errors pass.)"""
        if template is None:
            return
        responses = self.spec["paths"][template][method.lower()]["responses"]
        declared = responses.get(str(status))
        if declared is None:
            if status < 400:
                self.internal_errors.append(f"{method} {template}: status {status} is not in the spec")
            return
        if "schema" in declared and answer is not None:
            errors = self._schema_errors(declared["schema"], answer)
            if errors:
                self.internal_errors.append(f"{method} {template} {status}: {errors}")

    # -- serving --------------------------------------------------------------------------------

    def _serve(self, request):
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(request.path)
        headers = {name.lower(): value for name, value in request.headers.items()}
        record = Recorded(request.command, split.path, urllib.parse.parse_qs(split.query), headers, body)
        with self._lock:
            self.requests.append(record)
            fault = self._take_fault(split.path)
            chaos = ""
            if fault is None and self.chaos_rate and self._rng.random() < self.chaos_rate:
                chaos = self._rng.choice(("before", "after"))
                self.chaos_faults[chaos] += 1
                fault = "500" if chaos == "before" else None
        if fault == "hang":
            self._release.wait(self.hang_seconds)
        try:
            if fault == "429":
                status, answer, template = 429, None, None
            elif fault == "500":
                status, answer, template = (
                    500,
                    Problem(500, "internal-server-error", "Internal server error").body(),
                    None,
                )
            elif split.path == TOKEN_PATH:
                status, answer, template = self._access_token(request, headers)
            else:
                status, answer, template = self._api(request, split, headers, body)
        except Exception as exc:  # noqa: BLE001 - a peer bug must show in the test, not kill the thread
            with self._lock:
                self.internal_errors.append(f"{request.command} {split.path}: {exc!r}")
            status, answer, template = 500, Problem(500, "internal-server-error", repr(exc)).body(), None
        record.status, record.answer = status, answer
        if fault == "malformed":
            self._write(request, 200, raw=b'{"invoiceId": "orgno-no.')
            return
        with self._lock:
            self._check_answer(request.command, template, status, answer)
            lose = chaos == "after"
            if self.lost.get((request.command, template)):
                self.lost[(request.command, template)] -= 1
                lose = True
            if lose:
                self.lost_answers += 1
                return  # the work is done; the connection closes without an answer
        self._write(request, status, answer)

    def _take_fault(self, path):
        if self.fault is None:
            return None
        is_token = path == TOKEN_PATH
        if (self.fault_on == "api" and is_token) or (self.fault_on == "token" and not is_token):
            return None
        if self.fault_after > 0:
            self.fault_after -= 1
            return None
        fault = self.fault
        if self.fault_count is not None:
            self.fault_count -= 1
            if self.fault_count <= 0:
                self.fault = None
        return fault

    @staticmethod
    def _write(request, status, answer=None, raw=None):
        data = raw if raw is not None else (b"" if answer is None else json.dumps(answer).encode())
        try:
            request.send_response(status)
            if data:
                request.send_header("Content-Type", "application/json; charset=utf-8")
            request.send_header("Content-Length", str(len(data)))
            request.end_headers()
            request.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up waiting: nobody to answer

    def _access_token(self, request, headers):
        if request.command != "POST":
            return 405, {"error": "method_not_allowed"}, None
        if (headers.get("client_id"), headers.get("client_secret"), headers.get("ocp-apim-subscription-key")) != (
            self.client_id,
            self.client_secret,
            self.subscription_key,
        ):
            return 401, {"error": "unauthorized_client", "error_description": "Wrong client_id, secret or key"}, None
        token = secrets.token_urlsafe(24)
        now = int(time.time())
        with self._lock:
            self.access_tokens[token] = time.monotonic() + self.token_lifetime
        answer = {
            "token_type": "Bearer",
            "expires_in": str(self.token_lifetime),
            "ext_expires_in": "0",
            "expires_on": str(now + self.token_lifetime),
            "not_before": str(now),
            "resource": "00000002-0000-0000-c000-000000000000",
            "access_token": token,
        }
        return 200, answer, None

    def _api(self, request, split, headers, body):
        template = None
        try:
            with self._lock:
                template, params, payload = self._check_request(
                    request, urllib.parse.parse_qs(split.query), headers, body
                )
                handler = {
                    ("POST", "/recipients/tokens"): self._recipient_token,
                    ("PUT", "/invoices/{invoiceId}"): self._put_invoice,
                    ("GET", "/invoices/{invoiceId}"): self._get_invoice,
                    ("PUT", "/invoices/{invoiceId}/status/revoked"): self._revoke,
                }.get((request.command, template))
                if handler is None:
                    raise Problem(404, "not-found", "Not implemented by the peer", template)
                status, answer = handler(params, headers, payload)
        except Problem as problem:
            return problem.status, problem.body(), template
        return status, answer, template

    def _timestamp(self):
        return self.now().astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")

    def _recipient_token(self, params, headers, payload):
        payload = payload or {}
        kind, value = payload.get("type"), payload.get("value")
        if kind == "msisdn" and not re.fullmatch(r"\d{10,15}", str(value or "")):
            raise Problem(400, "invalid-recipient-value-msisdn", "Invalid MSISDN in recipient value.", repr(value))
        if kind == "nin-no" and not re.fullmatch(r"\d{11}", str(value or "")):
            raise Problem(400, "invalid-recipient-value-nin", "Invalid NIN in recipient value.", repr(value))
        if kind not in ("msisdn", "nin-no"):
            raise Problem(400, "unknown-ident-type", "Invalid identification type while resolving a recipient.")
        users = self.msisdn_users if kind == "msisdn" else self.nin_users
        if value not in users:
            raise Problem(
                404,
                "recipient-not-found",
                "Recipient not found",
                f"No recipient with identType {kind} and identValue {value} could be found.",
            )
        token = secrets.token_urlsafe(32)
        self.recipient_tokens[token] = (kind, value, time.monotonic() + RECIPIENT_TOKEN_TTL, self._timestamp())
        return 200, {"recipientToken": token}

    def _put_invoice(self, params, headers, payload):
        invoice_id = params["invoiceId"]
        if payload is None:
            raise Problem(400, "reading-request-body", "Error reading the request body", "The body is missing.")
        recipient = self._check_invoice(invoice_id, payload)
        canonical = {**payload, "recipientToken": list(recipient[:2])}
        stored = self.invoices.get(invoice_id)
        if stored is not None:
            if stored["canonical"] != canonical:
                raise Problem(
                    409,
                    "invoice-conflict",
                    "Invoice conflict",
                    f"A different invoice with the id {invoice_id} already exists, but with different content.",
                )
            return 200, None
        number = (payload.get("metadata") or {}).get("invoiceNumber")
        issuer = invoice_id.split(".")[1]
        self.submissions.append((invoice_id, number))
        for other_id, other in self.invoices.items():
            if (
                number
                and other["state"] not in NOT_LIVE
                and other_id.split(".")[1] == issuer
                and (other["body"].get("metadata") or {}).get("invoiceNumber") == number
            ):
                self.duplicates.append((number, other_id, invoice_id))
        now = self._timestamp()
        self.invoices[invoice_id] = {
            "body": copy.deepcopy(payload),
            "canonical": canonical,
            "recipient": recipient,
            "state": "created",
            "etag": str(uuid.uuid4()),
            "created": now,
            "last_modified": now,
            "problems": [],
            "approved": {},
        }
        return 200, None

    def _check_invoice(self, invoice_id, body):
        """The API guide's quick validation. Returns the resolved recipient (type, value, resolved at)."""
        ident_type, org, _ref = re.fullmatch(self._id_pattern(), invoice_id).groups()
        if ident_type != "orgno-no":
            raise Problem(400, "invalid-invoice-id-issuer-ident-type", "Invalid issuer ident type in invoiceId")
        if not orgnr.is_valid(org):
            raise Problem(400, "invalid-invoice-id-issuer-ident-value", "Invalid issuer ident value in invoice id")
        token = self.recipient_tokens.get(body["recipientToken"])
        if token is None:
            raise Problem(400, "invalid-recipient-token", "Invalid recipient token")
        if token[2] < time.monotonic():
            raise Problem(400, "recipient-token-expired", "Recipient token expired")
        payment = body["paymentInformation"]
        if payment["type"] == "kid" and not _kid_ok(payment["value"]):
            raise Problem(
                400,
                "invalid-payment-information-kid",
                "Invalid payment information kid",
                f"{payment['value']!r}: 4 to 25 digits with a MOD10 or MOD11 check digit",
            )
        if payment["type"] == "message" and not payment["value"].strip():
            raise Problem(400, "missing-payment-information-message", "The field 'value' is missing")
        if not (len(payment["account"]) == 11 and kontonr.is_valid(payment["account"])):
            raise Problem(400, "invalid-payment-information-account", "Invalid payment information account")
        due, now = parse_rfc3339(body["due"]), self.now()
        if not now + datetime.timedelta(hours=72) <= due <= now + datetime.timedelta(days=366):
            raise Problem(
                400,
                "invalid-due-date",
                "Invalid due time",
                "Must be at least 72 hours and at most one year into the future.",
            )
        if body["amount"] < 0:
            raise Problem(400, "amount-negative", "Amount is a negative amount")
        if body.get("minAmount") is not None and body["minAmount"] > body["amount"]:
            raise Problem(400, "invalid-min-amount", "Invalid minAmount", "MinAmount must be less or equal to amount.")
        if not body["subject"].strip():
            raise Problem(400, "missing-subject", "Missing invoice subject")
        for document in body["commercialInvoice"]:
            if urllib.parse.urlsplit(document["url"]).scheme != "https":
                raise Problem(400, "invalid-commercial-invoice-url", "Invalid commercial invoice URL", document["url"])
            if document["mimeType"] not in COMMERCIAL_MIME_TYPES:
                raise Problem(400, "invalid-commercial-invoice-mimetype", "Invalid commercial invoice mime type")
        if "issuerIconUrl" in body and urllib.parse.urlsplit(body["issuerIconUrl"]).scheme != "https":
            raise Problem(400, "invalid-issuer-icon-url", "Invalid issuer icon Url")
        return token[0], token[1], token[3]

    def _id_pattern(self):
        parameter = self.spec["paths"]["/invoices/{invoiceId}"]["put"]["parameters"][0]
        return parameter["pattern"].lstrip("^").rstrip("$")

    def _get_invoice(self, params, headers, payload):
        invoice_id = params["invoiceId"]
        stored = self.invoices.get(invoice_id)
        if stored is None:
            raise Problem(
                404, "invoice-not-found", "Invoice not found", f"No invoice with id {invoice_id} could be found."
            )
        return 200, self._invoice_out(invoice_id, stored)

    def _invoice_out(self, invoice_id, stored):
        body = stored["body"]
        status = {"lastModified": stored["last_modified"], "state": stored["state"], "etag": stored["etag"]}
        if stored["problems"]:
            status["problems"] = stored["problems"]
        for name, value in stored["approved"].items():
            if value is not None:
                status[name] = value
        out = {
            "invoiceId": invoice_id,
            "paymentInformation": dict(body["paymentInformation"]),
            "invoiceType": body["invoiceType"],
            "due": body["due"],
            "amount": body["amount"],
            "subject": body["subject"],
            "recipient": {
                "identType": stored["recipient"][0],
                "identValue": stored["recipient"][1],
                "resolvedAt": stored["recipient"][2],
            },
            "providerId": {"identType": "orgno-no", "identValue": invoice_id.split(".")[1]},
            "commercialInvoice": [{"mimeType": d["mimeType"]} for d in body["commercialInvoice"]],
            "status": status,
            "created": stored["created"],
            "source": "vipps",
            "etag": stored["etag"],
        }
        for name in ("minAmount", "issuerName", "issuerIconUrl"):
            if name in body:
                out[name] = body[name]
        return out

    def _revoke(self, params, headers, payload):
        invoice_id = params["invoiceId"]
        key = headers["idempotency-key"]
        stored = self.invoices.get(invoice_id)
        if stored is None:
            raise Problem(
                404, "invoice-not-found", "Invoice not found", f"No invoice with id {invoice_id} could be found."
            )
        done = self.transitions.get((invoice_id, key))
        if done == "revoked":
            return 204, None
        if done is not None:
            raise Problem(409, "invoice-status-conflict", "Invoice status conflict", f"idempotencyKey {key}")
        if headers["if-match"] != stored["etag"]:
            raise Problem(
                409,
                "invoice-status-etag-mismatch",
                "Invoice status etag mismatch",
                f"The etag of the underlying status for invoice with id {invoice_id} changed.",
            )
        if stored["state"] not in REVOCABLE:
            raise Problem(
                409,
                "state-transition-not-allowed",
                "State transition not allowed",
                f'State transition from "{stored["state"]}" to "revoked" is not allowed.',
            )
        self.set_state(invoice_id, "revoked")
        self.transitions[(invoice_id, key)] = "revoked"
        return 204, None
