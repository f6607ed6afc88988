"""HTTP/2 clients for the infosrv end-to-end tests.

H2Client drives python-h2 (Debian python3-h2) over a plain socket (prior
knowledge) or TLS (ALPN h2) and records every event per stream, so that
tests can assert on statuses, fields, DATA frames, flow control and GOAWAY.
RawH2 writes frames by hand (hyperframe, hpack) for what a well-behaved
client library refuses to send -- floods, resets, endless CONTINUATIONs --
and parses whatever comes back, frame by frame.
"""

import errno
import socket
import struct
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
from hyperframe.frame import HeadersFrame, SettingsFrame

from rawhttp import SockClient

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and error codes (RFC 9113).
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM = (
    0x0, 0x1, 0x2, 0x7, 0x8, 0xB)
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1

INITIAL_WINDOW_SIZE = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE


def _connect(port, tls, timeout):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if not tls:
        return raw
    from conftest import client_ctx
    try:
        s = client_ctx(alpn=["h2", "http/1.1"]).wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise
    assert s.selected_alpn_protocol() == "h2", f"ALPN chose {s.selected_alpn_protocol()!r}"
    return s


class Stream:
    def __init__(self, sid):
        self.id = sid
        self.status = None
        self.headers = []        # (name, value) as received, pseudo-headers included
        self.body = bytearray()
        self.data_frames = 0
        self.max_frame = 0
        self.ended = False
        self.reset = None        # error code of a RST_STREAM from the server

    def header(self, name):
        vals = [v for k, v in self.headers if k == name]
        assert len(vals) <= 1, f"{name} sent {len(vals)} times: {self.headers!r}"
        return vals[0] if vals else None

    def __repr__(self):
        return (f"<Stream {self.id} status={self.status} ended={self.ended} reset={self.reset} "
                f"headers={self.headers!r} body={bytes(self.body[:80])!r}... ({len(self.body)} bytes)>")


class H2Client(SockClient):
    """One HTTP/2 connection through python-h2. auto_ack: give back flow-control
    credit for every DATA frame as soon as it is read."""

    def __init__(self, port, tls=False, settings=None, timeout=10.0):
        self.sock = _connect(port, tls, timeout)
        self.tls = tls
        self.timeout = timeout
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.streams = {}
        self.terminated = None   # the ConnectionTerminated event (a GOAWAY)
        self.closed = False      # EOF or reset from the server
        self.auto_ack = True
        self.ping_acks = 0
        self.window_updates = 0
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, path, method="GET", headers=(), end_stream=True, authority="localhost"):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "https" if self.tls else "http"),
                (":authority", authority), (":path", path)] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=end_stream)
        self.streams[sid] = Stream(sid)
        self.flush()
        return sid

    def _on(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived):
            st.headers = list(ev.headers)
            st.status = int(dict(ev.headers)[":status"])
        elif isinstance(ev, h2.events.DataReceived):
            st.body += ev.data
            st.data_frames += 1
            st.max_frame = max(st.max_frame, len(ev.data))
            if self.auto_ack and ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.terminated = ev
        elif isinstance(ev, h2.events.PingAckReceived):
            self.ping_acks += 1
        elif isinstance(ev, h2.events.WindowUpdated):
            self.window_updates += 1

    def pump(self, timeout=None):
        """Read once (up to TIMEOUT) and handle what came; False at EOF or timeout."""
        if self.closed:
            return False
        self.sock.settimeout(self.timeout if timeout is None else max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE) or isinstance(e, ConnectionError):
                self.closed = True
                return False
            raise
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self._on(ev)
        if self.terminated is None:
            self.flush()
        return True

    def wait(self, cond, timeout=None, what="condition"):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0 or (not self.pump(left) and (self.closed or time.monotonic() >= deadline)):
                if cond():
                    break
                raise AssertionError(f"timed out waiting for {what} (closed={self.closed}, "
                                     f"goaway={self.terminated}); streams {self.streams!r}")
        return True

    def response(self, sid, timeout=None):
        st = self.streams[sid]
        self.wait(lambda: st.ended or st.reset is not None, timeout, f"the end of stream {sid}")
        return st

    def get(self, path, headers=(), method="GET", timeout=None):
        return self.response(self.request(path, method=method, headers=headers), timeout)

    def wait_closed(self, timeout):
        """Read until the server closes; True when it did within TIMEOUT."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.pump(deadline - time.monotonic())
        return self.closed



class RawH2(SockClient):
    """The preface and a SETTINGS frame (unless PREFACE is false), then frames
    written by the test; frames read back as (type, flags, stream, payload)."""

    def __init__(self, port, tls=False, timeout=10.0, settings=None, preface=True):
        self.sock = _connect(port, tls, timeout)
        self.encoder = hpack.Encoder()
        self.buf = b""
        self.frames = []
        self.closed = False
        self.reset = False
        if preface:
            self.send(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            self.closed = self.reset = True
            return False

    def block(self, path, method="GET", extra=()):
        """An HPACK header block of a request (the encoder's table carries on)."""
        return self.encoder.encode([(":method", method), (":scheme", "http"),
                                    (":authority", "localhost"), (":path", path)] + list(extra))

    def headers(self, sid, path, end_stream=True):
        flags = ["END_HEADERS"] + (["END_STREAM"] if end_stream else [])
        return HeadersFrame(sid, self.block(path), flags=flags).serialize()

    def _parse(self):
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                break
            ftype, flags = self.buf[3], self.buf[4]
            sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
            self.frames.append((ftype, flags, sid, self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]

    def read(self, timeout):
        """Read once; False at EOF, reset or timeout."""
        if self.closed:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError as e:
            if isinstance(e, ConnectionError) or e.errno in (errno.ECONNRESET, errno.EPIPE):
                self.closed = self.reset = True
                return False
            raise
        if not data:
            self.closed = True
            return False
        self.buf += data
        self._parse()
        return True

    def read_until(self, cond, timeout):
        """Read until COND(self) holds, the server closes, or TIMEOUT; returns COND(self)."""
        deadline = time.monotonic() + timeout
        while not cond(self) and not self.closed and time.monotonic() < deadline:
            self.read(deadline - time.monotonic())
        return cond(self)

    def goaway(self):
        """(last stream id, error code) of the first GOAWAY received, or None."""
        for ftype, _, _, payload in self.frames:
            if ftype == GOAWAY:
                last, code = struct.unpack(">II", payload[:8])
                return last & 0x7FFFFFFF, code
        return None

    def of(self, ftype, sid=None):
        return [f for f in self.frames if f[0] == ftype and (sid is None or f[2] == sid)]

    def status(self, sid):
        """The :status of the response HEADERS on SID (decoded in arrival order), or None."""
        status, dec = None, hpack.Decoder()
        for ftype, _, fsid, payload in self.frames:
            if ftype != HEADERS:
                continue
            fields = dict(dec.decode(payload))  # every block, in order: the table carries on
            if fsid == sid:
                status = int(fields[":status"])
        return status

