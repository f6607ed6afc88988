"""End-to-end tests of configuration generations as a client and an admin
see them: a connection keeps the generation its request started on and moves
to the newest one at its next request; workers are told of a new generation
at once (an idle connection of a stopped site is closed without any traffic);
a response in flight finishes from what it started on."""

import os
import time

from conftest import admin_request
from rawhttp import RawConn, build_request


def _session(srv, port):
    for s in admin_request(srv, "GET", "/api/v1/sessions").json["sessions"]:
        if s["client"].endswith(f":{port}"):
            return s
    raise AssertionError(f"no session for client port {port}")


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _set_root(srv, path):
    r = admin_request(srv, "PATCH", "/api/v1/config/www/sites/default/root",
                      body={"set": {"path": path}})
    assert r.status == 200, r


def test_a_connection_moves_to_a_new_generation_at_its_next_request(admin_server, tmp_path):
    srv = admin_server()
    other = os.path.join(str(tmp_path), "other")
    os.makedirs(other)
    _write(os.path.join(srv.root, "gen.txt"), b"first root\n")
    _write(os.path.join(other, "gen.txt"), b"second root\n")
    with RawConn(srv.port) as c:
        c.send(build_request("GET", "/gen.txt"))
        assert c.read_response().body == b"first root\n"
        before = _session(srv, c.local_port)["generation"]
        _set_root(srv, other)
        # Idle between requests: it still holds the generation it ran on.
        assert _session(srv, c.local_port)["generation"] == before
        with RawConn(srv.port) as fresh:
            fresh.send(build_request("GET", "/gen.txt"))
            assert fresh.read_response().body == b"second root\n"
            newest = _session(srv, fresh.local_port)["generation"]
        assert newest > before
        c.send(build_request("GET", "/gen.txt"))
        assert c.read_response().body == b"second root\n"
        assert _session(srv, c.local_port)["generation"] == newest


def test_a_response_in_flight_finishes_from_what_it_started_on(admin_server, tmp_path):
    srv = admin_server()
    other = os.path.join(str(tmp_path), "other")
    os.makedirs(other)
    big = bytes(range(256)) * 16384  # 4 MiB: far more than the socket buffers hold
    _write(os.path.join(srv.root, "big.bin"), big)
    _write(os.path.join(other, "big.bin"), b"small\n")
    with RawConn(srv.port, rcvbuf=4096, timeout=20.0) as c:
        c.send(build_request("GET", "/big.bin"))
        deadline = time.monotonic() + 10
        while len(c.buf) < 1000:  # the response has started
            assert c._recv_some(deadline), "no response bytes"

        _set_root(srv, other)
        r = c.read_response()
        assert r.status == 200 and r.body == big
        c.send(build_request("GET", "/big.bin"))
        assert c.read_response().body == b"small\n"


def test_stopping_a_site_closes_its_idle_connections_at_once(admin_server):
    srv = admin_server()
    with RawConn(srv.port) as c:
        c.send(build_request("GET", "/index.html"))
        assert c.read_response().status == 200
        r = admin_request(srv, "POST", "/api/v1/services/www/sites/default/stop")
        assert r.status == 200, r
        # No byte is sent: the worker acts on the generation message itself.
        assert c.read_until_close(timeout=5.0) == b""
        assert c.closed
    sessions = admin_request(srv, "GET", "/api/v1/sessions").json["sessions"]
    assert sessions == []
