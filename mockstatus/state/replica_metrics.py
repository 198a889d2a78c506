"""Metrics of several replicas in one Prometheus text: every sample gets a `replica` label.

Counts are labelled, not summed (a sum would hide which replica answered what, and a restarted
replica's counter would seem to go backwards). Each replica publishes its own text to the
store; `merge` puts them into one exposition, one HELP/TYPE pair per family, the families in
the order this replica renders them. Pure text functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labelled(sample: str, replica: str) -> str:
    """`name{a="1"} 3` -> `name{replica="r",a="1"} 3`; `name 3` -> `name{replica="r"} 3`."""
    label = f'replica="{_escape(replica)}"'
    name, sep, rest = sample.partition("{")
    if sep and " " not in name:
        close = "" if rest.startswith("}") else ","
        return f"{name}{{{label}{close}{rest}"
    name, _, value = sample.partition(" ")
    return f"{name}{{{label}}} {value}"


def families(text: str) -> dict[str, tuple[list[str], list[str]]]:
    """name -> (its # HELP/# TYPE lines, its samples), in order."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    current: tuple[list[str], list[str]] | None = None
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# "):
            parts = line.split(" ", 3)
            name = parts[2] if len(parts) > 2 else ""
            current = out.setdefault(name, ([], []))
            if line not in current[0]:
                current[0].append(line)
        elif current is not None:
            current[1].append(line)
    return out


def merge(own: str, replica: str, others: Mapping[str, str]) -> str:
    """This replica's text and the others' (by replica id), every sample labelled."""
    merged = {
        name: (meta, [labelled(s, replica) for s in samples])
        for name, (meta, samples) in families(own).items()
    }
    for other, text in sorted(others.items()):
        if other == replica:
            continue
        for name, (meta, samples) in families(text).items():
            entry = merged.setdefault(name, (meta, []))
            entry[1].extend(labelled(s, other) for s in samples)
    lines: list[str] = []
    for meta, samples in merged.values():
        lines += meta
        lines += samples
    return "\n".join(lines) + "\n"
