"""The Odoo Online path at the scale of a busy shop, against a real Odoo (issue 18): more than 100
conversations on the bus (and a bus cap past which the rest is polled), the batch poller with one
quiet conversation among busy ones and conversations opening and closing mid-poll, and a burst of
visitor messages larger than Odoo's database pool. No addon webhook: it is switched off."""
from __future__ import annotations

import asyncio
import collections
import random
import time

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import relay_for_addon

# Past the suite's 120 s a test: opening 100 conversations and the tests' own deadlines (up to 120 s
# for 300 messages to land in Odoo) take longer than that on a busy 2-core machine (the burst: 41 s
# on 17.0, 113 s on 18.0 in the same live gate, with other work on the cores)
pytestmark = [pytest.mark.odoo, pytest.mark.timeout(300)]


async def open_many(client: Client, odoo, count: int, name: str, parallel: int = 8) -> list[dict]:
    """``count`` conversations through the relay, ``parallel`` at a time (the operator kept online:
    17.0 forgets an operator after 65 s without presence)."""
    convs: list[dict] = []
    gate = asyncio.Semaphore(parallel)
    last_presence = [time.monotonic()]

    async def one(n: int) -> None:
        async with gate:
            if time.monotonic() - last_presence[0] > 20:
                last_presence[0] = time.monotonic()
                await asyncio.to_thread(odoo.operator_online)
            convs.append({**await client.create(visitor_name=f"{name} {n}"), "n": n})
    await asyncio.gather(*(one(n) for n in range(count)))
    return sorted(convs, key=lambda c: c["n"])


async def healthz(client: Client) -> dict:
    status, body, _ = await client.call("GET", "/healthz")
    assert status == 200, body
    return body


async def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} after {timeout}s"
        await asyncio.sleep(0.5)


async def operator_texts(client: Client, conv: dict) -> list[str]:
    body = await client.events(conv)
    return [e["message"]["text"] for e in body["events"]
            if e["type"] == "message" and e["message"]["author"]["kind"] != "visitor"]


async def replies_arrive(client: Client, odoo, convs: list[dict], label: str, timeout: float = 30) -> None:
    """One operator reply posted in Odoo in each of ``convs``; each reaches its conversation, once."""
    sent = {}
    for conv in convs:
        text = f"{label} reply to {conv['n']} {random.randrange(10**9)}"
        channel = await client.channel_of(conv["conversation_id"])
        await asyncio.to_thread(odoo.operator_reply, channel, f"<p>{text}</p>")
        sent[conv["conversation_id"]] = (conv, text)

    async def all_there():
        for conv, text in sent.values():
            if text not in await operator_texts(client, conv):
                return False
        return True
    try:
        await wait_for(all_there, timeout, f"{label}: not every reply arrived")
    except AssertionError:
        missing = [conv["n"] for conv, text in sent.values() if text not in await operator_texts(client, conv)]
        raise AssertionError(f"{label}: replies missing in conversations {missing}") from None
    for conv, text in sent.values():
        assert (await operator_texts(client, conv)).count(text) == 1, (conv["n"], text)


async def close_all(client: Client, convs: list[dict]) -> None:
    gate = asyncio.Semaphore(8)

    async def one(conv):
        async with gate:
            await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"])
    await asyncio.gather(*(one(c) for c in convs))


async def test_bus_follows_every_conversation_past_100_and_polls_past_its_cap(odoo, tmp_path):
    """130 conversations in bus mode with RELAY_ODOO_BUS_MAX=115: 115 bus sockets, 15 followed by
    polling (said in /healthz); a reply reaches each of a random sample past the 100th socket and
    each of the polled ones."""
    odoo.operator_online()
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "bus",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1",
           "RELAY_ODOO_BUS_MAX": "115"}
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            convs = await open_many(client, odoo, 130, "Bus scale")

            async def settled():
                body = await healthz(client)
                following = body["odoo"]["following"]
                return body if following.get("bus") == 115 and following.get("poll") == 15 else None
            body = await wait_for(settled, 90, "115 on the bus and 15 polled")
            assert body["odoo"]["bus_max"] == 115 and body["odoo"]["polled_past_bus_max"] == 15
            assert "bus full" in relay.logs()
            via = {}
            for conv in convs:   # which conversations are polled: the log names them
                via[conv["conversation_id"]] = "poll" if f'"conversation": "{conv["conversation_id"]}"' in \
                    "\n".join(line for line in relay.logs().splitlines() if "bus full" in line) else "bus"
            assert collections.Counter(via.values()) == {"bus": 115, "poll": 15}
            on_bus = [c for c in convs if via[c["conversation_id"]] == "bus"]
            polled = [c for c in convs if via[c["conversation_id"]] == "poll"]
            await replies_arrive(client, odoo, random.sample(on_bus[100:], 8) + random.sample(on_bus[:100], 4), "bus")
            await replies_arrive(client, odoo, polled, "polled")
            await close_all(client, convs)


async def test_batch_poller_is_not_pinned_by_a_quiet_conversation(odoo, tmp_path):
    """Poll mode with credentials: one quiet conversation opened first, then busy ones whose
    sessions get 1,200 operator messages (more than two of the poller's pages), while other
    conversations open and close during the polls; a new reply in the quiet one and in a busy one
    arrives, and so does every busy message."""
    if not (odoo.password or getattr(odoo, "api_key", None)):
        pytest.skip("no credentials for the batch poller")
    odoo.operator_online()
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "poll",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1",
           "RELAY_ODOO_LOGIN": odoo.login, "RELAY_ODOO_PASSWORD": odoo.password}
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            quiet = (await open_many(client, odoo, 1, "Quiet"))[0]
            busy = await open_many(client, odoo, 12, "Busy")
            channels = {c["conversation_id"]: await client.channel_of(c["conversation_id"]) for c in busy}
            admin_partner = odoo.execute("res.users", "read", [[odoo.uid], ["partner_id"]])[0]["partner_id"][0]
            comment = odoo.execute("ir.model.data", "search_read", [[["module", "=", "mail"], ["name", "=", "mt_comment"]]],
                                   {"fields": ["res_id"]})[0]["res_id"]
            rows = [{"model": "discuss.channel", "res_id": channels[busy[n % len(busy)]["conversation_id"]],
                     "message_type": "comment", "body": f"<p>bulk {n}</p>", "author_id": admin_partner,
                     "subtype_id": comment} for n in range(1200)]
            churn_stop = asyncio.Event()

            async def churn():   # conversations opening and closing while the poller runs
                n = 0
                while not churn_stop.is_set():
                    conv = await client.create(visitor_name=f"Churn {n}")
                    await asyncio.sleep(0.3)
                    await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"])
                    n += 1
            churner = asyncio.create_task(churn())
            for start in range(0, len(rows), 300):
                await asyncio.to_thread(odoo.execute, "mail.message", "create", [rows[start:start + 300]])
            await replies_arrive(client, odoo, [quiet, busy[5]], "after the bulk", timeout=45)

            async def every_bulk_message():
                got = 0
                for conv in busy:
                    got += sum(1 for t in await operator_texts(client, conv) if t.startswith("bulk "))
                return got == 1200
            await wait_for(every_bulk_message, 45, "every bulk message")
            churn_stop.set()
            await churner
            assert "dictionary changed size" not in relay.logs()
            assert "odoo batch poll failed" not in relay.logs(), relay.logs()[-3000:]
            body = await healthz(client)
            assert body["odoo"]["following"].get("batch") == 13
            await close_all(client, [quiet, *busy])


async def test_a_burst_of_300_visitor_messages_reaches_odoo_once_each_and_none_is_said_failed(odoo, tmp_path):
    """300 visitor messages in well under a second over 100 conversations: the relay sends at most
    RELAY_ODOO_MAX_REQUESTS at once, each conversation's in order; every message is in Odoo once and
    no visitor is told a message failed."""
    odoo.operator_online()
    env = {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "bus",
           "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1"}
    with relay_for_addon(odoo, tmp_path, env, enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            convs = await open_many(client, odoo, 100, "Burst")
            texts = {c["conversation_id"]: [f"burst {c['n']}.{k}" for k in range(3)] for c in convs}
            started = time.monotonic()
            answers = await asyncio.gather(*(client.send(c, f"b-{c['n']}-{k}", texts[c["conversation_id"]][k])
                                             for k in range(3) for c in convs))
            took = time.monotonic() - started
            assert all(status == 201 for status, _, _ in answers), [a[:2] for a in answers if a[0] != 201][:3]
            assert took < 5, took
            channels = {c["conversation_id"]: await client.channel_of(c["conversation_id"]) for c in convs}

            def in_odoo() -> dict[int, list[str]]:
                found = odoo.execute("mail.message", "search_read", [[
                    ["model", "=", "discuss.channel"], ["res_id", "in", list(channels.values())],
                    ["message_type", "=", "comment"], ["author_guest_id", "!=", False]]],
                    {"fields": ["res_id", "body"], "order": "id"})
                by_channel: dict[int, list[str]] = collections.defaultdict(list)
                for row in found:
                    by_channel[row["res_id"]].append(row["body"])
                return by_channel

            async def all_posted():
                return sum(len(v) for v in (await asyncio.to_thread(in_odoo)).values()) >= 300
            await wait_for(all_posted, 120, "300 visitor messages in Odoo")
            await asyncio.sleep(2)
            posted = await asyncio.to_thread(in_odoo)
            for conv in convs:   # once each, in the order sent
                assert posted[channels[conv["conversation_id"]]] == [f"<p>{t}</p>" for t in texts[conv["conversation_id"]]]
            for conv in convs:
                body = await client.events(conv)
                statuses = [e.get("status") or e.get("code") for e in body["events"] if e["type"] == "status"]
                assert "not_delivered" not in str(statuses), (conv["n"], statuses)
            assert "refused a visitor message" not in relay.logs()
            await close_all(client, convs)
