"""infosrv as a real service: started as root it runs as an unprivileged user
with a helper for ports below 1024; under systemd it notifies READY,
RELOADING, STOPPING, STATUS and the watchdog; sockets passed by systemd serve
their bindings; the unit passes systemd-analyze.

The root tests need root (CI runs as root); elsewhere they are skipped with
the reason. Every directory the dropped server reads is made world-readable
under a fresh /tmp directory (pytest's own tmp tree is root-only)."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import tree
from conftest import REPO, free_port, http_get, infosrv_path, sanitizer_env, port_free
from rawhttp import wait_for

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")
UNIT = os.path.join(REPO, "dist", "infosrv.service")



def free_low_port():
    """A free TCP port below 1024 on 127.0.0.1."""
    for port in range(990, 900, -1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    pytest.skip("no free port below 1024 on 127.0.0.1")


class Daemon:
    """infosrv started with ARGS in a world-readable work dir; .state is its state dir."""

    def __init__(self, args, env=None, pass_fds=(), prefix=()):
        self.dir = tempfile.mkdtemp(prefix="infosrv-svc-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        dirs = tree.build(self.dir)
        for base, subdirs, files in os.walk(self.dir):
            for d in subdirs:
                os.chmod(os.path.join(base, d), 0o755)
            for f in files:
                os.chmod(os.path.join(base, f), 0o644)
        self.root = dirs["root"]
        self.state = os.path.join(self.dir, "state")
        e = sanitizer_env()
        e.update(env or {})
        self.err = open(os.path.join(self.dir, "stderr.txt"), "wb")
        args = [self.root if a == "@ROOT@" else a for a in args]
        self.proc = subprocess.Popen(
            list(prefix) + [infosrv_path(), "--state-dir", self.state, "--root", self.root,
                            "--workers", "2"] + list(args), cwd=self.dir, env=e, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self.err, pass_fds=pass_fds)
        try:
            wait_for(lambda: os.path.exists(os.path.join(self.state, "listeners.json"))
                     or self.proc.poll() is not None, timeout=10, what="listeners.json")
            assert self.proc.poll() is None, self.stderr()
        except BaseException:
            self.close()  # a daemon that did not come up is not left running
            raise

    def stderr(self):
        with open(os.path.join(self.dir, "stderr.txt"), encoding="utf-8", errors="replace") as f:
            return f.read()

    def error_log(self):
        with open(os.path.join(self.state, "logs", "error.log"), encoding="utf-8") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.err.close()
        assert rc == 0, f"exit status {rc}\n{self.stderr()}"
        assert "Sanitizer" not in self.stderr(), self.stderr()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def uids(pid):
    """The real, effective, saved and fs uid of every thread of PID."""
    seen = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("Uid:"):
                    seen.add(tuple(int(x) for x in line.split()[1:]))
    return seen


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in /proc/{pid}/status")


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=,user=,comm=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def get(port, path="/index.html"):
    return http_get(port, path)


# -- privilege drop ----------------------------------------------------------------

@ROOT_ONLY
def test_started_as_root_it_runs_as_the_user_with_a_helper_for_low_ports():
    low, low2 = free_low_port(), None
    ftp_port = free_port()
    admin_low = next(p for p in range(low - 1, 900, -1) if port_free(p))
    d = Daemon(["--user", "nobody", "--http", f"127.0.0.1:{low}", "--admin",
                f"127.0.0.1:{admin_low}", "--ftp", f"127.0.0.1:{ftp_port}", "--ftp-root", "@ROOT@"])
    try:
        nobody = pwd.getpwnam("nobody")
        pid = d.proc.pid
        # Every thread is nobody, with no capability left.
        assert uids(pid) == {(nobody.pw_uid,) * 4}, uids(pid)
        for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            assert int(status_field(pid, cap), 16) == 0, (cap, status_field(pid, cap))
        # The one process that kept root is the helper, and it is the server's child.
        kids = children(pid)
        assert [k[1:] for k in kids] == [["root", "infosrv-priv"]], kids
        # The ports below 1024 were opened by the helper and serve (the admin API over
        # HTTPS answers 401 without a token).
        assert get(low) == (200, tree.INDEX_HTML)
        import http.client
        import ssl
        c = http.client.HTTPSConnection("127.0.0.1", admin_low, timeout=5,
                                        context=ssl._create_unverified_context())
        c.request("GET", "/api")
        assert c.getresponse().status == 401
        c.close()
        # The state directory is the user's: the metabase takes commits, logs are written.
        for name in ("metabase.db", "admin.sock", "logs"):
            assert os.stat(os.path.join(d.state, name)).st_uid == nobody.pw_uid, name
        sock = f"unix:{os.path.join(d.state, 'admin.sock')}"
        low2 = free_low_port()
        out = subprocess.run([os.environ.get("INFOADM_BIN", os.path.join(REPO, "build", "test",
                                                                          "infoadm")),
                              "-s", sock, "site", "add", "low", "--binding",
                              f"127.0.0.1:{low2}", "--binding", f"https://127.0.0.1:{free_port()}",
                              "--path", d.root], capture_output=True, text=True,
                             env=sanitizer_env())
        assert out.returncode == 0, out.stderr
        # A binding below 1024 added live: opened by the helper too.
        assert get(low2) == (200, tree.INDEX_HTML)
        # The generated certificate of the TLS binding was written as the user.
        crt = os.path.join(d.state, "tls", "www-low.crt")
        assert os.stat(crt).st_uid == nobody.pw_uid
        assert "running as nobody" in d.error_log(), d.error_log()[-2000:]
        # An FTP upload into a directory the user may write.
        incoming = os.path.join(d.dir, "incoming")
        os.mkdir(incoming)
        os.chown(incoming, nobody.pw_uid, nobody.pw_gid)
        out = subprocess.run([os.environ.get("INFOADM_BIN", os.path.join(REPO, "build", "test",
                                                                          "infoadm")),
                              "-s", sock, "vdir", "add", "default", "/incoming", incoming,
                              "--write", "--service", "ftp"], capture_output=True, text=True,
                             env=sanitizer_env())
        assert out.returncode == 0, out.stderr
        import ftplib
        import io
        f = ftplib.FTP()
        f.connect("127.0.0.1", ftp_port, timeout=10)
        f.login("anonymous", "t@example.org")
        f.storbinary("STOR /incoming/up.txt", io.BytesIO(b"uploaded as nobody\n"))
        f.quit()
        up = os.path.join(incoming, "up.txt")
        assert open(up, "rb").read() == b"uploaded as nobody\n"
        assert os.stat(up).st_uid == nobody.pw_uid
        d.stop()
        # The helper went with the server.
        wait_for(lambda: not [k for k in children(pid)], timeout=5, what="the helper to exit")
    finally:
        d.close()


@ROOT_ONLY
def test_root_is_kept_only_when_named_and_then_with_a_warning():
    d = Daemon(["--user", "root", "--http", f"127.0.0.1:{free_port()}", "--admin", "none"])
    try:
        assert uids(d.proc.pid) == {(0, 0, 0, 0)}
        assert not children(d.proc.pid), "no helper when nothing is dropped"
        assert "running as root, as --user root (or INFOSRV_USER) asks" in d.error_log()
        d.stop()
    finally:
        d.close()


@ROOT_ONLY
def test_without_user_root_drops_to_infosrv_or_nobody():
    env = {"INFOSRV_USER": ""}
    d = Daemon(["--http", f"127.0.0.1:{free_port()}", "--admin", "none"], env=env)
    try:
        try:
            want = pwd.getpwnam("infosrv")
        except KeyError:
            want = pwd.getpwnam("nobody")
        assert uids(d.proc.pid) == {(want.pw_uid,) * 4}, uids(d.proc.pid)
        d.stop()
    finally:
        d.close()


def test_unknown_user_is_refused():
    p = subprocess.run([infosrv_path(), "--user", "no-such-user-here", "--state-dir",
                        tempfile.mkdtemp(dir="/tmp"), "--http", "127.0.0.1:0", "--admin", "none"],
                       capture_output=True, text=True, timeout=20, env=sanitizer_env())
    assert p.returncode == 1, p.stderr
    assert "no-such-user-here" in p.stderr, p.stderr


# -- systemd: notify, watchdog, socket activation ------------------------------------

def test_sd_notify_ready_status_reloading_stopping_and_watchdog():
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = os.path.join(tempfile.mkdtemp(dir="/tmp"), "notify.sock")
    rx.bind(path)
    rx.settimeout(10)
    os.chmod(os.path.dirname(path), 0o755)
    os.chmod(path, 0o777)
    port = free_port()
    d = Daemon(["--http", f"127.0.0.1:{port}", "--admin", "none"],
               env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
    got = []

    def until(pred, what):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = rx.recv(4096).decode()
            got.append(msg)
            if pred(msg):
                return msg
        raise AssertionError(f"no {what} in {got}")

    try:
        until(lambda m: m == "READY=1", "READY=1")
        assert get(port) == (200, tree.INDEX_HTML)
        until(lambda m: m == "WATCHDOG=1", "WATCHDOG=1")
        m = until(lambda m: m.startswith("STATUS="), "STATUS")
        assert "connection" in m and "requests served" in m, m
        d.proc.send_signal(signal.SIGHUP)
        m = until(lambda m: m.startswith("RELOADING=1"), "RELOADING=1")
        assert "MONOTONIC_USEC=" in m, m
        until(lambda m: m == "READY=1", "READY=1 after the reload")
        # The watchdog keeps coming while the workers answer.
        n = len([m for m in got if m == "WATCHDOG=1"])
        until(lambda m: m == "WATCHDOG=1", "another WATCHDOG=1")
        assert len([m for m in got if m == "WATCHDOG=1"]) > n
        d.proc.send_signal(signal.SIGTERM)
        until(lambda m: m == "STOPPING=1", "STOPPING=1")
        d.stop()
    finally:
        d.close()
        rx.close()


def test_socket_activation_serves_the_passed_socket():
    port = free_port()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(16)
    fd = lsock.fileno()
    # systemd passes sockets from descriptor 3, LISTEN_PID naming the service: a shell
    # moves the socket to 3 and execs infosrv, which keeps the shell's pid.
    wrapper = ["/bin/bash", "-c", f'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@" 3<&{fd}', "bash"]
    d = None
    try:
        d = Daemon(["--http", f"127.0.0.1:{port}", "--admin", "none"], pass_fds=(fd,),
                   prefix=wrapper)
        lsock.close()  # only the server holds it now
        for _ in range(4):
            assert get(port) == (200, tree.INDEX_HTML)
        assert "1 listening socket passed by systemd" in d.error_log(), d.error_log()[-1500:]
        d.stop()
    finally:
        if d is not None:
            d.close()
        lsock.close()


# -- the unit --------------------------------------------------------------------------

def test_unit_security_exposure_is_ok():
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT],
                       capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    score = [ln for ln in out.splitlines() if "Overall exposure level" in ln]
    assert score, out[-2000:]
    level = float(score[0].split(":")[1].split()[0])
    print(score[0])
    assert level <= 2.0, score[0]


def test_unit_is_a_notify_service_with_reload_and_watchdog():
    with open(UNIT) as f:
        text = f.read()
    for want in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "RestrictAddressFamilies=", "SystemCallFilter=@system-service",
                 "ReadWritePaths=/var/lib/infosrv /var/log/infosrv"):
        assert want in text, want


# -- infosrv --check -------------------------------------------------------------------

def _check(state):
    p = subprocess.run([infosrv_path(), "--state-dir", state, "--check"], capture_output=True,
                       text=True, timeout=30, env=sanitizer_env())
    return p.returncode, p.stdout, p.stderr


def test_check_reports_what_is_wrong_with_a_state_directory(tmp_path):
    port = free_port()
    d = Daemon(["--http", f"127.0.0.1:{port}", "--https", f"127.0.0.1:{free_port()}",
                "--admin", "none"])
    try:
        rc, out, err = _check(d.state)
        assert rc == 0 and "infosrv: 0 errors, 0 warnings" in out, out + err
        assert "ok: metabase" in out and "integrity ok" in out, out
        assert "ok: /www/sites/default: certificate" in out, out
        # A certificate set by hand that expires in 3 days: a warning naming it.
        crt, key = str(tmp_path / "soon.crt"), str(tmp_path / "soon.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=soon.test", "-days", "3",
                        "-keyout", key, "-out", crt], check=True, capture_output=True)
        infoadm = os.environ.get("INFOADM_BIN", os.path.join(REPO, "build", "test", "infoadm"))
        p = subprocess.run([infoadm, "-s", f"unix:{os.path.join(d.state, 'admin.sock')}", "set",
                            "/www/sites/default", f"tls_certificate_file={crt}",
                            f"tls_key_file={key}"], capture_output=True, text=True,
                           env=sanitizer_env())
        assert p.returncode == 0, p.stderr
        d.stop()
        rc, out, err = _check(d.state)
        assert rc == 0 and f"warning: /www/sites/default: the certificate {crt} expires" in out, out
        # The key replaced by another one: an error naming it, and nothing written.
        other = str(tmp_path / "other.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", other], check=True, capture_output=True)
        shutil.copy(other, key)
        before = sorted(os.listdir(os.path.join(d.state, "tls")))
        rc, out, err = _check(d.state)
        assert rc == 1 and "error: configuration:" in out and key in out, out
        assert "infosrv: 1 error" in out, out
        assert sorted(os.listdir(os.path.join(d.state, "tls"))) == before
        # A damaged metabase: SQLite's integrity check says so.
        with open(os.path.join(d.state, "metabase.db"), "r+b") as f:
            f.seek(4096)
            f.write(b"\xff" * 64)
        rc, out, err = _check(d.state)
        assert rc == 1 and "error: metabase" in out and "integrity check" in out, out
    finally:
        d.close()
