"""A real relay process on a loopback port, for tests, benchmarks and tools.

``RelayProcess`` runs ``python -m proxy`` with its own SQLite file and a known webhook secret,
waits for ``/healthz``, and can stop it gracefully (SIGTERM) or brutally (SIGKILL) and start it
again on the same file. ``tools.compare_modes --spawn`` uses it for a throwaway demo relay; the
tests import it through ``tests.relayproc``.
"""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_" + base64.b64encode(b"relay-tests-webhook-secret-0001").decode()
TOKEN_SECRET = "test-token-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RelayProcess:
    def __init__(self, workdir: Path, env: dict[str, str] | None = None, db: Path | None = None):
        self.workdir = Path(workdir)
        self.db = db or self.workdir / "relay.db"
        self.port = free_port()
        self.env = {
            "RELAY_LISTEN": f"127.0.0.1:{self.port}",
            "RELAY_STORE": f"sqlite:///{self.db}",
            "RELAY_WEBHOOK_SECRET": SECRET,
            "RELAY_SECRET": TOKEN_SECRET,
            "RELAY_RATE_LIMIT_IP": "100000/60",
            "RELAY_RATE_LIMIT_CREATE": "100000/60",
            "RELAY_RATE_LIMIT_MESSAGES": "100000/60",
            "RELAY_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.command = ["-m", "proxy"]          # what python runs (a benchmark may wrap it in cProfile)
        self.python = sys.executable            # another virtualenv's python runs the relay installed there
        self.pythonpath: str | None = str(ROOT)  # None: only what that python has installed
        self.log_path = self.workdir / f"relay-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> RelayProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env.update(self.env)
        if self.pythonpath is None:
            env.pop("PYTHONPATH", None)
        else:
            env["PYTHONPATH"] = self.pythonpath
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.python, *self.command], cwd=self.workdir, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"relay exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise RuntimeError("relay did not become healthy: " + self.log_path.read_text()[-2000:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        code, self.proc = self.proc.returncode, None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def webhook_body(type_: str, channel_id: int, database: str = "demo", **data) -> bytes:
    return json.dumps({"type": type_, "timestamp": "2026-11-25T20:00:00Z",
                       "data": {"database": database, "odoo_version": "18.0",
                                "channel": {"id": channel_id, "uuid": "u", "livechat_channel_id": 1}, **data}}).encode()


def operator_message(message_id: int, text: str, html: str | None = None, kind: str = "operator") -> dict:
    return {"id": message_id, "author": {"kind": kind, "partner_id": 7, "name": "Mitchell Admin"},
            "body_html": html if html is not None else f"<p>{text}</p>", "body_text": text,
            "date": "2026-11-25T20:00:00Z", "attachments": []}


def new_webhook_id() -> str:
    return "msg_" + uuid.uuid4().hex
