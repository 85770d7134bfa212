"""Generated hostile input beyond the OpenAPI fuzz (test_fuzz.py), on both stores: JSON bodies and
WebSocket frames whose strings hold lone surrogates and whose numbers are huge or not finite.

Nothing may answer a 5xx; no WebSocket frame may crash the handler, close the socket or make the
relay write HTTP into it: every frame gets JSON frames back (an error, an ack, a pong) and the
socket is still open afterwards. At least 5,000 frames in all.
"""
from __future__ import annotations

import json
import urllib.request

import pytest
import requests
import websocket
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from proxy import signing
from tests.redisproc import relay_on
from tests.relayproc import SECRET, new_webhook_id

pytestmark = [pytest.mark.faults, pytest.mark.slow]
FRAMES = {"sqlite": 0, "redis": 0}
FRAMES_PER_STORE = 2600
BODIES_PER_ROUTE = 150

chars = st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr))     # lone surrogates included
hostile_text = st.text(alphabet=chars, max_size=40)
numbers = st.one_of(st.integers(-2 ** 80, 2 ** 80), st.sampled_from([2 ** 31, 2 ** 53, 2 ** 63, -1, 0]),
                    st.floats(allow_nan=True, allow_infinity=True))
scalar = st.one_of(hostile_text, numbers, st.booleans(), st.none())
value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(hostile_text, inner, max_size=4)), max_leaves=8)


def encode(obj) -> bytes:
    """As a client would send it: surrogates as \\uXXXX escapes, NaN/Infinity as bare words."""
    return json.dumps(obj, ensure_ascii=True, allow_nan=True).encode()


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def store_relay(request, tmp_path_factory):
    with relay_on(request.param, tmp_path_factory.mktemp("fuzzu-" + request.param)) as relay:
        relay.store_kind = request.param
        with urllib.request.urlopen(urllib.request.Request(relay.url + "/v1/conversations", data=b"{}", method="POST",
                                                           headers={"Content-Type": "application/json"})) as resp:
            relay.conv = json.loads(resp.read())
        yield relay
        assert "Traceback" not in relay.logs() and "unexpected error" not in relay.logs()


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


FUZZ = settings(max_examples=BODIES_PER_ROUTE, deadline=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck))


@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"client_id": scalar, "text": scalar}), value))
def test_message_bodies(store_relay, http, body):
    conv = store_relay.conv
    r = http.post(f"{store_relay.url}/v1/conversations/{conv['conversation_id']}/messages", data=encode(body),
                  headers={"Authorization": "Bearer " + conv["token"], "Content-Type": "application/json"}, timeout=10)
    assert r.status_code < 500, r.text[:300]


@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"url": scalar, "title": scalar}),
                      st.fixed_dictionaries({"pages": st.lists(st.fixed_dictionaries({"url": scalar, "title": scalar}),
                                                               max_size=16)}), value))
def test_page_bodies(store_relay, http, body):
    conv = store_relay.conv
    r = http.post(f"{store_relay.url}/v1/conversations/{conv['conversation_id']}/pages", data=encode(body),
                  headers={"Authorization": "Bearer " + conv["token"], "Content-Type": "application/json"}, timeout=10)
    assert r.status_code < 500, r.text[:300]


@FUZZ
@given(body=st.one_of(st.fixed_dictionaries({"visitor_name": scalar, "page_url": scalar, "lang": scalar,
                                             "livechat_channel_id": scalar}), value))
def test_create_bodies(store_relay, http, body):
    r = http.post(store_relay.url + "/v1/conversations", data=encode(body),
                  headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code < 500, r.text[:300]


@FUZZ
@given(type_=st.sampled_from(["livechat.message.created", "livechat.message.updated", "livechat.typing",
                              "livechat.member.joined", "livechat.history_requested"]),
       channel=numbers, message=st.fixed_dictionaries({"id": numbers, "body_html": scalar, "body_text": scalar,
                                                        "author": st.fixed_dictionaries({"kind": st.just("operator"),
                                                                                         "name": scalar})}))
def test_signed_webhooks(store_relay, http, type_, channel, message):
    raw = encode({"type": type_, "data": {"database": "demo", "channel": {"id": channel}, "message": message,
                                          "member": message["author"], "operator": message["author"],
                                          "typing": True}})
    headers = signing.headers_for([SECRET], new_webhook_id(), raw)
    r = http.post(store_relay.url + "/v1/webhooks/odoo", data=raw, headers=headers, timeout=10)
    assert r.status_code < 500, r.text[:300]


@pytest.fixture(scope="module")
def socket_(store_relay):
    conv = store_relay.conv
    ws = websocket.create_connection(
        f"{store_relay.ws_url}/v1/conversations/{conv['conversation_id']}/ws?token={conv['token']}&after=1000000",
        timeout=10)
    assert json.loads(ws.recv())["type"] == "hello"
    yield ws
    ws.close()


frames = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["send", "typing", "ping", "pong", "nope"]),
                           "client_id": scalar, "text": scalar, "typing": scalar}),
    value)


@settings(max_examples=FRAMES_PER_STORE, deadline=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(frame=st.one_of(frames.map(encode), st.text(alphabet=st.characters(codec="utf-8"), max_size=30).map(str.encode)))
def test_websocket_frames(store_relay, socket_, frame):
    """Each frame, then a ping: everything that comes back before the pong is a JSON frame."""
    socket_.send(frame.decode("utf-8"))
    socket_.send('{"type":"ping"}')
    while True:
        opcode, data = socket_.recv_data()
        assert opcode == websocket.ABNF.OPCODE_TEXT, (opcode, data[:200])
        reply = json.loads(data)
        assert reply["type"] in ("error", "ack", "event", "pong", "ping"), reply
        if reply["type"] == "pong":
            break
    FRAMES[store_relay.store_kind] += 1


def test_at_least_5000_frames_and_the_sockets_still_stand(store_relay, socket_):
    print(f"\nws fuzz on {store_relay.store_kind}: {FRAMES[store_relay.store_kind]} frames")
    assert FRAMES[store_relay.store_kind] >= FRAMES_PER_STORE
    if store_relay.store_kind == "redis":
        assert sum(FRAMES.values()) >= 5000
    socket_.send('{"type":"ping"}')
    seen = [json.loads(socket_.recv()) for _ in range(1)]
    while seen[-1]["type"] != "pong":
        seen.append(json.loads(socket_.recv()))
    assert socket_.connected
