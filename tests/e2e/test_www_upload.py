"""Uploads of the WWW service: PUT (201 created / 204 replaced) and DELETE in
access_write directories, 405 with the directory's Allow elsewhere; a body is
written to a temporary file and renamed, so a cut-off upload never replaces
the old file."""

import http.client
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import AdminServer, adm_ok, health_check, serving
from rawhttp import request
import tree


@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin, infoadm_bin):
    base = str(tmp_path_factory.mktemp("upload"))
    dirs = tree.build(base)
    s = AdminServer(base, dirs["root"], ["--workers", "2"])
    s.up = os.path.join(base, "up")
    os.makedirs(os.path.join(s.up, "sub"))

    def setup(s):
        adm_ok(s, "vdir", "add", "default", "/up", s.up)
        adm_ok(s, "set", "/www/sites/default/root/up", "access_write=true")

    s.start()
    yield from serving(s, setup)


def get_many(port, path, times=6):
    """GET on new connections, so every worker's file cache is asked."""
    return {request(port, "GET", path).status for _ in range(times)}


def put(port, path, body, headers=()):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("PUT", path, body=body, headers=dict(headers))
    r = c.getresponse()
    r.read()
    c.close()
    return r


def test_put_creates_then_replaces_and_delete_removes(srv):
    assert get_many(srv.port, "/up/a.txt") == {404}
    r = put(srv.port, "/up/a.txt", b"first\n")
    assert r.status == 201
    assert open(os.path.join(srv.up, "a.txt"), "rb").read() == b"first\n"
    assert all(request(srv.port, "GET", "/up/a.txt").body == b"first\n" for _ in range(6))
    r = put(srv.port, "/up/a.txt", b"second version\n")
    assert r.status == 204
    assert all(request(srv.port, "GET", "/up/a.txt").body == b"second version\n" for _ in range(6))
    r = request(srv.port, "DELETE", "/up/a.txt")
    assert r.status == 204, r
    assert not os.path.exists(os.path.join(srv.up, "a.txt"))
    assert get_many(srv.port, "/up/a.txt") == {404}
    assert request(srv.port, "DELETE", "/up/a.txt").status == 404
    out = json.loads(adm_ok(srv, "--json", "stats", "--service", "www").out)
    assert out["stats"][0]["counters"]["files_received"] >= 2


def test_curl_uploads_with_chunked_framing_into_a_subdirectory(srv, tmp_path):
    src = tmp_path / "big.bin"
    data = os.urandom(300_000)
    src.write_bytes(data)
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", "-",
                        f"http://127.0.0.1:{srv.port}/up/sub/big.bin"],
                       stdin=open(src, "rb"), capture_output=True, timeout=20)
    assert p.stdout == b"201", p.stderr
    assert open(os.path.join(srv.up, "sub", "big.bin"), "rb").read() == data


def test_refused_where_writing_is_not_allowed(srv):
    r = request(srv.port, "PUT", "/index.html", body=b"defaced", headers=[("Content-Length", "7")])
    assert r.status == 405 and r.header("Allow") == "GET, HEAD, OPTIONS", r
    assert request(srv.port, "GET", "/index.html").body == tree.INDEX_HTML
    r = request(srv.port, "DELETE", "/index.html")
    assert r.status == 405
    r = request(srv.port, "OPTIONS", "/up/")
    assert r.status == 204 and r.header("Allow") == "GET, HEAD, OPTIONS, PUT, DELETE", r
    # a dot-segment cannot climb out of the write directory into the read-only site
    r = request(srv.port, "PUT", "/up/%2e%2e/index.html", body=b"defaced",
                headers=[("Content-Length", "7")])
    assert r.status == 405
    assert request(srv.port, "GET", "/index.html").body == tree.INDEX_HTML


def test_conflicts_and_preconditions(srv):
    assert put(srv.port, "/up/missing/x.txt", b"x").status == 409
    assert put(srv.port, "/up/sub", b"x").status == 409          # a directory has that name
    assert request(srv.port, "PUT", "/up/sub/", body=b"x",
                   headers=[("Content-Length", "1")]).status == 405
    assert request(srv.port, "DELETE", "/up/sub").status == 409
    assert put(srv.port, "/up/keep.txt", b"kept").status == 201
    assert put(srv.port, "/up/keep.txt", b"lost", [("If-None-Match", "*")]).status == 412
    assert open(os.path.join(srv.up, "keep.txt"), "rb").read() == b"kept"
    assert put(srv.port, "/up/.infosrv-put-0000", b"x").status == 403


def test_a_cut_off_upload_leaves_the_old_file(srv):
    assert put(srv.port, "/up/doc.txt", b"the old file\n").status == 201
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"PUT /up/doc.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"y" * 5000)
    time.sleep(0.3)
    s.close()
    time.sleep(0.5)
    assert open(os.path.join(srv.up, "doc.txt"), "rb").read() == b"the old file\n"
    assert [n for n in os.listdir(srv.up) if n.startswith(".infosrv-put-")] == []
    health_check(srv.port)


def test_an_upload_beyond_max_body_is_refused(srv):
    adm_ok(srv, "set", "/www/sites/default", "max_body=1000")
    try:
        r = request(srv.port, "PUT", "/up/large.bin", body=b"z" * 5000,
                    headers=[("Content-Length", "5000")])
        assert r.status == 413
        assert not os.path.exists(os.path.join(srv.up, "large.bin"))
        # chunked: the limit applies while the body arrives, and nothing is kept
        body = b"".join(b"%x\r\n%s\r\n" % (500, b"q" * 500) for _ in range(4)) + b"0\r\n\r\n"
        r = request(srv.port, "PUT", "/up/large2.bin", body=body,
                    headers=[("Transfer-Encoding", "chunked")])
        assert r.status == 413
        assert not os.path.exists(os.path.join(srv.up, "large2.bin"))
        assert [n for n in os.listdir(srv.up) if n.startswith(".infosrv-put-")] == []
    finally:
        adm_ok(srv, "unset", "/www/sites/default", "max_body")
    health_check(srv.port)
