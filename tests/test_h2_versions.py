"""`/anything`'s `http_version` has one form on every protocol, the journal's: "HTTP/1.1",
"HTTP/1.0", "HTTP/2" (it was "1.1" on HTTP/1.1 and "HTTP/2" on h2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockstatus.http_syntax import ADMIN_PREFIX
from mockstatus.runner import BackgroundServer
from tests import rawhttp
from tests.test_h2_rawclient import H2Client, h2_server


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[BackgroundServer]:
    server = h2_server(tmp_path)
    yield server
    server.stop()


def journalled(srv: Any, path: str) -> str:
    entries = httpx.get(f"{srv.base_url}{ADMIN_PREFIX}/requests?path={path}").json()["requests"]
    (entry,) = entries
    return str(entry["http_version"])


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_anything_over_http1_names_the_version_as_the_journal_does(srv: Any, version: str) -> None:
    path = f"/anything/{version[-3:]}"
    _, r = rawhttp.request(srv.port, "GET", path, version=version)
    assert r.status == 200
    assert json.loads(r.body)["http_version"] == version
    assert journalled(srv, path) == version


def test_anything_over_http2_names_the_version_as_the_journal_does(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.get("/anything/two")
    assert a.status == 200
    assert json.loads(a.body)["http_version"] == "HTTP/2"
    assert journalled(srv, "/anything/two") == "HTTP/2"
