"""End-to-end tests of what the web console stands on, without a browser:
the admin listener serving the console's files, console sessions (cookie,
CSRF token, logout, revocation, rate limit), GET /api/v1/schema, and the
event streams of GET /api/v1/events (commits, state changes, statistics,
Last-Event-ID, hundreds held at once). The browser tests are in
test_console.py."""

import http.client
import json
import os
import re
import socket
import ssl
import time

import pytest

from conftest import admin_request

SITE = "/api/v1/config/www/sites/default"


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def https(srv, method, path, body=None, headers=None, raw_body=None):
    """One request over HTTPS with exactly HEADERS (no token unless given)."""
    r = admin_request(srv, method, path, body=body, headers=headers, via="https", token="",
                      timeout=15, raw_body=raw_body)
    return r.status, r.headers, r.body, r.json


def login(srv, token=None):
    st, h, _, doc = https(srv, "POST", "/api/v1/login", {"token": token or srv.token})
    assert st == 200, (st, doc)
    m = re.match(r"infosrv_session=([0-9a-f]{64});", h["Set-Cookie"])
    assert m, h["Set-Cookie"]
    return m.group(1), doc


def with_cookie(sid, csrf=None, extra=None):
    h = {"Cookie": f"theme=dark; infosrv_session={sid}"}
    if csrf:
        h["X-CSRF-Token"] = csrf
    h.update(extra or {})
    return h


@pytest.fixture
def console_server(admin_server, tmp_path):
    web = tmp_path / "web"
    (web / "js").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>console</title>\n")
    (web / "js" / "app.js").write_text("export const x = 1;\n")
    (web / "css").mkdir()
    (web / "css" / "c.css").write_text("body{}\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    os.symlink(str(tmp_path / "secret.txt"), str(web / "leak.txt"))
    return admin_server(extra_args=["--web-dir", str(web)])


# -- the console's files --------------------------------------------------------

def test_files_are_served_with_a_strict_policy(console_server):
    srv = console_server
    st, h, body, _ = https(srv, "GET", "/")
    assert st == 200 and body.startswith(b"<!doctype html>"), (st, body)
    assert h["Content-Type"] == "text/html; charset=utf-8"
    csp = h["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
    st, h, body, _ = https(srv, "GET", "/js/app.js")
    assert st == 200 and h["Content-Type"].startswith("text/javascript") and b"export" in body
    st, h, _, _ = https(srv, "GET", "/css/c.css")
    assert st == 200 and h["Content-Type"].startswith("text/css")
    st, h, body, _ = https(srv, "HEAD", "/")
    assert st == 200 and body == b"" and int(h["Content-Length"]) > 0


def test_files_refuse_escapes_writes_and_missing(console_server):
    srv = console_server
    assert https(srv, "GET", "/missing.js")[0] == 404
    assert https(srv, "GET", "/../secret.txt")[0] in (400, 404)
    assert https(srv, "GET", "/%2e%2e/secret.txt")[0] in (400, 404)
    st, _, body, _ = https(srv, "GET", "/leak.txt")  # a symlink leading outside web/
    assert st in (403, 404) and b"outside" not in body, (st, body)
    st, h, _, doc = https(srv, "POST", "/index.html", raw_body=b"x")
    assert st == 405 and h["Allow"] == "GET, HEAD" and doc["error"]["code"] == "method_not_allowed"


def test_a_missing_web_dir_is_refused_at_start(admin_server, tmp_path):
    srv = admin_server(extra_args=["--web-dir", str(tmp_path / "nowhere")], start=False)
    with pytest.raises(pytest.fail.Exception):
        srv.start(timeout=5)
    assert srv.returncode == 1
    assert "--web-dir" in srv.stderr() and "has no index.html" in srv.stderr(), srv.stderr()


# -- sessions ---------------------------------------------------------------------

def test_login_sets_a_strict_cookie_and_the_session_works(console_server):
    srv = console_server
    st, h, _, doc = https(srv, "POST", "/api/v1/login", {"token": srv.token})
    assert st == 200, doc
    cookie = h["Set-Cookie"]
    for attr in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=28800"):
        assert attr in cookie, cookie
    assert doc["role"] == "admin" and doc["account"] == "admin" and len(doc["csrf"]) == 64
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", doc["expires"]), doc
    sid = re.match(r"infosrv_session=([0-9a-f]{64})", cookie).group(1)
    # the session reads like a token, and GET /api/v1/login gives the CSRF token back
    st, _, _, me = https(srv, "GET", "/api/v1/login", headers=with_cookie(sid))
    assert st == 200 and me["csrf"] == doc["csrf"], me
    st, _, _, api = https(srv, "GET", "/api", headers=with_cookie(sid))
    assert st == 200 and "console" in api["capabilities"] and api["uptime"] >= 0, api
    assert re.match(r"\d{4}-\d\d-\d\dT", api["started"]), api
    # audited
    audit = admin_request(srv, "GET", "/api/v1/audit?limit=5").json["entries"]
    assert any(e["action"] == "login" and e["result"] == "ok" for e in audit), audit


def test_a_cookie_write_needs_the_csrf_token(console_server):
    srv = console_server
    sid, doc = login(srv)
    body = {"set": {"directory_browsing": True}, "comment": "csrf test"}
    st, _, _, err = https(srv, "PATCH", SITE + "/root", body, headers=with_cookie(sid))
    assert st == 403 and "CSRF" in err["error"]["message"], err
    st, _, _, err = https(srv, "PATCH", SITE + "/root", body,
                          headers=with_cookie(sid, "0" * 64))
    assert st == 403, err
    value = admin_request(srv, "GET", SITE + "/root").json["properties"]["directory_browsing"]
    assert value["value"] is False, value  # nothing changed
    st, _, _, ok = https(srv, "PATCH", SITE + "/root", body, headers=with_cookie(sid, doc["csrf"]))
    assert st == 200 and ok["changed"] is True, ok
    rev = admin_request(srv, "GET", "/api/v1/revisions?limit=1").json["revisions"][0]
    assert rev["identity"] == "token:admin" and rev["comment"] == "csrf test", rev


def test_a_cross_origin_request_with_the_cookie_is_refused(console_server):
    srv = console_server
    sid, doc = login(srv)
    st, _, _, err = https(srv, "POST", "/api/v1/services/www/stop", raw_body=b"",
                          headers=with_cookie(sid, doc["csrf"],
                                              {"Origin": "http://127.0.0.1:8080"}))
    assert st == 403 and err["error"]["code"] == "forbidden", err
    states = admin_request(srv, "GET", "/api/v1/services").json["services"]
    assert states[0]["state"] == "started", states
    # the same request from the console's own origin works
    st, _, _, ok = https(srv, "POST", "/api/v1/services/www/stop", raw_body=b"",
                         headers=with_cookie(sid, doc["csrf"],
                                             {"Origin": f"https://127.0.0.1:{srv.admin_port}"}))
    assert st == 200 and ok["state"] == "stopped", ok


def test_roles_hold_for_sessions(console_server):
    srv = console_server
    r = admin_request(srv, "POST", "/api/v1/accounts", {"name": "viewer", "role": "reader"})
    assert r.status == 201, r
    sid, doc = login(srv, r.json["token"])
    assert doc["role"] == "reader"
    assert https(srv, "GET", "/api/v1/config", headers=with_cookie(sid))[0] == 200
    st, _, _, err = https(srv, "POST", "/api/v1/services/www/stop", raw_body=b"",
                          headers=with_cookie(sid, doc["csrf"]))
    assert st == 403 and "role" in err["error"]["message"], err


def test_logout_and_revocation_end_the_session(console_server):
    srv = console_server
    sid, doc = login(srv)
    st, h, _, out = https(srv, "POST", "/api/v1/logout", raw_body=b"", headers=with_cookie(sid))
    assert st == 403, out  # logging out is a write too: it needs the CSRF token
    st, h, _, out = https(srv, "POST", "/api/v1/logout", raw_body=b"",
                          headers=with_cookie(sid, doc["csrf"]))
    assert st == 200 and out["logged_out"] is True and "Max-Age=0" in h["Set-Cookie"], out
    st, _, _, err = https(srv, "GET", "/api/v1/config", headers=with_cookie(sid))
    assert st == 401 and "log in again" in err["error"]["message"], err
    # a new token for the account ends its sessions
    r = admin_request(srv, "POST", "/api/v1/accounts", {"name": "ops", "role": "operator"})
    sid2, _ = login(srv, r.json["token"])
    assert https(srv, "GET", "/api/v1/config", headers=with_cookie(sid2))[0] == 200
    assert admin_request(srv, "POST", "/api/v1/accounts/ops/token").status == 200
    assert https(srv, "GET", "/api/v1/config", headers=with_cookie(sid2))[0] == 401
    # so does deleting it
    r = admin_request(srv, "POST", "/api/v1/accounts", {"name": "gone", "role": "reader"})
    sid3, _ = login(srv, r.json["token"])
    assert admin_request(srv, "DELETE", "/api/v1/accounts/gone").status == 200
    assert https(srv, "GET", "/api/v1/config", headers=with_cookie(sid3))[0] == 401


def test_bad_logins_are_refused_and_rate_limited(console_server):
    srv = console_server
    for body in ({}, {"token": 5}, {"token": "x", "extra": 1}):
        st, _, _, err = https(srv, "POST", "/api/v1/login", body)
        assert st == 400 and err["error"]["code"] == "invalid_request", (body, err)
    st, _, _, err = https(srv, "POST", "/api/v1/login", raw_body=b"{not json")
    assert st == 400, err
    codes = [https(srv, "POST", "/api/v1/login", {"token": "wrong"})[0] for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429, codes
    st, h, _, err = https(srv, "POST", "/api/v1/login", {"token": srv.token})
    assert st == 429 and int(h["Retry-After"]) > 0, err  # even the right token, for now
    audit = admin_request(srv, "GET", "/api/v1/audit?limit=20").json["entries"]
    assert sum(e["action"] == "login" and e["result"] == "refused" for e in audit) >= 5


def test_a_forged_or_foreign_cookie_is_not_a_session(console_server):
    srv = console_server
    for cookie in ("infosrv_session=" + "a" * 64, "infosrv_session=short", "other=1"):
        st, _, _, err = https(srv, "GET", "/api/v1/config", headers={"Cookie": cookie})
        assert st == 401, (cookie, err)


# -- the schema -------------------------------------------------------------------

def test_schema_describes_every_property(console_server):
    srv = console_server
    doc = admin_request(srv, "GET", "/api/v1/schema").json
    props = {p["name"]: p for p in doc["properties"]}
    assert set(doc["kinds"]) == {"machine", "service", "site", "vdir", "user"}
    dd = props["default_documents"]
    assert dd["type"] == "string_list" and dd["inherit"] is True and "vdir" in dd["where"], dd
    assert isinstance(dd["default"], list) and dd["default"], dd
    kt = props["connection_timeout"]
    assert kt["type"] == "integer" and (kt["min"], kt["max"], kt["default"]) == (1, 86400, 15), kt
    assert props["log_format"]["type"] == "enum" and "sqlite" in props["log_format"]["values"]
    assert props["password_hash"]["secret"] is True and props["password_hash"]["where"] == ["user"]
    assert props["auth_basic"]["capability"] == "www.auth"
    assert props["cache_size"]["apply"] == "restart"
    # every property a config read shows is in the schema, with the kind it was read on
    cfg = admin_request(srv, "GET", SITE).json
    for name in cfg["properties"]:
        assert name in props and "site" in props[name]["where"], name


# -- events -----------------------------------------------------------------------

class Stream:
    """One GET /api/v1/events over HTTPS, parsed into (id, event, data)."""

    def __init__(self, srv, headers):
        raw = socket.create_connection(("127.0.0.1", srv.admin_port), timeout=10)
        self.sock = ctx().wrap_socket(raw)
        hdrs = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{hdrs}\r\n"
                          .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, self.buf
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode()

    def next(self, want=None, timeout=10):
        """The next event (of type WANT, skipping others)."""
        end = time.monotonic() + timeout
        while True:
            while b"\n\n" in self.buf:
                block, self.buf = self.buf.split(b"\n\n", 1)
                ev = {"id": None, "event": "message", "data": None}
                for line in block.decode().split("\n"):
                    k, _, v = line.partition(": ")
                    if k in ("id", "event"):
                        ev[k] = v
                    elif k == "data":
                        ev["data"] = json.loads(v)
                if ev["data"] is None:
                    continue  # retry: and comments
                if want is None or ev["event"] == want:
                    return ev
            left = end - time.monotonic()
            assert left > 0, f"no {want} event in {timeout} s"
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def closed_within(self, seconds):
        self.sock.settimeout(seconds)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except (ssl.SSLError, ConnectionError):
            return True

    def close(self):
        self.sock.close()


def bearer(srv):
    return {"Authorization": f"Bearer {srv.token}"}


def test_events_tell_commits_states_and_statistics(console_server):
    srv = console_server
    s = Stream(srv, bearer(srv))
    assert s.head.startswith("HTTP/1.1 200") and "text/event-stream" in s.head, s.head
    hello = s.next("hello")
    assert hello["data"]["version"] == srv.version and hello["id"] is None, hello
    r = admin_request(srv, "PATCH", SITE + "/root", {"set": {"directory_browsing": True},
                                                     "comment": "watched"})
    assert r.status == 200, r
    ev = s.next("commit")
    assert ev["data"]["revision"] == r.json["revision"] and ev["data"]["comment"] == "watched"
    assert ev["data"]["identity"].startswith("local:") and "address" not in ev["data"], ev
    assert ev["data"]["summary"][0]["name"] == "directory_browsing", ev
    assert "comment_truncated" not in ev["data"], ev
    assert re.match(r"\d+\.\d+$", ev["id"]), ev
    assert admin_request(srv, "POST", "/api/v1/services/www/sites/default/pause").status == 200
    st = s.next("state")
    assert st["data"] == {"service": "www", "site": "default", "state": "paused"}, st
    tick = s.next("stats", timeout=5)
    entries = {(e["service"], e["site"]) for e in tick["data"]["stats"]}
    assert ("www", None) in entries and ("www", "default") in entries, entries
    assert "total_requests" in tick["data"]["stats"][0]["counters"], tick
    assert abs(tick["data"]["time"] - time.time()) < 5, tick
    s.close()


def test_events_resume_from_last_event_id(console_server):
    srv = console_server
    s = Stream(srv, bearer(srv))
    for flag in (True, False, True):
        admin_request(srv, "PATCH", SITE + "/root", {"set": {"directory_browsing": flag}})
    first = s.next("commit")
    s.close()
    # reconnecting after the first commit gets the next two, in order
    s = Stream(srv, dict(bearer(srv), **{"Last-Event-ID": first["id"]}))
    s.next("hello")
    second, third = s.next("commit"), s.next("commit")
    assert third["data"]["revision"] == second["data"]["revision"] + 1 == \
        first["data"]["revision"] + 2, (first, second, third)
    s.close()
    # an id from another run (or garbage) is answered with a reset, then live events
    for bad in ("12345.1", "nonsense"):
        s = Stream(srv, dict(bearer(srv), **{"Last-Event-ID": bad}))
        s.next("hello")
        assert s.next()["event"] == "reset"
        s.close()


def test_events_need_authentication_and_end_at_logout(console_server):
    srv = console_server
    s = Stream(srv, {})
    assert s.head.startswith("HTTP/1.1 401"), s.head
    s.close()
    sid, doc = login(srv)
    s = Stream(srv, with_cookie(sid))
    assert s.head.startswith("HTTP/1.1 200"), s.head
    s.next("hello")
    https(srv, "POST", "/api/v1/logout", raw_body=b"", headers=with_cookie(sid, doc["csrf"]))
    assert s.closed_within(5), "the stream outlived its session"


def test_hundreds_of_streams_are_held_while_the_api_answers(console_server):
    """250 streams at once (the target is 200); each gets the commit made
    meanwhile, and API calls are answered promptly throughout."""
    srv = console_server
    streams = [Stream(srv, bearer(srv)) for _ in range(250)]
    assert all(s.head.startswith("HTTP/1.1 200") for s in streams)
    t0 = time.monotonic()
    r = admin_request(srv, "PATCH", SITE + "/root", {"set": {"directory_browsing": True},
                                                     "comment": "fan-out"}, via="https")
    took = time.monotonic() - t0
    assert r.status == 200, r
    for s in streams:
        ev = s.next("commit")
        assert ev["data"]["revision"] == r.json["revision"], ev
    lat = []
    for _ in range(20):
        t0 = time.monotonic()
        assert admin_request(srv, "GET", "/api", via="https").status == 200
        lat.append(time.monotonic() - t0)
    lat.sort()
    print(f"[250 streams] commit {took * 1000:.1f} ms; GET /api median "
          f"{lat[10] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms")
    assert lat[10] < 0.5, lat
    for s in streams:
        s.close()
    # they are gone again: the server is healthy and answers
    assert admin_request(srv, "GET", "/api").status == 200


def test_a_stream_that_stops_reading_is_dropped_not_buffered_forever(console_server):
    srv = console_server
    raw = socket.create_connection(("127.0.0.1", srv.admin_port), timeout=10)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s = ctx().wrap_socket(raw)
    s.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {srv.token}"
              "\r\n\r\n".encode())
    s.recv(100)
    # never read again; commits with long comments fill the socket and the backlog
    big = "x" * 1000
    conn = http.client.HTTPSConnection("127.0.0.1", srv.admin_port, timeout=15, context=ctx())
    flag = False
    for _ in range(450):  # about 0.5 MB of events: more than the 256 KiB a stream may lag
                          # and the socket buffers hold
        flag = not flag
        conn.request("PATCH", SITE + "/root", body=json.dumps(
            {"set": {"directory_browsing": flag}, "comment": big}).encode(),
            headers={"Authorization": f"Bearer {srv.token}"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    conn.close()
    time.sleep(1.5)  # a statistics tick makes the server look at the stream again
    s.settimeout(10)
    got = 0
    while True:  # what was sent before the drop, then the end
        chunk = s.recv(65536)
        if not chunk:
            break
        got += len(chunk)
    assert got < 450 * 1000, got
    s.close()
    assert admin_request(srv, "GET", "/api").status == 200
