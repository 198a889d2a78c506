"""scenarios/openai.yaml's rate limits, header for header against OpenAI's documentation
(https://platform.openai.com/docs/guides/rate-limits, read 2026-12-01): the requests and tokens
triples on every normal answer, and a 429 with OpenAI's error shape when a quota runs out."""

from __future__ import annotations

import json

from mockstatus.app import bundled_scenarios
from mockstatus.types import ManualClock
from tests import rawhttp

BODY = json.dumps({"model": "mockstatus-chat", "messages": []}).encode()


def post(sock, reader, key: str = "Bearer sk-a") -> rawhttp.RawResponse:
    headers = {"Authorization": key, "Content-Type": "application/json"}
    sock.sendall(rawhttp.build("POST", "/v1/chat/completions", headers, BODY))
    return reader.read_response()[1]


def openai_fields(r: rawhttp.RawResponse) -> list[tuple[str, str]]:
    return [(n, v) for n, v in r.headers if n.lower().startswith("x-ratelimit")]


def test_openai_limits_header_for_header_and_the_429(make_server):
    clock = ManualClock()
    text = (bundled_scenarios() / "openai.yaml").read_text()
    server = make_server({"openai.yaml": text}, clock=clock)
    with rawhttp.connect(server.port) as sock:
        reader = rawhttp.Reader(sock)
        first = post(sock, reader)
        assert first.status == 200
        assert openai_fields(first) == [
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-remaining-requests", "499"),
            ("x-ratelimit-reset-requests", "1m0s"),
            ("x-ratelimit-limit-tokens", "200000"),
            ("x-ratelimit-remaining-tokens", "199987"),  # 13 tokens a call
            ("x-ratelimit-reset-tokens", "1s"),  # 13 tokens back at 200000/60 per second
        ]
        clock.advance(15)
        for _ in range(499):
            assert post(sock, reader).status == 200
        refused = post(sock, reader)
        assert post(sock, reader, "Bearer sk-b").status == 200  # another key, its own quota
    assert refused.status == 429
    assert refused.header("Retry-After") == "45"
    assert refused.header("retry-after-ms") == "45000"
    assert openai_fields(refused)[:3] == [
        ("x-ratelimit-limit-requests", "500"),
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "45s"),
    ]
    assert json.loads(refused.body) == {
        "error": {
            "message": "Rate limit reached for mockstatus-chat in organization org-mockstatus "
            "on requests per min: Limit 500, Remaining 0. Please try again in 45s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
