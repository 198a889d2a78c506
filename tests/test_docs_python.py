"""The self-contained Python examples of docs/client.md run as written, against a private
in-process server; the problems an example shows in its comment are the ones it prints."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

from mockstatus.client import Client

DOC = Path(__file__).parent.parent / "docs" / "client.md"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_every_python_example_of_the_docs_parses() -> None:
    for path in sorted(DOC.parent.glob("*.md")):
        for block in python_blocks(path):
            ast.parse(block, filename=str(path))


def test_the_in_process_example_runs_as_written() -> None:
    (block,) = [b for b in python_blocks(DOC) if "Client.start_in_process()" in b]
    exec(compile(block, str(DOC), "exec"), {})


def test_paging_and_rejection_examples_run_and_print_what_they_show() -> None:
    paging = next(b for b in python_blocks(DOC) if "iter_requests(" in b)
    rejected = next(b for b in python_blocks(DOC) if "ScenarioRejected" in b)
    shown = ast.literal_eval(
        "[" + "".join(line.strip().lstrip("#").strip() for line in rejected.splitlines()
                      if line.strip().startswith(("# [", "#  "))).strip("[]") + "]"
    )  # fmt: skip
    with Client.start_in_process() as ms:
        namespace: dict[str, object] = {"ms": ms}
        exec(compile(paging, str(DOC), "exec"), namespace)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(rejected, str(DOC), "exec"), namespace)
    assert ast.literal_eval(printed.getvalue().strip()) == shown
