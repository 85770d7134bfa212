"""The addon wheel on real Odoo 17.0, 18.0 and 19.0: built by tools/build_addon.py, installed with
pip --no-deps into a copy of the Odoo's virtualenv, the addon folder off the addons_path, the
module installed in a fresh database from the rig's template and its own tests run
(tools/odoo_tests.sh --wheel).

Needs ODOO_RIG, a directory with odoo-NN (a source checkout), venv-NN (its virtualenv) and a
template database rigNN_base (im_livechat installed) per series; PostgreSQL user ODOO_RIG_DB_USER
(default root). Skipped without it."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tools import build_addon

ROOT = Path(__file__).resolve().parents[2]
RIG = os.environ.get("ODOO_RIG")


@pytest.mark.slow
@pytest.mark.parametrize("series", build_addon.SERIES)
def test_the_addon_wheel_installs_and_passes_its_tests_on_odoo(series, tmp_path):
    if not RIG:
        pytest.skip("ODOO_RIG not set (a directory with odoo-NN, venv-NN and databases rigNN_base)")
    nn = series.split(".")[0]
    odoo, python = Path(RIG) / f"odoo-{nn}", Path(RIG) / f"venv-{nn}" / "bin" / "python"
    if not (odoo / "odoo-bin").is_file() or not python.is_file():
        pytest.skip(f"ODOO_RIG not set for {series}: no odoo-{nn}/odoo-bin and venv-{nn}/bin/python in {RIG}")
    wheel, = build_addon.build([series], tmp_path)
    result = subprocess.run([str(ROOT / "tools" / "odoo_tests.sh"), "--python", str(python), "--template",
                             f"rig{nn}_base", "--db-user", os.environ.get("ODOO_RIG_DB_USER", "root"),
                             "--wheel", str(wheel), "--require", str(odoo)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "== the module from the wheel: " in result.stdout and "== PASSED" in result.stdout
