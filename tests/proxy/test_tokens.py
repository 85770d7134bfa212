"""proxy.tokens: visitor tokens open exactly one conversation until they expire.

Checks the issue/verify roundtrip and that every kind of bad token (expired, for another
conversation, tampered, signed with another key, garbage) is refused with a ``TokenError`` whose
``code`` is what the API answers (``token_expired`` or ``token_invalid``).
"""
from __future__ import annotations

import pytest

from proxy import tokens
from proxy.tokens import TokenError

KEY = b"test-token-key"
CONV = "c_AbCdEf0123456789_-xy"
NOW = 1_800_000_000.0


def _code(token, conversation_id=CONV, key=KEY, now=NOW) -> str:
    with pytest.raises(TokenError) as info:
        tokens.verify(key, token, conversation_id, now=now)
    return info.value.code


def test_roundtrip_returns_expiry():
    token, expires_at = tokens.issue(KEY, CONV, ttl=3600, now=NOW)
    assert expires_at == int(NOW) + 3600
    assert token.startswith(f"v1.{CONV}.{expires_at}.")
    assert tokens.verify(KEY, token, CONV, now=NOW) == expires_at
    assert tokens.verify(KEY, token, CONV, now=expires_at - 1) == expires_at


def test_verify_without_now_uses_the_clock():
    token, expires_at = tokens.issue(KEY, CONV, ttl=60)
    assert tokens.verify(KEY, token, CONV) == expires_at


def test_expired_token():
    token, expires_at = tokens.issue(KEY, CONV, ttl=60, now=NOW)
    assert _code(token, now=expires_at) == "token_expired"
    assert _code(token, now=expires_at + 3600) == "token_expired"


def test_token_for_another_conversation():
    token, _ = tokens.issue(KEY, CONV, ttl=60, now=NOW)
    assert _code(token, conversation_id="c_someone_else") == "token_invalid"
    # a prefix of the right id is not the right id either
    assert _code(token, conversation_id=CONV[:-1]) == "token_invalid"


def test_tampered_signature():
    token, _ = tokens.issue(KEY, CONV, ttl=60, now=NOW)
    head, mac = token.rsplit(".", 1)
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    assert _code(f"{head}.{flipped}") == "token_invalid"
    assert _code(f"{head}.") == "token_invalid"
    assert _code(f"{head}.{mac}x") == "token_invalid"


def test_tampered_expiry():
    token, expires_at = tokens.issue(KEY, CONV, ttl=60, now=NOW)
    _, conv, _, mac = token.split(".")
    longer = f"v1.{conv}.{expires_at + 10 * 365 * 86400}.{mac}"
    assert _code(longer) == "token_invalid"
    # still refused once the real expiry has passed: the forged expiry buys nothing
    assert _code(longer, now=expires_at + 1) == "token_invalid"


def test_token_moved_to_another_conversation_keeps_failing():
    token, expires_at = tokens.issue(KEY, CONV, ttl=60, now=NOW)
    mac = token.rsplit(".", 1)[1]
    assert _code(f"v1.c_other.{expires_at}.{mac}", conversation_id="c_other") == "token_invalid"


def test_wrong_key():
    token, _ = tokens.issue(b"another key", CONV, ttl=60, now=NOW)
    assert _code(token) == "token_invalid"


@pytest.mark.parametrize("garbage", [
    "", "a.b", "a.b.c.d", "v1", "v1.c.123", "v2.c_x.99999999999.abc", f"v1.{CONV}.soon.abc",
    f"v1.{CONV}.-5.abc", f"v1.{CONV}.99999999999.abc.extra", " ", "....",
    None, 12345, b"v1.c.1.x", ["v1", CONV],
])
def test_garbage(garbage):
    assert _code(garbage) == "token_invalid"


@pytest.mark.parametrize("case", ["non_ascii_mac", "non_ascii_conversation_id"])
def test_non_ascii_input_is_refused_not_crashing(case):
    # A token or URL path with non-ASCII characters is attacker-controlled input: it must be a
    # TokenError (401), not the TypeError hmac.compare_digest raises on non-ASCII str (500).
    if case == "non_ascii_mac":
        assert _code(f"v1.{CONV}.99999999999.é") == "token_invalid"
    else:
        token, _ = tokens.issue(KEY, CONV, ttl=60, now=NOW)
        assert _code(token, conversation_id="c_é") == "token_invalid"


# ---------------------------------------------------------------------- the returning visitor

def test_visitor_value_names_its_conversation_until_it_expires():
    value = tokens.issue_visitor(KEY, CONV, ttl=60, now=NOW)
    assert tokens.verify_visitor(KEY, value, now=NOW + 59) == CONV
    with pytest.raises(TokenError) as info:
        tokens.verify_visitor(KEY, value, now=NOW + 60)
    assert info.value.code == "visitor_expired"


@pytest.mark.parametrize("mangle", [
    lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),       # tampered mac
    lambda v: v.replace(CONV, "c_other0123456789_-xyz"),               # another conversation
    lambda v: v.replace("vis1.", "v1."),                               # a conversation token's shape
    lambda v: "garbage", lambda v: "", lambda v: None, lambda v: 7,
])
def test_a_forged_visitor_value_names_nothing(mangle):
    with pytest.raises(TokenError) as info:
        tokens.verify_visitor(KEY, mangle(tokens.issue_visitor(KEY, CONV, ttl=60, now=NOW)), now=NOW)
    assert info.value.code == "visitor_invalid"


def test_a_visitor_value_is_no_token_and_a_token_no_visitor_value():
    token, _ = tokens.issue(KEY, CONV, ttl=60, now=NOW)
    value = tokens.issue_visitor(KEY, CONV, ttl=60, now=NOW)
    assert _code(value) == "token_invalid"
    with pytest.raises(TokenError):
        tokens.verify_visitor(KEY, token, now=NOW)
    with pytest.raises(TokenError):        # signed with another key
        tokens.verify_visitor(b"another key", value, now=NOW)
