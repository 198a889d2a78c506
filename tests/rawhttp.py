"""A tiny raw HTTP/1.x client for tests that must see the exact bytes (interims, faults, framing)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

TIMEOUT = 5.0


@dataclass
class RawResponse:
    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    head: bytes = b""

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


def connect(port: int, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


class Reader:
    """Reads responses off one connection, in order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self) -> RawResponse:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError(f"closed before a full head: {self.buf!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"(HTTP/\d\.\d) (\d{3}) ?(.*)", lines[0])
        assert m, f"not a status line: {lines[0]!r}"
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
        return RawResponse(int(m.group(2)), m.group(3), m.group(1), headers, head=head)  # type: ignore[arg-type]

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ConnectionError("closed before the body ended")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_close(self) -> bytes:
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def read_response(self, method: str = "GET") -> tuple[list[RawResponse], RawResponse]:
        """(interims, final): 1xx heads are collected until a final response arrives."""
        interims = []
        while True:
            resp = self.read_head()
            if resp.status >= 200 or resp.status == 101:
                break
            interims.append(resp)
        if method == "HEAD" or resp.status in (204, 304) or resp.status == 101:
            return interims, resp
        length = resp.header("Content-Length")
        if length is not None:
            resp.body = self.read_exact(int(length))
        elif (resp.header("Transfer-Encoding") or "").lower() == "chunked":
            resp.body = self._chunked()
        else:
            resp.body = self.read_to_close()
        return interims, resp

    def _chunked(self) -> bytes:
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                if not self._fill():
                    raise ConnectionError("closed in chunked body")
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                self.read_exact(2)
                return out
            out += self.read_exact(size)
            self.read_exact(2)


def request(
    port: int,
    method: str = "GET",
    target: str = "/",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> tuple[list[RawResponse], RawResponse]:
    """One request on a fresh connection; returns (interims, final)."""
    with connect(port) as sock:
        sock.sendall(build(method, target, headers, body, version))
        return Reader(sock).read_response(method)


def build(
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    hdrs = {"Host": "127.0.0.1", **(headers or {})}
    if body and "Content-Length" not in hdrs:
        hdrs["Content-Length"] = str(len(body))
    lines = [f"{method} {target} {version}"] + [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
