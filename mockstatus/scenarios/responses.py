"""Responses: status (weighted), reason, headers, body / json / file, interim codes, delay,
faults and drips, validated from located values into `ResponseSpec`s.
"""

from __future__ import annotations

import difflib
import math
import mimetypes
import stat
from collections.abc import Sequence

from mockstatus.codes import is_bodiless
from mockstatus.encoding import COMPRESS_CHOICES
from mockstatus.h2_fault import AFTER_HEADERS, ERROR_CODES, ERROR_HINT, default_error, error_code
from mockstatus.http_syntax import FIELD_CONTROL, FRAMING_HEADERS, TOKEN
from mockstatus.limits import MAX_BODY_FILE_BYTES, MAX_DELAY, MIN_DRIP_EVERY
from mockstatus.positions import parse_after, parse_rate
from mockstatus.scenarios.model import ResponseSpec
from mockstatus.scenarios.proxy import check_proxy_siblings, read_proxy, read_verbatim
from mockstatus.scenarios.stream import StreamSpec
from mockstatus.scenarios.templates import JsonTemplate, Template
from mockstatus.scenarios.values import (
    _DIGITS,
    _V,
    At,
    Params,
    _describe,
    _Reader,
)
from mockstatus.types import FAULT_KINDS, H2_FAULTS, POSITIONED_FAULTS, Drip, Fault

# What to use instead of each framing header (http_syntax.FRAMING_HEADERS) a scenario may not
# set. No fault takes them either: `truncate` and `malformed-chunk` write their own lying framing.
_FRAMING_ADVICE = {
    "content-length": "for a body shorter than promised, use fault: truncate",
    "transfer-encoding": "for a broken chunked body, use fault: malformed-chunk",
    "connection": "to close the connection after the response, use fault: close",
}
_RESPONSE_KEYS = (
    *("status", "reason", "headers", "body", "json", "file", "etag"),
    *("interim", "delay", "fault", "drip", "proxy", "verbatim", "stream", "compress"),
)
_STEP_KEYS = (*_RESPONSE_KEYS, "times")
_FAULT_KEYS = ("kind", "delay", "drip", "after", "hold", "rate", "error", "graceful")
_DRIP_KEYS = ("chunk", "every")


class _Responses(_Reader):
    """The response validators (`respond`, sequence steps, outage and chaos answers)."""

    body_files: list[str]  # set by _Schema: the `file:` bodies read, for the reload watcher

    # -- responses ---------------------------------------------------------------------------

    def response(
        self, v: _V, where: str, params: Params, step: bool = False
    ) -> ResponseSpec | None:
        m = self.mapping(
            v, where, _STEP_KEYS if step else _RESPONSE_KEYS, "each sequence step" if step else None
        )
        if m is None:
            return None
        if "proxy" in m:  # issue 14: the upstream answers
            check_proxy_siblings(self, v, m)
            target = read_proxy(self, m["proxy"])
            delay = self.duration(m["delay"], "delay", cap=MAX_DELAY) if "delay" in m else 0.0
            return ResponseSpec(proxy=target, delay=delay or 0.0) if target else None
        if "verbatim" in m:
            return read_verbatim(self, v, m)
        statuses = self.statuses(m["status"]) if "status" in m else ((200, 1.0),)
        reason = self.string(m["reason"], "reason") if "reason" in m else None
        if reason is not None and FIELD_CONTROL.search(reason):
            self.problem(m["reason"], "'reason' must not contain control characters (CR, LF, NUL…)")
        headers = self.headers(m["headers"], params) if "headers" in m else ()
        given = [key for key in ("body", "json", "file") if key in m]
        if len(given) > 1:
            self.problem(
                v, f"a response has one of 'body', 'json' or 'file', not {' and '.join(given)}"
            )
        body = json = file = content_type = None
        if "body" in m and (text := self.string(m["body"], "body")) is not None:
            body = self.template(m["body"], text, params)
        if "json" in m:
            json, content_type = JsonTemplate(self.json_tree(m["json"], params)), "application/json"
        if "file" in m and (text := self.string(m["file"], "file")) is not None:
            file = self.body_file(m["file"], text)
            content_type = mimetypes.guess_type(text)[0] or "application/octet-stream"
        etag = self.etag(m["etag"], headers) if "etag" in m else None
        digest = None
        fixed = file if file is not None else _fixed_body(body, json)
        if fixed is not None and etag is None:
            from mockstatus.conditional import body_digest

            digest = body_digest(fixed)  # hashed once here, not per request (a file: up to 10 MiB)
        interim: list[int] = []
        for item in self.items(m["interim"], "interim") if "interim" in m else ():
            if item.kind == "int" and item.value in (100, 102, 103):
                interim.append(item.value)
            elif item.kind != "bad":
                self.problem(
                    item, f"'interim' codes must be 100, 102 or 103, got {_describe(item)}"
                )
        delay = (self.duration(m["delay"], "delay", cap=MAX_DELAY) or 0.0) if "delay" in m else 0.0
        drip = self.drip(m["drip"]) if "drip" in m else None
        fault = None
        if "fault" in m:
            fault, took_delay = self.fault(m["fault"], delay, drip)
            delay = 0.0 if took_delay else delay  # slow-headers spends the delay on the head
        if statuses is not None and (body is not None or json is not None or file is not None):
            bodiless = [code for code, _ in statuses if is_bodiless(code)]
            if bodiless:
                # RFC 9110 §6.4.1: the body would be dropped without a word.
                given_key = given[0] if given else "body"
                self.problem(
                    m[given_key],
                    f"status {bodiless[0]} never carries content (RFC 9110 §6.4.1): "
                    f"the '{given_key}' would be dropped; remove it or use another status",
                )
                return None
        stream = compress = None
        if "stream" in m:
            stream = self.stream_spec(m, v, params, given, statuses)
        if "compress" in m:
            compress = self.choice(m["compress"], "compress", COMPRESS_CHOICES)
        if fault is not None and fault.after is not None:
            fv = m["fault"]
            at = fv.value.get("after", fv) if fv.kind == "map" else fv
            self.fault_position(at, fault, stream, _fixed_body(body, json) or file)
        if statuses is None or ("stream" in m and stream is None):
            return None
        return ResponseSpec(
            statuses,
            reason,
            headers,
            body,
            json,
            file,
            tuple(interim),
            delay,
            fault,
            drip,
            content_type,
            etag,
            digest,
            stream=stream,
            compress=compress or "off",
        )

    def stream_spec(
        self, m: dict[str, _V], v: _V, params: Params, given: Sequence[str], statuses: object
    ) -> StreamSpec | None:
        from mockstatus.scenarios.stream import read_stream

        if given:
            self.problem(v, f"a response has 'stream' or '{given[0]}', not both")
        if isinstance(statuses, tuple) and any(c in (204, 205, 304) for c, _ in statuses):
            self.problem(m["stream"], "a 204, 205 or 304 has no body to stream")
        return read_stream(self, m["stream"], params)

    def fault_position(
        self, v: _V, fault: Fault, stream: StreamSpec | None, body: bytes | None
    ) -> None:
        """An `after` that can never be reached is a mistake in the file, not a fault."""
        after = fault.after
        assert after is not None
        if after.unit == "events" and stream is None:
            self.problem(v, "'after: N events' needs a 'stream' (a plain body is one piece)")
        elif after.unit == "events" and stream is not None and stream.total is not None:
            if after.amount > stream.total:
                self.problem(
                    v, f"'after' names event {int(after.amount)} but the stream has {stream.total}"
                )
        elif after.unit == "bytes" and stream is None and body is not None:  # noqa: SIM102
            if after.amount > len(body):
                self.problem(
                    v, f"'after' names byte {int(after.amount)} but the body has {len(body)}"
                )

    def etag(self, v: _V, headers: tuple[tuple[str, Template], ...]) -> str | bool | None:
        """`etag: false` (no ETag), `true` (derived from the body: the default) or a value."""
        if any(name.lower() == "etag" for name, _ in headers):
            self.problem(v, "set the ETag with 'etag' or in 'headers', not both")
        if v.kind == "bool":
            return None if v.value else False
        from mockstatus.conditional import quote_entity_tag

        text = self.string(v, "etag")
        tag = quote_entity_tag(text) if text is not None else None
        if text is not None and tag is None:
            self.problem(
                v,
                f'\'etag\' must be false, true or an entity-tag such as v1, "v1" or W/"v1" '
                f"(visible characters, no spaces or inner double quotes), got {_describe(v)}; "
                "for a templated one use headers: {ETag: ...}",
            )
        return tag

    def statuses(self, v: _V) -> tuple[tuple[int, float], ...] | None:
        """200 · "200:0.9,503:0.1" · [200, 503] · [200: 0.9, 503: 0.1] · {200: 0.9, 503: 0.1}."""
        pairs: list[tuple[_V | str, _V | str | None, _V | At]] = []
        if v.kind == "seq":
            for item in v.value:
                if item.kind == "map" and len(item.value) == 1:
                    ((code, weight),) = item.value.items()
                    pairs.append((code, weight, item.keys[code]))
                elif item.kind == "str" and ":" in item.value:
                    code, _, weight = item.value.partition(":")
                    pairs.append((code, weight, item))
                else:
                    pairs.append((item, None, item))
        elif v.kind == "map":
            pairs = [(code, weight, v.keys[code]) for code, weight in v.value.items()]  # type: ignore[index]
        elif v.kind == "str" and ("," in v.value or ":" in v.value):
            for part in v.value.split(","):
                code, _, weight = part.partition(":")
                pairs.append((code, weight or None, v))
        else:
            code = self.status_code(v, v)
            return ((code, 1.0),) if code is not None else None
        if not pairs:
            self.problem(v, "'status' list is empty")
        out = []
        for code, weight, at in pairs:
            number, share = self.status_code(code, at), self.weight(weight, at)
            if number is not None and share is not None:
                out.append((number, share))
        total = sum(share for _, share in out)
        if out and not math.isfinite(total):
            # Each weight is finite, but a pick needs their sum (1e308 + 1e308 is inf).
            self.problem(v, "'status' weights add up to more than a number can hold: scale them")
            return None
        weighted = any(weight is not None for _, weight, _ in pairs)
        if weighted and len(out) == len(pairs) and len(out) > 1 and abs(total - 1.0) > 1e-9:
            shares = ", ".join(f"{code}: {share / total:.3g}" for code, share in out)
            self.warn(
                v,
                f"'status' weights add up to {total:g}, not 1: they are used as proportions "
                f"({shares})",
            )
        return tuple(out) if out and len(out) == len(pairs) else None

    def status_code(self, code: _V | str, at: _V | At) -> int | None:
        if isinstance(code, _V):
            if code.kind == "bad":
                return None
            shown, text = _describe(code), code.text if code.kind in ("int", "str") else ""
        else:
            shown, text = repr(code.strip()), code
        number = int(text) if _DIGITS.fullmatch(text) else None
        if number is None or not 100 <= number <= 599:
            self.problem(at, f"'status' must be an integer from 100 to 599, got {shown}")
            return None
        if number < 200:  # RFC 9110 §15.2: 1xx are interim; the final answer is 2xx-5xx
            self.problem(
                at,
                f"'status' {number} is informational (1xx) and cannot be the final "
                "status; send 100, 102 or 103 before it with 'interim'",
            )
            return None
        return number

    def weight(self, weight: _V | str | None, at: _V | At) -> float | None:
        if weight is None:
            return 1.0
        if isinstance(weight, _V):
            value, shown = (
                (weight.value if weight.kind in ("int", "float") else None),
                _describe(weight),
            )
            if weight.kind == "str":
                weight = weight.value
        if isinstance(weight, str):
            shown = repr(weight.strip())
            try:
                value = float(weight)
            except ValueError:
                value = None
        if value is None or not math.isfinite(value) or value <= 0:
            self.problem(at, f"'status' weight must be a positive number, got {shown}")
            return None
        return float(value)

    def headers(self, v: _V, params: Params) -> tuple[tuple[str, Template], ...]:
        m = self.mapping(v, "headers", None)
        out = []
        for name, item in (m or {}).items():
            at = v.keys[name]  # type: ignore[index]
            if not TOKEN.fullmatch(name):
                self.problem(at, f"header name {name!r} is not a valid HTTP field name")
                continue
            if name.lower() in FRAMING_HEADERS:
                advice = _FRAMING_ADVICE[name.lower()]
                self.problem(at, f"'{name}' is set by the server ({advice})")
                continue
            for value in self.items(item, name):  # a list gives the field once per value
                text = self.string(value, f"headers.{name}")
                if text is not None and FIELD_CONTROL.search(text):
                    self.problem(
                        value, f"header '{name}' must not contain control characters (CR, LF, NUL…)"
                    )
                elif text is not None and (template := self.template(value, text, params)):
                    out.append((name, template))
        return tuple(out)

    def body_file(self, v: _V, relative: str) -> bytes | None:
        """Read `file:` now, and only from inside the scenarios folder (symlinks resolved)."""
        if self.base_dir is None:
            self.problem(v, "'file' needs a scenarios folder to be read from")
            return None
        try:
            root = self.base_dir.resolve()
            target = (root / relative).resolve()
        except (OSError, ValueError, RuntimeError) as exc:
            self.problem(v, f"'file' {relative!r} cannot be resolved: {exc}")
            return None
        if not target.is_relative_to(root):
            self.problem(v, f"'file' must stay inside the scenarios folder, got {relative!r}")
            return None
        try:
            info = target.stat()
            if not stat.S_ISREG(info.st_mode):
                self.problem(v, f"'file' {relative!r} is not a regular file")
                return None
            with target.open("rb") as handle:
                data = handle.read(MAX_BODY_FILE_BYTES + 1)
        except FileNotFoundError:
            self.problem(v, f"'file' not found: {relative!r}")
            return None
        except OSError as exc:
            self.problem(v, f"'file' {relative!r} cannot be read: {exc.strerror or exc}")
            return None
        if len(data) > MAX_BODY_FILE_BYTES:
            self.problem(v, f"'file' {relative!r} is larger than 10 MiB")
            return None
        self.body_files.append(str(target))
        return data

    def drip(self, v: _V) -> Drip | None:
        m = self.mapping(v, "drip", _DRIP_KEYS)
        if m is None:
            return None
        if "chunk" not in m or "every" not in m:
            self.problem(v, "'drip' needs 'chunk' and 'every', as in {chunk: 10, every: 100ms}")
            return None
        chunk = self.integer(m["chunk"], "chunk", 1, 2**31, "a number of bytes, 1 or more")
        every = self.duration(m["every"], "every", cap=MAX_DELAY)
        if every is not None and every < MIN_DRIP_EVERY:
            # A shorter pause is a busy loop writing tiny chunks: a core per client.
            self.problem(
                m["every"],
                f"'every' must be at least {MIN_DRIP_EVERY * 1000:g}ms, got {_describe(m['every'])}",
            )
            every = None
        return Drip(chunk, every) if chunk is not None and every is not None else None

    def fault(
        self, v: _V, outer_delay: float = 0.0, outer_drip: Drip | None = None
    ) -> tuple[Fault | None, bool]:
        """`reset` or {kind: slow-headers, delay: 2s}. The bool: the response's delay was used."""
        kind_v, delay, drip = v, None, None
        if v.kind == "map":
            m = self.mapping(v, "fault", _FAULT_KEYS) or {}
            if "kind" not in m:
                self.missing(v, "'fault'", "kind")
                return None, False
            kind_v = m["kind"]
            delay = self.duration(m["delay"], "delay", cap=MAX_DELAY) if "delay" in m else None
            drip = self.drip(m["drip"]) if "drip" in m else None
            if ("delay" in m and delay is None) or ("drip" in m and drip is None):
                return None, False
            extra = self.fault_extras(m, self.string(m["kind"], "fault"))
            if extra is None:
                return None, False
            if extra:
                kind = self.string(kind_v, "fault")
                if kind is not None and kind in FAULT_KINDS:
                    if kind in H2_FAULTS:
                        extra = {"error": default_error(kind), **extra}
                    return Fault(kind, **extra), False  # type: ignore[arg-type]
        kind = self.string(kind_v, "fault")
        if kind is None:
            return None, False
        if kind not in FAULT_KINDS:
            valid = sorted(FAULT_KINDS)
            guess = difflib.get_close_matches(kind, valid, n=1)
            hint = f" (did you mean '{guess[0]}'?)" if guess else ""
            self.problem(kind_v, f"unknown fault '{kind}'{hint}; valid: {', '.join(valid)}")
            return None, False
        if delay is not None and kind != "slow-headers":
            self.problem(m["delay"], f"'delay' applies only to fault 'slow-headers', not '{kind}'")
            return None, False
        if kind == "slow-headers":
            seconds = delay if delay is not None else outer_delay
            if not seconds:
                self.problem(
                    v,
                    "fault 'slow-headers' needs a delay, as in "
                    "{kind: slow-headers, delay: 2s} (or the response's 'delay')",
                )
                return None, False
            return Fault(kind, delay=seconds), delay is None
        if kind == "drip":
            drip = drip or outer_drip
            if drip is None:
                self.problem(v, "fault 'drip' needs a 'drip: {chunk: N, every: T}'")
                return None, False
            return Fault(kind, drip=drip), False
        if kind in ("bandwidth", "slow-close"):
            key = "rate" if kind == "bandwidth" else "hold"
            example = (
                "{kind: bandwidth, rate: 10KiB/s}"
                if key == "rate"
                else "{kind: slow-close, hold: 2s}"
            )
            self.problem(v, f"fault '{kind}' needs '{key}', as in {example}")
            return None, False
        if kind in H2_FAULTS:
            return Fault(kind, error=default_error(kind)), False
        return Fault(kind, delay=delay or 0.0), False

    def fault_extras(self, m: dict[str, _V], kind: str | None) -> dict[str, object] | None:
        """`after`, `hold`, `rate` of a fault mapping, each only where its kind takes it."""
        out: dict[str, object] = {}
        takes = {
            **{"after": POSITIONED_FAULTS, "hold": {"slow-close"}, "rate": {"bandwidth"}},
            **{"error": H2_FAULTS, "graceful": {"goaway"}},
        }
        ok = True
        for key, kinds in takes.items():
            if key not in m:
                continue
            if kind is not None and kind not in kinds:
                self.problem(
                    m[key], f"'{key}' applies to fault {', '.join(sorted(kinds))}, not '{kind}'"
                )
                ok = False
                continue
            item = m[key]
            if key in ("error", "graceful"):
                value = self.h2_fault_value(item, key)
                ok = ok and value is not None
                out[key] = value
                continue
            if key == "after" and kind == "rst_stream" and item.value == "headers":
                out["after"] = AFTER_HEADERS  # the final HEADERS frame, then RST_STREAM
                continue
            if key == "hold":
                seconds = self.duration(item, "hold", cap=MAX_DELAY)
                ok = ok and seconds is not None
                out["hold"] = seconds
                continue
            try:
                raw = item.value if item.kind in ("str", "int") else None
                if raw is None:
                    raise ValueError(
                        f"'{key}' must be a string such as "
                        + ("'3 events'" if key == "after" else "'10KiB/s'")
                    )
                out[key] = parse_after(raw) if key == "after" else parse_rate(raw)
            except ValueError as exc:
                self.problem(item, str(exc))
                ok = False
        return out if ok else None

    def h2_fault_value(self, v: _V, key: str) -> int | bool | None:
        """`error: CANCEL` (an RFC 9113 §7 name, any case) or `graceful: true`."""
        if key == "graceful":
            if v.kind != "bool":
                self.problem(v, f"'graceful' must be true or false, got {_describe(v)}")
                return None
            return bool(v.value)
        name = self.string(v, "error")
        code = error_code(name) if name is not None else None
        if name is not None and code is None:
            guess = difflib.get_close_matches(name.upper(), list(ERROR_CODES), n=1)
            hint = f" (did you mean '{guess[0]}'?)" if guess else ""
            self.problem(v, f"unknown error '{name}'{hint}: {ERROR_HINT}")
        return code


def _fixed_body(body: Template | None, json: JsonTemplate | None) -> bytes | None:
    """The bytes of a template-free `body` or `json`, as the runtime will send them."""
    if body is not None and body.static is not None:
        return body.static.encode()
    return json.static_bytes if json is not None else None
