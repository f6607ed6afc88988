"""End-to-end tests of HTTP/2 in the WWW service: curl over TLS (ALPN h2) and
by prior knowledge on plain bindings, h2load for many streams, python-h2 for
the semantics (conditionals, ranges, HEAD, errors, flow control both ways),
raw frames for the attacks (rapid reset, CONTINUATION flood, oversized
header lists, PING and SETTINGS floods, a zero window), GOAWAY when the
server stops or a site goes, sessions, statistics and the access log.

One daemon (plain and TLS bindings of the default site, NCSA access log)
serves most of the module; the tests that stop a daemon or change its
timeouts start their own."""

import os
import random
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest
from hyperframe.frame import (ContinuationFrame, DataFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

import tree
from conftest import AdminServer, admin_request, client_ctx, health_check, serving
from h2client import (CANCEL, DATA, ENHANCE_YOUR_CALM, HEADERS, INITIAL_WINDOW_SIZE, NO_ERROR,
                      PING, PREFACE, REFUSED_STREAM, RST_STREAM, H2Client, RawH2)
from rawhttp import RawConn, build_request, wait_for

BIG_1M = random.Random(20261201).randbytes(1024 * 1024)
WRITE_TIMEOUT_S = 60  # WWW_WRITE_TIMEOUT_MS in src/www/conn.h


def curl(*args, timeout=30):
    p = subprocess.run(["curl", "-sS", "--max-time", "20"] + list(args), capture_output=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    return p


def stats(srv):
    r = admin_request(srv, "GET", "/api/v1/stats?service=www&site=default")
    assert r.status == 200, r
    return r.json["stats"][0]["counters"]


def sessions(srv):
    r = admin_request(srv, "GET", "/api/v1/sessions?service=www")
    assert r.status == 200, r
    return r.json["sessions"]


def ports(srv):
    return (srv.listener_of("www")["port"], srv.listener_of("www", tls=True)["port"])


@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin, infoadm_bin):
    base = str(tmp_path_factory.mktemp("h2"))
    dirs = tree.build(base)
    with open(os.path.join(dirs["root"], "big1m.bin"), "wb") as f:
        f.write(BIG_1M)
    s = AdminServer(base, dirs["root"], tree.shared_args(dirs) +
                    ["--https", "127.0.0.1:0", "--log-format", "ncsa"])
    s.dirs = dirs
    s.start()

    def setup(s):
        s.plain_port, s.tls_port = ports(s)

    yield from serving(s, setup)


@pytest.fixture(params=["plain", "tls"])
def port_tls(request, srv):
    """(port, tls) of each binding: h2c by prior knowledge, and h2 by ALPN."""
    return (srv.tls_port, True) if request.param == "tls" else (srv.plain_port, False)


def h2(srv_or_port, tls=False, **kw):
    return H2Client(srv_or_port, tls=tls, **kw)


def assert_alive(port, tls):
    """The connection-level health check, over HTTP/2."""
    with H2Client(port, tls=tls) as c:
        st = c.get("/index.html")
        assert st.status == 200 and bytes(st.body) == tree.INDEX_HTML, st


# -- entering HTTP/2 ----------------------------------------------------------------------

BODIES = {"/hello.txt": tree.HELLO, "/big1m.bin": BIG_1M}


@pytest.mark.parametrize("path", sorted(BODIES))
def test_curl_over_tls_negotiates_h2(srv, tmp_path, path):
    body = BODIES[path]
    out = tmp_path / "out"
    p = curl("-k", "--http2", "-o", str(out), "-w", "%{http_version} %{http_code}",
             f"https://127.0.0.1:{srv.tls_port}{path}")
    assert p.returncode == 0 and p.out == "2 200", (p.out, p.err)
    assert out.read_bytes() == body


@pytest.mark.parametrize("path", sorted(BODIES))
def test_curl_prior_knowledge_on_plain(srv, tmp_path, path):
    body = BODIES[path]
    out = tmp_path / "out"
    p = curl("--http2-prior-knowledge", "-o", str(out), "-w", "%{http_version} %{http_code}",
             f"http://127.0.0.1:{srv.plain_port}{path}")
    assert p.returncode == 0 and p.out == "2 200", (p.out, p.err)
    assert out.read_bytes() == body


def test_http11_stays_without_h2(srv):
    # Plain without the preface, TLS without ALPN or offering only http/1.1: HTTP/1.1.
    p = curl("-o", "/dev/null", "-w", "%{http_version}", f"http://127.0.0.1:{srv.plain_port}/hello.txt")
    assert p.out == "1.1", (p.out, p.err)
    p = curl("-k", "--http1.1", "-o", "/dev/null", "-w", "%{http_version}",
             f"https://127.0.0.1:{srv.tls_port}/hello.txt")
    assert p.out == "1.1", (p.out, p.err)
    for alpn in (None, ["http/1.1"], ["spdy/3"]):
        raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
        with client_ctx(alpn=alpn).wrap_socket(raw, server_hostname="localhost") as s:
            assert s.selected_alpn_protocol() in (None, "http/1.1"), alpn
            s.sendall(build_request("GET", "/hello.txt", close=True))
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        assert got.startswith(b"HTTP/1.1 200") and got.endswith(tree.HELLO), (alpn, got[:200])


def test_preface_in_pieces_and_a_false_one(srv):
    with RawH2(srv.plain_port, preface=False) as r:
        for piece in (PREFACE[:3], PREFACE[3:17], PREFACE[17:]):
            r.send(piece)
            time.sleep(0.05)
        r.send(SettingsFrame(0).serialize() + r.headers(1, "/hello.txt"))
        assert r.read_until(lambda r: any(f[1] & 1 for f in r.of(DATA, 1)), 5), r.frames
        assert r.status(1) == 200 and b"".join(f[3] for f in r.of(DATA, 1)) == tree.HELLO
    # "PRI * HTTP/2.0" without the rest of the preface is an HTTP/1 request line.
    with RawConn(srv.plain_port) as c:
        c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
        r = c.read_response()
        assert r.status == 505, r


def test_garbage_instead_of_the_preface_over_tls(srv):
    raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    s = client_ctx(alpn=["h2"]).wrap_socket(raw, server_hostname="localhost")
    assert s.selected_alpn_protocol() == "h2"
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(64))
    got, deadline, closed = b"", time.monotonic() + 5, False
    try:
        while time.monotonic() < deadline:
            s.settimeout(deadline - time.monotonic())
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except (ConnectionError, ssl.SSLError):
        closed = True
    except socket.timeout:
        pass
    finally:
        s.close()
    assert closed, "the server kept a connection without the preface open"
    assert b"HTTP/1.1" not in got
    assert_alive(srv.tls_port, True)
    health_check(srv.plain_port)


# -- requests -------------------------------------------------------------------------------

def test_get_fields_and_body(srv, port_tls):
    port, tls = port_tls
    with h2(port, tls) as c:
        st = c.get("/hello.txt")
        assert st.status == 200 and bytes(st.body) == tree.HELLO, st
        assert st.header("content-type") == "text/plain"
        assert st.header("content-length") == str(len(tree.HELLO))
        assert st.header("last-modified") == tree.FIXED_MTIME_HTTP
        assert st.header("server").startswith("infosrv/")
        assert st.header("date") and st.header("etag")
        names = [k for k, _ in st.headers]
        assert all(k == k.lower() for k in names), names
        for banned in ("connection", "keep-alive", "transfer-encoding"):
            assert banned not in names
        # Many streams on the one connection, answered each on its own.
        sids = {c.request(p): body for p, body in
                (("/hello.txt", tree.HELLO), ("/data1k.bin", tree.DATA_1K),
                 ("/big.bin", tree.BIG_100K), ("/index.html", tree.INDEX_HTML))}
        for sid, body in sids.items():
            st = c.response(sid)
            assert st.status == 200 and bytes(st.body) == body, st


def test_conditionals(srv, port_tls):
    port, tls = port_tls
    with h2(port, tls) as c:
        etag = c.get("/hello.txt").header("etag")
        st = c.get("/hello.txt", headers=[("if-none-match", etag)])
        assert st.status == 304 and st.data_frames == 0 and st.body == b"", st
        assert st.header("etag") == etag
        st = c.get("/hello.txt", headers=[("if-modified-since", tree.FIXED_MTIME_HTTP)])
        assert st.status == 304 and st.data_frames == 0, st
        st = c.get("/hello.txt", headers=[("if-modified-since", tree.EARLIER_HTTP)])
        assert st.status == 200 and bytes(st.body) == tree.HELLO, st
        st = c.get("/hello.txt", headers=[("if-match", '"nope"')])
        assert st.status == 412, st


def test_ranges(srv, port_tls):
    port, tls = port_tls
    with h2(port, tls) as c:
        st = c.get("/data1k.bin", headers=[("range", "bytes=10-19")])
        assert st.status == 206 and bytes(st.body) == tree.DATA_1K[10:20], st
        assert st.header("content-range") == f"bytes 10-19/{len(tree.DATA_1K)}"
        # A range of a file sent from its descriptor (sendfile, or pread on TLS).
        st = c.get("/big1m.bin", headers=[("range", "bytes=100000-399999")])
        assert st.status == 206 and bytes(st.body) == BIG_1M[100000:400000], st
        st = c.get("/big1m.bin", headers=[("range", "bytes=-5")])
        assert st.status == 206 and bytes(st.body) == BIG_1M[-5:], st
        st = c.get("/big1m.bin", headers=[("range", "bytes=0-1,70000-70009")])
        assert st.status == 206, st
        ctype = st.header("content-type")
        assert ctype.startswith("multipart/byteranges; boundary="), ctype
        body = bytes(st.body)
        assert int(st.header("content-length")) == len(body)
        assert BIG_1M[0:2] in body and BIG_1M[70000:70010] in body
        assert body.count(ctype.split("=", 1)[1].encode()) == 3
        st = c.get("/data1k.bin", headers=[("range", "bytes=5000-")])
        assert st.status == 416 and st.header("content-range") == "bytes */1024", st


def test_head_sends_no_data(srv, port_tls):
    port, tls = port_tls
    with h2(port, tls) as c:
        st = c.get("/big.bin", method="HEAD")
        assert st.status == 200 and st.ended and st.data_frames == 0 and st.body == b"", st
        assert st.header("content-length") == str(len(tree.BIG_100K))
        st = c.get("/nope.txt", method="HEAD")
        assert st.status == 404 and st.data_frames == 0, st


def test_errors(srv, port_tls):
    port, tls = port_tls
    with h2(port, tls) as c:
        st = c.get("/nope.txt")
        assert st.status == 404, st
        assert st.header("content-type").startswith("text/html")
        assert b"Not Found" in st.body and int(st.header("content-length")) == len(st.body)
        st = c.get("/hello.txt", method="DELETE")
        assert st.status == 405 and st.header("allow") == "GET, HEAD, OPTIONS", st
        st = c.get("/%2e%2e/etc/passwd")
        assert st.status in (400, 403, 404), st
        st = c.get("/private/x.txt")
        assert st.status == 403, st
        st = c.get("/hello.txt", method="OPTIONS")
        assert st.status == 204 and st.header("allow") == "GET, HEAD, OPTIONS", st
        # A body announced beyond max_body: 413, and the client is asked to stop sending it.
        sid = c.request("/hello.txt", method="POST", end_stream=False,
                        headers=[("content-length", str(2 * 1024 * 1024))])
        st = c.response(sid)
        assert st.status == 413, st
        c.wait(lambda: st.reset is not None, what="RST_STREAM after the complete response")
        assert st.reset == NO_ERROR, st
        # The connection outlives every error.
        st = c.get("/hello.txt")
        assert st.status == 200 and bytes(st.body) == tree.HELLO


def test_large_file_with_a_small_client_window(srv, port_tls):
    """The server honours a 16 KB stream window and the 64 KB connection window:
    python-h2 fails the test with a FlowControlError if it sends more."""
    port, tls = port_tls
    with h2(port, tls, settings={INITIAL_WINDOW_SIZE: 16384}) as c:
        sid = c.request("/big1m.bin")
        st = c.response(sid, timeout=30)
        assert st.status == 200 and st.ended, st
        assert bytes(st.body) == BIG_1M
        assert st.max_frame <= 16384 and st.data_frames >= len(BIG_1M) // 16384


def test_request_bodies_are_flow_controlled_too(srv, port_tls):
    """Ten requests with 30 KB bodies: 300 KB through a 64 KB connection window
    only goes through if the server keeps giving credit back."""
    port, tls = port_tls
    body = b"u" * 30000
    with h2(port, tls) as c:
        sent = 0
        for _ in range(10):
            c.wait(lambda: c.conn.outbound_flow_control_window >= len(body), timeout=10,
                   what="connection window credit from the server")
            sid = c.request("/hello.txt", end_stream=False)
            for i in range(0, len(body), 16384):
                chunk = body[i:i + 16384]
                c.conn.send_data(sid, chunk, end_stream=i + len(chunk) == len(body))
            c.flush()
            sent += len(body)
            st = c.response(sid)
            assert st.status == 200 and bytes(st.body) == tree.HELLO, st
        assert sent == 300000 and c.window_updates > 0


def test_h2load_many_streams(srv, port_tls):
    port, tls = port_tls
    before = stats(srv)["total_requests"]
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/data1k.bin"
    p = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10", url], capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, out + p.stderr.decode()
    assert re.search(r"^requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, "
                     r"0 errored, 0 timeout", out, re.M), out
    assert re.search(r"^status codes: 2000 2xx", out, re.M), out
    assert re.search(r"\(2048000\) data", out), out
    if tls:
        assert re.search(r"^Application protocol: h2$", out, re.M), out
    wait_for(lambda: stats(srv)["total_requests"] - before == 2000, timeout=5,
             what="2000 more requests in the statistics")


def test_access_log_says_http2(srv):
    tag = f"/hello.txt?tag={os.getpid()}-{time.monotonic_ns()}"
    with h2(srv.plain_port) as c:
        assert c.get(tag, headers=[("user-agent", "h2-e2e/1.0")]).status == 200
    logdir = srv.access_log_dir

    def line():
        for name in sorted(os.listdir(logdir)):
            with open(os.path.join(logdir, name), encoding="utf-8", errors="replace") as f:
                for l in f:
                    if tag in l:
                        return l
        return None

    l = wait_for(line, timeout=5, what="the access log line")
    assert f'"GET {tag} HTTP/2" 200 ' in l, l


def test_sessions_show_protocol_and_streams(srv):
    with h2(srv.plain_port, settings={INITIAL_WINDOW_SIZE: 0}) as c:
        sid = c.request("/big1m.bin")  # its DATA waits for a window that never opens
        c.wait(lambda: c.streams[sid].status == 200, what="the response head")
        assert c.get("/hello.txt", method="HEAD").status == 200  # no DATA, so it completes
        with RawConn(srv.plain_port) as h1:
            h1.send(build_request("GET", "/hello.txt"))
            h1.read_response()
            mine = wait_for(lambda: [s for s in sessions(srv) if s.get("protocol") == "HTTP/2"
                                     and s.get("request") == "HEAD /hello.txt"],
                            timeout=5, what="the HTTP/2 session")
            assert len(mine) == 1, mine
            s = mine[0]
            assert s["streams"] == 1 and s["requests"] == 2 and s["tls"] is False, s
            plain = [x for x in sessions(srv) if x["client"].endswith(f":{h1.local_port}")]
            assert len(plain) == 1 and plain[0]["protocol"] == "HTTP/1.1", plain
            assert "streams" not in plain[0]


def test_header_list_too_large_is_refused(srv, port_tls):
    port, tls = port_tls
    with h2(port, tls) as c:
        st = c.get("/hello.txt", headers=[("x-big", "a" * 20000)])
        assert st.status == 200, st
        st = c.get("/hello.txt", headers=[("x-big", "a" * 40000)])
        assert st.status == 431 and b"too large" in st.body, st
        st = c.get("/hello.txt", headers=[("x-h%d" % i, "v" * 400) for i in range(100)])
        assert st.status == 431, st
        assert c.get("/hello.txt").status == 200  # the connection is still good


def test_concurrent_streams_are_bounded(srv):
    """100 streams may be open at once; the 101st is refused, the connection lives on."""
    with RawH2(srv.plain_port, settings={INITIAL_WINDOW_SIZE: 0}) as r:
        # A zero window holds every response open (its DATA cannot leave).
        r.send(b"".join(r.headers(2 * i + 1, "/big1m.bin") for i in range(101)))
        assert r.read_until(lambda r: r.of(RST_STREAM, 201), 10), r.frames[-3:]
        assert int.from_bytes(r.of(RST_STREAM, 201)[0][3][:4], "big") == REFUSED_STREAM
        assert r.read_until(lambda r: len(r.of(HEADERS)) == 100, 10), len(r.of(HEADERS))
        assert r.goaway() is None and not r.of(RST_STREAM, 199)


# -- attacks --------------------------------------------------------------------------------

def test_rapid_reset_gets_goaway_enhance_your_calm(srv):
    # A client cancelling some streams is fine ...
    with RawH2(srv.plain_port) as r:
        r.send(b"".join(r.headers(2 * i + 1, "/hello.txt") + RstStreamFrame(2 * i + 1, CANCEL).serialize()
                        for i in range(50)))
        r.send(r.headers(101, "/hello.txt"))
        assert r.read_until(lambda r: r.of(DATA, 101), 10), r.frames[-5:]
        assert r.goaway() is None and r.status(101) == 200
    # ... opening and resetting hundreds at once is an attack (CVE-2023-44487).
    with RawH2(srv.plain_port) as r:
        r.send(b"".join(r.headers(2 * i + 1, "/hello.txt") + RstStreamFrame(2 * i + 1, CANCEL).serialize()
                        for i in range(1000)))
        assert r.read_until(lambda r: r.goaway() is not None, 10), "no GOAWAY"
        assert r.goaway()[1] == ENHANCE_YOUR_CALM, r.goaway()
        assert r.read_until(lambda r: r.closed, 5), "the connection stayed open after GOAWAY"
    wait_for(lambda: "sent more than 200 RST_STREAM in 1000 ms" in srv.error_log(), timeout=5,
             what="the error log line about the resets")
    assert_alive(srv.plain_port, False)


def test_continuation_flood_is_closed(srv):
    # A header block in a few CONTINUATIONs is served ...
    with RawH2(srv.plain_port) as r:
        block = r.block("/hello.txt", extra=[("x-pad", "p" * 300)])
        pieces = [block[i:i + 80] for i in range(0, len(block), 80)]
        assert 3 <= len(pieces) <= 8
        frames = HeadersFrame(1, pieces[0], flags=["END_STREAM"]).serialize()
        for i, p in enumerate(pieces[1:], 1):
            flags = ["END_HEADERS"] if i == len(pieces) - 1 else []
            frames += ContinuationFrame(1, p, flags=flags).serialize()
        r.send(frames)
        assert r.read_until(lambda r: r.of(DATA, 1), 10) and r.status(1) == 200
    # ... one that never ends is not (CVE-2024-27316).
    with RawH2(srv.plain_port) as r:
        block = r.block("/hello.txt")
        frames = HeadersFrame(1, block[:3], flags=["END_STREAM"]).serialize()
        frames += b"".join(ContinuationFrame(1, b"").serialize() for _ in range(10000))
        r.send(frames)
        assert r.read_until(lambda r: r.closed, 10), "the server kept reading CONTINUATIONs"
        assert r.goaway() is not None and r.goaway()[1] == ENHANCE_YOUR_CALM, r.goaway()
        assert not r.of(HEADERS, 1)
    wait_for(lambda: "Too many CONTINUATION frames" in srv.error_log(), timeout=5,
             what="the error log line about the CONTINUATIONs")
    assert_alive(srv.plain_port, False)
    health_check(srv.plain_port)


@pytest.mark.parametrize("kind", ["ping", "settings"])
def test_ack_floods_are_closed(srv, kind):
    def frame(i):
        if kind == "ping":
            return PingFrame(0, opaque_data=i.to_bytes(8, "big")).serialize()
        return SettingsFrame(0, settings={INITIAL_WINDOW_SIZE: 65535}).serialize()

    # A hundred are answered ...
    with RawH2(srv.plain_port) as r:
        r.send(b"".join(frame(i) for i in range(100)))
        ftype = PING if kind == "ping" else 4
        assert r.read_until(lambda r: len([f for f in r.of(ftype) if f[1] & 1]) >= 100, 10)
        r.send(r.headers(1, "/hello.txt"))
        assert r.read_until(lambda r: r.of(DATA, 1), 10) and r.goaway() is None
    # ... tens of thousands sent without reading the answers are a flood.
    floods = srv.error_log().count("Flooding was detected")
    with RawH2(srv.plain_port) as r:
        r.send(b"".join(frame(i) for i in range(20000)))
        assert r.read_until(lambda r: r.closed, 15), f"still open after a {kind} flood"
        assert r.goaway() is not None and r.goaway()[1] == ENHANCE_YOUR_CALM, r.goaway()
    wait_for(lambda: srv.error_log().count("Flooding was detected") > floods, timeout=5,
             what="the error log line about the flood")
    assert_alive(srv.plain_port, False)


def test_zero_window_stall_is_closed_after_the_write_timeout(srv):
    """A client that never opens its window holds a response the server cannot
    send: closed after the write timeout (60 s), however much it PINGs."""
    with h2(srv.plain_port, settings={INITIAL_WINDOW_SIZE: 0}) as c:
        sid = c.request("/big1m.bin")
        t0 = time.monotonic()
        c.wait(lambda: c.streams[sid].status == 200, what="the response head")
        while time.monotonic() - t0 < WRITE_TIMEOUT_S - 10:
            assert not c.closed, f"closed after {time.monotonic() - t0:.1f} s, before the timeout"
            c.conn.ping(b"stallchk")
            c.flush()
            c.pump(2.0)
        assert c.streams[sid].body == b""
        assert c.wait_closed(WRITE_TIMEOUT_S + 20 - (time.monotonic() - t0)), \
            f"still open {time.monotonic() - t0:.1f} s after the request"
        took = time.monotonic() - t0
        assert WRITE_TIMEOUT_S - 2 <= took <= WRITE_TIMEOUT_S + 15, took
    assert_alive(srv.plain_port, False)


# -- GOAWAY -----------------------------------------------------------------------------------

def _stalled_download(r, path="/big1m.bin"):
    """On RawH2 R (sent a zero initial window): request PATH on stream 1 and wait for its head."""
    r.send(r.headers(1, path))
    assert r.read_until(lambda r: r.of(HEADERS, 1), 10), r.frames
    assert r.status(1) == 200


def _finish_download(r, size):
    """Open the windows; the rest of stream 1 must arrive, then the connection closes."""
    r.send(WindowUpdateFrame(0, size).serialize() + WindowUpdateFrame(1, size).serialize())
    assert r.read_until(lambda r: any(f[1] & 1 for f in r.of(DATA, 1)), 20), "stream 1 never ended"
    assert b"".join(f[3] for f in r.of(DATA, 1)) == BIG_1M
    assert r.read_until(lambda r: r.closed, 10), "the connection stayed open after its last stream"


def test_goaway_on_stop_finishes_the_streams(tmp_path, make_server):
    s = make_server(["--https", "127.0.0.1:0"], server_class=AdminServer)
    with open(os.path.join(s.root, "big1m.bin"), "wb") as f:
        f.write(BIG_1M)
    plain, _ = ports(s)
    with RawH2(plain, settings={INITIAL_WINDOW_SIZE: 0}) as r, H2Client(plain) as idle:
        assert idle.get("/hello.txt").status == 200
        _stalled_download(r)
        s.signal(signal.SIGTERM)
        assert r.read_until(lambda r: r.goaway() is not None, 5), "no GOAWAY on stop"
        assert r.goaway() == (1, NO_ERROR)
        # The idle connection is told too, and closed.
        assert idle.wait_closed(5) and idle.terminated is not None
        assert idle.terminated.error_code == NO_ERROR and idle.terminated.last_stream_id == 1
        # A stream begun after the GOAWAY is not answered; the one in flight finishes.
        r.send(r.headers(3, "/hello.txt"))
        _finish_download(r, len(BIG_1M))
        assert not r.of(HEADERS, 3)
    assert s.wait_exit(15) == 0
    s.check_logs()


def test_goaway_when_the_site_stops(make_server):
    s = make_server(server_class=AdminServer)
    with open(os.path.join(s.root, "big1m.bin"), "wb") as f:
        f.write(BIG_1M)
    with RawH2(s.port, settings={INITIAL_WINDOW_SIZE: 0}) as r, RawConn(s.port) as h1:
        h1.send(build_request("GET", "/hello.txt"))
        assert h1.read_response().status == 200
        _stalled_download(r)
        res = admin_request(s, "POST", "/api/v1/services/www/sites/default/stop")
        assert res.status == 200, res
        assert r.read_until(lambda r: r.goaway() is not None, 5), "no GOAWAY when the site stopped"
        assert r.goaway() == (1, NO_ERROR)
        h1.read_until_close(5)
        assert h1.closed, "the HTTP/1.1 connection of the stopped site stays open"
        _finish_download(r, len(BIG_1M))


def test_idle_connection_gets_goaway(make_server):
    s = make_server(server_class=AdminServer)
    r = admin_request(s, "PATCH", "/api/v1/config/www/sites/default",
                      {"set": {"connection_timeout": 2}})
    assert r.status == 200, r
    with H2Client(s.port) as c:
        assert c.get("/hello.txt").status == 200
        t0 = time.monotonic()
        while not c.closed and time.monotonic() - t0 < 10:
            if c.terminated is None:
                c.conn.ping(b"idlechk!")  # PINGs do not keep an idle connection open
                c.flush()
            c.pump(0.5)
        took = time.monotonic() - t0
        assert c.closed and 1.5 <= took <= 5, took
        assert c.terminated is not None and c.terminated.error_code == NO_ERROR


def test_capability(srv):
    r = admin_request(srv, "GET", "/api")
    assert r.status == 200 and "www.h2" in r.json["capabilities"], r
