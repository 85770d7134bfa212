"""Relay settings: one frozen dataclass, read once from flags and ``RELAY_*`` variables.

Every field has a flag (``--token-ttl``) and a variable (``RELAY_TOKEN_TTL``); the flag wins.
``SETTINGS`` below is the single table that cli.py, the README and the docs test read, so a
setting cannot exist in one place and be missing from another.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from proxy.uploads import DEFAULT_TYPES as DEFAULT_UPLOAD_TYPES

REPLY_MODES = ("webhook", "bus", "poll", "auto", "shared_bus")
BOT_NO_OPERATOR = ("stay", "message")


class ConfigError(ValueError):
    """A setting has a value the relay cannot use."""


def _rate(text: str) -> tuple[int, float]:
    """Parse ``"N/S"`` (N requests per S seconds)."""
    try:
        count, _, seconds = text.partition("/")
        n, s = int(count), float(seconds or 60)
        if not math.isfinite(s):
            raise ValueError
    except ValueError:
        raise ConfigError(f"rate {text!r}: expected N/SECONDS, for example 30/60") from None
    if n < 1 or s <= 0:
        raise ConfigError(f"rate {text!r}: N and SECONDS must be positive")
    return n, s


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not (0 <= int(port) < 65536):
        raise ConfigError(f"listen {text!r}: expected HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost (a name: what it resolves to is checked when listening)."""
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{text!r} is not a boolean (true/false)")


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{text!r} must be positive")
        return value
    return parse


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str          # field name; flag is --name-with-dashes, variable RELAY_NAME
    default: str | None
    parse: Callable[[str], Any]
    help: str

    @property
    def env(self) -> str:
        return "RELAY_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("listen", "127.0.0.1:8080", _listen, "host:port to listen on"),
    Setting("store", "sqlite:///./relay.db", str, "event store: sqlite:///path (one node) or redis://host:port/db (several nodes share it)"),
    Setting("lease_ttl", "15", _positive(float), "with Redis: seconds an Odoo follower's lease lasts unrenewed; a dead node's followers move to another within about this long"),
    Setting("secret", None, str, "key for visitor tokens, shared by all relay nodes; generated and kept in the store when unset"),
    Setting("webhook_secret", None, _words, "whsec_... secret(s) shared with the Odoo addon, space-separated while rotating; unset: webhooks refused (demo mode generates one)"),
    Setting("odoo_url", None, str, "Odoo base URL; unset: demo mode"),
    Setting("odoo_db", None, str, "Odoo database (needed where the server hosts several)"),
    Setting("odoo_livechat_channel_id", None, _positive(int), "id of the im_livechat.channel visitors are routed to"),
    Setting("odoo_replies", "auto", str, "how operator replies reach the relay: webhook, bus, poll, auto or shared_bus (one WebSocket as an Odoo user for every session)"),
    Setting("odoo_poll_interval", "3", _positive(float), "seconds between polls of an Odoo session when replies are polled"),
    Setting("odoo_auto_recheck", "60", _positive(float), "seconds between two looks at the addon's info route in auto mode (webhook while the addon sends, bus otherwise)"),
    Setting("odoo_max_requests", "16", _positive(int), "most requests in flight from this relay node to Odoo at once (posts, polls, bus handshakes), well under Odoo's database pool (db_maxconn, 64 by default); more wait their turn, each conversation's in order"),
    Setting("odoo_bus_max", "200", _positive(int), "most bus sockets this relay node keeps open to Odoo (one per conversation in bus mode); conversations past it are followed by polling, said in /healthz and the log"),
    Setting("odoo_login", None, str, "an Odoo user's login: with RELAY_ODOO_PASSWORD or RELAY_ODOO_API_KEY, poll mode asks the external API once per interval for all sessions"),
    Setting("odoo_password", None, str, "that user's password (JSON-RPC)"),
    Setting("odoo_api_key", None, str, "that user's API key instead of the password (JSON-2 on 19.0, where no login is needed)"),
    Setting("odoo_chatbot_script_id", None, _positive(int), "id of an Odoo chatbot.script (in a rule of the livechat channel) to start each session with; unset: an operator straight away"),
    Setting("bot_url", None, str, "URL of a bot answering visitors before a person does (signed POSTs); unset: conversations go straight to the operators"),
    Setting("bot_secret", None, str, "whsec_... secret signing the requests to RELAY_BOT_URL (required with it)"),
    Setting("bot_timeout", "8", _positive(float), "seconds the bot has to answer; slower, failing or garbled answers hand the visitor to a person"),
    Setting("bot_no_operator", "stay", str, "when a handoff finds no operator: stay (the bot goes on) or message (the visitor leaves a message for the next operator)"),
    Setting("handoff_retry", "10", _positive(float), "seconds between two looks for an operator for conversations waiting with a left message (one availability request per channel) and for handoffs Odoo did not answer"),
    Setting("allowed_origins", None, _words, "space-separated origins allowed to embed the widget; unset: only the relay's own origin"),
    Setting("token_ttl", "604800", _positive(int), "seconds a visitor token stays valid (7 days: a conversation survives closing the browser that long, as with Odoo's own widget)"),
    Setting("retention_days", "7", _positive(float), "days events and idle conversations are kept before the purge"),
    Setting("max_webhook_bytes", "262144", _positive(int), "largest webhook body accepted (413 above)"),
    Setting("max_request_bytes", "16384", _positive(int), "largest widget request body accepted (413 above)"),
    Setting("max_upload_bytes", "10485760", _positive(int), "largest file a visitor may send (413 above; read streaming, never whole in memory)"),
    Setting("upload_types", " ".join(DEFAULT_UPLOAD_TYPES), _words, "space-separated MIME types a visitor may send, judged from the file's bytes (415 otherwise)"),
    Setting("ping_interval", "25", _positive(float), "seconds between server pings on a WebSocket; a client silent for a whole interval after a ping is closed with 4408"),
    Setting("ws_send_timeout", "10", _positive(float), "seconds a WebSocket frame may wait for the widget to read; a slower reader is closed with 4409 and resumes with after=N"),
    Setting("rate_limit_ip", "600/60", _rate, "widget API requests allowed per client IP, N/SECONDS"),
    Setting("rate_limit_create", "20/60", _rate, "conversations a client IP may create, N/SECONDS"),
    Setting("rate_limit_messages", "30/60", _rate, "messages (and typing calls) per conversation, N/SECONDS"),
    Setting("max_ws_per_conversation", "10", _positive(int), "open WebSockets per conversation (4429 above)"),
    Setting("webhook_max_inflight", "256", _positive(int), "webhooks processed at once; more are answered 429 with Retry-After"),
    Setting("header_timeout", "10", _positive(float), "seconds a connection may take to send a request's headers (from its start or its previous response); slower connections are closed"),
    Setting("body_timeout", "10", _positive(float), "seconds a request body may take to arrive (408 above)"),
    Setting("max_connections_per_ip", "256", _positive(int), "open connections per client address, checked before the headers are read (429 and closed above); not applied with RELAY_TRUST_FORWARDED, where the proxy's own limit holds"),
    Setting("trust_forwarded", "false", _bool, "take the client IP from X-Forwarded-For (only behind your own reverse proxy)"),
    Setting("forwarded_hops", "1", _positive(int), "with RELAY_TRUST_FORWARDED: how many reverse proxies of yours stand in front of the relay; the client IP is the X-Forwarded-For entry that many places from the right (what your outermost proxy saw)"),
    Setting("log_level", "info", str, "debug, info, warning or error"),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    listen: tuple[str, int] = ("127.0.0.1", 8080)
    store: str = "sqlite:///./relay.db"
    lease_ttl: float = 15.0
    secret: str | None = None
    webhook_secret: tuple[str, ...] | None = None
    odoo_url: str | None = None
    odoo_db: str | None = None
    odoo_livechat_channel_id: int | None = None
    odoo_replies: str = "auto"
    odoo_poll_interval: float = 3.0
    odoo_auto_recheck: float = 60.0
    odoo_max_requests: int = 16
    odoo_bus_max: int = 200
    odoo_login: str | None = None
    odoo_password: str | None = None
    odoo_api_key: str | None = None
    odoo_chatbot_script_id: int | None = None
    bot_url: str | None = None
    bot_secret: str | None = None
    bot_timeout: float = 8.0
    bot_no_operator: str = "stay"
    handoff_retry: float = 10.0
    allowed_origins: tuple[str, ...] | None = None
    token_ttl: int = 604800
    retention_days: float = 7.0
    max_webhook_bytes: int = 262144
    max_request_bytes: int = 16384
    max_upload_bytes: int = 10485760
    upload_types: tuple[str, ...] = DEFAULT_UPLOAD_TYPES
    ping_interval: float = 25.0
    ws_send_timeout: float = 10.0
    rate_limit_ip: tuple[int, float] = (600, 60.0)
    rate_limit_create: tuple[int, float] = (20, 60.0)
    rate_limit_messages: tuple[int, float] = (30, 60.0)
    max_ws_per_conversation: int = 10
    webhook_max_inflight: int = 256
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_connections_per_ip: int = 256
    trust_forwarded: bool = False
    forwarded_hops: int = 1
    log_level: str = "info"

    @property
    def demo(self) -> bool:
        """Demo mode: no Odoo configured, the built-in operator console stands in for it."""
        return not self.odoo_url

    def validate(self) -> Settings:
        if self.odoo_replies not in REPLY_MODES:
            raise ConfigError(f"RELAY_ODOO_REPLIES / --odoo-replies: must be one of {', '.join(REPLY_MODES)}")
        if self.odoo_replies == "shared_bus" and not (self.odoo_login and self.odoo_password and self.odoo_db):
            missing = [name for name, value in (("RELAY_ODOO_LOGIN", self.odoo_login),
                                                ("RELAY_ODOO_PASSWORD", self.odoo_password),
                                                ("RELAY_ODOO_DB", self.odoo_db)) if not value]
            raise ConfigError(f"RELAY_ODOO_REPLIES=shared_bus needs {', '.join(missing)}: the shared socket logs in as a "
                              "dedicated Odoo user (a password: an API key does not open Odoo's WebSocket)")
        if not (self.store.startswith("sqlite:///") or self.store.startswith("redis://")):
            raise ConfigError("RELAY_STORE / --store: must be sqlite:///path or redis://host:port/db")
        for secret in self.webhook_secret or ():
            if not secret.startswith("whsec_"):
                raise ConfigError("RELAY_WEBHOOK_SECRET / --webhook-secret: every value must start with whsec_")
        for origin in self.allowed_origins or ():
            if "://" not in origin or origin.endswith("/"):
                raise ConfigError(f"RELAY_ALLOWED_ORIGINS / --allowed-origins: {origin!r}: "
                                  "expected scheme://host[:port], no trailing slash")
        if self.bot_url:
            if not self.bot_url.startswith(("http://", "https://")):
                raise ConfigError("RELAY_BOT_URL / --bot-url: an http(s) URL")
            if not (self.bot_secret or "").startswith("whsec_"):
                raise ConfigError("RELAY_BOT_SECRET / --bot-secret: a whsec_... secret is required with RELAY_BOT_URL")
        if self.bot_url and self.odoo_chatbot_script_id:
            raise ConfigError("RELAY_BOT_URL and RELAY_ODOO_CHATBOT_SCRIPT_ID: choose one bot (yours, or Odoo's chatbot script)")
        if self.bot_no_operator not in BOT_NO_OPERATOR:
            raise ConfigError("RELAY_BOT_NO_OPERATOR / --bot-no-operator: must be stay or message")
        if self.demo and not is_loopback(self.listen[0]):
            raise ConfigError(f"demo mode (RELAY_ODOO_URL unset) listens only on a loopback address, not "
                              f"{self.listen[0]!r}: its operator console has no login. Set RELAY_ODOO_URL to serve "
                              "visitors, or listen on 127.0.0.1 / ::1 to try the demo")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError("RELAY_LOG_LEVEL / --log-level: must be debug, info, warning or error")
        return self


def from_sources(flags: Mapping[str, str | None], env: Mapping[str, str]) -> Settings:
    """Build Settings: a flag given on the command line wins over the variable, then the default."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = flags.get(setting.name)
        if raw is None:
            raw = env.get(setting.env)
        if raw is None or raw == "":
            if setting.default is None:
                continue
            raw = setting.default
        try:
            values[setting.name] = setting.parse(raw)
        except (ConfigError, ValueError) as exc:
            raise ConfigError(f"{setting.env} / {setting.flag}: {exc}") from None
    return Settings(**values).validate()


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    return from_sources({}, os.environ if env is None else env)
