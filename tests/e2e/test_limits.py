"""Timeouts, statistics and sessions dumps, concurrency."""

import http.client
import os
import resource
import signal
import socket
import threading
import time

import pytest

import tree
from conftest import Server, health_check
from rawhttp import RawConn, assert_error_page, build_request, parse_all, wait_for

COUNTERS = ["bytes_sent", "bytes_received", "files_sent", "current_connections", "max_connections",
            "total_connections", "connection_attempts", "get_requests", "head_requests",
            "other_requests", "total_requests", "not_found_errors"]


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """A server with one-second header and keep-alive timeouts."""
    base = str(tmp_path_factory.mktemp("slow"))
    dirs = tree.build(base)
    srv = Server(base, dirs["root"], ["--header-timeout", "1", "--keepalive-timeout", "1"])
    srv.start()
    yield srv
    try:
        srv.stop()
    finally:
        srv.kill()


def _expect_408(c, t0):
    raw = c.read_until_close(timeout=6)
    elapsed = time.monotonic() - t0
    resps, leftover = parse_all(raw)
    assert [r.status for r in resps] == [408], raw[:300]
    assert leftover == b""
    assert_error_page(resps[0], 408)
    assert "close" in resps[0].connection_tokens()
    assert c.closed, "connection not closed after 408"
    assert 0.8 <= elapsed <= 3.0, f"408 after {elapsed:.2f}s with --header-timeout 1"


def test_header_timeout_partial_head(slow):
    with RawConn(slow.port, timeout=6) as c:
        c.send(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n")
        _expect_408(c, time.monotonic())
    health_check(slow.port)


def test_header_timeout_no_bytes(slow):
    with RawConn(slow.port, timeout=6) as c:
        _expect_408(c, time.monotonic())


def test_header_timeout_is_for_the_whole_head(slow):
    # Slowloris: a byte every 0.2 s must not keep the connection alive past the timeout.
    head = build_request("GET", "/index.html", headers=[("X-Slow", "y" * 200)])
    with RawConn(slow.port, timeout=6) as c:
        t0 = time.monotonic()
        for i in range(len(head) - 1):
            if not c.send(head[i:i + 1]):
                break
            if c._recv_some(time.monotonic() + 0.2) or c.closed:
                break
            assert time.monotonic() - t0 < 4, "still open after 4 s of trickling"
        _expect_408(c, t0)


def test_header_timeout_on_second_request(slow):
    with RawConn(slow.port, timeout=6) as c:
        c.send(build_request("GET", "/hello.txt"))
        r = c.read_response()
        assert r.status == 200 and r.body == tree.HELLO
        c.send(b"GET /index.html HTTP/1.1\r\n")
        _expect_408(c, time.monotonic())


def test_keepalive_idle_timeout(slow):
    with RawConn(slow.port, timeout=6) as c:
        c.send(build_request("GET", "/hello.txt"))
        r = c.read_response()
        assert r.status == 200 and r.body == tree.HELLO
        assert "close" not in r.connection_tokens()
        t0 = time.monotonic()
        rest = c.read_until_close(timeout=6)
        elapsed = time.monotonic() - t0
    assert c.closed, "idle keep-alive connection not closed"
    assert rest == b"", f"idle close must be silent, got {rest[:200]!r}"
    assert 0.8 <= elapsed <= 3.0, f"closed after {elapsed:.2f}s with --keepalive-timeout 1"


def test_active_connection_survives_timeouts(slow):
    # Requests every 0.5 s for 3 s on one connection: never idle for 1 s, never cut.
    with RawConn(slow.port, timeout=6) as c:
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 3:
            c.send(build_request("GET", "/hello.txt"))
            r = c.read_response()
            assert r.status == 200 and r.body == tree.HELLO
            n += 1
            assert not c._recv_some(time.monotonic() + 0.5), "unexpected bytes or close while idle 0.5 s"
        assert n >= 5


# ---------------------------------------------------------------- SIGUSR2

def _dump_when_idle(srv):
    """Dump until the server has no open connection (a close may still be in progress)."""
    deadline = time.monotonic() + 5
    while True:
        stats, sessions = srv.dump()
        if stats["services"]["www"]["current_connections"] == 0 or time.monotonic() > deadline:
            return stats, sessions


def test_stats_counters(make_server):
    srv = make_server()
    c1 = RawConn(srv.port)
    c2 = RawConn(srv.port)
    try:
        # One answered request on each first, so that both are open at the same time.
        c1.send(build_request("GET", "/hello.txt"))
        first1 = c1.read_response()
        c2.send(build_request("GET", "/nope-2"))
        first2 = c2.read_response()
        c1.send(build_request("GET", "/hello.txt") * 2 + build_request("HEAD", "/hello.txt") * 2
                + build_request("OPTIONS", "*") + build_request("GET", "/nope-1", close=True))
        c2.send(build_request("GET", "/nope-3") + build_request("GET", "/nope-4", close=True))
        r1 = [first1] + parse_all(c1.read_until_close(), heads=[False, False, True, True, False, False])[0]
        r2 = [first2] + parse_all(c2.read_until_close())[0]
        assert c1.closed and c2.closed
    finally:
        c1.close()
        c2.close()
    assert [r.status for r in r1] == [200, 200, 200, 200, 200, 204, 404]
    assert [r.status for r in r2] == [404, 404, 404]
    t0 = time.time()
    stats, _ = _dump_when_idle(srv)
    assert abs(stats["time"] - t0) <= 5
    www = stats["services"]["www"]
    expect = {
        "get_requests": 7, "head_requests": 2, "other_requests": 1, "total_requests": 10,
        "not_found_errors": 4, "total_connections": 2, "connection_attempts": 2,
        "max_connections": 2, "current_connections": 0,
        "bytes_sent": c1.received + c2.received, "bytes_received": c1.sent + c2.sent,
    }
    got = {k: www.get(k) for k in expect}
    assert got == expect
    # Three GETs sent the file; the contract does not say whether the two HEADs count.
    assert www["files_sent"] in (3, 5), www["files_sent"]
    site = www["sites"]["default"]
    assert {k: site.get(k) for k in COUNTERS} == {k: www.get(k) for k in COUNTERS}
    assert list(www["sites"]) == ["default"]


def _my_session(sessions, port):
    mine = [s for s in sessions["sessions"] if s.get("client") == f"127.0.0.1:{port}"]
    assert len(mine) <= 1, mine
    return mine[0] if mine else None


def test_sessions_dump(make_server):
    srv = make_server()
    c = RawConn(srv.port)
    my_port = c.local_port
    try:
        t0 = time.time()
        c.send(build_request("GET", "/hello.txt"))
        r = c.read_response()
        assert r.status == 200
        stats, sessions = srv.dump()
        s = _my_session(sessions, my_port)
        assert s is not None, f"open connection not listed: {sessions!r}"
        assert isinstance(s["id"], int)
        assert (s["service"], s["site"], s["requests"], s["request"]) == ("www", "default", 1, "GET /hello.txt")
        assert s["bytes_received"] == c.sent and s["bytes_sent"] == c.received
        assert abs(s["since"] - t0) <= 5
        assert stats["services"]["www"]["current_connections"] == 1
        c.send(build_request("HEAD", "/data.json"))
        c.read_response(head=True)
        _, sessions = srv.dump()
        s2 = _my_session(sessions, my_port)
        assert (s2["id"], s2["requests"], s2["request"]) == (s["id"], 2, "HEAD /data.json")
        assert s2["bytes_received"] == c.sent and s2["bytes_sent"] == c.received
    finally:
        c.close()

    def gone():
        _, sess = srv.dump()
        return _my_session(sess, my_port) is None

    wait_for(gone, timeout=5, interval=0.1, what="the closed connection to leave sessions.json")


# ---------------------------------------------------------------- load

def test_concurrent_keepalive_clients(shared):
    srv = shared
    errors = []
    counts = []

    def worker(tid):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        n = 0
        try:
            for i in range(50):
                path, body = ("/big.bin", tree.BIG_100K) if (i + tid) % 10 == 0 else ("/hello.txt", tree.HELLO)
                conn.request("GET", path)
                r = conn.getresponse()
                data = r.read()
                if r.status != 200 or data != body:
                    errors.append((tid, i, r.status, len(data)))
                    return
                n += 1
        except Exception as e:  # reported below
            errors.append((tid, repr(e)))
        finally:
            conn.close()
            counts.append(n)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    elapsed = time.monotonic() - t0
    assert not errors, errors[:5]
    assert sum(counts) == 1000
    assert elapsed <= 10, f"1000 keep-alive requests took {elapsed:.1f}s"
    health_check(srv.port)


def test_500_connections_at_once(shared):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"file descriptor limit {soft} too low")
    srv = shared
    conns = []
    try:
        for _ in range(500):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            conns.append(s)
        req = build_request("GET", "/hello.txt", close=True)
        for s in conns:
            s.sendall(req)
        for s in conns:
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            resps, leftover = parse_all(data)
            assert [r.status for r in resps] == [200] and resps[0].body == tree.HELLO and leftover == b""
    finally:
        for s in conns:
            s.close()
    health_check(srv.port)



def _read_one_response(s):
    data = b""
    while True:
        resps, _ = parse_all(data, eof=False)
        if resps:
            return resps[0]
        chunk = s.recv(65536)
        assert chunk, f"connection closed before a response: {data[:200]!r}"
        data += chunk


def test_backlog_accepted_after_descriptors_run_out(tmp_path):
    # Keep-alive connections hold the server's descriptors until none is
    # left: accept fails (EMFILE), and the edge-triggered listener will not
    # signal the waiting connections again. As clients leave and descriptors
    # free up, the waiting connections must still be accepted and answered,
    # with no new connection arriving to wake the worker.
    dirs = tree.build(str(tmp_path))
    srv = Server(str(tmp_path), dirs["root"], workers=1)
    srv.start()
    conns = []
    try:
        health_check(srv.port)
        in_use = len(os.listdir(f"/proc/{srv.pid}/fd"))
        resource.prlimit(srv.pid, resource.RLIMIT_NOFILE, (in_use + 8, in_use + 8))
        req = build_request("GET", "/hello.txt")
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(req)
            conns.append(s)
        for i, s in enumerate(conns):
            r = _read_one_response(s)
            assert r.status == 200 and r.body == tree.HELLO, f"connection {i}: {r!r}"
            s.close()
        assert "accept on" in srv.error_log(), "the descriptor limit was never hit: the test proves nothing"
        health_check(srv.port)
    finally:
        for s in conns:
            s.close()
        srv.stop()


def test_stalled_readers_do_not_block_others(shared):
    # Clients that pipeline many large downloads and never read fill their
    # socket buffers; with 2 workers, 4 of them must not stall anyone else.
    stuck = []
    try:
        for _ in range(4):
            c = RawConn(shared.port, rcvbuf=4096)
            c.send(b"".join(build_request("GET", "/big.bin") for _ in range(100)))
            stuck.append(c)
        t0 = time.monotonic()
        for _ in range(10):
            health_check(shared.port)
        assert time.monotonic() - t0 < 5
    finally:
        for c in stuck:
            c.close()
    health_check(shared.port)


def test_signals_under_load(make_server):
    srv = make_server()
    errors = []
    stop = threading.Event()

    def client(tid):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            i = 0
            while not stop.is_set():
                path, body = ("/big.bin", tree.BIG_100K) if i % 7 == 0 else ("/hello.txt", tree.HELLO)
                conn.request("GET", path)
                r = conn.getresponse()
                data = r.read()
                if r.status != 200 or data != body:
                    errors.append((tid, i, r.status, len(data)))
                    return
                i += 1
        except Exception as e:
            errors.append((tid, repr(e)))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    try:
        for sig in [signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2] * 5:
            srv.signal(sig)
            time.sleep(0.05)  # pacing the signals, not synchronisation
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert not errors, errors[:5]
    health_check(srv.port)
