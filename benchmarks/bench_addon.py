"""Odoo addon benchmark (im_livechat_webhook) against one running Odoo 18.0 / 19.0 server.

    python -m benchmarks.bench_addon --odoo http://127.0.0.1:8018 --db relay18 [--n 50]
           [--only latency,cost] [--base-db auto|same|none|<db>] [--out benchmarks/out]

1. ``latency``: one operator reply, two ways out. A webhook receiver (aiohttp, 127.0.0.1, free
   port, Standard Webhooks signature checked with ``standardwebhooks``) becomes the endpoint URL;
   one visitor session is opened (``/im_livechat/cors/get_session``) with its bus WebSocket
   (subscribed to ``mail.guest_<token>``). N times: t0, operator ``message_post`` over
   ``/jsonrpc`` execute_kw, then the time (from t0, same process, ``time.perf_counter``) at which
   (a) the signed ``livechat.message.created`` webhook for that message id reached the receiver and
   (b) the visitor's socket got ``discuss.channel/new_message`` for it.
2. ``cost``: server time of an operator ``message_post`` with the endpoint enabled (URL = the
   receiver) vs disabled (``enabled=False``: the hooks return before writing anything) on the
   same server, interleaved with a rotating order per round, and, when a database without the
   addon exists (``whk<major>_base``), also truly without the addon: that database is cloned
   (``createdb -T``), served by a second Odoo process of the same checkout/config on free ports,
   and dropped at the end. Server time is read from Odoo's own request log line
   (``"POST /jsonrpc" 200 - <queries> <query s> <other s>``); the client round-trip is measured too.

The endpoint's url/enabled are restored at the end (finally). Figures go to
``--out/bench_addon-<serie>-<db>-<date>.json``.
"""
from __future__ import annotations

import argparse
import asyncio
import configparser
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import aiohttp
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tools.measure import machine, pct
from tools.odoo_client import Odoo, OdooError
from tools.relayproc import free_port

T0 = time.perf_counter()
LIVECHAT_CHANNEL = 1
ENDPOINT_XMLID = ("im_livechat_webhook", "endpoint_default")


def say(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------- stats / machine


def summary(values):
    v = [x for x in values if x is not None]
    if not v:
        return {"n": 0}
    return {"n": len(v), "mean": statistics.fmean(v), "median": statistics.median(v),
            "p50": pct(v, 50), "p95": pct(v, 95), "min": min(v), "max": max(v),
            "stdev": statistics.stdev(v) if len(v) > 1 else 0.0}


class CpuMeter:
    """Machine busy share (/proc/stat, all cores) and CPU seconds of given pids over an interval."""
    CLK_TCK = os.sysconf("SC_CLK_TCK")

    def __init__(self, pids: dict):
        self.pids = {k: v for k, v in pids.items() if v}
        self.t0 = self._machine()
        self.p0 = {k: self._proc(v) for k, v in self.pids.items()}
        self.w0 = time.monotonic()
        self.c0 = time.process_time()

    @staticmethod
    def _machine():
        fields_ = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields_[3] + (fields_[4] if len(fields_) > 4 else 0)
        return sum(fields_), idle

    def _proc(self, pid):
        try:
            parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(parts[11]) + int(parts[12])) / self.CLK_TCK
        except (OSError, IndexError, ValueError):
            return None

    def stop(self) -> dict:
        total1, idle1 = self._machine()
        total0, idle0 = self.t0
        wall = time.monotonic() - self.w0
        busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
        out = {"wall_s": round(wall, 2), "machine_busy_pct_of_all_cores": round(busy * 100, 1),
               "cores": os.cpu_count()}
        for k, pid in self.pids.items():
            a, b = self.p0.get(k), self._proc(pid)
            if a is not None and b is not None:
                out[f"{k}_cpu_pct_of_one_core"] = round((b - a) / wall * 100, 1)
        out["bench_client_cpu_pct_of_one_core"] = round((time.process_time() - self.c0) / wall * 100, 1)
        return out


def process_uptime(pid) -> float | None:
    """Seconds since ``pid`` started (the server runs the addon code it loaded then)."""
    try:
        start = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
        return round(boot_uptime - start / os.sysconf("SC_CLK_TCK"), 1)
    except (OSError, IndexError, ValueError, TypeError):
        return None


def project_state() -> dict:
    """The project's commit and whether the addon differs from it (the working tree)."""
    root = Path(__file__).resolve().parent.parent
    def git(*a):
        r = subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "addon_dirty": bool(git("status", "--porcelain", "--", "odoo_addons/im_livechat_webhook"))}


# ---------------------------------------------------------------- Odoo process discovery / log


def listening_pids(port: int) -> list[str]:
    """Pids holding a socket that LISTENs on ``port`` (from /proc/net/tcp{,6})."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    pids = []
    if not inodes:
        return pids
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.append(pid)
                    break
        except OSError:
            continue
    return pids


def find_server_process(port: int) -> dict | None:
    """The local odoo-bin process serving ``port`` (the one listening on it, else the first whose
    command line / config names that port): python, odoo-bin, config, options, log file."""
    listening = listening_pids(port)
    candidates = listening + [p for p in os.listdir("/proc") if p.isdigit() and p not in listening]
    for pid in candidates:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in argv if a]
        if not any(a.endswith("odoo-bin") for a in argv):
            continue
        conf, http_port = None, None
        for i, a in enumerate(argv):
            if a in ("-c", "--config") and i + 1 < len(argv):
                conf = argv[i + 1]
            elif a.startswith("--config="):
                conf = a.split("=", 1)[1]
            elif a in ("-p", "--http-port", "--xmlrpc-port") and i + 1 < len(argv):
                http_port = argv[i + 1]
            elif a.startswith(("--http-port=", "--xmlrpc-port=")):
                http_port = a.split("=", 1)[1]
        options = {}
        if conf:
            cp = configparser.ConfigParser(interpolation=None)
            try:
                cp.read(conf if os.path.isabs(conf) else os.path.join(os.readlink(f"/proc/{pid}/cwd"), conf))
                options = dict(cp["options"]) if cp.has_section("options") else {}
            except (OSError, configparser.Error):
                pass
        if http_port is None:
            http_port = options.get("http_port") or options.get("xmlrpc_port") or "8069"
        if str(http_port) != str(port):
            continue
        log = options.get("logfile") or None
        if not log:
            try:
                target = os.readlink(f"/proc/{pid}/fd/2")
                log = target if os.path.isfile(target) else None
            except OSError:
                pass
        try:   # paths relative to where that server was started (e.g. venv-18/bin/python)
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        absolute = (lambda a: a if os.path.isabs(a) or "/" not in a or not cwd else os.path.join(cwd, a))
        odoo_bin = absolute(next(a for a in argv if a.endswith("odoo-bin")))
        conf = absolute(conf) if conf else conf
        return {"pid": int(pid), "python": absolute(argv[0]), "odoo_bin": odoo_bin, "conf": conf, "cwd": cwd or None,
                "options": options, "log": log}
    return None


class LogTail:
    """New ``werkzeug`` request lines of one database from an Odoo log file."""
    RE = re.compile(r" INFO (\S+) werkzeug: .*\"(\w+) (\S+) HTTP/[\d.]+\" (\d+) - (\d+) ([\d.]+) ([\d.]+)")

    def __init__(self, path: str, db: str):
        self.path, self.db = path, db
        self.fh = open(path, "r", errors="replace")
        self.fh.seek(0, os.SEEK_END)
        self.buf = ""

    def drain(self) -> list[dict]:
        self.buf += self.fh.read()
        lines = self.buf.split("\n")
        self.buf = lines.pop()       # an incomplete last line waits for the next drain
        out = []
        for line in lines:
            m = self.RE.search(line)
            if m and m.group(1) == self.db:
                out.append({"method": m.group(2), "path": m.group(3), "status": int(m.group(4)),
                            "queries": int(m.group(5)), "query_s": float(m.group(6)),
                            "other_s": float(m.group(7))})
        return out

    def close(self):
        self.fh.close()


# ---------------------------------------------------------------- Odoo (tools' client)


async def rpc(fn, *args):
    """One call of tools' Odoo client (synchronous) in a thread: meanwhile the event loop goes on
    receiving webhooks and bus frames, whose arrival times are taken there."""
    return await asyncio.to_thread(fn, *args)


async def rpc_timed(fn, *args) -> tuple[object, float]:
    """``rpc``, and the ``perf_counter`` time at which the call returned, taken in its thread (not
    when the event loop gets round to resuming the caller)."""
    def call():
        result = fn(*args)
        return result, time.perf_counter()
    return await asyncio.to_thread(call)


async def visitor_session(odoo: Odoo) -> tuple[int, str, str | None]:
    """(discuss.channel id, guest token, websocket worker version) of a new visitor session."""
    await rpc(odoo.operator_online)
    li = await rpc(odoo.execute, "im_livechat.channel", "get_livechat_info", [[odoo.livechat_channel]])
    channel_id, guest_token = await rpc(odoo.visitor_session, "Bench visitor")
    return channel_id, guest_token, li.get("websocket_worker_version")


# ---------------------------------------------------------------- arrivals, receiver, bus socket


class Arrivals:
    """message id -> perf_counter time of first arrival, with waiters."""

    def __init__(self):
        self.at: dict[int, float] = {}
        self.events: dict[int, asyncio.Event] = {}

    def record(self, msg_id, t):
        if msg_id in self.at:
            return
        self.at[msg_id] = t
        self.events.setdefault(msg_id, asyncio.Event()).set()

    async def wait(self, msg_id, timeout) -> float | None:
        if msg_id in self.at:
            return self.at[msg_id]
        try:
            await asyncio.wait_for(self.events.setdefault(msg_id, asyncio.Event()).wait(), timeout)
        except asyncio.TimeoutError:
            return None
        return self.at[msg_id]


class Receiver:
    def __init__(self, secret: str):
        self.webhook = Webhook(secret)
        self.arrivals = Arrivals()
        self.counts = {"received": 0, "signature_ok": 0, "signature_bad": 0, "message_created": 0, "other": 0}
        self.runner = None
        self.port = None

    async def handle(self, request: web.Request):
        t = time.perf_counter()
        body = await request.read()
        self.counts["received"] += 1
        try:
            payload = self.webhook.verify(body, dict(request.headers))
            self.counts["signature_ok"] += 1
        except WebhookVerificationError:
            self.counts["signature_bad"] += 1
            return web.Response(status=204)     # 2xx anyway: a benchmark must not start retries
        if payload.get("type") == "livechat.message.created":
            self.counts["message_created"] += 1
            self.arrivals.record(payload["data"]["message"]["id"], t)
        else:
            self.counts["other"] += 1
        return web.Response(status=204)

    async def start(self):
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self.runner, sock).start()
        return f"http://127.0.0.1:{self.port}/v1/webhooks/odoo"

    async def stop(self):
        if self.runner:
            await self.runner.cleanup()


def new_message_ids(payload):
    """Message ids in a discuss.channel/new_message payload (18/19 Store, 17 message dict)."""
    data = payload.get("data")
    if isinstance(data, dict) and isinstance(data.get("mail.message"), list):
        return [m["id"] for m in data["mail.message"] if isinstance(m, dict) and "id" in m]
    msg = payload.get("message")
    if isinstance(msg, dict) and "id" in msg:
        return [msg["id"]]
    return []


class BusSocket:
    def __init__(self, odoo: Odoo, guest_token: str, version: str | None):
        parsed = urlparse(odoo.url)
        self.url = f"ws://{parsed.netloc}/websocket" + (f"?version={version}" if version else "")
        self.origin = odoo.url
        self.token = guest_token
        self.arrivals = Arrivals()
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        self.ws = None
        self.task = None
        self.frames = 0

    async def open(self):
        self.ws = await self.session.ws_connect(self.url, origin=self.origin, compress=0, heartbeat=None)
        await self.ws.send_str(json.dumps({"event_name": "subscribe",
                                           "data": {"channels": [f"mail.guest_{self.token}"], "last": 0}}))
        self.task = asyncio.create_task(self.read())
        await asyncio.sleep(1.0)       # subscribe replay settles

    async def read(self):
        async for msg in self.ws:
            t = time.perf_counter()
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            self.frames += 1
            for n in json.loads(msg.data):
                m = n.get("message", {})
                if m.get("type") == "discuss.channel/new_message":
                    for mid in new_message_ids(m.get("payload") or {}):
                        self.arrivals.record(mid, t)

    async def close(self):
        if self.task:
            self.task.cancel()
        if self.ws is not None:
            await self.ws.close()
        await self.session.close()


# ---------------------------------------------------------------- endpoint settings


async def endpoint_id(odoo: Odoo) -> int:
    rows = await rpc(odoo.execute, "ir.model.data", "search_read",
                     [[["module", "=", ENDPOINT_XMLID[0]], ["name", "=", ENDPOINT_XMLID[1]]]],
                     {"fields": ["res_id"], "limit": 1})
    if not rows:
        raise OdooError("im_livechat_webhook.endpoint_default not found: is the addon installed?")
    return rows[0]["res_id"]


async def endpoint_read(odoo: Odoo, eid: int) -> dict:
    return (await rpc(odoo.execute, "livechat.webhook.endpoint", "read", [[eid]],
                      {"fields": ["url", "enabled", "secret", "timeout", "send_messages"]}))[0]


async def endpoint_write(odoo: Odoo, eid: int, vals: dict):
    await rpc(odoo.execute, "livechat.webhook.endpoint", "write", [[eid], vals])


# ---------------------------------------------------------------- step 1: latency


async def step_latency(odoo: Odoo, receiver: Receiver, n: int, gap: float, timeout: float) -> dict:
    channel_id, token, wsver = await visitor_session(odoo)
    say(f"latency: visitor session channel {channel_id}, bus {wsver}")
    bus = BusSocket(odoo, token, wsver)
    await bus.open()
    samples = []
    try:
        for i in range(n + 2):      # 2 warm-up replies, not counted
            t0 = time.perf_counter()
            mid, t_rpc = await rpc_timed(odoo.operator_reply, channel_id, f"<p>bench latency {i}</p>")
            t_hook, t_bus = await asyncio.gather(receiver.arrivals.wait(mid, timeout),
                                                 bus.arrivals.wait(mid, timeout))
            ms = lambda t: None if t is None else (t - t0) * 1000.0   # noqa: E731
            if i >= 2:
                samples.append({"message_id": mid, "rpc_ms": ms(t_rpc), "webhook_ms": ms(t_hook),
                                "bus_ms": ms(t_bus),
                                "webhook_minus_bus_ms": None if t_hook is None or t_bus is None
                                else (t_hook - t_bus) * 1000.0,
                                "webhook_after_rpc_ms": None if t_hook is None else (t_hook - t_rpc) * 1000.0,
                                "bus_after_rpc_ms": None if t_bus is None else (t_bus - t_rpc) * 1000.0})
            await asyncio.sleep(gap)
    finally:
        await bus.close()
    return {
        "channel_id": channel_id, "websocket_url": bus.url, "samples": samples,
        "lost_webhook": sum(s["webhook_ms"] is None for s in samples),
        "lost_bus": sum(s["bus_ms"] is None for s in samples),
        "webhook_ms": summary([s["webhook_ms"] for s in samples]),
        "bus_ms": summary([s["bus_ms"] for s in samples]),
        "webhook_minus_bus_ms": summary([s["webhook_minus_bus_ms"] for s in samples]),
        "rpc_ms": summary([s["rpc_ms"] for s in samples]),
        "webhook_after_rpc_ms": summary([s["webhook_after_rpc_ms"] for s in samples]),
        "bus_after_rpc_ms": summary([s["bus_after_rpc_ms"] for s in samples]),
        "webhook_first": sum(1 for s in samples if s["webhook_minus_bus_ms"] is not None
                             and s["webhook_minus_bus_ms"] < 0),
    }


# ---------------------------------------------------------------- step 2: cost


class BaseServer:
    """A clone of the database without the addon, served by a second Odoo process."""

    def __init__(self, proc_info: dict, template: str, clone: str, workdir: Path, uninstall: bool = False):
        self.info, self.template, self.clone, self.workdir = proc_info, template, clone, workdir
        self.uninstall = uninstall     # the clone is of the database under test: take the addon out of it
        opts = proc_info["options"]
        self.pg_args = ["-h", opts.get("db_host") or "127.0.0.1", "-p", str(opts.get("db_port") or 5432)]
        if opts.get("db_user"):
            self.pg_args += ["-U", opts["db_user"]]
        self.env = dict(os.environ)
        if opts.get("db_password") and opts["db_password"] != "False":
            self.env["PGPASSWORD"] = opts["db_password"]
        self.data_dir = opts.get("data_dir")
        self.filestore_existed = None
        self.created = False
        self.proc = None
        self.port = self.gevent_port = None
        self.log = str(workdir / f"{clone}.log")

    def _pg(self, *cmd, check=True):
        return subprocess.run([*cmd, *self.pg_args], env=self.env, check=check, capture_output=True, text=True)

    def db_exists(self, name) -> bool:
        r = subprocess.run(["psql", *self.pg_args, "-d", "postgres", "-Atc",
                            f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                           env=self.env, capture_output=True, text=True)
        return r.stdout.strip() == "1"

    def filestore(self) -> Path | None:
        return Path(self.data_dir) / "filestore" / self.clone if self.data_dir else None

    async def start(self) -> str:
        if self.db_exists(self.clone):
            raise RuntimeError(f"database {self.clone} already exists; drop it first (dropdb {self.clone})")
        fs = self.filestore()
        self.filestore_existed = bool(fs and fs.exists())
        if self.uninstall:
            # the database under test is in use by the running server: copy it with pg_dump, not -T
            subprocess.run(["createdb", *self.pg_args, self.clone], env=self.env, check=True, capture_output=True, text=True)
            self.created = True
            dump = subprocess.Popen(["pg_dump", *self.pg_args, "--no-owner", self.template], env=self.env,
                                    stdout=subprocess.PIPE)
            subprocess.run(["psql", *self.pg_args, "-q", "-d", self.clone], env=self.env, stdin=dump.stdout,
                           check=True, capture_output=True)
            if dump.wait():
                raise RuntimeError(f"pg_dump {self.template} failed")
        else:
            subprocess.run(["createdb", *self.pg_args, "-T", self.template, self.clone],
                           env=self.env, check=True, capture_output=True, text=True)
        self.created = True
        self.port, self.gevent_port = free_port(), free_port()
        cmd = [self.info["python"], self.info["odoo_bin"]]
        if self.info["conf"]:
            cmd += ["-c", self.info["conf"]]
        if self.uninstall:
            script = ("env['ir.module.module'].search([('name', '=', 'im_livechat_webhook')])"
                      ".button_immediate_uninstall()\nenv.cr.commit()\n")
            done = subprocess.run([*cmd[:2], "shell", *cmd[2:], "-d", self.clone, "--no-http", "--logfile", self.log],
                                  input=script, capture_output=True, text=True, timeout=600, cwd=self.info.get("cwd"))
            if done.returncode:
                raise RuntimeError(f"uninstalling the addon from {self.clone} failed: {done.stderr[-500:]}")
        cmd += ["--logfile", self.log]      # its own log: a config's logfile would mix it with the main server's
        cmd += ["-d", self.clone, "--db-filter", f"^{self.clone}$", "--http-interface", "127.0.0.1",
                "--http-port", str(self.port), "--gevent-port", str(self.gevent_port),
                "--max-cron-threads", "0", "--workers", "0", "--log-level", "info"]
        self.logfh = open(self.log, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.logfh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=self.info.get("cwd"))
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180
        probe = Odoo(base, None, "", "", None)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"base server exited with {self.proc.returncode}; see {self.log}")
            try:
                await rpc(probe.call, "/web/webclient/version_info", {})
                return base
            except OdooError:       # it answers (with an error): up
                return base
            except (OSError, ValueError, http.client.HTTPException):   # not listening yet, or not ready
                pass
            await asyncio.sleep(0.5)
        raise RuntimeError(f"base server did not answer within 180 s; see {self.log}")

    def stop(self):
        notes = []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                notes.append("base server killed after 30 s")
        if self.proc is not None:
            self.logfh.close()
        if self.created:
            r = subprocess.run(["dropdb", *self.pg_args, "--if-exists", "--force", self.clone],
                               env=self.env, capture_output=True, text=True)
            if r.returncode:
                notes.append(f"dropdb {self.clone} failed: {r.stderr.strip()}")
            fs = self.filestore()
            if fs and not self.filestore_existed and fs.exists():
                shutil.rmtree(fs, ignore_errors=True)
        return notes


async def step_cost(arms: dict, n: int, settle: float, receiver: Receiver, set_enabled, timeout: float,
                    check_endpoint=None) -> dict:
    """arms: name -> {"odoo", "channel_id", "log": LogTail|None, "enabled": bool|None}.

    Each round runs every arm once, in an order rotated per round (A B C, B C A, C A B, ...).
    """
    names = list(arms)
    warmup = 3
    samples = {name: [] for name in names}
    current_enabled = [None]

    for r in range(n + warmup):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            arm = arms[name]
            if arm["enabled"] is not None and current_enabled[0] != arm["enabled"]:
                await set_enabled(arm["enabled"])
                current_enabled[0] = arm["enabled"]
                await asyncio.sleep(0.05)
            for a in arms.values():            # forget anything logged before this call
                if a["log"]:
                    a["log"].drain()
            t0 = time.perf_counter()
            mid, t_rpc = await rpc_timed(arm["odoo"].operator_reply, arm["channel_id"], f"<p>bench cost {name} {r}</p>")
            client_ms = (t_rpc - t0) * 1000.0
            hook_ms = None
            if arm["enabled"]:                  # let the delivery thread finish before the next call
                t_hook = await receiver.arrivals.wait(mid, timeout)
                hook_ms = None if t_hook is None else (t_hook - t0) * 1000.0
                if t_hook is None and check_endpoint:
                    await check_endpoint(f"cost round {r}: webhook for message {mid} not received")
            await asyncio.sleep(settle)
            server_ms = queries = None
            lines = []
            if arm["log"]:
                # 19 logs "/jsonrpc#discuss.channel.message_post", 18 "/jsonrpc"
                lines = [x for x in arm["log"].drain()
                         if x["path"] in ("/jsonrpc", "/jsonrpc#discuss.channel.message_post")]
                if len(lines) == 1:
                    server_ms = (lines[0]["query_s"] + lines[0]["other_s"]) * 1000.0
                    queries = lines[0]["queries"]
            if r >= warmup:
                samples[name].append({"round": r - warmup, "message_id": mid, "client_ms": client_ms,
                                      "server_ms": server_ms, "queries": queries, "webhook_ms": hook_ms,
                                      "log_lines": len(lines)})
    out = {"arms": {}, "order": "rotated per round", "warmup_rounds": warmup, "settle_s": settle}
    for name in names:
        s = samples[name]
        out["arms"][name] = {
            "label": arms[name]["label"], "db": arms[name]["odoo"].db, "channel_id": arms[name]["channel_id"],
            "client_ms": summary([x["client_ms"] for x in s]),
            "server_ms": summary([x["server_ms"] for x in s]),
            "queries": summary([x["queries"] for x in s]),
            "server_samples_missing": sum(x["server_ms"] is None for x in s),
            "windows_with_foreign_requests": sum(1 for x in s if x["log_lines"] > 1),
            "webhooks_lost": sum(1 for x in s if arms[name]["enabled"] and x["webhook_ms"] is None),
            "samples": s,
        }
    return out


def compare(cost: dict, a: str, b: str) -> dict:
    """Relative difference of arm a vs arm b (client and server), with a paired per-round difference."""
    res = {"a": a, "b": b}
    for metric in ("server_ms", "client_ms"):
        sa, sb = cost["arms"][a][metric], cost["arms"][b][metric]
        if not sa.get("n") or not sb.get("n"):
            continue
        pairs = [(x[metric], y[metric]) for x, y in zip(cost["arms"][a]["samples"], cost["arms"][b]["samples"])
                 if x[metric] is not None and y[metric] is not None]
        diffs = [x - y for x, y in pairs]
        d = {"mean_a": sa["mean"], "mean_b": sb["mean"], "median_a": sa["median"], "median_b": sb["median"],
             "rel_mean_pct": (sa["mean"] / sb["mean"] - 1) * 100 if sb["mean"] else None,
             "rel_median_pct": (sa["median"] / sb["median"] - 1) * 100 if sb["median"] else None}
        if len(diffs) > 1:
            m, sd = statistics.fmean(diffs), statistics.stdev(diffs)
            half = 1.96 * sd / math.sqrt(len(diffs))
            d.update(paired_n=len(diffs), paired_mean_diff_ms=m, paired_ci95_ms=[m - half, m + half],
                     paired_median_diff_ms=statistics.median(diffs))
        res[metric] = d
    return res


# ---------------------------------------------------------------- printing


def f(x, fmt="{:.1f}"):
    return "-" if x is None else fmt.format(x)


def print_latency(lat: dict):
    print()
    print(f"1. operator reply -> webhook received vs bus -> visitor WebSocket "
          f"(ms from just before message_post, n={len(lat['samples'])})")
    print(f"   {'':28s} {'p50':>7s} {'p95':>7s} {'max':>7s} {'mean':>7s}  lost")
    rows = [("webhook received (signed)", lat["webhook_ms"], lat["lost_webhook"]),
            ("bus new_message on visitor WS", lat["bus_ms"], lat["lost_bus"]),
            ("webhook - bus (same message)", lat["webhook_minus_bus_ms"], None),
            ("message_post RPC returned", lat["rpc_ms"], None),
            ("webhook, after RPC returned", lat["webhook_after_rpc_ms"], None),
            ("bus, after RPC returned", lat["bus_after_rpc_ms"], None)]
    for label, s, lost in rows:
        print(f"   {label:28s} {f(s.get('p50')):>7s} {f(s.get('p95')):>7s} {f(s.get('max')):>7s} "
              f"{f(s.get('mean')):>7s}  {'' if lost is None else lost}")
    w, b = lat["webhook_ms"], lat["bus_ms"]
    if lat.get("cpu"):
        print(f"   cpu during the step: {lat['cpu']}")
    if w.get("n") and b.get("n"):
        print(f"   difference of percentiles (webhook - bus): p50 {w['p50'] - b['p50']:+.1f}  "
              f"p95 {w['p95'] - b['p95']:+.1f}  max {w['max'] - b['max']:+.1f};  "
              f"webhook first in {lat['webhook_first']}/{len(lat['samples'])}")


def print_cost(cost: dict, comparisons: list):
    print()
    print("2. operator message_post cost (JSON-RPC execute_kw; server = Odoo's request log line, "
          "client = round trip)")
    print(f"   {'arm':40s} {'n':>3s} {'srv mean':>8s} {'srv med':>8s} {'srv p95':>8s} {'queries':>7s} "
          f"{'cli mean':>8s} {'cli med':>8s}")
    for name, a in cost["arms"].items():
        s, c, q = a["server_ms"], a["client_ms"], a["queries"]
        print(f"   {a['label'][:40]:40s} {c.get('n', 0):>3d} {f(s.get('mean'), '{:.2f}'):>8s} "
              f"{f(s.get('median'), '{:.2f}'):>8s} {f(s.get('p95'), '{:.2f}'):>8s} {f(q.get('median'), '{:.0f}'):>7s} "
              f"{f(c.get('mean'), '{:.2f}'):>8s} {f(c.get('median'), '{:.2f}'):>8s}")
    if cost.get("cpu"):
        print(f"   cpu during the step: {cost['cpu']}")
    foreign = {n: a["windows_with_foreign_requests"] for n, a in cost["arms"].items()}
    if any(foreign.values()):
        print(f"   calls with other requests logged in their window (server time dropped): {foreign}")
    for cmp in comparisons:
        for metric, tag in (("server_ms", "server"), ("client_ms", "client")):
            d = cmp.get(metric)
            if not d:
                continue
            ci = d.get("paired_ci95_ms")
            print(f"   {cmp['a']} vs {cmp['b']} ({tag}): mean {d['rel_mean_pct']:+.1f}%  median "
                  f"{d['rel_median_pct']:+.1f}%  paired diff mean {d.get('paired_mean_diff_ms', 0):+.2f} ms"
                  + (f" [95% CI {ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")
                  + f" median {d.get('paired_median_diff_ms', 0):+.2f} ms")


# ---------------------------------------------------------------- main


async def run(args) -> int:
    mach = machine()
    result = {"benchmark": "bench_addon", "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": mach, "args": {k: v for k, v in vars(args).items()}, "notes": []}
    steps = set(args.only.split(","))
    odoo = Odoo(args.odoo, args.db, args.login, args.password, LIVECHAT_CHANNEL)
    receiver = None
    base_server = None
    base_odoo = None
    tails = []
    eid = original = None
    try:
        await rpc(odoo.start)
        result["odoo"] = {"server_version": odoo.info["server_version"], "serie": odoo.info["server_serie"],
                          "url": odoo.url, "db": odoo.db}
        port = urlparse(odoo.url).port or 80
        proc = find_server_process(port)
        result["odoo"]["process"] = proc and {k: proc[k] for k in ("pid", "conf", "log")}
        opts = (proc or {}).get("options", {})
        result["odoo"]["workers"] = opts.get("workers")
        result["odoo"]["process_uptime_s"] = process_uptime(proc and proc["pid"])
        result["project"] = project_state()
        say(f"Odoo {odoo.info['server_version']} at {odoo.url} db {odoo.db}; uid {odoo.uid}; "
            f"process {proc and proc['pid']} log {proc and proc['log']}")

        eid = await endpoint_id(odoo)
        original = await endpoint_read(odoo, eid)
        result["endpoint_before"] = {"url": original["url"], "enabled": original["enabled"]}
        if not original["secret"]:
            raise RuntimeError("the endpoint has no secret: nothing to verify signatures with")
        if not original.get("send_messages", True):
            raise RuntimeError("the endpoint does not send messages (send_messages=False)")
        receiver = Receiver(original["secret"])
        url = await receiver.start()
        await endpoint_write(odoo, eid, {"url": url, "enabled": True})
        say(f"receiver {url}; endpoint {eid} was url={original['url']!r} enabled={original['enabled']}")

        async def check_endpoint(context):
            now = await endpoint_read(odoo, eid)
            if now["url"] != url or now["secret"] != original["secret"]:
                note = (f"{context}: the endpoint was changed by someone else meanwhile "
                        f"(url={now['url']!r}, enabled={now['enabled']}); figures may be affected")
                result["notes"].append(note)
                say(note)
                await endpoint_write(odoo, eid, {"url": url})
            else:
                result["notes"].append(f"{context} (endpoint unchanged)")

        if "latency" in steps:
            say(f"latency: {args.n} operator replies")
            meter = CpuMeter({"odoo": proc and proc["pid"]})
            lat = await step_latency(odoo, receiver, args.n, args.gap, args.timeout)
            lat["cpu"] = meter.stop()
            result["latency"] = lat
            if lat["lost_webhook"]:
                await check_endpoint(f"latency: {lat['lost_webhook']} webhook(s) not received")
            print_latency(lat)

        if "cost" in steps:
            log = args.odoo_log if args.odoo_log != "auto" else (proc and proc["log"])
            main_tail = LogTail(log, odoo.db) if log and os.path.isfile(log) else None
            if main_tail:
                tails.append(main_tail)
            else:
                result["notes"].append("no Odoo log file found: server-side times missing, client times only")
            channel_id, _tok, _v = await visitor_session(odoo)
            arms = {
                "on": {"label": f"addon, endpoint enabled ({odoo.db})", "odoo": odoo, "channel_id": channel_id,
                       "log": main_tail, "enabled": True},
                "off": {"label": f"addon, endpoint enabled=False ({odoo.db})", "odoo": odoo,
                        "channel_id": channel_id, "log": main_tail, "enabled": False},
            }
            base_db = args.base_db
            if base_db == "auto":
                base_db = f"whk{odoo.major}_base"
            if base_db != "none":
                if not proc:
                    result["notes"].append("no-addon arm skipped: the running Odoo process was not found")
                elif base_db == "same":        # the database under test, the addon uninstalled from a clone
                    base_server = BaseServer(proc, odoo.db, odoo.db + "_noaddon", Path(args.workdir), uninstall=True)
                else:
                    base_server = BaseServer(proc, base_db, base_db.replace("_base", "") + "_bench"
                                             if base_db.endswith("_base") else base_db + "_bench",
                                             Path(args.workdir))
                    if not base_server.db_exists(base_db):
                        result["notes"].append(f"no-addon arm skipped: database {base_db} not found")
                        base_server = None
            if base_server:
                say(f"cost: cloning {base_server.template} -> {base_server.clone}, starting a second Odoo")
                base_url = await base_server.start()
                base_odoo = Odoo(base_url, base_server.clone, args.login, args.password, LIVECHAT_CHANNEL)
                await rpc(base_odoo.start)
                mods = await rpc(base_odoo.execute, "ir.module.module", "search_read",
                                 [[["name", "=", "im_livechat_webhook"]]], {"fields": ["state"]})
                if mods and mods[0]["state"] == "installed":
                    raise RuntimeError(f"{base_server.clone} has im_livechat_webhook installed")
                base_tail = LogTail(base_server.log, base_server.clone)
                tails.append(base_tail)
                base_channel, _t, _v = await visitor_session(base_odoo)
                arms["none"] = {"label": f"no addon ({base_server.clone}, 2nd process)", "odoo": base_odoo,
                                "channel_id": base_channel, "log": base_tail, "enabled": None}
                result["cost_base_server"] = {"url": base_url, "template": base_server.template,
                                              "clone": base_server.clone, "log": base_server.log,
                                              "server_version": base_odoo.info["server_version"]}
                say(f"cost: base server {base_url} ({base_odoo.info['server_version']}) channel {base_channel}")

            async def set_enabled(value):
                await endpoint_write(odoo, eid, {"enabled": value})

            say(f"cost: {args.n} rounds of {'/'.join(arms)}")
            meter = CpuMeter({"odoo": proc and proc["pid"],
                              "odoo_base": base_server and base_server.proc and base_server.proc.pid})
            cost = await step_cost(arms, args.n, args.settle, receiver, set_enabled, args.timeout, check_endpoint)
            cost["cpu"] = meter.stop()
            comparisons = [compare(cost, "on", "off")]
            if "none" in arms:
                comparisons += [compare(cost, "on", "none"), compare(cost, "off", "none")]
            cost["comparisons"] = comparisons
            cost["comparison_done"] = ("enabled vs enabled=False on the same server, and vs a clone without "
                                       "the addon on a second Odoo process" if "none" in arms else
                                       "enabled vs enabled=False on the same server")
            result["cost"] = cost
            print_cost(cost, comparisons)
        if receiver:
            result["receiver"] = dict(receiver.counts)
    finally:
        if eid is not None and original is not None:
            try:
                await endpoint_write(odoo, eid, {"url": original["url"], "enabled": original["enabled"]})
                after = await endpoint_read(odoo, eid)
                result["endpoint_after"] = {"url": after["url"], "enabled": after["enabled"]}
                say(f"endpoint restored: url={after['url']!r} enabled={after['enabled']}")
            except Exception as exc:    # noqa: BLE001
                result["notes"].append(f"could not restore the endpoint: {exc}")
                print(f"!! could not restore the endpoint {eid}: {exc}", file=sys.stderr)
        if receiver:
            await receiver.stop()
        for t in tails:
            t.close()
        if base_server:
            notes = base_server.stop()
            result["notes"] += notes
            say(f"base server stopped, {base_server.clone} dropped" + (f" ({'; '.join(notes)})" if notes else ""))

    mach["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(f"machine: {mach['cpu_model']}, {mach['cores']} cores ({mach['usable_cores']} usable), "
          f"{mach['mem_gib']} GiB, Python {mach['python']}, load {mach['loadavg_at_start']} -> {mach['loadavg_at_end']}")
    print(f"odoo: {result['odoo']['server_version']} ({result['odoo']['serie']}) {odoo.url} db {odoo.db}, "
          f"workers={result['odoo'].get('workers')}, server up {result['odoo'].get('process_uptime_s')} s; "
          f"project {result.get('project')}")
    if "cost" in result:
        print(f"cost comparison: {result['cost']['comparison_done']}")
    if result.get("receiver"):
        print(f"receiver: {result['receiver']}")
    for note in result["notes"]:
        print(f"note: {note}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_addon-{result['odoo']['serie']}-{odoo.db}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    print(f"figures: {path}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--odoo", default="http://127.0.0.1:8018")
    p.add_argument("--db", default="relay18")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--login", default="admin")
    p.add_argument("--password", default="admin")
    p.add_argument("--only", default="latency,cost")
    p.add_argument("--base-db", default="auto",
                   help="database without the addon to clone (auto: whk<major>_base; same: a clone of the database "
                        "under test with the addon uninstalled, the fairest baseline; none)")
    p.add_argument("--odoo-log", default="auto", help="the running server's log file (auto: from /proc)")
    p.add_argument("--gap", type=float, default=0.1, help="pause between latency replies (s)")
    p.add_argument("--settle", type=float, default=0.1, help="pause after each cost call (s)")
    p.add_argument("--timeout", type=float, default=10.0, help="wait for a webhook / bus frame (s)")
    p.add_argument("--workdir", default="/tmp", help="where the second Odoo's log goes")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    args = p.parse_args(argv)

    def on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
