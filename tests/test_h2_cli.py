"""`--http2 on|off` and `--h2-max-streams N` (flag > MOCKSTATUS_* variable > default), and the
idle HTTP/2 connection closing with GOAWAY."""

from __future__ import annotations

import io
import socket
from typing import Any

import pytest
from hyperframe.frame import GoAwayFrame, SettingsFrame

from mockstatus import cli
from tests.test_h2_rawclient import PREFACE, h2_server, read_frames


@pytest.mark.parametrize(
    ("env", "http2", "streams"),
    [
        ({}, True, 100),
        ({"MOCKSTATUS_HTTP2": "off"}, False, 100),
        ({"MOCKSTATUS_HTTP2": "on", "MOCKSTATUS_H2_MAX_STREAMS": "7"}, True, 7),
    ],
    ids=["defaults", "env-off", "env-streams"],
)
def test_settings_from_the_environment(env: dict[str, str], http2: bool, streams: int) -> None:
    values = cli.environment_defaults(env)
    assert (values["http2"], values["h2_max_streams"]) == (http2, streams)


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        (["serve", "--http2", "maybe"], {}, "invalid switch 'maybe'"),
        (["serve", "--h2-max-streams", "0"], {}, "an integer from 1 to 10000"),
        (["serve"], {"MOCKSTATUS_H2_MAX_STREAMS": "x"}, "MOCKSTATUS_H2_MAX_STREAMS: invalid value"),
    ],
    ids=["bad-switch", "zero-streams", "bad-env"],
)
def test_bad_values_are_usage_errors(argv: list[str], env: dict[str, str], says: str) -> None:
    out = io.StringIO()
    assert cli.main(argv, env=env, out=out) == 2
    assert says in out.getvalue()


def test_an_idle_connection_gets_goaway_and_closes(tmp_path: Any) -> None:
    server = h2_server(tmp_path, idle_timeout=0.2)
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(PREFACE + SettingsFrame(0).serialize())
        frames = read_frames(sock)  # nothing asked: the server says GOAWAY, then closes
    finally:
        server.stop()
    goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert [(g.error_code, g.last_stream_id) for g in goaways] == [(0, 0)]


def test_a_storm_of_bad_http2_connections_leaves_no_traceback(tmp_path: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests import rawhttp

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKSTATUS_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockstatus", "serve", "--quiet", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    bad = [
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",  # a bad preface
        PREFACE + b"\x00\x00\x03\x00\x00\x00\x00\x00\x00abc",  # DATA on stream 0
        PREFACE + b"\x00\x00\x05\x01\x05\x00\x00\x00\x01\xff\xff\xff\xff\xff",  # broken HPACK
    ]
    try:
        line = proc.stdout.readline().decode()  # type: ignore[union-attr]
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        for i in range(300):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(bad[i % len(bad)])
                frames = read_frames(sock)
                assert isinstance(frames[-1], GoAwayFrame) and frames[-1].error_code in (1, 9)
        _, final = rawhttp.request(port, "GET", "/status/204")
        assert final.status == 204  # still serving
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        err = proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert b"Traceback" not in err and len(err) <= 200, err[:2000]
