"""tools/live_gate.sh where no Odoo runs: without a rig it says so and lets CI go on; a rig with
nothing built is reported version by version as absent; .ci/run calls it before the test suite.
(With a rig, the gate itself is the test: it runs tests/odoo and the addon's tests.)"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GATE = ROOT / "tools" / "live_gate.sh"


def gate(rig: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ODOO_RIG": str(rig)}
    return subprocess.run([str(GATE)], env=env, capture_output=True, text=True, timeout=60)


def test_without_a_rig_the_gate_says_so_and_passes(tmp_path):
    done = gate(tmp_path / "no-rig")
    assert done.returncode == 0, done.stderr
    assert f"no Odoo rig at {tmp_path / 'no-rig'}" in done.stdout
    assert "did not run" in done.stdout


def test_a_rig_with_nothing_built_has_every_version_absent(tmp_path):
    (tmp_path / "odoo-18").mkdir()          # a source tree alone is not a built version
    done = gate(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ran on none; failed on none; absent: 17 18 19" in done.stdout
    assert not (tmp_path / "relay-addons").exists()   # nothing was prepared


def test_ci_runs_the_gate_before_the_tests():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("\ntools/live_gate.sh\n") < ci.index("\n.venv/bin/python -m pytest -q\n")
