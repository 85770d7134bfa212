"""A TCP forwarder on loopback that puts a faulty network between the relay and a real Odoo.

It is not a stand-in for Odoo: every byte goes to the real server. It only breaks the line:

- ``open``: forwards both ways;
- ``refuse``: closes each new connection at once (Odoo down);
- ``swallow``: forwards the request, lets Odoo answer (and commit), then closes the client's
  connection without passing the answer on (the answer lost on the way back).

Runs in a thread with its own event loop, so synchronous tests can use it too.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading


class FaultLine:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.mode = "open"
        self.port = 0
        self.connections = 0
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faultline", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FaultLine":
        self._thread.start()
        self._ready.wait(10)
        return self

    def set(self, mode: str) -> None:
        """Switch the mode; connections already open (kept alive by the client) are cut, so the
        next request meets the new mode."""
        assert mode in ("open", "refuse", "swallow"), mode
        self.mode = mode

        def cut() -> None:
            for w in list(self._open):
                w.close()
        self._loop.call_soon_threadsafe(cut)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        mode = self.mode
        if mode == "refuse":
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._open.add(writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, swallow: bool) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if swallow:          # Odoo answered: it has done the work; the answer is lost
                        writer.close()
                        return
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(ConnectionError, OSError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, mode == "swallow"),
                             return_exceptions=True)
        self._open.discard(writer)
        for w in (writer, up_writer):
            with contextlib.suppress(ConnectionError, OSError):
                w.close()
