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
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.bench_addon import machine, say, summary
from tests.odoo.test_addon_live import relay_for_addon
from tests.relayproc import RelayProcess
from tools.odoo_client import Odoo

MODES = ("webhook", "bus", "poll", "batch")


async def measure(odoo: Odoo, relay: RelayProcess, n: int, mode: str, spread: float) -> dict:
    relay_url = relay.url
    latencies, rpc = [], []
    async with aiohttp.ClientSession() as http:
        async with http.post(relay_url + "/v1/conversations", json={"visitor_name": f"Bench {mode}"}) as resp:
            assert resp.status == 201, await resp.text()
            conv = await resp.json()
        ws_url = relay_url.replace("http", "ws", 1) + \
            f"/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}&after=0"
        channel_id = channel_of(relay, conv)
        async with http.ws_connect(ws_url) as ws:
            await asyncio.sleep(2.0)                     # the bus follower subscribes; the first poll runs
            for i in range(n):
                # a random phase against the poll interval: each reply waits for its arrival first, so a
                # fixed pause would always land at the same point of the poller's cycle
                await asyncio.sleep(random.uniform(0.2, 0.8) + random.uniform(0, spread))
                t0 = time.perf_counter()
                message_id = await asyncio.to_thread(odoo.operator_reply, channel_id, f"<p>bench {mode} {i}</p>")
                rpc.append((time.perf_counter() - t0) * 1000)
                while True:
                    frame = await ws.receive_json(timeout=30)
                    event = frame.get("event") or {}
                    if frame.get("type") == "ping":
                        await ws.send_json({"type": "pong"})
                    if event.get("type") == "message" and event["message"]["id"] == f"odoo:{message_id}":
                        latencies.append((time.perf_counter() - t0) * 1000)
                        break
                if (i + 1) % 10 == 0:
                    say(f"  {mode}: {i + 1}/{n}")
        async with http.post(relay_url + f"/v1/conversations/{conv['conversation_id']}/close",
                             headers={"Authorization": "Bearer " + conv["token"]}) as resp:
            await resp.read()
    return {"event_ms": summary(latencies), "message_post_ms": summary(rpc)}


def channel_of(relay: RelayProcess, conv: dict) -> int:
    """The Odoo session the relay opened for this conversation (from the relay's store)."""
    db = sqlite3.connect(relay.db)
    try:
        return db.execute("SELECT odoo_channel_id FROM conversations WHERE id = ?", (conv["conversation_id"],)).fetchone()[0]
    finally:
        db.close()


def run_mode(odoo: Odoo, mode: str, n: int, poll_interval: float, workdir: Path) -> dict:
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel),
           "RELAY_ODOO_REPLIES": "poll" if mode == "batch" else mode, "RELAY_ODOO_POLL_INTERVAL": str(poll_interval)}
    if mode == "batch":
        env.update(RELAY_ODOO_LOGIN=odoo.login, RELAY_ODOO_PASSWORD=odoo.password)
    odoo.operator_online()
    with relay_for_addon(odoo, workdir / mode, env, enabled=mode == "webhook") as relay:
        spread = poll_interval if mode in ("poll", "batch") else 0.0
        return asyncio.run(measure(odoo, relay, n, mode, spread))


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
    args = p.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if any(m not in MODES for m in modes):
        p.error(f"--modes: choose among {', '.join(MODES)}")
    odoo = Odoo(args.odoo, args.db, args.login, args.password, args.livechat_channel).start()
    say(f"Odoo {odoo.version} at {odoo.url} ({args.db}); {args.n} replies per mode; poll interval {args.poll_interval:g} s")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-modes-") as tmp:
        for mode in modes:
            (Path(tmp) / mode).mkdir()
            say(f"mode {mode}")
            results[mode] = run_mode(odoo, mode, args.n, args.poll_interval, Path(tmp))
    print(f"\nOperator message_post started → event on the relay's WebSocket, Odoo {odoo.version}, ms")
    print(f"{'mode':<8} {'n':>4} {'p50':>8} {'p95':>8} {'max':>8}   message_post p50")
    for mode, r in results.items():
        e, m = r["event_ms"], r["message_post_ms"]
        print(f"{mode:<8} {e['n']:>4} {e['p50']:>8.1f} {e['p95']:>8.1f} {e['max']:>8.1f}   {m['p50']:.1f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_odoo_modes-{odoo.version}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"odoo": odoo.version, "db": args.db, "n": args.n, "poll_interval": args.poll_interval,
                                "machine": machine(), "results": results}, indent=2))
    say(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
