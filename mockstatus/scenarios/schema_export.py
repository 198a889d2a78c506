"""The JSON Schema (draft-07) of a scenario file, generated from the loader's own key tables.

One source of truth: every mapping's allowed keys are the very tuples the validators pass to
`_Reader.mapping` (`schema._ROUTE_KEYS`, `responses._RESPONSE_KEYS`, …, listed in `TABLES`), so
a key added the normal way — to its tuple, with its branch in the validator — is in the schema
at once. `KEY_TYPES` adds what an editor shows for a key (its type, choices, a description); a
key it does not describe yet is accepted with any value. The schema is deliberately looser than
the loader where only the loader can judge (regex validity, template variables, `file:` paths,
ranges): every document the loader accepts validates; unknown keys and wrong shapes fail both.
"""

from __future__ import annotations

import json
from typing import Any

from mockstatus.h2_fault import ERROR_CODES
from mockstatus.scenarios import ratelimit_schema, responses, schema
from mockstatus.scenarios.ratelimit_styles import STYLES

Json = dict[str, Any]

_SCALAR: Json = {"type": ["string", "number", "integer", "boolean"]}
_DURATION: Json = {
    "type": ["number", "string"],
    "description": "seconds (a number) or a duration such as 250ms, 2s, 1m",
}
_INT_LIKE: Json = {"type": ["integer", "string"], "pattern": r"^\s*[0-9]{1,9}\s*$"}
_CONDITION: Json = {"$ref": "#/definitions/condition"}
_CONDITIONS: Json = {
    "type": "object",
    "additionalProperties": _CONDITION,
    "description": "name → a value, a '~regex', {present: true}, {absent: true} or {not: …}",
}


def _one_or_list(item: Json) -> Json:
    return {"anyOf": [item, {"type": "array", "items": item}]}


def _ref(name: str) -> Json:
    return {"$ref": f"#/definitions/{name}"}


# (table, key) → schema of the value. Tables are the names in TABLES.
KEY_TYPES: dict[tuple[str, str], Json] = {
    ("scenario", "name"): {**_SCALAR, "description": "the scenario's name (default: file stem)"},
    ("scenario", "description"): _SCALAR,
    ("scenario", "seed"): {"type": ["integer", "string"], "description": "repeatable draws"},
    ("scenario", "http2"): _ref("http2"),
    ("http2", "max_streams"): {
        "type": ["integer", "string"],
        "description": "SETTINGS_MAX_CONCURRENT_STREAMS of new HTTP/2 connections (docs/http2.md)",
    },
    ("scenario", "routes"): {"type": "array", "items": _ref("route"), "minItems": 1},
    ("route", "name"): _SCALAR,
    ("route", "match"): _ref("match"),
    ("route", "respond"): _ref("response"),
    ("route", "sequence"): {"type": "array", "items": _ref("step"), "minItems": 1},
    ("route", "after"): {"enum": list(schema._SEQUENCE_AFTER)},
    ("route", "per"): {
        "type": "string",
        "description": "global, client, header:NAME, cookie:NAME or query:NAME",
    },
    ("scenario", "limiters"): {
        "type": "object",
        "additionalProperties": _ref("rate_limit"),
        "description": "named rate limits the routes of this file share (rate_limit: NAME)",
    },
    ("route", "rate_limit"): {
        "anyOf": [
            {"type": "string", "description": "the name of one of the file's limiters"},
            _ref("rate_limit"),
            {
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, _ref("rate_limit")]},
                "minItems": 1,
                "description": "layered: every policy applies, the tightest decides",
            },
        ]
    },
    ("route", "outage"): _one_or_list(_ref("outage")),
    ("route", "chaos"): _one_or_list(_ref("chaos")),
    ("route", "latency"): _ref("latency"),
    ("route", "state"): _ref("state"),
    ("route", "priority"): {
        "type": ["integer", "string"],
        "description": "higher is tried first (default 0)",
    },
    ("match", "method"): _one_or_list(_SCALAR),
    ("match", "path"): {
        "type": ["string", "number"],
        "description": "/a/{id}, /static/**, /files/*.json or ~regex",
    },
    ("match", "query"): _CONDITIONS,
    ("match", "headers"): _CONDITIONS,
    ("match", "cookies"): _CONDITIONS,
    ("match", "form"): _CONDITIONS,
    ("match", "host"): _CONDITION,
    ("match", "body"): _ref("body"),
    ("body", "contains"): _SCALAR,
    ("body", "json"): {},
    ("body", "regex"): _SCALAR,
    ("body", "jsonpath"): {
        "type": "object",
        "description": "RFC 9535 query → a JSON value, '~regex', {present}, {absent} or {not}",
    },
    ("response", "status"): {
        "type": ["integer", "string", "array", "object"],
        "description": "200, '200:0.9,503:0.1', [200, 503] or {200: 0.9, 503: 0.1}",
    },
    ("response", "reason"): _SCALAR,
    ("response", "headers"): {
        "type": "object",
        "additionalProperties": _one_or_list(_SCALAR),
    },
    ("response", "body"): _SCALAR,
    ("response", "json"): {},
    ("response", "file"): _SCALAR,
    ("response", "etag"): _SCALAR,
    ("response", "interim"): _one_or_list({"enum": [100, 102, 103]}),
    ("response", "delay"): _DURATION,
    ("response", "fault"): {"anyOf": [{"type": "string"}, _ref("fault")]},
    ("response", "drip"): _ref("drip"),
    ("response", "times"): _INT_LIKE,
    ("fault", "kind"): {"type": "string"},
    ("fault", "delay"): _DURATION,
    ("fault", "drip"): _ref("drip"),
    ("fault", "error"): {
        "type": "string",
        "description": "rst_stream, goaway: an RFC 9113 error name (any case), e.g. CANCEL",
        "examples": list(ERROR_CODES),
    },
    ("fault", "graceful"): {"type": "boolean", "description": "goaway: after this answer"},
    ("drip", "chunk"): _INT_LIKE,
    ("drip", "every"): _DURATION,
    ("rate_limit", "limit"): _INT_LIKE,
    ("rate_limit", "window"): _DURATION,
    ("rate_limit", "algorithm"): {"enum": list(schema._RATE_ALGORITHMS)},
    ("rate_limit", "key"): {"type": "string"},
    ("rate_limit", "name"): _SCALAR,
    ("rate_limit", "unit"): {"enum": list(ratelimit_schema._UNITS)},
    ("rate_limit", "headers"): {
        "type": "array",
        "items": {"anyOf": [{"enum": list(STYLES)}, {"type": "object"}]},
        "description": "header styles: " + ", ".join(STYLES) + " (a name or {name: options})",
    },
    ("rate_limit", "respond"): _ref("response"),
    ("rate_limit", "retry_after"): {"enum": list(ratelimit_schema._RETRY_FORMS)},
    ("rate_limit", "cost"): {
        "type": ["integer", "string"],
        "description": "a number or a template",
    },
    ("rate_limit", "on_cost_error"): {"enum": list(ratelimit_schema._COST_ACTIONS)},
    ("outage", "start"): _DURATION,
    ("outage", "duration"): _DURATION,
    ("outage", "every"): _DURATION,
    ("outage", "offset"): _DURATION,
    ("outage", "respond"): _ref("response"),
    ("outage", "fault"): {"anyOf": [{"type": "string"}, _ref("fault")]},
    ("chaos", "probability"): {"type": "number", "minimum": 0, "maximum": 1},
    ("chaos", "respond"): _ref("response"),
    ("chaos", "fault"): {"anyOf": [{"type": "string"}, _ref("fault")]},
    ("state", "machine"): _SCALAR,
    ("state", "when"): _one_or_list(_SCALAR),
    ("state", "set"): _SCALAR,
    ("state", "per"): {
        "type": "string",
        "description": "global, client, header:NAME, cookie:NAME or query:NAME",
    },
}

# table → (the validator's key tuple, keys the loader requires)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "scenario": (schema._SCENARIO_KEYS, ("routes",)),
    "route": (schema._ROUTE_KEYS, ()),
    "match": (schema._MATCH_KEYS, ()),
    "body": (schema._BODY_KEYS, ()),
    "response": (responses._RESPONSE_KEYS, ()),
    "step": (responses._STEP_KEYS, ()),
    "fault": (responses._FAULT_KEYS, ("kind",)),
    "drip": (responses._DRIP_KEYS, ("chunk", "every")),
    "rate_limit": (schema._RATE_KEYS, ("limit", "window")),
    "outage": (schema._OUTAGE_KEYS, ("duration",)),
    "chaos": (schema._CHAOS_KEYS, ("probability",)),
    "state": (schema._STATE_KEYS, ("machine",)),
    "http2": (schema._HTTP2_KEYS, ()),
}


def _table(name: str) -> Json:
    keys, required = TABLES[name]
    lookup = "response" if name == "step" else name
    properties = {key: KEY_TYPES.get((lookup, key), KEY_TYPES.get((name, key), {})) for key in keys}
    out: Json = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def _latency() -> Json:
    kinds = schema._LATENCY_KINDS
    shapes: dict[str, Json] = {
        "fixed": _DURATION,
        "uniform": {"type": "array", "items": _DURATION, "minItems": 2, "maxItems": 2},
        "normal": _pair("mean", "stddev"),
        "lognormal": _pair("median", "sigma"),
    }
    mapping = {
        "type": "object",
        "properties": {kind: shapes.get(kind, {}) for kind in kinds},
        "additionalProperties": False,
        "minProperties": 1,
        "maxProperties": 1,
    }
    return {"anyOf": [_DURATION, mapping]}


def _pair(first: str, second: str) -> Json:
    return {
        "type": "object",
        "properties": {first: _DURATION, second: {"type": ["number", "string"]}},
        "required": [first, second],
        "additionalProperties": False,
    }


def _condition() -> Json:
    single = [
        {
            "type": "object",
            "properties": {key: value},
            "required": [key],
            "additionalProperties": False,
        }
        for key, value in (
            ("present", {"type": "boolean"}),
            ("absent", {"type": "boolean"}),
            ("not", _CONDITION),
        )
    ]
    return {"anyOf": [{"type": ["string", "number", "integer", "boolean", "null"]}, *single]}


def scenario_schema() -> Json:
    """The whole schema: a scenario file's root and every mapping it may hold."""
    definitions: Json = {name: _table(name) for name in TABLES if name != "scenario"}
    definitions["latency"] = _latency()
    definitions["condition"] = _condition()
    root = _table("scenario")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "mockstatus scenario",
        "description": "A mockstatus scenario file (docs/scenarios.md, docs/authoring.md).",
        **root,
        "definitions": definitions,
    }


def schema_text() -> str:
    return json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n"
