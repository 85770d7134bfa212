"""tools.compare_modes and tools.smoke through a relay in front of a real Odoo (ODOO_URL)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.odoo.test_addon_live import relay_for_addon

pytestmark = pytest.mark.odoo
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bus_relay(odoo, tmp_path):
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "bus",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel)}
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        yield relay


def test_compare_modes_with_replies_posted_in_odoo(odoo, bus_relay, tmp_path):
    out = tmp_path / "cm"
    run = subprocess.run([sys.executable, "-m", "tools.compare_modes", "--relay", bus_relay.url, "--odoo", odoo.url,
                          "--db", odoo.db, "--login", odoo.login, "--password", odoo.password, "--messages", "6",
                          "--rate", "3", "--poll-interval", "1", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((out / "compare_modes.json").read_text())
    assert report["replies_via"] == "odoo"
    for mode in ("ws", "longpoll", "poll"):
        assert report["modes"][mode]["received"] == 6
        assert report["modes"][mode]["lost"] == 0 and report["modes"][mode]["duplicated"] == 0


def test_smoke_against_a_relay_in_front_of_odoo(odoo, bus_relay):
    run = subprocess.run([sys.executable, "-m", "tools.smoke", bus_relay.url, "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report and all(c["ok"] for c in report["checks"]), report
