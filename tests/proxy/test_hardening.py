"""Issue 14, one test per finding: slow clients, lone surrogates and huge numbers, tokens on open
sockets, tokens in logs, private store files, demo exposure, and the forwarded client address.
(The bot client and the sanitizer have theirs in test_bot_client.py and test_sanitize.py.)"""
from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from proxy import keys, signing
from proxy.api.common import client_ip
from proxy.config import Settings
from tests.conftest import Client
from tests.redisproc import relay_on
from tests.relayproc import ROOT, SECRET, RelayProcess, new_webhook_id, operator_message, webhook_body

SURROGATE = "\\ud800"          # as it travels in JSON: an escape json.loads turns into a lone surrogate


async def _open(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> float | None:
    """Seconds until the relay ended the connection (EOF or reset), None if it still stands."""
    start = time.monotonic()
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), seconds - (time.monotonic() - start))
            if not data:
                return time.monotonic() - start
    except (ConnectionError, OSError):
        return time.monotonic() - start
    except asyncio.TimeoutError:
        return None


# ---------------------------------------------------------------- 1. slow clients

@pytest.mark.faults
async def test_300_slow_webhook_bodies_leave_the_addon_through_and_are_ended_within_40s(tmp_path):
    """Finding 1: 300 unauthenticated webhooks (headers that look right, a 100 kB body announced, one
    byte sent) from two addresses; a genuine signed webhook is accepted at once, and the relay ends
    every slow one within 40 s."""
    relay = RelayProcess(tmp_path).start()      # default timeouts and limits
    slow = []
    try:
        raw_ts = str(int(time.time()))
        fake_sig = "v1," + "A" * 43 + "="
        head = (f"POST /v1/webhooks/odoo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"webhook-id: msg_slow\r\nwebhook-timestamp: {raw_ts}\r\nwebhook-signature: {fake_sig}\r\n"
                f"Content-Length: 100000\r\n\r\n{{").encode()
        started = time.monotonic()
        for i in range(300):
            reader, writer = await _open(relay.port, "127.0.0.2" if i % 2 else "127.0.0.3")
            writer.write(head)
            slow.append((reader, writer))
        await asyncio.gather(*(w.drain() for _, w in slow))
        await asyncio.sleep(0.5)
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            t0 = time.monotonic()
            await client.reply(conv, 1, "a genuine reply")          # asserts 200
            assert time.monotonic() - t0 < 2
            assert (await client.events(conv))["events"][-1]["message"]["text"] == "a genuine reply"
        ended = await asyncio.gather(*(_closed_within(r, 40 - (time.monotonic() - started)) for r, _ in slow))
        assert all(e is not None for e in ended), f"{sum(e is None for e in ended)} slow bodies still open after 40 s"
        assert time.monotonic() - started < 40
    finally:
        for _, w in slow:
            w.close()
        relay.stop()


async def test_slowloris_headers_are_closed_after_the_header_timeout(tmp_path):
    """A request whose headers trickle in is closed after RELAY_HEADER_TIMEOUT, while others are served."""
    relay = RelayProcess(tmp_path, env={"RELAY_HEADER_TIMEOUT": "2"}).start()
    conns = []
    try:
        for _ in range(50):
            reader, writer = await _open(relay.port, "127.0.0.2")
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            conns.append((reader, writer))

        async def trickle():
            for _ in range(8):
                for _, w in conns:
                    if not w.is_closing():
                        w.write(b"X-a: b\r\n")
                await asyncio.sleep(0.5)
        feeder = asyncio.create_task(trickle())
        async with aiohttp.ClientSession() as http:
            async with http.get(relay.url + "/healthz") as r:
                assert r.status == 200
        ended = await asyncio.gather(*(_closed_within(r, 5) for r, _ in conns))
        feeder.cancel()
        assert all(e is not None and e < 4.5 for e in ended), ended
    finally:
        for _, w in conns:
            w.close()
        relay.stop()


async def test_connections_per_address_are_capped_before_headers(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_MAX_CONNECTIONS_PER_IP": "5"}).start()
    idle = []
    try:
        for _ in range(5):
            idle.append(await _open(relay.port, "127.0.0.2"))
        await asyncio.sleep(0.2)
        reader, writer = await _open(relay.port, "127.0.0.2")
        answer = await asyncio.wait_for(reader.read(), 5)         # refused: 429, then closed
        assert answer.startswith(b"HTTP/1.1 429") and b"too_many_connections" in answer
        writer.close()
        async with aiohttp.ClientSession() as http:               # another address is served
            async with http.get(relay.url + "/healthz") as r:
                assert r.status == 200
        idle.pop()[1].close()                                     # one slot freed: the address is served again
        await asyncio.sleep(0.3)
        reader, writer = await _open(relay.port, "127.0.0.2")
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        for _, w in idle:
            w.close()
        relay.stop()


async def test_a_slow_body_is_answered_408_and_closed(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_BODY_TIMEOUT": "1"}).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        writer.write(b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        t0 = time.monotonic()
        answer = await asyncio.wait_for(reader.read(), 5)           # then closed (1 s of lingering at most)
        assert answer.startswith(b"HTTP/1.1 408") and b"body_timeout" in answer
        assert time.monotonic() - t0 < 4
        writer.close()
        async with aiohttp.ClientSession() as http:
            assert Client(relay, http).db_counts()[0] == 0        # nothing was created
    finally:
        relay.stop()


# ---------------------------------------------------------------- 2. lone surrogates, huge numbers

@pytest.fixture(params=["sqlite", "redis"])
def store_relay(request, tmp_path):
    with relay_on(request.param, tmp_path) as relay:
        yield relay


async def _post_raw(http, url, raw: bytes, token=None, headers=None):
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if token:
        hdrs["Authorization"] = "Bearer " + token
    async with http.post(url, data=raw, headers=hdrs) as r:
        return r.status, await r.json()


async def test_invalid_unicode_and_huge_numbers_are_400_on_every_route(store_relay):
    relay = store_relay
    async with aiohttp.ClientSession() as http:
        client = Client(relay, http)
        for body in (f'{{"visitor_name":"{SURROGATE}"}}', f'{{"page_url":"https://x.example/{SURROGATE}"}}',
                     f'{{"lang":"{SURROGATE}"}}', '{"livechat_channel_id": 1180591620717411303424}',
                     f'{{"{SURROGATE}": 1}}'):
            status, answer = await _post_raw(http, relay.url + "/v1/conversations", body.encode())
            assert status == 400 and answer["error"] in ("invalid_unicode", "number_out_of_range", "invalid_body"), (body, answer)
        conv = await client.create()
        cid = conv["conversation_id"]
        before = (await client.events(conv))["events"]
        for path, body in ((f"/v1/conversations/{cid}/messages", f'{{"client_id":"a","text":"hi {SURROGATE}"}}'),
                           (f"/v1/conversations/{cid}/messages", f'{{"client_id":"{SURROGATE}","text":"hi"}}'),
                           (f"/v1/conversations/{cid}/messages", '{"client_id":"a","text":"x","n":1e999}'),
                           (f"/v1/conversations/{cid}/typing", f'{{"typing":true,"x":"{SURROGATE}"}}'),
                           (f"/v1/conversations/{cid}/close", f'{{"x":"{SURROGATE}"}}')):
            status, answer = await _post_raw(http, relay.url + path, body.encode(), conv["token"])
            assert status == 400 and answer["error"] in ("invalid_unicode", "number_out_of_range"), (body, answer)
        channel = 7
        hostile = [
            {"id": 5, "author": {"kind": "operator", "name": "Op"}, "body_html": f"<p>{SURROGATE}</p>"},
            {"id": 5, "author": {"kind": "operator", "name": "Op"}, "body_html": "<p>x</p>", "body_text": SURROGATE},
            {"id": 2 ** 40, "author": {"kind": "operator", "name": "Op"}, "body_html": "<p>x</p>"},
        ]
        for message in hostile:
            raw = webhook_body("livechat.message.created", channel, message=message).replace(b"\\\\ud800", b"\\ud800")
            assert (b"\\ud800" in raw) == (message["id"] == 5)
            status, body, _ = await client.webhook(raw)
            assert status == 400, (message, body)
        raw = webhook_body("livechat.message.created", 2 ** 70, message=operator_message(6, "x"))
        status, body, _ = await client.webhook(raw)
        assert status == 400 and "Traceback" not in body
        assert (await client.events(conv))["events"] == before                   # nothing changed
        assert "Traceback" not in relay.logs()


async def test_a_bad_websocket_frame_gets_an_error_frame_and_the_socket_lives_on(store_relay):
    relay = store_relay
    async with aiohttp.ClientSession() as http:
        client = Client(relay, http)
        conv = await client.create()
        async with client.ws(conv, after=conv["last_seq"]) as ws:
            assert (await ws.receive_json())["type"] == "hello"
            for frame, code in ((f'{{"type":"send","client_id":"{SURROGATE}","text":"hi"}}', "invalid_unicode"),
                                (f'{{"type":"send","client_id":"a","text":"{SURROGATE}"}}', "invalid_unicode"),
                                ('{"type":"typing","typing":true,"n":123456789012345678901234567890}', "number_out_of_range"),
                                ('{"type":"send"', "invalid_json")):
                await ws.send_str(frame)
                msg = await ws.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                answer = json.loads(msg.data)
                assert answer["type"] == "error" and answer["code"] == code, answer
            await ws.send_str('{"type":"ping"}')
            assert (await ws.receive_json(timeout=5))["type"] == "pong"
            await ws.send_str('{"type":"send","client_id":"ok-1","text":"still here"}')
            kinds = {(await ws.receive_json(timeout=5))["type"] for _ in range(2)}
            assert kinds == {"ack", "event"}
        texts = [e["message"]["text"] for e in (await client.events(conv))["events"] if e["type"] == "message"]
        assert texts == ["still here"]
    assert "Traceback" not in relay.logs()


# ---------------------------------------------------------------- 3. tokens on open sockets

async def test_a_websocket_is_closed_with_4401_when_its_token_expires(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_TOKEN_TTL": "2"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            async with client.ws(conv, after=conv["last_seq"]) as ws:
                assert (await ws.receive_json())["type"] == "hello"
                t0 = time.monotonic()
                msg = await ws.receive(timeout=6)
                assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4401, msg
                assert msg.extra == "token_expired"
                assert conv["expires_at"] - 1 <= time.time() < conv["expires_at"] + 2
                assert time.monotonic() - t0 < 4
    finally:
        relay.stop()


# ---------------------------------------------------------------- 4. tokens never logged

async def test_a_token_in_an_oversized_header_never_reaches_the_log(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_LOG_LEVEL": "debug"}).start()
    try:
        async with aiohttp.ClientSession() as http:
            conv = await Client(relay, http).create()
        token = conv["token"]
        for header in (f"Authorization: Bearer {token}{'x' * 9000}", f"X-Note: {token}{'y' * 9000}"):
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(f"GET /v1/conversations/{conv['conversation_id']}/events?token={token} HTTP/1.1\r\n"
                         f"Host: x\r\n{header}\r\n\r\n".encode())
            answer = await asyncio.wait_for(reader.read(), 5)
            assert answer.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4"))
            writer.close()
        await asyncio.sleep(0.3)
        logs = relay.logs()
        assert "Error handling request" in logs or "bad_request" in logs or '"status": 4' in logs  # it was logged
        assert token.rsplit(".", 1)[1] not in logs and token not in logs
    finally:
        relay.stop()


def test_the_redacting_filter_covers_every_secret_shape():
    import logging

    from proxy.logs import RedactingFilter
    record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "bad line %r", (
        b"Authorization: Bearer v1.c_abc.1790000000.AbCdEf0123456789_-xyzw, whsec_c2VjcmV0 ?token=abc123&x=1",), None)
    try:
        raise ValueError("header v1.c_abc.1790000000.AbCdEf0123456789_-xyzw")
    except ValueError:
        record.exc_info = sys.exc_info()
    record.detail = "guest_token=42|abcdefghijklmnopqrstuvwxyz"
    RedactingFilter().filter(record)
    text = record.getMessage() + record.exc_text + record.detail
    for secret in ("AbCdEf0123456789", "c2VjcmV0", "abc123", "abcdefghijklmnop"):
        assert secret not in text, text
    assert "[redacted]" in text and "&x=1" in text


# ---------------------------------------------------------------- 5. private store files

def test_the_sqlite_store_and_its_wal_are_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        relay = RelayProcess(tmp_path).start()
    finally:
        os.umask(old)
    try:
        files = [p for p in tmp_path.iterdir() if p.name.startswith("relay.db")]
        assert {p.name for p in files} >= {"relay.db", "relay.db-wal", "relay.db-shm"}
        for p in files:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p.name, oct(p.stat().st_mode))
    finally:
        relay.stop()


def test_an_older_world_readable_store_is_tightened(tmp_path):
    db = tmp_path / "relay.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    relay = RelayProcess(tmp_path).start()
    try:
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
    finally:
        relay.stop()


# ---------------------------------------------------------------- 6. demo mode

def test_demo_mode_refuses_a_non_loopback_listen_address(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update({"RELAY_LISTEN": "0.0.0.0:0", "RELAY_STORE": f"sqlite:///{tmp_path}/r.db", "PYTHONPATH": str(ROOT)})
    done = subprocess.run([sys.executable, "-m", "proxy"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "loopback" in done.stderr
    assert not (tmp_path / "r.db").exists()


async def test_demo_console_answers_only_loopback_host_names_and_cannot_be_framed(tmp_path):
    relay = RelayProcess(tmp_path, env={"RELAY_WEBHOOK_SECRET": ""}).start()
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/demo", "/demo/api/state"):
                async with http.get(relay.url + path, headers={"Host": f"rebind.evil.example:{relay.port}"}) as r:
                    assert r.status == 421 and (await r.json())["error"] == "host_not_allowed"
            async with http.post(relay.url + "/demo/api/reply", json={"conversation_id": "x", "text": "hi"},
                                 headers={"Host": "rebind.evil.example"}) as r:
                assert r.status == 421
            for host in (f"127.0.0.1:{relay.port}", f"localhost:{relay.port}"):
                async with http.get(relay.url + "/demo", headers={"Host": host}) as r:
                    assert r.status == 200
                    assert r.headers["X-Frame-Options"] == "DENY"
                    csp = r.headers["Content-Security-Policy"]
                    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
            async with http.get(relay.url + "/demo/api/state") as r:
                assert r.status == 200
    finally:
        relay.stop()


# ---------------------------------------------------------------- 9. forwarded client address

def _ip(xff: list[str], hops: int = 1, trust: bool = True) -> str:
    from aiohttp import web
    app = web.Application()
    app[keys.SETTINGS] = Settings(trust_forwarded=trust, forwarded_hops=hops)
    headers = [("X-Forwarded-For", v) for v in xff]
    req = make_mocked_request("GET", "/", headers=headers, app=app)
    return client_ip(req)


def test_forwarded_address_is_what_the_nearest_trusted_proxy_saw():
    # the client wrote "6.6.6.6" itself; nginx appended the address it saw
    assert _ip(["6.6.6.6, 203.0.113.7"]) == "203.0.113.7"
    assert _ip(["6.6.6.6", "203.0.113.7"]) == "203.0.113.7"                   # two header lines
    assert _ip(["6.6.6.6, 203.0.113.7, 10.0.0.2"], hops=2) == "203.0.113.7"   # CDN then nginx
    assert _ip(["203.0.113.7"], hops=2) != "203.0.113.7"                      # too few hops: not trusted
    assert _ip(["6.6.6.6"], trust=False) != "6.6.6.6"


def test_signature_headers_are_checked_before_the_body():
    now = time.time()
    good = signing.headers_for([SECRET], new_webhook_id(), b"{}")
    signing.check_headers(good, now)
    for broken in ({**good, "webhook-timestamp": str(int(now) - 400)}, {**good, "webhook-timestamp": "12a"},
                   {**good, "webhook-signature": "v1,short"}, {k: v for k, v in good.items() if k != "webhook-id"}):
        with pytest.raises(signing.SignatureError):
            signing.check_headers(broken, now)
