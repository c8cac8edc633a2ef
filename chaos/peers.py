"""Chaos peers (run by ``odoo-bin shell``): the production network as real local HTTP servers.

Starts the local MPS peer (SOAP) and Vipps peer (REST) on 127.0.0.1, teaches them the chaos consumers of the
sandbox registry (those with eFaktura become MPS consumers, those with Vipps become Vipps users), switches the
chaos company to production mode against them, commits, and serves until the stop file appears. Then it
writes what the peers themselves counted (submissions, duplicates, answers lost, faults, the invoices they
hold live) as JSON and stops. The dispatch workers are other processes: a kill -9 of a worker leaves the
peers, and what they hold, as a real network would.

Environment:
  CHAOS_PEERS_DIR     where to write ``ready`` (once serving), and ``stats.json``; ``stop`` ends the run
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

env = globals()["env"]  # provided by odoo-bin shell
folder = pathlib.Path(os.environ["CHAOS_PEERS_DIR"])
folder.mkdir(parents=True, exist_ok=True)
rate = float(os.environ.get("CHAOS_PEER_FAULTS", "0") or 0)
seed = int(os.environ.get("CHAOS_SEED", "5"))

company = env["res.company"].search([("name", "=", "Chaos Elektro AS")], limit=1)
mps_peer = MpsPeer().start()
vipps_peer = VippsPeer().start()
try:
    mps_peer.add_issuer(company.efaktura_issuer_org_number, company.name, company.efaktura_billing_account)
    consumers = env["efaktura.sandbox.consumer"].sudo().search([])
    for index, consumer in enumerate(consumers):
        if consumer.jtta:
            mps_peer.add_consumer(f"7{index:08d}", consumer.name, phone=consumer.mobile, email=consumer.email or "")
        if consumer.vipps:
            vipps_peer.add_user(msisdn=consumer.mobile.lstrip("+"))
    certificate = folder / "client.pem"  # plain HTTP to the peers: no TLS handshake is made
    certificate.write_text("", encoding="utf-8")
    env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.chaos.example.com")
    company.write(
        {
            "efaktura_network_mode": "production",
            "efaktura_production_route": "mps",
            "efaktura_mps_endpoint": mps_peer.url,
            "efaktura_mps_client_cert": str(certificate),
            "efaktura_vipps_enabled": True,
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
    (folder / "ready").write_text(f"{mps_peer.url} {vipps_peer.base_url}\n", encoding="utf-8")
    while not (folder / "stop").exists():
        time.sleep(0.2)
    stats = {
        "mps": {**mps_peer.stats(), "errors": len(mps_peer.errors)},
        "vipps": {**vipps_peer.stats(), "errors": len(vipps_peer.internal_errors)},
        "fault_rate": rate,
    }
    (folder / "stats.json").write_text(json.dumps(stats, sort_keys=True), encoding="utf-8")
finally:
    mps_peer.stop()
    vipps_peer.stop()
sys.stdout.write("peers stopped\n")
