"""Compare the widget's three transports on a running relay: how long an operator reply takes to
reach a visitor over WebSocket, long polling and short polling, and whether any is lost or doubled.

    python -m tools.compare_modes [--relay URL | --spawn] [--messages 100] [--rate 10] [--out DIR]

One conversation per mode, one client per conversation speaking that transport as the widget does
(``tools.transports``). After one warm-up reply per conversation, N operator replies are sent at R
per second to every conversation at once (open-loop schedule; per conversation one reply in flight
at a time, as the addon does). Latency = the client reading the event − the moment just before
the reply left this process (same clock, ``time.perf_counter``). ``lost`` = replies sent (or
refused) that never arrived; ``duplicated`` = arrivals of a reply already seen.

Exit status: 0 when nothing was lost or doubled, 1 otherwise (or on an error or the overall
timeout), 2 for a usage error.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime
import os
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from proxy import signing
from proxy.config import SETTINGS
from tools import compare_report
from tools.measure import latency_summary_ms, machine, open_loop
from tools.odoo_client import Odoo
from tools.relayproc import RelayProcess
from tools.replies import ConsoleReplies, OdooReplies, ReplyError, WebhookReplies
from tools.transports import MODES, ShortPollTransport, Transport, stop
from tools.widget_client import LONGPOLL_WAIT, POLL_INTERVAL, RelayError, WidgetClient

DEFAULT_RELAY = f"http://{next(s.default for s in SETTINGS if s.name == 'listen')}"   # RELAY_LISTEN's default
MARK = re.compile(r"compare_modes (?P<run>[0-9a-f]+) reply (?P<i>\d+|warm-up)\b")


class CompareError(Exception):
    """The comparison could not run (relay unreachable, replies refused, …); the text says why."""


class Tally:
    """What one mode's client got: the first arrival of each reply, and the doubles."""

    def __init__(self, run_id: str, on_first: Callable[[], None] = lambda: None):
        self.run_id, self.on_first = run_id, on_first
        self.sent: dict[int, float] = {}          # reply index -> perf_counter just before it left
        self.refused: dict[int, str] = {}         # reply index -> why the relay did not accept it
        self.arrived: dict[int, float] = {}       # reply index -> perf_counter of its first arrival
        self.duplicated = 0
        self.warm = asyncio.Event()

    def on_event(self, event: dict, arrived_at: float) -> None:
        if event.get("type") != "message":
            return
        found = MARK.match((event.get("message") or {}).get("text") or "")
        if not found or found["run"] != self.run_id:
            return
        if found["i"] == "warm-up":
            self.warm.set()
            return
        i = int(found["i"])
        if i in self.arrived:
            self.duplicated += 1
        else:
            self.arrived[i] = arrived_at
            self.on_first()

    def pending(self) -> bool:
        """Accepted replies not arrived yet."""
        return any(i not in self.arrived and i not in self.refused for i in self.sent)

    def figures(self, transport: Transport) -> dict:
        order = sorted(self.sent)
        samples = [round((self.arrived[i] - self.sent[i]) * 1000, 3) if i in self.arrived else None for i in order]
        got = [s / 1000 for s in samples if s is not None]
        return {"sent": len(order), "send_errors": len(self.refused),
                "send_error_reasons": dict(collections.Counter(self.refused.values()).most_common()),
                "received": len(got), "lost": len(order) - len(got), "duplicated": self.duplicated,
                **latency_summary_ms(got), "reconnects": transport.reconnects, "errors": dict(transport.errors),
                "warmed_up": self.warm.is_set(), "samples_ms": samples}


def transport_for(mode: str, client: WidgetClient, conv: dict, tally: Tally, poll_interval: float) -> Transport:
    if mode == "poll":
        return ShortPollTransport(client, conv, tally.on_event, interval=poll_interval)
    return MODES[mode](client, conv, tally.on_event)


def reply_text(run_id: str, i: int | str) -> str:
    return f"compare_modes {run_id} reply {i} sent {time.time():.6f}"


async def run(args, progress=None, on_sent: Callable[[int], None] | None = None) -> dict:
    """Run the comparison described by the parsed ``args``; return the report (see the JSON file)."""
    run_id = secrets.token_hex(4)
    modes = args.modes
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    t_start = time.perf_counter()
    host = machine()
    tallies = {m: Tally(run_id, (lambda: progress.update(1)) if progress else (lambda: None)) for m in modes}
    transports: dict[str, Transport] = {}
    tasks: list[asyncio.Task] = []
    info: dict = {"health": None, "via": None}
    timed_out = False
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        client = WidgetClient(http, args.relay, args.origin)
        try:
            async with asyncio.timeout(args.timeout):
                info["health"] = await _health(client)
                convs = {m: await client.create(visitor_name=f"compare_modes {m}") for m in modes}
                replies = _replies(args, client)
                info["via"] = replies.via
                await replies.prepare(list(convs.values()))
                for m in modes:
                    transports[m] = transport_for(m, client, convs[m], tallies[m], args.poll_interval)
                    tasks.append(asyncio.create_task(transports[m].run(), name=f"client-{m}"))
                await _warm_up(replies, convs, tallies, run_id, args.poll_interval + 10)
                await _send_all(args, replies, convs, tallies, run_id, on_sent)
                deadline = time.perf_counter() + args.poll_interval + 5
                while time.perf_counter() < deadline and any(t.pending() for t in tallies.values()):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            timed_out = True
            if not transports:
                raise CompareError(f"timed out after {args.timeout:g} s before the clients were connected") from None
        except (RelayError, ReplyError) as exc:
            raise CompareError(str(exc)) from None
        finally:
            await stop(tasks)
    figures = {m: tallies[m].figures(transports[m]) for m in modes}
    ok = not timed_out and all(f["lost"] == 0 and f["duplicated"] == 0 for f in figures.values())
    host["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return {"tool": "compare_modes", "format": 1, "run_id": run_id, "started": started,
            "duration_s": round(time.perf_counter() - t_start, 2), "relay": args.relay, "spawned": args.spawn,
            "relay_health": info["health"], "replies_via": info["via"],
            "config": {"messages": args.messages, "rate": args.rate, "modes": modes,
                       "poll_interval": args.poll_interval, "longpoll_wait": LONGPOLL_WAIT, "timeout": args.timeout},
            "machine": host, "timed_out": timed_out, "ok": ok, "modes": figures}


async def _health(client: WidgetClient) -> dict:
    try:
        _, body = await client.request("GET", "/healthz")
    except RelayError as exc:
        raise CompareError(f"relay {client.base_url} not usable: {exc}") from None
    if not isinstance(body, dict) or body.get("status") != "ok":
        raise CompareError(f"{client.base_url}/healthz did not answer like a relay: {str(body)[:100]!r}")
    return body


def _replies(args, client: WidgetClient):
    if args.odoo:
        odoo = Odoo(args.odoo, args.db, args.login, args.password, livechat_channel=None)   # replies only
        return OdooReplies(client, odoo)
    if args.secret:
        return WebhookReplies(client, args.secret)
    return ConsoleReplies(client)


async def _warm_up(replies, convs: dict, tallies: dict, run_id: str, timeout: float) -> None:
    """One reply per conversation, not measured: opens the connection pools, makes the demo
    operator join, and shows each client is live before the clock starts."""
    await asyncio.gather(*(replies.send(conv, reply_text(run_id, "warm-up")) for conv in convs.values()))
    waits = [asyncio.create_task(t.warm.wait()) for t in tallies.values()]
    _, pending = await asyncio.wait(waits, timeout=timeout)
    for w in pending:
        w.cancel()
    late = [m for m, t in tallies.items() if not t.warm.is_set()]
    if late:
        print(f"compare_modes: warning: no warm-up reply reached {', '.join(late)} within {timeout:g} s",
              file=sys.stderr)


async def _send_all(args, replies, convs: dict, tallies: dict, run_id: str, on_sent) -> None:
    locks = {m: asyncio.Lock() for m in convs}
    done = [0]

    async def one_mode(m: str, i: int) -> None:
        async with locks[m]:          # one reply in flight per conversation, in order
            text = reply_text(run_id, i)
            tallies[m].sent[i] = time.perf_counter()
            try:
                await replies.send(convs[m], text)
            except ReplyError as exc:
                tallies[m].refused[i] = str(exc)

    async def one(i: int, _due: float) -> None:
        await asyncio.gather(*(one_mode(m, i) for m in convs))
        done[0] += 1
        if on_sent:
            on_sent(done[0])

    await open_loop(args.messages, args.rate, one)


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.compare_modes", description=__doc__.split("\n\n")[0])
    p.add_argument("--relay", help=f"the relay's base URL (default {DEFAULT_RELAY})")
    p.add_argument("--spawn", action="store_true", help="start a throwaway demo relay on a free loopback port")
    p.add_argument("--origin", help="Origin header of the visitor's page (default: the relay's own origin)")
    p.add_argument("--messages", type=int, default=100, metavar="N", help="operator replies per mode (default 100)")
    p.add_argument("--rate", type=float, default=10.0, metavar="R", help="replies per second (default 10)")
    p.add_argument("--modes", default="ws,longpoll,poll", help="comma-separated: ws,longpoll,poll (default all)")
    p.add_argument("--poll-interval", type=float, default=POLL_INTERVAL, metavar="S",
                   help=f"seconds between short polls (default {POLL_INTERVAL:g}, as the widget)")
    p.add_argument("--out", default="compare-out", help="directory for compare_modes.json and .png (default ./compare-out)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="give up after S seconds (default: N/R + 2 × poll interval + 60)")
    p.add_argument("--secret", metavar="whsec_…",
                   help="the relay's webhook secret: replies go as signed webhooks, as the addon sends them "
                        "(default RELAY_WEBHOOK_SECRET; without one, a demo relay's console sends them)")
    odoo = p.add_argument_group("operator replies through a real Odoo the relay runs against")
    odoo.add_argument("--odoo", metavar="URL", help="Odoo base URL: replies are posted there by JSON-RPC")
    odoo.add_argument("--db", help="Odoo database")
    odoo.add_argument("--login", default="admin", help="operator's login (default admin)")
    odoo.add_argument("--password", default=os.environ.get("ODOO_PASSWORD", "admin"),
                      help="operator's password (default ODOO_PASSWORD or admin)")
    args = p.parse_args(argv)
    if args.secret is None and not args.spawn:    # the first one while secrets rotate
        args.secret = next(iter(os.environ.get("RELAY_WEBHOOK_SECRET", "").split()), None)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in args.modes if m not in MODES]
    if unknown or not args.modes or len(set(args.modes)) != len(args.modes):
        p.error(f"--modes: a comma-separated subset of {','.join(MODES)}, each once")
    if args.messages < 1 or not 0 < args.rate <= 1000 or args.poll_interval <= 0:
        p.error("--messages must be ≥ 1, --rate in (0, 1000], --poll-interval > 0")
    if args.spawn and (args.relay or args.odoo):
        p.error("--spawn starts its own demo relay: not with --relay or --odoo")
    if args.odoo and not args.db:
        p.error("--odoo needs --db")
    if args.secret and not args.secret.startswith("whsec_"):
        p.error("--secret: a whsec_… secret")
    if args.timeout is not None and args.timeout <= 0:
        p.error("--timeout must be positive")
    args.relay = (args.relay or DEFAULT_RELAY).rstrip("/")
    if args.timeout is None:
        args.timeout = args.messages / args.rate + 2 * args.poll_interval + 60
    return args


@contextlib.contextmanager
def spawned_relay(args):
    """With ``--spawn``: a demo relay in a temporary directory, with a fresh webhook secret."""
    if not args.spawn:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="compare-modes-") as tmp:
        args.secret = signing.new_secret()
        relay = RelayProcess(Path(tmp), {"RELAY_WEBHOOK_SECRET": args.secret, "RELAY_SECRET": secrets.token_hex(16)})
        try:
            relay.start()
        except RuntimeError as exc:
            relay.stop()
            raise CompareError(f"the spawned relay did not start: {exc}") from None
        args.relay = relay.url
        try:
            yield relay
        finally:
            relay.stop()


def main(argv: list[str] | None = None, on_sent: Callable[[int], None] | None = None) -> int:
    """The command; ``on_sent(k)`` is called each time reply k (1-based) went to every conversation
    (the tests use it to break things halfway)."""
    args = parse_args(argv)
    try:
        import matplotlib  # noqa: F401  (checked now rather than after the run)
        from tqdm import tqdm
    except ImportError as exc:
        print(f"compare_modes: {exc.name} is missing: pip install -e '.[tools]'", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with spawned_relay(args):
            with tqdm(total=args.messages * len(args.modes), unit="reply", file=sys.stderr,
                      desc="delivered", dynamic_ncols=True, disable=None) as bar:
                def sent(k: int) -> None:
                    bar.set_postfix_str(f"sent {k}/{args.messages}", refresh=False)
                    if on_sent:
                        on_sent(k)

                report = asyncio.run(run(args, bar, sent))
    except CompareError as exc:
        print(f"compare_modes: error: {exc}", file=sys.stderr)
        return 1
    compare_report.write_json(report, out / "compare_modes.json")
    compare_report.write_chart(report, out / "compare_modes.png")
    m = report["machine"]
    print(compare_report.table(report))
    print(f"machine: {m['cpu_model']}, {m['cores']} cores, Python {m['python']}, aiohttp {m['aiohttp']}, "
          f"load average {m['loadavg_at_start']} → {m['loadavg_at_end']}")
    print(f"written: {out / 'compare_modes.json'}, {out / 'compare_modes.png'}")
    print("these are the widget's transports; for how replies reach the relay from Odoo (webhook, bus, shared_bus, "
          "poll) at your number of conversations, see docs/troubleshooting.md, 'Which reply mode'")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
