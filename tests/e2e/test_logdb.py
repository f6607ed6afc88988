"""End-to-end tests of the SQLite access log (log_format sqlite) and of
`infoadm log` / GET /api/v1/log over it, against the real daemon.

The module's daemon serves WWW, FTP and Gopher, every default site logging to
SQLite. Yesterday cannot be waited for, so it is made honestly: the daemon
serves the "yesterday" requests, stops (every entry must be in the file by
then), and the file it wrote is moved to yesterday's name with its times
moved back a day — the daemon's own schema and rows, only older; then the
daemon starts again on the same state and serves today's requests. The
acceptance check is then "yesterday's and today's 404s with infoadm log".

Rollover and retention get daemons of their own: size rollover with
log_keep_periods 2 (only whole old files go, the current one holds the
newest entries); old daily files planted beside a running log, removed as
soon as log_keep_periods is lowered; and entries that cannot be written
(the next file's name taken by a directory) counted in log_entries_dropped.
"""

import calendar
import contextlib
import ftplib
import glob
import json
import os
import re
import socket
import sqlite3
import time
import uuid

import pytest

from conftest import AdminServer, admin_request, adm, adm_ok, gopher_get, serving
from rawhttp import RawConn, build_request, request, wait_for

DAY = 86400
TAG = uuid.uuid4().hex[:8]
HELLO = b"Hello, log!\n"


def log_dir(srv, service="www", site="default"):
    return os.path.join(srv.state_dir, "logs", service, site)


def db_files(srv, service="www", site="default"):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(log_dir(srv, service, site),
                                                                      "access*.sqlite")))


def day_name(t):
    return time.strftime("access-%Y-%m-%d.sqlite", time.gmtime(t))


def api_log(srv, query="", status=200, **kw):
    r = admin_request(srv, "GET", "/api/v1/log" + (f"?{query}" if query else ""), **kw)
    assert r.status == status, r
    return r.json


def entries(srv, query=""):
    return api_log(srv, query)["entries"]


def adm_json(srv, *args):
    return json.loads(adm_ok(srv, "--json", *args).out)


def paths(rows):
    return [e["path"] for e in rows]


def wait_rows(srv, query, n, what):
    """Entries reach the database within a second or so (worker hand-over, one batch)."""
    return wait_for(lambda: (lambda es: es if len(es) >= n else None)(entries(srv, query)),
                    timeout=8, interval=0.1, what=what)


def get_from(port, path, source="127.0.0.1", headers=()):
    """One GET from the local address SOURCE; (status, bytes received, request bytes)."""
    req = build_request("GET", path, headers=list(headers), close=True)
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as c:
        c.sendall(req)
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), len(data), len(req)


def near_midnight():
    """Within two minutes of a UTC day boundary, "today" may not mean one day for the test."""
    s = time.time() % DAY
    return s < 120 or s > DAY - 120


# -- the module's daemon: yesterday, a restart, today ------------------------------------------

def yesterday_requests(srv):
    port = srv.listener_of("www")["port"]
    for i in range(3):
        assert request(port, "GET", f"/y-{TAG}-missing-{i}").status == 404
    assert request(port, "GET", "/hello.txt").status == 200
    wait_rows(srv, f"path=/y-{TAG}", 3, "yesterday's requests in the log")
    wait_rows(srv, "path=/hello.txt", 1, "yesterday's 200 in the log")


def move_to_yesterday(srv):
    """The file the stopped daemon wrote today becomes yesterday's file."""
    d = log_dir(srv)
    today = os.path.join(d, day_name(time.time()))
    yesterday = os.path.join(d, day_name(time.time() - DAY))
    assert os.path.exists(today), os.listdir(d)
    assert not os.path.exists(today + "-wal"), "a clean stop checkpoints and removes the WAL"
    os.rename(today, yesterday)
    with contextlib.closing(sqlite3.connect(yesterday)) as c, c:
        c.execute("UPDATE access SET time = time - ?", (DAY,))
        n = c.execute("SELECT count(*) FROM access WHERE path LIKE ?", (f"/y-{TAG}%",)).fetchone()[0]
    assert n == 3, "all of yesterday's entries were in the file after SIGTERM"


def today_requests(srv):
    port = srv.listener_of("www")["port"]
    with RawConn(port) as c:
        c.send(build_request("GET", f"/t-{TAG}-missing?q=1",
                             headers=[("User-Agent", "logdb-e2e/1.0"), ("Referer", "http://ref.test/")]))
        r = c.read_response()
        assert r.status == 404
    srv.today_target = (f"/t-{TAG}-missing", "q=1")
    assert request(port, "GET", f"/t-{TAG}-missing-2").status == 404
    assert request(port, "GET", "/hello.txt").status == 200
    srv.from_other = get_from(port, f"/t-{TAG}-from-127.0.0.2", source="127.0.0.2")
    wait_rows(srv, f"path=/t-{TAG}", 3, "today's requests in the log")


@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin):
    if near_midnight():
        pytest.skip("too close to midnight UTC for yesterday and today to stay put")
    base = tmp_path_factory.mktemp("logdb")
    roots = {}
    for service in ("www", "ftp", "gopher"):
        roots[service] = base / service
        roots[service].mkdir()
        (roots[service] / "hello.txt").write_bytes(HELLO)
    (roots["www"] / "docs").mkdir()
    (roots["www"] / "docs" / "a.txt").write_bytes(b"a\n")
    state = str(base / "state")
    args = ["--state-dir", state, "--admin", "127.0.0.1:0", "--workers", "2",
            "--http", "127.0.0.1:0", "--root", str(roots["www"]),
            "--ftp", "127.0.0.1:0", "--ftp-root", str(roots["ftp"]),
            "--gopher", "127.0.0.1:0", "--gopher-root", str(roots["gopher"]),
            "--log-format", "sqlite"]
    s = AdminServer(str(base), str(roots["www"]), base_args=args, state_dir=state)
    s.roots = roots
    s.start()

    def setup(s):
        yesterday_requests(s)
        s.stop()
        move_to_yesterday(s)
        s.restart()
        today_requests(s)

    yield from serving(s, setup)


# -- rows --------------------------------------------------------------------------------------

def test_a_request_becomes_a_row_with_its_fields(srv):
    path, query = srv.today_target
    rows = entries(srv, f"path={path}&limit=1&order=oldest")
    assert len(rows) == 1, rows
    e = rows[0]
    assert (e["service"], e["site"], e["method"], e["path"], e["query"]) == ("www", "default", "GET",
                                                                             path, query)
    assert e["status"] == 404 and e["protocol"] == "HTTP/1.1"
    assert e["client"] == "127.0.0.1" and e["user"] is None
    assert e["user_agent"] == "logdb-e2e/1.0" and e["referer"] == "http://ref.test/"
    assert e["host"] == "localhost"
    assert e["bytes_sent"] > 0 and e["bytes_received"] > 0
    assert e["server_port"] == srv.listener_of("www")["port"]
    assert abs(e["unix_time"] - time.time()) < 120
    assert e["time"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["unix_time"]))


def test_bytes_are_what_the_client_saw(srv):
    status, received, sent = srv.from_other
    rows = entries(srv, f"path=/t-{TAG}-from-")
    assert len(rows) == 1 and rows[0]["status"] == status == 404, rows
    assert rows[0]["bytes_sent"] == received and rows[0]["bytes_received"] == sent, rows[0]


def test_the_database_file_in_wal_mode_with_indexes(srv):
    path = os.path.join(log_dir(srv), day_name(time.time()))
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = [r[1] for r in c.execute("PRAGMA table_xinfo(access)")]
        for col in ("time", "iso", "service", "site", "client", "user", "method", "path", "query",
                    "protocol", "status", "bytes_sent", "bytes_received", "time_taken_ms",
                    "user_agent", "referer"):
            assert col in cols, (col, cols)
        indexed = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"access_time", "access_status", "access_client", "access_path"} <= indexed, indexed
        plan = " ".join(r[3] for r in c.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM access WHERE status = 404 ORDER BY time DESC"))
        assert "access_status" in plan, plan


# -- the acceptance check: yesterday's and today's 404s -----------------------------------------

def test_yesterdays_and_todays_404s_with_infoadm_log(srv):
    p = adm_ok(srv, "log", "--status", "404", "--since", "yesterday")
    lines = p.out.splitlines()
    assert lines[0].split() == ["TIME", "SERVICE", "SITE", "CLIENT", "USER", "METHOD", "PATH",
                                "STATUS", "SENT", "RECEIVED", "MS"], lines[0]
    rows = [line.split() for line in lines[1:]]
    ours = [r for r in rows if f"-{TAG}-" in r[6]]
    assert sorted(r[6] for r in ours) == sorted(
        [f"/y-{TAG}-missing-{i}" for i in range(3)] +
        [f"/t-{TAG}-missing?q=1", f"/t-{TAG}-missing-2", f"/t-{TAG}-from-127.0.0.2"]), p.out
    assert all(r[7] == "404" for r in rows), p.out
    assert "/hello.txt" not in p.out
    times = [r[0] for r in rows]
    assert times == sorted(times, reverse=True), "newest first"
    today = time.strftime("%Y-%m-%d", time.gmtime())
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - DAY))
    assert {r[0][:10] for r in ours} == {today, yesterday}, times


def test_yesterday_alone_and_today_alone(srv):
    y = adm_json(srv, "log", "--status", "404", "--since", "yesterday", "--until", "yesterday")
    assert sorted(paths(y["entries"])) == [f"/y-{TAG}-missing-{i}" for i in range(3)], y
    t = adm_json(srv, "log", "--status", "404", "--since", "today")
    assert all(p.startswith(f"/t-{TAG}-") for p in paths(t["entries"])), t
    assert len(t["entries"]) == 3
    start = calendar.timegm(time.gmtime(time.time() - DAY)[:3] + (0, 0, 0))
    for e in y["entries"]:
        assert start <= e["unix_time"] < start + DAY, e


def test_iso_times_and_relative_times(srv):
    y = entries(srv, f"path=/y-{TAG}&order=oldest")
    first = y[0]["time"]
    same = entries(srv, f"path=/y-{TAG}&since={first}&until={first}")
    assert same and all(e["time"] == first for e in same), same
    day = first[:10]
    assert len(entries(srv, f"path=/y-{TAG}&since={day}&until={day}")) == 3
    assert len(entries(srv, f"path=/y-{TAG}&since=-2h")) == 0
    assert len(entries(srv, f"path=/y-{TAG}&since=-2d")) == 3
    assert len(entries(srv, f"path=/y-{TAG}&since=@{y[0]['unix_time'] + DAY}")) == 0


# -- filters -----------------------------------------------------------------------------------

def test_status_code_class_and_range(srv):
    ok = entries(srv, "service=www&status=200&path=/hello.txt")
    assert len(ok) == 2 and all(e["status"] == 200 for e in ok), ok
    assert all(400 <= e["status"] <= 499 for e in entries(srv, "status=4xx&limit=10000"))
    assert len(entries(srv, f"status=400-404&path=/t-{TAG}")) == 3
    assert entries(srv, f"status=500-599&path=/t-{TAG}") == []


def test_path_prefix(srv):
    assert sorted(paths(entries(srv, f"path=/t-{TAG}-missing"))) == [f"/t-{TAG}-missing",
                                                                     f"/t-{TAG}-missing-2"]
    assert paths(entries(srv, "service=www&path=/hello")) == ["/hello.txt", "/hello.txt"]
    assert entries(srv, f"path=/t-{TAG}-missing-2x") == []


def test_client_address(srv):
    rows = adm_json(srv, "log", "--client", "127.0.0.2")["entries"]
    assert paths(rows) == [f"/t-{TAG}-from-127.0.0.2"], rows
    assert all(e["client"] == "127.0.0.1"
               for e in adm_json(srv, "log", "--client", "127.0.0.1", "--limit", "10000")["entries"])


def test_limit_order_and_truncation(srv):
    r = adm_json(srv, "log", "--path", f"/y-{TAG}", "--limit", "2")
    assert len(r["entries"]) == 2 and r["truncated"] is True and r["limit"] == 2, r
    assert r["order"] == "newest"
    r2 = adm_json(srv, "log", "--path", f"/y-{TAG}", "--limit", "3", "--oldest-first")
    assert r2["truncated"] is False and r2["order"] == "oldest"
    assert [e["unix_time"] for e in r2["entries"]] == sorted(e["unix_time"] for e in r2["entries"])
    assert r2["entries"][-1] == r["entries"][0]
    p = adm_ok(srv, "log", "--path", f"/y-{TAG}", "--limit", "1")
    assert p.out.splitlines()[-1].startswith("(more entries match"), p.out
    assert len(entries(srv)) == len(entries(srv, "limit=100")) <= 100


def test_json_is_the_api_answer(srv):
    q = ["--status", "404", "--since", "yesterday"]
    got = adm_json(srv, "log", *q)
    want = api_log(srv, "status=404&since=yesterday")
    assert got == want
    assert {"www/default", "ftp/default", "gopher/default"} <= set(got["sources"]), got["sources"]


def test_ftp_and_gopher_entries_land(srv):
    with ftplib.FTP() as f:
        f.connect("127.0.0.1", srv.listener_of("ftp")["port"], timeout=5)
        f.login()
        got = []
        f.retrbinary("RETR hello.txt", got.append)
        assert b"".join(got) == HELLO
        with pytest.raises(ftplib.error_perm):
            f.retrbinary(f"RETR nope-{TAG}.txt", got.append)
    gport = srv.listener_of("gopher")["port"]
    assert gopher_get(gport, b"/hello.txt") == HELLO + b".\r\n"
    gopher_get(gport, f"/gone-{TAG}".encode())
    ftp = wait_rows(srv, "service=ftp&path=/hello.txt", 1, "the FTP download in the log")
    e = ftp[0]
    assert (e["service"], e["site"], e["method"], e["status"], e["protocol"]) == (
        "ftp", "default", "RETR", 226, "FTP"), e
    assert e["user"] == "anonymous", e
    assert e["bytes_sent"] > 0
    assert [x["service"] for x in entries(srv, "service=ftp&limit=10000")] and \
        all(x["service"] == "ftp" for x in entries(srv, "service=ftp&limit=10000"))
    g = wait_rows(srv, "service=gopher&path=/hello.txt", 1, "the Gopher file in the log")
    assert (g[0]["service"], g[0]["status"], g[0]["protocol"]) == ("gopher", 200, "GOPHER"), g[0]
    missing = wait_rows(srv, f"service=gopher&path=/gone-{TAG}", 1, "the Gopher 404")
    assert missing[0]["status"] == 404, missing
    p = adm_ok(srv, "log", "--service", "gopher", "--status", "404")
    assert f"/gone-{TAG}" in p.out and "gopher" in p.out


def test_sites_are_logged_and_queried_apart(srv, tmp_path):
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "index.html").write_bytes(b"shop\n")
    port = srv.listener_of("www")["port"]
    adm_ok(srv, "site", "add", "shop", "--binding", f"127.0.0.1:{port}", "--host", "shop.test",
           "--path", str(shop))
    adm_ok(srv, "set", "/www/sites/shop", "log_format=sqlite")
    with RawConn(port) as c:
        c.send(build_request("GET", f"/shop-{TAG}", host="shop.test", close=True))
        assert c.read_response().status == 404
    rows = wait_rows(srv, "site=shop", 1, "the shop site's entry")
    assert [(e["site"], e["path"]) for e in rows] == [("shop", f"/shop-{TAG}")], rows
    assert os.path.exists(os.path.join(log_dir(srv, "www", "shop"), day_name(time.time())))
    assert all(e["site"] == "default" for e in entries(srv, "service=www&site=default&limit=10000"))
    assert f"/shop-{TAG}" in paths(entries(srv, f"service=www&path=/shop-{TAG}"))


# -- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,param,words", [
    (["--status", "4x"], "status", "4xx"),
    (["--status", "600"], "status", "100-599"),
    (["--since", "2026-13-01"], "since", "ISO 8601"),
    (["--until", "last tuesday"], "until", "ISO 8601"),
    (["--since", "today", "--until", "yesterday"], "until", "later than since"),
    (["--limit", "0"], "limit", "1 to 10000"),
    (["--limit", "10001"], "limit", "1 to 10000"),
    (["--client", "example.com"], "client", "IPv4 or IPv6"),
    (["--service", "nntp"], "service", "no such service"),
    (["--site", f"nosuch-{TAG}"], "site", f"nosuch-{TAG}"),
])
def test_bad_filters_are_refused_naming_the_parameter(srv, args, param, words):
    p = adm(srv, "log", *args)
    assert p.returncode != 0 and p.out == "", p
    line = p.err.strip()
    assert "\n" not in line and line.startswith(f"infoadm: {param}") and words in line, p.err
    query = "&".join(f"{a[2:]}={v}" for a, v in zip(args[::2], args[1::2]))
    r = api_log(srv, query.replace(" ", "%20"), status=400)
    assert r["error"]["code"] == "invalid_request" and r["error"]["details"]["parameter"] == param, r
    assert request(srv.listener_of("www")["port"], "GET", "/hello.txt").status == 200
    assert entries(srv, "limit=1"), "queries still work"


def test_unknown_or_repeated_parameters(srv):
    r = api_log(srv, "colour=red", status=400)
    assert r["error"]["details"]["parameter"] == "colour" and "unknown parameter" in r["error"]["message"]
    r = api_log(srv, "status=404&status=500", status=400)
    assert r["error"]["details"]["parameter"] == "status" and "twice" in r["error"]["message"]
    r = api_log(srv, "path=%zz", status=400)
    assert r["error"]["details"]["parameter"] == "path"
    r = admin_request(srv, "POST", "/api/v1/log")
    assert r.status in (403, 405), r


def test_a_site_whose_log_is_not_sqlite(srv, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    port = srv.listener_of("www")["port"]
    adm_ok(srv, "site", "add", "plain", "--binding", f"127.0.0.1:{port}", "--host", "plain.test",
           "--path", str(plain))
    adm_ok(srv, "set", "/www/sites/plain", "log_format=w3c")
    p = adm(srv, "log", "--site", "plain")
    assert p.returncode != 0, p
    assert "plain" in p.err and "w3c" in p.err and "sqlite" in p.err, p.err
    r = api_log(srv, "site=plain", status=409)
    assert r["error"]["code"] == "log_not_queryable", r
    # A service with a queryable site answers for it, and names the other.
    r = api_log(srv, "service=www&limit=1")
    assert {"service": "www", "site": "plain", "log_format": "w3c"} in r["not_queryable"], r


def test_reads_need_a_token_and_a_reader_may(srv):
    r = admin_request(srv, "GET", "/api/v1/log?limit=1", via="https", token="")
    assert r.status == 401, r
    made = adm_json(srv, "account", "add", f"reader{TAG}", "--role", "reader")
    r = admin_request(srv, "GET", "/api/v1/log?limit=1", via="https", token=made["token"])
    assert r.status == 200 and len(r.json["entries"]) == 1, r
    caps = admin_request(srv, "GET", "/api").json["capabilities"]
    assert "log.query" in caps


# -- rollover and retention ---------------------------------------------------------------------

def start_sqlite(make_server, *extra):
    srv = make_server(["--log-format", "sqlite", *extra], server_class=AdminServer)
    return srv


def test_size_rollover_removes_whole_old_files_and_keeps_the_current(make_server):
    srv = start_sqlite(make_server, "--log-period", "size", "--log-size", "65536")
    adm_ok(srv, "set", "/www/sites/default", "log_keep_periods=2")
    seen = set()
    sent = []
    rnd = 0
    while max((int(re.search(r"(\d+)", n).group(1)) for n in seen), default=0) < 6:
        assert rnd < 60, f"no rollover to access-6.sqlite: {sorted(seen)}"
        with RawConn(srv.port) as c:
            for i in range(40):
                sent.append(f"/roll-{rnd:03d}-{i:02d}-{'x' * 200}")
                c.send(build_request("GET", sent[-1]))
                assert c.read_response().status == 404
        last = f"/roll-{rnd:03d}-39-"
        wait_rows(srv, f"path={last}", 1, f"round {rnd} in the log")
        seen.update(db_files(srv))
        rnd += 1
    # A new file is opened first, then the old ones beyond the kept two go.
    files = wait_for(lambda: (lambda f: f if len(f) == 3 else None)(db_files(srv)), timeout=5,
                     what="three files: the current one and two old ones")
    nums = sorted(int(re.search(r"(\d+)", n).group(1)) for n in files)
    assert len(nums) == 3 and nums == list(range(nums[0], nums[0] + 3)), files
    assert "access-1.sqlite" not in files, "the oldest files went"
    newest = entries(srv, "limit=1")[0]
    assert newest["path"].startswith(f"/roll-{rnd - 1:03d}-39-"), newest
    kept = sorted(paths(entries(srv, "limit=10000")))
    assert 0 < len(kept) < len(sent), "old files removed whole"
    assert kept == sent[-len(kept):], "what is left is the newest entries, without a gap"
    assert "removed an old period" in srv.error_log()


def plant_old_days(srv, days):
    """Copies of the daemon's own file (its schema, one entry) under the names of old days."""
    d = log_dir(srv)
    current = os.path.join(d, day_name(time.time()))
    names = []
    for back in days:
        name = day_name(time.time() - back * DAY)
        with contextlib.closing(sqlite3.connect(f"file:{current}?mode=ro", uri=True)) as src, \
                contextlib.closing(sqlite3.connect(os.path.join(d, name))) as dst:
            src.backup(dst)
            with dst:
                dst.execute("UPDATE access SET time = time - ?", (back * DAY,))
        names.append(name)
    return names


def test_lowering_log_keep_periods_removes_old_days_live(make_server):
    if near_midnight():
        pytest.skip("too close to midnight UTC")
    srv = start_sqlite(make_server)
    assert request(srv.port, "GET", f"/keep-{TAG}").status == 404
    wait_rows(srv, f"path=/keep-{TAG}", 1, "an entry today")
    planted = plant_old_days(srv, [1, 2, 3, 10, 40])
    assert len(db_files(srv)) == 6
    found = entries(srv, f"path=/keep-{TAG}&limit=10000")
    assert len(found) == 6, "the planted days are read like the daemon's own"
    adm_ok(srv, "set", "/www/sites/default", "log_keep_periods=2")
    want = sorted([day_name(time.time()), planted[0], planted[1]])
    wait_for(lambda: db_files(srv) == want, timeout=5, interval=0.1,
             what=f"only today and the two days before it: {want}")
    assert len(entries(srv, f"path=/keep-{TAG}")) == 3
    adm_ok(srv, "set", "/www/sites/default", "log_keep_periods=0")
    wait_for(lambda: db_files(srv) == [day_name(time.time())], timeout=5, interval=0.1,
             what="today's file alone, never removed")
    assert request(srv.port, "GET", f"/keep-{TAG}-after").status == 404
    wait_rows(srv, f"path=/keep-{TAG}-after", 1, "logging goes on in the current file")


def test_entries_that_cannot_be_written_are_counted_as_dropped(make_server):
    srv = start_sqlite(make_server, "--log-period", "size", "--log-size", "65536")
    assert request(srv.port, "GET", f"/drop-{TAG}-first").status == 404
    wait_rows(srv, f"path=/drop-{TAG}-first", 1, "the first entry")
    assert db_files(srv) == ["access-1.sqlite"]
    blocker = os.path.join(log_dir(srv), "access-2.sqlite")
    os.mkdir(blocker)  # the next file cannot be opened

    def stats():
        r = admin_request(srv, "GET", "/api/v1/stats?service=www&site=default")
        return r.json["stats"][0]["counters"]

    assert stats()["log_entries_dropped"] == 0
    rnd = 0
    while stats()["log_entries_dropped"] == 0:
        assert rnd < 40, "access-1.sqlite never filled up"
        with RawConn(srv.port) as c:
            for i in range(40):
                c.send(build_request("GET", f"/drop-{rnd:03d}-{i:02d}-{'x' * 200}"))
                assert c.read_response().status == 404
        time.sleep(0.3)  # the writer takes a batch a few times a second
        rnd += 1
    assert re.search(r"logdb: \S*access-2\.sqlite: ", srv.error_log()), srv.error_log()
    dropped = stats()["log_entries_dropped"]
    os.rmdir(blocker)
    assert request(srv.port, "GET", f"/drop-{TAG}-after").status == 404
    wait_rows(srv, f"path=/drop-{TAG}-after", 1, "logging resumes in access-2.sqlite")
    assert "access-2.sqlite" in db_files(srv)
    assert stats()["log_entries_dropped"] == dropped
    metrics = admin_request(srv, "GET", "/metrics").body.decode()
    assert f'infosrv_log_entries_dropped_total{{service="www",site="default"}} {dropped}' in metrics


def test_a_crash_loses_nothing_that_was_committed(make_server):
    """SIGKILL: what a query saw is in the file (the WAL is recovered), and the
    daemon starts again on it."""
    if near_midnight():
        pytest.skip("too close to midnight UTC")
    srv = start_sqlite(make_server)
    for i in range(20):
        assert request(srv.port, "GET", f"/crash-{TAG}-{i:02d}").status == 404
    wait_rows(srv, f"path=/crash-{TAG}-19", 1, "the last entry committed")
    seen = sorted(paths(entries(srv, f"path=/crash-{TAG}")))
    assert len(seen) == 20, seen
    srv.kill()
    path = os.path.join(log_dir(srv), day_name(time.time()))
    assert os.path.exists(path + "-wal"), "killed, the daemon did not checkpoint"
    with contextlib.closing(sqlite3.connect(path)) as c:
        got = sorted(r[0] for r in c.execute("SELECT path FROM access WHERE path LIKE ?",
                                             (f"/crash-{TAG}-%",)))
    assert got == seen
    srv.restart()
    assert request(srv.port, "GET", f"/crash-{TAG}-after").status == 404
    wait_rows(srv, f"path=/crash-{TAG}-after", 1, "logging after the restart")
    assert len(entries(srv, f"path=/crash-{TAG}")) == 21
