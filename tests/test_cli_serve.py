"""`mockstatus serve` as a process: where it listens, which scenarios it loads, what it warns about,
where `--tls` puts its CA, and an access log that nobody reads."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mockstatus.cli import is_loopback
from mockstatus.tls import write_ca
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}
    return {**env, **extra}


def start(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockstatus", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or clean_env(),
        cwd=cwd,
    )
    line = proc.stdout.readline()
    assert "listening on" in line, line + proc.stderr.read()
    return proc, line


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    return code, err


def port_of(line: str) -> int:
    return int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])


@pytest.mark.slow
def test_default_listens_on_both_loopbacks_only(tmp_path):
    proc, line = start("--scenarios", "none", "--quiet")
    try:
        port = port_of(line)
        assert f"listening on http://127.0.0.1:{port} and http://[::1]:{port} " in line
        for host in ("127.0.0.1", "[::1]"):
            r = httpx.get(f"http://{host}:{port}/status/204")
            assert r.status_code == 204
    finally:
        code, err = stop(proc)
    assert code == 0
    assert "warning" not in err  # loopback only: no warning, even without a token


@pytest.mark.slow
def test_beyond_loopback_without_a_token_warns_and_with_one_does_not():
    proc, _ = start("--host", "0.0.0.0", "--scenarios", "none", "--quiet")
    code, err = stop(proc)
    assert code == 0
    assert (
        "mockstatus: warning: listening beyond loopback without MOCKSTATUS_ADMIN_TOKEN: "
        "anyone who can reach the port can use the admin API"
    ) in err.splitlines()
    proc, _ = start(
        "--host", "0.0.0.0", "--scenarios", "none", "--quiet",
        env=clean_env(MOCKSTATUS_ADMIN_TOKEN="s3cret"),
    )  # fmt: skip
    code, err = stop(proc)
    assert code == 0 and "warning" not in err


@pytest.mark.slow
def test_scenarios_none_starts_empty_and_dot_none_is_a_folder(tmp_path):
    proc, line = start("--host", "127.0.0.1", "--scenarios", "none", "--quiet")
    try:
        assert line.rstrip().endswith("(scenarios: none)")
        port = port_of(line)
        # /flaky/orders is a bundled scenario route: not loaded, so not found.
        assert httpx.get(f"http://127.0.0.1:{port}/flaky/orders").status_code == 404
        listed = httpx.get(f"http://127.0.0.1:{port}/__mockstatus/scenarios").json()
        assert listed["scenarios"] == []
    finally:
        assert stop(proc)[0] == 0

    env = clean_env(MOCKSTATUS_SCENARIOS="none")
    proc, line = start("--host", "127.0.0.1", "--quiet", env=env)
    assert line.rstrip().endswith("(scenarios: none)")
    assert stop(proc)[0] == 0

    folder = tmp_path / "none"
    folder.mkdir()
    (folder / "mine.yaml").write_text(
        "name: mine\nroutes:\n  - match: {path: /mine}\n    respond: {status: 299}\n"
    )
    proc, line = start("--host", "127.0.0.1", "--scenarios", "./none", "--quiet", cwd=tmp_path)
    try:
        assert "none: mine)" in line
        assert httpx.get(f"http://127.0.0.1:{port_of(line)}/mine").status_code == 299
    finally:
        assert stop(proc)[0] == 0


@pytest.mark.slow
def test_tls_ca_goes_to_a_private_folder_and_ignores_a_planted_symlink(tmp_path):
    pytest.importorskip("trustme")
    planted_target = tmp_path / "victim"
    planted_target.write_text("keep me")
    (tmp_path / "mockstatus-ca.pem").symlink_to(planted_target)  # the old predictable name
    proc, line = start(
        "--host", "127.0.0.1", "--tls", "--scenarios", "none", "--quiet",
        env=clean_env(TMPDIR=str(tmp_path)),
    )  # fmt: skip
    try:
        assert "listening on https://127.0.0.1:" in line
    finally:
        code, err = stop(proc)
    assert code == 0
    written = Path(err.split("TLS CA certificate written to ")[1].split()[0])
    assert written.parent.parent == tmp_path and written.parent.name.startswith("mockstatus-tls-")
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o700
    assert written.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert planted_target.read_text() == "keep me"


def test_tls_ca_at_a_chosen_path_replaces_a_symlink_instead_of_following_it(tmp_path):
    class FakeCA:
        class cert_pem:
            @staticmethod
            def bytes() -> bytes:
                return b"-----BEGIN CERTIFICATE-----\n"

    victim = tmp_path / "victim"
    victim.write_text("keep me")
    chosen = tmp_path / "ca.pem"
    chosen.symlink_to(victim)
    assert write_ca(FakeCA, chosen) == chosen
    assert not chosen.is_symlink() and chosen.read_bytes().startswith(b"-----BEGIN")
    assert victim.read_text() == "keep me"


@pytest.mark.slow
def test_an_unread_stdout_pipe_never_freezes_the_server():
    """Access lines past the backlog are dropped and counted; the count is reported at exit."""
    proc, line = start("--host", "127.0.0.1", "--scenarios", "none")  # logging on; never read
    port = port_of(line)
    pad = "p" * 4000  # ~4 KB per access line: the pipe (64 KiB) and backlog fill quickly
    answered = 0
    try:
        with rawhttp.connect(port) as sock:
            reader = rawhttp.Reader(sock)
            for _ in range(300):  # ~1.2 MB of log lines, far past pipe + backlog
                sock.sendall(rawhttp.build("GET", f"/status/204?pad={pad}"))
                _, final = reader.read_response()
                answered += final.status == 204
    finally:
        code, err = stop(proc)
    assert answered == 300
    assert code == 0
    dropped = [ln for ln in err.splitlines() if "access-log line(s) dropped" in ln]
    assert len(dropped) == 1 and int(dropped[0].split()[1]) > 0


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("example.test", False)],
)  # fmt: skip
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


class _Recorded(Exception):
    pass


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, {"scenarios_dir": None, "loopback_only": True, "admin_token": None}),
        (["--host", "0.0.0.0"], {}, {"loopback_only": False}),
        (["--host", "::1"], {}, {"loopback_only": True}),
        ([], {"MOCKSTATUS_ADMIN_TOKEN": "t0k"}, {"admin_token": "t0k"}),
        (["--journal-size", "7", "--interim", "off"], {}, {"journal_size": 7, "interim_mode": "off"}),
        (["--journal-redact", "none"], {}, {"journal_redact": frozenset()}),
        ([], {"MOCKSTATUS_JOURNAL_REDACT": "X-Key"}, {"journal_redact": frozenset({"x-key"})}),
        ([], {}, {"journal_redact": frozenset(
            {"authorization", "proxy-authorization", "cookie", "set-cookie"})}),
    ],
)  # fmt: skip
def test_serve_passes_each_setting_to_the_server(monkeypatch, argv, env, expected):
    """What the CLI hands to Mockstatus(...), including journal_redact and loopback_only."""
    import io

    import mockstatus.app
    from mockstatus.cli import main

    seen: dict[str, object] = {}

    class Recorder:
        def __init__(self, **kwargs: object) -> None:
            seen.update(kwargs)
            raise _Recorded

    monkeypatch.setattr(mockstatus.app, "Mockstatus", Recorder)
    with pytest.raises(_Recorded):
        main(["serve", "--scenarios", "none", *argv], env, io.StringIO())
    for name, value in expected.items():
        assert seen[name] == value, name
