"""Fixtures of the infosrv end-to-end suite: start the real daemon on a free
port in temporary state and root directories, wait for listeners.json, and
check on teardown that it stopped cleanly with no sanitizer report."""

import json
import os
import socket
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


# Started as root, infosrv drops to an unprivileged user unless root is named; the
# suites keep their state under root-only temporary directories, so they name it
# (test_service.py tests the drop itself).
if os.geteuid() == 0:
    os.environ.setdefault("INFOSRV_USER", "root")


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

    popen_extra = {}  # more subprocess.Popen arguments (a subclass may set preexec_fn)

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
                                     stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
                                     **self.popen_extra)
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
        found = self.listeners.get("listeners", [])
        www = [entry for entry in found if entry.get("service") == "www"]
        # A daemon of another service only (--gopher alone) has no www listener.
        served = [entry for entry in found if entry.get("service") != "admin"]
        assert www or served, f"no www listener in listeners.json: {self.listeners!r}"
        self.listener = www[0] if www else served[0]
        return self

    def listener_of(self, service, tls=False):
        """The first listener of SERVICE (plain, or TLS when asked) in listeners.json."""
        for entry in self.listeners.get("listeners", []):
            if entry.get("service") == service and bool(entry.get("tls")) == tls:
                return entry
        raise AssertionError(f"no {service} listener (tls={tls}) in {self.listeners!r}")

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


def free_port():
    """A TCP port on 127.0.0.1 free just now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_free(port):
    """True when 127.0.0.1:PORT can be bound just now."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def client_ctx(cafile=None, alpn=None, min_version=None, max_version=None, ciphers=None):
    """A TLS client context: verifying against CAFILE when given, else verifying nothing."""
    import ssl
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if ciphers:
        ctx.set_ciphers(ciphers)
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def serving(srv, setup=None):
    """The body of a fixture that owns the started SRV: SETUP(srv) first (SRV is killed
    when it fails), then SRV is yielded, then stopped cleanly and killed whatever happens.
    Use as `yield from serving(srv, setup)`."""
    try:
        if setup is not None:
            setup(srv)
    except BaseException:
        srv.kill()
        raise
    yield srv
    try:
        srv.stop()
    finally:
        srv.kill()


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
        cls = kw.pop("server_class", Server)
        srv = cls(base, dirs["root"], extra_args, **kw)
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


# -- admin API helpers (tests/e2e/test_admin_*.py, test_infoadm.py) ---------

import http.client  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402


def infoadm_path():
    p = os.environ.get("INFOADM_BIN") or os.path.join(REPO, "build", "test", "infoadm")
    return os.path.abspath(p)


class AdminServer(Server):
    """A Server whose www service may be stopped at start (no www listener in
    listeners.json); restart() starts a new daemon on the same state dir."""

    def start(self, cwd=None, timeout=10.0):
        # A previous run leaves listeners.json behind: wait for a fresh one.
        try:
            os.unlink(os.path.join(self.state_dir, "listeners.json"))
        except FileNotFoundError:
            pass
        try:
            return super().start(cwd=cwd, timeout=timeout)
        except AssertionError as e:
            if "no www listener" not in str(e):
                raise
            self.listener = None
            return self

    @property
    def admin_socket(self):
        return self.listeners["admin_socket"]

    @property
    def admin_port(self):
        for entry in self.listeners.get("listeners", []):
            if entry.get("service") == "admin":
                return int(entry["port"])
        raise AssertionError(f"no admin listener in listeners.json: {self.listeners!r}")

    @property
    def token(self):
        with open(os.path.join(self.state_dir, "admin.token"), encoding="utf-8") as f:
            return f.readline().strip()

    def restart(self):
        """A new daemon on the same state dir (and the same www port, kept in the metabase)."""
        self.returncode = None
        self.proc = None
        return self.start()


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30.0):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


class ApiResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error_code(self):
        try:
            return self.json["error"]["code"]
        except (TypeError, KeyError):
            return None

    def __repr__(self):
        return f"<ApiResponse {self.status} {self.body[:600]!r}>"


def admin_request(srv, method, path, body=None, headers=None, via="unix", token=None,
                  timeout=30.0, raw_body=None):
    """One admin API request on a new connection. via: "unix" or "https";
    token: for https, defaults to admin.token (pass "" for none)."""
    hdrs = {"Accept": "application/json"}
    if via == "unix":
        conn = _UnixHTTPConnection(srv.admin_socket, timeout=timeout)
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", srv.admin_port, timeout=timeout, context=ctx)
        if token is None:
            token = srv.token
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
    data = raw_body
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if headers:
        hdrs.update(headers)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return ApiResponse(r.status, r.headers, r.read())
    finally:
        conn.close()


def http_get(port, path="/", timeout=5):
    """(status, body) of one plain GET to 127.0.0.1:PORT on a new connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def gopher_get(port, selector):
    """Everything the Gopher server at PORT sends for SELECTOR (bytes), until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(selector + b"\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    return data


def run_infoadm(args, env=None, timeout=40, cwd=None):
    """Run infoadm to completion; checks for sanitizer reports."""
    e = sanitizer_env()
    if env:
        e.update(env)
    p = subprocess.run([infoadm_path()] + list(args), env=e, cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    assert_no_sanitizer_report(p.err, f"infoadm {args!r} stderr")
    return p


def adm(srv, *args):
    """infoadm ARGS against SRV over its admin socket."""
    return run_infoadm(["-s", f"unix:{srv.admin_socket}"] + list(args))


def adm_ok(srv, *args):
    """As adm, and it must succeed."""
    p = adm(srv, *args)
    assert p.returncode == 0, f"infoadm {args!r} exit {p.returncode}\nstdout: {p.out}\nstderr: {p.err}"
    return p


def adm_input(srv, text, *args):
    """infoadm with TEXT on its standard input (--password-stdin)."""
    p = subprocess.run([infoadm_path(), "-s", f"unix:{srv.admin_socket}"] + list(args),
                       input=text.encode(), env=sanitizer_env(), capture_output=True, timeout=40)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    assert_no_sanitizer_report(p.err, f"infoadm {args!r} stderr")
    return p


def adm_input_ok(srv, text, *args):
    """As adm_input, and it must succeed."""
    p = adm_input(srv, text, *args)
    assert p.returncode == 0, f"infoadm {args!r} exit {p.returncode}\nstderr: {p.err}"
    return p


@pytest.fixture(scope="session")
def infoadm_bin():
    p = infoadm_path()
    if not os.access(p, os.X_OK):
        pytest.fail(f"infoadm binary not found: {p} (build it with make, or set INFOADM_BIN)")
    return p


@pytest.fixture
def admin_server(make_server):
    """Factory: a fresh AdminServer (same arguments as make_server)."""
    def factory(*a, **kw):
        kw.setdefault("server_class", AdminServer)
        return make_server(*a, **kw)
    return factory
