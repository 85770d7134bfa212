"""The rules both stores share (proxy/store/base.py), without a store: ``replay_reset`` (when a
replay starts over) and ``open_of`` (which conversations ``open_bound``/``open_unbound`` answer,
in which order). tests/proxy/store/test_contract.py checks them through each backend."""
from __future__ import annotations

import pytest

from proxy.store.base import Conversation, open_of, replay_reset


@pytest.mark.parametrize(("after", "last_seq", "first_kept", "unsure", "reset"), [
    # nothing purged, nothing unsure: never a reset up to last_seq
    (0, 0, 1, False, False),          # empty conversation, reader from the start
    (0, 5, 1, False, False),
    (3, 5, 1, False, False),
    (5, 5, 1, False, False),          # reader up to date
    # after beyond last_seq: the reader knows a history this conversation does not have
    (6, 5, 1, False, True),
    (1, 0, 1, False, True),
    (6, 5, 7, False, True),           # even when nothing at all is kept
    # asked-for events purged (first_kept above after + 1)
    (0, 4, 4, False, True),           # 1..3 purged, reader from the start
    (1, 4, 4, False, True),           # 2..3 purged
    (2, 4, 4, False, True),           # the reader wants 3, purged
    (3, 4, 4, False, False),          # the reader wants 4, which is kept
    (4, 4, 4, False, False),          # up to date: nothing asked for
    (4, 4, 5, False, False),          # everything purged, reader up to date: nothing was missed
    (2, 4, 5, False, True),           # everything purged, reader behind
    (-1, 3, 1, False, True),          # a negative after asks for seq 0, never kept
    # an unsure after: the reader may have been shown another event under it
    (2, 4, 1, True, True),
    (4, 4, 1, True, True),            # even when up to date
    (0, 4, 1, True, False),           # nothing was shown at 0
])
def test_replay_reset(after, last_seq, first_kept, unsure, reset):
    assert replay_reset(after, last_seq, first_kept, unsure) is reset


def test_replay_reset_unsure_defaults_to_false():
    assert replay_reset(3, 5, 1) is False
    assert replay_reset(3, 5, 1, True) is True


def conv(cid: str, activity: float, *, channel: int | None = None, closed: bool = False) -> Conversation:
    return Conversation(id=cid, created_at=0.0, last_activity=activity, odoo_database="prod" if channel else None,
                        odoo_channel_id=channel, closed=closed)


CONVS = [conv("a", 1.0), conv("b", 3.0, channel=2), conv("c", 2.0), conv("d", 5.0, closed=True),
         conv("e", 4.0, channel=5, closed=True), conv("f", 6.0, channel=6), conv("g", 2.0)]


def test_open_of_bound_and_unbound():
    assert [c.id for c in open_of(CONVS, True, 100)] == ["f", "b"]
    assert [c.id for c in open_of(CONVS, False, 100)] == ["c", "g", "a"]


def test_open_of_orders_ties_by_id_whatever_the_input_order():
    assert [c.id for c in open_of(reversed(CONVS), False, 100)] == ["c", "g", "a"]


def test_open_of_limit():
    assert [c.id for c in open_of(CONVS, False, 2)] == ["c", "g"]
    assert open_of(CONVS, True, 0) == []
    assert open_of([], True, 10) == []
