"""The pytest plugin, used the way a project uses it: inner test files run by `pytester` with the
in-process server, under pytest-xdist, and against an external server given by MOCKSTATUS_URL
(a BackgroundServer standing in for the CI container). Also runs examples/ and
tests/test_external.py, so neither goes stale."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from pathlib import Path

import httpcore  # noqa: F401  (see below)
import httpx
import pytest

# The inner runs are in process: pytester drops the modules they imported first. httpx imports
# httpcore lazily and keeps a map of its exception classes, so httpcore must be imported out here,
# or httpx's errors in later tests stop being mapped to httpx.TransportError.

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
# Not imported from the plugin: the inner runs import it, and pytest only rewrites the asserts of
# a plugin it imports itself.
URL_ENV = "MOCKSTATUS_URL"
TOKEN_ENV = "MOCKSTATUS_ADMIN_TOKEN"
INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
{extra}
"""

# The inner runs need none of these; hypothesis' plugin alone costs about a second per run.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def plugin_args() -> list[str]:
    """`-p mockstatus.pytest_plugin` until the pytest11 entry point is installed; then the plugin
    loads itself, and naming it again would register it twice."""
    for ep in importlib.metadata.entry_points(group="pytest11"):
        if ep.value == "mockstatus.pytest_plugin":
            return []
    return ["-p", "mockstatus.pytest_plugin"]


@pytest.fixture
def run(pytester, monkeypatch):
    """Run the inner tests in process (an in-process mockstatus server unless a test sets
    MOCKSTATUS_URL)."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(TOKEN_ENV, raising=False)

    def run_inner(*args: str, ini: str = ""):
        pytester.makeini(INI.format(extra=ini))
        return pytester.runpytest(*plugin_args(), *QUIET_PLUGINS, *args)

    return run_inner


SEQ = '''
SEQ = """
name: seq
routes:
  - name: r
    match: {path: /seq}
    sequence:
      - {status: 503, headers: {Retry-After: "1"}, times: 2}
      - {status: 200}
"""
'''

BASICS = (
    """
import asyncio
import datetime
import threading

import httpx
import pytest

from mockstatus.pytest_plugin import ScenarioRejected, WaitTimeout
"""
    + SEQ
    + '''

OUTAGE = """
routes:
  - name: api
    match: {path: /api}
    outage:
      - {start: 10s, duration: 20s}
    respond: {status: 200}
"""


def statuses(url, n, headers=None):
    return [httpx.get(url, headers=headers).status_code for _ in range(n)]


def test_01_load_and_journal(mockstatus):
    assert not mockstatus.external
    assert mockstatus.load(SEQ) == "seq"
    assert statuses(mockstatus.url("/seq"), 3) == [503, 503, 200]
    entries = mockstatus.requests(route="r")
    assert [e["status"] for e in entries] == [503, 503, 200]
    assert {e["scenario"] for e in entries} == {"seq"}
    assert mockstatus.requests(status=200, limit=1)[0]["seq"] == entries[-1]["seq"]
    assert mockstatus.requests(since=entries[0]["seq"], path="/seq") == entries[1:]


def test_02_every_test_starts_clean(mockstatus):
    assert mockstatus.requests() == []
    assert httpx.get(mockstatus.url("/seq")).status_code == 404  # test_01's scenario is gone
    assert mockstatus.scenarios() == []


def test_03_dicts_files_and_names(mockstatus, tmp_path):
    name = mockstatus.load({"routes": [{"match": {"path": "/d"}, "respond": {"status": 202}}]})
    assert name.startswith("test_03_dicts_files_and_names-")
    assert httpx.get(mockstatus.url("d")).status_code == 202
    (tmp_path / "bodies").mkdir()
    (tmp_path / "bodies" / "x.json").write_text('{"from": "file"}')
    path = tmp_path / "from-file.yaml"
    path.write_text("routes:\\n  - match: {path: /file}\\n    respond: {status: 200, file: bodies/x.json}\\n")
    assert mockstatus.load(path) == "from-file"
    assert httpx.get(mockstatus.url("/file")).json() == {"from": "file"}
    assert mockstatus.load(str(path), name="again") == "again"
    assert mockstatus.load(SEQ, name="renamed") == "renamed"
    assert sorted(s["name"] for s in mockstatus.scenarios()) == sorted([name, "again", "from-file", "renamed"])
    mockstatus.unload("renamed")
    assert "renamed" not in [s["name"] for s in mockstatus.scenarios()]


def test_04_rejected_scenarios_list_their_problems(mockstatus, tmp_path):
    bad = "routes:\\n  - match: {pth: /x}\\n    respond: {status: 200}\\n"
    with pytest.raises(ScenarioRejected) as info:
        mockstatus.load(bad, name="bad")
    assert info.value.problems[0].startswith("<upload:bad>:2:")
    assert "did you mean 'path'" in str(info.value)
    path = tmp_path / "broken.yaml"
    path.write_text(bad)
    with pytest.raises(ScenarioRejected) as info:
        mockstatus.load(path)
    assert info.value.problems[0].startswith(f"{path}:2:")
    with pytest.raises(FileNotFoundError):
        mockstatus.load("missing.yaml")


def test_05_the_clock_moves_outages_without_sleeping(mockstatus):
    mockstatus.load(OUTAGE)
    url = mockstatus.url("/api")
    assert httpx.get(url).status_code == 200
    mockstatus.clock.advance(10)
    down = httpx.get(url)
    assert down.status_code == 503 and down.headers["Retry-After"] == "20"
    mockstatus.clock.advance(datetime.timedelta(seconds=20))
    assert httpx.get(url).status_code == 200
    times = [e["time"] for e in mockstatus.requests()]
    assert [b - a for a, b in zip(times, times[1:])] == [10.0, 20.0]
    assert mockstatus.clock.time() == times[-1]
    with pytest.raises(ValueError):
        mockstatus.clock.advance(-1)


def test_06_sessions_are_isolated(mockstatus):
    mockstatus.load(SEQ)
    a, b = mockstatus.session("a"), mockstatus.session()
    assert a.headers == {"X-Mockstatus-Session": "a"} and b.id != "a"
    assert statuses(a.url("/seq"), 3, a.headers) == [503, 503, 200]
    assert statuses(b.url("/seq"), 1, b.headers) == [503]
    assert [e["status"] for e in a.requests()] == [503, 503, 200]
    assert [e["session"] for e in b.requests()] == [b.id]
    a.reset()
    assert a.requests() == [] and len(b.requests()) == 1
    assert statuses(a.url("/seq"), 1, a.headers) == [503]


def test_07_reset_keeps_this_tests_scenarios(mockstatus):
    mockstatus.load(SEQ)
    assert statuses(mockstatus.url("/seq"), 3) == [503, 503, 200]
    mockstatus.reset()
    assert mockstatus.requests() == []
    assert statuses(mockstatus.url("/seq"), 1) == [503]


def test_08_wait_for_requests_from_another_thread(mockstatus):
    thread = threading.Thread(target=httpx.get, args=(mockstatus.url("/status/202"),))
    thread.start()
    got = mockstatus.wait_for(1, path="/status/202", timeout=10)
    thread.join(10)
    assert [e["status"] for e in got] == [202]
    with pytest.raises(WaitTimeout) as info:
        mockstatus.wait_for(2, path="/status/202", timeout=0)
    assert len(info.value.requests) == 1 and "1 arrived" in str(info.value)


@pytest.mark.asyncio
async def test_09_async_tests_use_the_same_fixture(mockstatus):
    async with httpx.AsyncClient() as client:
        task = asyncio.create_task(client.get(mockstatus.url("/status/418")))
        got = await mockstatus.wait_for_async(1, path="/status/418", timeout=10)
        response = await task
    assert response.status_code == 418 and got[0]["status"] == 418
    mockstatus.clock.advance(1)
    assert len(mockstatus.requests()) == 1


def test_10_unknown_filters_and_admin_extras(mockstatus):
    with pytest.raises(TypeError, match="unknown journal filter"):
        mockstatus.requests(rout="r")
    assert mockstatus.catalog(503)["headers"][1] == ["Retry-After", "120"]
    assert "# TYPE mockstatus_requests_total counter" in mockstatus.metrics()
    assert mockstatus.clock.controllable
'''
)


def test_basics_in_process(run, pytester):
    pytester.makepyfile(test_basics=BASICS)
    result = run()
    result.assert_outcomes(passed=10)


def test_report_header_names_an_external_server(run, pytester, server, monkeypatch):
    monkeypatch.setenv(URL_ENV, server.base_url)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = run()
    result.stdout.fnmatch_lines([f"mockstatus: external server {server.base_url} ({URL_ENV})"])


# --- configuration -----------------------------------------------------------------------------


def test_a_scenarios_folder_and_a_reseeded_random_source(run, pytester):
    folder = pytester.mkdir("scenarios")
    (folder / "seq.yaml").write_text(SEQ.split('"""')[1])
    pytester.makepyfile(
        test_folder="""
import json
from pathlib import Path

import httpx


def picks(mockstatus):
    with httpx.Client() as client:
        return [client.get(mockstatus.url("/status/200,503")).status_code for _ in range(30)]


def test_a(mockstatus):
    assert httpx.get(mockstatus.url("/seq")).status_code == 503
    mockstatus.unload("seq")  # a folder scenario: hidden for this test only
    assert httpx.get(mockstatus.url("/seq")).status_code == 404
    Path("a.json").write_text(json.dumps(picks(mockstatus)))


def test_b(mockstatus):
    assert httpx.get(mockstatus.url("/seq")).status_code == 503  # back, with a fresh counter
    Path("b.json").write_text(json.dumps(picks(mockstatus)))
"""
    )
    result = run(ini="mockstatus_scenarios = scenarios\nmockstatus_seed = 7")
    result.assert_outcomes(passed=2)
    a = (pytester.path / "a.json").read_text()
    assert a == (pytester.path / "b.json").read_text()  # the same seed before each test
    assert "200" in a and "503" in a


def test_a_broken_scenarios_folder_is_a_clear_error(run, pytester):
    folder = pytester.mkdir("scenarios")
    (folder / "bad.yaml").write_text("routes:\n  - match: {pth: /x}\n    respond: {status: 200}\n")
    pytester.makepyfile(test_x="def test_x(mockstatus):\n    pass\n")
    result = run(ini="mockstatus_scenarios = scenarios")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the scenarios in*are invalid*", "*bad.yaml:2:*"])


# --- pytest-xdist ------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_server_per_xdist_worker(run, pytester, monkeypatch):
    pytester.makepyfile(
        test_workers=SEQ
        + """
import os
from pathlib import Path

import httpx
import pytest


@pytest.mark.parametrize("n", range(8))
def test_worker(mockstatus, n):
    assert mockstatus.requests() == []
    mockstatus.load(SEQ)
    assert [httpx.get(mockstatus.url("/seq")).status_code for _ in range(3)] == [503, 503, 200]
    out = Path(os.environ["WORKER_OUT"])
    (out / f"{n}.txt").write_text(os.environ["PYTEST_XDIST_WORKER"] + " " + mockstatus.base_url)
"""
    )
    out = pytester.mkdir("out")
    monkeypatch.setenv("WORKER_OUT", str(out))
    result = run("-n", "2")
    result.assert_outcomes(passed=8)
    seen: dict[str, set[str]] = {}
    for path in out.iterdir():
        worker, url = path.read_text().split()
        seen.setdefault(worker, set()).add(url)
    assert len(seen) == 2, seen  # both workers ran tests
    urls = [next(iter(u)) for u in seen.values()]
    assert all(len(u) == 1 for u in seen.values())  # one server per worker, for its session
    assert urls[0] != urls[1]


# --- external mode -----------------------------------------------------------------------------

EXTERNAL = (
    """
import httpx
import pytest

from mockstatus.pytest_plugin import ClockNotControllable
"""
    + SEQ
    + """

def test_external_fixture(mockstatus):
    assert mockstatus.external
    assert "ci" in [s["name"] for s in mockstatus.scenarios()]  # uploaded before the run
    assert mockstatus.load(SEQ) == "seq"
    session = mockstatus.session()
    codes = [httpx.get(mockstatus.url("/seq"), headers=session.headers).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert [e["status"] for e in session.requests(route="r")] == [503, 503, 200]
    assert mockstatus.wait_for(3, session=session.id, timeout=5)[0]["path"] == "/seq"


def test_external_state_was_reset(mockstatus):
    assert mockstatus.requests() == []
    assert httpx.get(mockstatus.url("/seq")).status_code == 404


def test_external_clock(mockstatus):
    if not mockstatus.clock.controllable:
        with pytest.raises(ClockNotControllable, match="--clock manual"):
            mockstatus.clock.advance(5)
        return
    before = mockstatus.clock.time()
    assert mockstatus.clock.advance(5) == before + 5
"""
)


@pytest.mark.parametrize("manual", [True, False], ids=["manual-clock", "system-clock"])
def test_external_mode(run, pytester, make_server, monkeypatch, manual):
    from mockstatus.types import SystemClock

    server = make_server(clock=None if manual else SystemClock(), clock_controllable=manual)
    ci = SEQ.split('"""')[1].replace("/seq", "/ci")
    assert httpx.put(server.url("/__mockstatus/scenarios/ci"), content=ci).status_code == 201
    monkeypatch.setenv(URL_ENV, server.base_url + "/")
    pytester.makepyfile(test_external_mode=EXTERNAL)
    result = run()
    result.assert_outcomes(passed=3)
    doc = httpx.get(server.url("/__mockstatus/scenarios")).json()
    assert doc["uploads"] == ["ci"]  # the CI upload stays; the test's own scenario went


def test_external_mode_sends_the_admin_token(run, pytester, make_server, monkeypatch):
    server = make_server(admin_token="s3cret", clock_controllable=True)
    monkeypatch.setenv(URL_ENV, server.base_url)
    pytester.makepyfile(
        test_token=SEQ
        + """
def test_token(mockstatus):
    mockstatus.load(SEQ)
    mockstatus.clock.advance(1)
"""
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*POST /purge answered 401*"])
    monkeypatch.setenv(TOKEN_ENV, "s3cret")
    run().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:1", "*cannot reach the mockstatus server at http://127.0.0.1:1*"),
        ("localhost:8080", "*is not an http(s) URL*"),
    ],
)
def test_a_bad_external_url_is_a_clear_error(run, pytester, monkeypatch, url, message):
    monkeypatch.setenv(URL_ENV, url)
    pytester.makepyfile(test_x="def test_x(mockstatus):\n    pass\n")
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])


# --- the examples and the external client tests, run for real -----------------------------------


def copy_examples(pytester) -> None:
    """examples/ into the inner run; test modules renamed, as `pytest tests examples` may have
    imported them under their own names already."""
    for path in (ROOT / "examples").glob("*.py"):
        name = path.name if path.name == "conftest.py" else f"test_copied_{path.name[5:]}"
        shutil.copy(path, pytester.path / name)


def test_the_examples_pass_in_process(run, pytester):
    copy_examples(pytester)
    result = run()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 5 and set(outcomes) == {"passed"}, outcomes


def test_the_examples_pass_against_an_external_manual_clock_server(
    run, pytester, make_server, monkeypatch
):
    server = make_server(clock_controllable=True)
    monkeypatch.setenv(URL_ENV, server.base_url)
    copy_examples(pytester)
    outcomes = run().parseoutcomes()
    assert outcomes.get("passed", 0) >= 5 and set(outcomes) == {"passed"}, outcomes


@pytest.mark.slow
@pytest.mark.parametrize("manual", [True, False], ids=["manual-clock", "system-clock"])
def test_test_external_passes_against_a_server(pytester, make_server, monkeypatch, manual):
    from mockstatus.types import SystemClock

    server = make_server(clock=None if manual else SystemClock(), clock_controllable=manual)
    monkeypatch.setenv(URL_ENV, server.base_url)
    result = pytester.run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        str(ROOT / "tests" / "test_external.py"),
        timeout=120,
    )
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=10)
