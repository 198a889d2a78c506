"""The admin API and scenarios over HTTP/2: the same handler, the same checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_h2_rawclient import H2Client, h2_server

SCENARIO = b"""name: h2demo
routes:
  - name: teapot
    match: {path: /h2/teapot}
    respond: {status: 418, headers: {X-Route: teapot}, body: "short and stout"}
"""


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[Any]:
    server = h2_server(tmp_path)
    yield server
    server.stop()


def test_health_over_http2(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/__mockstatus/health")
    assert a.status == 200 and a.header("content-type") == "application/json; charset=utf-8"
    assert json.loads(a.body)["status"] == "ok"


def test_upload_a_scenario_over_http2_then_match_it(srv: Any) -> None:
    with H2Client(srv.port) as c:
        put = c.get(
            "/__mockstatus/scenarios/h2demo",
            method="PUT",
            headers=[("content-type", "application/yaml")],
            body=SCENARIO,
        )
        assert put.status in (200, 201), put.body
        a = c.get("/h2/teapot")
        assert (a.status, a.header("x-route"), a.body) == (418, "teapot", b"short and stout")
        journal = c.get("/__mockstatus/requests")
    entries = json.loads(journal.body)["requests"]
    mine = [e for e in entries if e["path"] == "/h2/teapot"]
    assert [(e["status"], e["route"], e["http_version"]) for e in mine] == [
        (418, "teapot", "HTTP/2")
    ]


def test_admin_token_is_checked_over_http2(tmp_path: Any) -> None:
    import random

    from mockstatus.app import Mockstatus
    from mockstatus.runner import BackgroundServer

    app = Mockstatus(rng=random.Random(1), scenarios_dir=tmp_path, admin_token="s3cret")
    app.store.load_initial()
    with BackgroundServer(app) as server, H2Client(server.port) as c:
        refused = c.get("/__mockstatus/requests")
        allowed = c.get("/__mockstatus/requests", headers=[("authorization", "Bearer s3cret")])
    assert refused.status == 401
    assert refused.header("www-authenticate") == 'Bearer realm="mockstatus-admin"'
    assert allowed.status == 200
