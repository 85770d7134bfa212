"""Several relay nodes on one Redis: webhook → WebSocket latency across nodes, and fan-out.

    python -m benchmarks.bench_cluster [--nodes 1,2,3] [--quick] [--out benchmarks/out]

For each node count N it starts N relay processes (``RELAY_STORE=redis://127.0.0.1:6379/0`` with
a fresh key prefix, deleted afterwards) and measures, with the same client code as
``bench_relay``:

- **latency**: 20 conversations; conversation i's WebSocket is on node (i+1) mod N and its webhooks
  go to node i mod N, so with N > 1 every event crosses nodes (store on one, Redis pub/sub, frame out
  on another). Open-loop rates, at most one webhook in flight per conversation (as the addon sends).
- **fan-out**: 100 WebSockets on one conversation, spread evenly over the nodes and read by one
  ``benchmarks.frame_reader`` process per node; 1,000 webhooks posted to node 0.

Everything shares the machine's cores: the N relays, Redis, the readers and this client.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import time
from pathlib import Path

import aiohttp
import redis

from benchmarks import frame_reader
from benchmarks.bench_relay import HOOK_PATH, machine, ms, open_ws, pct, proc_cpu_s, raise_nofile, run_rate, say, \
    signed, ws_url
from tests import redisproc
from tests.relayproc import RelayProcess

QUICK = dict(rates=(100, 300), seconds=2.0, conversations=20, fanout_sockets=30, fanout_events=200)
FULL = dict(rates=(100, 300, 500), seconds=5.0, conversations=20, fanout_sockets=100, fanout_events=1000)


def start_nodes(n: int, prefix: str, workdir: Path) -> list[RelayProcess]:
    nodes = []
    for i in range(n):
        d = workdir / f"n{n}-{i}"
        d.mkdir(parents=True, exist_ok=True)
        nodes.append(RelayProcess(d, env={"RELAY_STORE": redisproc.shared_url(prefix),
                                          "RELAY_MAX_WS_PER_CONVERSATION": "100000"}).start())
    say(f"{n} node(s): pids {[p.proc.pid for p in nodes]}, Redis prefix {prefix}")
    return nodes


async def create(http: aiohttp.ClientSession, node: RelayProcess, prefix: str) -> dict:
    async with http.post(node.url + "/v1/conversations", json={"visitor_name": "bench"}) as r:
        conv = json.loads(await r.text())
    r = redis.Redis(port=redisproc.SHARED_PORT, decode_responses=True)
    conv["channel"] = int(r.hget(f"{prefix}:conv:{conv['conversation_id']}", "odoo_channel_id"))
    r.close()
    return conv


async def bench_latency(nodes: list[RelayProcess], prefix: str, cfg: dict) -> list[dict]:
    n = len(nodes)
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    dup = [0]
    ids = itertools.count(1)
    out = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as wsh, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=cfg["conversations"] + 8)) as http:
        convs = [await create(http, nodes[i % n], prefix) for i in range(cfg["conversations"])]
        sockets = [await open_ws(wsh, nodes[(i + 1) % n], c) for i, c in enumerate(convs)]

        async def read(ws) -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return
                frame = json.loads(msg.data)
                if frame.get("type") != "event":
                    continue
                mid = int(frame["event"]["message"]["text"].split(":")[1])
                if mid in got:
                    dup[0] += 1
                else:
                    got[mid] = time.time() - sent[mid]
        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        # run_rate posts to one relay: each conversation gets its own run_rate, on its own node
        try:
            for rate in cfg["rates"]:
                per = rate / len(convs)
                before = len(got)
                runs = await asyncio.gather(*(run_rate(http, nodes[i % n], [c], ids, sent, per, cfg["seconds"])
                                              for i, c in enumerate(convs)))
                await asyncio.sleep(1.0)
                accepted = [m for r in runs for m in r["accepted_ids"]]
                lat = sorted(got[m] for m in accepted if m in got)
                r = {"nodes": n, "rate": rate, "accepted": len(accepted),
                     "achieved_per_s": round(sum(x["achieved_per_s"] for x in runs), 1),
                     "lost": len([m for m in accepted if m not in got]), "duplicates": dup[0],
                     "p50_ms": pct(lat, 50) and round(pct(lat, 50) * 1000, 1),
                     "p95_ms": pct(lat, 95) and round(pct(lat, 95) * 1000, 1),
                     "p99_ms": pct(lat, 99) and round(pct(lat, 99) * 1000, 1)}
                say(f"  latency, {n} node(s), {rate}/s asked: {r['achieved_per_s']}/s, p50 {ms(pct(lat, 50))} "
                    f"p95 {ms(pct(lat, 95))} p99 {ms(pct(lat, 99))}, lost {r['lost']}, duplicates {r['duplicates']}"
                    f" ({len(got) - before} frames)")
                out.append(r)
        finally:
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*readers, return_exceptions=True)
    return out


async def bench_fanout(nodes: list[RelayProcess], prefix: str, cfg: dict) -> dict:
    n, m, k = len(nodes), cfg["fanout_sockets"], cfg["fanout_events"]
    ctx = multiprocessing.get_context("spawn")
    results, stop, close = ctx.Queue(), ctx.Event(), ctx.Event()
    procs = []
    loop = asyncio.get_running_loop()

    def collect(kind: str, n: int, timeout: float) -> dict[int, dict]:
        return frame_reader.collect(results, kind, n, timeout)

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as http:
            conv = await create(http, nodes[0], prefix)
            path = ws_url(nodes[0], conv)[len(nodes[0].ws_url):]
            for i, node in enumerate(nodes):
                share = m // n + (1 if i < m % n else 0)
                p = ctx.Process(target=frame_reader.run, daemon=True,
                                args=(i, "127.0.0.1", node.port, path, share, k, results, stop, close, 0.005))
                p.start()
                procs.append(p)
            if len(await loop.run_in_executor(None, collect, "ready", n, 120.0)) < n:
                raise RuntimeError("frame readers not ready")
            bodies = iter([signed(conv, 2_000_000 + i, f"bench:{i}:fanout") for i in range(k)])
            first = [0.0]
            cpu0 = [proc_cpu_s(p.proc.pid) for p in nodes]
            w0 = time.perf_counter()

            async def poster() -> None:
                for raw, headers in bodies:
                    first[0] = first[0] or time.time()
                    async with http.post(nodes[0].url + HOOK_PATH, data=raw, headers=headers) as resp:
                        await resp.read()
            await asyncio.gather(*(poster() for _ in range(32)))
            done = await loop.run_in_executor(None, collect, "done", n, 120.0)
            wall = time.perf_counter() - w0
            cpu = [round(100 * (proc_cpu_s(p.proc.pid) - c) / wall, 1) for p, c in zip(nodes, cpu0)]
            counts = [c for i in sorted(done) for c in done[i]["counts"]]
            total = sum(counts)
            elapsed = max(max(d["last_frame"] for d in done.values()) - first[0], 1e-9)
            r = {"nodes": n, "sockets": m, "webhooks": k, "frames_expected": m * k, "frames_received": total,
                 "lost": m * k - total, "frames_per_s": round(total / elapsed, 1), "elapsed_s": round(elapsed, 2),
                 "relay_cpu_pct": cpu}
            say(f"  fan-out, {n} node(s): {total}/{m * k} frames in {elapsed:.2f} s = {r['frames_per_s']:.0f} frames/s, "
                f"lost {r['lost']}; relay CPU {cpu}%")
            return r
    finally:
        close.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()


async def main_async(args) -> dict:
    cfg = QUICK if args.quick else FULL
    raise_nofile()
    report = {"machine": machine(), "config": cfg, "runs": []}
    say(f"machine: {report['machine']}")
    workdir = Path(args.out).resolve() / "cluster-work"
    for n in [int(x) for x in args.nodes.split(",")]:
        prefix = redisproc.new_prefix()
        nodes = start_nodes(n, prefix, workdir)
        try:
            run = {"nodes": n, "latency": await bench_latency(nodes, prefix, cfg),
                   "fanout": await bench_fanout(nodes, prefix, cfg)}
            report["runs"].append(run)
        finally:
            for node in nodes:
                node.stop()
            redisproc.delete_prefix(prefix)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", default="1,2,3", help="comma-separated node counts")
    p.add_argument("--quick", action="store_true", help="small numbers: a smoke run")
    p.add_argument("--out", default="benchmarks/out")
    args = p.parse_args(argv)
    report = asyncio.run(main_async(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"cluster-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    say(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
