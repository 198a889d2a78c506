"""`mockstatus proxy --record DIR`: what passes through becomes scenario YAML (issue 14).

One scenario file per recorded route (method + path, and the query when there is one), so each
request rewrites one small file; file names sort the query-specific routes of a path before the
plain one. Responses use `verbatim: true`, so `mockstatus serve --scenarios DIR` replays the
recorded status, headers and body exactly (a fresh `Date` aside). Everything is deterministic:
the same traffic writes the same bytes.

- secrets: header values and JSON keys (at any depth) named in `redact` become `REDACTED`;
- bodies above RECORD_SIDE_FILE bytes, or not UTF-8, go to `bodies/<sha256>.bin` (`file:`);
- every file is written to a temporary name and renamed (atomic: a reader never sees half);
- `templates`: numeric and UUID path segments become `{id}`, `{id2}`, ...;
- `sequence`: repeated calls become a `sequence` (consecutive equal answers merged with
  `times`); otherwise the latest answer is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mockstatus import codes
from mockstatus.http_syntax import FIELD_CONTROL, FRAMING_HEADERS
from mockstatus.limits import MAX_RECORD_BODY, MAX_RECORD_ROUTES, RECORD_SIDE_FILE
from mockstatus.types import RequestFacts
from mockstatus.wire.proxy import Outcome

DEFAULT_REDACT = frozenset({"authorization", "cookie", "set-cookie", "x-api-key"})
REDACTED = "REDACTED"
MAX_STEPS = 100  # recorded answers per route with --record-sequence; later ones are dropped
INLINE_BUDGET = 512 * 1024  # inline body bytes per file; beyond, bodies go to side files too
_NUMERIC = re.compile(r"[0-9]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_MARKER = re.compile(r"\{id[0-9]*\}")  # a segment --record-templates generalised
_SLUG = re.compile(r"[^A-Za-z0-9_]+")
_NOT_RECORDED = FRAMING_HEADERS | {"date"}  # the replaying server writes its own


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(slots=True)
class _Route:
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    answers: list[Answer] = field(default_factory=list)


class Recorder:
    def __init__(
        self,
        folder: Path,
        *,
        upstream: str,
        templates: bool = False,
        sequence: bool = False,
        redact: frozenset[str] = frozenset(),
    ) -> None:
        self.folder = folder
        self.upstream = upstream
        self.templates = templates
        self.sequence = sequence
        self.redact = DEFAULT_REDACT | {name.lower() for name in redact}
        self.routes: dict[str, _Route] = {}  # by file stem
        self.skipped = 0  # answers not recorded (too large, too many routes)
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, facts: RequestFacts, query_string: str, outcome: Outcome) -> None:
        """Record one forwarded answer (called after it was relayed in full)."""
        if outcome.status is None or outcome.body is None or outcome.error is not None:
            return
        path = self._path(facts.path)
        query = tuple(sorted(dict(_query_pairs(facts)).items())) if query_string else ()
        stem = _stem(facts.method, path, query)
        route = self.routes.get(stem)
        if route is None:
            if len(self.routes) >= MAX_RECORD_ROUTES:
                self.skipped += 1
                return
            route = self.routes[stem] = _Route(facts.method, path, query)
        answer = Answer(
            outcome.status,
            outcome.reason,
            tuple(self._header(n, v) for n, v in outcome.headers if n.lower() not in _NOT_RECORDED),
            self._body(bytes(outcome.body)),
        )
        if self.sequence:
            if len(route.answers) >= MAX_STEPS:
                self.skipped += 1
                return
            route.answers.append(answer)
        else:
            route.answers = [answer]
        self._write(stem, route)

    # --- what is recorded --------------------------------------------------------------------

    def _path(self, path: str) -> str:
        if not self.templates:
            return path
        out, n = [], 0
        for segment in path.split("/"):
            if _NUMERIC.fullmatch(segment) or _UUID.fullmatch(segment):
                n += 1
                out.append("{id}" if n == 1 else f"{{id{n}}}")
            else:
                out.append(segment)
        return "/".join(out)

    def _header(self, name: str, value: str) -> tuple[str, str]:
        return (name, REDACTED if name.lower() in self.redact else value)

    def _body(self, body: bytes) -> bytes:
        """JSON fields named in `redact` hidden at any depth; any other body as it came."""
        stripped = body.lstrip()
        if stripped[:1] not in (b"{", b"["):
            return body
        try:
            doc = json.loads(body)
            changed = _redact_json(doc, self.redact)
            return json.dumps(doc, ensure_ascii=False).encode() if changed else body
        except RecursionError:  # nested past the stack: its fields cannot be checked, so none kept
            return REDACTED.encode()
        except ValueError:
            return body

    # --- files -------------------------------------------------------------------------------

    def _write(self, stem: str, route: _Route) -> None:
        budget = [INLINE_BUDGET]
        steps = [self._respond(a, budget) for a in route.answers]
        match: dict[str, Any] = {"method": route.method, "path": _path_pattern(route.path)}
        if route.query:
            match["query"] = {k: _value_pattern(v) for k, v in route.query}
        entry: dict[str, Any] = {"name": "recorded", "match": match}
        if len(steps) == 1:
            entry["respond"] = steps[0]
        else:
            merged: list[dict[str, Any]] = []
            for step in steps:
                if merged and {k: v for k, v in merged[-1].items() if k != "times"} == step:
                    merged[-1]["times"] = merged[-1].get("times", 1) + 1
                else:
                    merged.append(dict(step))
            entry["sequence"] = merged
        doc = {
            "name": stem,
            "description": f"recorded from {self.upstream}: {route.method} {route.path}",
            "routes": [entry],
        }
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1 << 30)
        _atomic_write(self.folder / f"{stem}.yaml", text.encode("utf-8"))

    def _respond(self, answer: Answer, budget: list[int]) -> dict[str, Any]:
        out: dict[str, Any] = {"verbatim": True, "status": answer.status}
        if answer.reason and answer.reason != _reason(answer.status):
            out["reason"] = answer.reason
        headers: dict[str, Any] = {}
        names: dict[str, str] = {}  # lower-case → as first written (YAML keys must be unique)
        for name, value in answer.headers:
            key = names.setdefault(name.lower(), name)
            if key in headers:
                previous = headers[key]
                headers[key] = (
                    [*previous, value] if isinstance(previous, list) else [previous, value]
                )
            else:
                headers[key] = value
        if headers:
            out["headers"] = headers
        body = answer.body
        if body:
            text = _inline_text(body)
            if text is not None and len(body) <= min(RECORD_SIDE_FILE, budget[0]):
                budget[0] -= len(body)
                out["body"] = text
            elif len(body) <= MAX_RECORD_BODY:
                out["file"] = self._side_file(body)
        return out

    def _side_file(self, body: bytes) -> str:
        relative = f"bodies/{hashlib.sha256(body).hexdigest()[:32]}.bin"
        target = self.folder / relative
        if not target.exists():  # named by content: an existing one holds these bytes
            target.parent.mkdir(exist_ok=True)
            _atomic_write(target, body)
        return relative


def _query_pairs(facts: RequestFacts) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for key, value in facts.query.items():
        seen.setdefault(key, value)  # the matcher compares the first value
    return list(seen.items())


def _stem(method: str, path: str, query: tuple[tuple[str, str], ...]) -> str:
    """A file and scenario name that sorts by path, then method, query-specific routes before
    the plain one (a route without `query` matches every query)."""
    key = json.dumps([method, path, query]).encode()
    digest = hashlib.sha256(key).hexdigest()[:10]
    slug = _SLUG.sub("-", path).strip("-")[:60] or "root"
    return f"{slug}.{method.lower()}.{'a' if query else 'b'}{digest}"


def _reason(status: int) -> str:
    try:
        return codes.lookup(status).reason
    except KeyError:
        return ""


def _path_pattern(path: str) -> str:
    """The recorded path as a `match.path`. A literal segment holding what the pattern syntax
    reads (`{`, `}`, `*`, a leading `~`) makes the whole path an escaped regex; the `{id}`
    segments of --record-templates stay parameters."""
    segments = path.split("/")
    if not path.startswith("~") and not any(
        c in s for s in segments if not _MARKER.fullmatch(s) for c in "{}*"
    ):
        return path
    parts = [f"(?P<{s[1:-1]}>[^/]+)" if _MARKER.fullmatch(s) else re.escape(s) for s in segments]
    return "~^" + "/".join(parts) + "$"


def _value_pattern(value: str) -> str:
    return "~^" + re.escape(value) + "$" if value.startswith("~") else value


def _inline_text(body: bytes) -> str | None:
    """The body as YAML text when it round-trips exactly (UTF-8, no control characters YAML
    would refuse); None sends it to a side file."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if FIELD_CONTROL.search(text.replace("\n", "").replace("\r", "").replace("\t", "")):
        return None
    if "\r" in text or "\ufeff" in text:
        return None  # YAML folds CR line breaks: keep the bytes exact in a side file
    return text


def _redact_json(doc: Any, names: frozenset[str]) -> bool:
    changed = False
    stack = [doc]
    while stack:  # iterative: a deep document does not exhaust the stack
        node = stack.pop()
        if isinstance(node, dict):
            for key in node:
                if isinstance(key, str) and key.lower() in names:
                    node[key] = REDACTED
                    changed = True
                else:
                    stack.append(node[key])
        elif isinstance(node, list):
            stack.extend(node)
    return changed


def _atomic_write(target: Path, data: bytes) -> None:
    """Write to a hidden temporary name (not `*.yaml`: a loader never reads it), then rename:
    a reader sees the old file or the new one, never half. No fsync: this runs on the event
    loop after every answer, and a recording promises consistency, not durability on a crash."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
