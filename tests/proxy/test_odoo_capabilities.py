"""Routes chosen by trying them (proxy/odoo/capabilities.py), without an Odoo: a stand-in that has
exactly the routes each real series answered the preflight for (checked on the 17, 18 and 19 rigs,
tests/odoo/test_capabilities_live.py checks the same live), with or without a version string, and
one route at a time answering 404."""
from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from proxy.odoo import capabilities
from proxy.odoo.adapters import Adapter

COMMON = {"/im_livechat/get_session", "/im_livechat/cors/get_session", "/im_livechat/cors/message/post", "/mail/message/post",
          "/im_livechat/cors/channel/messages", "/websocket", "/websocket/peek_notifications",
          "/im_livechat/cors/visitor_leave_session", "/mail/guest/update_name",
          "/im_livechat/cors/attachment/upload", "/discuss/channel/notify_typing", "/discuss/channel/attachments",
          "/web/image/res.partner/1/avatar_128", "/im_livechat/feedback", "/im_livechat/history"}
# the routes each series answered anything but 404 to (OPTIONS with an Origin), from the rigs
ROUTES = {
    17: COMMON | {"/im_livechat/init", "/im_livechat/email_livechat_transcript",
                  "/im_livechat/cors/channel/set_last_seen_message", "/discuss/channel/set_last_seen_message",
                  "/im_livechat/cors/channel/1/partner/1/avatar_128", "/im_livechat/cors/channel/1/attachment/1"},
    18: COMMON | {"/im_livechat/init", "/im_livechat/cors/init", "/im_livechat/cors/data",
                  "/im_livechat/email_livechat_transcript", "/im_livechat/cors/email_livechat_transcript",
                  "/im_livechat/cors/channel/mark_as_read", "/discuss/channel/mark_as_read",
                  "/im_livechat/cors/channel/notify_typing", "/im_livechat/cors/web/image",
                  "/im_livechat/cors/channel/1/attachment/1", "/im_livechat/cors/feedback", "/im_livechat/cors/history"},
    19: COMMON | {"/im_livechat/cors/init", "/im_livechat/cors/data", "/im_livechat/email_livechat_transcript",
                  "/im_livechat/cors/channel/mark_as_read", "/discuss/channel/mark_as_read",
                  "/im_livechat/cors/channel/notify_typing", "/im_livechat/cors/download_transcript/1",
                  "/im_livechat/cors/feedback", "/im_livechat/cors/history"},
}
NOT_OFFERED = {17: {"transcript_pdf"}, 18: {"transcript_pdf"}, 19: {"transcript_mail"}}


class StandIn:
    """Answers a preflight as Odoo does: 204 for a route it has, its 404 page otherwise."""

    def __init__(self, routes: set[str]):
        self.routes = set(routes)
        self.asked: list[tuple[str, str]] = []

    def app(self) -> web.Application:
        async def handler(request: web.Request) -> web.Response:
            self.asked.append((request.method, request.path))
            if request.path in self.routes:
                return web.Response(status=204 if request.method == "OPTIONS" else 400)
            return web.Response(status=404, text="<html>404</html>", content_type="text/html")
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        return app


@pytest.fixture
async def served():
    runners: list[web.AppRunner] = []

    async def start(routes: set[str]) -> tuple[StandIn, str]:
        stand_in = StandIn(routes)
        runner = web.AppRunner(stand_in.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return stand_in, f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield start
    for runner in runners:
        await runner.cleanup()


async def detect(url: str, serie: str) -> capabilities.Capabilities:
    async with aiohttp.ClientSession() as http:
        return await capabilities.detect(http, url, serie, timeout=5)


@pytest.mark.parametrize("major", [17, 18, 19])
@pytest.mark.parametrize("serie", ["{major}.0", "", "21.0", "garbage"])
async def test_each_series_found_with_or_without_its_version(served, major, serie):
    stand_in, url = await served(ROUTES[major])
    caps = await detect(url, serie.format(major=major))
    assert caps.family == major
    assert caps.known == (serie == "{major}.0")
    assert caps.features() == {n: n not in NOT_OFFERED[major] for n in capabilities.FEATURES}
    # the variant each series' own widget uses, the same as the adapter's without a check
    plain = Adapter(major)
    for feature in capabilities.FEATURES:
        assert caps.variant(feature) in (plain.variant(feature), None), feature
    assert {m for m, _ in stand_in.asked} == {"OPTIONS"}           # preflights only: nothing runs


async def test_an_unknown_odoo_with_no_fingerprint_starts_from_the_newest(served):
    stand_in, url = await served(COMMON)
    caps = await detect(url, "22.0")
    assert caps.family == capabilities.NEWEST and not caps.known
    assert caps.works("sessions") and caps.works("posting") and not caps.works("transcript_pdf")


@pytest.mark.parametrize("major", [17, 18, 19])
@pytest.mark.parametrize("serie", ["{major}.0", ""])
async def test_one_route_at_a_time_answering_404(served, major, serie):
    """Each route the relay would use, taken away alone: its feature takes the next variant the
    series allows, or is reported missing; nothing else changes."""
    for feature in capabilities.FEATURES:
        for variant in capabilities.candidates(feature, major):
            if variant.path not in ROUTES[major]:
                continue
            routes = ROUTES[major] - {variant.path}
            _, url = await served(routes)
            caps = await detect(url, serie.format(major=major))
            assert caps.family == major, (variant.path, caps.family)
            rest = [v for v in capabilities.candidates(feature, major) if v.path in routes]
            assert caps.variant(feature) == (rest[0].name if rest else None), (feature, variant.path)
            others = {n: w for n, w in caps.features().items() if n != feature
                      and variant.path not in {v.path for v in capabilities.candidates(n, major)}}
            assert all(w == (n not in NOT_OFFERED[major]) for n, w in others.items()), (variant.path, others)
            assert caps.tried[feature][0] == capabilities.candidates(feature, major)[0].path


async def test_an_odoo_that_cannot_be_asked_concludes_nothing():
    async with aiohttp.ClientSession() as http:
        with pytest.raises(capabilities.RouteCheckFailed):
            await capabilities.detect(http, "http://127.0.0.1:9", "18.0", timeout=2)


def test_the_adapter_follows_the_variants_found():
    caps = capabilities.Capabilities(18, "18.0", True, {
        **{n: (capabilities.candidates(n, 18) or [None])[0] for n in capabilities.FEATURES},
        "seen": next(v for v in capabilities.FEATURES["seen"] if v.name == "cookie_mark_as_read"),
        "posting": next(v for v in capabilities.FEATURES["posting"] if v.name == "cookie"),
        "rating": None, "typing": next(v for v in capabilities.FEATURES["typing"] if v.name == "cookie")}, {})
    adapter = Adapter(18, caps)
    route, params, cookies = adapter.seen_request("7|tok", 3, 9)
    assert route == "/discuss/channel/mark_as_read" and cookies == {"dgid": "7|tok"} and "guest_token" not in params
    route, params, cookies = adapter.post_request("7|tok", 3, "hi")
    assert route == "/mail/message/post" and cookies == {"dgid": "7|tok"} and params["thread_id"] == 3
    assert "guest_token" not in params
    assert adapter.rating_route() is None
    assert adapter.typing_route() == "/discuss/channel/notify_typing" and adapter.typing_cookies("7|tok")
    # without a check: each series' own routes, as before
    assert Adapter(17).seen_route() == "/im_livechat/cors/channel/set_last_seen_message"
    assert Adapter(18).rating_route() == "/im_livechat/cors/feedback"
    assert Adapter(19).transcript_email("t", 1, None, "a@b.c") is None
    assert Adapter(17).typing_route() == "/discuss/channel/notify_typing"
    assert Adapter(20).init_request(1)[0] == "/im_livechat/cors/data"
