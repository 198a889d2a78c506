"""The floor of delay fidelity on this machine: a server that does nothing but wait and write.

Each chunk a connection sends is taken as one request (the load generators send one request
per write and wait for its answer) and answered with a fixed 200 after `--sleep` ms, by one
`call_at` on the same event loop `mockstatus serve` uses (uvloop when installed). No parsing,
no journal, no headers beyond Content-Length: whatever p99 this server shows for a 100 ms
delay is what the machine, its clock and the load generator add, and no HTTP server on one
core of it can do better. bench/sleep.py runs it beside mockstatus.

Run: python bench/floor.py --port 8082 [--host 127.0.0.1] [--sleep 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class Floor(asyncio.Protocol):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's is no asyncio.Transport)
        self.loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        self.loop.call_at(self.loop.time() + self.delay, self.answer)

    def answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(ANSWER)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Floor(delay), host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sleep", type=float, default=100.0, help="milliseconds")
    args = parser.parse_args()
    try:
        import uvloop  # the loop `mockstatus serve` runs on when installed

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(args.host, args.port, args.sleep / 1000))


if __name__ == "__main__":
    main()
