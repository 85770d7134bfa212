"""Routes chosen by trying them (issue 15 item 6), against a real Odoo behind a RouteLine (an HTTP
forwarder that can hide the version string and answer 404 for chosen routes):

- the relay and tools.probe told nothing of the version (no version at all, or one the relay does
  not know: "21.0", "saas~19.2"), and it still works end to end (conversation, message, reply)
  with the features reported right in /healthz and by the probe;
- one route at a time answered 404 from the start: that feature reported missing, or its
  alternative used (checked in Odoo), and its relay API 409 not_offered, never a 5xx;
- a route that starts failing with 404 while the relay runs (an upgraded Odoo): checked again, the
  alternative taken, or 409 not_offered.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import aiohttp
import pytest

from proxy.odoo import capabilities
from tests.odoo.livechat import answered, live_conversation
from tests.odoo.test_probe_live import ROOT, checks
from tests.routeline import RouteLine

pytestmark = pytest.mark.odoo

# what each real series offers (checked in source and on the rigs: 17 has no PDF transcript and
# 18 neither; 19 mails no transcript to guests)
NOT_OFFERED = {17: {"transcript_pdf"}, 18: {"transcript_pdf"}, 19: {"transcript_mail"}}
OWN = {   # the variant each series' own widget uses, for the features that differ
    17: {"config": "init", "seen": "cors_set_last_seen", "typing": "cookie", "rating": "legacy",
         "avatars": "cors_partner", "files": "cors_attachment", "history": "legacy", "transcript_mail": "legacy"},
    18: {"config": "cors_init", "seen": "cors_mark_as_read", "typing": "cors", "rating": "cors",
         "avatars": "cors_image", "files": "cors_attachment", "history": "cors", "transcript_mail": "cors"},
    19: {"config": "cors_data", "seen": "cors_mark_as_read", "typing": "cors", "rating": "cors",
         "avatars": "web_image", "files": "web_content", "history": "cors", "transcript_pdf": "cors"},
}


def expected(major: int) -> dict[str, bool]:
    return {name: name not in NOT_OFFERED[major] for name in capabilities.FEATURES}


@pytest.fixture
def line(odoo):
    found = RouteLine(odoo.url).start()
    yield found
    found.stop()


async def features_of(client) -> dict:
    """/healthz's odoo.features once the start-up check is done."""
    deadline = time.monotonic() + 20
    while True:
        async with client.http.get(client.relay.url + "/healthz") as resp:
            body = await resp.json()
        features = (body.get("odoo") or {}).get("features")
        if features is not None or time.monotonic() > deadline:
            return features
        await asyncio.sleep(0.2)


def guest_messages(odoo, channel_id: int) -> list[str]:
    rows = odoo.execute("mail.message", "search_read", [[["model", "=", "discuss.channel"], ["res_id", "=", channel_id],
                                                         ["author_guest_id", "!=", False]]], {"fields": ["body"]})
    return [r["body"] for r in rows]


async def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    return found


@pytest.mark.parametrize("serie", ["", "21.0", "saas~19.2"])
@pytest.mark.parametrize("mode", ["webhook", "poll"])
async def test_the_relay_told_nothing_of_the_version_works_end_to_end(odoo, tmp_path, line, serie, mode):
    if serie == "saas~19.2" and (odoo.major != 19 or mode == "poll"):
        pytest.skip("a saas~19 build is a 19: once, on 19")
    line.serie = serie
    async with live_conversation(odoo, tmp_path, "Visitor of an unknown Odoo", mode,
                                 RELAY_ODOO_URL=line.url) as (client, conv, channel_id):
        assert await features_of(client) == expected(odoo.major)
        status, *_ = await client.call("POST", f"/v1/conversations/{conv['conversation_id']}/messages",
                                      conv["token"], json={"text": "Hello from a relay that guessed nothing",
                                                           "client_id": "c-1"})
        assert status in (200, 201, 202)
        assert await wait_for(lambda: any("guessed nothing" in b for b in guest_messages(odoo, channel_id)))
        [(_, event)] = await answered(odoo, client, conv, channel_id, "<p>Answered all the same</p>")
        assert "Answered all the same" in event["message"]["text"]
    assert ("POST", "/web/webclient/version_info") in line.hits


def run_probe(url: str, odoo) -> dict:
    argv = [sys.executable, "-m", "tools.probe", url, "--db", odoo.db, "--livechat-channel",
            str(odoo.livechat_channel), "--json"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return json.loads(done.stdout)


@pytest.mark.parametrize("serie", ["", "21.0"])
def test_the_probe_told_nothing_of_the_version_reports_each_feature(odoo, line, serie):
    odoo.operator_online()
    line.serie = serie
    report = run_probe(line.url, odoo)
    c = checks(report)
    assert c["odoo"]["status"] == "info" and "version" in c["odoo"]["reason"]
    assert report["verdict"]["usable"], report["verdict"]
    assert report["features"] == expected(odoo.major)
    for name, ok in expected(odoo.major).items():
        assert c[f"feature {name}"]["status"] == ("ok" if ok else "fail"), c[f"feature {name}"]
    missing = [n for n, ok in expected(odoo.major).items() if not ok]
    assert all(any(n in w for w in report["verdict"]["warnings"]) for n in missing), report["verdict"]


def all_routes(major: int) -> list[tuple[str, str]]:
    """(feature, route) of every route the relay would try on this series."""
    return [(name, v.path) for name in capabilities.FEATURES for v in capabilities.candidates(name, major)
            if not (name == "visitor_name" and v.name == "anonymous_name")]


async def test_each_route_answering_404_from_the_start(odoo, tmp_path, line):
    """One relay per route, the route answered 404 from the start: the feature is reported with
    its alternative, or missing (the probe says the same)."""
    for feature, path in all_routes(odoo.major):
        if feature == "sessions" and path == "/im_livechat/get_session":
            continue     # the cors twin alone: test_sessions_on_the_cors_route_alone below
        line.missing = {path}
        others = [v for v in capabilities.candidates(feature, odoo.major) if v.path != path]
        if feature == "visitor_name" and odoo.major < 19:
            others.append(None)   # 17/18 also name the session in get_session
        async with live_conversation(odoo, tmp_path, "Visitor", "webhook", RELAY_ODOO_URL=line.url) as (client, conv, _):
            features = await features_of(client)
        want = {**expected(odoo.major), feature: bool(others) and expected(odoo.major)[feature]}
        assert features == want, (path, features)


async def test_sessions_on_the_cors_route_alone(odoo, tmp_path, line):
    """An Odoo without the cookie route: sessions open through the cors twin (no operator chosen
    by language there), and the conversation works end to end."""
    line.missing = {"/im_livechat/get_session"}
    async with live_conversation(odoo, tmp_path, "Visitor through the cors twin", "webhook",
                                 RELAY_ODOO_URL=line.url) as (client, conv, channel_id):
        assert channel_id
        assert (await features_of(client))["sessions"] is True
        assert (await client.send(conv, "c1", "hello through the twin"))[0] == 201


async def test_no_session_route_answers_409_not_offered(odoo, tmp_path, line):
    line.missing = {"/im_livechat/get_session", "/im_livechat/cors/get_session"}
    from tests.odoo.test_addon_live import relay_for_addon
    from tests.conftest import Client
    with relay_for_addon(odoo, tmp_path, {"RELAY_ODOO_URL": line.url, "RELAY_ODOO_DB": odoo.db,
                                          "RELAY_ODOO_LIVECHAT_CHANNEL_ID": str(odoo.livechat_channel)}) as relay:
        async with aiohttp.ClientSession() as http:
            client = Client(relay, http)
            assert (await features_of(client))["sessions"] is False
            async with http.post(relay.url + "/v1/conversations", json={"visitor_name": "x"}) as resp:
                body = await resp.json()
                assert resp.status == 409 and body["error"] == "not_offered", body


async def test_routes_gone_while_running_alternative_or_409(odoo, tmp_path, line):
    """An Odoo whose routes go away under a running relay (an upgrade): the first 404 checks the
    routes again; seen and posting go on through their cookie twins (seen in Odoo), rating and
    the init answer 409 not_offered; /healthz says so. Never a 5xx."""
    async with live_conversation(odoo, tmp_path, "Visitor of an upgraded Odoo", "webhook",
                                 RELAY_ODOO_URL=line.url) as (client, conv, channel_id):
        assert await features_of(client) == expected(odoo.major)
        cid, token = conv["conversation_id"], conv["token"]
        (first, one), = await answered(odoo, client, conv, channel_id, "<p>One</p>")
        seen_cors = capabilities.candidates("seen", odoo.major)[0].path
        post_cors = "/im_livechat/cors/message/post"
        rating_routes = {v.path for v in capabilities.candidates("rating", odoo.major)}
        init_routes = {v.path for v in capabilities.candidates("config", odoo.major)}
        line.missing = {seen_cors, post_cors, *rating_routes, *init_routes}
        # seen: the cors route's 404, the routes checked again, the cookie twin marks it in Odoo
        deadline = time.monotonic() + 5
        while True:    # the event is stored a moment after the WebSocket showed it
            status, body, _ = await client.call("POST", f"/v1/conversations/{cid}/seen", token, json={"seq": one["seq"]})
            if status != 400 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert status == 204, body
        member = odoo.execute("discuss.channel.member", "search_read", [[["channel_id", "=", channel_id],
                                                                         ["guest_id", "!=", False]]],
                              {"fields": ["seen_message_id"]})[0]
        assert member["seen_message_id"] and member["seen_message_id"][0] == first
        features = await features_of(client)
        assert features["seen"] and not features["rating"] and not features["config"] and features["posting"]
        # posting: through mail's own route with the guest's cookie
        status, *_ = await client.call("POST", f"/v1/conversations/{cid}/messages", token,
                                      json={"text": "Posted through the cookie twin", "client_id": "c-2"})
        assert status in (200, 201, 202)
        assert await wait_for(lambda: any("cookie twin" in b for b in guest_messages(odoo, channel_id)))
        # rating: no route left
        status, body, _ = await client.call("POST", f"/v1/conversations/{cid}/rating", token, json={"rating": 5})
        assert status == 409 and body["error"] == "not_offered", body
        # config: no init route left
        async with client.http.get(client.relay.url + "/v1/config") as resp:
            body = await resp.json()
            assert resp.status == 409 and body["error"] == "not_offered", body
        # and back: the routes return (Odoo restored); the next 404-free use goes on as before
        line.missing = set()
