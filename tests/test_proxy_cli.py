"""`mockstatus proxy` from the command line (issue 14): flags, refusals, and the documented
walk-through (docs/proxy.md: rate-limit at 5 req/s, then down for 30 s) on a manual clock."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockstatus.cli import main
from tests.proxyhelp import Upstream

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
DOC = Path(__file__).resolve().parent.parent / "docs" / "proxy.md"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream().start()
    yield up
    up.stop()


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}


class Cli:
    def __init__(self, *args: str, command: str = "proxy") -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mockstatus",
                command,
                "--port",
                "0",
                "--host",
                "127.0.0.1",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise AssertionError(line + self.proc.communicate()[1])
        self.base = re.search(r"listening on (\S+)", line).group(1)  # type: ignore[union-attr]

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.returncode == 0, err
        return err


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), env={}, out=out)
    return code, out.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["proxy"], "the following arguments are required: --upstream"),
        (["proxy", "--upstream", "ftp://x"], "must use http or https, not scheme 'ftp'"),
        (["proxy", "--upstream", "http://h", "--allow-upstream", "http://x/"], "HOST or HOST:PORT"),
        (["proxy", "--upstream", "http://h", "--redact", "a b"], "--redact wants a header"),
        (["serve", "--allow-upstream", ""], "--allow-upstream wants HOST"),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    code, out = _run(*argv)
    assert code == 2
    assert message in out


def test_check_uses_the_allow_list(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("routes:\n  - respond: {proxy: {to: 'http://api.test:81'}}\n")
    code, out = _run("check", str(tmp_path))
    assert code == 1
    assert f"{tmp_path / 'a.yaml'}:2:27: upstream 'http://api.test:81' is not allowed" in out
    code, out = _run("check", "--allow-upstream", "api.test:81", str(tmp_path))
    assert code == 0, out


@pytest.mark.slow
def test_proxy_command_forwards_everything_but_admin(upstream: Upstream) -> None:
    cli = Cli("--upstream", upstream.url(), "--quiet")
    try:
        for path in ("/", "/status/503", "/anything", "/redirect/2"):
            r = requests.get(cli.base + path, timeout=5, allow_redirects=False)
            assert r.headers["Via"] == "1.1 mockstatus", path
            assert r.headers.get("X-Up") == "1" or r.headers.get("X-Up-Code") == "503", path
        local = requests.get(cli.base + "/__mockstatus/scenarios", timeout=5)
        assert local.status_code == 200 and "Via" not in local.headers  # answered here
        assert not any(s["path_qs"].startswith("/__mockstatus") for s in upstream.seen)
        assert [s["path_qs"] for s in upstream.seen[-4:]] == [
            "/",
            "/status/503",
            "/anything",
            "/redirect/2",
        ]
    finally:
        cli.stop()


def _doc_files() -> dict[str, str]:
    """The YAML files the walk-through in docs/proxy.md uploads, by the name in their first
    line (`# file: NAME`)."""
    text = DOC.read_text()
    files = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        first, _, rest = block.partition("\n")
        m = re.fullmatch(r"# file: (\S+)", first.strip())
        if m:
            files[m.group(1)] = rest
    return files


@pytest.mark.slow
def test_walkthrough_rate_limit_then_down_for_30s(upstream: Upstream) -> None:
    """docs/proxy.md, "Walk-through", as written: the same files, the same expectations."""
    files = _doc_files()
    assert set(files) >= {"limit.yaml", "down.yaml"}
    cli = Cli("--upstream", upstream.url(), "--clock", "manual", "--quiet")
    b = cli.base
    try:
        # 1. In front of the API: everything passes through.
        r = requests.get(f"{b}/status/200", timeout=5)
        assert (r.status_code, r.text) == (200, "upstream says 200\n")
        # 2. Rate-limit it at 5 req/s.
        limit = files["limit.yaml"].replace("http://127.0.0.1:9000", upstream.url())
        put = requests.put(f"{b}/__mockstatus/scenarios/rehearsal", data=limit, timeout=5)
        assert put.status_code in (200, 201), put.text
        codes = [requests.get(f"{b}/status/200", timeout=5).status_code for _ in range(6)]
        assert codes == [200, 200, 200, 200, 200, 429]
        requests.post(f"{b}/__mockstatus/clock/advance?seconds=1", timeout=5).raise_for_status()
        assert requests.get(f"{b}/status/200", timeout=5).status_code == 200
        # 3. Take it down for 30 s (the re-uploaded scenario's clock starts now).
        down = files["down.yaml"].replace("http://127.0.0.1:9000", upstream.url())
        put = requests.put(f"{b}/__mockstatus/scenarios/rehearsal", data=down, timeout=5)
        assert put.status_code in (200, 201), put.text
        r = requests.get(f"{b}/status/200", timeout=5)
        assert (r.status_code, r.headers["Retry-After"]) == (503, "30")
        requests.post(f"{b}/__mockstatus/clock/advance?seconds=29", timeout=5).raise_for_status()
        assert requests.get(f"{b}/status/200", timeout=5).headers["Retry-After"] == "1"
        requests.post(f"{b}/__mockstatus/clock/advance?seconds=1", timeout=5).raise_for_status()
        r = requests.get(f"{b}/status/200", timeout=5)
        assert (r.status_code, r.text) == (200, "upstream says 200\n")
        # 4. Back to plain forwarding.
        requests.delete(f"{b}/__mockstatus/scenarios/rehearsal", timeout=5).raise_for_status()
        journal = requests.get(f"{b}/__mockstatus/requests", timeout=5).json()["requests"]
        forwarded = [e for e in journal if e["upstream"] is not None]
        assert all(e["upstream"]["status"] == e["status"] for e in forwarded)
        assert sum(e["status"] == 429 and e["upstream"] is None for e in journal) == 1
    finally:
        cli.stop()


def test_proxy_help_says_it_starts_without_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    # `mockstatus proxy` loads no bundled scenarios (issue 14): its help must not say it does.
    from mockstatus.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser({}).parse_args(["proxy", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "scenarios folder (default: none: everything goes upstream)" in text
    assert "bundled examples" not in text
