"""Counters for `GET /__mockstatus/metrics`, rendered in the Prometheus text format (0.0.4)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from mockstatus import accesslog

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_order(item: tuple[tuple[object, ...], int]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in item[0])


def _labels(names: tuple[str, ...], values: tuple[object, ...]) -> str:
    texts = tuple("" if v is None else str(v) for v in values)
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, texts, strict=True))


class Metrics:
    """Cheap on the hot path: one Counter increment per request."""

    REQUEST_LABELS = ("scenario", "route", "status", "fault")

    def __init__(self) -> None:
        self.requests: Counter[tuple[str | None, str | None, int, str | None]] = Counter()

    def observe(
        self, scenario: str | None, route: str | None, status: int, fault: str | None
    ) -> None:
        # Keys keep None and the int status: formatting waits until the metrics are read.
        self.requests[(scenario, route, status, fault)] += 1

    def render(
        self,
        *,
        rate_limited: Mapping[tuple[str, str], int],
        reloads: int,
        load_failures: int,
        load_errors: int,
        scenarios: int,
        journal_entries: int = 0,
        journal_bytes: int = 0,
        waiters: int = 0,
        log_lines_dropped: int | None = None,
    ) -> str:
        if log_lines_dropped is None:  # the access log is process-wide: read its counter here
            log_lines_dropped = accesslog.dropped()
        lines = [
            "# HELP mockstatus_requests_total Requests answered, by scenario route, status and fault.",
            "# TYPE mockstatus_requests_total counter",
        ]
        for key, n in sorted(self.requests.items(), key=_label_order):
            lines.append(f"mockstatus_requests_total{{{_labels(self.REQUEST_LABELS, key)}}} {n}")
        lines += [
            "# HELP mockstatus_rate_limit_rejections_total Requests a scenario rate limit answered with 429.",
            "# TYPE mockstatus_rate_limit_rejections_total counter",
        ]
        for scenario_route, n in sorted(rate_limited.items(), key=_label_order):
            lines.append(
                f"mockstatus_rate_limit_rejections_total{{{_labels(('scenario', 'route'), scenario_route)}}} {n}"
            )
        lines += [
            "# HELP mockstatus_reloads_total Successful reloads of the scenarios folder.",
            "# TYPE mockstatus_reloads_total counter",
            f"mockstatus_reloads_total {reloads}",
            "# HELP mockstatus_reload_failures_total Reloads rejected because the folder was invalid.",
            "# TYPE mockstatus_reload_failures_total counter",
            f"mockstatus_reload_failures_total {load_failures}",
            "# HELP mockstatus_load_errors Problems found by the last load of the scenarios folder.",
            "# TYPE mockstatus_load_errors gauge",
            f"mockstatus_load_errors {load_errors}",
            "# HELP mockstatus_scenarios Scenarios currently loaded.",
            "# TYPE mockstatus_scenarios gauge",
            f"mockstatus_scenarios {scenarios}",
            "# HELP mockstatus_journal_entries Requests currently held by the request journal.",
            "# TYPE mockstatus_journal_entries gauge",
            f"mockstatus_journal_entries {journal_entries}",
            "# HELP mockstatus_journal_bytes Estimated memory held by the request journal's entries.",
            "# TYPE mockstatus_journal_bytes gauge",
            f"mockstatus_journal_bytes {journal_bytes}",
            "# HELP mockstatus_journal_waiters Pending /__mockstatus/requests/wait calls.",
            "# TYPE mockstatus_journal_waiters gauge",
            f"mockstatus_journal_waiters {waiters}",
            "# HELP mockstatus_log_lines_dropped_total Access-log lines dropped because the output"
            " did not keep up.",
            "# TYPE mockstatus_log_lines_dropped_total counter",
            f"mockstatus_log_lines_dropped_total {log_lines_dropped}",
        ]
        return "\n".join(lines) + "\n"
