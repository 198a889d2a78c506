"""The bundled OpenAI-compatible scenario (scenarios/openai.yaml) through the official `openai`
SDK pointed at mockstatus with `base_url`: streaming, non-streaming, retries on 429 and 500,
and what the SDK raises on each stream fault. The SDK's retry sleeps are patched (counted, not
slept), so no test waits.

Across SDK versions an error while iterating a stream is either wrapped (openai.APIConnectionError
/ APITimeoutError, newer SDKs) or the transport's own (httpx RemoteProtocolError / ReadTimeout,
1.x): both are accepted, by name, and docs/streams.md lists them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

openai = pytest.importorskip("openai")

SCENARIO = (Path(__file__).parent.parent / "scenarios" / "openai.yaml").read_text()
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def base_url(make_server) -> str:
    return make_server({"openai.yaml": SCENARIO}).url("/v1")


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The SDK's retry waits, recorded instead of slept."""
    import openai._base_client as base

    waits: list[float] = []
    monkeypatch.setattr(base.time, "sleep", waits.append)
    return waits


def client(base_url: str, **kwargs):
    return openai.OpenAI(base_url=base_url, api_key="any-key", **kwargs)


def chain(exc: BaseException) -> list[str]:
    names = []
    seen: BaseException | None = exc
    while seen is not None and len(names) < 10:
        names.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return names


def test_non_streaming(base_url: str) -> None:
    done = client(base_url).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert done.object == "chat.completion"
    assert done.choices[0].message.content == "Hello from mockstatus."
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.total_tokens == 13


def test_streaming(base_url: str) -> None:
    stream = client(base_url).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello from mockstatus."
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, None, None, "stop"]
    assert len({c.id for c in chunks}) == 1  # one completion id for the whole stream


def test_any_api_key_and_models(base_url: str) -> None:
    models = openai.OpenAI(base_url=base_url, api_key="sk-whatever").models.list()
    assert "fault-stall" in [m.id for m in models.data]


def test_429_is_retried_then_raised(base_url: str, sleeps: list[float]) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client(base_url, max_retries=2).chat.completions.create(
            model="fault-429", messages=MESSAGES
        )
    assert len(sleeps) == 2  # two retries, each after the server's retry-after-ms
    assert all(s == pytest.approx(0.01) for s in sleeps)
    err = info.value
    assert err.status_code == 429 and err.code == "rate_limit_exceeded"
    assert err.response.headers["x-ratelimit-remaining-requests"] == "0"


def test_500_is_retried_then_raised(base_url: str, sleeps: list[float]) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client(base_url, max_retries=3).chat.completions.create(
            model="fault-500", messages=MESSAGES
        )
    assert len(sleeps) == 3 and info.value.status_code == 500
    assert info.value.type == "server_error"


def test_error_event_mid_stream(base_url: str) -> None:
    stream = client(base_url, max_retries=0).chat.completions.create(
        model="fault-error-event", messages=MESSAGES, stream=True
    )
    got = []
    with pytest.raises(openai.APIError, match="fault-error-event") as info:
        for chunk in stream:
            got.append(chunk.choices[0].delta.content)
    assert got == ["", "Hello"]  # the chunks before the error event arrived
    assert not isinstance(info.value, openai.APIStatusError)  # the head said 200


def test_cut_after_3_events(base_url: str) -> None:
    stream = client(base_url, max_retries=0).chat.completions.create(
        model="fault-cut-after-3", messages=MESSAGES, stream=True
    )
    got = []
    with pytest.raises(Exception) as info:  # the class depends on the SDK version
        for chunk in stream:
            got.append(chunk.choices[0].delta.content)
    assert got == ["", "Hello", "Hello"]
    names = chain(info.value)
    assert "RemoteProtocolError" in names, names
    assert names[0] in ("APIConnectionError", "RemoteProtocolError"), names


def test_stall(base_url: str) -> None:
    stream = client(base_url, max_retries=0, timeout=0.5).chat.completions.create(
        model="fault-stall", messages=MESSAGES, stream=True
    )
    got = []
    with pytest.raises(Exception) as info:  # the class depends on the SDK version
        for chunk in stream:
            got.append(chunk.choices[0].delta.content)
    assert got == ["", "Hello"]
    names = chain(info.value)
    assert "ReadTimeout" in names, names
    assert names[0] in ("APITimeoutError", "ReadTimeout"), names


def test_plain_faults(base_url: str, sleeps: list[float]) -> None:
    with pytest.raises(openai.APIConnectionError):  # a truncated body, retried once
        client(base_url, max_retries=1).chat.completions.create(
            model="fault-cut-after-3", messages=MESSAGES
        )
    with pytest.raises(openai.APITimeoutError):
        client(base_url, max_retries=1, timeout=0.5).chat.completions.create(
            model="fault-stall", messages=MESSAGES
        )
    assert len(sleeps) == 2
