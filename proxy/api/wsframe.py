"""WebSocket frames written by the relay itself, beside aiohttp's (the fan-out fast path, api/ws.py).

The one place that builds RFC 6455 frames and writes them to a socket's transport. What makes it
safe: aiohttp writes every frame it sends (``send_str``: hello, acks, pings, the pump's frames)
in one go — one ``transport.write``, or header and payload in two writes for a large payload, with
no await in between — so a frame written here between two of its sends never lands inside one of
its frames, and no lock is needed. tests/proxy/test_wsframe.py
checks that on the aiohttp installed (each write of its writer holds whole frames, and frames sent
concurrently from both sides arrive whole and in order) and fails if it stops being so.

The rule here: the frames one loop turn hands to one socket wait in its ``DirectWriter`` and go
out in one ``write`` at the end of the turn (``flush``): one system call per socket per turn, not
per event, which is what the fan-out figure rests on (benchmarks/README.md).
"""
from __future__ import annotations

import asyncio
import functools

# more than this waiting in a transport's buffer: the reader is slow, frames go through aiohttp's
# send (which waits for the buffer to drain) instead
BUFFER_LIMIT = 64 * 1024


def text_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented RFC 6455 text frame (server → client)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


@functools.lru_cache(maxsize=256)   # the same event goes to every socket of its conversation
def encoded(frame: str) -> bytes:
    return text_frame(frame.encode())


class DirectWriter:
    """Text frames to one socket's transport, those of one loop turn in one write."""

    __slots__ = ("transport", "pending", "_loop")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self.transport = transport
        self.pending: list[bytes] | None = None   # frames of this loop turn, not written yet
        self._loop = loop

    def write(self, frame: str) -> bool:
        """Queue ``frame`` (JSON text) for this turn's write; False when the socket cannot take it
        now (closing, or its buffer past BUFFER_LIMIT): the caller sends it another way."""
        transport = self.transport
        if transport.is_closing() or transport.get_write_buffer_size() > BUFFER_LIMIT:
            return False
        if self.pending is None:
            self.pending = [encoded(frame)]
            self._loop.call_soon(flush, self)
        else:
            self.pending.append(encoded(frame))
        return True


def flush(writer: DirectWriter) -> None:
    """End of the loop turn: the frames queued on ``writer`` in one write."""
    frames, writer.pending = writer.pending, None
    if frames and not writer.transport.is_closing():
        writer.transport.write(b"".join(frames))
