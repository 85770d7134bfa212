"""``/client.js`` and ``/client.mjs``: the relay serves the client library minified (rjsmin, its
``/*!`` header kept), public and CORS-open (a module script is fetched with CORS), and what it
serves still loads: the classic script sets ``LivechatClient``, the module exports the same API."""
from __future__ import annotations

import gzip
import json
import subprocess
import urllib.request

from proxy.api.demo import minified
from tests.client.test_client_node import CLIENT, need
from tests.relayproc import RelayProcess


def get(url: str) -> tuple[int, dict, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read()


def test_relay_serves_the_client_minified(tmp_path):
    relay = RelayProcess(tmp_path).start()
    try:
        served = {}
        for path, name in (("/client.js", "livechat-client.js"), ("/client.mjs", "livechat-client.mjs")):
            status, headers, body = get(relay.url + path)
            assert status == 200
            assert headers["Content-Type"].startswith("application/javascript")
            assert headers["Access-Control-Allow-Origin"] == "*" and headers["ETag"]
            assert body == minified((CLIENT / name).read_bytes())
            assert body.startswith(b"/*! @odoo-livechat-relay/client ") and len(body) < (CLIENT / name).stat().st_size
            served[name] = body
            print(f"{path}: {len(gzip.compress(body, 9))} bytes gzipped")
        node = need("node")
        (tmp_path / "c.js").write_bytes(served["livechat-client.js"])
        (tmp_path / "c.mjs").write_bytes(served["livechat-client.mjs"])
        script = """
          const vm = require("node:vm"), fs = require("node:fs"), box = {};
          vm.runInNewContext(fs.readFileSync(process.argv[1] + "/c.js", "utf8"), box);
          import(process.argv[1] + "/c.mjs").then((m) => {
            const chat = new m.LivechatClient({ relay: "http://127.0.0.1:1", storage: new m.MemoryStorage(), autoConnect: false });
            console.log(JSON.stringify({ classic: typeof box.LivechatClient, version: box.LivechatClient.VERSION,
              esm: Object.keys(m).sort(), mode: chat.mode, status: chat.status }));
          });"""
        out = subprocess.run([node, "-e", script, str(tmp_path)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        found = json.loads(out.stdout)
        assert found["classic"] == "function" and found["version"] == json.loads((CLIENT / "package.json").read_text())["version"]
        assert "LivechatClient" in found["esm"] and "LivechatError" in found["esm"]
        assert (found["mode"], found["status"]) == ("ws", "idle")
    finally:
        relay.stop()
