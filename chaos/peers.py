"""Chaos peers (run by ``odoo-bin shell``): the production network as real local HTTP servers.

For the production route "mps" (the default) it starts the local MPS peer (SOAP) and Vipps peer (REST) on
127.0.0.1 and teaches them the chaos consumers of the sandbox registry (those with eFaktura become MPS
consumers, those with Vipps become Vipps users). For the route "maventa" it starts the local Maventa peer
(REST) with a confirmed B2C Norway agreement, and puts the consumers with eFaktura in its JTTA registry; while
it serves, the peer routes the invoices it was given every 0.2 s, as Maventa's own workers would.

Then it switches the chaos company to production mode against the peers, commits, and serves until the stop
file appears. Then it writes what the peers themselves counted (submissions, duplicates, answers lost,
faults, the invoices they hold live) as JSON and stops. The dispatch workers are other processes: a kill -9
of a worker leaves the peers, and what they hold, as a real network would.

Environment:
  CHAOS_PEERS_DIR     where to write ``ready`` (once serving), and ``stats.json``; ``stop`` ends the run
  CHAOS_ROUTE         the company's production route: "mps" (MPS and Vipps peers) or "maventa" (Maventa peer)
  CHAOS_PEER_FAULTS   share of all calls that fail, half before the work (HTTP 503/500), half after it
                      (the work is done, the answer is lost); 0 by default
  CHAOS_SEED          seed of the faults
"""

import importlib
import json
import os
import pathlib
import sys
import time
import types

import odoo.addons.l10n_no_efaktura_b2c as module

# The peers live in the module's tests package, whose __init__ loads the whole test suite and Odoo's test
# framework (which logs an error outside test mode): only the two peer modules are loaded here.
TESTS = f"{module.__name__}.tests"
if TESTS not in sys.modules:
    package = types.ModuleType(TESTS)
    package.__path__ = [str(pathlib.Path(module.__file__).parent / "tests")]
    sys.modules[TESTS] = package
MpsPeer = importlib.import_module(f"{TESTS}.mps_peer").MpsPeer
VippsPeer = importlib.import_module(f"{TESTS}.vipps_peer").VippsPeer
MaventaPeer = importlib.import_module(f"{TESTS}.maventa_peer").MaventaPeer
maventa_contract = importlib.import_module(f"{module.__name__}.networks.maventa_contract")

env = globals()["env"]  # provided by odoo-bin shell
folder = pathlib.Path(os.environ["CHAOS_PEERS_DIR"])
folder.mkdir(parents=True, exist_ok=True)
rate = float(os.environ.get("CHAOS_PEER_FAULTS", "0") or 0)
seed = int(os.environ.get("CHAOS_SEED", "5"))

company = env["res.company"].search([("name", "=", "Chaos Elektro AS")], limit=1)
route = os.environ.get("CHAOS_ROUTE") or "mps"
consumers = env["efaktura.sandbox.consumer"].sudo().search([])
env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.chaos.example.com")


def serve(peers, process=None):
    """Serve until the stop file appears; ``process`` runs every 0.2 s meanwhile."""
    (folder / "ready").write_text(" ".join(peers) + "\n", encoding="utf-8")
    while not (folder / "stop").exists():
        if process is not None:
            process()
        time.sleep(0.2)


def write_stats(stats):
    (folder / "stats.json").write_text(json.dumps({**stats, "fault_rate": rate}, sort_keys=True), encoding="utf-8")


def run_maventa():
    # Maventa gets each invoice's PDF inside its EHF file. No Odoo web server runs here: wkhtmltopdf is sent
    # to a closed local port for the report's assets rather than wait for the name of the chaos host.
    env["ir.config_parameter"].sudo().set_param("report.url", "http://127.0.0.1:9")
    maventa_peer = MaventaPeer().start()
    try:
        maventa_peer.agreement = {
            "status": maventa_contract.AGREEMENT_CONFIRMED,
            "signer_name": company.name,
            "signer_email": company.efaktura_contact_email,
        }
        for consumer in consumers.filtered("jtta"):
            maventa_peer.add_jtta_consumer(phone=consumer.mobile, email=consumer.email or "")
        company.write(
            {
                "efaktura_network_mode": "production",
                "efaktura_production_route": "maventa",
                "efaktura_maventa_environment": "custom",
                "efaktura_maventa_url": maventa_peer.url,
                "efaktura_maventa_company_uuid": maventa_peer.company_uuid,
                "efaktura_maventa_user_api_key": maventa_peer.user_api_key,
                "efaktura_maventa_vendor_api_key": maventa_peer.vendor_api_key,
            }
        )
        # GET of the agreement: confirmed, the issuer is active
        env["efaktura.issuer"]._maventa_read_agreement(company)
        env.cr.commit()  # pylint: disable=invalid-commit
        maventa_peer.set_chaos(rate, seed + 2)
        serve([maventa_peer.url], process=maventa_peer.process)
        maventa_peer.process()
        write_stats({"maventa": {**maventa_peer.stats(), "errors": len(maventa_peer.internal_errors)}, "route": route})
    finally:
        maventa_peer.stop()


def run_mps():
    mps_peer = MpsPeer().start()
    vipps_peer = VippsPeer().start()
    try:
        mps_peer.add_issuer(company.efaktura_issuer_org_number, company.name, company.efaktura_billing_account)
        for index, consumer in enumerate(consumers):
            if consumer.jtta:
                mps_peer.add_consumer(f"7{index:08d}", consumer.name, phone=consumer.mobile, email=consumer.email or "")
            if consumer.vipps:
                vipps_peer.add_user(msisdn=consumer.mobile.lstrip("+"))
        certificate = folder / "client.pem"  # plain HTTP to the peers: no TLS handshake is made
        certificate.write_text("", encoding="utf-8")
        company.write(
            {
                "efaktura_network_mode": "production",
                "efaktura_production_route": "mps",
                "efaktura_mps_endpoint": mps_peer.url,
                "efaktura_mps_client_cert": str(certificate),
                "efaktura_uses_vipps_api": True,
                "efaktura_vipps_base_url": vipps_peer.base_url,
                "efaktura_vipps_token_url": vipps_peer.token_url,
                "efaktura_vipps_client_id": vipps_peer.client_id,
                "efaktura_vipps_client_secret": vipps_peer.client_secret,
                "efaktura_vipps_subscription_key": vipps_peer.subscription_key,
            }
        )
        env.cr.commit()  # pylint: disable=invalid-commit
        mps_peer.set_chaos(rate, seed)
        vipps_peer.set_chaos(rate, seed + 1)
        serve([mps_peer.url, vipps_peer.base_url])
        write_stats(
            {
                "mps": {**mps_peer.stats(), "errors": len(mps_peer.errors)},
                "vipps": {**vipps_peer.stats(), "errors": len(vipps_peer.internal_errors)},
                "route": route,
            }
        )
    finally:
        mps_peer.stop()
        vipps_peer.stop()


if route == "maventa":
    run_maventa()
else:
    run_mps()
sys.stdout.write("peers stopped\n")
