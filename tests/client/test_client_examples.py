"""examples/ in Chromium against a real relay (demo mode): the plain-HTML page on the relay's
/client.js, and the React component built with esbuild from the npm registry on the client's
``npm pack`` tarball (installed as a React app would). Each renders, sends, and shows the demo
console's reply."""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.relayproc import RelayProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


def need(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{program} is required in CI for the client examples")
        pytest.skip(f"{program} is not installed")
    return found


class Site:
    """A static site on its own loopback origin (as a customer's app would be)."""

    def __init__(self, directory: Path):
        self.port = free_port()
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
        handler.log_message = lambda *a: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()


def reply(relay: RelayProcess, conversation_id: str, text: str) -> None:
    req = urllib.request.Request(relay.url + "/demo/api/reply", method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"conversation_id": conversation_id, "text": text}).encode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["webhook_status"] == 200


def conversation_id(page) -> str:
    raw = page.evaluate("""() => { for (let i = 0; i < localStorage.length; i++) {
        const k = localStorage.key(i); if (k.startsWith("olr:")) return localStorage.getItem(k); } }""")
    return json.loads(raw)["conv"]["conversation_id"]


def exchange(browser, site: Site, relay: RelayProcess, path: str, log: str, item: str) -> None:  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(site.url + path)
        page.get_by_label("Message").fill("Hello from the example")
        page.get_by_label("Message").press("Enter")
        page.wait_for_selector(f'{log} {item}.visitor:not(.pending):has-text("Hello from the example")', timeout=15000)
        page.wait_for_selector('[role=status][data-status="connected"]', timeout=15000)
        reply(relay, conversation_id(page), "Hello from the operator")
        page.wait_for_selector(f'{log} {item}.operator:has-text("Hello from the operator")', timeout=15000)
        texts = page.locator(f"{log} {item}").all_inner_texts()
        assert [t for t in texts if "Hello" in t] == ["You: Hello from the example", "Demo operator: Hello from the operator"], texts
        page.reload()                       # a reload shows the conversation once, from storage and the relay
        page.wait_for_selector(f'{log} {item}.operator:has-text("Hello from the operator")', timeout=15000)
        page.wait_for_selector('[role=status][data-status="connected"]', timeout=15000)
        reply(relay, conversation_id(page), "After the reload")
        page.wait_for_selector(f'{log} {item}.operator:has-text("After the reload")', timeout=15000)
        texts = page.locator(f"{log} {item}").all_inner_texts()
        assert len([t for t in texts if "Hello" in t]) == 2 and len([t for t in texts if "After" in t]) == 1, texts
        assert errors == []
    finally:
        context.close()


@pytest.fixture
def site_dir(tmp_path):
    d = tmp_path / "site"
    d.mkdir()
    return d


def test_plain_html_example(browser, tmp_path, site_dir):  # noqa: F811
    site = Site(site_dir)
    relay = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": site.url}).start()
    try:
        page = (ROOT / "examples" / "plain-html" / "index.html").read_text()
        assert "http://localhost:8080/client.js" in page
        (site_dir / "index.html").write_text(page.replace("http://localhost:8080", relay.url))
        exchange(browser, site, relay, "/index.html", "#messages", "li")
    finally:
        relay.stop()
        site.close()


@pytest.mark.timeout(600)
def test_react_example_from_the_npm_tarball(browser, tmp_path, site_dir):  # noqa: F811
    npm = need("npm")
    need("node")
    packed = subprocess.run([npm, "pack", "--pack-destination", str(tmp_path), "--json"], cwd=ROOT / "client",
                            capture_output=True, text=True, timeout=120)
    assert packed.returncode == 0, packed.stderr[-2000:]
    info = json.loads(packed.stdout)[0]
    tarball = tmp_path / info["filename"]
    assert {f["path"] for f in info["files"]} == {"livechat-client.mjs", "livechat-client.js", "index.d.ts", "README.md",
                                                  "package.json"}
    app = site_dir
    shutil.copytree(ROOT / "examples" / "react", app, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("node_modules", "dist"))
    manifest = json.loads((app / "package.json").read_text())
    manifest["dependencies"]["@odoo-livechat-relay/client"] = f"file:{tarball}"   # installed as a React app would
    (app / "package.json").write_text(json.dumps(manifest, indent=2))
    install = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefer-offline"], cwd=app,
                             capture_output=True, text=True, timeout=400)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    installed = json.loads((app / "node_modules" / "@odoo-livechat-relay" / "client" / "package.json").read_text())
    assert installed["version"] == json.loads((ROOT / "client" / "package.json").read_text())["version"]
    build = subprocess.run([npm, "run", "build"], cwd=app, capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    assert "LivechatClient" in (app / "dist" / "app.js").read_text()
    site = Site(app)
    relay = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": site.url}).start()
    try:
        page = (app / "index.html").read_text()
        (app / "index.html").write_text(page.replace("http://localhost:8080", relay.url))
        exchange(browser, site, relay, "/index.html", "[role=log]", "li")
    finally:
        relay.stop()
        site.close()
