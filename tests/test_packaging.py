"""The relay as a wheel that works installed normally, the addon as OCA-style wheels, and one
project version. The slow tests build with the commands CI and the image use (tools/install.sh)
and run the installed relay from a fresh virtualenv outside the checkout."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import proxy
from proxy.api import demo
from tools import build_addon
from tools.relayproc import RelayProcess

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "odoo_addons" / "im_livechat_webhook"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def manifest() -> dict:
    return ast.literal_eval((ADDON / "__manifest__.py").read_text())


# ---------------------------------------------------------------- versions

def test_one_project_version_semver_in_the_changelog():
    assert re.fullmatch(r"\d+\.\d+\.\d+", proxy.__version__)
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "proxy.__version__"}
    assert manifest()["version"] == proxy.__version__, "the addon's manifest says the project version x.y.z"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in changelog and "Semantic Versioning" in changelog
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert releases and releases[0] == proxy.__version__, "CHANGELOG.md's latest release is the project version"


def test_the_widget_says_the_project_version():
    found = re.search(r'\bversion: "([^"]+)"', (ROOT / "widget" / "widget.js").read_text())
    assert found and found.group(1) == proxy.__version__


def test_relay_and_addon_speak_the_same_protocol():
    sys.path.insert(0, str(ADDON / "tools"))
    try:
        import protocol as addon_protocol   # plain Python, no Odoo
    finally:
        sys.path.pop(0)
    assert addon_protocol.PROTOCOL_VERSION == proxy.PROTOCOL_VERSION
    assert addon_protocol.major(proxy.PROTOCOL_VERSION) in proxy.PROTOCOL_MAJORS
    assert f"protocol {proxy.PROTOCOL_VERSION}" in (ROOT / "CHANGELOG.md").read_text()


def test_addon_wheel_versions_per_series(tmp_path):
    assert build_addon.series_version("18.0") == "18.0." + proxy.__version__
    copy = build_addon.prepare("17.0", tmp_path)
    assert copy.name == "im_livechat_webhook"
    assert ast.literal_eval((copy / "__manifest__.py").read_text())["version"] == "17.0." + proxy.__version__
    assert not list(copy.rglob("__pycache__"))
    backend = tomllib.loads((ADDON / "pyproject.toml").read_text())["build-system"]
    assert backend["build-backend"] == "whool.buildapi" and backend["requires"] == ["whool==1.3.1"]


# ---------------------------------------------------------------- package contents

def test_every_package_is_listed_in_pyproject():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("proxy", "tools")
             for p in (ROOT / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found - listed == set(), "packages missing from pyproject.toml [tool.setuptools] packages"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"proxy.widget": "widget", "proxy.client": "client"}


def test_the_widget_is_found_through_importlib_resources():
    js, page = demo.widget_file("widget.js"), demo.widget_file("demo.html")
    assert js is not None and page is not None
    assert js.read_bytes() == (ROOT / "widget" / "widget.js").read_bytes()
    direct = metadata.distribution("odoo-livechat-relay").read_text("direct_url.json")
    if direct and json.loads(direct).get("dir_info", {}).get("editable"):   # this checkout, editable
        assert Path(str(js)) == ROOT / "widget" / "widget.js"
    assert demo.widget_file("nothing.js") is None
    for name in ("livechat-client.js", "livechat-client.mjs"):   # the client library, served as /client.js, /client.mjs
        found = demo.client_file(name)
        assert found is not None and found.read_bytes() == (ROOT / "client" / name).read_bytes()


# ---------------------------------------------------------------- built and installed (slow)

@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    """tools/install.sh build: the relay's sdist and wheel, the addon's three wheels (what CI builds)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(["sh", str(ROOT / "tools" / "install.sh"), "build", str(out)], check=True, capture_output=True,
                   env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    return out


@pytest.mark.slow
def test_build_makes_every_artifact(artifacts):
    v = proxy.__version__
    sdist = artifacts / f"odoo_livechat_relay-{v}.tar.gz"
    wheel = artifacts / f"odoo_livechat_relay-{v}-py3-none-any.whl"
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    for needed in ("widget/widget.js", "widget/demo.html", "widget/i18n/fr.json", "proxy/static/console.html", "pyproject.toml",
                   "client/livechat-client.js", "client/livechat-client.mjs"):
        assert f"odoo_livechat_relay-{v}/{needed}" in names, needed
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        meta = whl.read(f"odoo_livechat_relay-{v}.dist-info/METADATA").decode()
    for needed in ("proxy/widget/widget.js", "proxy/widget/demo.html", "proxy/widget/i18n/fr.json",
                   "proxy/static/console.html", "proxy/__main__.py", "proxy/client/livechat-client.js",
                   "proxy/client/livechat-client.mjs"):
        assert needed in names, needed
    assert not any("node_modules" in n or n.startswith("proxy/client/package") for n in names)
    assert not any(n.startswith(("tests/", "benchmarks/", "odoo_addons/")) for n in names)
    assert f"Version: {v}" in meta
    for series, requirement in (("17.0", "odoo>=17.0a,<17.1dev"), ("18.0", "odoo==18.0.*"), ("19.0", "odoo==19.0.*")):
        addon = artifacts / f"odoo_addon_im_livechat_webhook-{series}.{v}-py3-none-any.whl"
        with zipfile.ZipFile(addon) as whl:
            names = whl.namelist()
            meta = whl.read(f"odoo_addon_im_livechat_webhook-{series}.{v}.dist-info/METADATA").decode()
            manifest_text = whl.read("odoo/addons/im_livechat_webhook/__manifest__.py").decode()
        assert "Name: odoo-addon-im_livechat_webhook" in meta and f"Requires-Dist: {requirement}" in meta
        assert ast.literal_eval(manifest_text)["version"] == f"{series}.{v}"
        assert "odoo/addons/im_livechat_webhook/tests/test_livechat_webhook_delivery.py" in names
        assert not any("__pycache__" in n or n.endswith("pyproject.toml") for n in names)


def _get(url: str, **headers) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read()


def _call(url: str, method: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, method=method, data=json.dumps(body or {}).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_virtualenv_serves_the_demo(tmp_path):
    """tools/install.sh (the image's command: the wheel, not editable) into a virtualenv outside
    the checkout; the relay runs from there with nothing of the checkout on its path."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(["sh", str(ROOT / "tools" / "install.sh")], check=True, capture_output=True,
                   env={"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)})
    run = tmp_path / "run"
    run.mkdir()
    where = subprocess.run([str(python), "-c", "import proxy, proxy.api.demo as d; print(proxy.__file__); "
                            "print(d.widget_file('widget.js'))"], cwd=run, capture_output=True, text=True, check=True,
                           env={"PATH": "/usr/bin:/bin"}).stdout.split()
    site = str(env_dir / "lib")
    assert where[0].startswith(site) and where[1].startswith(site), where   # not the checkout's
    version = subprocess.run([str(env_dir / "bin" / "livechat-relay"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == proxy.__version__

    relay = RelayProcess(run)
    relay.python, relay.pythonpath = str(python), None
    relay.start()
    try:
        status, headers, page = _get(relay.url + "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html") and b"widget.js" in page
        status, headers, js = _get(relay.url + "/widget.js")
        assert status == 200 and js == demo.minified(demo.widget_bundle(       # the client and the widget, one script
            (ROOT / "widget" / "widget.js").read_bytes(), (ROOT / "client" / "livechat-client.js").read_bytes()))
        for path, name in (("/client.js", "livechat-client.js"), ("/client.mjs", "livechat-client.mjs")):
            status, headers, js = _get(relay.url + path)
            assert status == 200 and js == demo.minified((ROOT / "client" / name).read_bytes()), path
        status, _, console = _get(relay.url + "/demo")
        assert status == 200 and b"<html" in console.lower()
        status, _, health = _get(relay.url + "/healthz")
        health = json.loads(health)
        assert (health["status"], health["version"], health["protocol"]) == ("ok", proxy.__version__,
                                                                              proxy.PROTOCOL_VERSION)
        # a short exchange: the visitor writes, the demo operator answers through the signed webhook path
        conv = _call(relay.url + "/v1/conversations", "POST", {"visitor_name": "Wheel"})
        base = f"{relay.url}/v1/conversations/{conv['conversation_id']}"
        _call(base + "/messages", "POST", {"client_id": "c-1", "text": "Installed from a wheel?"}, conv["token"])
        answer = _call(relay.url + "/demo/api/reply", "POST", {"conversation_id": conv["conversation_id"],
                                                                "text": "Yes, from site-packages."})
        assert answer["webhook_status"] == 200
        events = _call(base + "/events?after=0&wait=0", "GET", None, conv["token"])["events"]
        texts = [e["message"]["text"] for e in events if e["type"] == "message"]
        assert texts == ["Installed from a wheel?", "Yes, from site-packages."]
    finally:
        relay.stop()
