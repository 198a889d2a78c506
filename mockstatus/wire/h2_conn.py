"""The server's `h2` connection, with the stream errors that h2 4.x raises as connection errors.

RFC 9113 scopes them to the stream, and a connection error would kill every other stream the
client has in flight (other tests' streams on a pooled connection):
- a HEADERS frame opening a stream over SETTINGS_MAX_CONCURRENT_STREAMS: RST_STREAM(REFUSED_STREAM)
  (§5.1.2; safe to retry, §8.7) where h2 sends GOAWAY(PROTOCOL_ERROR);
- a malformed request (§8.1.1): a content-length that is not digits or repeats with another
  value, DATA that adds up to more or less than content-length, END_STREAM on the HEADERS of a
  request whose content-length is not 0, trailers without END_STREAM (§8.1):
  RST_STREAM(PROTOCOL_ERROR);
- DATA still arriving on a stream we reset is ignored (§5.1), where h2 resets it again per frame.
The header block is always decoded first, so the HPACK state stays in step with the client's.
These override h2's private `_receive_headers_frame` / `_receive_data_frame` (their bodies copied
from h2 4.1-4.4 with the checks changed): h2 has no hook for either decision.

A header block split over HEADERS + CONTINUATION frames is capped at H2_MAX_HEADER_BLOCK bytes
while it accumulates (h2 only counts frames: 64 of up to 16 KiB each, ~1 MiB held per
connection before it refuses). Over the cap the connection ends with GOAWAY(ENHANCE_YOUR_CALM)
(§10.5, §10.5.1): a 431 on the stream would need the whole block decoded first to keep the
HPACK state in step (§4.3), which means holding exactly what the cap refuses.
"""

from __future__ import annotations

from typing import Any

import h2.connection
from h2.connection import AllowedStreamIDs, ConnectionInputs, _decode_headers
from h2.errors import ErrorCodes
from h2.events import Event, PriorityUpdated, StreamReset
from h2.exceptions import InvalidBodyLengthError, ProtocolError, StreamClosedError
from h2.frame_buffer import FrameBuffer
from h2.stream import StreamClosedBy, StreamInputs, StreamState
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    RstStreamFrame,
    WindowUpdateFrame,
)

from mockstatus.limits import H2_MAX_HEADER_BLOCK


class HeaderBlockTooLarge(ProtocolError):
    """A HEADERS + CONTINUATION block over H2_MAX_HEADER_BLOCK: GOAWAY(ENHANCE_YOUR_CALM)."""

    error_code = ErrorCodes.ENHANCE_YOUR_CALM


class _CappedFrameBuffer(FrameBuffer):
    """h2's frame buffer, refusing a header block as soon as its fragments pass the cap."""

    def __init__(self) -> None:
        super().__init__(server=True)
        self.block_size = 0

    def _update_header_buffer(self, f: Frame | None) -> Frame | None:
        if self._headers_buffer:
            if isinstance(f, ContinuationFrame):  # anything else: h2 refuses it below
                self.block_size += len(f.data)
                if self.block_size > H2_MAX_HEADER_BLOCK:
                    raise HeaderBlockTooLarge(
                        f"a header block over {H2_MAX_HEADER_BLOCK} bytes (HEADERS + CONTINUATION)"
                    )
        elif isinstance(f, HeadersFrame) and "END_HEADERS" not in f.flags:
            self.block_size = len(f.data)
        return super()._update_header_buffer(f)


def _bad_content_length(headers: list[Any]) -> bool:
    """§8.1.1 via RFC 9110 §8.6: content-length is 1*DIGIT; repeats must agree."""
    values = {v for n, v in headers if n == b"content-length"}
    return any(not v.isdigit() for v in values) or len({int(v) for v in values}) > 1


def _stream_reset(stream_id: int, code: ErrorCodes) -> StreamReset:
    """A StreamReset event we raise ourselves (remote_reset False: not the client's)."""
    try:
        return StreamReset(stream_id=stream_id, error_code=code, remote_reset=False)
    except TypeError:  # h2 < 4.2 (our lower bound is 4.1): events take no arguments
        event = StreamReset()  # type: ignore[call-arg]
        event.stream_id, event.error_code, event.remote_reset = stream_id, code, False
        return event


class ServerConnection(h2.connection.H2Connection):
    """h2's connection with the stream-scoped errors above (see the module docstring)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config=config)
        self.incoming_buffer = _CappedFrameBuffer()

    def _refuse(self, stream: Any, code: ErrorCodes) -> tuple[list[Frame], list[Event]]:
        """RST_STREAM(code) and a StreamReset event (remote_reset False: not the client's)."""
        if stream.state_machine.state == StreamState.IDLE:
            stream.state_machine.process_input(StreamInputs.RECV_HEADERS)  # opened, to be reset
        frames = stream.reset_stream(code)
        return frames, [_stream_reset(stream.stream_id, code)]

    def _receive_headers_frame(self, frame: HeadersFrame) -> tuple[list[Frame], list[Event]]:
        sid = frame.stream_id
        existing = sid in self.streams
        over = not existing and self.open_inbound_streams + 1 > (
            self.local_settings.max_concurrent_streams
        )
        headers = list(_decode_headers(self.decoder, frame.data))  # always: keeps HPACK in step
        events = self.state_machine.process_input(ConnectionInputs.RECV_HEADERS)
        stream = self._get_or_create_stream(sid, AllowedStreamIDs(not self.config.client_side))
        end_stream = "END_STREAM" in frame.flags
        if over:
            frames, reset = self._refuse(stream, ErrorCodes.REFUSED_STREAM)
            return frames, events + reset
        if not existing and _bad_content_length(headers):
            frames, reset = self._refuse(stream, ErrorCodes.PROTOCOL_ERROR)
            return frames, events + reset
        try:
            frames, stream_events = stream.receive_headers(
                headers, end_stream, self.config.header_encoding
            )
        except StreamClosedError:
            raise  # h2's own answer: RST_STREAM(STREAM_CLOSED)
        except ProtocolError:
            if not existing:
                raise
            frames, reset = self._refuse(stream, ErrorCodes.PROTOCOL_ERROR)  # bad trailers
            return frames, events + reset
        if not existing and end_stream and stream._expected_content_length not in (None, 0):
            frames, reset = self._refuse(stream, ErrorCodes.PROTOCOL_ERROR)
            return frames, events + reset
        if "PRIORITY" in frame.flags:
            p_frames, p_events = self._receive_priority_frame(frame)
            if stream_events and p_events and isinstance(p_events[0], PriorityUpdated):
                stream_events[0].priority_updated = p_events[0]  # type: ignore[attr-defined]
            stream_events.extend(p_events)
            frames += p_frames
        return frames, events + stream_events

    def _handle_data_on_closed_stream(
        self, events: list[Event], exc: StreamClosedError, frame: DataFrame
    ) -> tuple[list[Frame], list[Event]]:
        """§5.1: DATA on a stream we reset is ignored (a refused request's body is still on
        its way), not answered with one more RST_STREAM per frame; the connection's window is
        still given back."""
        frames, events = super()._handle_data_on_closed_stream(events, exc, frame)
        if self._stream_closed_by(frame.stream_id) == StreamClosedBy.SEND_RST_STREAM:
            frames = [f for f in frames if not isinstance(f, RstStreamFrame)]
        return frames, events

    def _receive_data_frame(self, frame: DataFrame) -> tuple[list[Frame], list[Event]]:
        length = frame.flow_controlled_length
        events = self.state_machine.process_input(ConnectionInputs.RECV_DATA)
        self._inbound_flow_control_window_manager.window_consumed(length)
        try:
            stream = self._get_stream_by_id(frame.stream_id)
            frames, stream_events = stream.receive_data(
                frame.data, "END_STREAM" in frame.flags, length
            )
        except StreamClosedError as e:
            return self._handle_data_on_closed_stream(events, e, frame)
        except InvalidBodyLengthError:
            frames, reset = self._refuse(stream, ErrorCodes.PROTOCOL_ERROR)
            # The connection's window is given back: nobody will acknowledge these bytes.
            increment = self._inbound_flow_control_window_manager.process_bytes(length)
            if increment:
                frames.append(WindowUpdateFrame(0, window_increment=increment))
            return frames, events + reset
        return frames, events + stream_events
