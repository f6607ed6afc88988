"""Basic authentication, uploads and CGI over HTTP/2: the handlers that answer
later (a password check, an upload body, a program's output) on h2 streams,
with curl over TLS (ALPN h2) and by prior knowledge, and h2load for many
authenticated streams at once."""

import os
import re
import subprocess

import pytest

from conftest import AdminServer, adm_input_ok, adm_ok, health_check, serving
import tree


@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin, infoadm_bin):
    base = str(tmp_path_factory.mktemp("h2handlers"))
    dirs = tree.build(base)
    cgi, up = os.path.join(base, "cgi-bin"), os.path.join(base, "up")
    os.makedirs(cgi)
    os.makedirs(up)
    with open(os.path.join(cgi, "echo.sh"), "w") as f:
        f.write("#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\nX-User: %s\\n\\n' "
                "\"$REMOTE_USER\"\nexec cat\n")
    with open(os.path.join(cgi, "lines.sh"), "w") as f:
        f.write("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                "i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done\n")
    for n in ("echo.sh", "lines.sh"):
        os.chmod(os.path.join(cgi, n), 0o755)
    s = AdminServer(base, dirs["root"], ["--https", "127.0.0.1:0"])
    s.up = up

    def setup(s):
        www = [e for e in s.listeners["listeners"] if e.get("service") == "www"]
        s.tls_port = int([e for e in www if e.get("tls")][0]["port"])
        s.plain_port = int([e for e in www if e.get("tls") is False][0]["port"])
        adm_input_ok(s, "pw h2\n", "user", "add", "erin", "--password-stdin")
        adm_ok(s, "vdir", "add", "default", "/cgi-bin", cgi)
        adm_ok(s, "set", "/www/sites/default/root/cgi-bin", "access_execute=true")
        adm_ok(s, "vdir", "add", "default", "/up", up)
        adm_ok(s, "set", "/www/sites/default/root/up", "access_write=true", "auth_basic=true",
               "auth_anonymous=false", "auth_basic_insecure=true")

    s.start()
    yield from serving(s, setup)


def curl(*args, data=None):
    p = subprocess.run(["curl", "-sS", "-k", "--max-time", "20"] + list(args), input=data,
                       capture_output=True, timeout=30)
    return p


def url(srv, path, tls=False):
    return (f"https://127.0.0.1:{srv.tls_port}{path}" if tls
            else f"http://127.0.0.1:{srv.plain_port}{path}")


@pytest.mark.parametrize("tls", [True, False], ids=["h2", "h2c"])
def test_a_body_streams_through_a_program_both_ways(srv, tls, tmp_path):
    data = os.urandom(600_000)  # several windows' worth: flow control both ways
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    flag = "--http2" if tls else "--http2-prior-knowledge"
    p = curl(flag, "--data-binary", f"@{src}", "-D", "-", "-o", str(tmp_path / "out.bin"),
             url(srv, "/cgi-bin/echo.sh", tls))
    assert p.returncode == 0, p.stderr
    head = p.stdout.decode()
    assert head.startswith("HTTP/2 200"), head
    assert (tmp_path / "out.bin").read_bytes() == data


def test_a_program_streams_out_on_http2(srv):
    p = curl("--http2", url(srv, "/cgi-bin/lines.sh", True))
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 3000 and lines[-1] == "line 2999"


@pytest.mark.parametrize("tls", [True, False], ids=["h2", "h2c"])
def test_an_authenticated_upload_over_http2(srv, tls, tmp_path):
    flag = "--http2" if tls else "--http2-prior-knowledge"
    data = os.urandom(200_000)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    name = f"/up/file-{'tls' if tls else 'plain'}.bin"
    # without credentials: 401 and nothing written
    p = curl(flag, "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "-T", str(src),
             url(srv, name, tls))
    assert p.stdout == b"401 2", (p.stdout, p.stderr)
    assert not os.path.exists(srv.up + name[3:])
    # the first authenticated request waits for argon2id while its body arrives:
    # the body is held, not lost
    p = curl(flag, "-u", "erin:pw h2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
             "-T", str(src), url(srv, name, tls))
    assert p.stdout == b"201 2", (p.stdout, p.stderr)
    assert open(srv.up + name[3:], "rb").read() == data
    p = curl(flag, "-u", "erin:pw h2", url(srv, name, tls))
    assert p.stdout == data
    p = curl(flag, "-u", "erin:pw h2", "-X", "DELETE", "-o", "/dev/null", "-w", "%{http_code}",
             url(srv, name, tls))
    assert p.stdout == b"204"
    assert not os.path.exists(srv.up + name[3:])


def test_many_authenticated_streams_at_once(srv):
    with open(os.path.join(srv.up, "small.txt"), "wb") as f:
        f.write(b"x" * 1000)
    p = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "10", "-H",
                        "Authorization: Basic ZXJpbjpwdyBoMg==",  # erin:pw h2
                        url(srv, "/up/small.txt", True)], capture_output=True, timeout=60)
    out = p.stdout.decode()
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    assert m and m.group(1) == "2000", out[-1500:]
    health_check(srv.plain_port)


def test_a_reset_stream_kills_its_program_and_the_server_goes_on(srv):
    # curl gives up after 1 s on a program that would stream for longer
    with open(os.path.join(os.path.dirname(srv.up), "cgi-bin", "slow.sh"), "w") as f:
        f.write("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nwhile :; do echo tick; "
                "sleep 0.1; done\n")
    os.chmod(os.path.join(os.path.dirname(srv.up), "cgi-bin", "slow.sh"), 0o755)
    p = curl("--http2", "--max-time", "1", url(srv, "/cgi-bin/slow.sh", True))
    assert p.returncode == 28 and b"tick" in p.stdout
    # the program is gone soon after the stream went away
    for _ in range(50):
        ps = subprocess.run(["pgrep", "-f", "cgi-bin/slow.sh"], capture_output=True)
        if ps.returncode != 0:
            break
        subprocess.run(["sleep", "0.1"])
    assert ps.returncode != 0, "the program outlived its stream"
    p = curl("--http2", url(srv, "/index.html", True))
    assert p.stdout == tree.INDEX_HTML
