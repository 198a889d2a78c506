"""Every server example in README.md and docs/*.md runs against a live server, as written.

The convention (docs/doc-examples.md): a ```console block holds `$ ` command lines, each
followed by the output it prints. Status lines must all be shown; the header fields shown are a
subset (each with all of its values; the response may carry other fields); the other lines
shown must appear in the output, in order. `# 30 s later` advances the server's manual clock.
Each block starts from a clean server: uploads deleted, reset, journal emptied.

The server is the real command line (`mockstatus serve --clock manual`, bundled scenarios) on a
free loopback port; commands run in bash from the repository root with `B` set to its URL.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND_TIMEOUT = 20.0
START_TIMEOUT = 30.0  # seconds for the server to print its listening line (a loaded CI box)

_FENCE = re.compile(r"^(`{3,})\s*([\w-]*)\s*$")
_STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)? \d{3}(?: .*)?$")
_HEADER_LINE = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$")
_LATER = re.compile(r"^#\s*(\d+(?:\.\d+)?)\s*(ms|s|min)\s+later\b")
_UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0}
_SLEEP_COMMAND = re.compile(r"(?:^|[;&|(]|\bdo|\bthen)\s*sleep\b")  # the command, not ?sleep=
ELISION = "…"


# --- reading the examples ----------------------------------------------------------------------


@dataclass
class Step:
    """One `$ ` command and the output the doc shows for it, or a clock advance."""

    line: int
    command: str = ""
    expected: list[str] = field(default_factory=list)
    advance: float | None = None


@dataclass
class Block:
    file: Path
    line: int
    steps: list[Step]

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path) -> Iterator[tuple[str, int, list[str]]]:
    """(language, line of the opening fence, body lines) of every fenced block of a file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, lang, start = opening.group(1), opening.group(2), i + 1
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        yield lang, start, body
        i += 1


def parse_console(file: Path, start: int, body: list[str]) -> Block:
    steps: list[Step] = []
    pending = ""
    for offset, text in enumerate(body, start=start + 1):
        if pending:  # a command continued with a trailing backslash
            steps[-1].command += "\n" + text
            pending = text if text.endswith("\\") else ""
            continue
        if text.startswith("$ "):
            steps.append(Step(offset, command=text[2:]))
            pending = text if text.endswith("\\") else ""
        elif text.startswith("#"):
            later = _LATER.match(text)
            if later:
                seconds = float(later.group(1)) * _UNITS[later.group(2)]
                steps.append(Step(offset, advance=seconds))
        elif steps and steps[-1].advance is None:
            steps[-1].expected.append(text)
        elif text.strip():
            raise ValueError(f"{file}:{offset}: output before any `$ ` command")
    return Block(file, start, steps)


def console_blocks() -> list[Block]:
    return [
        parse_console(path, start, body)
        for path in DOCS
        for lang, start, body in fenced_blocks(path)
        if lang == "console"
    ]


# --- comparing output --------------------------------------------------------------------------


@dataclass
class Head:
    status: str
    headers: list[tuple[str, str]]


def split_http(lines: list[str]) -> tuple[list[Head], list[str]]:
    """Heads (status line + header lines, as `curl -i` prints them) and the lines after them."""
    heads: list[Head] = []
    i = 0
    while i < len(lines) and _STATUS_LINE.match(lines[i]):
        head = Head(lines[i].strip(), [])
        i += 1
        while i < len(lines) and lines[i].strip():
            if lines[i].strip() != ELISION:  # "…": headers left out
                match = _HEADER_LINE.match(lines[i])
                if match is None:
                    raise ValueError(f"not a header line: {lines[i]!r}")
                head.headers.append((match.group(1).lower(), match.group(2)))
            i += 1
        i += 1  # the blank line that ends a head
        heads.append(head)
    return heads, lines[i:]


def _line_key(line: str) -> str:
    """A line as compared: trailing spaces and one trailing comma do not count, so a JSON member
    shown alone still matches when the server adds members after it."""
    line = line.rstrip()
    return line[:-1] if line.endswith(",") else line


def compare(expected: list[str], output: str) -> list[str]:
    """Differences between what a doc shows and what the command printed (empty: they agree)."""
    actual_lines = output.replace("\r\n", "\n").split("\n")
    want_heads, want_rest = split_http(expected)
    problems: list[str] = []
    if want_heads:
        got_heads, got_rest = split_http(actual_lines)
        want_status = [h.status for h in want_heads]
        got_status = [h.status for h in got_heads]
        if want_status != got_status:
            return [f"status lines {want_status} != {got_status}"]
        for want, got in zip(want_heads, got_heads, strict=True):
            # A field shown is shown with all its values: a second, undocumented Retry-After
            # (or Link) on the wire is a difference, not a superset.
            for name in dict.fromkeys(n for n, _ in want.headers):
                shown = [v for n, v in want.headers if n == name]
                sent = [v for n, v in got.headers if n == name]
                if shown != sent:
                    problems.append(f"{want.status}: {name}: shown {shown}, sent {sent}")
    else:
        got_rest = actual_lines
    position = 0
    for text in want_rest:
        if text.strip() in ("", ELISION):
            continue
        want = _line_key(text)
        found = next(
            (k for k in range(position, len(got_rest)) if _line_key(got_rest[k]) == want), None
        )
        if found is None:
            problems.append(f"line not in the output (in order): {text!r}")
        else:
            position = found + 1
    return problems


# --- the live server ---------------------------------------------------------------------------


@dataclass
class LiveServer:
    base: str
    process: subprocess.Popen

    def admin(self, method: str, path: str) -> dict:
        request = urllib.request.Request(self.base + "/__mockstatus" + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def clean(self) -> None:
        """What every block starts from: no uploads, counters/states/clocks reset, no journal."""
        for name in self.admin("GET", "/scenarios")["uploads"]:
            self.admin("DELETE", f"/scenarios/{name}")
        self.admin("POST", "/reload")  # brings back folder scenarios an upload replaced
        self.admin("POST", "/reset")
        self.admin("DELETE", "/requests")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # Output goes to a file, not a pipe: a pipe nobody reads would block the server once full.
    log = tmp_path_factory.mktemp("docs-server") / "output.txt"
    command = [sys.executable, "-m", "mockstatus", "serve", "--host", "127.0.0.1"]
    command += ["--port", "0", "--clock", "manual", "--quiet", "--reload-interval", "0"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        match = None
        while match is None and process.poll() is None and time.monotonic() < deadline:
            match = re.search(r"listening on (http://\S+)", log.read_text())
            if match is None:
                time.sleep(0.05)
        if match is None:
            pytest.fail(f"mockstatus serve did not start: {log.read_text()[-2000:]!r}")
        yield LiveServer(match.group(1), process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_block(server: LiveServer, block: Block) -> list[str]:
    server.clean()
    env = {**os.environ, "B": server.base, "LC_ALL": "C.UTF-8"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    problems = []
    for step in block.steps:
        if step.advance is not None:
            server.admin("POST", f"/clock/advance?seconds={step.advance:g}")
            continue
        done = subprocess.run(
            ["bash", "-c", step.command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
        )
        output = done.stdout.decode("utf-8", "replace")
        where = f"{block.file.name}:{step.line}: $ {step.command}"
        if done.returncode != 0:
            problems.append(f"{where}\n  exit {done.returncode}: {done.stderr.decode()[-300:]}")
            continue
        problems += [f"{where}\n  {p}\n  output:\n{output}" for p in compare(step.expected, output)]
    if server.process.poll() is not None:  # an example must never take the server down
        problems.append(f"{block.id}: the server exited with {server.process.returncode}")
    return problems


BLOCKS = console_blocks()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the doc examples use curl")
@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_example(live_server: LiveServer, block: Block) -> None:
    problems = run_block(live_server, block)
    assert not problems, "\n\n".join(problems)


# --- the convention itself ---------------------------------------------------------------------


def test_every_server_example_is_checked() -> None:
    """A curl line aimed at the server ($B) outside a ```console block would never be run."""
    unchecked = [
        f"{path.relative_to(ROOT)}:{start + k + 1}: {text.strip()}"
        for path in DOCS
        for lang, start, body in fenced_blocks(path)
        if lang != "console"
        for k, text in enumerate(body)
        if "curl" in text and "$B" in text
    ]
    assert unchecked == []


def test_no_example_sleeps() -> None:
    """Time in an example moves with `# N s later` (a manual-clock advance), never `sleep`."""
    sleeping = [
        f"{b.id}: {s.command}" for b in BLOCKS for s in b.steps if _SLEEP_COMMAND.search(s.command)
    ]
    assert sleeping == []


def test_the_docs_have_examples() -> None:
    assert len(BLOCKS) >= 20
    assert {b.file.name for b in BLOCKS} >= {"README.md", "scenarios.md", "status-codes.md"}


@pytest.mark.parametrize(
    ("shown", "printed", "problems"),
    [
        pytest.param(
            ["HTTP/1.1 503 Service Unavailable", "Retry-After: 120"],
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nX: y\r\n\r\nbody",
            0,
            id="header-subset",
        ),
        pytest.param(
            ["HTTP/1.1 503 Service Unavailable", "Retry-After: 60"],
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\n\r\n",
            1,
            id="header-value-differs",
        ),
        pytest.param(
            ["HTTP/1.1 503 Service Unavailable", "Retry-After: 1"],
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nRetry-After: 120\r\n\r\n",
            1,
            id="every-value-of-a-shown-field",
        ),
        pytest.param(
            ["HTTP/1.1 200 OK"],
            "HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
            1,
            id="every-status-line-shown",
        ),
        pytest.param(
            ["HTTP/1.1 200 OK", "…", "", "b", "d"],
            "HTTP/1.1 200 OK\r\nA: 1\r\n\r\na\nb\nc\nd\n",
            0,
            id="body-lines-in-order",
        ),
        pytest.param(["200 429"], "200 200\n", 1, id="plain-output-differs"),
        pytest.param(
            ['  "created": true'], '{\n  "created": true,\n  "more": 1\n}\n', 0, id="json-comma"
        ),
    ],
)
def test_compare(shown: list[str], printed: str, problems: int) -> None:
    assert len(compare(shown, printed)) == problems


def test_parse_console_reads_commands_output_and_time() -> None:
    body = ["$ curl -si $B/x \\", "    -H 'A: b'", "HTTP/1.1 200 OK", "# 30 s later", "$ true"]
    block = parse_console(ROOT / "README.md", 10, body)
    assert [(s.command, s.expected, s.advance) for s in block.steps] == [
        ("curl -si $B/x \\\n    -H 'A: b'", ["HTTP/1.1 200 OK"], None),
        ("", [], 30.0),
        ("true", [], None),
    ]
