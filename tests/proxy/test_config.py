"""proxy.config.from_sources: defaults, RELAY_* variables, flags winning over variables, and
``ConfigError`` naming the variable for every bad value; ``SETTINGS`` and ``Settings`` list the
same fields.
"""
from __future__ import annotations

import dataclasses

import pytest

from proxy import config
from proxy.config import SETTINGS, ConfigError, Settings, from_sources

SECRET = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="


def test_defaults():
    s = from_sources({}, {})
    assert s == Settings()
    assert s.listen == ("127.0.0.1", 8080)
    assert s.store == "sqlite:///./relay.db"
    assert s.secret is None and s.webhook_secret is None and s.odoo_url is None
    assert s.odoo_replies == "auto"
    assert s.rate_limit_ip == (600, 60.0)
    assert s.trust_forwarded is False
    assert s.demo is True


def test_defaults_of_table_parse_to_dataclass_defaults():
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    for setting in SETTINGS:
        expected = None if setting.default is None else setting.parse(setting.default)
        assert defaults[setting.name] == expected, setting.name


def test_env_var_used():
    s = from_sources({}, {
        "RELAY_LISTEN": "0.0.0.0:9000",
        "RELAY_STORE": "sqlite:////var/lib/relay/relay.db",
        "RELAY_WEBHOOK_SECRET": f"{SECRET} whsec_b2xk",
        "RELAY_ODOO_URL": "https://odoo.example",
        "RELAY_ODOO_LIVECHAT_CHANNEL_ID": "3",
        "RELAY_ODOO_REPLIES": "webhook",
        "RELAY_ALLOWED_ORIGINS": "https://shop.example  http://localhost:3000",
        "RELAY_RATE_LIMIT_MESSAGES": "5/10",
        "RELAY_TRUST_FORWARDED": "yes",
        "RELAY_TOKEN_TTL": "60",
    })
    assert s.listen == ("0.0.0.0", 9000)
    assert s.store == "sqlite:////var/lib/relay/relay.db"
    assert s.webhook_secret == (SECRET, "whsec_b2xk")
    assert s.odoo_url == "https://odoo.example" and s.demo is False
    assert s.odoo_livechat_channel_id == 3
    assert s.odoo_replies == "webhook"
    assert s.allowed_origins == ("https://shop.example", "http://localhost:3000")
    assert s.rate_limit_messages == (5, 10.0)
    assert s.trust_forwarded is True
    assert s.token_ttl == 60


def test_unrelated_env_ignored():
    assert from_sources({}, {"LISTEN": "0.0.0.0:1", "relay_listen": "0.0.0.0:2"}).listen == ("127.0.0.1", 8080)


def test_flag_wins_over_env():
    env = {"RELAY_LISTEN": "0.0.0.0:9000", "RELAY_TOKEN_TTL": "60", "RELAY_ODOO_REPLIES": "poll"}
    s = from_sources({"listen": "127.0.0.1:7000", "token_ttl": "120"}, env)
    assert s.listen == ("127.0.0.1", 7000)
    assert s.token_ttl == 120
    assert s.odoo_replies == "poll"            # no flag: the variable


def test_unset_flag_falls_back_to_env():
    env = {"RELAY_LISTEN": "0.0.0.0:9000", "RELAY_ODOO_URL": "https://odoo.example"}
    assert from_sources({"listen": None}, env).listen == ("0.0.0.0", 9000)


def test_empty_value_means_default():
    assert from_sources({}, {"RELAY_LISTEN": "", "RELAY_TOKEN_TTL": ""}).listen == ("127.0.0.1", 8080)


@pytest.mark.parametrize("text, parsed", [("[::1]:8080", ("::1", 8080)), (":8081", ("127.0.0.1", 8081)),
                                          ("localhost:0", ("localhost", 0))])
def test_listen_forms(text, parsed):
    assert from_sources({}, {"RELAY_LISTEN": text}).listen == parsed


def test_rate_without_seconds_means_per_minute():
    assert from_sources({}, {"RELAY_RATE_LIMIT_IP": "100"}).rate_limit_ip == (100, 60.0)


def _error(env: dict) -> str:
    with pytest.raises(ConfigError) as info:
        from_sources({}, env)
    return str(info.value)


@pytest.mark.parametrize("name, value", [
    ("RELAY_LISTEN", "localhost"),
    ("RELAY_LISTEN", "127.0.0.1:http"),
    ("RELAY_LISTEN", "127.0.0.1:70000"),
    ("RELAY_RATE_LIMIT_IP", "x/y"),
    ("RELAY_RATE_LIMIT_CREATE", "0/60"),
    ("RELAY_RATE_LIMIT_MESSAGES", "10/0"),
    ("RELAY_RATE_LIMIT_MESSAGES", "10/-5"),
    ("RELAY_TOKEN_TTL", "0"),
    ("RELAY_TOKEN_TTL", "soon"),
    ("RELAY_RETENTION_DAYS", "-1"),
    ("RELAY_ODOO_LIVECHAT_CHANNEL_ID", "one"),
    ("RELAY_TRUST_FORWARDED", "maybe"),
    ("RELAY_WEBHOOK_SECRET", "not-a-whsec"),
    ("RELAY_WEBHOOK_SECRET", f"{SECRET} second-without-prefix"),
    ("RELAY_ODOO_REPLIES", "foo"),
    ("RELAY_ALLOWED_ORIGINS", "https://shop.example/"),
    ("RELAY_ALLOWED_ORIGINS", "shop.example"),
    ("RELAY_STORE", "postgres://db"),
    ("RELAY_LOG_LEVEL", "loud"),
    # non-finite numbers: a rate of N/inf would make RateLimiter divide by zero
    ("RELAY_RATE_LIMIT_IP", "10/inf"),
    ("RELAY_RATE_LIMIT_IP", "10/nan"),
    ("RELAY_PING_INTERVAL", "nan"),
    ("RELAY_RETENTION_DAYS", "inf"),
])
def test_bad_value_names_the_variable_and_flag(name, value):
    message = _error({name: value})
    assert name in message
    assert "--" + name[len("RELAY_"):].lower().replace("_", "-") in message


def test_bad_value_from_flag_names_it_too():
    with pytest.raises(ConfigError, match="RELAY_LISTEN"):
        from_sources({"listen": "nowhere"}, {"RELAY_LISTEN": "127.0.0.1:1"})


def test_settings_table_and_dataclass_match():
    table = [s.name for s in SETTINGS]
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert len(table) == len(set(table))
    assert set(table) == set(fields)


def test_every_setting_has_env_flag_and_help():
    for setting in SETTINGS:
        assert setting.env == "RELAY_" + setting.name.upper()
        assert setting.flag == "--" + setting.name.replace("_", "-")
        assert setting.help.strip()


def test_protocol_names_are_settings():
    # PROTOCOL §3 fixes these names; the tools and docker-compose.yml use them.
    envs = {s.env for s in SETTINGS}
    for name in ("RELAY_LISTEN", "RELAY_STORE", "RELAY_SECRET", "RELAY_WEBHOOK_SECRET", "RELAY_ODOO_URL",
                 "RELAY_ODOO_DB", "RELAY_ODOO_LIVECHAT_CHANNEL_ID", "RELAY_ODOO_REPLIES", "RELAY_ALLOWED_ORIGINS"):
        assert name in envs


def test_from_env_reads_the_mapping():
    assert config.from_env({"RELAY_TOKEN_TTL": "5"}).token_ttl == 5
