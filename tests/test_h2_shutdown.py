"""Shutdown with HTTP/2 connections open: GOAWAY(NO_ERROR) at once, streams in flight finish
within the shutdown deadline, the rest are cut; read as raw frames."""

from __future__ import annotations

import socket
import threading
from typing import Any

from hpack import Encoder
from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame, SettingsFrame

from tests.test_h2_rawclient import PREFACE, h2_server, read_frames, read_until


def start_request(port: int, path: str) -> socket.socket:
    """A connection with one stream open whose 102 interim shows the server is working on it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    block = Encoder().encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "x"), (":path", path)]
    )
    sock.sendall(
        PREFACE
        + SettingsFrame(0).serialize()
        + HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"]).serialize()
    )
    read_until(sock, lambda fs: any(isinstance(f, HeadersFrame) for f in fs))  # the 102
    return sock


def test_shutdown_sends_goaway_and_lets_the_stream_finish(tmp_path: Any) -> None:
    server = h2_server(tmp_path, shutdown_timeout=5.0)
    sock = start_request(server.port, "/status/503?interim=102&sleep=1500")
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    frames = read_frames(sock)
    stopper.join(10)
    kinds = [(type(f).__name__, f.stream_id) for f in frames]
    assert kinds[0] == ("GoAwayFrame", 0)  # first: no new streams
    assert frames[0].error_code == 0 and frames[0].last_stream_id == 1
    assert ("HeadersFrame", 1) in kinds  # then the answer in flight
    body = b"".join(f.data for f in frames if isinstance(f, DataFrame))
    assert body == b"503 Service Unavailable"


def test_a_stream_past_the_shutdown_deadline_is_cut(tmp_path: Any) -> None:
    server = h2_server(tmp_path, shutdown_timeout=0.2)
    sock = start_request(server.port, "/status/200?interim=102&sleep=30000")
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    frames = read_frames(sock)  # until the server closes the connection
    stopper.join(10)
    assert [type(f) for f in frames] == [GoAwayFrame]  # the GOAWAY, then no answer
