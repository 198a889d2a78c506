"""Command line: `mockstatus serve` and `mockstatus check`.

Configuration precedence: flag > MOCKSTATUS_* environment variable > default. Never a bare PORT:
CI runners pass job variables into service containers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from mockstatus import __version__
from mockstatus.limits import SHUTDOWN_TIMEOUT


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(message)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: an integer from 0 to 65535")
    return int(text)


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: an integer >= 1")
    return int(text)


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = _Parser(prog="mockstatus", description="An HTTP server that answers any status code.")
    parser.add_argument("--version", action="version", version=f"mockstatus {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    serve = sub.add_parser("serve", help="start the server")
    serve.add_argument("--host", default=env.get("MOCKSTATUS_HOST", "0.0.0.0"))
    serve.add_argument("--port", type=_port, default=env.get("MOCKSTATUS_PORT", "8080"))
    serve.add_argument("--scenarios", default=env.get("MOCKSTATUS_SCENARIOS"))
    serve.add_argument(
        "--quiet", action="store_true", default=env.get("MOCKSTATUS_QUIET", "") in ("1", "true")
    )
    serve.add_argument(
        "--interim",
        choices=("auto", "off", "force"),
        default=env.get("MOCKSTATUS_INTERIM", "auto"),
        help="send 1xx interim responses: auto (HTTP/1.1 clients), off, force (even HTTP/1.0)",
    )
    serve.add_argument(
        "--clock",
        choices=("system", "manual"),
        default=env.get("MOCKSTATUS_CLOCK", "system"),
        help="manual: time moves only via POST /__mockstatus/clock/advance",
    )
    serve.add_argument(
        "--journal-size", type=_positive_int, default=env.get("MOCKSTATUS_JOURNAL_SIZE", "1000")
    )
    serve.add_argument(
        "--reload-interval",
        type=float,
        default=float(env.get("MOCKSTATUS_RELOAD_INTERVAL", "1.0")),
        help="seconds between checks of the scenarios folder (0 disables live reload)",
    )
    serve.add_argument("--seed", type=int, default=None, help="seed of the random source")
    serve.add_argument(
        "--tls",
        action="store_true",
        default=env.get("MOCKSTATUS_TLS", "") in ("1", "true"),
        help="serve HTTPS with a certificate made at start-up (needs mockstatus[tls])",
    )
    serve.add_argument(
        "--tls-ca",
        default=env.get("MOCKSTATUS_TLS_CA"),
        help="where to write the CA certificate clients should trust (default: a temp file)",
    )
    check = sub.add_parser("check", help="validate scenario files")
    check.add_argument("paths", nargs="+")
    return parser


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    env = os.environ if env is None else env
    out = out or sys.stdout
    err = sys.stderr if out is sys.stdout else out
    parser = build_parser(env)
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        print(f"mockstatus: error: {exc}", file=err)
        return 2
    if args.command == "check":
        from mockstatus.scenarios.check import run_check

        return run_check(args.paths, out)
    if args.command == "serve":
        return serve(args, out, err)
    parser.print_help(out)
    return 2


def serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import random

    from mockstatus import accesslog
    from mockstatus.app import Mockstatus, bundled_scenarios
    from mockstatus.errors import ScenarioError
    from mockstatus.types import ManualClock, SystemClock

    folder = Path(args.scenarios) if args.scenarios else bundled_scenarios()
    if not folder.is_dir():
        print(f"mockstatus: error: scenarios folder {str(folder)!r} does not exist", file=err)
        return 2
    accesslog.set_output(out)

    def log(line: str) -> None:
        print(line, file=err, flush=True)

    app = Mockstatus(
        clock=ManualClock() if args.clock == "manual" else SystemClock(),
        rng=random.Random(args.seed),
        scenarios_dir=folder,
        journal_size=args.journal_size,
        interim_mode=args.interim,
        admin_token=os.environ.get("MOCKSTATUS_ADMIN_TOKEN") or None,
        clock_controllable=args.clock == "manual",
        log=log,
    )
    try:
        app.store.load_initial()  # before the port opens: a CI runner waits on the port
    except ScenarioError as exc:
        print(f"mockstatus: error: the scenarios in {folder} are invalid:\n{exc}", file=err)
        return 2
    try:
        return asyncio.run(_serve(app, args, out, err))
    except KeyboardInterrupt:
        return 0
    finally:
        accesslog.flush()


async def _serve(app, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from aiohttp import web

    from mockstatus.app import make_server

    ssl_context = None
    if args.tls:
        from mockstatus.tls import TLSUnavailable, server_context

        default_ca = Path(tempfile.gettempdir()) / "mockstatus-ca.pem"
        ca_path = Path(args.tls_ca) if args.tls_ca else default_ca
        names = (args.host,) if args.host not in ("0.0.0.0", "::") else ()
        try:
            ssl_context = server_context(ca_path, names)
        except (TLSUnavailable, OSError) as exc:
            print(f"mockstatus: error: {exc}", file=err)
            return 2
        print(f"mockstatus: TLS CA certificate written to {ca_path}", file=err, flush=True)
    server = make_server(app, quiet=args.quiet)
    # shutdown_timeout bounds how long in-flight requests may finish after SIGTERM.
    runner = web.ServerRunner(server, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        print(f"mockstatus: error: cannot listen on {args.host}:{args.port}: {reason}", file=err)
        return 1
    port = _bound_port(runner) or args.port
    host = args.host if ":" not in args.host else f"[{args.host}]"
    names = ", ".join(s.name for s in app.store.current.scenarios) or "none"
    print(
        f"mockstatus {__version__} listening on {'https' if args.tls else 'http'}://{host}:{port} "
        f"(scenarios: {app.store.folder}: {names})",
        file=out,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(AttributeError, NotImplementedError):
        loop.add_signal_handler(signal.SIGHUP, app.store.reload)
    watcher = None
    if args.reload_interval > 0:
        watcher = asyncio.create_task(app.store.watch(args.reload_interval))
    await stop.wait()
    print("mockstatus: shutting down (in-flight requests finish)", file=err, flush=True)
    if watcher is not None:
        watcher.cancel()
    await runner.cleanup()  # stops listening, then waits for in-flight requests
    return 0


def _bound_port(runner) -> int | None:
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            return int(addr[1])
    return None
