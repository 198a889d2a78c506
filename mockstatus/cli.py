"""Command line: `mockstatus serve` and `mockstatus check`.

Configuration precedence: flag > MOCKSTATUS_* environment variable > default. Never a bare PORT:
CI runners pass job variables into service containers. Every flag and every variable goes through
one validator per setting (the SETTINGS table); a bad value is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import os
import re
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from mockstatus import __version__, proxy_cli
from mockstatus.journal import parse_redact
from mockstatus.limits import (
    LISTEN_BACKLOG,
    MAX_H2_STREAMS,
    MAX_JOURNAL_SIZE,
    MAX_SHUTDOWN_TIMEOUT,
    MAX_WORKERS,
    MIN_RELOAD_INTERVAL,
    SHUTDOWN_TIMEOUT,
)

LOOPBACK_HOSTS = ("127.0.0.1", "::1")  # the default: `localhost` is ::1 first for curl and Node
NO_SCENARIOS = "none"  # `--scenarios none`: start empty (`./none` is a folder named none)


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage dump
        raise UsageError(message)


# --- validators: text -> value, or ValueError with the reason ----------------------------------


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or int(text) > 65535:
        raise ValueError(f"invalid port {text!r}: an integer from 0 to 65535")
    return int(text)


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        digits = text.strip()
        # Length first: int() of thousands of digits is slow, and past 4300 an error.
        if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(high)):
            raise ValueError(f"invalid value {text!r}: an integer from {low} to {high}")
        if not low <= int(digits) <= high:
            raise ValueError(f"invalid value {text!r}: an integer from {low} to {high}")
        return int(digits)

    return parse


def _seconds(text: str) -> float:
    from mockstatus.durations import DURATION_HINT, parse_duration

    try:
        return parse_duration(text.strip())
    except ValueError:
        raise ValueError(f"invalid duration {text!r}: {DURATION_HINT}") from None


def _shutdown_timeout(text: str) -> float:
    seconds = _seconds(text)
    if seconds > MAX_SHUTDOWN_TIMEOUT:
        raise ValueError(f"invalid duration {text!r}: at most {MAX_SHUTDOWN_TIMEOUT:g}s")
    return seconds


def _reload_interval(text: str) -> float:
    seconds = _seconds(text)
    if 0 < seconds < MIN_RELOAD_INTERVAL:
        raise ValueError(f"invalid interval {text!r}: 0 (off) or at least {MIN_RELOAD_INTERVAL:g}s")
    return seconds


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"invalid choice {text!r}: one of {', '.join(choices)}")
        return text

    return parse


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f"invalid switch {text!r}: 1, true, yes, on or 0, false, no, off")
    return value in _TRUE


def _host(text: str) -> str:
    host = text.strip().removeprefix("[").removesuffix("]")
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"invalid host {text!r}: an address or a name, such as 127.0.0.1")
    return host


def _scenarios(text: str) -> Path | str:
    if text == NO_SCENARIOS:
        return NO_SCENARIOS
    if not text.strip():
        raise ValueError(f"an empty scenarios folder: give a folder, or {NO_SCENARIOS!r}")
    return Path(text)


def _state(text: str) -> str:
    """A Redis URL (`redis://`, `rediss://` or `unix://`); `memory` is the default store."""
    if text == "memory":
        return text
    scheme, sep, rest = text.partition("://")
    if scheme not in ("redis", "rediss", "unix") or not sep or not rest:
        raise ValueError(
            f"invalid state store {text!r}: give memory or redis://host:port/db "
            "(also rediss:// or unix://)"
        )
    return text


def _seed(text: str) -> int:
    value = text.strip()
    body = value[1:] if value[:1] in "+-" else value
    if not (body.isascii() and body.isdigit()) or len(body) > 100:
        raise ValueError(f"invalid seed {text!r}: an integer")
    return int(value)


def _workers(text: str) -> int:
    """`auto`: the CPUs this process may run on (its affinity, not the machine's count)."""
    if text.strip() == "auto":
        return max(1, min(len(os.sched_getaffinity(0)), MAX_WORKERS))
    try:
        return _int_range(1, MAX_WORKERS)(text)
    except ValueError:
        raise ValueError(
            f"invalid value {text!r}: 'auto' or an integer from 1 to {MAX_WORKERS}"
        ) from None


def _path(text: str) -> Path:
    if not text.strip():
        raise ValueError("an empty path")
    return Path(text)


@dataclass(frozen=True)
class Setting:
    flag: str
    env: str | None
    default: str | None
    parse: Callable[[str], Any]
    help: str = ""


SETTINGS = (
    Setting(
        "--host",
        "MOCKSTATUS_HOST",
        None,
        _host,
        "address to listen on (default: loopback, 127.0.0.1 and ::1)",
    ),
    Setting("--port", "MOCKSTATUS_PORT", "8080", _port, "port (0: any free port)"),
    Setting(
        "--scenarios",
        "MOCKSTATUS_SCENARIOS",
        None,
        _scenarios,
        "scenarios folder; 'none' for no scenarios (default: the bundled examples)",
    ),
    Setting(
        "--interim",
        "MOCKSTATUS_INTERIM",
        "auto",
        _choice("auto", "off", "force"),
        "send 1xx interim responses: auto (HTTP/1.1 clients), off, force (even HTTP/1.0)",
    ),
    Setting(
        "--clock",
        "MOCKSTATUS_CLOCK",
        "system",
        _choice("system", "manual"),
        "manual: time moves only via POST /__mockstatus/clock/advance",
    ),
    Setting(
        "--journal-size",
        "MOCKSTATUS_JOURNAL_SIZE",
        "1000",
        _int_range(1, MAX_JOURNAL_SIZE),
        f"requests the journal keeps (1 to {MAX_JOURNAL_SIZE})",
    ),
    Setting(
        "--journal-redact",
        "MOCKSTATUS_JOURNAL_REDACT",
        "default",
        parse_redact,
        "header values the journal hides: default, none, or NAME,NAME",
    ),
    Setting(
        "--reload-interval",
        "MOCKSTATUS_RELOAD_INTERVAL",
        "1s",
        _reload_interval,
        f"how often the scenarios folder is checked (0: never; at least {MIN_RELOAD_INTERVAL:g}s)",
    ),
    Setting(
        "--shutdown-timeout",
        "MOCKSTATUS_SHUTDOWN_TIMEOUT",
        f"{SHUTDOWN_TIMEOUT:g}s",
        _shutdown_timeout,
        "how long in-flight requests may finish after SIGTERM "
        "(5s, 500ms or seconds); longer ones are cut",
    ),
    Setting("--seed", "MOCKSTATUS_SEED", None, _seed, "seed of the random source"),
    Setting(
        "--state",
        "MOCKSTATUS_STATE",
        None,
        _state,
        "where scenario state lives: memory (this process; the default) or redis://host:port/db, "
        "shared by every replica (needs mockstatus[redis]; docs/scale-out.md)",
    ),
    Setting(
        "--state-failure",
        "MOCKSTATUS_STATE_FAILURE",
        "fail-closed",
        _choice("fail-closed", "fail-open"),
        "when the state store is lost: fail-closed (stateful routes answer 503) or fail-open "
        "(this process's own state, X-Mockstatus-State: degraded)",
    ),
    Setting(
        "--tls",
        "MOCKSTATUS_TLS",
        "0",
        _flag,
        "serve HTTPS with a certificate made at start-up (needs mockstatus[tls])",
    ),
    Setting(
        "--tls-ca",
        "MOCKSTATUS_TLS_CA",
        None,
        _path,
        "where to write the CA certificate clients should trust (default: a new private "
        "temporary folder)",
    ),
    Setting("--quiet", "MOCKSTATUS_QUIET", "0", _flag, "no access log"),
    Setting("--http2", "MOCKSTATUS_HTTP2", "on", _flag, "HTTP/2 on the same port: on or off"),
    Setting(
        "--h2-max-streams",
        "MOCKSTATUS_H2_MAX_STREAMS",
        "100",
        _int_range(1, MAX_H2_STREAMS),
        "HTTP/2 streams a client may open at once (SETTINGS_MAX_CONCURRENT_STREAMS)",
    ),
    Setting(
        "--fast-lane",
        "MOCKSTATUS_FAST_LANE",
        "on",
        _choice("on", "off"),
        "answer requests whose response is fixed from bytes prepared in advance (off: debugging)",
    ),
    Setting(
        "--workers",
        "MOCKSTATUS_WORKERS",
        "1",
        _workers,
        "processes serving the port: N, or auto (one per CPU this process may use); "
        "more than 1 needs --state",
    ),
    Setting(
        "--loop",
        "MOCKSTATUS_LOOP",
        "auto",
        _choice("auto", "asyncio", "uvloop"),
        "event loop: auto (uvloop when installed, from mockstatus[speed]), asyncio or uvloop",
    ),
)
SWITCHES = ("--tls", "--quiet")


def _argparse_type(setting: Setting) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return setting.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = setting.flag.lstrip("-")  # argparse names the type in some messages
    return convert


def environment_defaults(env: Mapping[str, str]) -> dict[str, Any]:
    """Each setting's value from its MOCKSTATUS_* variable, else its default; UsageError names
    the variable when a value is invalid (a bad variable is never silently ignored)."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        dest = setting.flag.lstrip("-").replace("-", "_")
        if setting.env is not None and setting.env in env:
            try:
                values[dest] = setting.parse(env[setting.env])
            except ValueError as exc:
                raise UsageError(f"{setting.env}: {exc}") from None
        elif setting.default is not None:
            values[dest] = setting.parse(setting.default)
        else:
            values[dest] = None
    token = env.get("MOCKSTATUS_ADMIN_TOKEN")
    if token is not None and not token.strip():
        raise UsageError(
            "MOCKSTATUS_ADMIN_TOKEN is set but empty: set a token, or unset the variable for none"
        )
    values["admin_token"] = token
    return values


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = _Parser(prog="mockstatus", description="An HTTP server that answers any status code.")
    parser.add_argument("--version", action="version", version=f"mockstatus {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    serve_parser = sub.add_parser("serve", help="start the server")
    for setting in SETTINGS:
        if setting.flag in SWITCHES:
            serve_parser.add_argument(
                setting.flag, action="store_true", default=None, help=setting.help
            )
        else:
            serve_parser.add_argument(
                setting.flag, type=_argparse_type(setting), default=None, help=setting.help
            )
    proxy_parser = sub.add_parser(
        "proxy", help="forward to an upstream, failing where scenarios say"
    )
    for setting in SETTINGS:  # the same settings as `serve` (issue 14)
        kind = (
            {"action": "store_true"}
            if setting.flag in SWITCHES
            else {"type": _argparse_type(setting)}
        )
        help_text = setting.help
        if setting.flag == "--scenarios":  # the proxy starts with none (issue 14)
            help_text = "scenarios folder (default: none: everything goes upstream)"
        proxy_parser.add_argument(setting.flag, default=None, help=help_text, **kind)
    proxy_cli.add_proxy_arguments(proxy_parser)
    proxy_cli.add_allow_upstream(serve_parser)
    check = sub.add_parser("check", help="validate scenario files")
    check.add_argument("paths", nargs="+")
    proxy_cli.add_allow_upstream(check)
    sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
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
        if args.command in ("serve", "proxy"):
            for name, value in environment_defaults(env).items():
                if getattr(args, name, None) is None:
                    setattr(args, name, value)
    except UsageError as exc:
        print(f"mockstatus: error: {clipped(str(exc))}", file=err)
        return 2
    if args.command == "check":
        from mockstatus.proxy import POLICY
        from mockstatus.scenarios.check import run_check

        POLICY.set(proxy_cli.policy(args))  # `proxy.to` is checked against --allow-upstream
        return run_check(args.paths, out)
    if args.command == "schema":
        from mockstatus.scenarios.schema_export import schema_text

        out.write(schema_text())
        return 0
    if args.command in ("serve", "proxy"):
        return serve(args, out, err)
    parser.print_help(out)
    return 2


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def serve(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import random

    from mockstatus import accesslog
    from mockstatus.app import Mockstatus, bundled_scenarios
    from mockstatus.errors import ScenarioError
    from mockstatus.types import ManualClock, SystemClock

    folder: Path | None
    proxying = args.command == "proxy"  # no bundled scenarios, no built-ins: all goes upstream
    if proxying:
        args.http2 = False  # forwarding is HTTP/1.1 only: h2 would answer from the built-ins
    if args.scenarios == NO_SCENARIOS or (proxying and args.scenarios is None):
        folder = None  # nothing loaded, nothing watched, no bundled fall-back
    else:
        folder = args.scenarios if args.scenarios is not None else bundled_scenarios()
    if folder is not None and not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        print(f"mockstatus: error: scenarios folder {str(folder)!r} {what}", file=err)
        return 2
    if args.workers > 1:
        from mockstatus import supervisor

        refused = supervisor.refusal(args)
        if refused is not None:
            print(f"mockstatus: error: {refused}", file=err)
            return 2
    from mockstatus.loops import LoopUnavailable, loop_factory

    try:
        factory = loop_factory(args.loop)
    except LoopUnavailable as exc:
        print(f"mockstatus: error: {exc}", file=err)
        return 2
    accesslog.set_output(out)

    def log(line: str) -> None:
        print(line, file=err, flush=True)

    hosts = (args.host,) if args.host else LOOPBACK_HOSTS
    clock: Any = ManualClock() if args.clock == "manual" else SystemClock()
    if args.state not in (None, "memory"):
        from mockstatus.state.clock import SharedManualClock, SharedSystemClock

        clock = SharedManualClock() if args.clock == "manual" else SharedSystemClock()
    options: dict[str, Any] = {
        "clock": clock,
        "rng": random.Random(args.seed),
        "scenarios_dir": folder,
        "journal_size": args.journal_size,
        "interim_mode": args.interim,
        "admin_token": args.admin_token,
        "clock_controllable": args.clock == "manual",
        "log": log,
        "journal_redact": args.journal_redact,
        "loopback_only": all(is_loopback(h) for h in hosts),
        "proxy": proxy_cli.config(args),
    }
    app = Mockstatus(**options)
    try:
        app.store.load_initial()  # before the port opens: a CI runner waits on the port
    except ScenarioError as exc:
        print(f"mockstatus: error: the scenarios in {folder} are invalid:\n{exc}", file=err)
        return 2
    ssl_context = None
    if args.tls:  # before any fork: every worker serves the same certificate
        from mockstatus.tls import TLSUnavailable, server_context, write_ca

        names = tuple(h for h in hosts if h not in ("0.0.0.0", "::"))
        try:
            ssl_context, ca = server_context(names, http2=args.http2)
            ca_path = write_ca(ca, args.tls_ca)
        except (TLSUnavailable, OSError) as exc:
            print(f"mockstatus: error: {exc}", file=err)
            return 2
        print(f"mockstatus: TLS CA certificate written to {ca_path}", file=err, flush=True)
    if args.workers > 1:
        return _serve_workers(app, args, hosts, ssl_context, factory, out, err)
    from mockstatus.loops import run

    try:
        return run(_serve(app, args, hosts, ssl_context, out, err), factory)
    except KeyboardInterrupt:
        return 0
    finally:
        accesslog.flush()


def _serve_workers(
    app: Any,
    args: argparse.Namespace,
    hosts: Sequence[str],
    ssl_context: Any,
    factory: Any,
    out: TextIO,
    err: TextIO,
) -> int:
    """`--workers N`: bind here, fork N workers each running `_serve` on its own sockets."""
    from mockstatus import accesslog
    from mockstatus.loops import loop_name, run
    from mockstatus.supervisor import Seat, Supervisor, WholeLines, bind

    try:
        bound = bind(hosts, args.port, args.workers, default_hosts=LOOPBACK_HOSTS)
    except OSError as exc:
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        where = exc.filename or hosts[0]
        print(f"mockstatus: error: cannot listen on {where}:{args.port}: {reason}", file=err)
        return 1

    def run_worker(seat: Seat) -> int:
        if args.seed is None:
            app.rng.seed()  # forked workers would otherwise draw the same "random" sequence
        app.admin.health = {"status": "ok", "worker": seat.index, "pid": os.getpid()}
        with contextlib.suppress(OSError, ValueError, AttributeError):
            accesslog.set_output(WholeLines(out.fileno()))  # type: ignore[arg-type]
        try:
            return run(_serve(app, args, hosts, ssl_context, out, err, seat=seat), factory)
        finally:
            accesslog.flush(1.0)

    def announce() -> None:
        scheme = "https" if args.tls else "http"
        urls = " and ".join(f"{scheme}://{_bracket(h)}:{bound.port}" for h in bound.hosts)
        print(
            f"mockstatus {__version__} listening on {urls} ({_loaded(app)}; "
            f"{args.workers} workers, {loop_name(factory)})",
            file=out,
            flush=True,
        )
        _warn_beyond_loopback(args, bound.hosts, err)

    def log(line: str) -> None:
        print(line, file=err, flush=True)

    return Supervisor(bound, run_worker, announce, log, args.shutdown_timeout).run()


def _loaded(app: Any) -> str:
    if app.store.folder is None:
        return "scenarios: none"
    loaded = ", ".join(s.name for s in app.store.current.scenarios) or "none"
    return f"scenarios: {app.store.folder}: {loaded}"


def _warn_beyond_loopback(args: argparse.Namespace, hosts: Sequence[str], err: TextIO) -> None:
    if not args.admin_token and not all(is_loopback(h) for h in hosts):
        print(
            "mockstatus: warning: listening beyond loopback without MOCKSTATUS_ADMIN_TOKEN: "
            "anyone who can reach the port can use the admin API",
            file=err,
            flush=True,
        )


async def _serve(
    app: Any,
    args: argparse.Namespace,
    hosts: Sequence[str],
    ssl_context: Any,
    out: TextIO,
    err: TextIO,
    seat: Any = None,  # supervisor.Seat: a worker of `--workers N` on the supervisor's sockets
) -> int:
    from aiohttp import web

    from mockstatus import accesslog
    from mockstatus.app import make_server
    from mockstatus.wire.server import AcceptErrorLog

    loop = asyncio.get_running_loop()
    loop.set_exception_handler(AcceptErrorLog(lambda line: print(line, file=err, flush=True)))
    # Before anything is printed: a supervisor may send SIGTERM as soon as it sees the listening
    # line, and a signal that arrived during start-up still stops the server cleanly.
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(AttributeError, NotImplementedError):
        loop.add_signal_handler(signal.SIGHUP, lambda: _reload_later(app))
    link = None
    if args.state not in (None, "memory"):
        link = await _link_state(app, args, err)
        if link is None:
            return 2
    server = make_server(
        app, quiet=args.quiet, http2=args.http2, h2_max_streams=args.h2_max_streams
    )
    if app.proxy is not None and app.proxy.upstream is not None:
        app.proxy.tune_collector()  # `mockstatus proxy`: see proxy_app.PROXY_GC_YOUNG
    if args.fast_lane == "on" and app.proxy is None:  # forwarding: every request is decided
        from mockstatus.wire import fastlane

        fastlane.install(server, app)
    runner = web.ServerRunner(server, shutdown_timeout=args.shutdown_timeout)
    await runner.setup()
    if seat is not None:  # the supervisor bound the sockets and prints the listening line
        sites = await seat.listen(runner, ssl_context)
        seat.ready()
    else:
        try:
            sites, port = await _listen(runner, hosts, args.port, ssl_context)
        except OSError as exc:
            await runner.cleanup()
            reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            where = exc.filename or hosts[0]
            print(f"mockstatus: error: cannot listen on {where}:{args.port}: {reason}", file=err)
            return 1
        scheme = "https" if args.tls else "http"
        urls = " and ".join(f"{scheme}://{_bracket(site)}:{port}" for site in sites)
        print(
            f"mockstatus {__version__} listening on {urls} ({_loaded(app)})",
            file=out,
            flush=True,
        )
        _warn_beyond_loopback(args, list(sites), err)
    watcher = None
    if args.reload_interval > 0 and app.store.folder is not None:  # `--scenarios none`: nothing
        watcher = asyncio.create_task(app.store.watch(args.reload_interval))
    await stop.wait()
    for site in list(sites.values()):
        await site.stop()  # stop accepting at once
    if seat is None:  # the supervisor says it once for all workers
        print(
            f"mockstatus: shutting down (in-flight requests have {args.shutdown_timeout:g}s)",
            file=err,
            flush=True,
        )
    if watcher is not None:
        watcher.cancel()
    cut = await server.drain(args.shutdown_timeout)
    if app.proxy is not None:
        await app.proxy.forwarder.close()  # the upstream connections, once nothing is in flight
    await runner.cleanup()  # nothing left in flight: returns at once
    if link is not None:
        await link.close()  # the journal's last batch is written first
    if cut:
        print(f"mockstatus: {cut} request(s) cut at the shutdown deadline", file=err, flush=True)
    flushed = accesslog.flush(1.0)
    if accesslog.dropped() or not flushed:
        unwritten = "" if flushed else f", {accesslog.unwritten()} characters not written"
        print(
            f"mockstatus: {accesslog.dropped()} access-log line(s) dropped{unwritten}: "
            "stdout was not read fast enough",
            file=err,
            flush=True,
        )
    return 0


async def _link_state(app: Any, args: argparse.Namespace, err: TextIO) -> Any:
    """Route scenario state through the store named by `--state`; None (after one line on
    stderr) when it cannot be used: the caller exits 2."""
    try:
        from mockstatus.state import link
    except ImportError:
        print(
            "mockstatus: error: --state redis://... needs the redis client: "
            "pip install 'mockstatus[redis]'",
            file=err,
        )
        return None
    from mockstatus.state import StoreUnavailable

    def log(line: str) -> None:
        print(line, file=err, flush=True)

    try:
        return await link.connect(app, args.state, args.state_failure, args.journal_size, log)
    except StoreUnavailable as exc:
        print(f"mockstatus: error: cannot use the state store: {exc.cause}", file=err)
        return None


def _deepen_backlog(site: Any) -> None:
    """Let the kernel queue LISTEN_BACKLOG unaccepted connections on `site`'s sockets."""
    for sock in site._server.sockets:  # asyncio's or uvloop's server: both have sockets
        with socket.socket(sock.family, sock.type, fileno=os.dup(sock.fileno())) as same:
            same.listen(LISTEN_BACKLOG)  # the same listening socket, through a duplicate


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def _listen(
    runner: Any, hosts: Sequence[str], port: int, ssl_context: Any
) -> tuple[dict[str, Any], int]:
    """Listen on every host with one port (port 0: the first host's free port, reused for the
    others). ::1 in the default pair is skipped where the machine has no IPv6."""
    from aiohttp import web

    for attempt in range(10):
        sites: dict[str, Any] = {}
        bound = port
        try:
            for host in hosts:
                # asyncio's accept loop also uses `backlog` as the accepts it tries per wake-up,
                # and on EMFILE it schedules one retry per try: keep that at aiohttp's 128 and
                # raise only the kernel's queue (a second listen() on the same socket).
                site = web.TCPSite(runner, host, bound, ssl_context=ssl_context)
                try:
                    await site.start()
                    _deepen_backlog(site)
                except OSError as exc:
                    await site.stop()  # start() registered it with the runner
                    if host == "::1" and tuple(hosts) == LOOPBACK_HOSTS and exc.errno in _NO_IPV6:
                        continue
                    exc.filename = exc.filename or host
                    raise
                sites[host] = site
                if bound == 0:
                    # set by start(): the loop's server (asyncio's or uvloop's: both have sockets)
                    server: Any = site._server
                    bound = server.sockets[0].getsockname()[1]
            return sites, bound
        except OSError as exc:
            for site in sites.values():
                await site.stop()
            retry = port == 0 and exc.errno == errno.EADDRINUSE and attempt < 9
            if not retry:
                raise
    raise AssertionError("unreachable")


_NO_IPV6 = (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)


_BACKGROUND: set[asyncio.Future[Any]] = set()  # keeps SIGHUP reload tasks alive until done


def _reload_later(app: Any) -> None:
    """SIGHUP: rebuild off the loop (a large folder must not stall the server)."""
    task = asyncio.ensure_future(app.store.reload_async())
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


_LONG_VALUE = re.compile(r"'([^']{40})[^']{20,}'")


def clipped(message: str) -> str:
    """An error line quotes what was given: a value of thousands of characters is cut."""
    return _LONG_VALUE.sub(lambda m: f"'{m.group(1)}…'", message)
