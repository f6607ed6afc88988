"""The Debian package: `make deb` builds it, lintian finds no error in it, it
installs on this machine (creating the infosrv user), the installed infosrv
started as root with the package's defaults runs as that user, and a purge
leaves nothing behind. Needs root (CI runs as root); skipped elsewhere, and
skipped when an infosrv package is already installed (it is not ours to
replace)."""

import json
import os
import pwd
import shutil
import signal
import subprocess
import time

import pytest

from conftest import REPO, free_port
from rawhttp import wait_for

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")


def installed():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "infosrv"], capture_output=True,
                       text=True)
    return "install ok installed" in p.stdout


def test_make_install_and_uninstall_stay_inside_destdir(tmp_path):
    dest = str(tmp_path / "dest")
    p = subprocess.run(["make", "--no-print-directory", "-C", REPO, "install", f"DESTDIR={dest}",
                        "PREFIX=/usr"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    files = sorted(os.path.relpath(os.path.join(b, f), dest)
                   for b, _, fs in os.walk(dest) for f in fs)
    web = sorted("usr/share/infosrv/web/" + os.path.relpath(os.path.join(b, f),
                                                             os.path.join(REPO, "web"))
                 for b, _, fs in os.walk(os.path.join(REPO, "web")) for f in fs)
    assert "usr/share/infosrv/web/index.html" in web, web
    assert files == sorted([
        "etc/default/infosrv", "usr/bin/infoadm", "usr/lib/systemd/system/infosrv.service",
        "usr/sbin/infosrv", "usr/share/bash-completion/completions/infoadm",
        "usr/share/man/man1/infoadm.1", "usr/share/man/man5/infosrv-properties.5",
        "usr/share/man/man8/infosrv.8"] + web), files
    assert os.path.isdir(os.path.join(dest, "var/lib/infosrv"))
    assert os.path.isdir(os.path.join(dest, "var/log/infosrv"))
    with open(os.path.join(dest, "usr/lib/systemd/system/infosrv.service")) as f:
        assert "ExecStart=/usr/sbin/infosrv " in f.read()
    p = subprocess.run(["make", "--no-print-directory", "-C", REPO, "uninstall",
                        f"DESTDIR={dest}", "PREFIX=/usr"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    left = [os.path.join(b, f) for b, _, fs in os.walk(dest) for f in fs]
    assert left == [], left


@pytest.fixture(scope="module")
def deb():
    if installed():
        pytest.skip("an infosrv package is installed already; not replacing it")
    with open(os.path.join(REPO, "VERSION")) as f:
        version = f.read().strip()
    p = subprocess.run(["make", "--no-print-directory", "-C", REPO, "deb"], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True).stdout.strip()
    path = os.path.join(REPO, "build", f"infosrv_{version}_{arch}.deb")
    assert os.path.exists(path), p.stdout[-2000:]
    return path


@ROOT_ONLY
def test_lintian_finds_no_error(deb):
    p = subprocess.run(["lintian", "--fail-on", "error", deb], capture_output=True, text=True,
                       timeout=600)
    print("lintian:\n" + (p.stdout + p.stderr or "(nothing)"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert not [ln for ln in p.stdout.splitlines() if ln.startswith("E:")], p.stdout


@ROOT_ONLY
def test_the_package_contents(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
    for path in ("./usr/sbin/infosrv", "./usr/bin/infoadm", "./lib/systemd/system/infosrv.service",
                 "./usr/share/man/man8/infosrv.8.gz", "./usr/share/man/man1/infoadm.1.gz",
                 "./usr/share/man/man5/infosrv-properties.5.gz",
                 "./usr/share/bash-completion/completions/infoadm", "./etc/default/infosrv",
                 "./usr/share/doc/infosrv/copyright", "./usr/share/infosrv/web/index.html"):
        assert path in listing, f"{path} is not in the package:\n{listing}"


@ROOT_ONLY
def test_install_run_as_the_user_and_purge(deb):
    p = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    assert p.returncode == 0, p.stdout + p.stderr
    proc = None
    try:
        user = pwd.getpwnam("infosrv")
        assert user.pw_uid != 0 and user.pw_dir == "/var/lib/infosrv"
        for d in ("/var/lib/infosrv", "/var/log/infosrv"):
            st = os.stat(d)
            assert st.st_uid == user.pw_uid and (st.st_mode & 0o777) == 0o750, d
        # The installed unit is accepted now that its binary and manuals are there.
        v = subprocess.run(["systemd-analyze", "verify", "/lib/systemd/system/infosrv.service"],
                           capture_output=True, text=True, timeout=60)
        assert "infosrv.service" not in v.stdout + v.stderr, v.stdout + v.stderr
        for page in ("infosrv", "infoadm"):
            m = subprocess.run(["man", "-w", page], capture_output=True, text=True)
            assert m.returncode == 0 and "/usr/share/man/" in m.stdout, (page, m.stderr)
        # Started as root with the package's defaults (the unit's command and directory),
        # on free ports: it becomes the infosrv user.
        env = {k: v for k, v in os.environ.items() if k != "INFOSRV_USER"}
        port = free_port()
        proc = subprocess.Popen(
            ["/usr/sbin/infosrv", "--state-dir", "/var/lib/infosrv", "--log-dir",
             "/var/log/infosrv", "--http", f"127.0.0.1:{port}", "--ftp", "127.0.0.1:0",
             "--gopher", "127.0.0.1:0", "--admin", "127.0.0.1:0"],
            cwd="/var/lib/infosrv", env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: os.path.exists("/var/lib/infosrv/listeners.json") or proc.poll()
                 is not None, timeout=15, what="listeners.json")
        assert proc.poll() is None, proc.stderr.read().decode()
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/")
        assert c.getresponse().status == 200
        c.close()
        # the web console is served from /usr/share/infosrv/web
        with open("/var/lib/infosrv/listeners.json") as f:
            aport = [e["port"] for e in json.load(f)["listeners"] if e["service"] == "admin"][0]
        import ssl
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", aport, timeout=5, context=tls)
        c.request("GET", "/")
        r = c.getresponse()
        assert r.status == 200 and b"<script" in r.read(), r.status
        c.close()
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            with open(f"/proc/{proc.pid}/task/{tid}/status") as f:
                uid_line = [ln for ln in f if ln.startswith("Uid:")][0]
            assert uid_line.split()[1:] == [str(user.pw_uid)] * 4, uid_line
        with open("/var/log/infosrv/error.log") as f:
            assert "running as infosrv" in f.read()
        out = subprocess.run(["/usr/bin/infoadm", "-s", "unix:/var/lib/infosrv/admin.sock",
                              "status"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "www" in out.stdout, out.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        proc = None
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        p = subprocess.run(["dpkg", "--purge", "infosrv"], capture_output=True, text=True,
                           timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not installed()
    for gone in ("/usr/sbin/infosrv", "/usr/bin/infoadm", "/lib/systemd/system/infosrv.service",
                 "/var/lib/infosrv", "/var/log/infosrv", "/etc/default/infosrv"):
        assert not os.path.exists(gone), f"{gone} is still there after the purge"
