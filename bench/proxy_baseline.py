#!/usr/bin/env python3
"""The yardstick for bench/proxy.py: the least a proxy built on aiohttp's server and client can
do — one handler, one shared `ClientSession` (pooled keep-alive connections, no decompression,
no cookie jar), the upstream's answer read whole and returned. No header rewriting, no journal,
no scenarios, no error handling. What mockstatus's proxy adds on top of this is its own cost;
what this costs over the direct upstream is aiohttp's (and the extra hop's).

Run: python bench/proxy_baseline.py --port 8081 --upstream http://127.0.0.1:8080 [--uvloop]
(bench/proxy.py passes --uvloop when `mockstatus proxy` runs on uvloop: the same loop for both.)
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
from aiohttp import web

_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


def make_app(upstream: str) -> web.Application:
    app = web.Application()
    sessions: list[aiohttp.ClientSession] = []

    async def open_session(_: web.Application) -> None:
        sessions.append(
            aiohttp.ClientSession(
                upstream,
                connector=aiohttp.TCPConnector(limit=100),
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        )

    async def close_session(_: web.Application) -> None:
        for session in sessions:
            await session.close()

    async def forward(request: web.Request) -> web.Response:
        async with sessions[0].request(request.method, request.rel_url) as upstream:
            body = await upstream.read()
            headers = [(n, v) for n, v in upstream.headers.items() if n.lower() not in _HOP]
            return web.Response(status=upstream.status, headers=headers, body=body)

    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop (default: asyncio)")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    web.run_app(
        make_app(args.upstream),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=loop,
    )


if __name__ == "__main__":
    main()
