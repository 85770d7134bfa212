"""Operator HTML to a small allow-list with ``nh3`` (Ammonia); plain text from HTML.

The widget never inserts HTML raw; this is the relay's half of that promise.
"""
from __future__ import annotations

import html as _html
import re

import nh3

TAGS = {"p", "br", "b", "strong", "i", "em", "u", "s", "a", "ul", "ol", "li", "blockquote", "code", "pre", "span"}
ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}

_BLOCK = re.compile(r"</?(p|div|li|ul|ol|blockquote|pre|h[1-6]|tr|table|section|article|header|footer)\b[^>]*>"
                    r"|<br\s*/?>", re.I)
_SPACES = re.compile(r"[ \t\r\f\v]+")


# a link keeps its href only with an absolute URL of an allowed scheme: no relative
# ("account/logout", "/x"), scheme-relative ("//evil.example") or fragment-only links
_ABSOLUTE_LINK = re.compile(r"^(https?://[^/\\\s?#]|mailto:[^\s])", re.I)


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    if element == "a" and attribute == "href":
        return value if _ABSOLUTE_LINK.match(value.strip()) else None
    return value


# built once (nh3.clean builds its allow-lists on every call: about twice the time per message)
_CLEANER = nh3.Cleaner(
    tags=TAGS,
    attributes=ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
    attribute_filter=_attribute_filter,
)
_TEXT = nh3.Cleaner(tags=set(), clean_content_tags={"script", "style"})


def clean_html(value: str) -> str:
    """Sanitize to the allow-list; links get ``rel="noopener noreferrer nofollow"`` and keep their
    ``href`` only with an absolute http, https or mailto URL."""
    return _CLEANER.clean(value or "")


def html_to_text(value: str) -> str:
    """Plain text: block ends become newlines, every tag goes, entities are decoded."""
    marked = _BLOCK.sub("\n", value or "")
    bare = _TEXT.clean(marked)
    lines = (_SPACES.sub(" ", line).strip() for line in _html.unescape(bare).split("\n"))
    return "\n".join(line for line in lines if line)


def text_to_html(text: str) -> str:
    """Visitor text as HTML: escaped, one paragraph, newlines as <br>."""
    return "<p>" + _html.escape(text).replace("\n", "<br>") + "</p>"
