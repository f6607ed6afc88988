"""Raw-socket HTTP/1.x client for the infosrv end-to-end tests.

Sends exact bytes and parses exactly what comes back, so that tests can tell
"one response and then close" from "two responses" -- which http.client and
curl hide. Only the standard library is used.
"""

import errno
import socket
import time


class Response:
    """One parsed HTTP response: status, headers in order, body bytes."""

    def __init__(self, version, status, reason, headers, body, raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), as received
        self.body = body
        self.raw = raw

    def header_values(self, name):
        name = name.lower()
        return [v for (k, v) in self.headers if k.lower() == name]

    def header(self, name):
        """The single value of a header; None when absent; fails when repeated."""
        vals = self.header_values(name)
        assert len(vals) <= 1, f"header {name!r} sent {len(vals)} times: {vals!r}"
        return vals[0] if vals else None

    def connection_tokens(self):
        toks = set()
        for v in self.header_values("connection"):
            toks.update(t.strip().lower() for t in v.split(",") if t.strip())
        return toks

    def __repr__(self):
        return f"<Response {self.status} {self.reason!r} headers={self.headers!r} body={self.body[:120]!r}>"


class Incomplete(Exception):
    """The bytes end in the middle of a response."""


def _parse_chunked(data, pos):
    body = bytearray()
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise Incomplete()
        size = int(data[pos:eol].split(b";")[0].strip(), 16)
        pos = eol + 2
        if size == 0:
            # trailer section
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    raise Incomplete()
                line = data[pos:eol]
                pos = eol + 2
                if line == b"":
                    return bytes(body), pos
        if len(data) < pos + size + 2:
            raise Incomplete()
        body += data[pos:pos + size]
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("bad chunk framing in response")
        pos += size + 2


def parse_one(data, pos=0, head=False, eof=False):
    """Parse one response starting at data[pos]; returns (Response, new_pos).

    head: the request was HEAD (no body whatever Content-Length says).
    eof: the connection is closed, so a response without framing ends here.
    Raises Incomplete when more bytes are needed.
    """
    end = data.find(b"\r\n\r\n", pos)
    if end < 0:
        raise Incomplete()
    head_bytes = data[pos:end].decode("latin-1")
    lines = head_bytes.split("\r\n")
    status_line = lines[0]
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not a status line: {status_line!r}")
    version, status = parts[0], int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad response header line {line!r}")
        headers.append((name, value.strip()))
    body_start = end + 4
    resp = Response(version, status, reason, headers, b"", b"")
    te = resp.header_values("transfer-encoding")
    cl = resp.header_values("content-length")
    if head or status < 200 or status in (204, 304):
        body, new_pos = b"", body_start
    elif te:
        body, new_pos = _parse_chunked(data, body_start)
    elif cl:
        assert len(cl) == 1, f"several Content-Length headers: {cl!r}"
        n = int(cl[0])
        if len(data) < body_start + n:
            raise Incomplete()
        body, new_pos = data[body_start:body_start + n], body_start + n
    else:
        if not eof:
            raise Incomplete()
        body, new_pos = data[body_start:], len(data)
    resp.body = bytes(body)
    resp.raw = bytes(data[pos:new_pos])
    return resp, new_pos


def parse_all(data, heads=None, eof=True):
    """Parse every response in data; returns (responses, leftover bytes).

    heads: list of booleans, one per expected response, True where the request
    was HEAD (interim 1xx responses do not consume an entry).
    """
    out = []
    pos = 0
    idx = 0
    while pos < len(data):
        head = bool(heads and idx < len(heads) and heads[idx])
        try:
            resp, pos2 = parse_one(data, pos, head=head, eof=eof)
        except Incomplete:
            break
        out.append(resp)
        if resp.status >= 200:
            idx += 1
        pos = pos2
    return out, data[pos:]


class SockClient:
    """close() and with-statement support for a client holding self.sock."""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RawConn(SockClient):
    """A TCP connection that sends exact bytes and reads raw responses."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, family=socket.AF_INET, rcvbuf=None):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = bytearray()
        self.closed = False   # the peer closed (EOF or reset)
        self.reset = False    # the peer reset the connection
        self.sent = 0
        self.received = 0

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        """Send all of data; returns False when the peer already closed."""
        try:
            self.sock.sendall(data)
            self.sent += len(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _recv_some(self, deadline):
        """Read once into buf; returns False on EOF/reset/timeout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            self.closed = self.reset = True
            return False
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                self.closed = self.reset = True
                return False
            raise
        if not chunk:
            self.closed = True
            return False
        self.received += len(chunk)
        self.buf += chunk
        return True

    def read_response(self, head=False, timeout=None):
        """Read exactly one complete response (interim 1xx included)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                resp, pos = parse_one(self.buf, 0, head=head, eof=self.closed)
                del self.buf[:pos]
                return resp
            except Incomplete:
                pass
            if self.closed or not self._recv_some(deadline):
                raise AssertionError(
                    f"no complete response (closed={self.closed}, reset={self.reset}); "
                    f"got {len(self.buf)} bytes: {bytes(self.buf[:400])!r}")

    def read_until_close(self, timeout=None):
        """Read until the peer closes or the timeout expires; returns the bytes
        not yet consumed. self.closed says whether the peer closed."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.closed and self._recv_some(deadline):
            pass
        data, self.buf = bytes(self.buf), bytearray()
        return data



def exchange(port, data, heads=None, timeout=5.0, host="127.0.0.1", family=socket.AF_INET):
    """Send data on a new connection, read until close or timeout.

    Returns (responses, leftover, closed) where closed is True when the server
    closed the connection within the timeout.
    """
    with RawConn(port, host=host, timeout=timeout, family=family) as c:
        c.send(data)
        raw = c.read_until_close(timeout)
        resps, leftover = parse_all(raw, heads=heads, eof=c.closed)
        return resps, leftover, c.closed


def request(port, method, target, headers=None, body=b"", version="HTTP/1.1", close=True,
            timeout=5.0):
    """Send one request built from parts on a new connection; returns the Response."""
    hdrs = [("Host", "localhost")]
    if headers:
        hdrs += list(headers)
    if close and not any(k.lower() == "connection" for k, _ in hdrs):
        hdrs.append(("Connection", "close"))
    data = f"{method} {target} {version}\r\n".encode("latin-1")
    for k, v in hdrs:
        data += f"{k}: {v}\r\n".encode("latin-1")
    data += b"\r\n" + body
    with RawConn(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response(head=(method == "HEAD"))


def wait_for(cond, timeout=10.0, interval=0.02, what="condition"):
    """Poll cond() until it returns a true value (returned) or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def build_request(method, target, headers=(), body=b"", version="HTTP/1.1", host="localhost",
                  close=False):
    """Bytes of one well-formed request (Host first unless host is None)."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for k, v in headers:
        lines.append(f"{k}: {v}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


_IMF_RE = None


def parse_http_date(value):
    """Parse an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") strictly; epoch seconds."""
    import calendar
    import re
    global _IMF_RE
    if _IMF_RE is None:
        _IMF_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) "
                             r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
                             r"(\d{2}):(\d{2}):(\d{2}) GMT$")
    m = _IMF_RE.match(value or "")
    assert m, f"not an IMF-fixdate: {value!r}"
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    t = calendar.timegm((int(m.group(4)), months.index(m.group(3)) + 1, int(m.group(2)),
                         int(m.group(5)), int(m.group(6)), int(m.group(7))))
    wd = time.gmtime(t).tm_wday
    assert "Mon Tue Wed Thu Fri Sat Sun".split()[wd] == m.group(1), f"wrong weekday in {value!r}"
    return t


def assert_error_page(resp, status):
    """An error response: the status, Content-Type: text/html, an HTML body naming it."""
    assert resp.status == status, resp
    ctype = resp.header("Content-Type")
    assert ctype is not None and ctype.split(";")[0].strip() == "text/html", resp
    assert str(status).encode() in resp.body, f"error body does not name {status}: {resp.body!r}"
    assert b"<" in resp.body, f"error body is not HTML: {resp.body!r}"
