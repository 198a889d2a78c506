"""The retry conformance pack: popular retry clients against scenarios/retry-pack.yaml.

Each client gets one retry at most, and its sleep is patched to RECORD the wait it asked for
(no test waits, not even for a far-future Retry-After). The server counts the attempts (the
journal, per session). The observed results must equal tests/retry_pack_results.json, from which
scripts/gen-retry-table writes the table in docs/rate-limits.md (test_retry_pack_table.py), so
the table cannot say what the clients do not do. After a client upgrade that changes a result:

    MOCKSTATUS_UPDATE_RETRY_PACK=1 pytest tests/test_retry_pack.py && scripts/gen-retry-table
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import urllib3
import urllib3.util.retry
from requests.adapters import HTTPAdapter

from mockstatus.app import bundled_scenarios

RESULTS = Path(__file__).parent / "retry_pack_results.json"
CASES = (
    "seconds",
    "zero",
    "fractional",
    "past-date",
    "far-future",
    "garbage",
    "disagree",
    "retry-after-ms",
    "no-hint",
)
DAY = 86_400.0
TIMEOUT = 5.0


def shown(seconds: float) -> str:
    """A recorded wait, written stably: waits computed from a date against the real clock are
    only meaningful to the second, and anything over a day is 'far'."""
    if seconds > DAY:
        return "> 1 day"
    if seconds < 0:  # a date in the past, handed to the timer as is (ky)
        return "< 0"
    return f"{round(seconds, 3):g}"


class Recorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.waits.append(seconds)


Runner = Callable[[str, str, Recorder, pytest.MonkeyPatch], str]  # → outcome


def _retry(**kw: Any) -> urllib3.util.Retry:
    return urllib3.util.Retry(
        total=1,
        status_forcelist=[429, 503],
        backoff_factor=0,
        respect_retry_after_header=True,
        raise_on_status=False,
        **kw,
    )


def run_urllib3(url: str, session: str, rec: Recorder, mp: pytest.MonkeyPatch) -> str:
    fake = SimpleNamespace(sleep=rec.sleep, time=time.time, monotonic=time.monotonic)
    mp.setattr(urllib3.util.retry, "time", fake)
    with urllib3.PoolManager(retries=_retry(), timeout=TIMEOUT) as pool:
        resp = pool.request("GET", url, headers={"X-Mockstatus-Session": session})
    return str(resp.status)


def run_requests(url: str, session: str, rec: Recorder, mp: pytest.MonkeyPatch) -> str:
    fake = SimpleNamespace(sleep=rec.sleep, time=time.time, monotonic=time.monotonic)
    mp.setattr(urllib3.util.retry, "time", fake)
    with requests.Session() as s:
        s.mount("http://", HTTPAdapter(max_retries=_retry()))
        resp = s.get(url, headers={"X-Mockstatus-Session": session}, timeout=TIMEOUT)
    return str(resp.status_code)


def run_httpx_retries(url: str, session: str, rec: Recorder, mp: pytest.MonkeyPatch) -> str:
    import httpx
    import httpx_retries.retry
    from httpx_retries import Retry, RetryTransport

    mp.setattr(httpx_retries.retry, "time", SimpleNamespace(sleep=rec.sleep, time=time.time))
    retry = Retry(total=1, status_forcelist=[429, 503], backoff_factor=0.5, backoff_jitter=0)
    with httpx.Client(transport=RetryTransport(retry=retry), timeout=TIMEOUT) as client:
        resp = client.get(url, headers={"X-Mockstatus-Session": session})
    return str(resp.status_code)


def retry_after_seconds(value: str | None) -> float | None:
    """The usual tenacity recipe's reading of Retry-After: delay-seconds (RFC 9110 §10.2.3,
    also accepting a fraction), else an HTTP-date, else None."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def run_tenacity(url: str, session: str, rec: Recorder, mp: pytest.MonkeyPatch) -> str:
    import tenacity

    backoff = tenacity.wait_exponential(multiplier=0.5, max=30)

    def wait_retry_after(state: tenacity.RetryCallState) -> float:
        resp = state.outcome.result() if state.outcome is not None else None
        seconds = retry_after_seconds(resp.headers.get("Retry-After")) if resp is not None else None
        return seconds if seconds is not None else backoff(state)

    retrying = tenacity.Retrying(
        sleep=rec.sleep,
        stop=tenacity.stop_after_attempt(2),
        wait=wait_retry_after,
        retry=tenacity.retry_if_result(lambda r: r.status_code in (429, 503)),
        retry_error_callback=lambda state: state.outcome.result(),
    )
    resp = retrying(requests.get, url, headers={"X-Mockstatus-Session": session}, timeout=TIMEOUT)
    return str(resp.status_code)


def run_aiohttp_retry(url: str, session: str, rec: Recorder, mp: pytest.MonkeyPatch) -> str:
    import aiohttp
    import aiohttp_retry.client
    from aiohttp_retry import ExponentialRetry, RetryClient

    mp.setattr(aiohttp_retry.client, "asyncio", SimpleNamespace(sleep=rec.asleep))

    async def go() -> str:
        options = ExponentialRetry(attempts=2, statuses={429, 503})
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with RetryClient(retry_options=options, timeout=timeout) as client:
            async with client.get(url, headers={"X-Mockstatus-Session": session}) as resp:
                return str(resp.status)

    return asyncio.run(asyncio.wait_for(go(), 2 * TIMEOUT))


def run_openai(url: str, session: str, rec: Recorder, mp: pytest.MonkeyPatch) -> str:
    import openai
    import openai._base_client as base

    mp.setattr(base, "time", SimpleNamespace(sleep=rec.sleep, time=time.time))
    mp.setattr(base, "random", lambda: 0.0)  # no jitter: the backoff is exactly 0.5 s
    root, _, path = url.partition("/retry-pack/")
    client = openai.OpenAI(api_key="test", base_url=root, max_retries=1, timeout=TIMEOUT)
    try:
        client.get(
            "/retry-pack/" + path,
            cast_to=object,
            options={"headers": {"X-Mockstatus-Session": session}},
        )
    except openai.APIStatusError as exc:
        return str(exc.status_code)
    finally:
        client.close()
    return "200"


NODE_DIR = Path(__file__).parent / "node"  # package.json pins ky; .ci/run runs npm ci there
NODE_TIMEOUT = 20.0


def node_package_version(package: str) -> str:
    """The installed version of a Node package in tests/node, or skip saying what is missing."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed (.ci/run installs nodejs)")
    manifest = NODE_DIR / "node_modules" / package / "package.json"
    if not manifest.is_file():
        pytest.skip(f"{package} is not installed: run `npm ci --prefix tests/node` (.ci/run does)")
    return str(json.loads(manifest.read_text())["version"])


def run_ky(url: str, session: str, rec: Recorder, mp: pytest.MonkeyPatch) -> str:
    """Node fetch through ky, in tests/node/ky_retry.mjs: it wraps the setTimeout ky sleeps
    with, records the milliseconds asked for and fires at once."""
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, str(NODE_DIR / "ky_retry.mjs"), url, session],
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=True,
    )
    result = json.loads(done.stdout)
    rec.waits.extend(ms / 1000 for ms in result["waits_ms"])
    return str(result["outcome"])


NODE_CLIENTS = {"ky"}  # versions from tests/node/node_modules, not Python metadata

CLIENTS: dict[str, tuple[str, Runner]] = {
    "urllib3": ("urllib3", run_urllib3),
    "requests": ("requests", run_requests),
    "httpx-retries": ("httpx-retries", run_httpx_retries),
    "tenacity": ("tenacity", run_tenacity),
    "aiohttp-retry": ("aiohttp-retry", run_aiohttp_retry),
    "openai": ("openai", run_openai),
    "ky": ("ky", run_ky),
}


def installed_version(package: str) -> str:
    """The client's version, or skip when it (or its runtime) is not installed."""
    if package in NODE_CLIENTS:
        return node_package_version(package)
    pytest.importorskip(package.replace("-", "_"))
    return version(package)


def attempts(server: Any, session: str) -> int:
    url = server.url(f"/__mockstatus/requests?session={session}")
    with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
        return int(json.load(resp)["count"])


@pytest.fixture(scope="module")
def observed() -> dict[str, Any]:
    return {}


@pytest.fixture
def pack(make_server):
    return make_server({"retry-pack.yaml": (bundled_scenarios() / "retry-pack.yaml").read_text()})


@pytest.mark.parametrize("client", CLIENTS)
def test_client_against_the_pack(pack, client, monkeypatch, observed):
    package, run = CLIENTS[client]
    installed = installed_version(package)
    results: dict[str, Any] = {}
    for case in CASES:
        rec = Recorder()
        session = f"{client}-{case}"
        with monkeypatch.context() as mp:
            try:
                outcome = run(pack.url(f"/retry-pack/{case}"), session, rec, mp)
            except Exception as exc:  # the client's own reaction is the result
                outcome = f"raises {type(exc).__name__}"
        results[case] = {
            "attempts": attempts(pack, session),
            "waits": [shown(w) for w in rec.waits],
            "outcome": outcome,
        }
    observed[client] = {"version": installed, "cases": results}
    recorded = json.loads(RESULTS.read_text())["clients"].get(client, {})
    expected = recorded.get("cases")
    if os.environ.get("MOCKSTATUS_UPDATE_RETRY_PACK"):
        return
    if results != expected and installed != recorded.get("version"):
        # The table documents the recorded release; another release (the lowest-versions CI
        # run, say) may differ. Same release, different behaviour: that is a failure.
        pytest.skip(
            f"{package} {installed} behaves differently from {recorded.get('version')}, the "
            "release the docs table was recorded with"
        )
    assert results == expected, f"{client} changed: rerun with MOCKSTATUS_UPDATE_RETRY_PACK=1"


def test_shown_writes_clock_dependent_waits_stably() -> None:
    # ky hands a past date's (negative, clock-dependent) milliseconds to the timer as they are.
    assert [shown(w) for w in (-376_081_069.53, 0.0, 1.5, 0.30000000000000004)] == [
        "< 0",
        "0",
        "1.5",
        "0.3",
    ]
    assert shown(2_147_483.647) == "> 1 day"  # ky's cap, Node's largest timer (2**31 - 1 ms)


def test_zz_update_results(observed):
    """With MOCKSTATUS_UPDATE_RETRY_PACK=1, write what was observed (runs last in this file)."""
    if not os.environ.get("MOCKSTATUS_UPDATE_RETRY_PACK"):
        pytest.skip("set MOCKSTATUS_UPDATE_RETRY_PACK=1 to rewrite tests/retry_pack_results.json")
    assert set(observed) == set(CLIENTS), "run the whole file to update"
    doc = {"cases": list(CASES), "clients": observed}
    RESULTS.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
