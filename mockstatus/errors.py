"""Errors, split by whose fault they are.

    MockstatusError
    ├── RequestError      the client asked for something invalid; carries the HTTP status it maps to
    └── ScenarioError     a scenario file (or upload) does not fit the contract; carries every problem

Errors become HTTP responses at one boundary (app.py), never deeper.
"""

from __future__ import annotations

from dataclasses import dataclass


class MockstatusError(Exception):
    """Base of every error mockstatus raises on purpose."""


class RequestError(MockstatusError):
    """A request parameter is invalid. `param` names it; `status` is what the client gets."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


@dataclass(frozen=True, slots=True)
class ScenarioProblem:
    """One problem in a scenario file; line and column are 1-based."""

    file: str
    line: int
    column: int
    message: str
    source_line: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ScenarioError(MockstatusError):
    """A scenario file or folder was rejected; `problems` lists every problem found."""

    def __init__(self, problems: list[ScenarioProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
