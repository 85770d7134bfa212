"""Which of the visitor's routes this Odoo has, found by trying them (docs/protocol.md §6,
"Odoo versions"): the version string is only a hint of which variant to try first.

A route is tried with an ``OPTIONS`` request (with an ``Origin``, as a browser's CORS preflight):
Odoo answers a route it has with 204 (a CORS route: the preflight, the route itself never runs),
400 (18) or 415 (19) (a JSON route that is not CORS: refused before it runs), 405 or 200 (an HTTP
route: ``/web/image``, the loader, which only read), and a route it does not have with HTTP 404
(its 404 page). Nothing is created and nothing is written; checked on real 17.0, 18.0 and 19.0.
Any answer but 404 counts as "there" (a proxy that refuses OPTIONS is no proof of absence: the
route's first real 404 makes the relay check again).

Each feature has one or more route variants, each usable on the series whose parameters and
shapes the relay knows for it (``families``). The series the relay talks to (its "family") is
the version string's where it names 17, 18 or 19; for anything else (a newer major, a ``saas~``
build of one, or no version at all) it is found from routes that only one series has, newest
oldest first (routes that series has and later ones dropped), and is 19 (the newest known) when none
of them answers.
"""
from __future__ import annotations

import asyncio
import dataclasses
import re

import aiohttp

NEWEST = 19
KNOWN = (17, 18, 19)
VERSION = re.compile(r"^(?:saas~)?(\d+)\.(\d+)")


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str                   # short name (logs, /healthz, the probe)
    path: str                   # the route, as tried (ids of 1 where the route takes some)
    families: tuple[int, ...]   # series whose parameters and answers the relay knows on this route
    own: tuple[int, ...] = ()   # series whose own widget uses it: tried first there


ALL = KNOWN
F = Variant
# feature → its variants; what each is for (the relay's API that needs it) is in FEATURE_USE
FEATURES: dict[str, tuple[Variant, ...]] = {
    # the cookie route first: its cors twin empties the cookies before reading the visitor's language
    "sessions": (F("cookie", "/im_livechat/get_session", ALL, ALL),
                 F("cors", "/im_livechat/cors/get_session", ALL)),
    "posting": (F("cors", "/im_livechat/cors/message/post", ALL, ALL),
                F("cookie", "/mail/message/post", ALL)),
    "messages": (F("cors", "/im_livechat/cors/channel/messages", ALL, ALL),),
    "bus": (F("websocket", "/websocket", ALL, ALL),),
    "peek": (F("peek_notifications", "/websocket/peek_notifications", ALL, ALL),),
    "leave": (F("cors", "/im_livechat/cors/visitor_leave_session", ALL, ALL),),
    "visitor_name": (F("update_name", "/mail/guest/update_name", ALL, ALL),
                     F("anonymous_name", "/im_livechat/cors/get_session", (17, 18))),   # the session's name only
    "config": (F("cors_data", "/im_livechat/cors/data", (19,), (19,)),
               F("cors_init", "/im_livechat/cors/init", (18,), (18,)),
               F("init", "/im_livechat/init", (17,), (17,))),
    "uploads": (F("cors", "/im_livechat/cors/attachment/upload", ALL, ALL),),
    "files": (F("web_content", "/discuss/channel/attachments", (19,), (19,)),
              F("cors_attachment", "/im_livechat/cors/channel/1/attachment/1", (17, 18), (17, 18))),
    "rating": (F("cors", "/im_livechat/cors/feedback", (18, 19), (18, 19)),
               F("legacy", "/im_livechat/feedback", (17,), (17,))),
    "transcript_mail": (F("cors", "/im_livechat/cors/email_livechat_transcript", (18,), (18,)),
                        F("legacy", "/im_livechat/email_livechat_transcript", (17,), (17,))),
    "transcript_pdf": (F("cors", "/im_livechat/cors/download_transcript/1", (19,), (19,)),),
    "seen": (F("cors_mark_as_read", "/im_livechat/cors/channel/mark_as_read", (18, 19), (18, 19)),
             F("cors_set_last_seen", "/im_livechat/cors/channel/set_last_seen_message", (17,), (17,)),
             F("cookie_mark_as_read", "/discuss/channel/mark_as_read", (18, 19)),
             F("cookie_set_last_seen", "/discuss/channel/set_last_seen_message", (17,))),
    "typing": (F("cors", "/im_livechat/cors/channel/notify_typing", (18, 19), (18, 19)),
               F("cookie", "/discuss/channel/notify_typing", ALL, (17,))),
    "avatars": (F("web_image", "/web/image/res.partner/1/avatar_128", (18, 19), (19,)),
                F("cors_image", "/im_livechat/cors/web/image", (18,), (18,)),
                F("cors_partner", "/im_livechat/cors/channel/1/partner/1/avatar_128", (17,), (17,))),
    "history": (F("cors", "/im_livechat/cors/history", (18, 19), (18, 19)),
                F("legacy", "/im_livechat/history", (17,), (17,))),
}
del F

# what visitors miss when a feature is not there (the start-up log, the probe's verdict)
FEATURE_USE = {
    "sessions": "no conversation can be opened (POST /v1/conversations answers 409 not_offered)",
    "posting": "visitor messages cannot reach Odoo (they wait in the relay)",
    "messages": "no polling fallback for replies and no check for lost posts",
    "bus": "replies are not followed over the bus (use RELAY_ODOO_REPLIES=poll or webhook)",
    "peek": "the bus's HTTP twin is missing (polling uses the messages route)",
    "leave": "Odoo is not told when a visitor leaves",
    "visitor_name": "operators do not see the visitor's name on the guest",
    "config": "GET /v1/config answers 409 not_offered (the widget shows its defaults)",
    "uploads": "visitors cannot send files (409 not_offered)",
    "files": "visitors cannot open the operator's files (409 not_offered)",
    "rating": "visitors cannot rate the conversation (409 not_offered)",
    "transcript_mail": "no transcript by mail (409 not_offered)",
    "transcript_pdf": "no transcript as PDF (409 not_offered)",
    "seen": "operators do not see what the visitor has read (409 not_offered)",
    "typing": "operators do not see the visitor typing",
    "avatars": "operators' pictures are not shown (409 not_offered)",
    "history": "operators cannot ask for the visitor's page history",
}
# routes a series has and the next ones dropped (two each, so one missing route does not mislead):
# the family of an Odoo whose version string names no series the relay knows, oldest first; none
# of them: the newest (19, or a later major that kept its routes)
FINGERPRINTS = ((17, "/im_livechat/cors/channel/1/partner/1/avatar_128"),
                (17, "/im_livechat/cors/channel/set_last_seen_message"),
                (18, "/im_livechat/cors/web/image"),
                (18, "/im_livechat/cors/email_livechat_transcript"))


def hinted_major(serie: str | None) -> int | None:
    found = VERSION.match(serie or "")
    return int(found.group(1)) if found else None


@dataclasses.dataclass
class Capabilities:
    family: int                         # the series whose parameters and shapes are used
    serie: str                          # what /web/webclient/version_info said ("" for nothing usable)
    known: bool                         # the version string named a series the relay knows
    chosen: dict[str, Variant | None]   # feature → the variant found (None: not on this Odoo)
    tried: dict[str, list[str]]         # feature → the routes tried, in order

    def works(self, feature: str) -> bool:
        return self.chosen.get(feature) is not None

    def variant(self, feature: str) -> str | None:
        found = self.chosen.get(feature)
        return found.name if found else None

    def route(self, feature: str) -> str | None:
        found = self.chosen.get(feature)
        return found.path if found else None

    def features(self) -> dict[str, bool]:
        return {name: self.works(name) for name in FEATURES}

    def missing(self) -> dict[str, list[str]]:
        return {name: self.tried.get(name, []) for name in FEATURES if not self.works(name)}

    def log_extra(self) -> dict:
        return {"family": self.family, "serie": self.serie or None, "version_known": self.known,
                "working": sorted(n for n in FEATURES if self.works(n)),
                "missing": {n: ", ".join(r) or "no route known for this series" for n, r in self.missing().items()},
                "routes": {n: v.path for n, v in self.chosen.items() if v is not None}}


def candidates(feature: str, family: int) -> list[Variant]:
    """The variants of ``feature`` the relay can use on ``family``, its own widget's first."""
    usable = [v for v in FEATURES[feature] if family in v.families]
    return sorted(usable, key=lambda v: family not in v.own)


class RouteCheckFailed(Exception):
    """Odoo could not be asked (connection refused, timeout): nothing is concluded."""


async def route_exists(http: aiohttp.ClientSession, base_url: str, path: str,
                       timeout: float = 10.0) -> bool:
    """Whether Odoo has ``path``: anything but HTTP 404 to a CORS preflight (see the module)."""
    try:
        async with http.options(base_url.rstrip("/") + path, allow_redirects=False,
                                headers={"Origin": base_url, "Access-Control-Request-Method": "POST"},
                                timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            await resp.read()
            return resp.status != 404
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RouteCheckFailed(f"{path}: {type(exc).__name__}: {exc}") from None


async def detect(http: aiohttp.ClientSession, base_url: str, serie: str, timeout: float = 10.0,
                 limit: asyncio.Semaphore | None = None) -> Capabilities:
    """Every feature's route, tried on this Odoo. RouteCheckFailed when Odoo cannot be asked."""
    seen: dict[str, bool] = {}

    async def exists(path: str) -> bool:
        if path not in seen:
            if limit is not None:
                async with limit:
                    seen[path] = await route_exists(http, base_url, path, timeout)
            else:
                seen[path] = await route_exists(http, base_url, path, timeout)
        return seen[path]

    hint = hinted_major(serie)
    known = hint in KNOWN
    if hint is not None and known:
        family = hint
    else:
        found = await asyncio.gather(*(exists(path) for _, path in FINGERPRINTS))
        family = next((major for (major, _), ok in zip(FINGERPRINTS, found, strict=True) if ok), NEWEST)
    # every route of the family's candidates, asked together (each answer is a few milliseconds)
    paths = {v.path for name in FEATURES for v in candidates(name, family)}
    await asyncio.gather(*(exists(p) for p in sorted(paths)))
    chosen: dict[str, Variant | None] = {}
    tried: dict[str, list[str]] = {}
    for name in FEATURES:
        chosen[name], tried[name] = None, []
        for variant in candidates(name, family):
            tried[name].append(variant.path)
            if seen[variant.path]:
                chosen[name] = variant
                break
    return Capabilities(family, serie if hint is not None else "", known, chosen, tried)
