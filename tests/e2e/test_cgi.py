"""CGI (RFC 3875) in access_execute directories and script_map interpreters in
access_script ones: the environment is built from scratch, the request body
streams to the program, its header section is parsed strictly, its output
streams back (chunked on HTTP/1.1), stderr goes to the error log; a program
that dies gets 502, one that hangs 504, and the server is unaffected."""

import http.client
import json
import os
import stat
import time

import pytest

from conftest import AdminServer, adm, adm_ok, health_check, serving
from rawhttp import RawConn, request
import tree

SCRIPTS = {
    "env.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv | sort\n",
    "echo.sh": "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\nexec cat\n",
    "status.sh": "#!/bin/sh\nprintf 'Status: 404 Nothing here\\nContent-Type: text/plain\\n"
                 "X-From-Script: yes\\n\\ngone\\n'\n",
    "redirect.sh": "#!/bin/sh\nprintf 'Location: /index.html\\n\\n'\n",
    "length.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 6\\n\\nsized\\n'\n",
    "dies.sh": "#!/bin/sh\necho 'about to fail' >&2\nexit 3\n",
    "bad.sh": "#!/bin/sh\nprintf 'this is not a header\\n\\nbody'\n",
    "hangs.sh": "#!/bin/sh\nsleep 30\n",
    "slow.sh": "#!/bin/sh\nsleep 2\nprintf 'Content-Type: text/plain\\n\\nslow\\n'\n",
    "stream.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                 "i=0; while [ $i -lt 2000 ]; do echo \"line $i of the streamed output\"; "
                 "i=$((i+1)); done\n",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin, infoadm_bin):
    base = str(tmp_path_factory.mktemp("cgi"))
    dirs = tree.build(base)
    cgi = os.path.join(base, "cgi-bin")
    scripts = os.path.join(base, "scripts")
    os.makedirs(cgi)
    os.makedirs(scripts)
    for name, text in SCRIPTS.items():
        path = os.path.join(cgi, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    with open(os.path.join(cgi, "readme.txt"), "w") as f:
        f.write("not a program\n")
    with open(os.path.join(scripts, "hello.py"), "w") as f:
        f.write("import os, sys\nprint('Content-Type: text/plain')\nprint()\n"
                "print('python', os.environ['REQUEST_METHOD'], os.environ.get('QUERY_STRING'))\n")
    with open(os.path.join(scripts, "page.txt"), "w") as f:
        f.write("plain text in a script directory\n")
    os.environ["INFOSRV_TEST_SECRET"] = "must-not-leak"
    try:
        s = AdminServer(base, dirs["root"], ["--workers", "2"])
        s.start()
    finally:
        del os.environ["INFOSRV_TEST_SECRET"]

    def setup(s):
        adm_ok(s, "vdir", "add", "default", "/cgi-bin", cgi)
        adm_ok(s, "set", "/www/sites/default/root/cgi-bin", "access_execute=true", "cgi_timeout=2")
        adm_ok(s, "vdir", "add", "default", "/scripts", scripts)
        adm_ok(s, "set", "/www/sites/default/root/scripts", "access_script=true",
               'script_map={"py": "/usr/bin/python3"}')

    yield from serving(s, setup)


def get(port, path, method="GET", body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def test_a_shell_script_runs_with_a_clean_environment(srv):
    r, body = get(srv.port, "/cgi-bin/env.sh/extra/info?a=1&b=2",
                  headers={"Authorization": "Basic c2VjcmV0OnNlY3JldA==", "Proxy": "http://evil",
                           "X-Custom": "v"})
    assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
    env = dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["QUERY_STRING"] == "a=1&b=2"
    assert env["SCRIPT_NAME"] == "/cgi-bin/env.sh"
    assert env["PATH_INFO"] == "/extra/info"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["SERVER_PORT"] == str(srv.port)
    assert env["HTTP_X_CUSTOM"] == "v"
    assert "INFOSRV_TEST_SECRET" not in env and "must-not-leak" not in body.decode()
    assert "HTTP_AUTHORIZATION" not in env and "HTTP_PROXY" not in env


def test_a_request_body_streams_to_the_program_and_back(srv):
    data = os.urandom(400_000)
    r, body = get(srv.port, "/cgi-bin/echo.sh", "POST", data,
                  {"Content-Type": "application/octet-stream"})
    assert r.status == 200 and body == data


def test_a_script_map_runs_python_and_other_files_are_sent(srv):
    r, body = get(srv.port, "/scripts/hello.py?q=x")
    assert r.status == 200 and body == b"python GET q=x\n"
    r, body = get(srv.port, "/scripts/page.txt")
    assert r.status == 200 and body == b"plain text in a script directory\n"
    # a file without the execute bit in an execute directory is sent, not run
    r, body = get(srv.port, "/cgi-bin/readme.txt")
    assert r.status == 200 and body == b"not a program\n"


def test_status_location_and_length_from_the_program(srv):
    r, body = get(srv.port, "/cgi-bin/status.sh")
    assert r.status == 404 and body == b"gone\n" and r.getheader("X-From-Script") == "yes"
    r, body = get(srv.port, "/cgi-bin/redirect.sh")
    assert r.status == 302 and r.getheader("Location") == "/index.html"
    r, body = get(srv.port, "/cgi-bin/length.sh")
    assert r.status == 200 and body == b"sized\n" and r.getheader("Content-Length") == "6"
    r, body = get(srv.port, "/cgi-bin/length.sh", "HEAD")
    assert r.status == 200 and body == b""


def test_http10_gets_the_body_until_close(srv):
    with RawConn(srv.port) as c:
        c.send(b"GET /cgi-bin/stream.sh HTTP/1.0\r\nHost: x\r\n\r\n")
        raw = c.read_until_close(timeout=10)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"200 OK" in head and b"chunked" not in head.lower()
    assert body.count(b"\n") == 2000 and body.endswith(b"line 1999 of the streamed output\n")


def test_a_program_that_dies_gets_502_and_its_stderr_is_logged(srv):
    r, body = get(srv.port, "/cgi-bin/dies.sh")
    assert r.status == 502
    r, body = get(srv.port, "/cgi-bin/bad.sh")
    assert r.status == 502
    deadline = time.time() + 5
    while "about to fail" not in srv.error_log() and time.time() < deadline:
        time.sleep(0.1)
    assert "about to fail" in srv.error_log()
    assert "bad.sh" in srv.error_log()
    health_check(srv.port)


def test_a_program_that_hangs_gets_504_and_is_killed(srv):
    t0 = time.monotonic()
    r, body = get(srv.port, "/cgi-bin/hangs.sh")
    took = time.monotonic() - t0
    assert r.status == 504 and 1.5 < took < 6, took
    health_check(srv.port)


def test_the_number_of_programs_is_bounded(srv):
    adm_ok(srv, "set", "/www/sites/default/root/cgi-bin", "cgi_max_processes=1")
    try:
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=15)
        c.request("GET", "/cgi-bin/slow.sh")
        time.sleep(0.5)  # the slow one runs
        r, body = get(srv.port, "/cgi-bin/length.sh")
        assert r.status == 503 and r.getheader("Retry-After") == "1"
        slow = c.getresponse()
        assert slow.status == 200 and slow.read() == b"slow\n"
        c.close()
        r, body = get(srv.port, "/cgi-bin/length.sh")
        assert r.status == 200
    finally:
        adm_ok(srv, "unset", "/www/sites/default/root/cgi-bin", "cgi_max_processes")


def test_keep_alive_goes_on_after_a_program(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    for path, want in (("/cgi-bin/length.sh", b"sized\n"), ("/index.html", tree.INDEX_HTML),
                       ("/scripts/hello.py", b"python GET None\n".replace(b"None", b"")),
                       ("/hello.txt", tree.HELLO)):
        c.request("GET", path)
        r = c.getresponse()
        assert r.read() == want, path
    c.close()


def test_a_script_map_to_a_missing_interpreter_is_refused(srv):
    r = adm(srv, "set", "/www/sites/default/root/scripts", 'script_map={"pl": "/no/such/perl"}')
    assert r.returncode == 1 and "script_map" in r.err and "/no/such/perl" in r.err, r.err
    r, body = get(srv.port, "/scripts/hello.py")
    assert r.status == 200
