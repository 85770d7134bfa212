"""What differs between Odoo series on the visitor's routes (recorded in tests/fixtures/odoo/):
parameters in, the shapes that come back. No I/O; tested on payloads recorded from real servers.

17: plain dicts; 18: a Store dict; 19: ``{"store_data": Store, …}`` and no ``anonymous_name``.
``saas~X.Y`` builds use the adapter of their major version. With ``caps`` (what the capability
check found on this Odoo, capabilities.py) the routes of each feature are the variants found there;
without, the series' own.
"""
from __future__ import annotations

import dataclasses
import html
import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from proxy.odoo.capabilities import Capabilities

VERSION = re.compile(r"^(?:saas~)?(\d+)\.(\d+)")


class ShapeError(ValueError):
    """Odoo answered with a shape this adapter does not know."""


def major_of(serie: str) -> int:
    found = VERSION.match(serie or "")
    if not found:
        raise ShapeError(f"not an Odoo version: {serie!r}")
    return int(found.group(1))


@dataclasses.dataclass(frozen=True)
class Adapter:
    major: int
    caps: Capabilities | None = dataclasses.field(default=None, compare=False, repr=False)

    def variant(self, feature: str) -> str | None:
        """The route variant of ``feature`` on this Odoo (capabilities.FEATURES), None where it has
        none; without a capability check, the series' own."""
        if self.caps is not None:
            return self.caps.variant(feature)
        from proxy.odoo.capabilities import candidates
        found = candidates(feature, min(self.major, 19))
        return found[0].name if found else None

    @classmethod
    def for_serie(cls, serie: str) -> Adapter:
        major = major_of(serie)
        if major < 17:
            raise ShapeError(f"Odoo {serie} is not supported (17.0 and later are)")
        return cls(major)

    # -------------------------------------------------------------- get_session

    def session_params(self, livechat_channel_id: int | None, visitor_name: str,
                       previous_operator_id: int | None = None) -> dict:
        """``previous_operator_id``: the partner who answered this visitor last; Odoo gives them the
        session where they are available (``_get_operator``, the same on 17–19). 19 takes no name
        here (``guest_name_params`` after)."""
        params: dict[str, Any] = {"channel_id": livechat_channel_id, "previous_operator_id": previous_operator_id,
                                  "persisted": True}
        if self.major < 19:
            params["anonymous_name"] = visitor_name or "Visitor"
        return params

    def session_route(self) -> str:
        """``get_session``'s cookie route, not its cors twin: the twin empties the request's cookies
        (``force_guest_env``; 17 ``httprequest.cookies``, 18/19 ``request.cookies``) before
        ``get_session`` reads ``frontend_lang`` to choose an operator speaking the visitor's
        language, as Odoo's own widget does on its website. With no ``dgid`` cookie the cookie
        route makes a new guest and answers its token just the same (17–19). Where an Odoo has
        only the cors twin (capabilities), that one: a session, without the operator by language."""
        return "/im_livechat/cors/get_session" if self.variant("sessions") == "cors" else "/im_livechat/get_session"

    def session_language(self, lang: str | None) -> tuple[dict | None, dict | None]:
        """(cookies, headers) telling ``get_session`` the visitor's language (an Odoo code such as
        ``fr_FR``) the way a browser on Odoo's website does: ``frontend_lang`` chooses the operator
        (``_get_operator``, 17–19), and is the guest's language on 17/18 and the session's
        ``livechat_lang_id`` on 19; ``Accept-Language`` is the guest's language on 19 (no route
        lets a guest change its language afterwards)."""
        if not lang:
            return None, None
        return {"frontend_lang": lang}, {"Accept-Language": lang.replace("_", "-")}

    def guest_name_params(self, guest_token: str, visitor_name: str) -> dict | None:
        """The visitor's name on its guest (``/mail/guest/update_name``, a cookie route, the same on
        17–19), the guest being the first part of its token (``<guest id>|<access token>``): 17
        and 18 put ``anonymous_name`` in the session's name only (their guest stays "Visitor"), 19
        takes none at all. None without a name."""
        guest_id = guest_token.split("|", 1)[0]
        if not visitor_name or not guest_id.isdigit():
            return None
        return {"guest_id": int(guest_id), "name": visitor_name[:64]}

    def parse_session(self, result) -> tuple[int, str] | None:
        """(Odoo session id, guest token), or None when no operator is available (``false``)."""
        if result is False or result is None:
            return None
        if not isinstance(result, dict):
            raise ShapeError("get_session: not an object")
        try:
            if self.major >= 19:
                return int(result["channel_id"]), str(result["store_data"]["Store"]["guest_token"])
            if self.major == 18:
                channels = result["discuss.channel"]
                channel = channels[0] if isinstance(channels, list) else channels
                return int(channel["id"]), str(result["Store"]["guest_token"])
            return int(result["id"]), str(result["guest_token"])
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ShapeError(f"get_session: unexpected shape ({exc!r})") from None

    def session_uuid(self, result) -> str | None:
        """The session's uuid (17 leaves a session by uuid); None where not needed or not found."""
        if self.major >= 18 or not isinstance(result, dict):
            return None
        return result.get("uuid")

    def session_operator(self, result) -> tuple[int, str] | None:
        """(partner id, name as visitors see it) of the operator get_session assigned, where the
        answer says it; else None."""
        try:
            if self.major < 18:
                for op, members in result.get("channelMembers") or []:
                    for member in members if op == "ADD" else []:
                        persona = member.get("persona") or {}
                        if persona.get("type") == "partner" and not persona.get("is_bot") and isinstance(persona.get("id"), int):
                            # an operator with an alias: 17 sends user_livechat_username, no name
                            return persona["id"], persona.get("user_livechat_username") or persona.get("name") or ""
                return None
            store = result["store_data"] if self.major >= 19 else result
            channel = store["discuss.channel"]
            channel = channel[0] if isinstance(channel, list) else channel
            operator = channel.get("livechat_operator_id") if self.major >= 19 else (channel.get("operator") or {}).get("id")
            for partner in store.get("res.partner") or []:
                if partner.get("id") == operator and isinstance(operator, int):
                    return operator, partner.get("user_livechat_username") or partner.get("name") or ""
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            pass
        return None

    # -------------------------------------------------------------- post

    def post_params(self, guest_token: str, channel_id: int, text: str,
                    files: list[tuple[int, str]] | None = None) -> dict:
        """``files``: the guest's uploads, (attachment id, the token the upload answered with).
        17 and 19 take the tokens in post_data, 18 beside it (mail/controllers/thread.py)."""
        body = html.escape(text).replace("\n", "<br>")
        post_data: dict[str, Any] = {"body": body, "message_type": "comment", "subtype_xmlid": "mail.mt_comment"}
        params: dict[str, Any] = {"guest_token": guest_token, "thread_model": "discuss.channel", "thread_id": channel_id,
                                  "post_data": post_data}
        if files:
            params["post_data"]["attachment_ids"] = [i for i, _ in files]
            tokens = [t for _, t in files]
            if self.major == 18:
                params["attachment_tokens"] = tokens
            else:
                params["post_data"]["attachment_tokens"] = tokens
        return params

    def post_request(self, guest_token: str, channel_id: int, text: str,
                     files: list[tuple[int, str]] | None = None) -> tuple[str, dict, dict | None] | None:
        """(route, params, cookies) of a guest's post: the cors route, or its cookie twin (mail's
        own, the guest named by its ``dgid`` cookie: the same parameters and answer)."""
        variant = self.variant("posting")
        params = self.post_params(guest_token, channel_id, text, files)
        if variant == "cors":
            return "/im_livechat/cors/message/post", params, None
        if variant == "cookie":
            del params["guest_token"]
            return "/mail/message/post", params, {"dgid": guest_token}
        return None

    SEEN_ROUTES = {"cors_mark_as_read": "/im_livechat/cors/channel/mark_as_read",
                   "cors_set_last_seen": "/im_livechat/cors/channel/set_last_seen_message",
                   "cookie_mark_as_read": "/discuss/channel/mark_as_read",
                   "cookie_set_last_seen": "/discuss/channel/set_last_seen_message"}

    def seen_route(self) -> str | None:
        """The guest marking the session read up to a message: the operator sees it was seen."""
        return self.SEEN_ROUTES.get(self.variant("seen") or "")

    def seen_request(self, guest_token: str, channel_id: int, message_id: int) -> tuple[str, dict, dict | None] | None:
        """(route, params, cookies); the cookie twins take the guest's token as its ``dgid`` cookie."""
        route = self.seen_route()
        if route is None:
            return None
        params = self.seen_params(guest_token, channel_id, message_id)
        if route.startswith("/discuss/"):
            del params["guest_token"]
            return route, params, {"dgid": guest_token}
        return route, params, None

    def seen_params(self, guest_token: str, channel_id: int, message_id: int) -> dict:
        return {"guest_token": guest_token, "channel_id": channel_id, "last_message_id": message_id}

    def rating_route(self) -> str | None:
        return {"cors": "/im_livechat/cors/feedback", "legacy": "/im_livechat/feedback"}.get(self.variant("rating") or "")

    def rating_params(self, guest_token: str, channel_id: int, channel_uuid: str | None, rate: int,
                      reason: str | None) -> dict:
        """What Odoo's own feedback panel sends (im_livechat/controllers/main.py ``feedback``): 17
        names the session by uuid, 18 and 19 by id with the guest's token."""
        if self.variant("rating") == "legacy":
            return {"uuid": channel_uuid, "rate": rate, "reason": reason}
        return {"guest_token": guest_token, "channel_id": channel_id, "rate": rate, "reason": reason}

    def upload_fields(self, guest_token: str, channel_id: int) -> dict[str, str]:
        """The form fields of /im_livechat/cors/attachment/upload besides ``ufile`` (same on 17–19):
        pending until the message that carries it is posted."""
        return {"guest_token": guest_token, "thread_id": str(channel_id), "thread_model": "discuss.channel",
                "is_pending": "true"}

    def parse_upload(self, result) -> tuple[int, str]:
        """(attachment id, the token that proves the guest owns it): 17 answers the attachment with
        ``accessToken``; 18 a Store with ``access_token``; 19 ``attachment_id`` and a Store with
        ``ownership_token``. An ``error`` (not allowed here) is an OdooError for the caller."""
        try:
            if isinstance(result, dict) and result.get("error"):
                raise ShapeError(f"upload refused: {str(result['error'])[:200]}")
            if self.major >= 19:
                data = result["data"]
                aid = int(data["attachment_id"])
                rows = data["store_data"]["ir.attachment"]
                row = next(r for r in (rows if isinstance(rows, list) else [rows]) if r.get("id") == aid)
                return aid, str(row["ownership_token"])
            if self.major == 18:
                rows = result["data"]["ir.attachment"]
                row = (rows if isinstance(rows, list) else [rows])[0]
                return int(row["id"]), str(row["access_token"])
            return int(result["id"]), str(result["accessToken"])
        except (KeyError, TypeError, ValueError, StopIteration, IndexError) as exc:
            raise ShapeError(f"attachment/upload: unexpected shape ({exc!r})") from None

    def parse_post(self, result) -> int:
        """The new mail.message id."""
        try:
            if self.major >= 19:
                return int(result["message_id"])
            if self.major == 18:
                messages = result["mail.message"]
                return int(max(m["id"] for m in messages))
            return int(result["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ShapeError(f"message/post: unexpected shape ({exc!r})") from None

    # -------------------------------------------------------------- leave, typing

    def leave_params(self, guest_token: str, channel_id: int, channel_uuid: str | None = None) -> dict:
        if self.major < 18:
            return {"guest_token": guest_token, "uuid": channel_uuid}
        return {"guest_token": guest_token, "channel_id": channel_id}

    def transcript_email(self, guest_token: str, channel_id: int, channel_uuid: str | None,
                         email: str) -> tuple[str, dict] | None:
        """(route, params) of Odoo's own "send me the transcript": 17 by uuid, 18 by id as the
        guest; None on 19, where that route is for users only (``auth="user"``)."""
        variant = self.variant("transcript_mail")
        if variant == "cors":
            return "/im_livechat/cors/email_livechat_transcript", {"guest_token": guest_token,
                                                                   "channel_id": channel_id, "email": email}
        if variant == "legacy":
            return "/im_livechat/email_livechat_transcript", {"uuid": channel_uuid, "email": email}
        return None

    def history_request(self, guest_token: str, channel_id: int, channel_uuid: str | None, partner_id: int,
                        pages: list[str]) -> tuple[str, dict]:
        """(route, params) of the answer Odoo's own widget gives to an operator's ``/history``
        (its history_service.js): 17 names the session by uuid, 18 and 19 by id as the guest;
        ``pid`` is the partner Odoo shows the pages to (a member of the session)."""
        if self.major < 18:
            return "/im_livechat/history", {"pid": partner_id, "channel_uuid": channel_uuid, "page_history": pages}
        return "/im_livechat/cors/history", {"guest_token": guest_token, "pid": partner_id, "channel_id": channel_id,
                                             "page_history": pages}

    def transcript_pdf(self, guest_token: str, channel_id: int) -> tuple[str, dict] | None:
        """(path, query) of Odoo's PDF of the session for its guest: 19 only."""
        if self.variant("transcript_pdf") is None:
            return None
        return f"/im_livechat/cors/download_transcript/{channel_id}", {"guest_token": guest_token}

    # -------------------------------------------------------------- before the conversation (§6)

    def init_request(self, livechat_channel_id: int | None) -> tuple[str, dict] | None:
        """Odoo's own widget init for a channel: is someone there for this visitor, and which of the
        channel's rules matches the page (Odoo reads the page from the ``Referer``)."""
        variant = self.variant("config")
        if variant == "cors_data":
            return "/im_livechat/cors/data", {"fetch_params": [["init_livechat", livechat_channel_id]]}
        if variant == "cors_init":
            return "/im_livechat/cors/init", {"channel_id": livechat_channel_id, "guest_token": ""}
        if variant == "init":
            return "/im_livechat/init", {"channel_id": livechat_channel_id}
        return None

    def parse_init(self, result) -> tuple[bool, dict] | None:
        """(available, rule) — rule ``{action, auto_popup_timer, chatbot}`` or ``{}`` — or None
        for a channel Odoo does not have (19 answers nothing about it)."""
        try:
            if self.variant("config") == "cors_data":
                store = result["Store"] if isinstance(result, dict) and "Store" in result else {}
                if "livechat_available" not in store:
                    return None
                rule: dict = {}
                rule_id = store.get("livechat_rule")
                rule_id = rule_id.get("id") if isinstance(rule_id, dict) else rule_id
                rows = result.get("im_livechat.channel.rule") or []
                for row in rows if isinstance(rows, list) else [rows]:
                    if isinstance(row, dict) and row.get("id") == rule_id:
                        rule = row
                return bool(store["livechat_available"]), _rule(rule)
            return bool(result["available_for_me"]), _rule(result.get("rule") or {})
        except (KeyError, TypeError, AttributeError) as exc:
            raise ShapeError(f"livechat init: unexpected shape ({exc!r})") from None

    def avatar_request(self, guest_token: str, channel_id: int, partner_id: int) -> tuple[str, dict, dict | None] | None:
        """(path, query, cookies) for a partner's picture as the session's guest sees it, the way
        each version's own widget asks: 17 the cors channel-partner route, 18 its cors image
        route, 19 /web/image with the guest's cookie (which 18 also answers)."""
        variant = self.variant("avatars")
        if variant == "web_image":
            return f"/web/image/res.partner/{partner_id}/avatar_128", {}, {"dgid": guest_token}
        if variant == "cors_image":
            return "/im_livechat/cors/web/image", {"model": "res.partner", "id": str(partner_id),
                                                   "field": "avatar_128", "guest_token": guest_token}, None
        if variant == "cors_partner":
            return (f"/im_livechat/cors/channel/{channel_id}/partner/{partner_id}/avatar_128",
                    {"guest_token": guest_token}, None)
        return None

    def typing_route(self) -> str | None:
        """18 and 19: the cors route; 17 has none, so its cookie route (mail/controllers/discuss/
        channel.py, which 18 and 19 also have), with the guest's token as its ``dgid`` cookie
        (``typing_cookies``)."""
        return {"cors": "/im_livechat/cors/channel/notify_typing",
                "cookie": "/discuss/channel/notify_typing"}.get(self.variant("typing") or "")

    def typing_params(self, guest_token: str, channel_id: int, typing: bool) -> dict:
        if self.variant("typing") == "cookie":
            return {"channel_id": channel_id, "is_typing": typing}
        return {"guest_token": guest_token, "channel_id": channel_id, "is_typing": typing}

    def typing_cookies(self, guest_token: str) -> dict | None:
        return {"dgid": guest_token} if self.variant("typing") == "cookie" else None


ACTIONS = ("display_button", "auto_popup", "hide_button")
log = logging.getLogger("relay.odoo")
_ODD_RULES: set[str] = set()   # rules already logged as not understood (each once, at most 100)
LOADER_OPTIONS = re.compile(r"\boptions:\s*(\{.*?\})\s*,\s*\n", re.S)


def _rule(raw: dict) -> dict:
    """A channel rule as the relay says it (docs/protocol.md §6), whatever the version's shape; a
    rule not understood is no rule (the button shown: reachable rather than hidden), logged once."""
    if not raw:
        return {}
    if not isinstance(raw, dict) or raw.get("action") not in ACTIONS:
        seen = repr(raw)[:200]
        if seen not in _ODD_RULES and len(_ODD_RULES) < 100:
            _ODD_RULES.add(seen)
            log.warning("odoo channel rule not understood: the button is shown", extra={"rule": seen})
        return {}
    timer = raw.get("auto_popup_timer")
    return {"action": raw["action"],
            "auto_popup_timer": timer if isinstance(timer, int) and not isinstance(timer, bool) and timer >= 0 else 0,
            "chatbot": bool(raw.get("chatbot") or raw.get("chatbotScript") or raw.get("chatbot_script_id"))}


def parse_loader(text: str) -> dict:
    """The channel's texts and colours from ``/im_livechat/loader/<id>`` (the script Odoo's own
    widget starts from; the same on 17–19): ``{texts, colors}``; empty where Odoo gives none (17
    gives no options while nobody is online)."""
    import json
    found = LOADER_OPTIONS.search(text or "")
    try:
        options = json.loads(found.group(1)) if found else {}
    except ValueError:
        options = {}
    if not isinstance(options, dict):
        options = {}

    def text_of(key: str) -> str | None:
        value = options.get(key)
        return value.strip()[:500] if isinstance(value, str) and value.strip() else None

    def color_of(key: str) -> str | None:
        value = options.get(key)
        return value if isinstance(value, str) and COLOR.match(value) else None
    texts = {"button": text_of("button_text"), "welcome": text_of("default_message"),
             "placeholder": text_of("input_placeholder")}
    colors = {"button": color_of("button_background_color"), "button_text": color_of("button_text_color"),
              "header": color_of("header_background_color"), "title": color_of("title_color")}
    return {"texts": {k: v for k, v in texts.items() if v}, "colors": {k: v for k, v in colors.items() if v}}


COLOR = re.compile(r"^#[0-9A-Fa-f]{3,8}$")
