"""Hundreds of open conversations on a real Odoo, without the addon: what it costs at rest and how
fast replies to random conversations arrive, in ``bus`` and in ``poll`` with credentials (batch).

    python -m benchmarks.bench_odoo_scale --odoo http://127.0.0.1:8169 --db rig19 --odoo-pid PID
           [--sizes 300,1000] [--modes bus,batch] [--replies 30] [--poll-interval 3] [--out benchmarks/out]

For each mode and size a relay process is started (the addon's endpoint switched off), SIZE
conversations are opened through it (8 at a time, the operator kept online) and left open. Once
/healthz says every one is followed the way under test, at rest for 10 s: the relay's RSS and CPU
(``/proc``), Odoo's thread count (``--odoo-pid``: the Odoo server process) and the relay's TCP
connections to Odoo. Then REPLIES operator replies, each to a random open conversation, each after a
random pause within the poll interval (so replies land at random points of the poller's cycle): a
WebSocket to that conversation is opened first, then t0, the operator's ``message_post`` by JSON-RPC,
then the time the relay's frame with that message is read. The conversations are closed at the end.
A threaded Odoo (``workers = 0``) runs one thread per bus socket and checks its *virtual* memory
against ``limit_memory_soft`` (2 GiB by default): each thread's stack counts, so past about 200
sockets it reloads itself. Raise that limit on the Odoo under test for the bus arm at these sizes
(an Odoo with workers serves sockets on its gevent port instead, where they are cheap). Nothing is
mocked. Figures go to ``--out/bench_odoo_scale-<date>.json``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
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

MODES = ("bus", "batch")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK          # utime + stime


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def connections_to(pid: int, port: int) -> int:
    """Established TCP connections of ``pid`` to ``port`` (its sockets' inodes matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            remote_port = int(parts[2].rsplit(":", 1)[1], 16)
            if parts[3] == "01" and remote_port == port and parts[9] in inodes:
                count += 1
    return count


def channel_of(relay: RelayProcess, conversation_id: str) -> int:
    db = sqlite3.connect(relay.db)
    try:
        return db.execute("SELECT odoo_channel_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    finally:
        db.close()


async def open_conversations(http: aiohttp.ClientSession, relay: RelayProcess, odoo: Odoo, size: int) -> list[dict]:
    convs: list[dict] = []
    gate = asyncio.Semaphore(8)
    presence = [time.monotonic()]

    async def one(n: int) -> None:
        async with gate:
            if time.monotonic() - presence[0] > 20:
                presence[0] = time.monotonic()
                await asyncio.to_thread(odoo.operator_online)
            async with http.post(relay.url + "/v1/conversations", json={"visitor_name": f"Scale {n}"}) as resp:
                assert resp.status == 201, await resp.text()
                convs.append(await resp.json())
            if len(convs) % 100 == 0:
                say(f"  {len(convs)}/{size} open")
    await asyncio.gather(*(one(n) for n in range(size)))
    return convs


async def settle(http: aiohttp.ClientSession, relay: RelayProcess, mode: str, size: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        async with http.get(relay.url + "/healthz") as resp:
            body = await resp.json()
        following = body.get("odoo", {}).get("following", {})
        done = following.get("bus", 0) + following.get("poll", 0) if mode == "bus" else following.get("batch", 0)
        if done >= size and (mode != "bus" or following.get("bus", 0) + body["odoo"].get("polled_past_bus_max", 0) >= size):
            return body
        if time.monotonic() > deadline:
            say(f"  not settled after {timeout}s: {following}")
            return body
        await asyncio.sleep(1)


async def measure(odoo: Odoo, relay: RelayProcess, mode: str, size: int, replies: int, spread: float,
                  odoo_pid: int | None, odoo_port: int) -> dict:
    out: dict = {"mode": mode, "size": size}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        started = time.monotonic()
        convs = await open_conversations(http, relay, odoo, size)
        out["open_s"] = round(time.monotonic() - started, 1)
        health = await settle(http, relay, mode, size, 180)
        out["following"] = health.get("odoo", {}).get("following")
        await asyncio.sleep(5)
        pid = relay.proc.pid
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(10)
        out["relay_cpu_pct_at_rest"] = round(100 * (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0), 2)
        out["relay_rss_mib"] = round(status_field(pid, "VmRSS") / 1024, 1)
        out["relay_connections_to_odoo"] = connections_to(pid, odoo_port)
        if odoo_pid:
            out["odoo_threads"] = status_field(odoo_pid, "Threads")
            out["odoo_rss_mib"] = round(status_field(odoo_pid, "VmRSS") / 1024, 1)
        latencies, posts, lost = [], [], 0
        for i in range(replies):
            conv = random.choice(convs)
            await asyncio.sleep(random.uniform(0.2, 0.5) + random.uniform(0, spread))
            channel = channel_of(relay, conv["conversation_id"])
            ws_url = relay.ws_url + f"/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}"
            async with http.get(relay.url + f"/v1/conversations/{conv['conversation_id']}/events?after=0",
                                headers={"Authorization": "Bearer " + conv["token"]}) as resp:
                after = (await resp.json())["last_seq"]
            async with http.ws_connect(ws_url + f"&after={after}") as ws:
                await ws.receive_json(timeout=10)                              # hello
                t = time.perf_counter()
                message_id = await asyncio.to_thread(odoo.operator_reply, channel, f"<p>scale {mode} {i}</p>")
                posts.append((time.perf_counter() - t) * 1000)
                try:
                    while True:
                        frame = await ws.receive_json(timeout=30)
                        if frame.get("type") == "ping":
                            await ws.send_json({"type": "pong"})
                        event = frame.get("event") or {}
                        if event.get("type") == "message" and event["message"]["id"] == f"odoo:{message_id}":
                            latencies.append((time.perf_counter() - t) * 1000)
                            break
                except (asyncio.TimeoutError, TypeError):
                    lost += 1
            if (i + 1) % 10 == 0:
                say(f"  {mode} {size}: {i + 1}/{replies} replies")
        out.update(reply_ms=summary(latencies), message_post_ms=summary(posts), lost=lost)
        gate = asyncio.Semaphore(8)

        async def close(conv):
            async with gate:
                async with http.post(relay.url + f"/v1/conversations/{conv['conversation_id']}/close",
                                     headers={"Authorization": "Bearer " + conv["token"]}) as resp:
                    await resp.read()
        await asyncio.gather(*(close(c) for c in convs))
    return out


def run(odoo: Odoo, mode: str, size: int, args, workdir: Path) -> dict:
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel),
           "RELAY_ODOO_REPLIES": "poll" if mode == "batch" else mode, "RELAY_ODOO_POLL_INTERVAL": str(args.poll_interval),
           "RELAY_LOG_LEVEL": "warning", "RELAY_ODOO_BUS_MAX": str(args.bus_max)}
    if mode == "batch":
        env.update(RELAY_ODOO_LOGIN=odoo.login, RELAY_ODOO_PASSWORD=odoo.password)
    odoo.operator_online()
    (workdir / f"{mode}-{size}").mkdir(parents=True, exist_ok=True)
    with relay_for_addon(odoo, workdir / f"{mode}-{size}", env, enabled=False) as relay:
        spread = args.poll_interval if mode == "batch" else 0.0
        port = int(odoo.url.rsplit(":", 1)[1]) if odoo.url.count(":") == 2 else 80
        return asyncio.run(measure(odoo, relay, mode, size, args.replies, spread, args.odoo_pid, port))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_odoo_scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--odoo", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--login", default="admin")
    p.add_argument("--password", default="admin")
    p.add_argument("--livechat-channel", type=int, default=1)
    p.add_argument("--odoo-pid", type=int, help="the Odoo server's pid, for its thread count")
    p.add_argument("--sizes", default="300,1000")
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--replies", type=int, default=30)
    p.add_argument("--bus-max", type=int, default=5000, help="RELAY_ODOO_BUS_MAX for the bus arm (default: no cap in reach)")
    p.add_argument("--poll-interval", type=float, default=3.0)
    p.add_argument("--out", default="benchmarks/out")
    args = p.parse_args(argv)
    odoo = Odoo(args.odoo, args.db, args.login, args.password, args.livechat_channel).start()
    info = machine()
    say(f"machine: {info}\nodoo {odoo.version} at {odoo.url}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            for mode in args.modes.split(","):
                say(f"{mode}, {size} open conversations")
                results.append(run(odoo, mode, size, args, Path(tmp)))
                say("  " + json.dumps(results[-1]))
    say(f"\nodoo {odoo.version}, poll interval {args.poll_interval}s, {args.replies} replies to random conversations")
    say("| mode | open | relay RSS MiB | relay CPU at rest | conns relay→Odoo | Odoo threads | reply p50 / p95 ms | lost |")
    say("|---|---|---|---|---|---|---|---|")
    for r in results:
        lat = r["reply_ms"]
        say(f"| {r['mode']} | {r['size']} | {r['relay_rss_mib']} | {r['relay_cpu_pct_at_rest']} % | "
            f"{r['relay_connections_to_odoo']} | {r.get('odoo_threads', '–')} | "
            f"{lat['p50']:.1f} / {lat['p95']:.1f} | {r['lost']} |" if lat.get("n") else f"– | {r['lost']} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench_odoo_scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": info, "odoo": odoo.version, "results": results}, indent=2))
    say(f"figures: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
