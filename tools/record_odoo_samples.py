"""Record what a real Odoo answers on the routes of the visitor features of issue 15, into
tests/fixtures/odoo/<major>/ (the payload tests read them; tests/fixtures/odoo/README.md):

- ``get_session_cookie_lang``: ``get_session`` by its cookie route with the visitor's language
  (``frontend_lang`` cookie and ``Accept-Language``), as the relay opens sessions;
- ``bus_history_command``: what the visitor's guest channel carries when the operator types
  ``/history`` in Odoo (``execute_command_history``), read with ``peek_notifications``;
- ``history_answer``: Odoo's answer to the page history sent back the way its own widget does.

    ODOO_URL=http://127.0.0.1:8069 ODOO_DB=rig18 python -m tools.record_odoo_samples [--lang fr_FR]

The session is left by the visitor at the end. Guest tokens are recorded as they were (a rig's).
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

from proxy.odoo.adapters import Adapter
from tools.odoo_client import Odoo

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "odoo"


def post(odoo: Odoo, path: str, params: dict, cookies: dict | None = None, headers: dict | None = None) -> dict:
    """One JSON-RPC call with no cookie jar (a new browser); the whole answer, error included."""
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if cookies:
        hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    req = urllib.request.Request(odoo.url + path, data=body, headers=hdrs)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def save(major: int, name: str, sample: dict) -> None:
    path = OUT / str(major) / f"{name}.json"
    path.write_text(json.dumps(sample, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path.relative_to(OUT.parents[1])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", default="fr_FR", help="the visitor's language, an Odoo code (default fr_FR)")
    args = parser.parse_args(argv)
    odoo = Odoo.from_env()
    if odoo is None:
        print("set ODOO_URL and ODOO_DB", file=sys.stderr)
        return 2
    odoo.start()
    major, adapter = odoo.major, Adapter(odoo.major)
    odoo.operator_online()

    params = adapter.session_params(odoo.livechat_channel, "Recorded visitor")
    cookies, headers = adapter.session_language(args.lang)
    answer = post(odoo, adapter.session_route(), params, cookies, headers)
    save(major, "get_session_cookie_lang", {"request": {
        "method": "POST", "path": adapter.session_route(), "cookies": cookies, "headers": headers, "params": params},
        "response": answer})
    session = adapter.parse_session(answer.get("result"))
    if session is None:
        print("no operator available: nothing more recorded", file=sys.stderr)
        return 1
    channel_id, guest_token = session
    uuid = adapter.session_uuid(answer.get("result"))

    peek = {"channels": [f"mail.guest_{guest_token}"], "last": 0, "is_first_poll": True}
    before = post(odoo, "/websocket/peek_notifications", peek)["result"]["notifications"]
    last = max((n["id"] for n in before), default=0)
    odoo.execute("discuss.channel", "execute_command_history", [[channel_id]])
    peek = {**peek, "last": last}
    after = post(odoo, "/websocket/peek_notifications", peek)
    after["result"]["notifications"] = [n for n in after["result"]["notifications"]
                                        if n["message"]["type"] == "im_livechat.history_command"]
    save(major, "bus_history_command", {"request": {"method": "POST", "path": "/websocket/peek_notifications",
                                                    "params": peek, "channel_id": channel_id}, "response": after})

    partner = odoo.execute("res.users", "read", [[odoo.uid], ["partner_id"]])[0]["partner_id"][0]
    pages = ["https://shop.example/", "https://shop.example/pricing"]
    route, hparams = adapter.history_request(guest_token, channel_id, uuid, partner, pages)
    save(major, "history_answer", {"request": {"method": "POST", "path": route, "params": hparams},
                                   "response": post(odoo, route, hparams)})
    odoo.visitor_leave(channel_id, guest_token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
