"""A conversation's transcript, built from what the relay stored (docs/protocol.md §5): oldest
first, with times (UTC) and author names as the visitor saw them; edits shown as they ended up,
deletions as deleted, files by name. Text or a self-contained HTML page (no script, no remote
resource: every value escaped)."""
from __future__ import annotations

import html
from collections.abc import Iterable

from proxy.store.base import Store

PAGE = 500
MAX_PAGES = 200       # 100,000 events at most


async def events_of(store: Store, conversation_id: str) -> list[dict]:
    out, after = [], 0
    for _ in range(MAX_PAGES):
        replay = await store.events_after(conversation_id, after, PAGE)
        out.extend(replay.events)
        if len(replay.events) < PAGE:
            break
        after = replay.events[-1]["seq"]
    return out


def lines(events: Iterable[dict], visitor_name: str, labels: dict[str, str]) -> list[tuple[str, str, str]]:
    """(time, who, what) for each line of the transcript."""
    messages: dict[str, dict] = {}
    order: list[str | tuple[str, str]] = []   # a message id, or a note's (when, text)
    for event in events:
        kind, at = event.get("type"), str(event.get("at") or "")
        when = at[:16].replace("T", " ") + " UTC" if at else ""
        message = event.get("message") or {}
        if kind == "message" and isinstance(message.get("id"), str):
            messages[message["id"]] = {"when": when, **message}
            order.append(message["id"])
        elif kind == "message_updated" and message.get("id") in messages:
            messages[message["id"]].update(text=message.get("text", ""), attachments=message.get("attachments") or [])
        elif kind == "message_deleted" and message.get("id") in messages:
            messages[message["id"]]["deleted"] = True
        elif kind in ("member_joined", "member_left"):
            name = (event.get("member") or {}).get("name") or labels["operator"]
            order.append((when, labels["joined" if kind == "member_joined" else "left"].format(name=name)))
        elif kind == "closed":
            order.append((when, labels["closed"]))
        elif kind == "rating":
            order.append((when, labels["rating"].format(rating=event.get("rating"))))
    out = []
    for ref in order:
        if isinstance(ref, tuple):
            when, note = ref
            out.append((when, "", note))
            continue
        msg = messages[ref]
        author = msg.get("author") or {}
        who = visitor_name if author.get("kind") == "visitor" else (
            author.get("name") or labels["bot" if author.get("kind") == "bot" else "operator"])
        if msg.get("deleted"):
            text = labels["deleted"]
        else:
            files = [labels["file"].format(name=a.get("name") or "") for a in msg.get("attachments") or []]
            text = "\n".join([t for t in [msg.get("text") or ""] if t] + files)
        out.append((msg["when"], who, text))
    return out


LABELS = {"operator": "Operator", "bot": "Assistant", "joined": "{name} joined the conversation",
          "left": "{name} left the conversation", "closed": "The conversation ended.",
          "rating": "Rated {rating}/5", "deleted": "(deleted)", "file": "[file: {name}]"}


def as_text(rows: list[tuple[str, str, str]], title: str) -> str:
    out = [title, ""]
    for when, who, text in rows:
        body = text.replace("\n", "\n    ")
        out.append(f"[{when}] {who}: {body}" if who else f"[{when}] — {body}")
    return "\n".join(out) + "\n"


def as_html(rows: list[tuple[str, str, str]], title: str) -> str:
    esc = html.escape
    items = []
    for when, who, text in rows:
        body = esc(text).replace("\n", "<br>")
        if who:
            items.append(f'<li><time>{esc(when)}</time> <b>{esc(who)}</b><p>{body}</p></li>')
        else:
            items.append(f'<li class="note"><time>{esc(when)}</time> {body}</li>')
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>" + esc(title) + "</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto}li{margin:.6em 0;list-style:none}"
            "time{color:#6b7280;font-size:.85em}p{margin:.2em 0}.note{color:#6b7280}</style></head><body><h1>"
            + esc(title) + "</h1><ol>" + "".join(items) + "</ol></body></html>\n")
