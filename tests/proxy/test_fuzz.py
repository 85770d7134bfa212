"""Generated requests against ``/v1/openapi.json`` (schemathesis + hypothesis): no answer is a 5xx.

Every generated case is sent twice: as generated (random ids and tokens: mostly 401/404), and
aimed at a real conversation with its valid token (webhooks: signed with the relay's secret), so
the bodies reach the handlers' own checks. At least 10,000 requests in all; a final test counts
them and checks that the relay is still healthy and logged no traceback.
"""
from __future__ import annotations

import json
import urllib.request

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from proxy import signing
from tests.relayproc import SECRET, RelayProcess, new_webhook_id

pytestmark = [pytest.mark.faults, pytest.mark.slow]
MAX_EXAMPLES = 600          # per operation and method; each case is sent twice (≥ 10,000 in all)
SENT = {"requests": 0, "statuses": {}}


@pytest.fixture(scope="module")
def fuzz_relay(tmp_path_factory):
    relay = RelayProcess(tmp_path_factory.mktemp("fuzz")).start()
    yield relay
    relay.stop()


def _create(relay: RelayProcess) -> dict:
    req = urllib.request.Request(relay.url + "/v1/conversations", data=b"{}", method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def conversation(fuzz_relay):
    """One conversation for the calls, another for ``close`` (so that sends keep being stored)."""
    return {"open": _create(fuzz_relay), "closable": _create(fuzz_relay)}


@pytest.fixture(scope="module")
def api_schema(fuzz_relay):
    return schemathesis.openapi.from_url(fuzz_relay.url + "/v1/openapi.json")


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


schema = schemathesis.pytest.from_fixture("api_schema")


def _record(response) -> None:
    SENT["requests"] += 1
    SENT["statuses"][response.status_code] = SENT["statuses"].get(response.status_code, 0) + 1
    assert response.status_code < 500, (response.status_code, response.text[:500])


@schema.parametrize()
@pytest.mark.timeout(600)          # every operation's examples run inside this one test
@settings(max_examples=MAX_EXAMPLES, deadline=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_5xx(case, fuzz_relay, conversation, http):
    if case.query and "wait" in case.query:
        case.query["wait"] = 0                       # long polls would only make the run slower
    _record(case.call(base_url=fuzz_relay.url, session=http, timeout=10))
    if case.path == "/v1/webhooks/odoo":
        body = case.body
        if isinstance(body, (bytes, str)):
            raw = body.encode() if isinstance(body, str) else body
        else:
            try:
                raw = json.dumps(body).encode()
            except TypeError:                            # no body at all (schemathesis' NotSet) and the like
                raw = b""
        raw = raw.decode("utf-8", "replace").encode()   # Standard Webhooks signs text
        headers = signing.headers_for([SECRET], new_webhook_id(), raw)
        headers["Content-Type"] = "application/json"
        _record(http.post(fuzz_relay.url + case.path, data=raw, headers=headers, timeout=10))
    elif "id" in (case.path_parameters or {}):
        conv = conversation["closable" if case.path.endswith("/close") else "open"]
        case.path_parameters["id"] = conv["conversation_id"]
        _record(case.call(base_url=fuzz_relay.url, session=http, timeout=10,
                          headers={"Authorization": "Bearer " + conv["token"]}))
    else:
        _record(case.call(base_url=fuzz_relay.url, session=http, timeout=10))


def test_at_least_10000_requests_and_the_relay_is_fine(fuzz_relay):
    print(f"\nfuzz: {SENT['requests']} requests, statuses {dict(sorted(SENT['statuses'].items()))}")
    assert SENT["requests"] >= 10_000, SENT
    with urllib.request.urlopen(fuzz_relay.url + "/healthz") as resp:
        assert resp.status == 200
    assert "Traceback" not in fuzz_relay.logs() and "unexpected error" not in fuzz_relay.logs()
