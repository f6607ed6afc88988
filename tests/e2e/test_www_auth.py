"""WWW authentication: anonymous and Basic per site and directory, against the
users `infoadm user add` creates (argon2id), over HTTPS (plain HTTP only with
auth_basic_insecure); 401 with a challenge, failures rate-limited per address,
the user in the session list and the access log, and a cache of verified
credentials so keep-alive requests do not pay argon2id each."""

import base64
import http.client
import json
import os
import subprocess
import time

import pytest

import tree
from conftest import (AdminServer, adm_input_ok, adm_ok, client_ctx, health_check,
                      infoadm_path, sanitizer_env, serving)
from rawhttp import request


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin, infoadm_bin):
    base = str(tmp_path_factory.mktemp("auth"))
    dirs = tree.build(base)
    s = AdminServer(base, dirs["root"], ["--https", "127.0.0.1:0"])
    s.dirs = dirs

    def setup(s):
        www = [e for e in s.listeners["listeners"] if e.get("service") == "www"]
        s.tls_port = int([e for e in www if e.get("tls")][0]["port"])
        s.plain_port = int([e for e in www if e.get("tls") is False][0]["port"])
        os.makedirs(os.path.join(dirs["root"], "private"), exist_ok=True)
        with open(os.path.join(dirs["root"], "private", "secret.txt"), "wb") as f:
            f.write(b"the secret\n")
        adm_ok(s, "vdir", "add", "default", "/private", os.path.join(dirs["root"], "private"))
        adm_input_ok(s, "s3cret pass\n", "user", "add", "alice", "--password-stdin")
        adm_input_ok(s, "other\n", "user", "add", "bob", "--password-stdin", "--disabled")
        adm_input_ok(s, "dpw\n", "user", "add", "dave", "--password-stdin")
        adm_ok(s, "set", "/www/sites/default/root/private", "auth_basic=true",
               "auth_anonymous=false", "auth_realm=Staff only")

    s.start()
    yield from serving(s, setup)


def tls_get(srv, path, auth=None, conn=None):
    c = conn or http.client.HTTPSConnection("127.0.0.1", srv.tls_port, timeout=10,
                                            context=client_ctx())
    headers = {"Host": "x"}
    if auth:
        headers["Authorization"] = auth
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    body = r.read()
    if conn is None:
        c.close()
    return r, body


def test_no_credentials_gets_a_challenge(srv):
    r, body = tls_get(srv, "/private/secret.txt")
    assert r.status == 401, body
    assert r.getheader("WWW-Authenticate") == 'Basic realm="Staff only", charset="UTF-8"'
    assert b"the secret" not in body
    # The rest of the site is still anonymous.
    r, body = tls_get(srv, "/index.html")
    assert r.status == 200 and body == tree.INDEX_HTML


def test_a_user_logs_in_and_shows_in_the_access_log(srv):
    r, body = tls_get(srv, "/private/secret.txt", basic("alice", "s3cret pass"))
    assert r.status == 200 and body == b"the secret\n"
    # curl as a user would use it
    p = subprocess.run(["curl", "-sk", "-u", "alice:s3cret pass",
                        f"https://127.0.0.1:{srv.tls_port}/private/secret.txt"],
                       capture_output=True, timeout=20)
    assert p.stdout == b"the secret\n"
    deadline = time.time() + 10
    while time.time() < deadline:
        logs = ""
        for name in os.listdir(srv.access_log_dir):
            with open(os.path.join(srv.access_log_dir, name), errors="replace") as f:
                logs += f.read()
        if " alice " in logs and "/private/secret.txt" in logs:
            break
        time.sleep(0.2)
    assert any(" alice " in line and "/private/secret.txt" in line for line in logs.splitlines()), logs


@pytest.mark.parametrize("auth", [basic("alice", "wrong"), basic("nobody", "x"), basic("bob", "other"),
                                  "Basic !!!notbase64", "Bearer abc", basic("alice", "")])
def test_wrong_credentials_are_refused(srv, auth):
    r, body = tls_get(srv, "/private/secret.txt", auth)
    assert r.status == 401, (auth, body)
    assert r.getheader("WWW-Authenticate", "").startswith("Basic realm=")
    assert b"the secret" not in body


def test_basic_over_plain_http_is_refused_unless_insecure_is_set(srv):
    r = request(srv.plain_port, "GET", "/private/secret.txt",
                headers=[("Authorization", basic("alice", "s3cret pass"))])
    assert r.status == 403 and b"HTTPS" in r.body, r
    adm_ok(srv, "set", "/www/sites/default/root/private", "auth_basic_insecure=true")
    try:
        # never checked before, on a request that asks to close: the check
        # suspends it, and it is still answered before the close
        r = request(srv.plain_port, "GET", "/private/secret.txt",
                    headers=[("Authorization", basic("dave", "dpw"))])
        assert r.status == 200 and r.body == b"the secret\n", r
        r = request(srv.plain_port, "GET", "/private/secret.txt",
                    headers=[("Authorization", basic("alice", "s3cret pass"))])
        assert r.status == 200 and r.body == b"the secret\n", r
        r = request(srv.plain_port, "GET", "/private/secret.txt")
        assert r.status == 401, r
    finally:
        adm_ok(srv, "unset", "/www/sites/default/root/private", "auth_basic_insecure")


def test_the_session_list_shows_the_user(srv):
    c = http.client.HTTPSConnection("127.0.0.1", srv.tls_port, timeout=10, context=client_ctx())
    r, body = tls_get(srv, "/private/secret.txt", basic("alice", "s3cret pass"), conn=c)
    assert r.status == 200
    out = json.loads(adm_ok(srv, "--json", "sessions", "--service", "www").out)
    users = [s.get("user") for s in out["sessions"]]
    assert "alice" in users, out
    c.close()


def test_keep_alive_requests_use_the_cache(srv):
    # argon2id (interactive limits) takes tens of milliseconds; 50 cached checks
    # on one keep-alive connection must take far less than 50 of them.
    c = http.client.HTTPSConnection("127.0.0.1", srv.tls_port, timeout=10, context=client_ctx())
    tls_get(srv, "/private/secret.txt", basic("alice", "s3cret pass"), conn=c)
    t0 = time.perf_counter()
    for _ in range(50):
        r, body = tls_get(srv, "/private/secret.txt", basic("alice", "s3cret pass"), conn=c)
        assert r.status == 200 and body == b"the secret\n"
    cached = time.perf_counter() - t0
    c.close()
    # One uncached check for comparison: a new password each time misses the cache.
    t0 = time.perf_counter()
    r, _ = tls_get(srv, "/private/secret.txt", basic("alice", "uncached-%d" % time.time_ns()))
    one_check = time.perf_counter() - t0
    assert r.status == 401
    assert cached < 50 * one_check / 5, (cached, one_check)


def test_a_changed_password_takes_effect_at_once(srv):
    adm_input_ok(srv, "new pass\n", "user", "passwd", "alice", "--password-stdin")
    try:
        r, _ = tls_get(srv, "/private/secret.txt", basic("alice", "s3cret pass"))
        assert r.status == 401
        r, body = tls_get(srv, "/private/secret.txt", basic("alice", "new pass"))
        assert r.status == 200 and body == b"the secret\n"
    finally:
        adm_input_ok(srv, "s3cret pass\n", "user", "passwd", "alice", "--password-stdin")


def test_failures_are_rate_limited_per_address(tmp_path, infosrv_bin, infoadm_bin):
    dirs = tree.build(str(tmp_path))
    s = AdminServer(str(tmp_path), dirs["root"], ["--https", "127.0.0.1:0"])

    def setup(s):
        www = [e for e in s.listeners["listeners"] if e.get("service") == "www"]
        s.tls_port = int([e for e in www if e.get("tls")][0]["port"])
        adm_input_ok(s, "pw\n", "user", "add", "carol", "--password-stdin")
        adm_ok(s, "set", "/www/sites/default", "auth_basic=true", "auth_anonymous=false")

    s.start()
    gen = serving(s, setup)
    next(gen)
    try:
        statuses = [tls_get(s, "/index.html", basic("carol", f"bad{i}"))[0].status for i in range(12)]
        # at most 10 wrong passwords a minute from one address, then 429
        assert statuses[:9] == [401] * 9 and statuses[-1] == 429, statuses
        r, _ = tls_get(s, "/index.html", basic("carol", "pw"))
        assert r.status == 429 and int(r.getheader("Retry-After")) >= 1
        health_check_tls = tls_get(s, "/index.html", basic("carol", "pw"))[0].status
        assert health_check_tls == 429  # still blocked: even the right password waits
        out = json.loads(adm_ok(s, "--json", "stats", "--service", "www").out)
        assert out["stats"][0]["counters"]["logon_attempts"] >= 10, out
    finally:
        gen.close()
        s.stop()


def test_anonymous_off_and_basic_off_is_403_and_a_bad_realm_is_refused(srv):
    adm_ok(srv, "set", "/www/sites/default/root/private", "auth_basic=false")
    try:
        r, body = tls_get(srv, "/private/secret.txt", basic("alice", "s3cret pass"))
        assert r.status == 403, body
    finally:
        adm_ok(srv, "unset", "/www/sites/default/root/private", "auth_basic")
    p = subprocess.run([infoadm_path(), "-s", f"unix:{srv.admin_socket}", "set",
                        "/www/sites/default", 'auth_realm=say "hi"'],
                       env=sanitizer_env(), capture_output=True, timeout=20)
    assert p.returncode == 1 and b"auth_realm" in p.stderr, p.stderr
    health_check(srv.plain_port)
