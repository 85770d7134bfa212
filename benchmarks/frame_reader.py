"""The fan-out step's frame readers: a cheap WebSocket client run in its own process.

``bench_relay`` starts one or more of these with ``multiprocessing`` (spawn). Each process opens its
share of the sockets with a hand-written handshake (blocking sockets, ``GET`` with the Upgrade
headers, ``Sec-WebSocket-Key``, the ``101`` answer and its ``Sec-WebSocket-Accept`` checked), reads
the ``hello`` frame, then reads every socket non-blocking from one ``epoll`` loop (``selectors``, no
asyncio) and counts complete server frames by parsing only the frame headers (FIN/opcode byte,
7/16/64-bit length; server frames are unmasked) and skipping the payloads. The one payload it looks
at is that of a 15-byte text frame, the length of the relay's ``{"type":"ping"}``: a ping is answered
with a masked ``{"type":"pong"}`` and not counted. Every other complete data frame after the hello
is counted as an event frame.

Messages on the result queue, each ``(kind, reader index, payload)``:
``("ready", i, {...})`` once every socket has its hello, ``("done", i, {...})`` with per-socket counts
and ``time.time()`` of the last expected frame, ``("error", i, "traceback")``.
"""
from __future__ import annotations

import base64
import hashlib
import os
import queue
import selectors
import socket
import time
import traceback

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
PING_PAYLOAD = b'{"type":"ping"}'


def collect(results, kind: str, n: int, timeout: float) -> dict[int, dict]:
    """Up to ``n`` reports of ``kind`` ("ready", "done") from the readers' results queue, by reader
    index, waiting at most ``timeout`` seconds; a reader's "error" report is raised."""
    got: dict[int, dict] = {}
    deadline = time.monotonic() + timeout
    while len(got) < n:
        try:
            what, i, payload = results.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if what == "error":
            raise RuntimeError(f"frame reader {i} failed:\n{payload}")
        if what == kind:
            got[i] = payload
    return got


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client → server frame (FIN set, masked), payload < 126 bytes."""
    assert len(payload) < 126
    key = os.urandom(4)
    return bytes((0x80 | opcode, 0x80 | len(payload))) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Sock:
    __slots__ = ("sock", "rest", "skip", "pending", "count", "first", "last", "pings", "close_code", "eof",
                 "done")

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.rest = b""        # an incomplete header, or an incomplete frame whose payload must be read
        self.skip = 0          # payload bytes still to skip of the current (uninspected) frame
        self.pending = False   # the frame being skipped is counted once its last byte arrives
        self.count = 0         # complete data frames after the hello, pings excluded
        self.first = 0.0       # time.time() of the first counted frame
        self.last = 0.0        # time.time() of the latest counted frame
        self.pings = 0
        self.close_code: int | None = None
        self.eof = False
        self.done = False


def feed(st: Sock, data: bytes) -> None:
    """Count the complete frames in ``data`` (headers only); answer pings."""
    if st.rest:
        data = st.rest + data
        st.rest = b""
    end = len(data)
    pos = 0
    if st.skip:
        if st.skip > end:
            st.skip -= end
            return
        pos = st.skip
        st.skip = 0
        if st.pending:
            st.count += 1
    while pos < end:
        if end - pos < 2:
            st.rest = data[pos:]
            return
        b0 = data[pos]
        n = data[pos + 1]
        if n & 0x80:
            raise ValueError("masked frame from the server")
        if n < 126:
            h = 2
        elif n == 126:
            if end - pos < 4:
                st.rest = data[pos:]
                return
            n = int.from_bytes(data[pos + 2:pos + 4], "big")
            h = 4
        else:
            if end - pos < 10:
                st.rest = data[pos:]
                return
            n = int.from_bytes(data[pos + 2:pos + 10], "big")
            h = 10
        fend = pos + h + n
        op = b0 & 0x0F
        if op < 8 and not (n == 15 and b0 == 0x81):     # a data frame that cannot be a ping: skip it
            if fend > end:
                st.skip = fend - end
                st.pending = bool(b0 & 0x80)
                return
            pos = fend
            if b0 & 0x80:
                st.count += 1
            continue
        if fend > end:                                  # need this frame's payload: keep it whole
            st.rest = data[pos:]
            return
        payload = data[pos + h:fend]
        pos = fend
        if op == 1:
            if payload == PING_PAYLOAD:
                st.pings += 1
                st.sock.send(masked_frame(0x1, b'{"type":"pong"}'))
            else:
                st.count += 1
        elif op == 0x8:
            st.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            st.eof = True
            return
        elif op == 0x9:
            st.sock.send(masked_frame(0xA, payload))


def handshake(host: str, port: int, path: str, timeout: float = 30.0) -> tuple[socket.socket, bytes]:
    """Open one WebSocket and read its hello frame; returns the socket and any bytes after the hello."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode()
              + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
              + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed during the handshake: {buf[:200]!r}")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    if lines[0].split(b" ", 2)[1:2] != [b"101"]:
        raise ConnectionError(f"handshake refused: {head[:300]!r}")
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
    if headers.get(b"sec-websocket-accept") != accept:
        raise ConnectionError("bad Sec-WebSocket-Accept")
    while True:                                          # the hello frame (parsed fully, once)
        n = h = None
        if len(buf) >= 2:
            n, h = buf[1] & 0x7F, 2
            if n == 126:
                n, h = (int.from_bytes(buf[2:4], "big"), 4) if len(buf) >= 4 else (None, None)
            elif n == 127:
                n, h = (int.from_bytes(buf[2:10], "big"), 10) if len(buf) >= 10 else (None, None)
        if n is not None and len(buf) >= h + n:
            break
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the hello: {buf[:200]!r}")
        buf += chunk
    first, rest = buf[h:h + n], buf[h + n:]
    if buf[0] != 0x81 or b'"type":"hello"' not in first:
        raise ConnectionError(f"expected a hello text frame, got {buf[:200]!r}")
    return s, rest


def run(index: int, host: str, port: int, path: str, n_sockets: int, expected: int,
        results, stop, close, pause: float = 0.0) -> None:
    """Process entry point (spawn): open ``n_sockets``, report ready, count until each socket has
    ``expected`` frames (or ``stop`` is set), report, then hold the sockets until ``close`` is set.

    ``pause`` (seconds): sleep that long after each round of reads, so that frames pile up in the
    kernel and one ``recv`` takes many (fewer wake-ups and syscalls per frame); a frame's arrival
    time is then late by at most about ``pause``."""
    socks: list[Sock] = []
    try:
        for _ in range(n_sockets):
            s, rest = handshake(host, port, path)
            st = Sock(s)
            if rest:
                feed(st, rest)
            socks.append(st)
        for st in socks:
            st.sock.setblocking(False)
        t = os.times()
        results.put(("ready", index, {"pid": os.getpid(), "sockets": len(socks), "cpu_s": t.user + t.system}))

        sel = selectors.DefaultSelector()
        for i, st in enumerate(socks):
            sel.register(st.sock, selectors.EVENT_READ, st)
        finished = sum(1 for st in socks if st.count >= expected)
        select, mono = sel.select, time.monotonic
        next_check = mono() + 0.5
        while finished < n_sockets:
            events = select(0.2)
            now = time.time()
            for key, _ in events:
                st = key.data
                try:
                    data = st.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    st.eof = True
                else:
                    before = st.count
                    feed(st, data)
                    if st.count != before:
                        if not before:
                            st.first = now
                        st.last = now
                if st.eof or (st.count >= expected and not st.done):
                    if not st.done:
                        st.done = True
                        finished += 1
                    if st.eof:
                        sel.unregister(st.sock)
            if pause and events:
                time.sleep(pause)
            if not events or mono() > next_check:
                next_check = mono() + 0.5
                if stop.is_set():
                    break
        t = os.times()
        done_times = [st.last for st in socks if st.count]
        results.put(("done", index, {
            "counts": [st.count for st in socks],
            "first_frame": min((st.first for st in socks if st.count), default=0.0),
            "last_frame": max(done_times, default=0.0),
            "pings": sum(st.pings for st in socks),
            "closed": sum(1 for st in socks if st.eof),
            "close_codes": sorted({st.close_code for st in socks if st.close_code is not None}),
            "stopped": finished < n_sockets,
            "cpu_s": t.user + t.system}))
        close.wait(60)
    except BaseException:
        results.put(("error", index, traceback.format_exc()))
    finally:
        for st in socks:
            try:
                st.sock.close()
            except OSError:
                pass
