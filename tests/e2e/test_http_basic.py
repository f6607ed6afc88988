"""Methods, keep-alive, HTTP/1.0, pipelining, Expect, bodies, common headers."""

import http.client
import socket
import subprocess
import time

import pytest

import tree
from conftest import health_check
from rawhttp import (RawConn, assert_error_page, build_request, exchange, parse_all,
                     parse_http_date, request)

ALLOW = "GET, HEAD, OPTIONS"


def test_get_root_serves_index_html(shared):
    r = request(shared.port, "GET", "/")
    assert r.status == 200, r
    assert r.body == tree.INDEX_HTML
    assert r.header("Content-Type") == "text/html"
    assert r.header("Content-Length") == str(len(tree.INDEX_HTML))


def test_server_and_date_headers(shared):
    before = int(time.time())
    r = request(shared.port, "GET", "/hello.txt")
    after = int(time.time())
    assert r.status == 200
    assert r.version == "HTTP/1.1"
    assert r.header("Server") == f"infosrv/{shared.version}"
    t = parse_http_date(r.header("Date"))
    assert before - 1 <= t <= after + 1, f"Date {r.header('Date')!r} is not now"


def test_head_has_headers_and_no_body(shared):
    with RawConn(shared.port) as c:
        c.send(build_request("HEAD", "/hello.txt") + build_request("GET", "/hello.txt", close=True))
        h = c.read_response(head=True)
        g = c.read_response()
        rest = c.read_until_close()
    assert h.status == 200 and h.body == b""
    assert h.header("Content-Length") == str(len(tree.HELLO))
    # The GET right after the HEAD parses cleanly: the HEAD carried no body bytes.
    assert g.status == 200 and g.body == tree.HELLO, g
    assert rest == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Accept-Ranges"):
        assert h.header(name) == g.header(name), name


@pytest.mark.parametrize("target", ["/index.html", "*", "/browse/"])
def test_options(shared, target):
    with RawConn(shared.port) as c:
        c.send(build_request("OPTIONS", target) + build_request("GET", "/hello.txt", close=True))
        o = c.read_response()
        g = c.read_response()
        rest = c.read_until_close()
    assert o.status == 204, o
    assert o.header("Allow") == ALLOW
    assert o.body == b""
    assert g.status == 200 and g.body == tree.HELLO
    assert rest == b""


def test_204_has_no_content_length(shared):
    # RFC 9110 8.6: a server MUST NOT send Content-Length in a 204.
    o = request(shared.port, "OPTIONS", "*")
    assert o.status == 204
    assert o.header("Content-Length") is None, o


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_refused_methods_405(shared, method):
    r = request(shared.port, method, "/hello.txt")
    assert_error_page(r, 405)
    assert r.header("Allow") == ALLOW
    health_check(shared.port)


def test_connect_405(shared):
    r = request(shared.port, "CONNECT", "/index.html")
    assert_error_page(r, 405)
    assert r.header("Allow") == ALLOW


@pytest.mark.parametrize("method", ["BREW", "get", "Get", "PROPFIND", "X-CUSTOM"])
def test_unknown_methods_501(shared, method):
    r = request(shared.port, method, "/hello.txt")
    assert_error_page(r, 501)
    health_check(shared.port)


def test_404_error_page(shared):
    r = request(shared.port, "GET", "/no/such/file.txt")
    assert_error_page(r, 404)
    with RawConn(shared.port) as c:
        c.send(build_request("HEAD", "/nope.txt") + build_request("GET", "/hello.txt", close=True))
        h = c.read_response(head=True)
        g = c.read_response()
    assert h.status == 404 and h.body == b""
    assert g.status == 200 and g.body == tree.HELLO


def test_keepalive_http_client(shared):
    conn = http.client.HTTPConnection("127.0.0.1", shared.port, timeout=5)
    try:
        ports = set()
        for path, body in [("/hello.txt", tree.HELLO), ("/data.json", tree.DATA_JSON),
                           ("/index.html", tree.INDEX_HTML), ("/big.bin", tree.BIG_100K),
                           ("/hello.txt", tree.HELLO)]:
            conn.request("GET", path)
            r = conn.getresponse()
            assert r.status == 200
            assert r.read() == body
            assert not r.will_close
            ports.add(conn.sock.getsockname()[1])
        assert len(ports) == 1, "http.client had to reconnect: keep-alive not honoured"
    finally:
        conn.close()


def test_http11_connection_close(shared):
    resps, leftover, closed = exchange(shared.port, build_request("GET", "/hello.txt", close=True))
    assert len(resps) == 1 and leftover == b""
    assert resps[0].status == 200 and resps[0].body == tree.HELLO
    assert "close" in resps[0].connection_tokens()
    assert closed


def test_http10_closes_by_default(shared):
    resps, leftover, closed = exchange(shared.port, b"GET /hello.txt HTTP/1.0\r\n\r\n"
                                       b"GET /data.json HTTP/1.0\r\n\r\n")
    assert len(resps) == 1, resps
    assert resps[0].status == 200 and resps[0].body == tree.HELLO
    assert "keep-alive" not in resps[0].connection_tokens()
    assert leftover == b""
    assert closed


def test_http10_keepalive(shared):
    with RawConn(shared.port) as c:
        c.send(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r1 = c.read_response()
        assert r1.status == 200 and r1.body == tree.HELLO
        assert r1.header("Connection") is not None and "keep-alive" in r1.connection_tokens(), r1
        c.send(b"GET /data.json HTTP/1.0\r\n\r\n")
        r2 = c.read_response()
        rest = c.read_until_close()
    assert r2.status == 200 and r2.body == tree.DATA_JSON
    assert rest == b"" and c.closed


def test_http10_without_host_is_fine(shared):
    resps, _, closed = exchange(shared.port, b"GET /index.html HTTP/1.0\r\n\r\n")
    assert [r.status for r in resps] == [200]
    assert resps[0].body == tree.INDEX_HTML


@pytest.mark.parametrize("version", ["HTTP/1.2", "HTTP/1.9"])
def test_http1x_minor_treated_as_11(shared, version):
    with RawConn(shared.port) as c:
        c.send(build_request("GET", "/hello.txt", version=version))
        r1 = c.read_response()
        c.send(build_request("GET", "/data.json", close=True))
        r2 = c.read_response()
    assert r1.status == 200 and r1.body == tree.HELLO
    assert r2.status == 200 and r2.body == tree.DATA_JSON


def test_pipelining_three_in_one_send(shared):
    data = (build_request("GET", "/hello.txt") + build_request("GET", "/data.json")
            + build_request("GET", "/style.css", close=True))
    resps, leftover, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [200, 200, 200]
    assert [r.body for r in resps] == [tree.HELLO, tree.DATA_JSON, tree.STYLE_CSS]
    assert [r.header("Content-Type") for r in resps] == ["text/plain", "application/json", "text/css"]
    assert leftover == b"" and closed


def test_pipelining_mixed(shared):
    data = (build_request("HEAD", "/big.bin") + build_request("GET", "/missing")
            + build_request("GET", "/big.bin") + build_request("OPTIONS", "*")
            + build_request("GET", "/data1k.bin", headers=[("Range", "bytes=0-9")], close=True))
    with RawConn(shared.port) as c:
        c.send(data)
        raw = c.read_until_close()
    resps, leftover = parse_all(raw, heads=[True, False, False, False, False])
    assert [r.status for r in resps] == [200, 404, 200, 204, 206]
    assert resps[0].body == b"" and resps[0].header("Content-Length") == str(len(tree.BIG_100K))
    assert resps[2].body == tree.BIG_100K
    assert resps[4].body == tree.DATA_1K[0:10]
    assert leftover == b"" and c.closed


def test_pipelining_split_across_sends(shared):
    data = build_request("GET", "/hello.txt") + build_request("GET", "/data.json", close=True)
    with RawConn(shared.port) as c:
        # The second request arrives in pieces, with a split inside "\r\n\r\n".
        cut = len(data) - 3
        c.send(data[:cut])
        r1 = c.read_response()
        c.send(data[cut:])
        r2 = c.read_response()
    assert r1.status == 200 and r1.body == tree.HELLO
    assert r2.status == 200 and r2.body == tree.DATA_JSON


def test_leading_empty_line_ignored(shared):
    resps, leftover, _ = exchange(shared.port, b"\r\n" + build_request("GET", "/hello.txt", close=True))
    assert [r.status for r in resps] == [200]
    assert resps[0].body == tree.HELLO


def test_expect_continue_served(shared):
    with RawConn(shared.port) as c:
        c.send(build_request("GET", "/hello.txt",
                             headers=[("Content-Length", "5"), ("Expect", "100-continue")]))
        interim = c.read_response()
        assert interim.version == "HTTP/1.1" and interim.status == 100, interim
        assert interim.body == b""
        c.send(b"hello")
        final = c.read_response()
        assert final.status == 200 and final.body == tree.HELLO
        c.send(build_request("GET", "/data.json", close=True))
        nxt = c.read_response()
        rest = c.read_until_close()
    assert nxt.status == 200 and nxt.body == tree.DATA_JSON
    assert rest == b""


@pytest.mark.parametrize("method,headers,status", [
    ("POST", [("Content-Length", "5")], 405),
    ("PUT", [("Content-Length", "5")], 405),
    ("BREW", [("Content-Length", "5")], 501),
    ("GET", [("Content-Length", str(2 * 1024 * 1024))], 413),
])
def test_expect_continue_refused(shared, method, headers, status):
    # The body is never sent: the server must answer at once, without 100, and close.
    with RawConn(shared.port) as c:
        c.send(build_request(method, "/hello.txt", headers=headers + [("Expect", "100-continue")]))
        raw = c.read_until_close(timeout=5)
        closed = c.closed
    assert b"100 Continue" not in raw
    resps, leftover = parse_all(raw)
    assert [r.status for r in resps] == [status], raw[:300]
    assert leftover == b""
    assert "close" in resps[0].connection_tokens()
    assert closed, "connection left open after a refused Expect: 100-continue"
    if status == 405:
        assert resps[0].header("Allow") == ALLOW
    health_check(shared.port)


@pytest.mark.parametrize("expect", ["something", "100-continue-please", "200-ok"])
def test_expect_other_417(shared, expect):
    data = build_request("GET", "/hello.txt", headers=[("Expect", expect)]) + build_request("GET", "/data.json")
    resps, leftover, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [417], resps
    assert_error_page(resps[0], 417)
    assert "close" in resps[0].connection_tokens()
    assert leftover == b"" and closed


def test_get_with_content_length_body_discarded(shared):
    # The body looks like a request line: it must be read as a body, not a request.
    body = b"GET /data.json HTTP/1.1\r\n\r\n"
    data = (build_request("GET", "/hello.txt", headers=[("Content-Length", str(len(body)))]) + body
            + build_request("GET", "/style.css", close=True))
    resps, leftover, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [200, 200]
    assert [r.body for r in resps] == [tree.HELLO, tree.STYLE_CSS]
    assert leftover == b"" and closed


def test_get_with_chunked_body_discarded(shared):
    body = b"5;name=value\r\nhello\r\n1a\r\n" + b"GET /data.json HTTP/1.1\r\n\r" + b"\r\n0\r\nX-Trailer: t\r\n\r\n"
    data = (build_request("GET", "/hello.txt", headers=[("Transfer-Encoding", "chunked")]) + body
            + build_request("GET", "/style.css", close=True))
    resps, leftover, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [200, 200], resps
    assert [r.body for r in resps] == [tree.HELLO, tree.STYLE_CSS]
    assert leftover == b"" and closed


def test_absolute_form_target(shared):
    data = build_request("GET", f"http://localhost:{shared.port}/hello.txt", close=True)
    resps, leftover, _ = exchange(shared.port, data)
    assert [r.status for r in resps] == [200]
    assert resps[0].body == tree.HELLO


def test_absolute_form_with_query(shared):
    data = build_request("GET", "http://example.test/data.json?x=1", host="example.test", close=True)
    resps, _, _ = exchange(shared.port, data)
    assert [r.status for r in resps] == [200]
    assert resps[0].body == tree.DATA_JSON


def test_header_names_case_insensitive(shared):
    data = b"GET /hello.txt HTTP/1.1\r\nhOsT: localhost\r\nCONNECTION: close\r\n\r\n"
    resps, _, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [200]
    assert closed


def test_curl_verbose(shared):
    p = subprocess.run(["curl", "-sS", "-v", "--http1.1", "--max-time", "10", shared.url("/hello.txt")],
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert p.stdout == tree.HELLO
    err = p.stderr.decode("utf-8", "replace")
    assert "< HTTP/1.1 200" in err
    assert f"< Server: infosrv/{shared.version}" in err
    assert "< Content-Type: text/plain" in err
    assert f"< Content-Length: {len(tree.HELLO)}" in err


def test_keepalive_continues_after_error_responses(shared):
    data = (build_request("GET", "/missing") + build_request("GET", "/private/x")
            + build_request("GET", "/sub-index") + build_request("POST", "/hello.txt")
            + build_request("GET", "/hello.txt", close=True))
    resps, leftover, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [404, 403, 301, 405, 200]
    assert all("close" not in r.connection_tokens() for r in resps[:4]), "closed after a plain error"
    assert resps[4].body == tree.HELLO
    assert leftover == b"" and closed


def test_connection_close_in_the_middle_of_a_pipeline(shared):
    data = (build_request("GET", "/hello.txt") + build_request("GET", "/data.json", close=True)
            + build_request("GET", "/style.css"))
    resps, leftover, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [200, 200]
    assert [r.body for r in resps] == [tree.HELLO, tree.DATA_JSON]
    assert leftover == b"" and closed


def test_request_sent_byte_by_byte(shared):
    data = build_request("GET", "/hello.txt", headers=[("X-Long", "v" * 100)], close=True)
    with RawConn(shared.port) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            c.send(data[i:i + 1])
        r = c.read_response()
    assert r.status == 200 and r.body == tree.HELLO


@pytest.mark.parametrize("path,n,body", [("/big.bin", 40, tree.BIG_100K), ("/data1k.bin", 300, tree.DATA_1K)],
                         ids=["40x100KB", "300x1KB"])
def test_deep_pipeline(shared, path, n, body):
    # n requests in one send, several MB / hundreds of KB of answers: all in order.
    data = b"".join(build_request("GET", path) for _ in range(n - 1))
    data += build_request("GET", "/hello.txt", close=True)
    with RawConn(shared.port, timeout=10) as c:
        c.send(data)
        resps = []
        for i in range(n):
            try:
                resps.append(c.read_response())
            except AssertionError as e:
                raise AssertionError(f"only {i} of {n} pipelined responses: {e}") from None
        rest = c.read_until_close()
    assert [r.status for r in resps] == [200] * n
    assert all(r.body == body for r in resps[:-1])
    assert resps[-1].body == tree.HELLO
    assert rest == b"" and c.closed


def test_body_of_exactly_1mib_accepted(shared):
    body = b"b" * (1024 * 1024)
    data = (build_request("GET", "/hello.txt", headers=[("Content-Length", str(len(body)))]) + body
            + build_request("GET", "/data.json", close=True))
    with RawConn(shared.port, timeout=10) as c:
        c.send(data)
        raw = c.read_until_close(timeout=10)
    resps, leftover = parse_all(raw)
    assert [r.status for r in resps] == [200, 200]
    assert [r.body for r in resps] == [tree.HELLO, tree.DATA_JSON]


def test_expect_continue_ignored_on_http10(shared):
    # RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
    data = (b"GET /hello.txt HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
    resps, leftover, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [200]
    assert resps[0].body == tree.HELLO and leftover == b"" and closed


@pytest.mark.parametrize("body", [
    b"0005\r\nhello\r\n0\r\n\r\n",
    b"A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
    b"0\r\n\r\n",
    b"000\r\n\r\n",
])
def test_chunked_body_variants(shared, body):
    data = (build_request("GET", "/hello.txt", headers=[("Transfer-Encoding", "chunked")]) + body
            + build_request("GET", "/data.json", close=True))
    resps, leftover, closed = exchange(shared.port, data)
    assert [r.status for r in resps] == [200, 200], resps
    assert [r.body for r in resps] == [tree.HELLO, tree.DATA_JSON]
    assert leftover == b"" and closed


@pytest.mark.parametrize("value,closes", [("keep-alive, close", True), ("Close", True),
                                          ("close, keep-alive", True), ("Upgrade, keep-alive", False)])
def test_connection_tokens(shared, value, closes):
    data = build_request("GET", "/hello.txt", headers=[("Connection", value)]) + build_request("GET", "/data.json")
    with RawConn(shared.port, timeout=3) as c:
        c.send(data)
        raw = c.read_until_close(timeout=3 if closes else 0.5)
    resps, leftover = parse_all(raw)
    if closes:
        assert [r.status for r in resps] == [200] and c.closed
    else:
        assert [r.status for r in resps] == [200, 200]
    assert leftover == b""


def test_http10_keepalive_token_case_insensitive(shared):
    with RawConn(shared.port) as c:
        c.send(b"GET /hello.txt HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        r1 = c.read_response()
        c.send(b"GET /data.json HTTP/1.0\r\n\r\n")
        r2 = c.read_response()
    assert (r1.status, r1.body, r2.status, r2.body) == (200, tree.HELLO, 200, tree.DATA_JSON)


def test_obs_text_in_header_value_accepted(shared):
    data = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: caf\xe9 \xff\r\nConnection: close\r\n\r\n"
    resps, _, _ = exchange(shared.port, data)
    assert [r.status for r in resps] == [200]


def test_long_header_name_within_limits(shared):
    data = build_request("GET", "/hello.txt", headers=[("X-" + "n" * 20000, "v")], close=True)
    resps, _, _ = exchange(shared.port, data)
    assert [r.status for r in resps] == [200]
    assert resps[0].body == tree.HELLO


def test_absolute_form_empty_path(shared):
    data = build_request("GET", f"http://localhost:{shared.port}", close=True)
    resps, _, _ = exchange(shared.port, data)
    assert [r.status for r in resps] == [200]
    assert resps[0].body == tree.INDEX_HTML
