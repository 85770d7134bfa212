"""Relay benchmark: webhook → WebSocket latency, memory per idle WebSocket, fan-out throughput.

    python -m benchmarks.bench_relay [--quick] [--only latency,idle,fanout] [--out benchmarks/out]

Every step starts its own relay process (``tools.relayproc.RelayProcess``: ``python -m proxy`` on a
free loopback port, its own SQLite file in a temporary directory, a known webhook secret), drives it
over real HTTP and WebSocket connections with aiohttp from this process (the fan-out step reads its
sockets from separate processes, ``benchmarks.frame_reader``), and stops it. Nothing is
mocked: webhooks are signed (Standard Webhooks v1), parsed, stored with SQLite ``synchronous=FULL``
and fanned out exactly as in production.

The benchmark client and the relay share the machine (and its cores): the client's own CPU use is
printed next to the relay's so that a client-bound figure is recognisable as such.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import multiprocessing
import resource
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks import frame_reader
from proxy import signing
from tools import widget_client
from tools.measure import machine, open_loop, pct
from tools.relayproc import SECRET, RelayProcess, new_webhook_id, operator_message, webhook_body

T0 = time.perf_counter()
HOOK_PATH = "/v1/webhooks/odoo"
CLK_TCK = os.sysconf("SC_CLK_TCK")

QUICK = dict(rates=(100, 500, 1000), seconds=2.0, conversations=20,
             idle_levels=(200,), fanout_sockets=20, fanout_events=200, fanout_concurrency=16)
FULL = dict(rates=(100, 500, 1000), seconds=5.0, conversations=20,
            idle_levels=(1000, 5000, 10000), fanout_sockets=100, fanout_events=1000, fanout_concurrency=32)
TARGETS = {"latency_p99_ms_at_500": 50.0, "idle_kib_per_conn": 20.0, "fanout_frames_per_s": 50_000.0}


# ---------------------------------------------------------------- small helpers


def say(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


def raise_nofile() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit; relay subprocesses started afterwards inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def proc_status_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu_s(pid: int) -> tuple[float, float]:
    """(main thread, all other threads) CPU seconds of a process: the event loop vs the SQLite thread."""
    main = other = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        if int(task.name) == pid:
            main += cpu
        else:
            other += cpu
    return main, other


def machine_cpu_s() -> dict[str, float]:
    """Machine-wide CPU seconds from /proc/stat (all cores): busy, idle, iowait, steal."""
    f = [int(x) / CLK_TCK for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (f + [0.0] * 8)[:8]
    return {"busy": user + nice + system + irq + softirq, "idle": idle, "iowait": iowait, "steal": steal}


def self_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.1f}"


class BenchRelay(RelayProcess):
    """RelayProcess, optionally run under cProfile (``--profile``); the stats land in ``profile``."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, profile: Path | None = None):
        super().__init__(workdir, env)
        self.profile = profile

    def start(self, timeout: float = 20) -> "BenchRelay":
        if self.profile is not None:
            self.command = ["-m", "cProfile", "-o", str(self.profile), "-m", "proxy"]
        super().start(timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def start_relay(workdir: Path, name: str, env: dict[str, str], args) -> BenchRelay:
    d = workdir / name
    d.mkdir(parents=True, exist_ok=True)
    profile = (Path(args.out) / f"profile-{name}.pstats").resolve() if args.profile else None
    if args.store:
        env = {**env, "RELAY_STORE": args.store}
    relay = BenchRelay(d, {"RELAY_LOG_LEVEL": "warning", **env}, profile=profile).start()
    say(f"{name}: relay pid {relay.pid} on {relay.url}, store {relay.db}")
    return relay


def stop_relay(relay: BenchRelay) -> None:
    relay.stop()
    if relay.profile is not None and relay.profile.exists():
        import io
        import pstats
        buf = io.StringIO()
        pstats.Stats(str(relay.profile), stream=buf).sort_stats("tottime").print_stats(25)
        text_path = relay.profile.with_suffix(".txt")
        text_path.write_text(buf.getvalue())
        say(f"relay profile (main thread only, by tottime) written to {text_path}")


async def create_conversations(http: aiohttp.ClientSession, relay: RelayProcess, n: int,
                               concurrency: int = 16) -> list[dict]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> dict:
        async with sem:
            async with http.post(relay.url + "/v1/conversations", json={"visitor_name": f"bench {i}"}) as r:
                body = await r.text()
                if r.status != 201:
                    raise RuntimeError(f"create conversation: {r.status} {body}")
                return json.loads(body)

    t = time.perf_counter()
    convs = await asyncio.gather(*(one(i) for i in range(n)))
    channels = channels_of(relay, [c["conversation_id"] for c in convs])
    for c in convs:
        c["channel"] = channels[c["conversation_id"]]
    say(f"  {n} conversations created in {time.perf_counter() - t:.1f} s")
    return list(convs)


def channels_of(relay: RelayProcess, ids: list[str]) -> dict[str, int]:
    """Each conversation's (demo) Odoo session id, read from the relay's store."""
    url = relay.env.get("RELAY_STORE", "")
    if url.startswith("redis://"):
        import redis
        from proxy.store.redis import parse_url
        plain, prefix = parse_url(url)
        client = redis.Redis.from_url(plain)
        try:
            pipe = client.pipeline(transaction=False)
            for cid in ids:
                pipe.hget(f"{prefix}:conv:{cid}", "odoo_channel_id")
            return {cid: int(ch) for cid, ch in zip(ids, pipe.execute())}
        finally:
            client.close()
    db = sqlite3.connect(relay.db)
    try:
        return dict(db.execute("SELECT id, odoo_channel_id FROM conversations").fetchall())
    finally:
        db.close()


def ws_url(relay: RelayProcess, conv: dict, after: int | None = None) -> str:
    return widget_client.ws_url(relay.url, conv, after)


async def open_ws(http: aiohttp.ClientSession, relay: RelayProcess, conv: dict) -> aiohttp.ClientWebSocketResponse:
    """Connect and consume the hello frame (``after=last_seq``: nothing to replay)."""
    ws, _hello = await widget_client.open_ws(http, ws_url(relay, conv), timeout=30)
    return ws


def signed(conv: dict, message_id: int, text: str) -> tuple[bytes, dict]:
    raw = webhook_body("livechat.message.created", conv["channel"], message=operator_message(message_id, text))
    return raw, signing.headers_for([SECRET], new_webhook_id(), raw)


def parse_metrics(text: str) -> dict:
    """The ws delivery histogram (cumulative bucket counts by ``le``) and a few counters."""
    out: dict = {"buckets": {}, "count": 0.0, "sum": 0.0, "webhooks": {}}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        if name.startswith("relay_delivery_seconds_bucket") and 'transport="ws"' in name:
            le = name.split('le="', 1)[1].split('"', 1)[0]
            out["buckets"][float(le)] = float(value)
        elif name.startswith("relay_delivery_seconds_count") and 'transport="ws"' in name:
            out["count"] = float(value)
        elif name.startswith("relay_delivery_seconds_sum") and 'transport="ws"' in name:
            out["sum"] = float(value)
        elif name.startswith("relay_webhooks_total{"):
            result = name.split('result="', 1)[1].split('"', 1)[0]
            out["webhooks"][result] = float(value)
    return out


async def fetch_metrics(http: aiohttp.ClientSession, relay: RelayProcess) -> dict:
    async with http.get(relay.url + "/metrics") as r:
        return parse_metrics(await r.text())


def histogram_summary(before: dict, after: dict) -> dict:
    """Quantiles of the relay's own histogram over an interval, as bucket upper bounds ("≤ x")."""
    count = after["count"] - before["count"]
    if count <= 0:
        return {"count": 0}
    les = sorted(after["buckets"])
    diff = [(le, after["buckets"][le] - before["buckets"].get(le, 0.0)) for le in les]
    out = {"count": int(count), "mean_ms": round((after["sum"] - before["sum"]) / count * 1000, 2)}
    for p in (50, 95, 99):
        need = p / 100 * count
        out[f"p{p}_le_ms"] = next((le * 1000 for le, c in diff if c >= need), float("inf"))
    return out


# ---------------------------------------------------------------- 1. latency


async def bench_latency(args, cfg: dict, workdir: Path) -> dict:
    relay = start_relay(workdir, "latency", {}, args)
    sent: dict[int, float] = {}        # message id -> time.time() just before its POST
    got: dict[int, float] = {}         # message id -> latency (s)
    dup = [0]
    ids = itertools.count(1)
    results = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as wsh, \
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=cfg["conversations"] + 8)) as http:
            convs = await create_conversations(http, relay, cfg["conversations"])
            sockets = [await open_ws(wsh, relay, c) for c in convs]
            say(f"  {len(sockets)} WebSockets open (one per conversation)")

            async def reader(ws: aiohttp.ClientWebSocketResponse) -> None:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    now = time.time()
                    frame = json.loads(msg.data)
                    if frame.get("type") == "ping":
                        await ws.send_str('{"type":"pong"}')
                        continue
                    if frame.get("type") != "event" or frame["event"].get("type") != "message":
                        continue
                    text = frame["event"]["message"]["text"]
                    if not text.startswith("bench:"):
                        continue
                    mid = int(text.split(":", 2)[1])
                    if mid in got:
                        dup[0] += 1
                    elif mid in sent:
                        got[mid] = now - sent[mid]

            readers = [asyncio.create_task(reader(ws)) for ws in sockets]
            # warm-up: a few events through every socket (connection pool, code paths)
            await run_rate(http, relay, convs, ids, sent, rate=50, seconds=1.0)
            await asyncio.sleep(0.5)
            for rate in cfg["rates"]:
                sent.clear()
                got.clear()
                dup[0] = 0
                m0 = await fetch_metrics(http, relay)
                cpu0, me0, w0 = proc_cpu_s(relay.pid), self_cpu_s(), time.perf_counter()
                th0 = thread_cpu_s(relay.pid)
                r = await run_rate(http, relay, convs, ids, sent, rate=rate, seconds=cfg["seconds"])
                accepted = r.pop("accepted_ids")
                deadline = time.perf_counter() + 5.0      # drain: wait for stragglers
                while time.perf_counter() < deadline and any(m not in got for m in accepted):
                    await asyncio.sleep(0.05)
                wall = time.perf_counter() - w0
                cpu1, me1 = proc_cpu_s(relay.pid), self_cpu_s()
                th1 = thread_cpu_s(relay.pid)
                m1 = await fetch_metrics(http, relay)
                lat = sorted(got[m] for m in accepted if m in got)
                r.update({
                    "received": len(lat), "lost": sum(1 for m in accepted if m not in got),
                    "duplicates": dup[0],
                    "p50_ms": round(pct(lat, 50) * 1000, 2) if lat else None,
                    "p95_ms": round(pct(lat, 95) * 1000, 2) if lat else None,
                    "p99_ms": round(pct(lat, 99) * 1000, 2) if lat else None,
                    "max_ms": round(lat[-1] * 1000, 2) if lat else None,
                    "relay_cpu_pct": round(100 * (cpu1 - cpu0) / wall, 1),
                    "relay_loop_thread_cpu_pct": round(100 * (th1[0] - th0[0]) / wall, 1),
                    "relay_other_threads_cpu_pct": round(100 * (th1[1] - th0[1]) / wall, 1),
                    "client_cpu_pct": round(100 * (me1 - me0) / wall, 1),
                    "relay_histogram": histogram_summary(m0, m1),
                })
                results.append(r)
                say(f"  rate {rate}/s: achieved {r['achieved_per_s']:.0f}/s, sent {r['sent']}, "
                    f"2xx {r['accepted']}, refused {r['refused']}, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                    f"max {r['max_ms']} ms, lost {r['lost']}, send lag p99 {r['send_lag_p99_ms']} ms, relay CPU {r['relay_cpu_pct']}% "
                    f"(loop {r['relay_loop_thread_cpu_pct']}%, SQLite thread {r['relay_other_threads_cpu_pct']}%), "
                    f"client CPU {r['client_cpu_pct']}%")
                await asyncio.sleep(0.5)
            for t in readers:
                t.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    finally:
        stop_relay(relay)
    return {"conversations": cfg["conversations"], "seconds_per_rate": cfg["seconds"], "rates": results}


async def run_rate(http: aiohttp.ClientSession, relay: RelayProcess, convs: list[dict], ids, sent: dict,
                   rate: float, seconds: float) -> dict:
    """Open-loop schedule: event i is due at start + i/rate, round-robin over the conversations.

    Per conversation at most one webhook is in flight (PROTOCOL §1: the addon holds event N+1 of a
    session back until N is acknowledged), so the number of concurrent senders is the number of
    conversations. ``lag`` is how late a POST left compared with its schedule (client or relay
    back-pressure); latency is measured from the moment the POST actually left.
    """
    n = int(rate * seconds)
    locks = [asyncio.Lock() for _ in convs]
    statuses: dict[int, int] = {}
    accepted: list[int] = []
    lags: list[float] = []
    first_send = [None]
    last_done = [0.0]

    async def one(i: int, due: float) -> None:
        conv_i = i % len(convs)
        async with locks[conv_i]:
            mid = next(ids)
            raw, headers = signed(convs[conv_i], mid, f"bench:{mid}:{time.time():.6f}")
            lags.append(time.perf_counter() - due)
            if first_send[0] is None:
                first_send[0] = time.perf_counter()
            sent[mid] = time.time()
            try:
                async with http.post(relay.url + HOOK_PATH, data=raw, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                status = -1
            last_done[0] = time.perf_counter()
            statuses[status] = statuses.get(status, 0) + 1
            if 200 <= status < 300:
                accepted.append(mid)

    start = await open_loop(n, rate, one)
    span = max(last_done[0] - (first_send[0] or start), 1e-9)
    lags.sort()
    return {"target_per_s": rate, "sent": n, "accepted": len(accepted), "accepted_ids": accepted,
            "refused": n - len(accepted), "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "achieved_per_s": round(len(accepted) / span, 1),
            "send_lag_p99_ms": round(pct(lags, 99) * 1000, 2) if lags else None}


# ---------------------------------------------------------------- 2. idle memory


async def bench_idle(args, cfg: dict, workdir: Path) -> dict:
    """One conversation per 10 sockets (the default RELAY_MAX_WS_PER_CONVERSATION=10, left as is)."""
    per_conv = 10
    levels = cfg["idle_levels"]
    relay = start_relay(workdir, "idle", {}, args)
    results = []
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers: list[asyncio.Task] = []
    failures: dict[str, int] = {}
    try:
        timeout = aiohttp.ClientTimeout(total=None, connect=60, sock_connect=60)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http:
            convs = await create_conversations(http, relay, (max(levels) + per_conv - 1) // per_conv)
            await asyncio.sleep(2.0)
            base = proc_status_kib(relay.pid)
            say(f"  relay RSS before any WebSocket: {base / 1024:.1f} MiB")

            async def keepalive(ws: aiohttp.ClientWebSocketResponse) -> None:
                async for msg in ws:   # answer the relay's {"type":"ping"} so it never closes us (4408)
                    if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("type") == "ping":
                        await ws.send_str('{"type":"pong"}')

            sem = asyncio.Semaphore(200)

            async def open_one(i: int) -> None:
                async with sem:
                    try:
                        ws = await open_ws(http, relay, convs[i // per_conv])
                    except Exception as exc:   # counted and reported, not fatal
                        key = type(exc).__name__ + (": " + str(exc)[:80] if str(exc) else "")
                        failures[key] = failures.get(key, 0) + 1
                        return
                    sockets.append(ws)
                    readers.append(asyncio.create_task(keepalive(ws)))

            prev_rss, prev_n = base, 0
            for level in levels:
                start_i = len(sockets) + sum(failures.values())
                cpu0, t0 = proc_cpu_s(relay.pid), time.perf_counter()
                await asyncio.gather(*(open_one(i) for i in range(start_i, level)))
                opened_s = time.perf_counter() - t0
                cpu_open = proc_cpu_s(relay.pid) - cpu0
                n_new = level - start_i
                await asyncio.sleep(3.0)      # settle: handshakes done, replay reads done, buffers freed
                async with http.get(relay.url + "/healthz") as r:
                    server_count = (await r.json())["connections"]["ws"]
                rss = proc_status_kib(relay.pid)
                anon = proc_status_kib(relay.pid, "RssAnon")
                n = len(sockets)
                r = {"target": level, "open": n, "relay_counts": server_count, "rss_kib": rss, "rss_anon_kib": anon,
                     "kib_per_conn": round((rss - base) / n, 2) if n else None,
                     "marginal_kib_per_conn": round((rss - prev_rss) / (n - prev_n), 2) if n > prev_n else None,
                     "open_seconds": round(opened_s, 2), "opens_per_s": round(n_new / opened_s, 1),
                     "relay_cpu_ms_per_open": round(1000 * cpu_open / max(n_new, 1), 3)}
                results.append(r)
                say(f"  {n} idle WebSockets (relay counts {server_count}): RSS {rss / 1024:.1f} MiB, "
                    f"{r['kib_per_conn']} KiB/conn overall, {r['marginal_kib_per_conn']} KiB/conn marginal, "
                    f"opened {n_new} in {opened_s:.1f} s ({r['opens_per_s']}/s, "
                    f"relay CPU {r['relay_cpu_ms_per_open']} ms per open)")
                prev_rss, prev_n = rss, n
            if failures:
                say(f"  open failures: {failures}")
            t = time.perf_counter()
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            for i in range(0, len(sockets), 500):
                await asyncio.gather(*(ws.close() for ws in sockets[i:i + 500]), return_exceptions=True)
            await asyncio.sleep(2.0)
            after_close = proc_status_kib(relay.pid)
            async with http.get(relay.url + "/healthz") as r:
                left_open = (await r.json())["connections"]["ws"]
            say(f"  closed all in {time.perf_counter() - t:.1f} s; relay counts {left_open} open; "
                f"relay RSS after close {after_close / 1024:.1f} MiB")
    finally:
        stop_relay(relay)
    return {"method": f"one conversation per {per_conv} sockets, default RELAY_MAX_WS_PER_CONVERSATION",
            "baseline_rss_kib": base, "levels": results, "rss_after_close_kib": after_close,
            "relay_counts_after_close": left_open,
            "open_failures": failures}


# ---------------------------------------------------------------- 3. fan-out


async def bench_fanout(args, cfg: dict, workdir: Path) -> dict:
    """Frames/s to many sockets of one conversation. The frame readers run in ``--fanout-readers``
    separate processes (``benchmarks.frame_reader``: raw sockets, frame headers only), so that the
    figure is the relay's, not this process's; this process only posts the webhooks."""
    if args.fanout_aiohttp:
        return await bench_fanout_aiohttp(args, cfg, workdir)
    m, k = cfg["fanout_sockets"], cfg["fanout_events"]
    conc = args.fanout_concurrency or cfg["fanout_concurrency"]
    n_readers = max(1, min(args.fanout_readers, m))
    relay = start_relay(workdir, "fanout", {"RELAY_MAX_WS_PER_CONVERSATION": "100000"}, args)
    ctx = multiprocessing.get_context("spawn")
    results, stop, close = ctx.Queue(), ctx.Event(), ctx.Event()
    procs: list = []
    loop = asyncio.get_running_loop()

    def collect(kind: str, n: int, timeout: float) -> dict[int, dict]:
        return frame_reader.collect(results, kind, n, timeout)

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as http:
            conv = (await create_conversations(http, relay, 1))[0]
            path = ws_url(relay, conv)[len(relay.ws_url):]
            shares = [m // n_readers + (1 if i < m % n_readers else 0) for i in range(n_readers)]
            t = time.perf_counter()
            for i, share in enumerate(shares):
                p = ctx.Process(target=frame_reader.run, name=f"frame-reader-{i}", daemon=True,
                                args=(i, "127.0.0.1", relay.port, path, share, k, results, stop, close,
                                      args.fanout_pause_ms / 1000))
                p.start()
                procs.append(p)
            ready = await loop.run_in_executor(None, collect, "ready", n_readers, 120.0)
            if len(ready) < n_readers:
                raise RuntimeError(f"only {len(ready)} of {n_readers} frame readers became ready")
            say(f"  {m} WebSockets open on one conversation, read by {n_readers} separate process(es) "
                f"(pids {', '.join(str(r['pid']) for r in ready.values())}; {time.perf_counter() - t:.1f} s)")
            bodies = [signed(conv, 1_000_000 + i, f"bench:{i}:fanout") for i in range(k)]   # signed up front
            todo = iter(bodies)
            statuses: dict[int, int] = {}
            first_post = [0.0]
            posted_done = [0.0]

            async def poster() -> None:
                for raw, headers in todo:
                    if not first_post[0]:
                        first_post[0] = time.time()
                    try:
                        async with http.post(relay.url + HOOK_PATH, data=raw, headers=headers) as resp:
                            await resp.read()
                            status = resp.status
                    except aiohttp.ClientError:
                        status = -1
                    statuses[status] = statuses.get(status, 0) + 1
                posted_done[0] = time.time()

            cpu0, me0, th0 = proc_cpu_s(relay.pid), self_cpu_s(), thread_cpu_s(relay.pid)
            rd0 = {i: proc_cpu_s(p.pid) for i, p in enumerate(procs)}
            mc0 = machine_cpu_s()
            w0 = time.perf_counter()
            await asyncio.gather(*(poster() for _ in range(conc)))
            done = await loop.run_in_executor(None, collect, "done", n_readers, 120.0)
            if len(done) < n_readers:
                say("  fan-out: timed out waiting for every frame")
                stop.set()
                done.update(await loop.run_in_executor(None, collect, "done", n_readers - len(done), 10.0))
            wall = time.perf_counter() - w0
            cpu1, me1, th1 = proc_cpu_s(relay.pid), self_cpu_s(), thread_cpu_s(relay.pid)
            rd1 = {i: proc_cpu_s(p.pid) for i, p in enumerate(procs)}   # readers still hold their sockets
            mc1 = machine_cpu_s()
            if len(done) < n_readers:
                raise RuntimeError(f"only {len(done)} of {n_readers} frame readers reported")
            counts = [c for i in sorted(done) for c in done[i]["counts"]]
            total = sum(counts)
            last_frame = max(d["last_frame"] for d in done.values())
            elapsed = max(last_frame - first_post[0], 1e-9)
            reader_cpu = [round(100 * (rd1[i] - rd0[i]) / wall, 1) for i in sorted(rd0)]
            r = {"method": f"readers in {n_readers} separate process(es) parsing only frame headers",
                 "reader_pause_ms": args.fanout_pause_ms,
                 "readers": n_readers, "sockets": m, "webhooks": k, "post_concurrency": conc,
                 "statuses": {str(s): c for s, c in sorted(statuses.items())},
                 "frames_expected": m * k, "frames_received": total, "lost": m * k - total,
                 "sockets_short": sum(1 for c in counts if c < k), "sockets_over": sum(1 for c in counts if c > k),
                 "min_per_socket": min(counts), "max_per_socket": max(counts),
                 "pings_answered": sum(d["pings"] for d in done.values()),
                 "sockets_closed_by_relay": sum(d["closed"] for d in done.values()),
                 "close_codes": sorted({c for d in done.values() for c in d["close_codes"]}),
                 "elapsed_s": round(elapsed, 3), "frames_per_s": round(total / elapsed, 1),
                 "first_frame_after_s": round(min(d["first_frame"] or last_frame for d in done.values())
                                              - first_post[0], 4),
                 "webhooks_per_s": round(k / max(posted_done[0] - first_post[0], 1e-9), 1),
                 "relay_cpu_pct": round(100 * (cpu1 - cpu0) / wall, 1),
                 "relay_loop_thread_cpu_pct": round(100 * (th1[0] - th0[0]) / wall, 1),
                 "relay_other_threads_cpu_pct": round(100 * (th1[1] - th0[1]) / wall, 1),
                 "reader_cpu_pct": round(sum(reader_cpu), 1), "reader_cpu_pct_each": reader_cpu,
                 "client_cpu_pct": round(100 * (me1 - me0) / wall, 1),
                 "machine_cpu_pct": {k_: round(100 * (mc1[k_] - mc0[k_]) / wall, 1) for k_ in mc0},
                 "machine_cores": os.cpu_count()}
            say(f"  fan-out ({r['method']}, {args.fanout_pause_ms:g} ms pause between read rounds): {total}/{m * k} frames (lost {r['lost']}) in {elapsed:.2f} s = "
                f"{r['frames_per_s']:.0f} frames/s; webhooks ingested at {r['webhooks_per_s']:.0f}/s "
                f"({conc} concurrent posts, statuses {r['statuses']}); relay CPU {r['relay_cpu_pct']}% "
                f"(loop {r['relay_loop_thread_cpu_pct']}%, SQLite thread {r['relay_other_threads_cpu_pct']}%), "
                f"reader CPU {r['reader_cpu_pct']}% {reader_cpu}, poster CPU {r['client_cpu_pct']}% "
                f"(all share the machine's cores); machine: busy {r['machine_cpu_pct']['busy']}%, "
                f"idle {r['machine_cpu_pct']['idle']}%, iowait {r['machine_cpu_pct']['iowait']}%, "
                f"steal {r['machine_cpu_pct']['steal']}% of {r['machine_cores'] * 100}%")
            if r["lost"] or r["sockets_over"] or r["sockets_closed_by_relay"]:
                say(f"  fan-out: WARNING lost {r['lost']}, {r['sockets_short']} socket(s) short, "
                    f"{r['sockets_over']} over, {r['sockets_closed_by_relay']} closed by the relay "
                    f"(codes {r['close_codes']})")
    finally:
        close.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.terminate()
                p.join(5)
        stop_relay(relay)
    return r


async def bench_fanout_aiohttp(args, cfg: dict, workdir: Path) -> dict:
    """The former fan-out measurement (``--fanout-aiohttp``): this process both posts the webhooks
    and reads every socket with aiohttp, so on a small machine the client is the limit."""
    m, k = cfg["fanout_sockets"], cfg["fanout_events"]
    conc = args.fanout_concurrency or cfg["fanout_concurrency"]
    relay = start_relay(workdir, "fanout", {"RELAY_MAX_WS_PER_CONVERSATION": "100000"}, args)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as wsh, \
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as http:
            conv = (await create_conversations(http, relay, 1))[0]
            sockets = await asyncio.gather(*(open_ws(wsh, relay, conv) for _ in range(m)))
            say(f"  {m} WebSockets open on one conversation")
            counts = [0] * m
            last_frame = [0.0]
            all_done = asyncio.Event()
            complete = [0]

            async def reader(j: int, ws: aiohttp.ClientWebSocketResponse) -> None:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    if '"text":"bench:' in msg.data:     # cheap check: keep the client's CPU for receiving
                        counts[j] += 1
                        last_frame[0] = time.perf_counter()
                        if counts[j] == k:
                            complete[0] += 1
                            if complete[0] == m:
                                all_done.set()
                    elif msg.data == '{"type":"ping"}':
                        await ws.send_str('{"type":"pong"}')

            readers = [asyncio.create_task(reader(j, ws)) for j, ws in enumerate(sockets)]
            bodies = [signed(conv, 1_000_000 + i, f"bench:{i}:fanout") for i in range(k)]   # signed up front
            queue = iter(bodies)
            statuses: dict[int, int] = {}
            posted_done = [0.0]

            async def poster() -> None:
                for raw, headers in queue:
                    async with http.post(relay.url + HOOK_PATH, data=raw, headers=headers) as resp:
                        await resp.read()
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                posted_done[0] = time.perf_counter()

            cpu0, me0, th0 = proc_cpu_s(relay.pid), self_cpu_s(), thread_cpu_s(relay.pid)
            t0 = time.perf_counter()
            await asyncio.gather(*(poster() for _ in range(conc)))
            try:
                await asyncio.wait_for(all_done.wait(), 120)
            except asyncio.TimeoutError:
                say("  fan-out: timed out waiting for every frame")
            wall = time.perf_counter() - t0
            cpu1, me1, th1 = proc_cpu_s(relay.pid), self_cpu_s(), thread_cpu_s(relay.pid)
            total = sum(counts)
            elapsed = max(last_frame[0] - t0, 1e-9)
            r = {"method": "aiohttp readers in the posting process", "readers": 0,
                 "sockets": m, "webhooks": k, "post_concurrency": conc,
                 "statuses": {str(s): c for s, c in sorted(statuses.items())},
                 "frames_expected": m * k, "frames_received": total, "lost": m * k - total,
                 "elapsed_s": round(elapsed, 3), "frames_per_s": round(total / elapsed, 1),
                 "webhooks_per_s": round(k / max(posted_done[0] - t0, 1e-9), 1),
                 "relay_cpu_pct": round(100 * (cpu1 - cpu0) / wall, 1),
                 "relay_loop_thread_cpu_pct": round(100 * (th1[0] - th0[0]) / wall, 1),
                 "relay_other_threads_cpu_pct": round(100 * (th1[1] - th0[1]) / wall, 1),
                 "client_cpu_pct": round(100 * (me1 - me0) / wall, 1)}
            say(f"  fan-out: {total}/{m * k} frames in {elapsed:.2f} s = {r['frames_per_s']:.0f} frames/s; "
                f"webhooks ingested at {r['webhooks_per_s']:.0f}/s; relay CPU {r['relay_cpu_pct']}% "
                f"(loop {r['relay_loop_thread_cpu_pct']}%, SQLite thread {r['relay_other_threads_cpu_pct']}%), "
                f"client CPU {r['client_cpu_pct']}% (client shares the machine's cores)")
            for t in readers:
                t.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    finally:
        stop_relay(relay)
    return r


# ---------------------------------------------------------------- report


def relay_cpu(r: dict) -> str:
    return (f"{r['relay_cpu_pct']}% ({r['relay_loop_thread_cpu_pct']}+{r['relay_other_threads_cpu_pct']})")


def table(report: dict) -> str:
    lines = []
    lat = report.get("latency")
    if lat:
        lines.append(f"1. latency: webhook POST leaves the client → WebSocket frame read by the client "
                     f"({lat['conversations']} conversations, 1 WS each, {lat['seconds_per_rate']:g} s per rate)")
        lines.append(f"   {'target/s':>8} {'achieved/s':>10} {'sent':>6} {'2xx':>6} {'lost':>5} {'p50 ms':>7} "
                     f"{'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'relay p99≤':>10} {'lag p99 ms':>10} {'relay CPU (loop+sqlite)':>23} {'client CPU':>10}")
        for r in lat["rates"]:
            h = r["relay_histogram"]
            rp99 = f"{h['p99_le_ms']:g} ms" if h.get("count") else "-"
            lines.append(f"   {r['target_per_s']:>8} {r['achieved_per_s']:>10.1f} {r['sent']:>6} {r['accepted']:>6} "
                         f"{r['lost']:>5} {r['p50_ms']!s:>7} {r['p95_ms']!s:>7} {r['p99_ms']!s:>7} {r['max_ms']!s:>7} "
                         f"{rp99:>10} {r['send_lag_p99_ms']!s:>10} {relay_cpu(r):>23} {r['client_cpu_pct']:>9}%")
    idle = report.get("idle")
    if idle:
        lines.append(f"2. idle WebSockets: relay VmRSS ({idle['method']}); "
                     f"baseline {idle['baseline_rss_kib'] / 1024:.1f} MiB")
        lines.append(f"   {'sockets':>8} {'RSS MiB':>8} {'KiB/conn':>9} {'marginal':>9} {'opens/s':>8} "
                     f"{'relay CPU ms/open':>17}")
        for r in idle["levels"]:
            lines.append(f"   {r['open']:>8} {r['rss_kib'] / 1024:>8.1f} {r['kib_per_conn']!s:>9} "
                         f"{r['marginal_kib_per_conn']!s:>9} {r['opens_per_s']:>8} {r['relay_cpu_ms_per_open']:>17}")
        lines.append(f"   after closing all: RSS {idle['rss_after_close_kib'] / 1024:.1f} MiB, "
                     f"relay counts {idle['relay_counts_after_close']} open"
                     + (f"; open failures {idle['open_failures']}" if idle["open_failures"] else ""))
    fan = report.get("fanout")
    if fan:
        if fan.get("readers"):
            lines.append(f"3. fan-out: {fan['sockets']} WebSockets on one conversation, {fan['webhooks']} webhooks "
                         f"posted {fan['post_concurrency']} at a time; {fan['method']}, "
                         f"{fan['reader_pause_ms']:g} ms pause between read rounds (all share the cores)")
            lines.append(f"   frames {fan['frames_received']}/{fan['frames_expected']} (lost {fan['lost']}) in "
                         f"{fan['elapsed_s']} s = {fan['frames_per_s']:.0f} frames/s; webhooks {fan['webhooks_per_s']:.0f}/s; "
                         f"relay CPU {relay_cpu(fan)}, reader CPU {fan['reader_cpu_pct']}%, "
                         f"poster CPU {fan['client_cpu_pct']}%; machine busy {fan['machine_cpu_pct']['busy']}% "
                         f"of {fan['machine_cores'] * 100}%")
        else:
            lines.append(f"3. fan-out: {fan['sockets']} WebSockets on one conversation, {fan['webhooks']} webhooks "
                         f"posted {fan['post_concurrency']} at a time; {fan.get('method', 'aiohttp client')} "
                         f"(client and relay share the cores)")
            lines.append(f"   frames {fan['frames_received']}/{fan['frames_expected']} in {fan['elapsed_s']} s = "
                         f"{fan['frames_per_s']:.0f} frames/s; webhooks {fan['webhooks_per_s']:.0f}/s; "
                         f"relay CPU {relay_cpu(fan)}, client CPU {fan['client_cpu_pct']}%")
    lines.append("targets:")
    for line in verdicts(report):
        lines.append("   " + line)
    return "\n".join(lines)


def verdicts(report: dict) -> list[str]:
    out = []
    lat = report.get("latency")
    if lat:
        at500 = next((r for r in lat["rates"] if r["target_per_s"] == 500), None)
        if at500 and at500["p99_ms"] is not None:
            ok = at500["p99_ms"] < TARGETS["latency_p99_ms_at_500"] and at500["lost"] == 0
            out.append(f"latency p99 < 50 ms at 500 events/s: {at500['p99_ms']} ms, lost {at500['lost']}, "
                       f"achieved {at500['achieved_per_s']}/s → {'MET' if ok else 'NOT MET'}")
    idle = report.get("idle")
    if idle and idle["levels"]:
        worst = max(r["kib_per_conn"] or 0 for r in idle["levels"])
        ok = worst <= TARGETS["idle_kib_per_conn"]
        out.append(f"≤ 20 KiB per idle WebSocket: worst {worst} KiB → {'MET' if ok else 'NOT MET'}")
    fan = report.get("fanout")
    if fan:
        ok = fan["frames_per_s"] >= TARGETS["fanout_frames_per_s"] and fan.get("lost", 0) == 0
        out.append(f"≥ 50,000 frames/s fan-out: {fan['frames_per_s']:.0f}, lost {fan.get('lost')} "
                   f"→ {'MET' if ok else 'NOT MET'}")
    return out


async def main_async(args) -> dict:
    cfg = dict(QUICK if args.quick else FULL)
    steps = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(steps) - {"latency", "idle", "fanout"}
    if unknown:
        raise SystemExit(f"unknown step(s): {', '.join(sorted(unknown))}")
    nofile = raise_nofile()
    info = machine()
    info["rlimit_nofile"] = list(nofile)
    report: dict = {"machine": info, "quick": args.quick, "config": cfg,
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    say(f"machine: {info['cpu_model']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"Python {info['python']} ({info['implementation']}), aiohttp {info['aiohttp']}, "
        f"kernel {info['kernel']}, load average {info['loadavg_at_start']}, RLIMIT_NOFILE {nofile[0]}")
    need = max(cfg["idle_levels"]) + 500    # per process: the relay and this client each hold one fd per socket
    if "idle" in steps and nofile[0] < need:
        say(f"warning: RLIMIT_NOFILE {nofile[0]} may be too low for {max(cfg['idle_levels'])} sockets")
    workdir = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    try:
        for step in steps:
            say(f"step {step} …")
            fn = {"latency": bench_latency, "idle": bench_idle, "fanout": bench_fanout}[step]
            report[step] = await fn(args, cfg, workdir)
    finally:
        if args.keep:
            say(f"kept relay directories under {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    info["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["verdicts"] = verdicts(report)
    return report


def drop_prefix(url: str, prefix: str) -> None:
    import redis
    client = redis.Redis.from_url(url.split("?")[0])
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_relay", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny numbers: a smoke check in well under a minute")
    p.add_argument("--only", default="latency,idle,fanout", help="comma-separated steps: latency,idle,fanout")
    p.add_argument("--out", default="benchmarks/out", help="directory for the JSON figures (and profiles)")
    p.add_argument("--profile", action="store_true",
                   help="run each relay under cProfile; top functions go to --out/profile-<step>.txt "
                        "(adds overhead: do not compare its figures with a normal run)")
    p.add_argument("--fanout-readers", type=int, default=1, metavar="N",
                   help="fan-out: number of separate frame-reader processes (sockets split evenly; default 1)")
    p.add_argument("--fanout-concurrency", type=int, default=0, metavar="N",
                   help="fan-out: concurrent webhook POSTs (default: 32, --quick 16)")
    p.add_argument("--fanout-pause-ms", type=float, default=5.0, metavar="MS",
                   help="fan-out: each reader sleeps MS after a round of reads so that one recv takes several "
                        "frames (less reader CPU; arrival times late by up to about MS, which lowers the "
                        "figure; default 5, 0 = read as soon as a socket is readable)")
    p.add_argument("--fanout-aiohttp", action="store_true",
                   help="fan-out: the former measurement, aiohttp readers in this (posting) process")
    p.add_argument("--keep", action="store_true", help="keep the relays' directories (SQLite files, logs)")
    p.add_argument("--store", metavar="URL",
                   help="the relays' RELAY_STORE instead of a SQLite file each, e.g. redis://127.0.0.1:6379/0: "
                        "its keys go under a prefix of this run's own, deleted at the end")
    args = p.parse_args(argv)
    prefix = None
    if args.store and args.store.startswith("redis://") and "prefix=" not in args.store:
        prefix = f"bench-{os.getpid()}"
        args.store += ("&" if "?" in args.store else "?") + f"prefix={prefix}"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    try:
        report = asyncio.run(main_async(args))
    finally:
        if prefix:
            drop_prefix(args.store, prefix)
    report["store"] = args.store or "sqlite (one file per relay)"
    m = report["machine"]
    print()
    print(f"machine: {m['cpu_model']}, {m['cores']} cores, Python {m['python']}, aiohttp {m['aiohttp']}, "
          f"load average {m['loadavg_at_start']} → {m['loadavg_at_end']}"
          + (" (QUICK run: smoke figures only)" if args.quick else ""))
    print(table(report))
    name = f"bench_relay-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
    path = Path(args.out) / name
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
