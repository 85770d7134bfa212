"""``RELAY_ODOO_REPLIES=shared_bus`` against a real Odoo (issue 18 item 4): ONE bus WebSocket,
logged in as a dedicated non-operator user (Live Chat Administrator on 17/18, Live Chat User on 19),
follows every open conversation. No addon webhook: it is switched off."""
from __future__ import annotations

import asyncio
import os
import random
import time
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.conftest import Client
from tests.odoo.test_addon_live import relay_for_addon
from tests.odoo.test_scale_live import close_all, healthz, open_many, operator_texts, replies_arrive, wait_for

pytestmark = pytest.mark.odoo
LOGIN, PASSWORD = "relay-shared-bus", "relay-shared-bus-Pw-2026"


def shared_user(odoo) -> int:
    """The dedicated user of the shared socket: internal, able to read every livechat session, not
    an operator of the livechat channel. Created once, reused after."""
    group = "im_livechat_group_user" if odoo.major >= 19 else "im_livechat_group_manager"
    refs = {r["name"]: r["res_id"] for r in odoo.execute("ir.model.data", "search_read", [[
        "|", "&", ["module", "=", "im_livechat"], ["name", "=", group],
        "&", ["module", "=", "base"], ["name", "=", "group_user"]]], {"fields": ["name", "res_id"]})}
    field = "group_ids" if odoo.major >= 19 else "groups_id"
    groups = [(4, refs[group]), (4, refs["group_user"])]
    found = odoo.execute("res.users", "search", [[["login", "=", LOGIN]]])
    if found:
        uid = found[0]
        odoo.execute("res.users", "write", [[uid], {field: groups, "password": PASSWORD}])
    else:
        uid = odoo.execute("res.users", "create", [{"name": "Relay shared bus", "login": LOGIN, "password": PASSWORD,
                                                     field: groups}])
        uid = uid[0] if isinstance(uid, list) else uid
    odoo.execute("im_livechat.channel", "write", [[odoo.livechat_channel], {"user_ids": [(3, uid)]}])
    return uid


def relay_env(odoo) -> dict:
    return {"RELAY_ODOO_URL": odoo.url, "RELAY_ODOO_DB": odoo.db, "RELAY_ODOO_REPLIES": "shared_bus",
            "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel), "RELAY_ODOO_POLL_INTERVAL": "1",
            "RELAY_ODOO_LOGIN": LOGIN, "RELAY_ODOO_PASSWORD": PASSWORD, "RELAY_LOG_LEVEL": "info"}


def connections_to(pid: int, port: int) -> int:
    """Established TCP connections of process ``pid`` to ``port`` (Linux /proc)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "01" and int(cols[2].rsplit(":", 1)[1], 16) == port and cols[9] in inodes:
                    count += 1
    return count


async def on_socket(client: Client, count: int, timeout: float = 60) -> dict:
    async def ready():
        body = (await healthz(client))["odoo"]
        return body if body["following"] == {"shared_bus": count} and body["shared_bus"]["connected"] else None
    return await wait_for(ready, timeout, f"{count} conversations on the shared socket")


async def events_of(client: Client, conv: dict, type_: str) -> list[dict]:
    return [e for e in (await client.events(conv))["events"] if e["type"] == type_]


async def test_one_socket_follows_30_conversations(odoo, tmp_path):
    shared_user(odoo)
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, relay_env(odoo), enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            convs = await open_many(client, odoo, 30, "Shared bus")
            body = await on_socket(client, 30)
            assert body["replies"] == "shared_bus"
            assert body["shared_bus"]["sockets"] == 1 and body["shared_bus"]["connections"] == 1, body
            assert body["shared_bus"]["channels"] == 30
            # one socket to Odoo for 30 conversations (bus mode holds 30); a few pooled HTTP connections besides
            open_to_odoo = connections_to(relay.proc.pid, urlsplit(odoo.url).port)
            assert 1 <= open_to_odoo < 10, open_to_odoo
            assert "is an operator" not in relay.logs()
            odoo.operator_online()
            await replies_arrive(client, odoo, random.sample(convs, 6), "shared")
            # an edit names no channel: it reaches its own conversation only
            target, others = convs[3], [convs[2], convs[4]]
            text = f"to be edited {random.randrange(10**9)}"
            mid = await asyncio.to_thread(odoo.operator_reply, await client.channel_of(target["conversation_id"]),
                                          f"<p>{text}</p>")
            await wait_for(lambda: _has(client, target, text), 20, "the message to edit")
            await asyncio.to_thread(odoo.operator_edit, mid, f"<p>{text} (edited)</p>")

            async def edited():
                return await events_of(client, target, "message_updated")
            updated = await wait_for(edited, 20, "the edit")
            assert [e["message"]["text"] for e in updated] == [f"{text} (edited)"]
            assert [e["message"]["id"] for e in updated] == [f"odoo:{mid}"]
            await asyncio.sleep(2)
            for other in others:
                assert await events_of(client, other, "message_updated") == []
            # a conversation opened once the socket is up: the next subscribe carries it
            odoo.operator_online()
            late = (await open_many(client, odoo, 1, "Shared bus late"))[0]
            await on_socket(client, 31, timeout=30)
            await replies_arrive(client, odoo, [late], "late")
            body = (await healthz(client))["odoo"]
            assert body["shared_bus"]["connections"] == 1 and body["shared_bus"]["sockets"] == 1
            assert "odoo shared bus failed" not in relay.logs(), relay.logs()[-3000:]
            await close_all(client, convs + [late])


async def _has(client: Client, conv: dict, text: str) -> bool:
    return text in await operator_texts(client, conv)


async def test_nothing_is_lost_across_a_relay_restart(odoo, tmp_path):
    """Replies and an edit made while the relay is stopped: after the restart the reply arrives once
    (catch-up poll and bus replay) and the edit by the bus replay from the saved bus id."""
    shared_user(odoo)
    odoo.operator_online()
    with relay_for_addon(odoo, tmp_path, relay_env(odoo), enabled=False) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            convs = await open_many(client, odoo, 3, "Shared restart")
            await on_socket(client, 3)
            channel = await client.channel_of(convs[0]["conversation_id"])
            first = f"before {random.randrange(10**9)}"
            mid = await asyncio.to_thread(odoo.operator_reply, channel, f"<p>{first}</p>")
            await wait_for(lambda: _has(client, convs[0], first), 20, "the first reply")
            await asyncio.to_thread(relay.stop)
            odoo.operator_online()
            during = f"while stopped {random.randrange(10**9)}"
            await asyncio.to_thread(odoo.operator_reply, channel, f"<p>{during}</p>")
            await asyncio.to_thread(odoo.operator_edit, mid, f"<p>{first} (edited while stopped)</p>")
            started = time.monotonic()
            await asyncio.to_thread(relay.start)
            await on_socket(client, 3)
            await wait_for(lambda: _has(client, convs[0], during), 20, "the reply made while stopped")

            async def edited():
                return await events_of(client, convs[0], "message_updated")
            updated = await wait_for(edited, 20, "the edit made while stopped")
            assert updated[-1]["message"]["text"] == f"{first} (edited while stopped)", time.monotonic() - started
            await asyncio.sleep(2)
            assert (await operator_texts(client, convs[0])).count(during) == 1
            # read by the catch-up poll and again in the socket's replay: stored once
            assert [e["message"]["text"] for e in await edited()] == [f"{first} (edited while stopped)"]
            for other in convs[1:]:
                assert await events_of(client, other, "message_updated") == []
            await close_all(client, convs)
