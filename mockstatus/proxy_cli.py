"""The CLI side of forwarding (issue 14): `mockstatus proxy`'s own flags, `--allow-upstream` for
`serve` and `check`, and the `ProxyConfig` they make. `cli.py` registers these; the server is
started by `cli.serve`, as for `serve`."""

from __future__ import annotations

import argparse
from pathlib import Path

from mockstatus.http_syntax import TOKEN
from mockstatus.proxy import DEFAULT_TIMEOUT, ProxyTarget, UpstreamPolicy, parse_allowed, parse_url


def _upstream(text: str) -> ProxyTarget:
    try:
        scheme, host, port, base = parse_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return ProxyTarget(text, scheme, host, port, base, timeout=DEFAULT_TIMEOUT)


def _allowed(text: str) -> tuple[str, int | None]:
    try:
        return parse_allowed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _redact(text: str) -> str:
    name = text.strip()
    if not TOKEN.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"--redact wants a header or JSON field name (letters, digits, -_.), got {text!r}"
        )
    return name


def add_allow_upstream(parser: argparse.ArgumentParser, listed: bool = True) -> None:
    """`listed=False` keeps the flag out of `--help` (serve's: until the README's table, which
    tests/test_docs_cli.py holds to `serve --help`, has its row)."""
    parser.add_argument(
        "--allow-upstream",
        action="append",
        default=[],
        type=_allowed,
        metavar="HOST[:PORT]",
        help="an upstream scenarios may `proxy` to (repeatable; none by default)"
        if listed
        else argparse.SUPPRESS,
    )


def add_proxy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--upstream", required=True, type=_upstream, help="where unmatched requests go (URL)"
    )
    add_allow_upstream(parser)
    parser.add_argument("--record", type=Path, metavar="DIR", help="write what passes as YAML")
    parser.add_argument(
        "--record-templates",
        action="store_true",
        help="record numeric and UUID path segments as {id}",
    )
    parser.add_argument(
        "--record-sequence", action="store_true", help="record repeated calls as a sequence"
    )
    parser.add_argument(
        "--redact",
        action="append",
        default=[],
        type=_redact,
        metavar="NAME",
        help="also hide this header or JSON field when recording (repeatable)",
    )


def policy(args: argparse.Namespace) -> UpstreamPolicy:
    allowed = list(getattr(args, "allow_upstream", None) or [])
    upstream: ProxyTarget | None = getattr(args, "upstream", None)
    if upstream is not None:
        allowed.append((upstream.host, upstream.port))  # the --upstream is always allowed
    return UpstreamPolicy(tuple(dict.fromkeys(allowed)))


def config(args: argparse.Namespace) -> object:
    """The `ProxyConfig` of `mockstatus proxy` or of `serve --allow-upstream` (None when
    `serve` names no upstream: the app then runs without the forwarding flow)."""
    from mockstatus.proxy_app import ProxyConfig

    upstream: ProxyTarget | None = getattr(args, "upstream", None)
    if upstream is None and not getattr(args, "allow_upstream", None):
        return None
    recorder = None
    if upstream is not None and args.record is not None:
        from mockstatus.record import Recorder

        recorder = Recorder(
            args.record,
            upstream=upstream.url,
            templates=args.record_templates,
            sequence=args.record_sequence,
            redact=frozenset(args.redact),
        )
    return ProxyConfig(upstream=upstream, policy=policy(args), recorder=recorder)
