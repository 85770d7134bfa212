"""The relay as the visitor towards a real Odoo, through the public cors livechat routes.

Opening a conversation is ``get_session`` on the configured livechat channel; the guest token is
kept server-side with the conversation and never sent to the widget. Visitor messages go to Odoo
in order, one conversation at a time, each exactly once, retried with backoff while Odoo is down or
slow (the widget gets a ``status`` event meanwhile), and resumed after a restart. Operator replies
come back by webhook from the addon or through ``replies.py``.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import aiohttp

from proxy import events as ev
from proxy import sanitize
from proxy import state as st
from proxy.odoo import capabilities, chatbot, payloads
from proxy.odoo.adapters import Adapter, ShapeError, parse_loader
from proxy.odoo.posting import Poster
from proxy.odoo.rpc import OdooError, OdooRPC, OdooUnavailable, RouteMissing, bounded
from proxy.store.base import Conversation, Store
from proxy.upstream.base import (
    MAX_AVATAR_BYTES,
    FileNotFound,
    NoOperatorAvailable,
    Notify,
    NotOffered,
    RatingRefused,
    UploadRefused,
    UpstreamDown,
    UpstreamFile,
)

if TYPE_CHECKING:
    from proxy.cluster.base import Leases

log = logging.getLogger("relay.odoo")


def _words(text: str) -> list[str]:
    return text.split()


def choices_event(step: chatbot.Step) -> dict:
    """Answer buttons for the widget: a ``status`` event ``choices`` (docs/protocol.md §2, an addition)."""
    return ev.new_event("status", status="choices", text="", step=step.id,
                        choices=[{"id": answer_id, "label": label} for answer_id, label in step.answers])


def _uploads(conv: Conversation, event: dict) -> list[tuple[int, str]]:
    """The visitor's files of ``event``, with the token each upload answered with."""
    uploads = st.visitor_of(conv).uploads
    return [(a["id"], uploads[str(a["id"])].token) for a in event["message"].get("attachments") or []
            if isinstance(a, dict) and str(a.get("id")) in uploads]


def _bound(conv: Conversation) -> tuple[int, st.Session]:
    """(Odoo session id, what the relay keeps of it) of a conversation bound to an Odoo session."""
    assert conv.odoo_channel_id is not None and conv.upstream is not None, "not bound to an Odoo session"
    return conv.odoo_channel_id, st.session_of(conv)


def _transcript_event(seq: int, text: str) -> dict:
    """The bot part of a conversation, queued like a visitor message (never stored as an event)."""
    return {"seq": seq, "type": "message", "message": {"text": text, "client_id": None}}


FILE_PAGES = 10           # 19: pages of 30 of a session's files looked through for one download
FILE_TOKENS = 5000        # 19: attachment tokens remembered (oldest dropped first)


ODOO_LANGS = {"ar": "ar_001", "zh": "zh_CN", "pt": "pt_PT", "ja": "ja_JP", "en": "en_US"}


def odoo_lang(tag: str) -> str:
    """A visitor's language tag as Odoo names its languages: ``fr`` → ``fr_FR``, ``pt-BR`` → ``pt_BR``."""
    base, _, region = tag.replace("-", "_").partition("_")
    base = base.lower()
    if region:
        return f"{base}_{region.upper()}"
    return ODOO_LANGS.get(base, f"{base}_{base.upper()}")


class OdooUpstream:
    name = "odoo"

    def __init__(self, rpc: OdooRPC, store: Store, database: str, livechat_channel_id: int | None,
                 leases: Leases, max_backoff: float = 30.0, chatbot_script_id: int | None = None):
        self.rpc, self.store, self.database, self.livechat_channel_id = rpc, store, database, livechat_channel_id
        self.chatbot_script_id = chatbot_script_id
        self.max_backoff = max_backoff
        self.adapter: Adapter | None = None
        self.notify: Notify | None = None          # set by the core: appends an event to a conversation
        # conversation → highest Odoo id of the guest's posts, while its poster runs (then forgotten)
        self._posted_id: dict[str, int] = {}
        self._file_tokens: dict[tuple[str, int], str] = {}   # 19: (conversation, attachment) → raw access token
        self.poster = Poster(self, store, leases)   # one posting loop per conversation (posting.py)
        self.caps: capabilities.Capabilities | None = None
        self._checking = asyncio.Lock()
        self._checked_at = 0.0
        self._start_task: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()
        self._rechecked: dict[str, float] = {}     # route → when its 404 last re-ran the check

    # ------------------------------------------------------------------ what this Odoo offers

    RECHECK_AFTER = 5.0     # seconds: a route's 404 re-runs the capability check at most this often

    async def version(self) -> Adapter:
        """The adapter for this Odoo: its series (the version string a hint, capabilities.py) and
        the route of each feature found by trying them; checked once, and again on a route's 404."""
        if self.adapter is None:
            async with self._checking:
                if self.adapter is None:
                    await self._check()
        assert self.adapter is not None   # _check sets it or raises
        return self.adapter

    async def _check(self) -> None:
        info = await self.rpc.call("/web/webclient/version_info", {})
        serie = str((info or {}).get("server_serie", "")) if isinstance(info, dict) else ""
        hint = capabilities.hinted_major(serie)
        if hint is not None and hint < 17:
            raise OdooUnavailable(f"Odoo {serie} is not supported (17.0 and later are)")
        try:
            caps = await capabilities.detect(self.rpc.http, self.rpc.base_url, serie,
                                             timeout=self.rpc.timeout.total or 10.0, limit=self.rpc.limit)
        except capabilities.RouteCheckFailed as exc:
            raise OdooUnavailable(str(exc)) from None
        before = self.caps
        self.caps, self._checked_at = caps, asyncio.get_running_loop().time()
        self.adapter = Adapter(caps.family, caps)
        if before is None:
            log.info("odoo detected", extra={"serie": serie or None, "version": (info or {}).get("server_version")
                                             if isinstance(info, dict) else None})
            log.info("odoo features", extra=caps.log_extra())
            for name, tried in caps.missing().items():
                log.warning("odoo feature not offered", extra={
                    "feature": name, "tried": ", ".join(tried) or "no route known for this series",
                    "effect": capabilities.FEATURE_USE[name]})
        elif before.chosen != caps.chosen or before.family != caps.family:
            log.warning("odoo features changed", extra=caps.log_extra())

    async def recheck(self, path: str) -> bool:
        """A route answered HTTP 404 (an upgraded Odoo?): check every route again, at most once
        every RECHECK_AFTER seconds for the same route. Whether a check ran."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._rechecked.get(path, -self.RECHECK_AFTER) < self.RECHECK_AFTER:
            return False
        self._rechecked[path] = loop.time()
        while len(self._rechecked) > 256:
            self._rechecked.pop(next(iter(self._rechecked)))
        log.warning("odoo route answered 404: checking the routes again", extra={"route": path})
        async with self._checking:
            try:
                await self._check()
            except OdooUnavailable as exc:
                log.warning("odoo route check failed", extra={"reason": str(exc)[:200]})
                return False
        return True

    def _recheck_soon(self, path: str) -> None:
        """A GET route's 404 (no such file, or no such route: Odoo answers both alike): the routes
        checked again in the background, so the next request knows (RECHECK_AFTER bounds it)."""
        if self.adapter is not None and \
                asyncio.get_running_loop().time() - self._rechecked.get(path, -self.RECHECK_AFTER) >= self.RECHECK_AFTER:
            task = asyncio.create_task(self.recheck(path))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def features(self) -> dict[str, bool] | None:
        """Feature → whether this Odoo offers it (None before the first check): for /healthz."""
        return self.caps.features() if self.caps is not None else None

    def start_checks(self) -> None:
        """At start-up: the capability check in the background, retried while Odoo is down, so
        the log says what works on this Odoo without waiting for the first visitor."""
        async def run() -> None:
            delay = 1.0
            while self.adapter is None:
                try:
                    await self.version()
                except (OdooUnavailable, OdooError) as exc:
                    log.warning("odoo not checked yet", extra={"reason": str(exc)[:200], "retry_in": delay})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 60.0)
        if self._start_task is None:
            self._start_task = asyncio.create_task(run())

    async def _feature_call(self, feature: str, build: Callable[[Adapter], tuple | None], **kw):
        """One JSON-RPC call of ``feature`` on the route found for it (``build``: the adapter's
        (route, params[, cookies]), None where this Odoo has no route for it: NotOffered). The
        route's HTTP 404 re-checks the routes and tries the variant found then, once."""
        for attempt in range(2):
            request = build(await self.version())
            if request is None:
                raise NotOffered()
            route, params, *rest = request
            try:
                return await self.rpc.call(route, params, cookies=rest[0] if rest else None, **kw)
            except RouteMissing:
                if attempt == 0 and await self.recheck(route):
                    continue             # the variant found now (or none: NotOffered)
                raise NotOffered() from None
        raise NotOffered()

    async def open_session(self, conv: Conversation) -> tuple[str, int]:
        try:
            adapter = await self.version()
            if self.caps is None or not self.caps.works("sessions"):   # (caps: set with the adapter)
                raise NotOffered()
            channel = conv.livechat_channel_id or self.livechat_channel_id
            params = adapter.session_params(channel, conv.visitor_name,
                                            st.session_of(conv).previous_operator_id)
            if self.chatbot_script_id:
                params["chatbot_script_id"] = self.chatbot_script_id
            cookies, headers = adapter.session_language(odoo_lang(conv.lang) if conv.lang else None)
            try:
                result = await self.rpc.call(adapter.session_route(), params, cookies=cookies, headers=headers)
            except RouteMissing:
                await self.recheck(adapter.session_route())
                if self.caps is not None and not self.caps.works("sessions"):
                    raise NotOffered() from None
                raise
            session = adapter.parse_session(result)
            step = None
            if self.chatbot_script_id and session is not None:
                step = chatbot.session_step(adapter.major, result)
                if adapter.major < 18:     # 17 posts the welcome steps on the widget's word
                    step = chatbot.welcome_step(await self.rpc.call("/chatbot/post_welcome_steps", chatbot.route_params(
                        17, session[0], adapter.session_uuid(result), chatbot_script_id=self.chatbot_script_id)))
        except (OdooUnavailable, OdooError, ShapeError) as exc:
            log.warning("odoo get_session failed", extra={"reason": str(exc)})
            raise UpstreamDown(str(exc)) from None
        if session is None:
            raise NoOperatorAvailable()
        channel_id, guest_token = session
        name = adapter.guest_name_params(guest_token, conv.visitor_name)
        if name and adapter.variant("visitor_name") == "update_name":
            try:            # the name on the guest: what the operator sees beside the visitor's messages
                await self.rpc.call("/mail/guest/update_name", name, cookies={"dgid": guest_token})
            except (OdooUnavailable, OdooError) as exc:   # the session is open all the same
                log.warning("odoo guest name not set", extra={"reason": str(exc)[:200]})
        # the operator's partner: the visitor's previous operator next time (Relay.returning)
        conv.upstream = st.Session.opened(guest_token, adapter.session_uuid(result), adapter.session_operator(result),
                                          self.chatbot_script_id, step.as_dict() if step else None)
        return self.database, channel_id

    def opening_events(self, conv: Conversation) -> list[dict]:
        """The first events of a new conversation: waiting for an operator, or Odoo's chatbot
        script talking (and its first question's answer buttons)."""
        state = st.session_of(conv).chatbot
        if state is None:
            return [ev.status("waiting_operator", "Waiting for an operator…")]
        events = [ev.status("chatbot", "You are chatting with our virtual assistant.")]
        if (step := chatbot.Step.from_dict(state.step)) and step.answers:
            events.append(choices_event(step))
        return events

    async def _bus_step(self, guest_token: str, channel_id: int) -> chatbot.Step | None:
        """19: the chatbot step on the guest's bus, by its HTTP twin (``last`` 0: the last seconds'
        notifications, the trigger's among them; ``is_first_poll``: no session cookie to keep)."""
        try:
            result = await self.rpc.call("/websocket/peek_notifications", {
                "channels": [f"mail.guest_{guest_token}"], "last": 0, "is_first_poll": True})
        except (OdooUnavailable, OdooError) as exc:
            log.warning("odoo chatbot step not read from the bus", extra={"reason": str(exc)[:200]})
            return None
        return chatbot.bus_step((result or {}).get("notifications") if isinstance(result, dict) else None, channel_id)

    async def _chatbot_turn(self, conversation_id: str, text: str) -> None:
        """After a visitor message reached a session Odoo's chatbot script is running: save the
        chosen answer, move the script on (past plain text steps), offer the next answer buttons."""
        conv = await self.store.get_conversation(conversation_id)
        if conv is None:
            return
        running = st.session_of(conv).chatbot
        what, step, answer = chatbot.visitor_turn(running, conv.closed, text)
        if what == "none" or running is None:
            return
        if what == "ask_again":
            if self.notify and step is not None:   # not one of the answers: ask again
                await self.notify(conversation_id, choices_event(step))
            return
        adapter = await self.version()
        channel_id, up = _bound(conv)
        major = adapter.major
        cookies = {"dgid": up.token} if major >= 18 else None   # 18/19: cookie routes

        def params(**extra) -> dict:
            return chatbot.route_params(major, channel_id, up.uuid, **extra)
        try:
            if step is not None and answer is not None and step.message_id:
                await self.rpc.call("/chatbot/answer/save", params(message_id=step.message_id,
                                                                    selected_answer_id=answer), cookies)
            for _ in range(20):
                before = step
                result = await self.rpc.call("/chatbot/step/trigger", params(chatbot_script_id=running.script), cookies)
                if major >= 19:      # the step went to the guest's bus only: read it there (with its
                    # answers), or, failing that, its type from the session's messages
                    step = await self._bus_step(up.token, channel_id)
                    if step is None:
                        recent = payloads.poll_params(major, up.token, channel_id, 0)
                        step = chatbot.messages_step(await self.rpc.call("/im_livechat/cors/channel/messages", recent))
                    if step and before and step.message_id == before.message_id:
                        step = None  # nothing new: the script is over
                else:
                    step = chatbot.trigger_step(major, result)
                if step is None or step.type != "text" or step.is_last:
                    break
        except (OdooUnavailable, OdooError, ShapeError) as exc:
            log.warning("odoo chatbot step failed", extra={"conversation": conversation_id, "reason": str(exc)})
            return
        patch, offer = chatbot.turn_over(step)
        await self.store.merge_upstream(conversation_id, patch)
        if offer and step is not None and self.notify:
            await self.notify(conversation_id, choices_event(step))
    async def handoff(self, conv: Conversation, transcript: str | None, seq: int) -> None:
        """Post the bot part of the conversation as one guest message, ahead of anything the visitor
        sends next; kept with the conversation until posted, so a restart posts it (once) too."""
        if transcript is None:
            await self.store.merge_upstream(conv.id, st.PostingCursor.patch(posted_seq=seq))
            return
        await self.store.merge_upstream(conv.id, st.PostingCursor.patch(transcript=st.Transcript(seq, transcript)))
        await self.visitor_message(conv, _transcript_event(seq, transcript))

    # ------------------------------------------------------------------ visitor → Odoo
    #
    # Each visitor message is stored by the core before it gets here. What was posted is kept with
    # the conversation (``merge_upstream``): ``posted_seq`` (the last visitor event dealt with),
    # ``posted_odoo_id`` and ``sent`` (Odoo's message id per client_id). So after a restart the
    # messages above ``posted_seq`` are posted again in order, and whenever a post may have reached
    # Odoo without the relay hearing back (a timeout, a dropped connection, a crash) the relay first
    # looks for it among the guest's messages in the session: found, it is recorded, not re-posted.

    async def visitor_message(self, conv: Conversation, event: dict) -> None:
        await self.poster.message_stored(conv, event)

    async def unposted(self, conv: Conversation) -> list[dict]:
        """What is still to go to Odoo for this conversation, in order: a bot transcript not posted
        yet (a handoff), then the stored visitor messages above ``posted_seq``."""
        cursor = st.posting_of(conv)
        done = cursor.posted_seq
        pending = []
        transcript = cursor.transcript
        if transcript and done < transcript.seq:   # handed off by the bot, not posted yet
            pending.append(_transcript_event(transcript.seq, transcript.text))
            done = transcript.seq
        after = done
        while True:
            replay = await self.store.events_after(conv.id, after)
            pending += [e for e in replay.events if e["seq"] > done and e["type"] == "message"
                        and e["message"]["author"]["kind"] == "visitor"]
            if not replay.events or replay.events[-1]["seq"] >= replay.last_seq:
                return pending
            after = replay.events[-1]["seq"]

    async def resume(self) -> int:
        """After a restart: post every stored visitor message not yet known to be in Odoo."""
        return await self.poster.resume()

    def forget(self, conversation_id: str) -> None:
        """The conversation's poster has stopped: what it knew is in the store."""
        self._posted_id.pop(conversation_id, None)

    async def after_post(self, conv: Conversation, event: dict) -> None:
        """A visitor message is in Odoo: where Odoo's chatbot script runs the session, its turn."""
        if self.chatbot_script_id and event["message"].get("client_id"):   # not a bot transcript
            await self._chatbot_turn(conv.id, event["message"]["text"])

    async def post(self, conv: Conversation, event: dict, verify: bool) -> bool:
        """Post ``event`` to Odoo exactly once; returns whether the next message must be verified."""
        attempt, warned = 0, False
        while True:
            try:
                adapter = await self.version()
                found = await self._find_posted(adapter, conv, event) if verify else None
                if found is None:
                    channel_id, up = _bound(conv)
                    request = adapter.post_request(up.token, channel_id,
                                                   event["message"]["text"], _uploads(conv, event))
                    if request is None:       # no posting route on this Odoo (yet): kept, tried again
                        raise OdooUnavailable("no route to post visitor messages on this Odoo")
                    try:
                        result = await self.rpc.call(request[0], request[1], cookies=request[2])
                    except RouteMissing:
                        await self.recheck(request[0])    # the next attempt takes the route found then
                        raise
                    await self._posted(conv, event, adapter.parse_post(result), "visitor message posted")
                else:
                    await self._posted(conv, event, found, "visitor message found in odoo")
                if warned and self.notify:
                    await self.notify(conv.id, ev.status("delivered", "Your messages reached the operator."))
                return found is not None
            except (OdooUnavailable, ShapeError) as exc:
                attempt += 1
                verify = True        # the post may have reached Odoo all the same
                if not warned and self.notify:
                    warned = True
                    await self.notify(conv.id, ev.status(
                        "upstream_unavailable",
                        "The operator's side is not answering; your message will be sent as soon as it is back."))
                delay = random.uniform(0.5, min(self.max_backoff, 0.5 * 2 ** attempt))
                log.warning("odoo post failed, retrying", extra={"conversation": conv.id, "reason": str(exc),
                                                                 "retry_in": round(delay, 1)})
                await asyncio.sleep(delay)
            except OdooError as exc:   # refused (session gone, token invalid): look before saying so
                try:
                    found = await self._find_posted(await self.version(), conv, event)
                except (OdooUnavailable, ShapeError):   # cannot tell now: try again, looking first
                    verify, attempt = True, attempt + 1
                    await asyncio.sleep(random.uniform(0.5, min(self.max_backoff, 0.5 * 2 ** attempt)))
                    continue
                except OdooError:
                    found = None
                if found is not None:   # the refusal was an error after the post: it is in Odoo
                    await self._posted(conv, event, found, "visitor message found in odoo")
                    return True
                log.warning("odoo refused a visitor message", extra={"conversation": conv.id, "reason": str(exc)})
                await self._posted(conv, event, None, "visitor message refused")
                if self.notify:
                    await self.notify(conv.id, ev.status("not_delivered",
                                                         "This message could not be delivered to the operator."))
                return False

    async def _find_posted(self, adapter: Adapter, conv: Conversation, event: dict) -> int | None:
        """The id of the guest's first message in the session above the last one recorded, when its
        text is this event's (messages are posted one at a time, so no other can be there)."""
        channel_id, up = _bound(conv)
        after = max(self._posted_id.get(conv.id, 0), st.posting_of(conv).posted_odoo_id)
        result = await self.rpc.call("/im_livechat/cors/channel/messages", payloads.poll_params(
            adapter.major, up.token, channel_id, after))
        for msg in payloads.poll_messages(result, channel_id, self.rpc.base_url):
            if msg.author_kind == "visitor" and not msg.is_note and msg.id > after:
                same = _words(sanitize.html_to_text(msg.body_html)) == _words(event["message"]["text"])
                return msg.id if same else None
        return None

    async def _posted(self, conv: Conversation, event: dict, message_id: int | None, what: str) -> None:
        changes = st.PostingCursor.patch(posted_seq=event["seq"])
        if message_id is not None:
            self._posted_id[conv.id] = max(message_id, self._posted_id.get(conv.id, 0),
                                           st.posting_of(conv).posted_odoo_id)
            client_id = event["message"].get("client_id")
            changes = st.PostingCursor.patch(posted_seq=event["seq"], posted_odoo_id=self._posted_id[conv.id],
                                             sent={client_id: message_id} if client_id else st.UNSET)
        await self.store.merge_upstream(conv.id, changes)
        log.info(what, extra={"conversation": conv.id, "odoo_message": message_id, "seq": event["seq"]})

    async def visitor_typing(self, conv: Conversation, typing: bool) -> None:
        if not st.has_state(conv):
            return
        channel_id, up = _bound(conv)
        token = up.token
        try:
            await self._feature_call("typing", lambda a: (a.typing_route(), a.typing_params(
                token, channel_id, typing), a.typing_cookies(token)) if a.typing_route() else None)
        except (OdooUnavailable, OdooError, ShapeError, NotOffered):
            pass   # best effort

    async def visitor_left(self, conv: Conversation) -> None:
        try:
            adapter = await self.version()
            if st.has_state(conv):
                channel_id, up = _bound(conv)
                await self.rpc.call("/im_livechat/cors/visitor_leave_session", adapter.leave_params(
                    up.token, channel_id, up.uuid))
        except (OdooUnavailable, OdooError, ShapeError) as exc:
            log.warning("odoo leave failed", extra={"conversation": conv.id, "reason": str(exc)})

    async def config(self, livechat_channel_id: int | None, page_url: str | None, lang: str | None) -> dict:
        """Odoo's own widget start for that channel and page: availability and the matching rule
        from its init route (the page as the ``Referer``, which Odoo's rule matching reads), the
        channel's texts and colours from its loader script, in the visitor's language where Odoo
        has it (the ``frontend_lang`` cookie its website sets; else Odoo's default)."""
        channel = livechat_channel_id or self.livechat_channel_id
        headers = {"Referer": page_url} if page_url else None
        cookies = {"frontend_lang": odoo_lang(lang)} if lang else None
        try:
            result = await self._feature_call("config", lambda a: a.init_request(channel), headers=headers)
            found = (await self.version()).parse_init(result)
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        except OdooError as exc:           # 17/18 on a channel id that is no record
            log.info("odoo init refused", extra={"channel": channel, "reason": str(exc)[:200]})
            raise FileNotFound() from None
        except ShapeError as exc:
            raise UpstreamDown(str(exc)) from None
        if found is None:
            raise FileNotFound()
        try:
            async with bounded(self.rpc.limit), self.rpc.http.get(
                    f"{self.rpc.base_url}/im_livechat/loader/{channel}", timeout=self.rpc.timeout,
                    cookies=cookies, allow_redirects=False) as resp:
                loader = await resp.text() if resp.status == 200 else ""
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamDown(type(exc).__name__) from None
        return {"available": found[0], "rule": found[1] or {"action": "display_button", "auto_popup_timer": 0,
                                                             "chatbot": False},
                **parse_loader(loader)}

    async def email_transcript(self, conv: Conversation, email: str) -> None:
        """Odoo mails the session's transcript (its own template) where it offers that to visitors."""
        up = st.session_of(conv)
        channel_id = conv.odoo_channel_id
        if channel_id is None:
            raise NotOffered()
        try:
            await self._feature_call("transcript_mail", lambda a: a.transcript_email(
                up.guest_token or "", channel_id, up.uuid, email))
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        except OdooError as exc:
            log.info("odoo refused a transcript email", extra={"conversation": conv.id, "reason": str(exc)[:200]})
            raise NotOffered() from None

    @contextlib.asynccontextmanager
    async def transcript_pdf(self, conv: Conversation) -> AsyncIterator[UpstreamFile]:
        """19: Odoo's own PDF of the session, as its guest downloads it (rendered by wkhtmltopdf)."""
        try:
            adapter = await self.version()
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        up = st.session_of(conv)
        request = adapter.transcript_pdf(up.guest_token or "", conv.odoo_channel_id) if conv.odoo_channel_id else None
        if request is None:
            raise NotOffered()
        async with self._stream(*request) as found:
            yield found

    @contextlib.asynccontextmanager
    async def _stream(self, path: str, params: dict, cookies: dict | None = None) -> AsyncIterator[UpstreamFile]:
        """A GET to Odoo streamed back: FileNotFound on 403/404, UpstreamDown otherwise. Not bounded
        by RELAY_ODOO_MAX_REQUESTS: a slow download must not hold a slot other requests need; each
        read has its own timeout."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
        try:
            resp = await self.rpc.http.get(self.rpc.base_url + path, params=params, cookies=cookies,
                                           timeout=timeout, allow_redirects=False)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamDown(f"{type(exc).__name__}") from None
        try:
            if resp.status in (403, 404):     # not on this session, or not this guest's to read
                if resp.status == 404:        # …or no such route any more: checked again
                    self._recheck_soon(path)
                raise FileNotFound()
            if resp.status != 200:
                raise UpstreamDown(f"HTTP {resp.status}")
            disposition = resp.content_disposition
            yield UpstreamFile(resp.headers.get("Content-Type"), resp.content_length,
                               disposition.filename if disposition is not None else None,
                               resp.content.iter_chunked(65536))
        finally:
            resp.release()

    @contextlib.asynccontextmanager
    async def open_file(self, conv: Conversation, attachment_id: int, thumbnail: bool = False) -> AsyncIterator[UpstreamFile]:
        """One file of the session, as its guest reads it (the route Odoo's own widget uses, the
        same on 17, 18 and 19): whoever uploaded it, operator or visitor, if it is on this session."""
        up = st.session_of(conv)
        if conv.odoo_channel_id is None or not up.guest_token:
            raise FileNotFound()
        try:
            adapter = await self.version()
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        variant = adapter.variant("files")
        if variant is None:
            raise NotOffered()
        if variant == "web_content":
            # 19 has no guest route for a file: its widget reads /web/content with the
            # attachment's raw access token, which the guest can list for its session
            token = await self._file_token(conv, attachment_id)
            if token is None:
                raise FileNotFound()
            path = f"/web/image/{attachment_id}/256x256" if thumbnail else f"/web/content/{attachment_id}"
            params = {"access_token": token}
        else:
            kind = f"image/{attachment_id}/256x256" if thumbnail else f"attachment/{attachment_id}"
            path = f"/im_livechat/cors/channel/{conv.odoo_channel_id}/{kind}"
            params = {"guest_token": up.token}
        async with self._stream(path, params) as found:
            yield found

    async def avatar(self, conv: Conversation, partner_id: int) -> tuple[str, bytes]:
        """A partner's picture as the session's guest sees it (Adapter.avatar_request)."""
        up = st.session_of(conv)
        if conv.odoo_channel_id is None or not up.guest_token:
            raise FileNotFound()
        try:
            adapter = await self.version()
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        request = adapter.avatar_request(up.token, conv.odoo_channel_id, partner_id)
        if request is None:
            raise NotOffered()
        path, params, cookies = request
        try:
            async with bounded(self.rpc.limit), self.rpc.http.get(
                    self.rpc.base_url + path, params=params, cookies=cookies, timeout=self.rpc.timeout,
                    allow_redirects=False) as resp:
                if resp.status in (403, 404):
                    if resp.status == 404:
                        self._recheck_soon(path)
                    raise FileNotFound()
                if resp.status != 200:
                    raise UpstreamDown(f"HTTP {resp.status}")
                data = await resp.content.read(MAX_AVATAR_BYTES + 1)
                if len(data) > MAX_AVATAR_BYTES:
                    raise FileNotFound()
                return resp.headers.get("Content-Type", "application/octet-stream"), data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamDown(type(exc).__name__) from None

    async def seen(self, conv: Conversation, message_id: int) -> None:
        """The visitor has seen the session up to Odoo message ``message_id``."""
        channel_id, up = _bound(conv)
        try:
            await self._feature_call("seen", lambda a: a.seen_request(up.token, channel_id, message_id))
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        except OdooError as exc:     # the session is gone: nothing to mark
            log.info("odoo refused a seen mark", extra={"conversation": conv.id, "reason": str(exc)[:200]})

    async def page_history(self, conv: Conversation, urls: list[str], partner_id: int | None) -> None:
        """The visitor's pages to the operator who asked (``/history`` in Odoo), as Odoo's own
        widget answers: Odoo shows them to that partner (a transient message). ``partner_id``: who
        asked where Odoo says it (19's bus, the addon), else the session's operator (17/18's widget
        answers to that one too)."""
        adapter = await self.version()
        channel_id, up = _bound(conv)   # (Relay.history_requested: bound conversations only)
        pid = partner_id or up.operator_id
        if not isinstance(pid, int) or isinstance(pid, bool):
            log.info("page history: no operator to answer", extra={"conversation": conv.id})
            return
        try:
            await self.rpc.call(*adapter.history_request(up.guest_token or "", channel_id,
                                                         up.uuid, pid, urls))
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        except OdooError as exc:   # the session is gone, or that partner is no member of it
            log.info("odoo refused the page history", extra={"conversation": conv.id, "reason": str(exc)[:200]})

    async def rate(self, conv: Conversation, rating: int, comment: str | None) -> None:
        """The visitor's rating of the session, through Odoo's own feedback route: one
        rating.rating per session (a new one replaces it), and Odoo's note in the session."""
        channel_id, up = _bound(conv)
        try:
            await self._feature_call("rating", lambda a: (a.rating_route(), a.rating_params(
                up.token, channel_id, up.uuid, rating, comment))
                if a.rating_route() else None)
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        except OdooError as exc:   # the guest has left the session (19: it may read it no more)
            log.info("odoo refused a rating", extra={"conversation": conv.id, "reason": str(exc)[:200]})
            raise RatingRefused() from None

    async def upload_file(self, conv: Conversation, name: str, mimetype: str,
                          chunks: AsyncIterator[bytes]) -> tuple[int, str]:
        """Stream one visitor file to the session, as its guest (Odoo's own upload route, the same
        on 17–19; pending until posted with a message). (attachment id, ownership token)."""
        try:
            adapter = await self.version()
        except OdooUnavailable as exc:
            raise UpstreamDown(str(exc)) from None
        if not adapter.variant("uploads"):
            raise UploadRefused("not_offered", "Files cannot be sent in this chat.")
        form = aiohttp.FormData()
        channel_id, up = _bound(conv)
        for key, value in adapter.upload_fields(up.token, channel_id).items():
            form.add_field(key, value)
        form.add_field("ufile", aiohttp.AsyncIterablePayload(chunks), filename=name, content_type=mimetype)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
        try:
            async with bounded(self.rpc.limit), self.rpc.http.post(
                    self.rpc.base_url + "/im_livechat/cors/attachment/upload", data=form, timeout=timeout,
                    allow_redirects=False) as resp:
                status, text = resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise UpstreamDown(f"{type(exc).__name__}") from None
        if status >= 500:
            raise UpstreamDown(f"HTTP {status}")
        if status == 403:   # 17/18: the session's allow_public_upload is off (Odoo's default there)
            raise UploadRefused("not_offered", "Files cannot be sent in this chat.")
        if status == 404 and not text.lstrip().startswith("{"):   # Odoo's 404 page: no such route
            await self.recheck("/im_livechat/cors/attachment/upload")
            if self.caps is not None and not self.caps.works("uploads"):
                raise UploadRefused("not_offered", "Files cannot be sent in this chat.")
        if status == 404:
            raise UploadRefused("session_gone", "This conversation has ended on the operator's side.")
        if status != 200:
            raise UpstreamDown(f"attachment/upload: HTTP {status}")
        try:
            result = json.loads(text)
            if isinstance(result, dict) and result.get("error"):    # AccessError, answered as data
                raise UploadRefused("not_offered", "Files cannot be sent in this chat.")
            return adapter.parse_upload(result)
        except (ValueError, ShapeError) as exc:
            raise UpstreamDown(f"attachment/upload: {exc}") from None

    async def _file_token(self, conv: Conversation, attachment_id: int) -> str | None:
        """19: the raw access token of one attachment of the session, from the guest's own list of
        the session's files (newest first, 30 a page); remembered for the next download."""
        key = (conv.id, attachment_id)
        if key in self._file_tokens:
            return self._file_tokens[key]
        before = None
        for _ in range(FILE_PAGES):
            params: dict = {"channel_id": conv.odoo_channel_id, "limit": 30}
            if before is not None:
                params["before"] = before
            try:
                result = await self.rpc.call("/discuss/channel/attachments", params,
                                             cookies={"dgid": _bound(conv)[1].token})
            except OdooUnavailable as exc:
                raise UpstreamDown(str(exc)) from None
            except OdooError:
                return None            # the session is gone, or this guest may not list it
            rows = ((result or {}).get("store_data") or {}).get("ir.attachment") if isinstance(result, dict) else None
            rows = [r for r in rows or [] if isinstance(r, dict) and isinstance(r.get("id"), int)]
            for row in rows:
                if isinstance(row.get("raw_access_token"), str):
                    self._file_tokens[(conv.id, row["id"])] = row["raw_access_token"]
            while len(self._file_tokens) > FILE_TOKENS:
                self._file_tokens.pop(next(iter(self._file_tokens)))
            if key in self._file_tokens or len(rows) < 30:
                break
            before = min(r["id"] for r in rows)
        return self._file_tokens.get(key)

    async def close(self) -> None:
        for task in [self._start_task, *self._background]:
            if task is not None:
                task.cancel()
        await self.poster.stop()
