"""Hostile scenario uploads on a real listening server: a body that is not UTF-8 gets the same
located problem (file:line:column) as a folder file; a BOM and CRLF line endings keep the
positions right; concurrent PUT/DELETE of one name leave a consistent store."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx

URL = "/__mockstatus/scenarios/bad"


def test_non_utf8_upload_is_a_located_problem(server):
    body = b"name: bad\nroutes:\n  - match: {path: /a}\n    respond: {status: 200, body: caf\xe9}\n"
    resp = httpx.put(server.url(URL), content=body)
    assert resp.status_code == 400
    doc = resp.json()
    assert doc["problems"] == ["<upload:bad>:4:37: file is not UTF-8 text (byte 0xe9)"]
    assert doc["details"] == [
        {
            "file": "<upload:bad>",
            "line": 4,
            "column": 37,
            "message": "file is not UTF-8 text (byte 0xe9)",
        }
    ]
    assert httpx.get(server.url(URL)).status_code == 404  # nothing was stored


def test_bom_and_crlf_upload_locates_the_unknown_key(server):
    body = (
        b"\xef\xbb\xbfname: bad\r\nroutes:\r\n  - match: {path: /a}\r\n    respond: {bodyy: x}\r\n"
    )
    resp = httpx.put(server.url(URL), content=body)
    assert resp.status_code == 400
    assert resp.json()["problems"] == [
        "<upload:bad>:4:15: unknown key 'bodyy' in respond (did you mean 'body'?)"
    ]


def test_concurrent_puts_and_deletes_of_one_name_stay_consistent(server):
    yaml_text = "name: c\nroutes:\n  - match: {path: /c%d}\n    respond: {status: 201}\n"

    async def storm() -> list[int]:
        async with aiohttp.ClientSession(server.url("")) as session:

            async def one(i: int) -> int:
                if i % 2:
                    method, data = "PUT", (yaml_text % i).encode()
                else:
                    method, data = "DELETE", b""
                async with session.request(method, "/__mockstatus/scenarios/c", data=data) as r:
                    return r.status

            return await asyncio.gather(*(one(i) for i in range(200)))

    statuses = asyncio.run(storm())
    assert set(statuses) <= {200, 201, 404}
    put = httpx.put(server.url("/__mockstatus/scenarios/c"), content=(yaml_text % 7).encode())
    assert put.status_code in (200, 201)
    listing = httpx.get(server.url("/__mockstatus/scenarios")).json()
    assert listing["uploads"].count("c") == 1
    assert [s["name"] for s in listing["scenarios"]].count("c") == 1
    assert httpx.get(server.url("/c7")).status_code == 201
    assert httpx.delete(server.url("/__mockstatus/scenarios/c")).json() == {"deleted": "c"}
    assert httpx.get(server.url("/c7")).status_code == 404


def test_recorder_redacts_a_body_nested_past_the_stack_whole(tmp_path):
    from mockstatus.record import Recorder

    recorder = Recorder(tmp_path, upstream="http://127.0.0.1:9", redact=frozenset({"token"}))
    deep = b'{"token": "s3cret", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert recorder._body(deep) == b"REDACTED"
    assert (
        recorder._body(b'{"token": "s3cret", "x": [[1]]}') == b'{"token": "REDACTED", "x": [[1]]}'
    )
