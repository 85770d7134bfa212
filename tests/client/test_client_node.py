"""The client library (client/) under ``node --test``, against real relay processes (demo mode):
tests/client/*.test.mjs. npm installs the pinned ``ws`` (client/package-lock.json) when missing."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"


def need(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{program} is required in CI for the client library's tests")
        pytest.skip(f"{program} is not installed")
    return found


def npm_ci() -> None:
    """client/node_modules from the lockfile (the registry once; npm's cache after)."""
    if (CLIENT / "node_modules" / "ws" / "package.json").exists():
        return
    run = subprocess.run([need("npm"), "ci", "--no-audit", "--no-fund", "--prefer-offline"], cwd=CLIENT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]


@pytest.mark.timeout(600)
def test_client_library_under_node():
    node = need("node")
    npm_ci()
    env = {**os.environ, "RELAY_PYTHON": sys.executable}
    run = subprocess.run([node, "--test", str(ROOT / "tests" / "client")], capture_output=True, text=True,
                         timeout=540, env=env, cwd=CLIENT)
    out = run.stdout
    assert run.returncode == 0, out[-6000:] + run.stderr[-2000:]
    tests = sum(len(re.findall(r"^test\(", f.read_text(), re.M)) for f in (ROOT / "tests" / "client").glob("*.test.mjs"))
    assert tests >= 15 and "# fail 0" in out and f"# pass {tests}\n" in out, out[-3000:]
