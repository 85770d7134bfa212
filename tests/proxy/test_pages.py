"""The visitor's page history (docs/protocol.md §6, issue 15 item 5) against the demo upstream:
``POST …/pages`` keeps the last 15 http(s) pages with the conversation (SQLite and Redis, across a
restart); what is no http(s) URL or too long is dropped; a body of the wrong shape, a wrong token
or another conversation's token is refused and stores nothing; the console's ``/history`` (as the
addon's ``livechat.history_requested`` webhook) is answered with the pages kept."""
from __future__ import annotations

import json

import aiohttp
import pytest

from tests import redisproc
from tests.conftest import Client
from tests.relayproc import RelayProcess, webhook_body


def path(conv: dict) -> str:
    return f"/v1/conversations/{conv['conversation_id']}/pages"


async def post(client, conv, body, token=None, **kw):
    if body is not None:
        kw["json"] = body
    return await client.call("POST", path(conv), conv["token"] if token is None else token, **kw)


def kept(client, conv) -> list[dict]:
    return client.upstream_of(conv["conversation_id"]).get("pages", [])


async def state_history(client, conv) -> list[str] | None:
    status, state, _ = await client.call("GET", "/demo/api/state")
    assert status == 200
    return state["page_history"].get(conv["conversation_id"])


async def test_pages_are_kept_deduped_and_only_the_last_15(client):
    conv = await client.create()
    status, _, headers = await post(client, conv, {"url": "https://shop.example/", "title": "Shop"})
    assert status == 204 and headers["X-Pages-Kept"] == "1"
    assert kept(client, conv) == [{"url": "https://shop.example/", "title": "Shop"}]
    # the same page again (a reload): not a second entry, its newer title kept
    assert (await post(client, conv, {"url": "https://shop.example/", "title": "Shop (2)"}))[0] == 204
    assert kept(client, conv) == [{"url": "https://shop.example/", "title": "Shop (2)"}]
    for i in range(20):
        assert (await post(client, conv, {"url": f"https://shop.example/p/{i}", "title": f"P{i}"}))[0] == 204
    pages = kept(client, conv)
    assert [p["url"] for p in pages] == [f"https://shop.example/p/{i}" for i in range(5, 20)]
    assert len(pages) == 15


async def test_pages_sent_at_once_when_the_conversation_starts(client):
    conv = await client.create()
    before = [{"url": f"http://site.example/{i}#top", "title": f"  Page\n{i}\t"} for i in range(3)]
    status, _, headers = await post(client, conv, {"pages": before})
    assert status == 204 and headers["X-Pages-Kept"] == "3"
    assert kept(client, conv) == [{"url": f"http://site.example/{i}#top", "title": f"Page {i}"} for i in range(3)]


@pytest.mark.parametrize("entry", [
    {"url": "javascript:alert(1)"},
    {"url": "JavaScript:alert(document.cookie)//https://x.example/"},
    {"url": "data:text/html,<script>alert(1)</script>"},
    {"url": "ftp://files.example/a"},
    {"url": "/relative/path"},
    {"url": "https://"},
    {"url": "https://[oops/"},
    {"url": "https://x.example/" + "a" * 2049},
    {"url": "https://x.example/a b"},
    {"url": "https://x.example/\u0000"},
    {"url": "https://x.example/", "title": "t" * 201},
])
async def test_what_is_no_http_url_or_too_long_is_dropped(client, entry):
    conv = await client.create()
    status, _, headers = await post(client, conv, entry)
    assert status == 204 and headers["X-Pages-Kept"] == "0"
    status, _, headers = await post(client, conv, {"pages": [entry, {"url": "https://ok.example/"}]})
    assert status == 204 and headers["X-Pages-Kept"] == "1"
    assert kept(client, conv) == [{"url": "https://ok.example/", "title": ""}]


@pytest.mark.parametrize("body", [
    {}, {"url": 5}, {"url": None}, {"url": ["https://x.example/"]}, {"title": "no url"},
    {"url": "https://x.example/", "title": 7}, {"pages": "https://x.example/"}, {"pages": [5]},
    {"pages": [{"url": "https://x.example/"}] * 16}, {"pages": {"url": "https://x.example/"}}, [], "x",
])
async def test_a_body_of_the_wrong_shape_is_400_and_stores_nothing(client, body):
    conv = await client.create()
    before = client.db_counts()
    status, answer, _ = await post(client, conv, body)
    assert (status, answer["error"]) == (400, "invalid_body"), answer
    assert client.db_counts() == before and kept(client, conv) == []


@pytest.mark.parametrize("raw", [b"{", b'{"url": "https://x.example/\\ud800"}', b"\xff\xfe", b'{"url": "https://x.example/"'])
async def test_malformed_json_or_invalid_unicode_is_400(client, raw):
    conv = await client.create()
    status, answer, _ = await post(client, conv, None, data=raw, headers={"Content-Type": "application/json"})
    assert status == 400, answer
    assert kept(client, conv) == []


async def test_wrong_or_other_conversations_token_is_refused(client):
    mine, other = await client.create(), await client.create()
    body = {"url": "https://x.example/secret"}
    assert (await post(client, mine, body, token="nope"))[0] == 401
    assert (await client.call("POST", path(mine), None, json=body))[0] == 401
    assert (await post(client, mine, body, token=other["token"]))[0] == 401
    assert kept(client, mine) == [] and kept(client, other) == []


async def test_origin_not_allowed_is_403(client):
    conv = await client.create()
    status, answer, _ = await post(client, conv, {"url": "https://x.example/"},
                                   headers={"Origin": "https://evil.example"})
    assert (status, answer["error"]) == (403, "origin_not_allowed")
    assert kept(client, conv) == []


async def test_closed_conversation_is_409(client):
    conv = await client.create()
    assert (await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/close", conv["token"]))[0] == 204
    status, answer, _ = await post(client, conv, {"url": "https://x.example/"})
    assert (status, answer["error"]) == (409, "conversation_closed")


async def test_the_operators_history_request_is_answered_with_the_pages(client):
    conv = await client.create()
    assert await state_history(client, conv) is None
    await post(client, conv, {"pages": [{"url": "https://shop.example/a", "title": "A"},
                                        {"url": "javascript:alert(1)"}, {"url": "https://shop.example/b"}]})
    status, answer, _ = await client.call("POST", "/demo/api/history", json={"conversation_id": conv["conversation_id"]})
    assert status == 200 and json.loads(answer["webhook_answer"])["status"] == "history", answer
    assert await state_history(client, conv) == ["https://shop.example/a", "https://shop.example/b"]


async def test_a_history_request_of_no_conversation_is_unbound_and_a_bad_operator_400(client):
    raw = webhook_body("livechat.history_requested", 987654, operator={"kind": "operator", "partner_id": 3})
    status, body, _ = await client.webhook(raw)
    assert (status, json.loads(body)["status"]) == (200, "unbound")
    raw = webhook_body("livechat.history_requested", 987654, operator={"kind": "nobody"})
    assert (await client.webhook(raw))[0] == 400


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_pages_survive_a_restart(tmp_path, backend):
    env, prefix = {}, None
    if backend == "redis":
        redisproc.shared_redis_or_skip()
        prefix = redisproc.new_prefix()
        env["RELAY_STORE"] = redisproc.shared_url(prefix)
    relay = RelayProcess(tmp_path, env=env).start()
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            conv = await client.create()
            await post(client, conv, {"url": "https://shop.example/kept", "title": "Kept"})
        relay.stop()
        relay.start()
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            await post(client, conv, {"url": "https://shop.example/after"})
            await client.call("POST", "/demo/api/history", json={"conversation_id": conv["conversation_id"]})
            assert await state_history(client, conv) == ["https://shop.example/kept", "https://shop.example/after"]
    finally:
        relay.stop()
        if prefix:
            redisproc.delete_prefix(prefix)
