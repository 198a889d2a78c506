"""A raw HTTP/2 client for wire tests: the `h2` library as the client side over a real socket,
plus hyperframe for the frames h2 would refuse to send. Its own tests pin what it reports."""

from __future__ import annotations

import random
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
from hyperframe.frame import Frame

from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock

TIMEOUT = 5.0
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@dataclass
class Answer:
    """What one stream got back."""

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    interims: list[tuple[int, list[tuple[str, str]]]] = field(default_factory=list)
    body: bytes = b""
    ended: bool = False
    reset: int | None = None  # RST_STREAM error code

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n == name), None)


class H2Client:
    """`with H2Client(port) as c: c.get("/status/503")`"""

    def __init__(
        self,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        settings: dict[int, int] | None = None,
    ) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.answers: dict[int, Answer] = {}
        self.goaway: h2.events.ConnectionTerminated | None = None
        self.remote_settings: dict[int, int] = {}
        self.closed = False
        self.events: list[Any] = []
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.closed:
            try:
                self.sock.sendall(data)
            except OSError:  # the server reset or closed the connection
                self.closed = True

    def request(
        self,
        path: str,
        method: str = "GET",
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        end: bool = True,
    ) -> int:
        sid = self.conn.get_next_available_stream_id()
        fields = [
            (":method", method),
            (":scheme", "http"),
            (":authority", "localhost"),
            (":path", path),
            *(headers or []),
        ]
        self.conn.send_headers(sid, fields, end_stream=end and body is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end)
        self.answers[sid] = Answer()
        self.flush()
        return sid

    def upload(self, sid: int, data: bytes) -> None:
        """Send `data` within the server's windows; stops early when the answer arrives."""
        view = memoryview(data)
        answer = self.answers[sid]
        while view and answer.status is None and not self.closed:
            window = min(
                self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size
            )
            if window <= 0:
                self.pump()
                continue
            self.conn.send_data(sid, bytes(view[:window]), end_stream=len(view) <= window)
            view = view[window:]
            self.flush()

    def pump(self, timeout: float = TIMEOUT) -> bool:
        """Read once; False when the server closed the connection."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        if not data:
            self.closed = True
            return False
        for event in self.conn.receive_data(data):
            self.events.append(event)
            self._on(event)
        self.flush()
        return True

    def _on(self, event: Any) -> None:
        sid = getattr(event, "stream_id", None)
        answer = self.answers.get(sid) if sid is not None else None
        if isinstance(event, h2.events.InformationalResponseReceived) and answer is not None:
            fields = list(event.headers)
            answer.interims.append((int(dict(fields)[":status"]), fields[1:]))
        elif isinstance(event, h2.events.ResponseReceived) and answer is not None:
            fields = list(event.headers)
            answer.status = int(dict(fields)[":status"])
            answer.headers = [(n, v) for n, v in fields if not n.startswith(":")]
        elif isinstance(event, h2.events.DataReceived) and answer is not None:
            answer.body += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded) and answer is not None:
            answer.ended = True
        elif isinstance(event, h2.events.StreamReset) and answer is not None:
            answer.reset = event.error_code
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = event
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            for code, change in event.changed_settings.items():
                self.remote_settings[int(code)] = change.new_value

    def wait(self, sid: int, timeout: float = TIMEOUT) -> Answer:
        answer = self.answers[sid]
        while not (answer.ended or answer.reset is not None) and not self.closed:
            if not self.pump(timeout):
                break
        return answer

    def get(self, path: str, **kw: Any) -> Answer:
        return self.wait(self.request(path, **kw))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_frames(sock: socket.socket, timeout: float = TIMEOUT) -> list[Frame]:
    """Every frame the server sends until it closes the connection (raw-frame tests)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return parse_frames(data)


def read_until(
    sock: socket.socket, done: Callable[[list[Frame]], bool], timeout: float = TIMEOUT
) -> list[Frame]:
    """Frames until `done(frames)` holds or the server closes. (A client GOAWAY would do as an
    end marker, but h2 discards what it queued before reading one.)"""
    sock.settimeout(timeout)
    data = b""
    frames: list[Frame] = []
    while not done(frames):
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        frames = parse_frames(data)
    return frames


def parse_frames(data: bytes) -> list[Frame]:
    frames = []
    while len(data) >= 9:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        if len(data) < 9 + length:
            break
        frame.parse_body(memoryview(data[9 : 9 + length]))
        frames.append(frame)
        data = data[9 + length :]
    return frames


def h2_server(tmp_path: Any, *, scenarios: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """A started BackgroundServer; `ssl_context=` serves TLS (ALPN h2, http/1.1)."""
    folder = tmp_path / f"scen{random.random()}"
    folder.mkdir()
    for name, text in (scenarios or {}).items():
        (folder / name).write_text(text)
    app_kwargs = {
        k: kwargs.pop(k) for k in list(kwargs) if k in ("idle_timeout", "body_read_timeout", "log")
    }
    app = Mockstatus(clock=ManualClock(), rng=random.Random(1), scenarios_dir=folder, **app_kwargs)
    app.store.load_initial()
    ssl_context = kwargs.pop("ssl_context", None)
    server = (
        _TLSServer(app, ssl_context, **kwargs) if ssl_context else BackgroundServer(app, **kwargs)
    )
    return server.start()


class _TLSServer(BackgroundServer):
    def __init__(self, app: Mockstatus, context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.context = context

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    async def _start(self) -> None:
        from aiohttp import web

        from mockstatus.app import make_server

        self._runner = web.ServerRunner(make_server(self.app, **self.kwargs))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


@pytest.fixture
def h2srv(tmp_path: Any) -> Iterator[BackgroundServer]:
    server = h2_server(tmp_path)
    yield server
    server.stop()


def test_the_client_reads_one_answer(h2srv: BackgroundServer) -> None:
    with H2Client(h2srv.port) as client:
        answer = client.get("/status/418")
        assert (answer.status, answer.body, answer.ended) == (418, b"418 I'm a teapot", True)


def test_parse_frames_keeps_whole_frames_only() -> None:
    from hyperframe.frame import PingFrame

    ping = PingFrame(0, opaque_data=b"12345678").serialize()
    frames = parse_frames(ping + ping[:5])
    assert [type(f).__name__ for f in frames] == ["PingFrame"]
