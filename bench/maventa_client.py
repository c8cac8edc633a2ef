"""Maventa production path, client side: 1,000 invoices through MaventaNetwork against the local peer.

Run with the project's venv: ``python bench/maventa_client.py`` (ODOO_SRC and the addons folder from
scripts/common.sh, or the defaults below). No database: it times the REST client and network alone (token,
one multipart POST per invoice with a Peppol BIS 3.0 file of about 40 kB, embedded PDF included), against
tests/maventa_peer.py over loopback HTTP, and counts the HTTP requests per invoice. Prints one BENCH_RESULT line.
"""

import base64
import datetime
import json
import os
import sys
import time

ODOO_SRC = os.environ.get("ODOO_SRC", "/opt/odoo-src")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ODOO_SRC)

import odoo.tools  # noqa: E402

import odoo.addons  # noqa: E402

odoo.tools.config["test_enable"] = True  # the peer lives in the test package

# This checkout, under the module's name, as Odoo's addons path would hold it.
odoo.addons.__path__.append(os.environ.get("EFAKTURA_ADDONS", os.path.dirname(ROOT)))
odoo.addons.__path__.append(os.path.join(ODOO_SRC, "addons"))  # the test package imports account's tests

from odoo.addons.l10n_no_efaktura_b2c.networks import maventa, maventa_contract  # noqa: E402
from odoo.addons.l10n_no_efaktura_b2c.networks.base import Document, Issuer  # noqa: E402
from odoo.addons.l10n_no_efaktura_b2c.tests.maventa_peer import MaventaPeer  # noqa: E402

COUNT = int(os.environ.get("MAVENTA_BENCH_INVOICES", "1000"))
PDF = b"%PDF-1.4\n" + os.urandom(30_000)

UBL = """<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:ID>{number}</cbc:ID>
 <cac:AdditionalDocumentReference><cbc:ID>{number}.pdf</cbc:ID><cac:Attachment>
  <cbc:EmbeddedDocumentBinaryObject mimeCode="application/pdf" filename="{number}.pdf"
   >{pdf}</cbc:EmbeddedDocumentBinaryObject>
 </cac:Attachment></cac:AdditionalDocumentReference>
 <cac:AccountingCustomerParty><cac:Party><cac:Contact><cbc:Telephone>+4790011222</cbc:Telephone>
  </cac:Contact></cac:Party></cac:AccountingCustomerParty>
 <cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cbc:PaymentID>{kid}</cbc:PaymentID></cac:PaymentMeans>
</Invoice>"""


def main():
    pdf = base64.b64encode(PDF).decode()
    with MaventaPeer() as peer:
        peer.agreement = {"status": maventa_contract.AGREEMENT_CONFIRMED, "signer_name": "a", "signer_email": "b"}
        config = maventa.MaventaConfig(
            company_uuid=peer.company_uuid,
            user_api_key=peer.user_api_key,
            vendor_api_key=peer.vendor_api_key,
            base_url=peer.url,
        )
        network = maventa.MaventaNetwork(
            Issuer("123456785", "Nordlys Elektro AS", "86011117947"),
            config,
            render=lambda d: (
                f"{d.invoice_number}.xml",
                UBL.format(number=d.invoice_number, pdf=pdf, kid=d.kid).encode(),
            ),
        )
        today = datetime.date.today()
        documents = [
            Document(
                key=f"bench-{i}",
                invoice_number=f"BENCH/{i:05d}",
                recipient=maventa.JTTA_ROUTED,
                recipient_name="Ola Nordmann",
                kid=f"{i:014d}0",
                amount_ore=100000,
                currency="NOK",
                issue_date=today,
                due_date=today + datetime.timedelta(days=14),
            )
            for i in range(COUNT)
        ]
        started = time.perf_counter()
        for start in range(0, COUNT, 100):  # the chain's batches
            results = network.submit("nettbank", documents[start : start + 100])
            assert all(result.ok for result in results), [r.error for r in results if not r.ok][:1]
        elapsed = time.perf_counter() - started
        first_requests = len(peer.requests)
        resend_started = time.perf_counter()
        network.submit("nettbank", documents[:100])  # a re-run after a crash: 100 duplicates
        resend = time.perf_counter() - resend_started
        resend_requests = len(peer.requests) - first_requests
        result = {
            "mode": "maventa_client",
            "invoices": COUNT,
            "seconds": round(elapsed, 2),
            "invoices_per_s": round(COUNT / elapsed, 1),
            "http_requests_per_invoice": round(first_requests / COUNT, 3),
            "http_requests_per_resent_invoice": round(resend_requests / 100, 2),
            "token_requests": len(peer.requests_to("POST", maventa_contract.TOKEN_PATH)),
            "resend_100_seconds": round(resend, 2),
            "duplicates_at_peer": peer.duplicates,
            "invoices_at_peer": len(peer.invoices),
            "peer_errors": len(peer.errors),
        }
        sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
