"""Command line, start-up files, signals and logs."""

import glob
import os
import re
import signal
import socket
import time
import uuid

import pytest

import tree
from conftest import Server, assert_no_sanitizer_report, run_cli, port_free
from rawhttp import RawConn, build_request, request, wait_for

OPTIONS = ["--state-dir", "--root", "--http", "--workers", "--vdir", "--browse", "--header-timeout",
           "--keepalive-timeout", "--log-format", "--log-period", "--log-size", "--check", "--version",
           "--help"]


def cli(args, tmp_path, timeout=10):
    """Run with temporary state and root so that nothing lands in the repository."""
    base = ["--state-dir", str(tmp_path / "state"), "--root", str(tmp_path / "root"),
            "--admin", "none"]
    os.makedirs(tmp_path / "root", exist_ok=True)
    p = run_cli(base + list(args), cwd=str(tmp_path), timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    assert_no_sanitizer_report(err, "stderr of " + " ".join(args))
    return p, err


def one_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    return lines[0]


# ---------------------------------------------------------------- command line

def test_version(shared):
    p = run_cli(["--version"])
    assert p.returncode == 0
    m = re.fullmatch(r"infosrv (\d+\.\d+\.\d+)\n", p.stdout.decode())
    assert m, p.stdout
    assert m.group(1) == shared.version
    assert p.stderr == b""


def test_help_mentions_every_option():
    p = run_cli(["--help"])
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    for opt in OPTIONS:
        assert opt in out, f"--help does not mention {opt}"


def test_unknown_option(tmp_path):
    p, err = cli(["--bogus-option"], tmp_path)
    assert p.returncode == 2
    assert "--bogus-option" in one_line(err)


@pytest.mark.parametrize("args", [
    ["--workers", "0"], ["--workers", "65"], ["--workers", "abc"], ["--workers", "4x"], ["--workers"],
    ["--header-timeout", "-1"], ["--header-timeout", "abc"], ["--keepalive-timeout", "1.5x"],
    ["--log-format", "xml"], ["--log-period", "yearly"], ["--log-size", "abc"],
    ["--http", "127.0.0.1:99999"], ["--http", "nonsense"], ["--http", "127.0.0.1"],
    ["--http", "256.1.1.1:80"], ["--http", "127.0.0.1:-1"],
    ["--vdir", "nodir"], ["--vdir", "docs=/tmp"], ["--vdir", "/x=/tmp,bogusopt"],
    ["--vdir", "/x=/tmp,symlinks=maybe"],
], ids=lambda a: " ".join(a))
def test_bad_values_exit_2(tmp_path, args):
    p, err = cli(args, tmp_path)
    assert p.returncode == 2, f"exit {p.returncode} for {args}; stderr {err!r}"
    line = one_line(err)
    assert args[0] in line or (len(args) > 1 and args[1] in line), f"the line does not name {args}: {line!r}"


@pytest.mark.parametrize("opt", ["--ftp", "--gopher"])
def test_service_flags_check_their_address(tmp_path, opt):
    p, err = cli([opt, "127.0.0.1"], tmp_path)
    assert p.returncode == 2, err
    assert opt in one_line(err) and "127.0.0.1" in one_line(err)
    assert b"listening" not in p.stdout


def test_check_good_config(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    p, err = cli(["--check", "--http", "127.0.0.1:0", "--vdir", f"/docs={docs},browse", "--browse"], tmp_path)
    assert p.returncode == 0, err
    assert b"listening" not in p.stdout


def test_check_missing_vdir_dir(tmp_path):
    missing = str(tmp_path / "no-such-dir")
    p, err = cli(["--check", "--http", "127.0.0.1:0", "--vdir", f"/docs={missing}"], tmp_path)
    assert p.returncode != 0
    assert missing in err, f"the error does not name {missing}: {err!r}"


def test_check_root_not_a_directory(tmp_path):
    f = tmp_path / "plainfile"
    f.write_bytes(b"x")
    for root in (str(f), str(f / "www")):
        p = run_cli(["--check", "--state-dir", str(tmp_path / "state"), "--root", root,
                     "--http", "127.0.0.1:0"], cwd=str(tmp_path))
        err = p.stderr.decode()
        assert p.returncode != 0, f"--check accepted root {root}"
        assert root in err, f"the error does not name {root}: {err!r}"


def test_port_in_use(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        p, err = cli(["--http", f"127.0.0.1:{port}"], tmp_path, timeout=10)
    finally:
        blocker.close()
    assert p.returncode != 0
    assert str(port) in err or "in use" in err.lower(), err
    assert not os.path.exists(tmp_path / "state" / "listeners.json")



def _gopher_menu(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


def test_no_arguments_defaults(tmp_path):
    for port in (8080, 2121, 7070, 8172):
        if not port_free(port):
            pytest.skip(f"127.0.0.1:{port} is in use")
    srv = Server(str(tmp_path), str(tmp_path / "wwwroot"), base_args=[], state_dir=str(tmp_path / "var"))
    srv.start(cwd=str(tmp_path))
    try:
        assert srv.listener["address"] == "127.0.0.1" and srv.port == 8080
        index = tmp_path / "wwwroot" / "index.html"
        assert index.is_file()
        assert (tmp_path / "var").is_dir()
        r = request(8080, "GET", "/")
        assert r.status == 200
        assert r.body == index.read_bytes() and len(r.body) > 0
        assert (tmp_path / "var" / "logs" / "error.log").is_file()
        # The Gopher service on its default address, with its welcome menu.
        gopher = srv.listener_of("gopher")
        assert gopher["address"] == "127.0.0.1" and gopher["port"] == 7070
        assert (tmp_path / "gopherroot" / "gophermap").is_file()
        menu = _gopher_menu(7070)
        assert menu.startswith(b"iinfosrv is running\t") and menu.endswith(b".\r\n"), menu
        # And the FTP service, anonymous and read-only, on its own.
        ftp = srv.listener_of("ftp")
        assert ftp["address"] == "127.0.0.1" and ftp["port"] == 2121
        assert (tmp_path / "ftproot" / "README.txt").is_file()
        with socket.create_connection(("127.0.0.1", 2121), timeout=5) as s:
            assert s.recv(4096).startswith(b"220 ")
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


def test_gopher_flags_seed_only_gopher(tmp_path):
    """--gopher alone seeds the Gopher site only; the WWW defaults stay out of the way."""
    root = tmp_path / "g"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hi\n")
    srv = Server(str(tmp_path), str(root), base_args=[
        "--state-dir", str(tmp_path / "state"), "--gopher", "127.0.0.1:0", "--gopher-root",
        str(root), "--admin", "none", "--workers", "1"])
    srv.start(cwd=str(tmp_path))
    try:
        services = {entry["service"] for entry in srv.listeners["listeners"]}
        assert services == {"gopher"}, srv.listeners
        assert not (tmp_path / "wwwroot").exists() and not (tmp_path / "ftproot").exists()
        menu = _gopher_menu(srv.listener_of("gopher")["port"])
        assert menu == (b"0hello.txt\t/hello.txt\t127.0.0.1\t%d\r\n.\r\n"
                        % srv.listener_of("gopher")["port"])
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


def test_ipv6_loopback(make_server):
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        pytest.skip("no IPv6 loopback")
    srv = make_server(http="[::1]:0")
    assert srv.listener["address"] == "::1"
    with RawConn(srv.port, host="::1", family=socket.AF_INET6) as c:
        c.send(build_request("GET", "/hello.txt", host=f"[::1]:{srv.port}", close=True))
        r = c.read_response()
    assert r.status == 200 and r.body == tree.HELLO


# ---------------------------------------------------------------- start-up files

def test_listeners_json_and_stdout_line(shared):
    data = shared.state_json("listeners.json")
    assert data["pid"] == shared.pid
    assert data["version"] == run_cli(["--version"]).stdout.decode().split()[1]
    www = [li for li in data["listeners"] if li["service"] == "www"]
    assert www == [{"service": "www", "site": "default", "address": "127.0.0.1",
                    "port": shared.port, "tls": False}]
    admin = [li for li in data["listeners"] if li["service"] == "admin"]
    assert len(admin) == 1 and admin[0]["address"] == "127.0.0.1" and admin[0]["port"] > 0
    assert data["admin_socket"].endswith("/admin.sock")
    line = f"infosrv {shared.version}: www listening on 127.0.0.1:{shared.port}"
    wait_for(lambda: line in shared.stdout().splitlines(), timeout=5, what=f"stdout line {line!r}")


def test_error_log_exists(shared):
    assert os.path.isfile(shared.error_log_path)


# ---------------------------------------------------------------- signals

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_stop_with_idle_keepalive(make_server, sig):
    srv = make_server()
    with RawConn(srv.port, timeout=15) as c:
        c.send(build_request("GET", "/hello.txt"))
        r = c.read_response()
        assert r.status == 200 and r.body == tree.HELLO
        t0 = time.monotonic()
        srv.signal(sig)
        rc = srv.wait_exit(15)
        assert rc == 0, srv.stderr()
        assert time.monotonic() - t0 < 15
        rest = c.read_until_close(timeout=5)
        assert rest == b"" and c.closed
    srv.check_logs()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()


def test_graceful_stop_finishes_inflight_download(make_server):
    srv = make_server()
    size = 16 * 1024 * 1024
    blob = os.urandom(size)
    with open(os.path.join(srv.root, "huge.bin"), "wb") as f:
        f.write(blob)
    with RawConn(srv.port, timeout=15, rcvbuf=8192) as c:
        c.send(build_request("GET", "/huge.bin"))
        while b"\r\n\r\n" not in c.buf:
            assert c._recv_some(time.monotonic() + 10), "no response head"
        # The response has started and most of it cannot have been sent yet.
        srv.signal(signal.SIGTERM)
        r = c.read_response(timeout=15)
        assert r.status == 200
        assert len(r.body) == size and r.body == blob, "in-flight download cut short by SIGTERM"
        c.read_until_close(timeout=10)
        assert c.closed
    assert srv.wait_exit(15) == 0, srv.stderr()
    srv.check_logs()


def _access_logs(srv, prefix="ex"):
    return sorted(glob.glob(os.path.join(srv.access_log_dir, prefix + "*.log")))


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def test_sigusr1_reopens_logs(make_server):
    srv = make_server()
    m1 = f"/rot-{uuid.uuid4().hex}"
    assert request(srv.port, "GET", m1).status == 404
    logs = wait_for(lambda: [p for p in _access_logs(srv) if m1 in _read(p)], timeout=3,
                    what="the first request in the access log")
    assert len(logs) == 1
    current = logs[0]
    rotated = os.path.join(srv.access_log_dir, "rotated.old")
    os.rename(current, rotated)
    os.rename(srv.error_log_path, srv.error_log_path + ".old")
    srv.signal(signal.SIGUSR1)
    m2 = f"/rot-{uuid.uuid4().hex}"

    def reopened():
        assert request(srv.port, "GET", m2).status == 404
        return os.path.exists(current) and m2 in _read(current)

    wait_for(reopened, timeout=5, interval=0.1, what="a new access log after SIGUSR1")
    assert m1 in _read(rotated)
    text = _read(current)
    lines = text.splitlines()
    fields = [i for i, line in enumerate(lines) if line.startswith("#Fields:")]
    first_data = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    assert fields and fields[0] < first_data, f"no #Fields: header before the data: {lines[:6]!r}"
    wait_for(lambda: os.path.exists(srv.error_log_path), timeout=5, what="error.log reopened")


def _w3c_records(text):
    names = None
    records = []
    for line in text.splitlines():
        if line.startswith("#Fields:"):
            names = line[len("#Fields:"):].split()
        elif line and not line.startswith("#"):
            assert names, "data line before #Fields:"
            values = line.split(" ")
            assert len(values) == len(names), f"{len(values)} values for {len(names)} fields: {line!r}"
            records.append(dict(zip(names, values)))
    return records


def test_access_log_w3c(make_server):
    srv = make_server()
    sizes = []
    for target in ("/hello.txt?x=1", "/data.json", "/missing-file"):
        with RawConn(srv.port) as c:
            req = build_request("GET", target, headers=[("User-Agent", "e2e-agent/1.0")], close=True)
            c.send(req)
            r = c.read_response()
            c.read_until_close()
            sizes.append((len(req), c.received, len(r.body), r.status))
    files = wait_for(lambda: [p for p in _access_logs(srv)
                              if len(_w3c_records(_read(p))) >= 3], timeout=3, what="3 W3C records")
    assert len(files) == 1
    name = os.path.basename(files[0])
    today = {time.strftime("ex%y%m%d.log", time.gmtime()), time.strftime("ex%y%m%d.log", time.localtime())}
    assert name in today, name
    records = _w3c_records(_read(files[0]))
    assert len(records) == 3, records
    for rec in records:
        for f in ("cs-method", "cs-uri-stem", "sc-status", "sc-bytes"):
            assert f in rec, f"W3C field {f} missing: {sorted(rec)}"
    expect = [("/hello.txt", "x=1", 200), ("/data.json", "-", 200), ("/missing-file", "-", 404)]
    # Workers flush their buffers independently: the lines need not be in request order.
    by_stem = {rec["cs-uri-stem"]: rec for rec in records}
    assert sorted(by_stem) == sorted(e[0] for e in expect), records
    for (stem, query, status), (sent, received, body_len, got_status) in zip(expect, sizes):
        rec = by_stem[stem]
        assert rec["cs-method"] == "GET"
        assert int(rec["sc-status"]) == status == got_status
        assert int(rec["sc-bytes"]) in (received, body_len), (rec, received, body_len)
        if "cs-uri-query" in rec:
            assert rec["cs-uri-query"] == query
        if "c-ip" in rec:
            assert rec["c-ip"] == "127.0.0.1"
        if "cs-bytes" in rec:
            assert int(rec["cs-bytes"]) == sent
        if "cs(User-Agent)" in rec:
            assert rec["cs(User-Agent)"] == "e2e-agent/1.0"


def test_access_log_ncsa(make_server):
    srv = make_server(["--log-format", "ncsa"])
    with RawConn(srv.port) as c:
        c.send(build_request("GET", "/hello.txt", headers=[("User-Agent", "e2e-agent/1.0"),
                                                             ("Referer", "http://ref.test/")], close=True))
        r = c.read_response()
        c.read_until_close()
        received = c.received
    assert r.status == 200
    files = wait_for(lambda: [p for p in _access_logs(srv, "nc") if "/hello.txt" in _read(p)], timeout=3,
                     what="the NCSA log line")
    assert len(files) == 1 and re.fullmatch(r"nc\d{6}\.log", os.path.basename(files[0]))
    assert _access_logs(srv, "ex") == []
    lines = [line for line in _read(files[0]).splitlines() if line]
    assert len(lines) == 1, lines
    m = re.fullmatch(r'127\.0\.0\.1 - - \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
                     r'"GET /hello\.txt HTTP/1\.1" 200 (\d+)(?: "([^"]*)" "([^"]*)")?', lines[0])
    assert m, f"not an NCSA line: {lines[0]!r}"
    assert int(m.group(2)) in (len(tree.HELLO), received)
    if m.group(3) is not None:
        assert m.group(3) == "http://ref.test/" and m.group(4) == "e2e-agent/1.0"


@pytest.mark.parametrize("period,pattern", [
    ("hourly", r"ex\d{8}\.log"), ("monthly", r"ex\d{4}\.log"), ("size", r"ex1\.log"),
])
def test_log_period_file_names(make_server, period, pattern):
    srv = make_server(["--log-period", period])
    assert request(srv.port, "GET", "/hello.txt").status == 200
    files = wait_for(lambda: [p for p in _access_logs(srv) if "/hello.txt" in _read(p)], timeout=3,
                     what="the access log")
    assert len(files) == 1
    assert re.fullmatch(pattern, os.path.basename(files[0])), files


def test_log_size_rollover(make_server):
    srv = make_server(["--log-period", "size", "--log-size", "2000"])
    for i in range(40):
        assert request(srv.port, "GET", f"/file-{i:03d}-{'x' * 40}").status == 404

    def rolled():
        paths = _access_logs(srv)
        if len(paths) >= 2 and "/file-039-" in "".join(_read(p) for p in paths):
            return sorted(os.path.basename(p) for p in paths)
        return None

    names = wait_for(rolled, timeout=5, what="size rollover")
    assert "ex1.log" in names and "ex2.log" in names, names
    for p in _access_logs(srv):
        assert os.path.getsize(p) <= 2000, (p, os.path.getsize(p))
    text = "".join(_read(p) for p in _access_logs(srv))
    for i in range(40):
        assert text.count(f"/file-{i:03d}-") == 1, i
