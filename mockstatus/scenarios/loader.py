"""Scenario files → model, with every problem located as `file:line:column`.

As yamllint does it: compose the YAML into a node tree (safe loader, C when present), turn nodes
into located values (`_V`; duplicate keys, tags, alias expansion and depth are checked there),
then validate those values and build the immutable model (`schema`). Marks never reach the
model. Every failure becomes a ScenarioProblem; the public functions raise ScenarioError and
nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
import yaml.constructor
import yaml.reader

from mockstatus.errors import ScenarioError, ScenarioProblem
from mockstatus.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES
from mockstatus.scenarios.compose import YieldingLoader
from mockstatus.scenarios.model import Scenario, ScenarioSet
from mockstatus.scenarios.schema import _Schema
from mockstatus.scenarios.values import _V, At

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCT = yaml.constructor.SafeConstructor()
_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "null", "timestamp"})
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks, for source lines


def folder_files(path: Path) -> list[Path]:
    """Every `*.yaml` / `*.yml` file directly in the folder `path`, by file name (symbolic links
    included: `load_files(..., inside=path)` decides whether one is followed). Raises OSError."""
    return sorted(
        (p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()),
        key=lambda p: p.name,
    )


def load_folder(path: Path) -> ScenarioSet:
    """Every `*.yaml` / `*.yml` directly in `path`, by file name; `file:` resolves inside `path`;
    a symbolic link is followed only to a file inside `path` (`confined`)."""
    try:
        if not path.is_dir():
            what = "is not a folder" if path.exists() else "does not exist"
            raise ScenarioError([ScenarioProblem(str(path), 1, 1, f"scenarios folder {what}")])
        files = folder_files(path)
    except (OSError, ValueError) as exc:
        message = f"cannot read scenarios folder: {getattr(exc, 'strerror', None) or exc}"
        raise ScenarioError([ScenarioProblem(str(path), 1, 1, message)]) from None
    return load_files(files, base_dir=path, inside=path)


LINK_OUTSIDE = (
    "symbolic link to a file outside the scenarios folder: not read (a link is followed only to "
    "a file inside the folder, as a Kubernetes ConfigMap mount makes them)"
)


def confined(path: Path, folder: Path) -> Path | None:
    """The file to open for `path`, a file listed in `folder`: itself, or for a symbolic link
    the file it resolves to when that lies inside the resolved `folder` (a ConfigMap mount links
    `x.yaml` -> `..data/x.yaml`, `..data` -> `..2026_01_01`); None for a link that leads out.
    The resolved path is what gets opened, so the link is not followed a second time."""
    if not path.is_symlink():
        return path
    try:
        target = path.resolve()
        root = folder.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop, made since the listing
        return None
    return target if target.is_relative_to(root) else None


def load_files(
    paths: Sequence[Path], base_dir: Path | None = None, inside: Path | None = None
) -> ScenarioSet:
    """Load `paths` in order; `file:` resolves inside `base_dir` (default: each file's folder).
    With `inside` (the folder they were listed in), a symbolic link out of it is not read: a
    located problem names the link and says why, never what it points to."""
    sources: list[_Source] = []
    scenarios: list[Scenario] = []
    for path in paths:
        source = _Source(str(path), base_dir if base_dir is not None else path.parent)
        sources.append(source)
        readable = confined(path, inside) if inside is not None else path
        if readable is None:
            source.problem((1, 1), LINK_OUTSIDE)
            continue
        text = source.read(readable)
        scenario = source.load(text, path.stem) if text is not None else None
        if scenario is not None:
            scenarios.append(scenario)
    # Duplicate names are reported in every file that uses the name.
    by_name: dict[str, list[_Source]] = {}
    for source in sources:
        if source.schema.name is not None:
            by_name.setdefault(source.schema.name, []).append(source)
    for name, users in by_name.items():
        for source in users if len(users) > 1 else ():
            others = ", ".join(other.file for other in users if other is not source)
            source.problem(
                source.schema.name_at, f"duplicate scenario name '{name}' (also in {others})"
            )
    problems = [problem for source in sources for problem in source.sorted_problems()]
    if problems:
        raise ScenarioError(problems)
    return ScenarioSet(tuple(scenarios))


def load_text(text: str, filename: str, base_dir: Path, default_name: str) -> Scenario:
    """One scenario from text (a runtime upload); `file:` resolves inside `base_dir`."""
    source = _Source(filename, base_dir)
    scenario = source.load(text, default_name)
    if scenario is None:
        raise ScenarioError(source.sorted_problems())
    return scenario


def not_utf8(file: str, data: bytes, exc: UnicodeDecodeError) -> ScenarioProblem:
    """The located problem for a file (or upload) that is not UTF-8: where its first bad byte is."""
    line = data.count(b"\n", 0, exc.start) + 1
    col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    message = f"file is not UTF-8 text (byte 0x{data[exc.start]:02x})"
    return ScenarioProblem(file, line, col, message)


class _Abort(Exception):
    """The file cannot be read further; the reason is already recorded as a problem."""


def _position(text: str, index: int) -> At:
    """1-based (line, column) of `text[index]`."""
    return (text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index))


def _flow_overflow(text: str) -> int | None:
    """Index of the first `[`/`{` that opens flow level MAX_DEPTH + 1, or None.

    A lexical scan (quoted scalars and comments skipped), used only to explain a file PyYAML
    already refused, so an approximate reading of plain scalars costs nothing.
    """
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif c in "]}":
            depth = max(0, depth - 1)
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "'\"":
            i += 1
            while i < n and text[i] != c:
                i += 2 if c == '"' and text[i] == "\\" else 1
        i += 1
    return None


_UNQUOTED_BRACES = re.compile(r"[:,\[]\s*[^\s'\"{\[,][^,}\]]*\{[A-Za-z_*]")


def _syntax_hint(text: str, exc: yaml.MarkedYAMLError, at: At) -> str:
    """Say what the usual cause of a YAML syntax error is, where it is recognisable."""
    line = text.splitlines()[at[0] - 1] if 0 < at[0] <= len(text.splitlines()) else ""
    if "\t" in line[: max(at[1], 1)] or (exc.problem or "").find("'\\t'") >= 0:
        return " (a tab: YAML indents with spaces only; replace the tab with spaces)"
    if "flow mapping" in (exc.context or "") and _UNQUOTED_BRACES.search(line):
        return (
            " (a value with { } inside a { } mapping must be quoted, as in {path: '/orders/{id}'})"
        )
    return ""


def _mark(mark: Any) -> At:
    return mark.line + 1, mark.column + 1


class _Source:
    """One file: its problems, and its YAML composed into located values for the schema."""

    def __init__(self, file: str, base_dir: Path | None) -> None:
        self.file = file
        self.lines: list[str] = []
        self.problems: list[ScenarioProblem] = []
        self.budget = MAX_VALUES
        self.schema = _Schema(file, base_dir, self.problem)  # validates, reports to problem()

    def problem(self, at: _V | At, message: str) -> None:
        line, col = (at.line, at.col) if isinstance(at, _V) else at
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.problems.append(ScenarioProblem(self.file, line, col, message, source))

    def sorted_problems(self) -> list[ScenarioProblem]:
        return sorted(self.problems, key=lambda p: (p.line, p.column))

    # -- reading and composing ---------------------------------------------------------------

    def read(self, path: Path) -> str | None:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            self.problem((1, 1), "file not found")
            return None
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            self.problem((1, 1), f"cannot read file: {getattr(exc, 'strerror', None) or exc}")
            return None
        if len(data) > MAX_FILE_BYTES:
            self.problem((1, 1), "file is larger than 1 MiB, the limit for a scenario file")
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self.problems.append(not_utf8(self.file, data, exc))
            return None

    def load(self, text: str, default_name: str) -> Scenario | None:
        self.lines = _LINE_BREAK.split(text)
        if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
            self.problem((1, 1), "file is larger than 1 MiB, the limit for a scenario file")
            return None
        node = self.compose(text)
        if node is None:
            if not self.problems:
                self.problem((1, 1), "file is empty: a scenario needs 'routes'")
            return None
        try:
            root = self.convert(node, 0)
        except _Abort:
            return None
        scenario = self.schema.scenario(root, default_name)
        if scenario is None and not self.problems:  # pragma: no cover - every None has a problem
            self.problem((1, 1), "scenario could not be loaded")
        if scenario is not None and self.schema.warnings:
            notes = []
            for at, message in self.schema.warnings:
                line, col = (at.line, at.col) if isinstance(at, _V) else at
                notes.append(str(ScenarioProblem(self.file, line, col, message)))
            scenario = replace(scenario, warnings=tuple(notes))
        return None if self.problems else scenario

    def compose(self, text: str) -> yaml.Node | None:
        try:
            # Check nesting on the event stream first: libyaml's composer recurses in C, and
            # its scanner is quadratic in flow depth, so a deep file is stopped early here.
            depth = 0
            for event in yaml.parse(text, Loader=_LOADER):
                if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        message = f"values nest more than {MAX_DEPTH} levels deep"
                        self.problem(_mark(event.start_mark), message)
                        return None
                elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                    depth -= 1
            return yaml.compose(text, Loader=YieldingLoader)  # off-loop builds stay fair
        except yaml.MarkedYAMLError as exc:
            # Some PyYAML versions refuse deep flow nesting in their scanner, ahead of the event
            # check above and in their own words: report ours, whatever the version.
            deep = _flow_overflow(text)
            if deep is not None:
                self.problem(
                    _position(text, deep), f"values nest more than {MAX_DEPTH} levels deep"
                )
                return None
            mark = exc.problem_mark or exc.context_mark
            reason = ", ".join(part for part in (exc.context, exc.problem) if part)
            at = _mark(mark) if mark else (1, 1)
            self.problem(at, f"YAML syntax error: {reason}{_syntax_hint(text, exc, at)}")
        except yaml.reader.ReaderError as exc:
            char = exc.character
            index = text.find(chr(char)) if isinstance(char, int) else -1
            at = _position(text, index) if index >= 0 else (1, 1)
            shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
            self.problem(at, f"YAML syntax error: unacceptable character {shown}: {exc.reason}")
        except yaml.YAMLError as exc:
            self.problem((1, 1), f"YAML error: {exc}")
        return None

    def convert(self, node: yaml.Node, depth: int) -> _V:
        """Node → _V. Aliases are expanded, so the value budget bounds alias bombs and cycles."""
        at = _mark(node.start_mark)
        self.budget -= 1
        if self.budget < 0 or depth > MAX_DEPTH:
            self.problem(
                at,
                f"document expands to more than {MAX_VALUES} values or {MAX_DEPTH} "
                "levels (through aliases?)",
            )
            raise _Abort
        tag = node.tag or ""
        if isinstance(node, yaml.ScalarNode):
            kind = tag[len(_STD) :] if tag.startswith(_STD) else tag
            if kind not in _SCALAR_TAGS:
                return self.bad(at, tag)
            text = node.value
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    self.problem(at, "text holds an invalid Unicode surrogate")
                    return _V("bad", None, text, *at)
            if kind in ("str", "timestamp"):  # dates stay text: scenarios have no date values
                return _V("str", text, text, *at)
            if kind == "null":
                return _V("null", None, text, *at)
            try:
                value = getattr(_CONSTRUCT, f"construct_yaml_{kind}")(node)
            except (ValueError, OverflowError):
                self.problem(at, f"number {text[:40]!r} is too large")
                return _V("bad", None, text, *at)
            return _V(kind, value, text, *at)
        if isinstance(node, yaml.SequenceNode):
            if tag != _STD + "seq":
                return self.bad(at, tag)
            return _V("seq", [self.convert(item, depth + 1) for item in node.value], "", *at)
        if tag != _STD + "map":
            return self.bad(at, tag)
        values: dict[str, _V] = {}
        keys: dict[str, At] = {}
        merged: list[_V] = []
        for key_node, value_node in node.value:
            key_at = _mark(key_node.start_mark)
            if key_node.tag == _STD + "merge":
                merged.append(self.convert(value_node, depth + 1))
            elif not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_at, "a key must be a plain value, not a list or a mapping")
            elif key_node.value in keys:
                first = keys[key_node.value][0]
                self.problem(key_at, f"duplicate key '{key_node.value}' (first on line {first})")
            else:
                keys[key_node.value] = key_at
                values[key_node.value] = self.convert(value_node, depth + 1)
        # `<<: *base`: explicit keys win, then earlier merge sources over later ones (YAML merge).
        for source in merged:
            for item in source.value if source.kind == "seq" else [source]:
                if item.kind != "map":
                    self.problem(item, "'<<' merges a mapping or a list of mappings")
                    continue
                for key, value in item.value.items():
                    if key not in values:
                        values[key], keys[key] = value, item.keys[key]  # type: ignore[index]
        return _V("map", values, "", *at, keys)

    def bad(self, at: At, tag: str) -> _V:
        shown = "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag
        self.problem(at, f"unsupported YAML tag '{shown}': scenario files hold plain data only")
        return _V("bad", None, "", *at)
