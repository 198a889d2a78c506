"""Regexes from scenario files, run on Google RE2: linear time in the input, whatever the pattern.

A backtracking engine (Python's `re`) can take exponential time: `~/redos/(a+)+$` against a
36-byte path froze the server for 9 s. RE2 has no lookaround and no backreferences — such a
pattern is a load error saying so — and each regex runs on a capped input (`limits`): a longer
value does not match, so a client cannot make one match cost more than a bounded scan.

The binding's Python layer (`re2.compile(...).search`) converts offsets between str and bytes on
every call and costs about 5x the C++ call underneath; the hot path calls `_re2.RE2.Match`
directly on UTF-8 bytes. `surrogatepass` keeps odd request bytes (aiohttp's surrogates) from
raising: they are just bytes that no `.` matches.
"""

from __future__ import annotations

import re2
from re2 import _re2

_ANCHOR_BOTH = _re2.RE2.Anchor.ANCHOR_BOTH
_UNANCHORED = _re2.RE2.Anchor.UNANCHORED

# RE2's own words → what a scenario author can do about it.
_HINTS = (
    ("invalid perl operator: (?=", "lookahead (?=…) is not supported"),
    ("invalid perl operator: (?!", "negative lookahead (?!…) is not supported"),
    ("invalid perl operator: (?<=", "lookbehind (?<=…) is not supported"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!…) is not supported"),
    ("invalid escape sequence: \\", "backreferences (\\1) and some escapes are not supported"),
    ("invalid named capture group", "use (?P<name>…) for a named group"),
    ("bad repetition operator", "possessive (a++) and other repetition forms are not supported"),
)


def _options(captures: bool) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would log every bad pattern to stderr itself
    options.never_capture = not captures
    return options


class SafeRegex:
    """One compiled user regex. `search` for header, query and body rules; `fullmatch_groups`
    for paths. Inputs longer than `cap` bytes (UTF-8) never match."""

    __slots__ = ("_names", "_re", "cap", "groupindex", "pattern")

    def __init__(self, pattern: str, cap: int, captures: bool = False) -> None:
        self.pattern = pattern
        self.cap = cap
        self._re = _re2.RE2(pattern.encode("utf-8", "surrogatepass"), _options(captures))
        if not self._re.ok():
            raise ValueError(_explain(self._re.error()))
        named = self._re.NamedCapturingGroups() if captures else []
        self._names = tuple((name.decode("utf-8"), index) for name, index in named)
        self.groupindex = dict(self._names)

    def __repr__(self) -> str:
        return f"SafeRegex({self.pattern!r})"

    def search(self, text: str) -> bool:
        """Whether the regex occurs anywhere in `text` (False when `text` is over the cap)."""
        data = text.encode("utf-8", "surrogatepass")
        if len(data) > self.cap:
            return False
        start: int = self._re.Match(_UNANCHORED, data, 0, len(data))[0][0]  # -1: no match
        return start >= 0

    def search_bytes(self, data: bytes) -> bool:
        if len(data) > self.cap:
            return False
        start: int = self._re.Match(_UNANCHORED, data, 0, len(data))[0][0]  # -1: no match
        return start >= 0

    def fullmatch_groups(self, text: str) -> dict[str, str] | None:
        """The named groups when the whole of `text` matches (those that took part), else None."""
        data = text.encode("utf-8", "surrogatepass")
        if len(data) > self.cap:
            return None
        spans = self._re.Match(_ANCHOR_BOTH, data, 0, len(data))
        if spans[0][0] < 0:
            return None
        found = {}
        for name, index in self._names:
            start, end = spans[index]
            if start >= 0:
                found[name] = data[start:end].decode("utf-8", "surrogatepass")
        return found


def _explain(error: bytes | str) -> str:
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    for prefix, hint in _HINTS:
        if text.startswith(prefix):
            return f"{text} ({hint}: regexes run on RE2, which never backtracks)"
    return f"{text} (regexes run on RE2 syntax)"


__all__ = ["SafeRegex"]
