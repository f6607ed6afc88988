"""Malformed and ambiguous requests: each gets exactly one error response with
Connection: close, the connection is closed, nothing after the bad request is
ever answered (no request smuggling), and the server stays healthy."""

import pytest

import tree
from conftest import health_check
from rawhttp import RawConn, assert_error_page, parse_all

H = b"Host: localhost\r\n"
# A complete request placed after the malformed one: it must never be answered.
SMUGGLED = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"


def req(head_lines, body=b"", line=b"GET /index.html HTTP/1.1"):
    return line + b"\r\n" + b"".join(h + b"\r\n" for h in head_lines) + b"\r\n" + body


def big_target(n):
    return b"/" + b"a" * (n - 1)


def pad_headers(count, value_len):
    return [b"X-Pad-%03d: " % i + b"v" * value_len for i in range(count)]


CASES = [
    # --- Content-Length / Transfer-Encoding ambiguity (smuggling classics) ---
    ("cl.te", req([b"Host: x", b"Content-Length: 6", b"Transfer-Encoding: chunked"],
                  b"0\r\n\r\n" + SMUGGLED), 400),
    ("te.cl", req([b"Host: x", b"Transfer-Encoding: chunked", b"Content-Length: 3"],
                  b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"), 400),
    ("te-and-cl-zero", req([b"Host: x", b"Content-Length: 0", b"Transfer-Encoding: chunked"],
                           b"0\r\n\r\n" + SMUGGLED), 400),
    ("te-space-before-colon", req([b"Host: x", b"Transfer-Encoding : chunked"],
                                  b"0\r\n\r\n" + SMUGGLED), 400),
    ("cl-space-before-colon", req([b"Host: x", b"Content-Length : 5"], b"hello" + SMUGGLED), 400),
    ("host-space-before-colon", req([b"Host : x"]) + SMUGGLED, 400),
    ("te-obs-fold", req([b"Host: x", b"X-Foo: bar", b" Transfer-Encoding: chunked"],
                        b"0\r\n\r\n" + SMUGGLED), 400),
    ("obs-fold-tab", req([b"Host: x", b"X-Foo: bar", b"\tcontinued"]) + SMUGGLED, 400),
    ("te-folded-after-request-line", req([b" Transfer-Encoding: chunked", b"Host: x"],
                                         b"0\r\n\r\n" + SMUGGLED), 400),
    ("te-xchunked", req([b"Host: x", b"Transfer-Encoding: xchunked"], b"0\r\n\r\n" + SMUGGLED), 501),
    ("te-gzip", req([b"Host: x", b"Transfer-Encoding: gzip"], SMUGGLED), 501),
    ("te-identity", req([b"Host: x", b"Transfer-Encoding: identity"], SMUGGLED), 501),
    ("te-gzip-chunked", req([b"Host: x", b"Transfer-Encoding: gzip, chunked"],
                            b"0\r\n\r\n" + SMUGGLED), 501),
    ("te-chunked-not-last", req([b"Host: x", b"Transfer-Encoding: chunked, gzip"],
                                b"0\r\n\r\n" + SMUGGLED), 400),
    ("te-chunked-twice-list", req([b"Host: x", b"Transfer-Encoding: chunked, chunked"],
                                  b"0\r\n\r\n" + SMUGGLED), 400),
    ("te-chunked-two-headers", req([b"Host: x", b"Transfer-Encoding: chunked",
                                    b"Transfer-Encoding: chunked"], b"0\r\n\r\n" + SMUGGLED), 400),
    ("te-on-http10", req([b"Transfer-Encoding: chunked", b"Connection: keep-alive"],
                         b"0\r\n\r\n" + SMUGGLED, line=b"GET /index.html HTTP/1.0"), 400),
    ("cl-twice-equal", req([b"Host: x", b"Content-Length: 5", b"Content-Length: 5"],
                           b"hello" + SMUGGLED), 400),
    ("cl-twice-different", req([b"Host: x", b"Content-Length: 0",
                                b"Content-Length: %d" % len(SMUGGLED)], SMUGGLED), 400),
    ("cl-list-1-1", req([b"Host: x", b"Content-Length: 1, 1"], b"x" + SMUGGLED), 400),
    ("cl-plus", req([b"Host: x", b"Content-Length: +5"], b"hello" + SMUGGLED), 400),
    ("cl-minus", req([b"Host: x", b"Content-Length: -1"], SMUGGLED), 400),
    ("cl-hex", req([b"Host: x", b"Content-Length: 0x5"], b"hello" + SMUGGLED), 400),
    ("cl-inner-space", req([b"Host: x", b"Content-Length: 1 0"], b"0123456789" + SMUGGLED), 400),
    ("cl-empty", req([b"Host: x", b"Content-Length:"], SMUGGLED), 400),
    ("cl-over-1mib", req([b"Host: x", b"Content-Length: 1048577"], SMUGGLED), 413),
    # --- chunked body errors (found after the head was accepted) ---
    ("chunk-size-zz", req([b"Host: x", b"Transfer-Encoding: chunked"],
                          b"zz\r\nhello\r\n0\r\n\r\n" + SMUGGLED), 400),
    ("chunk-size-negative", req([b"Host: x", b"Transfer-Encoding: chunked"],
                                b"-1\r\nhello\r\n0\r\n\r\n" + SMUGGLED), 400),
    ("chunk-size-0x", req([b"Host: x", b"Transfer-Encoding: chunked"],
                          b"0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED), 400),
    ("chunk-missing-crlf", req([b"Host: x", b"Transfer-Encoding: chunked"],
                               b"5\r\nhelloXX0\r\n\r\n" + SMUGGLED), 400),
    ("chunk-data-longer-than-size", req([b"Host: x", b"Transfer-Encoding: chunked"],
                                        b"3\r\nhello\r\n0\r\n\r\n" + SMUGGLED), 400),
    # --- bytes that never belong in a head ---
    ("nul-in-header-value", req([b"Host: x", b"X-A: a\x00b"]) + SMUGGLED, 400),
    ("nul-in-header-name", req([b"Host: x", b"X\x00A: b"]) + SMUGGLED, 400),
    ("bare-cr-request-line", b"GET /index.html HTTP/1.1\rHost: x\r\n\r\n" + SMUGGLED, 400),
    ("bare-cr-header-value", req([b"Host: x", b"X-A: a\rb"]) + SMUGGLED, 400),
    ("bare-lf-line-ends", b"GET /index.html HTTP/1.1\nHost: x\n\n" + SMUGGLED, 400),
    ("bare-lf-one-header", b"GET /index.html HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n" + SMUGGLED, 400),
    ("header-without-colon", req([b"Host: x", b"X-A b"]) + SMUGGLED, 400),
    ("empty-header-name", req([b"Host: x", b": b"]) + SMUGGLED, 400),
    ("header-name-bad-char", req([b"Host: x", b"X(A): b"]) + SMUGGLED, 400),
    # --- request line ---
    ("space-in-target", req([H.strip()], line=b"GET /a b HTTP/1.1") + SMUGGLED, 400),
    ("tab-in-target", req([H.strip()], line=b"GET /a\tb HTTP/1.1") + SMUGGLED, 400),
    ("ctl-in-target", req([H.strip()], line=b"GET /a\x01b HTTP/1.1") + SMUGGLED, 400),
    ("del-in-target", req([H.strip()], line=b"GET /a\x7fb HTTP/1.1") + SMUGGLED, 400),
    ("nul-in-target", req([H.strip()], line=b"GET /index\x00.html HTTP/1.1") + SMUGGLED, 400),
    ("target-not-slash", req([H.strip()], line=b"GET index.html HTTP/1.1") + SMUGGLED, 400),
    ("get-asterisk", req([H.strip()], line=b"GET * HTTP/1.1") + SMUGGLED, 400),
    ("method-not-token", req([H.strip()], line=b"GE(T /index.html HTTP/1.1") + SMUGGLED, 400),
    ("target-8193", req([H.strip()], line=b"GET " + big_target(8193) + b" HTTP/1.1") + SMUGGLED, 414),
    ("head-33k", req([H.strip()] + pad_headers(33, 1000)) + SMUGGLED, 431),
    ("headers-101", req([H.strip()] + pad_headers(100, 4)) + SMUGGLED, 431),
    # --- versions ---
    ("http-2.0", req([H.strip()], line=b"GET /index.html HTTP/2.0") + SMUGGLED, 505),
    ("http-3.0", req([H.strip()], line=b"GET /index.html HTTP/3.0") + SMUGGLED, 505),
    ("http-0.9", req([H.strip()], line=b"GET /index.html HTTP/0.9") + SMUGGLED, 505),
    ("http-1", req([H.strip()], line=b"GET /index.html HTTP/1") + SMUGGLED, 400),
    ("http-1-dot", req([H.strip()], line=b"GET /index.html HTTP/1.") + SMUGGLED, 400),
    ("http-1.10", req([H.strip()], line=b"GET /index.html HTTP/1.10") + SMUGGLED, 400),
    ("http-lowercase", req([H.strip()], line=b"GET /index.html http/1.1") + SMUGGLED, 400),
    ("http-letters", req([H.strip()], line=b"GET /index.html HTTP/x.y") + SMUGGLED, 400),
    # --- Host ---
    ("two-host", req([b"Host: a", b"Host: b"]) + SMUGGLED, 400),
    ("no-host-http11", req([b"X-A: b"]) + SMUGGLED, 400),
    ("host-slash", req([b"Host: a/b"]) + SMUGGLED, 400),
    ("host-space", req([b"Host: a b"]) + SMUGGLED, 400),
    ("host-at", req([b"Host: user@a"]) + SMUGGLED, 400),
    # --- Expect ---
    ("expect-other", req([H.strip(), b"Expect: something"]) + SMUGGLED, 417),
]


@pytest.mark.parametrize("data,status", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_request(shared, data, status):
    with RawConn(shared.port, timeout=5) as c:
        c.send(data)
        raw = c.read_until_close(timeout=5)
        closed = c.closed
    resps, leftover = parse_all(raw)
    assert len(resps) >= 1, f"no response at all (closed={closed}); got {raw[:300]!r}"
    assert [r.status for r in resps] == [status], \
        f"expected exactly one {status}, got {[r.status for r in resps]}: {raw[:600]!r}"
    assert leftover == b"", f"bytes after the response: {leftover[:300]!r}"
    assert b"Hello, infosrv!" not in raw, "the smuggled request was answered"
    r = resps[0]
    assert_error_page(r, status)
    assert "close" in r.connection_tokens(), f"no Connection: close on {status}: {r.headers!r}"
    assert closed, "the server did not close the connection after the error"
    health_check(shared.port)


def test_case_table_is_large_enough():
    assert len(CASES) >= 30
    assert len({c[0] for c in CASES}) == len(CASES), "duplicate case ids"


def test_boundary_target_8192_accepted(shared):
    target = b"/index.html?" + b"a" * (8192 - len(b"/index.html?"))
    assert len(target) == 8192
    with RawConn(shared.port) as c:
        c.send(req([H.strip(), b"Connection: close"], line=b"GET " + target + b" HTTP/1.1"))
        r = c.read_response()
    assert r.status == 200 and r.body == tree.INDEX_HTML


def test_boundary_100_header_fields_accepted(shared):
    headers = [H.strip(), b"Connection: close"] + pad_headers(98, 4)
    assert len(headers) == 100
    with RawConn(shared.port) as c:
        c.send(req(headers))
        r = c.read_response()
    assert r.status == 200 and r.body == tree.INDEX_HTML


def test_boundary_head_32768_bytes_accepted(shared):
    base = req([H.strip(), b"Connection: close"])
    # Fill with headers so that the head (request line through the final CRLF) is 32768 bytes.
    headers = [H.strip(), b"Connection: close"] + pad_headers(32, 1000)
    data = req(headers)
    missing = 32768 - len(data)
    assert 20 < missing < 1000, missing
    extra = b"X-Last: " + b"z" * (missing - len(b"X-Last: \r\n"))
    data = req(headers + [extra])
    assert len(data) == 32768 and len(base) < 100
    with RawConn(shared.port) as c:
        c.send(data)
        r = c.read_response()
    assert r.status == 200 and r.body == tree.INDEX_HTML


def test_body_over_1mib_chunked_never_served(shared):
    # A chunked body larger than 1 MiB: 413 and close, the smuggled request is not answered.
    chunk = b"x" * 65536
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 17 + b"0\r\n\r\n"
    data = req([H.strip(), b"Transfer-Encoding: chunked"], body) + SMUGGLED
    with RawConn(shared.port, timeout=10) as c:
        c.send(data)
        raw = c.read_until_close(timeout=10)
        closed = c.closed
    resps, leftover = parse_all(raw)
    assert [r.status for r in resps] == [413], raw[:400]
    assert leftover == b"" and closed
    assert "close" in resps[0].connection_tokens()
    health_check(shared.port)


@pytest.mark.parametrize("bad,status", [
    (req([b"Host: x", b"Content-Length: 1, 1"], b"x"), 400),
    (req([H.strip()], line=b"GET /index.html HTTP/2.0"), 505),
    (req([b"Host: x", b"Transfer-Encoding: chunked"], b"zz\r\n"), 400),
], ids=["cl-list", "version", "chunk"])
def test_error_after_good_requests_in_pipeline(shared, bad, status):
    good = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    with RawConn(shared.port) as c:
        c.send(good + good + bad + SMUGGLED)
        raw = c.read_until_close()
        closed = c.closed
    resps, leftover = parse_all(raw)
    assert [r.status for r in resps] == [200, 200, status], raw[:600]
    assert [r.body for r in resps[:2]] == [tree.HELLO, tree.HELLO]
    assert "close" in resps[2].connection_tokens()
    assert leftover == b"" and closed
    health_check(shared.port)


# Values where more than one answer is defensible; what matters is a clean,
# single, closing error and no crash or sanitizer report (the suite checks the
# daemon's stderr when the module ends).
ROBUST = [
    ("cl-overflow", req([b"Host: x", b"Content-Length: 18446744073709551616"], SMUGGLED), (400, 413)),
    ("cl-huge", req([b"Host: x", b"Content-Length: 99999999999999999999999999"], SMUGGLED), (400, 413)),
    ("chunk-overflow", req([b"Host: x", b"Transfer-Encoding: chunked"],
                           b"fffffffffffffffffffff\r\nx\r\n0\r\n\r\n" + SMUGGLED), (400, 413)),
    ("chunk-ffff-ffff", req([b"Host: x", b"Transfer-Encoding: chunked"],
                            b"ffffffffffffffff\r\nx\r\n0\r\n\r\n" + SMUGGLED), (400, 413)),
]


@pytest.mark.parametrize("data,statuses", [(c[1], c[2]) for c in ROBUST], ids=[c[0] for c in ROBUST])
def test_robustness(shared, data, statuses):
    with RawConn(shared.port) as c:
        c.send(data)
        raw = c.read_until_close()
        closed = c.closed
    resps, leftover = parse_all(raw)
    assert len(resps) == 1 and resps[0].status in statuses, raw[:400]
    assert leftover == b"" and closed
    assert "close" in resps[0].connection_tokens()
    health_check(shared.port)


SMUGGLED_JSON = b"GET /data.json HTTP/1.1\r\nHost: localhost\r\n\r\n"
FOLLOW = b"GET /style.css HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("method,status", [("POST", 405), ("PUT", 405), ("DELETE", 405), ("BREW", 501),
                                           ("A" * 20000, 501)],
                         ids=["POST", "PUT", "DELETE", "BREW", "long-method"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_refused_request_body_is_never_a_request(shared, method, status, framing):
    # The body of a refused request looks like a request: it must be discarded
    # (then the next request is answered) or the connection closed -- never answered.
    if framing == "length":
        head = [b"Host: x", b"Content-Length: %d" % len(SMUGGLED_JSON)]
        body = SMUGGLED_JSON
    else:
        head = [b"Host: x", b"Transfer-Encoding: chunked"]
        body = b"%x\r\n" % len(SMUGGLED_JSON) + SMUGGLED_JSON + b"\r\n0\r\n\r\n"
    data = req(head, body, line=method.encode() + b" /hello.txt HTTP/1.1") + FOLLOW
    with RawConn(shared.port) as c:
        c.send(data)
        raw = c.read_until_close()
        closed = c.closed
    resps, leftover = parse_all(raw)
    assert tree.DATA_JSON not in raw, "the body of a refused request was answered as a request"
    assert leftover == b"" and closed
    assert resps and resps[0].status == status, raw[:400]
    if "close" in resps[0].connection_tokens():
        assert len(resps) == 1
    else:
        assert [r.status for r in resps] == [status, 200]
        assert resps[1].body == tree.STYLE_CSS
    health_check(shared.port)
