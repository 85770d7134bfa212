"""Redis for tests: the shared one on 127.0.0.1:6379 (keys under a per-test prefix, deleted after),
or a private ``redis-server`` on a free port that a test may shut down and start again.

Without a reachable Redis the Redis tests skip, except in CI (CI=true), where that is a failure.
Never shut down the shared Redis: tests that need Redis to go away use ``RedisServer``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.relayproc import RelayProcess, free_port

SHARED_HOST, SHARED_PORT = "127.0.0.1", int(os.environ.get("TEST_REDIS_PORT", "6379"))


def _client(port: int = SHARED_PORT):
    import redis
    return redis.Redis(host=SHARED_HOST, port=port, socket_connect_timeout=1, socket_timeout=5)


def shared_redis_or_skip() -> None:
    """Skip (fail in CI) when the shared Redis does not answer."""
    try:
        _client().ping()
    except Exception as exc:   # redis not installed, refused, timeout
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis on {SHARED_HOST}:{SHARED_PORT} is required in CI: {exc!r}")
        pytest.skip(f"no Redis on {SHARED_HOST}:{SHARED_PORT}: {exc!r}")


def new_prefix() -> str:
    return "t" + uuid.uuid4().hex[:12]


def shared_url(prefix: str, db: int = 0) -> str:
    return f"redis://{SHARED_HOST}:{SHARED_PORT}/{db}?prefix={prefix}"


def delete_prefix(prefix: str, port: int = SHARED_PORT) -> int:
    client = _client(port)
    try:
        keys = list(client.scan_iter(match=prefix + ":*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
        return len(keys)
    finally:
        client.close()


class RedisServer:
    """A private redis-server on a free port, with an append-only file written on every command
    (``appendfsync always``), so stopping it with SHUTDOWN NOSAVE loses nothing acknowledged."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> "RedisServer":
        exe = shutil.which("redis-server")
        if exe is None:
            if os.environ.get("CI") == "true":
                pytest.fail("redis-server is required in CI")
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if _client(self.port).ping():
                    return self
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def shutdown(self) -> None:
        """``SHUTDOWN NOSAVE`` through redis-cli, as an operator would."""
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10)
        if self.proc is not None:
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.shutdown()


@pytest.fixture
def prefix():
    """A key prefix of the test's own on the shared Redis, deleted afterwards (skips without Redis,
    which fails in CI)."""
    shared_redis_or_skip()
    p = new_prefix()
    yield p
    delete_prefix(p)


@contextlib.contextmanager
def relay_on(store: str, workdir: Path, env: dict | None = None):
    """A relay process on ``store`` ("sqlite": its own file in ``workdir``; "redis": a prefix of its
    own on the shared Redis, deleted afterwards), stopped at the end."""
    env, key_prefix = dict(env or {}), None
    if store == "redis":
        shared_redis_or_skip()
        key_prefix = new_prefix()
        env["RELAY_STORE"] = shared_url(key_prefix)
    relay = RelayProcess(workdir, env=env).start()
    try:
        yield relay
    finally:
        relay.stop()
        if key_prefix:
            delete_prefix(key_prefix)
