"""A visitor's 10 MB file on a real Odoo: through the relay (``POST /v1/conversations/{id}/
attachments``, streamed to Odoo's own upload route as the guest) against straight to that route
(``/im_livechat/cors/attachment/upload`` with the same guest's token, as Odoo's own widget sends it),
side by side in one run, and the relay's memory while it streams.

    python -m benchmarks.bench_upload --odoo http://127.0.0.1:8169 --db rig19 [--size-mb 10] [--rounds 8]
           [--out benchmarks/out]

One relay process (the addon's endpoint untouched: replies play no part), one conversation per
round, opened through the relay (17 and 18: the session's ``allow_public_upload`` switched on, as
it must be for visitors' files there). Each round uploads the same file (a PDF header, then random
bytes: the relay judges the type from the first bytes) once each way, the order alternating. Times
are from the first byte sent to the answer read. The relay's resident memory (``/proc/<pid>/status``
VmRSS) is sampled every 10 ms during its uploads: the peak above its level before the run says
whether the file went through whole in memory or streamed. Nothing is mocked. Figures go to
``--out/bench_upload-<date>.json``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.relayproc import RelayProcess
from tools.measure import machine, pct
from tools.odoo_client import Odoo


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def guest_token(relay: RelayProcess, conversation_id: str) -> str:
    db = sqlite3.connect(relay.db)
    try:
        (raw,) = db.execute("SELECT upstream FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    finally:
        db.close()
    return json.loads(raw)["guest_token"]


async def timed_post(http: aiohttp.ClientSession, url: str, form: aiohttp.FormData, headers: dict) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    async with http.post(url, data=form, headers=headers) as resp:
        text = await resp.text()
        return time.perf_counter() - t0, resp.status, text


async def run(args) -> dict:
    odoo = Odoo(args.odoo, args.db, "admin", "admin", args.channel).start()
    odoo.operator_online()
    size = int(args.size_mb * 1024 * 1024)
    data = b"%PDF-1.4\n" + os.urandom(size - 9)
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "poll",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(args.channel), "RELAY_MAX_UPLOAD_BYTES": str(size + 1024),
           "RELAY_RATE_LIMIT_CREATE": "1000/60", "RELAY_RATE_LIMIT_IP": "100000/60"}
    out: dict = {"machine": machine(), "odoo": odoo.version, "size_bytes": size, "rounds": args.rounds,
                 "relay_s": [], "odoo_s": [], "relay_rss_peak_kib": 0}
    with tempfile.TemporaryDirectory() as tmp:
        relay = RelayProcess(Path(tmp), env=env).start()
        try:
            pid = relay.proc.pid
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
                # warm: one small upload each way, so neither arm pays the first connection
                rss_before = rss_kib(pid)
                out["relay_rss_before_kib"] = rss_before
                for n in range(args.rounds + 1):
                    async with http.post(relay.url + "/v1/conversations", json={"visitor_name": f"Upload {n}"}) as r:
                        conv = await r.json()
                    channel_id = await asyncio.to_thread(_channel_of, relay, conv["conversation_id"])
                    if odoo.major < 19:
                        odoo.execute("discuss.channel", "write", [[channel_id], {"allow_public_upload": True}])
                    token = guest_token(relay, conv["conversation_id"])
                    blob = data if n else data[:4096]
                    arms = ("relay", "odoo") if n % 2 else ("odoo", "relay")
                    for arm in arms:
                        form = aiohttp.FormData()
                        if arm == "relay":
                            form.add_field("file", blob, filename="report.pdf", content_type="application/pdf")
                            url = f"{relay.url}/v1/conversations/{conv['conversation_id']}/attachments"
                            headers = {"Authorization": "Bearer " + conv["token"]}
                            peak = {"kib": 0}
                            stop = asyncio.Event()

                            async def sample():
                                while not stop.is_set():
                                    peak["kib"] = max(peak["kib"], rss_kib(pid))
                                    await asyncio.sleep(0.01)
                            sampler = asyncio.create_task(sample())
                            try:
                                took, status, text = await timed_post(http, url, form, headers)
                            finally:
                                stop.set()
                                await sampler
                            expected = 201
                        else:
                            for key, value in (("guest_token", token), ("thread_id", str(channel_id)),
                                               ("thread_model", "discuss.channel"), ("is_pending", "true")):
                                form.add_field(key, value)
                            form.add_field("ufile", blob, filename="report.pdf", content_type="application/pdf")
                            took, status, text = await timed_post(http, odoo.url + "/im_livechat/cors/attachment/upload",
                                                                  form, {})
                            expected = 200
                        if status != expected:
                            raise SystemExit(f"{arm} upload answered {status}: {text[:300]}")
                        if n:
                            out[f"{arm}_s"].append(took)
                            if arm == "relay":
                                out["relay_rss_peak_kib"] = max(out["relay_rss_peak_kib"], peak["kib"])
                        print(f"round {n} {arm:5s} {took * 1000:8.1f} ms" + ("  (warm-up)" if not n else ""), flush=True)
        finally:
            relay.stop()
    return out


def _channel_of(relay: RelayProcess, conversation_id: str) -> int:
    db = sqlite3.connect(relay.db)
    try:
        return db.execute("SELECT odoo_channel_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    finally:
        db.close()


def report(out: dict) -> None:
    mb = out["size_bytes"] / 1e6
    print(f"\nOdoo {out['odoo']}, {out['size_bytes'] / 1048576:.0f} MiB file, {out['rounds']} rounds each way, "
          f"{out['machine'].get('cpu_model', '')}")
    for arm in ("odoo", "relay"):
        v = out[f"{arm}_s"]
        print(f"  {arm:5s}: median {statistics.median(v) * 1000:7.0f} ms  p95 {pct(v, 95) * 1000:7.0f} ms  "
              f"({mb / statistics.median(v):5.1f} MB/s)")
    pairs = [r - o for r, o in zip(out["relay_s"], out["odoo_s"])]
    print(f"  relay − straight, paired median: {statistics.median(pairs) * 1000:+.0f} ms")
    grew = (out["relay_rss_peak_kib"] - out["relay_rss_before_kib"]) / 1024
    print(f"  relay memory: {out['relay_rss_before_kib'] / 1024:.1f} MiB before, peak {out['relay_rss_peak_kib'] / 1024:.1f} MiB "
          f"during its uploads (+{grew:.1f} MiB for a {out['size_bytes'] / 1048576:.0f} MiB file)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--odoo", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--channel", type=int, default=1, help="livechat channel id")
    p.add_argument("--size-mb", type=float, default=10)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--out", default="benchmarks/out")
    args = p.parse_args(argv)
    out = asyncio.run(run(args))
    out["pairs_ms"] = [(r - o) * 1000 for r, o in zip(out["relay_s"], out["odoo_s"])]
    report(out)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = Path(args.out) / f"bench_upload-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"  figures: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
