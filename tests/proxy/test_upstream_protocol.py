"""proxy.upstream.base.Upstream is complete, and both upstreams implement all of it.

Every operation the relay calls on its upstream is a member of the protocol; DemoUpstream and
OdooUpstream each define every member themselves (not inherited, same parameters, async where the
protocol is async); and nothing in proxy/ probes the upstream or the followers with getattr/hasattr.
"""
from __future__ import annotations

import ast
import asyncio
import inspect
import pathlib

import pytest

from proxy.cluster.local import LocalLeases
from proxy.odoo.upstream import OdooUpstream
from proxy.store.base import Conversation
from proxy.upstream.base import Upstream
from proxy.upstream.demo import DemoUpstream

ROOT = pathlib.Path(__file__).resolve().parents[2]
METHODS = sorted(name for name, value in vars(Upstream).items() if inspect.isfunction(value) and not name.startswith("_"))
DATA = sorted(name for name in Upstream.__annotations__ if not name.startswith("_"))


def upstreams() -> list:
    odoo = OdooUpstream(rpc=None, store=None, database="odoo", livechat_channel_id=1,   # type: ignore[arg-type]
                        leases=LocalLeases())
    return [DemoUpstream(), odoo]


def test_the_protocol_names_what_the_relay_calls():
    assert {"open_session", "opening_events", "visitor_message", "page_history", "features", "close",
            "config", "avatar", "open_file", "transcript_pdf"} <= set(METHODS)
    assert DATA == ["name", "notify"]


@pytest.mark.parametrize("upstream", upstreams(), ids=lambda u: type(u).__name__)
def test_each_upstream_implements_every_member(upstream):
    cls = type(upstream)
    assert isinstance(upstream, Upstream)
    for name in DATA:
        assert hasattr(upstream, name), f"{cls.__name__}.{name}"
    for name in METHODS:
        assert name in vars(cls), f"{cls.__name__}.{name} is not defined by the class itself"
        wanted, impl = vars(Upstream)[name], getattr(cls, name)
        assert inspect.iscoroutinefunction(impl) == inspect.iscoroutinefunction(wanted), f"{cls.__name__}.{name}: async?"
        want = list(inspect.signature(wanted).parameters.values())
        have = list(inspect.signature(impl).parameters.values())
        assert [p.name for p in have[:len(want)]] == [p.name for p in want], f"{cls.__name__}.{name}{inspect.signature(impl)}"
        extra = have[len(want):]
        assert all(p.default is not inspect.Parameter.empty for p in extra), f"{cls.__name__}.{name}: extra parameters"


async def test_the_demos_no_ops():
    demo = DemoUpstream()
    conv = Conversation(id="c1", created_at=0.0, last_activity=0.0)
    assert [e["type"] for e in demo.opening_events(conv)] == ["status"]
    assert demo.opening_events(conv)[0]["status"] == "waiting_operator"
    assert demo.features() is None
    await asyncio.wait_for(demo.close(), 1)


def test_nothing_in_proxy_probes_the_upstream_or_the_followers():
    found = []
    for path in sorted((ROOT / "proxy").rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") \
                    and node.args:
                target = ast.get_source_segment(source, node.args[0]) or ""
                if any(word in target for word in ("upstream", "followers", "relay", "RELAY")):
                    found.append((str(path.relative_to(ROOT)), ast.get_source_segment(source, node)))
    assert found == []
