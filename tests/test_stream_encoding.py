"""Content codings (encoding.py): the choice from Accept-Encoding, the headers that go with a
coding, the coded faults, and `compress:` on scenario bodies and streams."""

from __future__ import annotations

import gzip
import zlib

import brotli
import httpx
import pytest

from mockstatus import encoding
from mockstatus.runner import BackgroundServer
from mockstatus.types import ResponsePlan


@pytest.mark.parametrize(
    ("compress", "accept", "expected"),
    [
        ("off", "gzip", None),
        ("auto", None, None),  # no header: identity for auto
        ("gzip", None, "gzip"),  # RFC 9110 §12.5.3: no header, any coding is acceptable
        ("auto", "gzip, deflate, br", "br"),
        ("auto", "gzip;q=1, br;q=0.5", "gzip"),
        ("auto", "deflate", "deflate"),
        ("auto", "identity", None),
        ("auto", "*", "br"),
        ("auto", "*;q=0", None),
        ("auto", "x-gzip", "gzip"),
        ("auto", "gzip;q=nope", None),
        ("gzip", "br", None),  # named but refused: identity
        ("gzip", "gzip;q=0", None),
        ("br", "br", "br"),
        ("deflate", "*", "deflate"),
    ],
)
def test_choose(compress: str, accept: str | None, expected: str | None) -> None:
    assert encoding.choose(compress, accept) == expected


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_streaming_encoder_flushes_each_piece(coding: str) -> None:
    enc = encoding.encoder(coding)
    first = enc.compress(b"data: one\n\n") + enc.flush()
    decoder = {
        "gzip": zlib.decompressobj(31),
        "deflate": zlib.decompressobj(15),
        "br": brotli.Decompressor(),
    }[coding]
    decode = decoder.decompress if coding != "br" else decoder.process
    assert decode(first) == b"data: one\n\n"  # readable before the stream ends
    rest = enc.compress(b"two") + enc.finish()
    assert decode(rest) == b"two"


def test_headers_for_a_coding() -> None:
    headers = (("Vary", "Accept"), ("ETag", '"abc"'), ("Content-Encoding", "x"))
    assert encoding.coding_headers(headers, "gzip") == (
        ("ETag", '"abc-gzip"'),
        ("Content-Encoding", "gzip"),
        ("Vary", "Accept, Accept-Encoding"),
    )
    assert encoding.coding_headers((("ETag", 'W/"v"'),), "br")[0] == ("ETag", 'W/"v-br"')
    assert encoding.coding_headers((), None) == (("Vary", "Accept-Encoding"),)
    assert encoding.coding_headers((("Vary", "*"),), "gzip") == (
        ("Vary", "*"),
        ("Content-Encoding", "gzip"),
    )
    assert encoding.coding_headers((), "gzip", "wrong-encoding")[0] == (
        "Content-Encoding",
        "deflate",
    )


def test_coded_faults_on_a_body() -> None:
    plan = ResponsePlan(200, "OK", body=b"x" * 1000)
    good = encoding.compress_plan(plan, "gzip")
    assert gzip.decompress(good.body) == b"x" * 1000
    bad = encoding.compress_plan(plan, "gzip", "corrupt-encoding")
    assert len(bad.body) == len(good.body) and bad.body != good.body
    with pytest.raises((OSError, zlib.error, EOFError)):
        gzip.decompress(bad.body)
    cut = encoding.compress_plan(plan, "gzip", "truncate-encoding")
    assert good.body.startswith(cut.body) and len(cut.body) < len(good.body)
    forced = encoding.compress_plan(plan, None, "corrupt-encoding")  # the fault codes anyway
    assert dict(forced.headers)["Content-Encoding"] == "gzip"
    ranged = ResponsePlan(206, "Partial Content", body=b"abc")
    assert encoding.compress_plan(ranged, "gzip") is ranged


SCENARIO = """
name: enc
routes:
  - match: {path: /auto}
    respond: {body: "hello hello hello", compress: auto}
  - match: {path: /events}
    respond:
      compress: gzip
      stream: {sse: [{data: one}, {data: two, delay: 1ms}]}
  - match: {path: /wrong}
    respond: {body: "hello", compress: gzip, fault: wrong-encoding}
"""


@pytest.fixture
def srv(make_server) -> BackgroundServer:
    return make_server({"e.yaml": SCENARIO})


def test_scenario_compress(srv: BackgroundServer) -> None:
    r = httpx.get(srv.url("/auto"), headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.text == "hello hello hello"
    assert "Accept-Encoding" in r.headers["vary"]
    assert r.headers["etag"].endswith('-gzip"')
    plain = httpx.get(srv.url("/auto"), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == "hello hello hello"
    assert plain.headers["etag"] != r.headers["etag"]
    r = httpx.get(srv.url("/events"), headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.text == "data: one\n\ndata: two\n\n"
    with pytest.raises(httpx.DecodingError):
        httpx.get(srv.url("/wrong"), headers={"Accept-Encoding": "gzip"})
