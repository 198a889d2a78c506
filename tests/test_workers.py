"""`mockstatus serve --workers N` as real processes (docs/scale-out.md, "Workers"): N workers
serve one port, the listening line is printed once, SIGTERM/SIGINT stop every worker, SIGHUP
reloads every worker, a killed worker is restarted (a crash loop stops the server), and the
refusals and `auto` are pinned in-process."""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import http.client
import io
import json
import os
import re
import signal
import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest

from mockstatus import cli
from mockstatus.limits import MAX_WORKERS, WORKER_RESTARTS
from mockstatus.supervisor import RestartBudget, describe_exit
from tests import redis_server
from tests.workers_helpers import WAIT, alive, start

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::ResourceWarning")]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory):
    """A real Redis (the state store's fixture): `--workers 2` needs `--state`."""
    if not redis_server.available():
        pytest.skip(redis_server.MISSING)
    server = redis_server.RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


def test_two_workers_serve_one_port_and_print_the_listening_line_once(tmp_path, state):
    served = start(tmp_path, "--host", "127.0.0.1", "--workers", "2", "--state", state, "--quiet")
    try:
        assert served.line.startswith(
            f"mockstatus {cli.__version__} listening on http://127.0.0.1:"
        )
        assert "; 2 workers, " in served.line
        pids = served.worker_pids(2)
        assert sorted(pids) == [0, 1]
        assert set(pids.values()) == served.children()  # the workers are the supervisor's children
        assert served.proc.pid not in pids.values()
        for _ in range(20):
            assert served.get("/status/503") == (503, b"503 Service Unavailable")
    finally:
        code, rest, err = served.stop()
    assert code == 0
    assert "listening on" not in rest  # printed once, by the supervisor
    assert err.count("stopping 2 worker(s)") == 1
    assert "shutting down" not in err  # workers do not repeat the supervisor's line
    assert not any(alive(pid) for pid in pids.values())


def test_workers_1_is_one_process_as_before(tmp_path):
    served = start(tmp_path, "--host", "127.0.0.1", "--workers", "1", "--scenarios", "none")
    try:
        assert served.line.endswith(f":{served.port} (scenarios: none)\n")
        assert served.get("/__mockstatus/health") == (200, b'{\n  "status": "ok"\n}\n')
        assert served.children() == set()
    finally:
        code, _, err = served.stop()
    assert code == 0
    assert "shutting down" in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_every_worker_even_with_requests_hanging(tmp_path, state, sig):
    served = start(
        tmp_path,
        *("--host", "127.0.0.1", "--workers", "3", "--state", state, "--quiet"),
        *("--shutdown-timeout", "200ms"),
    )
    pids = served.worker_pids(3)
    assert len(pids) == 3
    # Hung requests keep their workers busy until the shutdown deadline cuts them.
    hung = []
    for _ in range(6):
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=WAIT)
        sock.sendall(b"GET /status/200?fault=hang HTTP/1.1\r\nHost: x\r\n\r\n")
        hung.append(sock)
    code, _, err = served.stop(sig)
    assert code == 0
    for sock in hung:  # every hung connection was closed, none left open
        with sock, contextlib.suppress(ConnectionResetError):
            assert sock.recv(1024) == b""
    assert f"{signal.Signals(sig).name}: stopping 3 worker(s)" in err
    assert not any(alive(pid) for pid in pids.values())
    assert "Traceback" not in err


def test_a_killed_worker_is_restarted_and_the_port_keeps_answering(tmp_path, state):
    served = start(tmp_path, "--host", "127.0.0.1", "--workers", "2", "--state", state, "--quiet")
    try:
        pids = served.worker_pids(2)
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        # Every request is answered, also those hashed to the dead worker's socket: they wait in
        # its backlog (the supervisor holds the socket) until the new worker takes it over.
        statuses = [served.get("/status/503")[0] for _ in range(50)]
        assert statuses == [503] * 50
        deadline = time.monotonic() + WAIT
        while True:
            now = served.worker_pids(2)
            if len(now) == 2 and now[0] != victim:
                break
            assert time.monotonic() < deadline, served.err()
        assert now[1] == pids[1]  # the other worker was left alone
        assert now[0] in served.children()
        assert (
            f"worker 0 (pid {victim}) was killed by SIGKILL: restarted as pid {now[0]}"
            in served.err()
        )
    finally:
        code, _, _ = served.stop()
    assert code == 0


def test_a_crash_loop_stops_the_server_instead_of_spinning(tmp_path, state):
    served = start(tmp_path, "--host", "127.0.0.1", "--workers", "2", "--state", state, "--quiet")
    killed: set[int] = set()
    deadline = time.monotonic() + WAIT
    while served.proc.poll() is None and time.monotonic() < deadline:
        for pid in served.children() - killed:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        time.sleep(0.01)
    code = served.proc.wait(WAIT)
    err = served.err()
    assert code == 1
    assert f"workers were restarted {WORKER_RESTARTS} times within 60s: stopping" in err
    assert err.count("restarted as pid") == WORKER_RESTARTS
    assert not any(alive(pid) for pid in killed)


def test_sighup_reloads_every_worker(tmp_path, state):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    route = "name: s\nroutes:\n  - match: {{path: /which}}\n    respond: {{status: {code}}}\n"
    (folder / "s.yaml").write_text(route.format(code=201))
    served = start(
        tmp_path,
        *("--host", "127.0.0.1", "--workers", "2", "--state", state, "--quiet"),
        *("--scenarios", str(folder), "--reload-interval", "0"),
    )
    try:
        (folder / "s.yaml").write_text(route.format(code=202))
        served.proc.send_signal(signal.SIGHUP)
        # One keep-alive client talks to one worker: its /health names the worker, /which says
        # whether that worker reloaded. New clients until both workers answered 202.
        answered: dict[int, int] = {}
        deadline = time.monotonic() + WAIT
        while len(answered) < 2 or set(answered.values()) != {202}:
            conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=WAIT)
            try:
                conn.request("GET", "/__mockstatus/health")
                worker = json.loads(conn.getresponse().read())["worker"]
                conn.request("GET", "/which")
                response = conn.getresponse()
                response.read()
                answered[worker] = response.status
            finally:
                conn.close()
            assert time.monotonic() < deadline, answered
    finally:
        code, _, _ = served.stop()
    assert code == 0


def test_tls_workers_share_one_certificate(tmp_path, state):
    pytest.importorskip("trustme")
    ca = tmp_path / "ca.pem"
    served = start(
        tmp_path,
        *("--host", "127.0.0.1", "--workers", "2", "--state", state, "--quiet"),
        *("--tls", "--tls-ca", str(ca)),
    )
    try:
        base = f"https://127.0.0.1:{served.port}"
        seen: set[int] = set()
        for _ in range(400):
            trust = ssl.create_default_context(cafile=str(ca))
            with httpx.Client(verify=trust, http2=True, timeout=WAIT) as client:
                r = client.get(base + "/__mockstatus/health")
                assert r.http_version == "HTTP/2"
                seen.add(r.json()["pid"])
            if len(seen) == 2:
                break
        assert len(seen) == 2
    finally:
        code, _, _ = served.stop()
    assert code == 0


# --- in-process: refusals, `auto`, the restart budget -------------------------------------------


def run_cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(list(argv), env=env if env is not None else {}, out=out)
    return code, out.getvalue()


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["serve", "--workers", "2"], {}),
        (["serve"], {"MOCKSTATUS_WORKERS": "2"}),
        (["serve", "--workers", "auto"], {}),
        (["serve", "--workers", "2", "--state", "memory"], {}),
    ],
    ids=["flag", "env", "auto", "memory"],
)
def test_several_workers_without_a_state_store_are_refused(argv, env, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    code, text = run_cli(*argv, "--scenarios", "none", env=env)
    assert code == 2
    assert text.startswith("mockstatus: error: --workers 2 needs a shared state store: ")
    assert "a limit of 100 would let 200 through" in text
    assert "add --state redis://HOST:PORT/DB (or MOCKSTATUS_STATE), or run one worker" in text


def test_recording_with_several_workers_is_refused(tmp_path):
    code, text = run_cli(
        *("proxy", "--upstream", "http://127.0.0.1:9", "--record", str(tmp_path)),
        *("--workers", "2", "--state", "redis://127.0.0.1:1/0"),
    )
    assert code == 2
    assert text.startswith("mockstatus: error: --record cannot run with --workers 2: ")


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [({0}, 1), ({1, 3, 5}, 3), (set(range(MAX_WORKERS + 10)), MAX_WORKERS)],
    ids=["one", "three-of-many", "capped"],
)
def test_auto_counts_the_cpus_this_process_may_run_on(monkeypatch, cpus, expected):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: cpus)
    monkeypatch.setattr("os.cpu_count", lambda: 1024)  # never consulted: affinity decides
    parser = cli.build_parser({})
    assert parser.parse_args(["serve", "--workers", "auto"]).workers == expected
    assert cli.environment_defaults({"MOCKSTATUS_WORKERS": "auto"})["workers"] == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "", str(MAX_WORKERS + 1), "1" * 5000])
def test_a_bad_worker_count_is_one_line_and_exit_2(value):
    code, text = run_cli("serve", "--workers", value)
    assert code == 2
    assert f"'auto' or an integer from 1 to {MAX_WORKERS}" in text
    code, text = run_cli("serve", env={"MOCKSTATUS_WORKERS": value})
    assert code == 2
    assert text.startswith("mockstatus: error: MOCKSTATUS_WORKERS: invalid value ")


def test_the_restart_budget_counts_within_a_sliding_window():
    budget = RestartBudget(limit=2, window=10.0)
    assert [budget.take(t) for t in (0.0, 1.0, 2.0, 9.9)] == [True, True, False, False]
    assert budget.take(10.0) is True  # the restart at 0.0 left the window
    assert budget.take(10.5) is False
    assert budget.take(11.0) is True


def test_exit_descriptions():
    assert describe_exit(9) == "was killed by SIGKILL"  # a wait status: signal 9
    assert describe_exit(3 << 8) == "exited with status 3"


def test_loop_choice_refuses_uvloop_when_missing(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_uvloop(name, *args, **kwargs):
        if name == "uvloop":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    code, text = run_cli("serve", "--scenarios", "none", "--loop", "uvloop")
    assert code == 2
    assert text == (
        "mockstatus: error: --loop uvloop: uvloop is not installed "
        "(pip install 'mockstatus[speed]')\n"
    )
    from mockstatus.loops import loop_factory

    assert loop_factory("auto") is None  # auto falls back to asyncio's loop


def test_the_container_settings_are_environment_variables():
    """The image reads MOCKSTATUS_* only: MOCKSTATUS_WORKERS and MOCKSTATUS_STATE need nothing
    more than the CLI's environment handling."""
    values = cli.environment_defaults(
        {"MOCKSTATUS_WORKERS": "3", "MOCKSTATUS_STATE": "redis://redis:6379/0"}
    )
    assert (values["workers"], values["state"]) == (3, "redis://redis:6379/0")


def test_the_replicas_recipe_shares_one_redis_and_its_settings_parse():
    import yaml

    root = Path(__file__).resolve().parent.parent / "examples"
    services = yaml.safe_load((root / "docker-compose.replicas.yml").read_text())["services"]
    single = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]["mockstatus"]
    server, redis = services["mockstatus"], services["redis"]
    assert server["deploy"]["replicas"] == 3
    assert "ports" not in server  # replicas cannot share one published host port
    assert server["image"] == single["image"]
    assert server["healthcheck"]["test"] == single["healthcheck"]["test"]
    settings = cli.environment_defaults(server["environment"])  # what the image's CLI reads
    assert settings["workers"] >= 1
    assert settings["state"] == "redis://redis:6379/0"
    assert redis["command"] == ["redis-server", "--save", "", "--appendonly", "no"]
    assert server["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert services["tests"]["environment"]["MOCKSTATUS_URL"] == "http://mockstatus:8080"
    # The image the recipe runs has the redis client (and uvloop): --state redis:// works in it.
    dockerfile = (root.parent / "Dockerfile").read_text()
    assert 'pip wheel --wheel-dir /wheels ".[speed,redis]"' in dockerfile
    assert '--find-links /wheels "mockstatus[speed,redis]"' in dockerfile


def test_access_lines_go_out_whole_in_pieces_of_at_most_pipe_buf(monkeypatch):
    from mockstatus import supervisor

    writes: list[bytes] = []
    monkeypatch.setattr(
        supervisor.os, "write", lambda fd, data: writes.append(bytes(data)) or len(data)
    )
    text = "a" * 4 + "\n" + "b" * 4 + "\n" + "c" * 16 + "\n" + "d" * 2 + "\n" + "e" * 3
    assert supervisor.WholeLines(99, limit=10).write(text) == len(text)
    assert writes == [b"aaaa\nbbbb\n", b"c" * 16 + b"\n", b"dd\neee"]


def test_two_workers_share_stdout_without_tearing_access_lines(tmp_path, state):
    served = start(tmp_path, "--host", "127.0.0.1", "--workers", "2", "--state", state)
    long_path = "/status/204?pad=" + "x" * 900
    count = 500

    def fetch(_: int) -> int:
        return served.get(long_path)[0]

    try:
        # stdout is not read meanwhile: the pipe fills, both workers' writers block and resume
        # together — where writes longer than PIPE_BUF would interleave.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            assert set(pool.map(fetch, range(count))) == {204}
    finally:
        code, rest, err = served.stop()
    assert code == 0
    lines = rest.splitlines()
    line = re.compile(
        r'127\.0\.0\.1 - - \[[^\]]+\] "GET /status/204\?pad=x{900} HTTP/1\.1" 204 0 [\d.]+ms'
    )
    torn = [text[:80] for text in lines if not line.fullmatch(text)]
    assert torn == []
    assert "dropped" not in err
    assert len(lines) == count


@pytest.mark.parametrize("reuseport", [False, True], ids=["plain", "reuseport"])
def test_a_port_someone_holds_is_refused_even_with_reuseport(reuseport):
    """SO_REUSEPORT alone would let a second server share a port silently: a plain bind first."""
    from mockstatus.supervisor import bind

    holder = socket.socket()
    if reuseport:  # e.g. another `--workers` server
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(OSError) as caught:
            bind(["127.0.0.1"], port, 2, default_hosts=cli.LOOPBACK_HOSTS)
        assert (caught.value.errno, caught.value.filename) == (errno.EADDRINUSE, "127.0.0.1")
        code, text = run_cli(
            *("serve", "--host", "127.0.0.1", "--port", str(port), "--scenarios", "none"),
            *("--workers", "2", "--state", "redis://127.0.0.1:1/0"),
        )
        assert (code, text) == (
            1,
            f"mockstatus: error: cannot listen on 127.0.0.1:{port}: the port is already in use\n",
        )
    finally:
        holder.close()


def test_bind_gives_each_worker_its_own_socket_per_address_on_one_port():
    from mockstatus.supervisor import bind

    bound = bind(list(cli.LOOPBACK_HOSTS), 0, 3, default_hosts=cli.LOOPBACK_HOSTS)
    try:
        assert len(bound.slots) == 3
        assert bound.hosts[0] == "127.0.0.1"
        for slot in bound.slots:
            assert [host for host, _ in slot] == bound.hosts  # ::1 too where there is IPv6
            for _, sock in slot:
                assert sock.getsockname()[1] == bound.port
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        filenos = {sock.fileno() for slot in bound.slots for _, sock in slot}
        assert len(filenos) == 3 * len(bound.hosts)
    finally:
        bound.close()
