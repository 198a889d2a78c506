"""The aiohttp `expect100=True` rows of docs/clients.md, against a real listening server."""

from __future__ import annotations

import json
import shutil
import subprocess

import aiohttp
import pytest

# aiohttp's client has no expect timeout of its own: a withheld 100 is a wait until the client's
# deadline. Keep that deadline short; the assertion is on the outcome, not on the duration.
SHORT = aiohttp.ClientTimeout(total=0.5)


async def _post(url: str, timeout: aiohttp.ClientTimeout | None = None) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=timeout or aiohttp.ClientTimeout(total=10)) as session,
        session.post(url, data=b"hello", expect100=True) as response,
    ):
        return response.status, await response.text()


async def test_aiohttp_expect100_sends_the_body_after_the_100(server) -> None:
    status, text = await _post(server.url("/anything"))
    assert (status, json.loads(text)["body"]) == (200, "hello")


async def test_aiohttp_expect100_after_a_delayed_100(server) -> None:
    status, text = await _post(server.url("/anything?continue=50"))
    assert (status, json.loads(text)["body"]) == (200, "hello")


@pytest.mark.parametrize(
    ("path", "code"),
    [("/status/201?continue=reject", 417), ("/status/503", 503)],
)
async def test_aiohttp_expect100_returns_the_final_status(server, path: str, code: int) -> None:
    status, _ = await _post(server.url(path))
    assert status == code


@pytest.mark.parametrize("query", ["continue=withhold", "interim_mode=off"])
async def test_aiohttp_expect100_waits_for_a_withheld_100_until_its_own_timeout(
    server, query: str
) -> None:
    with pytest.raises(TimeoutError):
        await _post(server.url(f"/anything?{query}"), SHORT)


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-si", *args], capture_output=True, text=True, timeout=20)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_sends_the_body_after_its_expect_timeout_when_the_100_is_withheld(server) -> None:
    expect = ("-H", "Expect: 100-continue", "--expect100-timeout", "0.2", "-d", "hello")
    out = _curl(*expect, server.url("/anything?continue=withhold"))
    assert (out.returncode, out.stdout.splitlines()[0]) == (0, "HTTP/1.1 200 OK")
    assert json.loads(out.stdout.split("\n\n", 1)[1])["body"] == "hello"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_expects_100_on_its_own_for_a_large_body_and_gets_413_instead(
    server, tmp_path
) -> None:
    body = tmp_path / "big.bin"
    body.write_bytes(b"x" * (1024 * 1024 + 1))  # over curl's threshold and the server's limit
    out = _curl("--data-binary", f"@{body}", server.url("/anything"))
    statuses = [line for line in out.stdout.splitlines() if line.startswith("HTTP/")]
    assert (out.returncode, statuses) == (0, ["HTTP/1.1 413 Content Too Large"])
