"""The reverse-proxy configurations in docs/deployment.md are real: nginx accepts them (`nginx -t`),
Caddy adapts and validates them, and a widget reaches a real relay through each of them, WebSocket
included. nginx and Caddy are Debian's packages; .ci/run installs them."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

from tests.relayproc import RelayProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text()
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SITE = "https://www.example.com"   # the page embedding the widget, as docs/deployment.md sets it up


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DEPLOYMENT, re.S | re.M)


def binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)   # root's PATH may lack sbin
    if found is None:
        if CI:
            pytest.fail(f"{name} is missing (apt-get install nginx-light caddy; .ci/run does)")
        pytest.skip(f"{name} not installed (apt-get install nginx-light caddy)")
    return found


def certificate(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=example.com",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def nginx_conf(tmp: Path, servers: str) -> Path:
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir(exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log stderr;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{servers}
}}
""")
    return conf


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"proxy exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def through(proxy_url: str) -> None:
    """A widget's first steps, through the proxy: create a conversation, open its WebSocket, get hello."""
    req = urllib.request.Request(proxy_url + "/v1/conversations", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json", "Origin": SITE})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == SITE
        conv = json.loads(resp.read())
    ws = websocket.create_connection(
        proxy_url.replace("http", "ws", 1) + f"/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}&after=0",
        timeout=5, origin=SITE)
    try:
        hello = json.loads(ws.recv())
        assert hello["type"] == "hello" and hello["ping_interval"] == 25
        ws.send(json.dumps({"type": "ping"}))
        frames = [json.loads(ws.recv()) for _ in range(2)]   # the replayed waiting_operator status, the pong
        assert {"type": "pong"} in frames, frames
    finally:
        ws.close()


def test_the_docs_have_the_configurations_this_file_checks():
    assert len(blocks("nginx")) == 2 and len(blocks("caddyfile")) == 2
    relay = blocks("nginx")[0]
    for line in ("proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;",
                 "proxy_set_header Connection $connection_upgrade;", "proxy_set_header X-Forwarded-For $remote_addr;"):
        assert line in relay
    for timeout in re.findall(r"proxy_(?:read|send)_timeout (\d+)s;", relay):
        assert int(timeout) > 25, "timeouts must be above the 25 s ping and long poll"


def test_nginx_accepts_the_documented_configurations(tmp_path):
    nginx = binary("nginx")
    cert, key = certificate(tmp_path)
    servers = "\n".join(blocks("nginx"))
    servers = re.sub(r"/etc/letsencrypt/live/[^/]+/fullchain\.pem", str(cert), servers)
    servers = re.sub(r"/etc/letsencrypt/live/[^/]+/privkey\.pem", str(key), servers)
    conf = nginx_conf(tmp_path, servers)
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_caddy_accepts_the_documented_configurations(tmp_path):
    caddy = binary("caddy")
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    for i, block in enumerate(blocks("caddyfile")):
        path = tmp_path / f"Caddyfile{i}"
        path.write_text(block)
        result = subprocess.run([caddy, "adapt", "--config", str(path), "--adapter", "caddyfile", "--validate"],
                                capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr


def test_a_widget_reaches_the_relay_through_the_documented_nginx(tmp_path):
    nginx = binary("nginx")
    relay = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": SITE, "RELAY_TRUST_FORWARDED": "true"}).start()
    try:
        port = free_port()
        doc = blocks("nginx")[0]
        mapping = doc[:doc.index("server {")]
        location = re.search(r"^    location / \{.*?^    \}", doc, re.S | re.M).group(0)
        location = location.replace("http://127.0.0.1:8080", relay.url)
        conf = nginx_conf(tmp_path, f"{mapping}\nserver {{\n    listen 127.0.0.1:{port};\n{location}\n}}\n")
        log = tmp_path / "nginx.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz", proc, log)
            through(f"http://127.0.0.1:{port}")
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        relay.stop()


def test_a_widget_reaches_the_relay_through_the_documented_caddy(tmp_path):
    caddy = binary("caddy")
    relay = RelayProcess(tmp_path, env={"RELAY_ALLOWED_ORIGINS": SITE, "RELAY_TRUST_FORWARDED": "true"}).start()
    try:
        port = free_port()
        doc = blocks("caddyfile")[0]
        site = doc.replace("relay.example.com", f"http://127.0.0.1:{port}").replace("127.0.0.1:8080", relay.url)
        caddyfile = tmp_path / "Caddyfile"
        caddyfile.write_text("{\n    admin off\n}\n\n" + site)
        env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
        log = tmp_path / "caddy.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz", proc, log)
            through(f"http://127.0.0.1:{port}")
        finally:
            proc.terminate()
            proc.wait(10)
    finally:
        relay.stop()
