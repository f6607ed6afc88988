"""Fixtures of the infosrv end-to-end suite: start the real daemon on a free
port in temporary state and root directories, wait for listeners.json, and
check on teardown that it stopped cleanly with no sanitizer report."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import tree  # noqa: E402
from rawhttp import request  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer", "ThreadSanitizer",
                     "UndefinedBehaviorSanitizer")


def infosrv_path():
    p = os.environ.get("INFOSRV_BIN") or os.path.join(REPO, "build", "test", "infosrv")
    return os.path.abspath(p)


def sanitizer_env():
    env = dict(os.environ)
    asan = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = ":".join(x for x in (asan, "abort_on_error=0") if x)
    ubsan = env.get("UBSAN_OPTIONS", "")
    env["UBSAN_OPTIONS"] = ":".join(x for x in (ubsan, "print_stacktrace=1") if x)
    return env


def run_cli(args, cwd=None, timeout=20):
    """Run the binary to completion (for --version, --help, --check, bad options)."""
    return subprocess.run([infosrv_path()] + list(args), cwd=cwd, env=sanitizer_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def assert_no_sanitizer_report(text, what):
    for m in SANITIZER_MARKERS:
        if m in text:
            print(f"==== {what} ====\n{text}", file=sys.stderr)
            raise AssertionError(f"sanitizer report ({m!r}) in {what}:\n{text[-6000:]}")


class Server:
    """One infosrv daemon run. The bound port is read from listeners.json."""

    def __init__(self, workdir, root, extra_args=(), state_dir=None, http="127.0.0.1:0",
                 workers=2, base_args=None):
        self.workdir = workdir
        self.root = root
        self.state_dir = state_dir or os.path.join(workdir, "state")
        self.stdout_path = os.path.join(workdir, "stdout.txt")
        self.stderr_path = os.path.join(workdir, "stderr.txt")
        if base_args is None:
            base_args = ["--state-dir", self.state_dir, "--root", root, "--http", http,
                         "--admin", "127.0.0.1:0", "--workers", str(workers)]
        self.args = [infosrv_path()] + list(base_args) + list(extra_args)
        self.proc = None
        self.listeners = None
        self.returncode = None

    # -- life cycle -------------------------------------------------------
    def start(self, cwd=None, timeout=10.0):
        binary = self.args[0]
        if not os.access(binary, os.X_OK):
            pytest.fail(f"infosrv binary not found: {binary} (build it with make, or set INFOSRV_BIN)")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, cwd=cwd or self.workdir, env=sanitizer_env(),
                                     stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err)
        path = os.path.join(self.state_dir, "listeners.json")
        deadline = time.monotonic() + timeout
        while True:
            if os.path.exists(path):
                try:
                    with open(path, encoding="utf-8") as f:
                        self.listeners = json.load(f)
                    break
                except (ValueError, OSError):
                    pass  # written atomically, so this should not happen; retry
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                pytest.fail(f"infosrv exited with {rc} before writing listeners.json\n"
                            f"args: {self.args}\nstderr:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"listeners.json did not appear within {timeout}s\nstderr:\n{self.stderr()}")
            time.sleep(0.02)
        www = [entry for entry in self.listeners.get("listeners", []) if entry.get("service") == "www"]
        assert www, f"no www listener in listeners.json: {self.listeners!r}"
        self.listener = www[0]
        return self

    @property
    def port(self):
        return int(self.listener["port"])

    @property
    def pid(self):
        return self.proc.pid

    @property
    def version(self):
        return self.listeners["version"]

    def url(self, path="/"):
        host = self.listener.get("address", "127.0.0.1")
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}{path}"

    def signal(self, sig):
        assert self.proc.poll() is None, f"infosrv is not running (exit {self.proc.returncode})"
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=15.0):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"infosrv did not exit within {timeout}s")
        return self.returncode

    def stop(self, timeout=15.0):
        """SIGTERM, wait, and assert a clean exit (status 0, no sanitizer report)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        self._close_files()
        self.check_logs()
        assert rc == 0, f"infosrv exit status {rc} after SIGTERM\nstderr:\n{self.stderr()}"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()

    def _close_files(self):
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f and not f.closed:
                f.close()

    # -- logs and state ---------------------------------------------------
    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def error_log_path(self):
        return os.path.join(self.state_dir, "logs", "error.log")

    @property
    def access_log_dir(self):
        return os.path.join(self.state_dir, "logs", "www", "default")

    def error_log(self):
        try:
            with open(self.error_log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def check_logs(self):
        assert_no_sanitizer_report(self.stderr(), f"infosrv stderr ({self.stderr_path})")
        assert_no_sanitizer_report(self.error_log(), f"infosrv error log ({self.error_log_path})")

    def state_json(self, name):
        with open(os.path.join(self.state_dir, name), encoding="utf-8") as f:
            return json.load(f)

    def dump(self, timeout=10.0):
        """SIGUSR2, then wait for fresh stats.json and sessions.json; returns both."""
        paths = [os.path.join(self.state_dir, n) for n in ("stats.json", "sessions.json")]
        for p in paths:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        self.signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while not all(os.path.exists(p) for p in paths):
            if time.monotonic() > deadline:
                raise AssertionError(f"stats.json/sessions.json not written within {timeout}s of SIGUSR2")
            time.sleep(0.02)
        return self.state_json("stats.json"), self.state_json("sessions.json")


def health_check(port):
    """A fresh connection must still get index.html, byte-exact."""
    r = request(port, "GET", "/index.html")
    assert r.status == 200, f"health check after the case: {r!r}"
    assert r.body == tree.INDEX_HTML


@pytest.fixture(scope="session")
def infosrv_bin():
    p = infosrv_path()
    if not os.access(p, os.X_OK):
        pytest.fail(f"infosrv binary not found: {p} (build it with make, or set INFOSRV_BIN)")
    return p


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The shared read-only server (one per test module)."""
    base = str(tmp_path_factory.mktemp("shared"))
    dirs = tree.build(base)
    srv = Server(base, dirs["root"], tree.shared_args(dirs))
    srv.dirs = dirs
    srv.start()
    yield srv
    try:
        srv.stop()
    finally:
        srv.kill()


@pytest.fixture
def make_server(tmp_path):
    """Factory for servers owned by one test: make_server(extra_args, ...)."""
    servers = []
    counter = [0]

    def factory(extra_args=(), build_tree=True, start=True, **kw):
        counter[0] += 1
        base = os.path.join(str(tmp_path), f"srv{counter[0]}")
        os.makedirs(base)
        if build_tree:
            dirs = tree.build(base)
        else:
            dirs = {"root": os.path.join(base, "root")}
            os.makedirs(dirs["root"])
        srv = Server(base, dirs["root"], extra_args, **kw)
        srv.dirs = dirs
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    errors = []
    for srv in servers:
        if srv.proc is None:
            continue
        try:
            if srv.returncode is None:
                srv.stop()
            else:
                srv.check_logs()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            srv.kill()
    if errors:
        pytest.fail("\n".join(errors))
