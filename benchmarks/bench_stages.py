"""Where a webhook's time goes inside the relay: a per-stage breakdown, SQLite and Redis.

    python -m benchmarks.bench_stages [--n 300] [--stores sqlite,redis] [--arms after_commit,early]
           [--pause-ms 20] [--out benchmarks/out]

Each arm is a relay process (``python -m benchmarks.bench_stages --serve``: the real ``python -m
proxy`` with timing wrappers installed first, ``tools.relayproc.RelayProcess``), one conversation
and one WebSocket reader in this process. All arms run side by side: every round sends one signed
``livechat.message.created`` webhook to each arm in turn (the order rotates per round), waits for
its frame and its 2xx, then pauses ``--pause-ms`` (± half, random): an idle relay, one webhook at
a time, as the addon sends a session's events. Nothing is mocked.

Arms: ``after_commit`` is the former behaviour (``Relay.publish_early = False``): live sockets
get the event once it is durable, and its frame is written after the 2xx; ``early`` (the default)
publishes as soon as the event has its seq, while the 2xx still waits for the commit (SQLite; with
Redis, which assigns the seq and stores the event in one script, the frame is written as soon as
Redis answered, before the 2xx). Redis is a private ``redis-server`` with ``appendfsync always``
(every acknowledged write on disk, like SQLite's ``synchronous=FULL``).

The wrappers (relay side) stamp ``time.perf_counter_ns()`` around each stage; CLOCK_MONOTONIC is
one clock for every process of the machine, so the client's stamps (just before the POST, when
the frame and the 2xx were read) line up with the relay's. The wrappers cost about a microsecond
each; they exist only in this benchmark's relay processes.
"""
from __future__ import annotations

import argparse
import asyncio
import contextvars
import itertools
import json
import os
import random
import re
import sqlite3
import sys
import tempfile
import time
import types
from pathlib import Path

T0 = time.perf_counter()
HOOK_PATH = "/v1/webhooks/odoo"
ARMS = ("after_commit", "early")
STORES = ("sqlite", "redis")

# (name, from, to): stage durations between two stamps; missing stamps leave the stage out
STAGES = (
    ("client POST → handler", "post", "handler"),
    ("headers + body read", "handler", "verify0"),
    ("signature (HMAC)", "verify0", "verify1"),
    ("parse + sanitize", "parse0", "parse1"),
    ("→ store call", "parse1", "store0"),
    ("→ writer thread", "store0", "op0"),
    ("SQL, seq assigned", "op0", "op1"),
    ("rest of the batch", "op1", "commit0"),
    ("COMMIT (fsync)", "commit0", "commit1"),
    ("→ back on the loop", "commit1", "store1"),
    ("store call, whole (Redis: one round trip)", "store0", "store1"),
    ("seq → hub.publish", "seq", "pub0"),
    ("hub.publish", "pub0", "pub1"),
    ("publish → socket write", "pub1", "write0"),
    ("socket write", "write0", "write1"),
    ("write → frame read", "write1", "frame"),
    ("store → handler returns", "store1", "response"),
    ("handler returns → 2xx read", "response", "ok"),
)
TOTALS = (
    ("POST → frame read", "post", "frame"),
    ("POST → 2xx read", "post", "ok"),
    ("handler → socket write", "handler", "write1"),
)


def say(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------- relay side (--serve)

REC: dict[str, dict[str, int]] = {}          # "odoo:<message id>" -> stamp name -> perf_counter_ns
_CUR: contextvars.ContextVar = contextvars.ContextVar("bench_stage_rec", default=None)
_TL = types.SimpleNamespace(batch=[])        # records of the open transaction (one at a time: the
                                             # loop's thread may open it, the writer thread commits it)
_MID = re.compile(rb'"id":"(odoo:\d+)"')


def _now() -> int:
    return time.perf_counter_ns()


def install(arm: str) -> None:
    """Timing wrappers around each stage (module attributes, looked up at call time)."""
    from proxy import events, hub, signing
    from proxy.api import webhooks, wsframe
    from proxy.conversations import Relay
    from proxy.store import sqlite as sqlitemod
    from proxy.store.redis import RedisStore
    from proxy.store.sqlite import SQLiteStore

    Relay.publish_early = arm == "early"

    receive = webhooks.receive

    async def timed_receive(request):
        rec = {"handler": _now()}
        token = _CUR.set(rec)
        try:
            return await receive(request)
        finally:
            rec["response"] = _now()
            _CUR.reset(token)
    webhooks.receive = timed_receive

    verify = signing.verify

    def timed_verify(*args, **kwargs):
        rec = _CUR.get()
        if rec is not None:
            rec["verify0"] = _now()
        try:
            return verify(*args, **kwargs)
        finally:
            if rec is not None:
                rec["verify1"] = _now()
    signing.verify = timed_verify

    parse = events.parse_webhook

    def timed_parse(raw):
        rec = _CUR.get()
        t = _now()
        hook = parse(raw)
        if rec is not None:
            rec["parse0"], rec["parse1"] = t, _now()
            message = (hook.event or {}).get("message") or {}
            if message.get("id"):
                REC[message["id"]] = rec
        return hook
    events.parse_webhook = timed_parse

    append = Relay.append

    async def timed_append(self, conversation_id, event, **kwargs):
        """Events that do not come from a webhook (Odoo's bus, polling, the visitor): stamped too."""
        if _CUR.get() is not None:
            return await append(self, conversation_id, event, **kwargs)
        message = event.get("message") or {}
        # a message read on Odoo's bus already has its record (bus stamps, install_bus)
        rec = REC.setdefault(message["id"], {}) if message.get("id") else {}
        if "append0" in rec:                       # the same message again (a poll, a replay): not timed
            return await append(self, conversation_id, event, **kwargs)
        rec["append0"] = _now()
        token = _CUR.set(rec)
        try:
            return await append(self, conversation_id, event, **kwargs)
        finally:
            rec["append1"] = _now()
            _CUR.reset(token)
    Relay.append = timed_append

    def wrap_store(cls, prefix: str, name: str = "append_bound") -> None:
        inner = getattr(cls, name)

        async def timed(self, *args, **kwargs):
            rec = _CUR.get()
            if rec is not None:
                rec[prefix + "0"] = _now()
            try:
                return await inner(self, *args, **kwargs)
            finally:
                if rec is not None:
                    rec[prefix + "1"] = _now()
        setattr(cls, name, timed)
    for cls in (SQLiteStore, RedisStore):
        wrap_store(cls, "store")
        wrap_store(cls, "store", "append")

    write = SQLiteStore._write

    async def timed_write(self, fn, *args, **kwargs):
        rec = _CUR.get()
        if rec is None:
            return await write(self, fn, *args, **kwargs)

        def op(db):
            rec["op0"] = _now()
            try:
                return fn(db)
            finally:
                rec["op1"] = _now()
                _TL.batch.append(rec)
        return await write(self, op, *args, **kwargs)
    SQLiteStore._write = timed_write

    class TimedConnection(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql == "BEGIN IMMEDIATE":
                _TL.batch = []
            if sql != "COMMIT":
                return super().execute(sql, *args)
            c0 = _now()
            try:
                return super().execute(sql, *args)
            finally:
                c1 = _now()
                for rec in getattr(_TL, "batch", ()):
                    rec["commit0"], rec["commit1"] = c0, c1
                _TL.batch = []

    class Shim(types.ModuleType):            # sqlite3 for proxy.store.sqlite, connecting timed
        def __getattr__(self, name):
            return getattr(sqlite3, name)
    shim = Shim("sqlite3")
    shim.connect = lambda *a, **kw: sqlite3.connect(*a, factory=TimedConnection, **kw)
    sqlitemod.sqlite3 = shim

    def stamp_publish(name: str) -> None:
        inner = getattr(hub.Hub, name, None)
        if inner is None:
            return

        def timed(self, conversation_id, event, *args, **kwargs):
            rec = REC.get(((event or {}).get("message") or {}).get("id"))
            t = _now()
            try:
                return inner(self, conversation_id, event, *args, **kwargs)
            finally:
                if rec is not None and "pub0" not in rec:
                    rec["pub0"], rec["pub1"] = t, _now()
                    rec["early"] = int("commit1" not in rec and "op1" in rec)
        setattr(hub.Hub, name, timed)
    stamp_publish("publish")
    stamp_publish("publish_early")

    flush = wsframe.flush

    def timed_flush(writer):
        frames = writer.pending or []
        t = _now()
        flush(writer)
        t1 = _now()
        for frame in frames:
            m = _MID.search(frame)
            rec = REC.get(m.group(1).decode()) if m else None
            if rec is not None and "write0" not in rec:
                rec["write0"], rec["write1"] = t, t1
    wsframe.flush = timed_flush
    install_bus()


_SOCK: list[int] = []                        # when bus bytes naming a new message reached the relay


def install_bus() -> None:
    """The bus follower's stages (``proxy.odoo.replies._bus``): the bytes of a frame reaching the
    relay's socket (aiohttp's client protocol), ``json.loads`` of the frame, ``payloads.bus_items``;
    then ``Relay.append`` and the stages above. Also what the frame held: its notification types
    in order, so what Odoo puts before the new message is seen."""
    import json as jsonmod

    from aiohttp import client_proto
    from proxy.odoo import payloads, replies

    received = client_proto.ResponseHandler.data_received

    def timed_received(self, data):
        if data and b"/new_message" in data:
            _SOCK.append(_now())
        return received(self, data)
    client_proto.ResponseHandler.data_received = timed_received

    last: dict = {}

    class Json(types.ModuleType):
        def __getattr__(self, name):
            return getattr(jsonmod, name)

        def loads(self, raw, *args, **kwargs):
            t = _now()
            out = jsonmod.loads(raw, *args, **kwargs)
            last.clear()
            last.update(loads0=t, loads1=_now(), frame_bytes=len(raw))
            if _SOCK:
                last["sock"] = _SOCK[0]
                _SOCK.clear()
            return out
    replies.json = Json("json")

    items_of = payloads.bus_items

    def timed_items(major, notifications, *args, **kwargs):
        t = _now()
        items = items_of(major, notifications, *args, **kwargs)
        t1 = _now()
        stamps = dict(last) if last.get("loads1", 0) and t - last["loads1"] < 5_000_000 else {}
        last.clear()
        types_ = [((n.get("message") or {}).get("type") if isinstance(n, dict) else None) for n in notifications]
        for item in items:
            if item.kind == "message" and item.message is not None:
                rec = REC.setdefault(f"odoo:{item.message.id}", {})
                if "items1" not in rec:
                    rec.update(stamps, items0=t, items1=t1, frame_types=types_,
                               frame_items=[i.kind for i in items])
        return items
    payloads.bus_items = timed_items


def serve() -> int:
    install(os.environ["BENCH_STAGES_ARM"])
    from proxy.cli import main
    try:
        return main([])
    finally:
        Path(os.environ["BENCH_STAGES_OUT"]).write_text(json.dumps(REC))


# ---------------------------------------------------------------- client side


def pct(values: list[float], p: float):
    from tools.measure import pct as _pct
    return _pct(values, p)


async def run(args) -> dict:
    import aiohttp

    from proxy import signing
    from tests.redisproc import RedisServer
    from tools import widget_client
    from tools.measure import machine
    from tools.relayproc import SECRET, RelayProcess, new_webhook_id, operator_message, webhook_body

    class StageRelay(RelayProcess):
        def __init__(self, workdir: Path, env: dict):
            super().__init__(workdir, env)
            self.command = ["-m", "benchmarks.bench_stages", "--serve"]

    info = machine()
    say(f"machine: {info['cpu_model']}, {info['cores']} cores, Python {info['python']}, aiohttp {info['aiohttp']}, "
        f"kernel {info['kernel']}, load average {info['loadavg_at_start']}")
    workdir = Path(tempfile.mkdtemp(prefix="relay-stages-"))
    redis = None
    arms: list[dict] = []
    try:
        if "redis" in args.stores:
            (workdir / "redis").mkdir()
            redis = RedisServer(workdir / "redis").start()
            say(f"redis-server on port {redis.port} (appendonly yes, appendfsync always)")
        for store in args.stores:
            for arm in args.arms:
                name = f"{store}/{arm}"
                d = workdir / f"{store}-{arm}"
                d.mkdir()
                env = {"BENCH_STAGES_ARM": arm, "BENCH_STAGES_OUT": str(d / "stages.json"),
                       "RELAY_LOG_LEVEL": "warning"}
                if store == "redis":
                    env["RELAY_STORE"] = redis.url + f"?prefix=stages-{arm}"
                relay = StageRelay(d, env).start()
                arms.append({"name": name, "store": store, "arm": arm, "relay": relay, "frames": {}, "ok": {},
                             "post": {}, "waiters": {}})
                say(f"{name}: relay pid {relay.proc.pid} on {relay.url}")

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            for a in arms:
                relay = a["relay"]
                async with http.post(relay.url + "/v1/conversations", json={"visitor_name": "stages"}) as r:
                    assert r.status == 201, await r.text()
                    a["conv"] = conv = await r.json()
                a["channel"] = channel_of(relay, a["store"], conv["conversation_id"], redis)
                a["ws"], _ = await widget_client.open_ws(http, widget_client.ws_url(relay.url, conv))

            async def reader(a: dict) -> None:
                async for msg in a["ws"]:
                    t = time.perf_counter_ns()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    frame = json.loads(msg.data)
                    if frame.get("type") == "ping":
                        await a["ws"].send_str('{"type":"pong"}')
                        continue
                    mid = ((frame.get("event") or {}).get("message") or {}).get("id")
                    if mid and mid not in a["frames"]:
                        a["frames"][mid] = t
                        waiter = a["waiters"].pop(mid, None)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)
            readers = [asyncio.create_task(reader(a)) for a in arms]
            ids = itertools.count(1)

            async def one(a: dict, record: bool) -> None:
                mid = next(ids)
                key = f"odoo:{mid}"
                raw = webhook_body("livechat.message.created", a["channel"], database="demo",
                                   message=operator_message(mid, f"stage {mid}"))
                headers = signing.headers_for([SECRET], new_webhook_id(), raw)
                waiter = a["waiters"][key] = asyncio.get_running_loop().create_future()
                t0 = time.perf_counter_ns()
                async with http.post(a["relay"].url + HOOK_PATH, data=raw, headers=headers) as resp:
                    await resp.read()
                    t_ok = time.perf_counter_ns()
                    assert resp.status == 200, (resp.status, await resp.text())
                await asyncio.wait_for(waiter, 5)
                if record:
                    a["post"][key], a["ok"][key] = t0, t_ok

            say(f"warm-up: 20 webhooks per arm; then {args.n} rounds, one webhook per arm each "
                f"(order rotating), {args.pause_ms:g} ms pause ± half")
            for i in range(20):
                for a in arms:
                    await one(a, False)
            for i in range(args.n):
                order = arms[i % len(arms):] + arms[:i % len(arms)]
                for a in order:
                    await one(a, True)
                    await asyncio.sleep(random.uniform(0.5, 1.5) * args.pause_ms / 1000)
                if (i + 1) % 100 == 0:
                    say(f"  {i + 1}/{args.n}")
            for t in readers:
                t.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            for a in arms:
                await a["ws"].close()
    finally:
        for a in arms:
            a["relay"].stop()
        if redis is not None:
            redis.stop()
    info["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]

    report = {"machine": info, "n": args.n, "pause_ms": args.pause_ms, "arms": {}}
    for a in arms:
        path = a["relay"].workdir / "stages.json"
        relay_side = json.loads(path.read_text()) if path.exists() else {}
        rows = []
        for key, t0 in a["post"].items():
            rec = dict(relay_side.get(key, {}))
            rec.update(post=t0, ok=a["ok"][key], frame=a["frames"].get(key))
            rec["seq"] = rec.get("op1", rec.get("store1"))
            rows.append(rec)
        stages = {}
        for name, start, end in STAGES + TOTALS:
            values = [(r[end] - r[start]) / 1000 for r in rows if r.get(start) and r.get(end)]
            if values:
                stages[name] = {"n": len(values), "p50_us": round(pct(values, 50), 1),
                                "p95_us": round(pct(values, 95), 1)}
        report["arms"][a["name"]] = {
            "store": a["store"], "arm": a["arm"], "samples": len(rows), "stages": stages,
            "published_before_commit": sum(1 for r in rows if r.get("early")),
            "written_by_pump": sum(1 for r in rows if r.get("frame") and not r.get("write1")),
            "frame_before_2xx": sum(1 for r in rows if r.get("frame") and r["frame"] < r["ok"]),
        }
    return report


def channel_of(relay, store: str, conversation_id: str, redis) -> int:
    if store == "redis":
        import redis as redislib
        client = redislib.Redis(port=redis.port)
        try:
            prefix = relay.env["RELAY_STORE"].split("prefix=")[1]
            return int(client.hget(f"{prefix}:conv:{conversation_id}", "odoo_channel_id"))
        finally:
            client.close()
    db = sqlite3.connect(relay.db)
    try:
        return db.execute("SELECT odoo_channel_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    finally:
        db.close()


def table(report: dict) -> str:
    names = list(report["arms"])
    width = max(len(s[0]) for s in STAGES + TOTALS) + 2
    head = f"{'stage (µs, p50 / p95)':<{width}}" + "".join(f"{n:>22}" for n in names)
    lines = [head, "-" * len(head)]
    for group in (STAGES, TOTALS):
        for name, _, _ in group:
            cells = []
            for n in names:
                s = report["arms"][n]["stages"].get(name)
                cells.append(f"{s['p50_us']:>10.1f} / {s['p95_us']:<9.1f}" if s else f"{'–':>22}")
            if any(c.strip() != "–" for c in cells):
                lines.append(f"{name:<{width}}" + "".join(cells))
        lines.append("-" * len(head))
    for n in names:
        a = report["arms"][n]
        lines.append(f"{n}: {a['samples']} samples, published before the commit {a['published_before_commit']}, "
                     f"frame read before the 2xx {a['frame_before_2xx']}, written by the pump (not the "
                     f"direct path) {a['written_by_pump']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_stages", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=300, help="rounds (one webhook per arm each); default 300")
    p.add_argument("--stores", default="sqlite,redis", help="comma-separated: sqlite,redis")
    p.add_argument("--arms", default=",".join(ARMS), help="comma-separated: after_commit,early")
    p.add_argument("--pause-ms", type=float, default=20.0, help="pause after each webhook (± half); default 20")
    p.add_argument("--out", default="benchmarks/out", help="directory for the JSON figures")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)   # the instrumented relay
    args = p.parse_args(argv)
    if args.serve:
        return serve()
    args.stores = [s for s in args.stores.split(",") if s]
    args.arms = [a for a in args.arms.split(",") if a]
    if set(args.stores) - set(STORES) or set(args.arms) - set(ARMS):
        p.error(f"--stores among {', '.join(STORES)}; --arms among {', '.join(ARMS)}")
    report = asyncio.run(run(args))
    m = report["machine"]
    print()
    print(f"machine: {m['cpu_model']}, {m['cores']} cores, Python {m['python']}, aiohttp {m['aiohttp']}, "
          f"load average {m['loadavg_at_start']} → {m['loadavg_at_end']}")
    print(f"one webhook at a time, {report['n']} per arm, arms interleaved; relay-side stamps + client stamps")
    print(table(report))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_stages-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
