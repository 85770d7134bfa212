"""Operator reply → event at the relay, for each way replies come back, on a real Odoo.

    python -m benchmarks.bench_odoo_modes --odoo http://127.0.0.1:8018 --db relay18 [--n 30]
           [--modes webhook,bus,poll,batch] [--poll-interval 3] [--out benchmarks/out]

For each mode a relay process is started against that Odoo (``RELAY_ODOO_REPLIES`` = the mode;
``batch`` is ``poll`` with ``RELAY_ODOO_LOGIN``/``RELAY_ODOO_PASSWORD``), the addon's endpoint is
pointed at it (``webhook``) or switched off (the others), one conversation is opened through the
relay and a WebSocket listens to it. N times, after a random pause of 0.2–0.8 s: t0, the operator's
``message_post`` by JSON-RPC (which returns once Odoo has committed), then the time at which the
relay's WebSocket frame with that message arrived (loopback: the relay's own event time plus well
under a millisecond). Figures are from t0, so they include ``message_post`` itself; its own
duration is printed beside them. The addon's settings are restored at the end. Nothing is mocked.

The native arm (``--no-native`` to leave it out): beside the relay's WebSocket, the visitor's own
Odoo bus WebSocket — what Odoo's livechat widget opens: ``/websocket`` with the loader's
``?version=``, Origin, no User-Agent, subscribed to ``mail.guest_<token>`` with the very guest token
of the relay's session — waits for the same message (``discuss.channel/new_message``). Both arms
see every reply, so the pairing is exact: ``relay − native`` per message.

``--arms early,after_commit``: each mode once per arm, the relay started as ``python -m
benchmarks.bench_stages --serve`` (the relay with ``Relay.publish_early`` set for that arm: live
sockets get an event once it has its seq, or once it is durable, the former way; its per-stage
stamps are kept in the JSON). Without ``--arms``: ``python -m proxy`` as it is.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import re

import aiohttp

from benchmarks.bench_addon import machine, new_message_ids, say, summary
from tests.odoo.test_addon_live import endpoint, relay_for_addon
from tests.relayproc import RelayProcess
from tools.odoo_client import Odoo

MODES = ("webhook", "bus", "poll", "batch")


WORKER_VERSION = re.compile(r'websocket_worker_version["\']?\s*[:=]\s*["\']([^"\']+)["\']')


class NativeBus:
    """The visitor's own bus socket, as Odoo's livechat widget opens it; new_message arrival times."""

    def __init__(self, odoo: Odoo, guest_token: str):
        self.odoo, self.token = odoo, guest_token
        self.arrivals: dict[int, float] = {}
        self.waiters: dict[int, asyncio.Future] = {}
        self.http = aiohttp.ClientSession(skip_auto_headers=("User-Agent",), cookie_jar=aiohttp.DummyCookieJar())
        self.ws = self.task = None

    async def open(self) -> None:
        async with self.http.get(f"{self.odoo.url}/im_livechat/loader/{self.odoo.livechat_channel}") as r:
            found = WORKER_VERSION.search(await r.text())
        url = self.odoo.url.replace("http", "ws", 1) + "/websocket" + (f"?version={found.group(1)}" if found else "")
        self.ws = await self.http.ws_connect(url, headers={"Origin": self.odoo.url}, compress=0, heartbeat=None)
        await self.ws.send_str(json.dumps({"event_name": "subscribe",
                                           "data": {"channels": [f"mail.guest_{self.token}"], "last": 0}}))
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            t = time.perf_counter()
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            for note in json.loads(msg.data):
                m = note.get("message", {})
                if m.get("type") == "discuss.channel/new_message":
                    for mid in new_message_ids(m.get("payload") or {}):
                        self.arrivals.setdefault(mid, t)
                        waiter = self.waiters.pop(mid, None)
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)

    async def wait(self, mid: int, timeout: float) -> float | None:
        if mid not in self.arrivals:
            waiter = self.waiters.setdefault(mid, asyncio.get_running_loop().create_future())
            try:
                await asyncio.wait_for(waiter, timeout)
            except asyncio.TimeoutError:
                return None
        return self.arrivals[mid]

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.ws is not None:
            await self.ws.close()
        await self.http.close()


async def measure(odoo: Odoo, relay: RelayProcess, n: int, mode: str, spread: float, native: bool = True) -> dict:
    relay_url = relay.url
    latencies, rpc, natives, paired, starts, missing = [], [], [], [], [], []
    bus = None
    async with aiohttp.ClientSession() as http:
        async with http.post(relay_url + "/v1/conversations", json={"visitor_name": f"Bench {mode}"}) as resp:
            assert resp.status == 201, await resp.text()
            conv = await resp.json()
        ws_url = relay_url.replace("http", "ws", 1) + \
            f"/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}&after=0"
        channel_id = channel_of(relay, conv)
        if native:
            bus = NativeBus(odoo, guest_token_of(relay, conv))
            await bus.open()
        async with http.ws_connect(ws_url) as ws:
            await asyncio.sleep(2.0)                     # the bus follower subscribes; the first poll runs
            for i in range(n):
                # a random phase against the poll interval: each reply waits for its arrival first, so a
                # fixed pause would always land at the same point of the poller's cycle
                await asyncio.sleep(random.uniform(0.2, 0.8) + random.uniform(0, spread))
                t0 = time.perf_counter()
                message_id = await asyncio.to_thread(odoo.operator_reply, channel_id, f"<p>bench {mode} {i}</p>")
                rpc.append((time.perf_counter() - t0) * 1000)
                deadline = time.perf_counter() + 15
                t_relay = None
                while time.perf_counter() < deadline:
                    # another run on the same Odoo may point the addon's one endpoint elsewhere
                    # meanwhile: a message that never comes is counted missing, not waited for
                    try:
                        frame = await ws.receive_json(timeout=max(0.1, deadline - time.perf_counter()))
                    except asyncio.TimeoutError:
                        break
                    event = frame.get("event") or {}
                    if frame.get("type") == "ping":
                        await ws.send_json({"type": "pong"})
                    if event.get("type") == "message" and event["message"]["id"] == f"odoo:{message_id}":
                        t_relay = time.perf_counter()
                        break
                if t_relay is None:
                    missing.append(message_id)
                    say(f"  {mode}: message {message_id} never reached the relay's WebSocket (counted missing)")
                    rpc.pop()
                    continue
                starts.append((message_id, int(t0 * 1e9)))
                latencies.append((t_relay - t0) * 1000)
                if bus is not None:
                    t_native = await bus.wait(message_id, 10)
                    natives.append(None if t_native is None else (t_native - t0) * 1000)
                    paired.append(None if t_native is None else (t_relay - t_native) * 1000)
                if (i + 1) % 10 == 0:
                    say(f"  {mode}: {i + 1}/{n}")
        async with http.post(relay_url + f"/v1/conversations/{conv['conversation_id']}/close",
                             headers={"Authorization": "Bearer " + conv["token"]}) as resp:
            await resp.read()
    if bus is not None:
        await bus.close()
    out = {"event_ms": summary(latencies), "message_post_ms": summary(rpc), "missing": missing}
    if bus is not None:
        out.update(native_ms=summary(natives), relay_minus_native_ms=summary(paired),
                   samples=[{"message_id": s[0], "t0_ns": s[1], "relay_ms": r, "native_ms": nv, "message_post_ms": m}
                            for s, r, nv, m in zip(starts, latencies, natives, rpc)])
    return out


def guest_token_of(relay: RelayProcess, conv: dict) -> str:
    db = sqlite3.connect(relay.db)
    try:
        raw = db.execute("SELECT upstream FROM conversations WHERE id = ?", (conv["conversation_id"],)).fetchone()[0]
        return json.loads(raw)["guest_token"]
    finally:
        db.close()


def channel_of(relay: RelayProcess, conv: dict) -> int:
    """The Odoo session the relay opened for this conversation (from the relay's store)."""
    db = sqlite3.connect(relay.db)
    try:
        return db.execute("SELECT odoo_channel_id FROM conversations WHERE id = ?", (conv["conversation_id"],)).fetchone()[0]
    finally:
        db.close()


@contextlib.contextmanager
def relay_for_addon_arm(odoo: Odoo, workdir: Path, env: dict, enabled: bool, arm: str):
    """``relay_for_addon`` with the relay of ``benchmarks.bench_stages --serve`` for that arm."""
    before = endpoint(odoo)
    relay = RelayProcess(workdir, env={"RELAY_WEBHOOK_SECRET": before["secret"], **env, "BENCH_STAGES_ARM": arm,
                                       "BENCH_STAGES_OUT": str(workdir / "stages.json")})
    relay.command = ["-m", "benchmarks.bench_stages", "--serve"]
    relay.start()
    odoo.execute("livechat.webhook.endpoint", "write", [[before["id"]], {
        "url": relay.url + "/v1/webhooks/odoo", "enabled": enabled}])
    try:
        yield relay
    finally:
        odoo.execute("livechat.webhook.endpoint", "write", [[before["id"]], {
            "url": before["url"] or False, "enabled": before["enabled"]}])
        relay.stop()


def run_mode(odoo: Odoo, mode: str, n: int, poll_interval: float, workdir: Path, native: bool = True,
             arm: str | None = None) -> dict:
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel),
           "RELAY_ODOO_REPLIES": "poll" if mode == "batch" else mode, "RELAY_ODOO_POLL_INTERVAL": str(poll_interval)}
    if mode == "batch":
        env.update(RELAY_ODOO_LOGIN=odoo.login, RELAY_ODOO_PASSWORD=odoo.password)
    odoo.operator_online()
    wired = relay_for_addon(odoo, workdir, env, enabled=mode == "webhook") if arm is None else \
        relay_for_addon_arm(odoo, workdir, env, mode == "webhook", arm)
    with wired as relay:
        spread = poll_interval if mode in ("poll", "batch") else 0.0
        result = asyncio.run(measure(odoo, relay, n, mode, spread, native))
    stages = workdir / "stages.json"
    if stages.exists():
        result["relay_stamps"] = json.loads(stages.read_text())
    return result


# the bus follower's stages (bench_stages.install_bus), from the relay's stamps and the client's
BUS_STAGES = (
    ("message_post started → native frame read", "t0", "native"),
    ("message_post started → bytes at the relay", "t0", "sock"),
    ("native frame read → bytes at the relay (±)", "native", "sock"),
    ("bytes → json.loads (aiohttp reader, ws.receive)", "sock", "loads0"),
    ("json.loads", "loads0", "loads1"),
    ("→ payloads.bus_items", "loads1", "items0"),
    ("payloads.bus_items", "items0", "items1"),
    ("items → Relay.append (earlier items)", "items1", "append0"),
    ("Relay.append → store call", "append0", "store0"),
    ("→ writer thread", "store0", "op0"),
    ("SQL, seq assigned", "op0", "op1"),
    ("seq → hub.publish (back on the loop)", "op1", "pub0"),
    ("hub.publish", "pub0", "pub1"),
    ("publish → socket write", "pub1", "write0"),
    ("socket write", "write0", "write1"),
    ("write → frame read by the visitor", "write1", "frame"),
    ("bytes at the relay → frame read (the relay's part)", "sock", "frame"),
    ("native frame read → relay frame read (paired)", "native", "frame"),
)


def bus_breakdown(result: dict) -> dict:
    stamps, rows = result.get("relay_stamps") or {}, []
    for s in result.get("samples", []):
        rec = dict(stamps.get(f"odoo:{s['message_id']}", {}))
        rec["t0"] = s["t0_ns"]
        rec["frame"] = s["t0_ns"] + int(s["relay_ms"] * 1e6)
        if s.get("native_ms") is not None:
            rec["native"] = s["t0_ns"] + int(s["native_ms"] * 1e6)
        rows.append(rec)
    from tools.measure import pct
    stages = {}
    for name, a, b in BUS_STAGES:
        values = [(r[b] - r[a]) / 1000 for r in rows if r.get(a) and r.get(b)]
        if values:
            stages[name] = {"n": len(values), "p50_us": round(pct(values, 50), 1), "p95_us": round(pct(values, 95), 1)}
    shapes: dict[str, int] = {}
    for r in rows:
        if r.get("frame_types"):
            key = " + ".join(str(t) for t in r["frame_types"])
            shapes[key] = shapes.get(key, 0) + 1
    return {"stages": stages, "frames": shapes,
            "frame_bytes_p50": pct([r["frame_bytes"] for r in rows if r.get("frame_bytes")], 50) if rows else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_odoo_modes", description=__doc__.split("\n\n")[0])
    p.add_argument("--odoo", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--login", default="admin")
    p.add_argument("--password", default="admin")
    p.add_argument("--livechat-channel", type=int, default=1)
    p.add_argument("--n", type=int, default=30)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--poll-interval", type=float, default=3.0)
    p.add_argument("--out", default="benchmarks/out")
    p.add_argument("--arms", default="", help="comma-separated: early,after_commit (each mode once per arm)")
    p.add_argument("--no-native", dest="native", action="store_false",
                   help="leave out the native arm (the visitor's own Odoo bus socket, as Odoo's widget)")
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in MODES for m in modes):
        p.error(f"--modes: choose among {', '.join(MODES)}")
    odoo = Odoo(args.odoo, args.db, args.login, args.password, args.livechat_channel).start()
    say(f"Odoo {odoo.version} at {odoo.url} ({args.db}); {args.n} replies per mode; poll interval {args.poll_interval:g} s")
    results = {}
    arms = [a for a in args.arms.split(",") if a] or [None]
    with tempfile.TemporaryDirectory(prefix="bench-modes-") as tmp:
        for mode in modes:
            for arm in arms:
                name = mode if arm is None else f"{mode}/{arm}"
                (Path(tmp) / name).mkdir(parents=True)
                say(f"mode {name}")
                results[name] = run_mode(odoo, mode, args.n, args.poll_interval, Path(tmp) / name, args.native, arm)
    print(f"\nOperator message_post started → event on the relay's WebSocket, Odoo {odoo.version}, ms")
    print(f"{'mode':<22} {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}   message_post p50")
    for mode, r in results.items():
        e, m = r["event_ms"], r["message_post_ms"]
        print(f"{mode:<22} {e['n']:>4} {e['p50']:>8.1f} {e['p95']:>8.1f} {e['max']:>8.1f}   {m['p50']:.1f}"
              + (f"   ({len(r['missing'])} missing: re-run)" if r.get("missing") else ""))
    if args.native:
        print("\nSame messages, Odoo's own widget path (the visitor's bus socket) beside the relay's, ms")
        print(f"{'mode':<22} {'native p50':>10} {'p95':>7}   {'relay p50':>9} {'p95':>7}   "
              f"{'relay−native p50':>16} {'p95':>7}")
        for mode, r in results.items():
            nv, e, d = r.get("native_ms", {}), r["event_ms"], r.get("relay_minus_native_ms", {})
            if nv.get("n"):
                print(f"{mode:<22} {nv['p50']:>10.1f} {nv['p95']:>7.1f}   {e['p50']:>9.1f} {e['p95']:>7.1f}   "
                      f"{d['p50']:>+16.1f} {d['p95']:>+7.1f}")
    for mode, r in results.items():
        if not mode.startswith("bus") or not r.get("relay_stamps"):
            continue
        r["bus_breakdown"] = b = bus_breakdown(r)
        print(f"\nbus follower, per stage ({mode}), µs p50 / p95")
        for name, st in b["stages"].items():
            print(f"  {name:<52} {st['p50_us']:>9.1f} / {st['p95_us']:<9.1f} (n={st['n']})")
        for shape, count in b["frames"].items():
            print(f"  frame holding the message ({count}×, {b['frame_bytes_p50']} bytes p50): {shape}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_odoo_modes-{odoo.version}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"odoo": odoo.version, "db": args.db, "n": args.n, "poll_interval": args.poll_interval,
                                "machine": machine(), "results": results}, indent=2))
    say(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
