"""ReDoS (issue 10, item 2) through a real server: the issue's catastrophic patterns on the path,
a header, the query and the body, fed inputs that take a backtracking engine hours, interleaved
with health checks on the same connection. Work is counted, not timed: every user regex runs on
RE2 (SafeRegex), once per request and rule, on at most its cap of bytes; longer inputs are never
handed to an engine at all."""

from __future__ import annotations

import pytest

from mockstatus.limits import MAX_REGEX_BODY, MAX_REGEX_INPUT
from mockstatus.scenarios.safe_regex import SafeRegex
from tests import rawhttp

REDOS = """
name: redos
routes:
  - name: path
    match: {path: "~/redos/(a+)+$"}
    respond: {status: 201}
  - name: header
    match: {path: /h, headers: {x-name: "~^(a+)+$"}}
    respond: {status: 202}
  - name: query
    match: {path: /q, query: {name: "~^(a|aa)+$"}}
    respond: {status: 203}
  - name: body
    match: {path: /b, method: POST, body: {regex: "^(a+)+$"}}
    respond: {status: 204}
"""
EVIL = "a" * 36 + "!"  # 9 s on Python's engine at 36 bytes, doubling with each extra "a"


@pytest.fixture
def regex_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(pattern, input bytes) of each regex the engine actually ran."""
    runs: list[tuple[str, int]] = []
    for name in ("search", "fullmatch_groups"):
        original = getattr(SafeRegex, name)

        def counted(self, text, _original=original):
            size = len(text.encode("utf-8", "surrogatepass"))
            if size <= self.cap:
                runs.append((self.pattern, size))
            return _original(self, text)

        monkeypatch.setattr(SafeRegex, name, counted)
    original_bytes = SafeRegex.search_bytes

    def counted_bytes(self, data):
        if len(data) <= self.cap:
            runs.append((self.pattern, len(data)))
        return original_bytes(self, data)

    monkeypatch.setattr(SafeRegex, "search_bytes", counted_bytes)
    return runs


def cases() -> list[tuple[str, str, dict[str, str], bytes, int]]:
    """(method, target, headers, body, status): evil inputs that must not match, and the
    longest matching inputs within the caps, which must."""
    near = MAX_REGEX_INPUT - 64
    return [
        ("GET", "/redos/" + EVIL, {}, b"", 404),
        ("GET", "/redos/" + "a" * near + "!", {}, b"", 404),
        ("GET", "/redos/" + "a" * near, {}, b"", 201),
        ("GET", "/h", {"X-Name": EVIL * 100}, b"", 404),
        ("GET", "/h", {"X-Name": "a" * near}, b"", 202),
        ("GET", "/q?name=" + EVIL * 100, {}, b"", 404),
        ("GET", "/q?name=" + "a" * near, {}, b"", 203),
        ("POST", "/b", {}, b"a" * (MAX_REGEX_BODY - 1) + b"!", 404),
        ("POST", "/b", {}, b"a" * MAX_REGEX_BODY, 204),
        ("POST", "/b", {}, b"a" * (MAX_REGEX_BODY + 1), 404),  # over the cap: never run
    ]


def test_catastrophic_patterns_answer_every_request_with_bounded_work(
    make_server, regex_runs
) -> None:
    server = make_server({"redos.yaml": REDOS})
    requests = 0
    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        for _ in range(5):
            for method, target, headers, body, status in cases():
                sock.sendall(rawhttp.build(method, target, headers, body))
                assert reader.read_response(method)[1].status == status, target[:40]
                sock.sendall(rawhttp.build("GET", "/__mockstatus/health"))
                assert reader.read_response()[1].status == 200
                requests += 1
    assert requests == 50
    # At most two runs a request to match: the regex path (tried on every path) and the one rule
    # of the route whose path matched; a request that matches nothing runs them once more to
    # explain why (its near misses). Each run on no more than its cap; admin requests run none.
    assert 0 < len(regex_runs) <= 3 * requests
    for pattern, size in regex_runs:
        cap = MAX_REGEX_BODY if pattern == "^(a+)+$" and size > MAX_REGEX_INPUT else MAX_REGEX_INPUT
        assert size <= cap, (pattern, size)
    patterns = {p for p, _ in regex_runs}
    assert patterns == {"/redos/(a+)+$", "^(a+)+$", "^(a|aa)+$"}
