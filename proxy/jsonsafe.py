"""JSON from the outside world, refused unless every string is valid Unicode and every number fits.

``json.loads`` accepts ``"\\ud800"`` (a lone UTF-16 surrogate) and integers of any size. Neither can
be stored (UTF-8 has no encoding for a surrogate; SQLite and Redis refuse it) nor sent to Odoo
(ids are PostgreSQL ``integer``). Every body, webhook, WebSocket frame and bot answer goes through
:func:`loads`, so such input is a 400 (or an ``error`` frame) before any handler sees it.
"""
from __future__ import annotations

import json
from typing import Any

MAX_SAFE_INT = 2 ** 53 - 1      # what a browser's JSON.parse keeps exactly
MAX_ODOO_ID = 2 ** 31 - 1       # PostgreSQL integer, the type of every Odoo id
MAX_DEPTH = 32


class UnsafeJSON(ValueError):
    """Not JSON, or JSON with a lone surrogate, an out-of-range number or too deep a nesting."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise UnsafeJSON("number_out_of_range", "numbers must be finite")
    return value


def _int(text: str) -> int:
    if len(text) > 17:           # more digits than 2**53 has: refuse before converting
        raise UnsafeJSON("number_out_of_range", f"integers must be within ±{MAX_SAFE_INT}")
    value = int(text)
    if abs(value) > MAX_SAFE_INT:
        raise UnsafeJSON("number_out_of_range", f"integers must be within ±{MAX_SAFE_INT}")
    return value


def _constant(name: str) -> Any:
    raise UnsafeJSON("invalid_json", f"{name} is not JSON")


def is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check(value: Any, depth: int = 0) -> None:
    """Raise :class:`UnsafeJSON` if ``value`` holds a string that is not valid Unicode."""
    if depth > MAX_DEPTH:
        raise UnsafeJSON("invalid_json", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if not is_valid_unicode(value):
            raise UnsafeJSON("invalid_unicode", "strings must be valid Unicode (no lone surrogates)")
    elif isinstance(value, dict):
        for key, item in value.items():
            check(key, depth + 1)
            check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check(item, depth + 1)


def loads(raw: bytes | str) -> Any:
    """Parse ``raw`` as JSON (UTF-8 when bytes); raise :class:`UnsafeJSON` for anything unsafe."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError:
        raise UnsafeJSON("invalid_json", "not JSON (not UTF-8)") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except UnsafeJSON:
        raise
    except (ValueError, RecursionError):
        raise UnsafeJSON("invalid_json", "not JSON") from None
    check(value)
    return value


def odoo_id(value: Any) -> bool:
    """True for what an Odoo record id can be: a positive PostgreSQL integer."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ODOO_ID
