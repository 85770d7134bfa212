"""Structured logging: one JSON object per line on stderr. Secrets never reach it: callers log
ids and paths, never tokens, query strings or headers; and a filter on the handler redacts
whatever a library prints (aiohttp logs the first bytes of an oversized request line or header,
which can hold a visitor token): visitor tokens, ``whsec_`` secrets, Bearer credentials,
``token=`` query values and Odoo guest tokens are replaced by ``[redacted]``."""
from __future__ import annotations

import json
import logging
import re
import sys
import time

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


REDACTED = "[redacted]"
_SECRETS = re.compile(
    r"v1\.[A-Za-z0-9_-]{1,64}\.\d{1,12}\.[A-Za-z0-9_-]{8,}"          # visitor tokens
    r"|whsec_[A-Za-z0-9+/=]+"                                       # webhook / bot secrets
    r"|(?i:bearer)\s+[^\s,;\"'\\]+"                                  # Authorization: Bearer …
    r"|(?i:basic)\s+[A-Za-z0-9+/=]{8,}"
    r"|(?i:(?:[?&;\s\"']|^)(?:token|access_token|guest_token|api_key|password|secret)[\"']?\s*[=:]\s*[\"']?)[^\s&;,\"'\\]+"
    r"|dgid_[A-Za-z0-9_-]+|\b\d+\|[A-Za-z0-9]{20,}"                      # Odoo guest cookies / tokens
)


def redact(text: str) -> str:
    def keep_key(m: re.Match) -> str:
        found = m.group(0)
        for sep in ("=", ":"):
            head, eq, _ = found.partition(sep)
            if eq and not found.lower().startswith(("bearer", "basic", "whsec_", "v1.")):
                return head + eq + REDACTED
        return REDACTED
    return _SECRETS.sub(keep_key, text)


class RedactingFilter(logging.Filter):
    """On the handler: every record's message, extra fields and traceback pass through redact()."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:   # a library's bad format string: keep the raw text
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _RESERVED and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


def setup(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # we log requests ourselves, without query strings
