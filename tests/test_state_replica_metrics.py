"""Metrics of several replicas in one exposition: labelled by replica, never summed."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mockstatus.state.replica_metrics import labelled, merge

A = """# HELP mockstatus_requests_total Requests answered.
# TYPE mockstatus_requests_total counter
mockstatus_requests_total{scenario="s",route="r",status="200",fault=""} 3
# HELP mockstatus_scenarios Scenarios currently loaded.
# TYPE mockstatus_scenarios gauge
mockstatus_scenarios 1
"""
B = A.replace("} 3", "} 5").replace(
    'mockstatus_requests_total{scenario="s",route="r",status="200",fault=""} 5',
    'mockstatus_requests_total{scenario="s",route="r",status="200",fault=""} 5\n'
    'mockstatus_requests_total{scenario="s",route="r",status="429",fault=""} 2',
)


def test_labelled():
    assert labelled('m{a="1"} 3', "h:1") == 'm{replica="h:1",a="1"} 3'
    assert labelled("m 3", "h:1") == 'm{replica="h:1"} 3'
    assert labelled("m{} 3", 'q"x') == 'm{replica="q\\"x"} 3'


def test_merge_labels_every_sample_and_keeps_one_help_per_family():
    text = merge(A, "a:1", {"b:2": B, "a:1": "ignored: this replica's own, stale"})
    assert text.count("# HELP mockstatus_requests_total") == 1
    samples = {
        (s.name, s.labels.get("replica"), s.labels.get("status")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples == {
        ("mockstatus_requests_total", "a:1", "200"): 3.0,
        ("mockstatus_requests_total", "b:2", "200"): 5.0,
        ("mockstatus_requests_total", "b:2", "429"): 2.0,
        ("mockstatus_scenarios", "a:1", None): 1.0,
        ("mockstatus_scenarios", "b:2", None): 1.0,
    }


def test_merge_alone_is_the_own_text_labelled():
    text = merge(A, "a:1", {})
    assert 'mockstatus_scenarios{replica="a:1"} 1' in text.splitlines()
