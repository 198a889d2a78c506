"""Bare aiohttp baseline: the cheapest possible 503 answer, the yardstick for mockstatus.

Run: python bench/bare.py --port 8081 [--host 127.0.0.1] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web

BODY = "503 Service Unavailable"
# aiohttp's own default, spelled out: the baseline must keep connections alive
# exactly like a normal server does, or the comparison measures reconnects.
KEEPALIVE_TIMEOUT = 75.0


async def handle(request: web.Request) -> web.Response:
    """Answer every request with the same fixed 503."""
    return web.Response(status=503, text=BODY, headers={"Retry-After": "120"})


def make_app() -> web.Application:
    """Build the one-handler app.

    The route is a catch-all so the bare app can stand in for any target path
    when the harness is self-tested without mockstatus.
    """
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (default: asyncio)")
    return parser.parse_args(argv)


def make_loop(use_uvloop: bool) -> asyncio.AbstractEventLoop:
    if use_uvloop:
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; no access log, one line saying where we listen."""
    args = parse_args(argv)
    print(f"bare: listening on http://{args.host}:{args.port}", flush=True)
    web.run_app(
        make_app(),
        host=args.host,
        port=args.port,
        access_log=None,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
        print=None,
        loop=make_loop(args.uvloop),
    )


if __name__ == "__main__":
    main()
