"""Shared helpers for bench/http and bench/idle: start infosrv and its peers
(nginx, lighttpd, h2o) on free 127.0.0.1 ports in a temporary directory,
measure their CPU time and RSS over the whole process tree, and stop them.

Every server is started in a new session (setsid) so that it and every
child it forks can be found (same session id) and killed (process group).
Nothing here addresses anything but 127.0.0.1.
"""

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"
FILES = {"1k.bin": 1024, "100k.bin": 102400}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
NOFILE = 65536          # wanted; clamped to what raise_nofile() obtains

PEER_BINS = {
    "nginx": "/usr/sbin/nginx",
    "lighttpd": "/usr/sbin/lighttpd",
    "h2o": "/usr/bin/h2o",
}


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def raise_nofile(n=65536):
    """Raise our own RLIMIT_NOFILE to n soft and hard; servers started
    afterwards inherit it. Raising the hard limit needs CAP_SYS_RESOURCE,
    which a container may lack: then soft is raised to the hard limit.
    Sets and returns the module's NOFILE (the soft limit obtained)."""
    global NOFILE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))
    except (ValueError, OSError):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
        except (ValueError, OSError):
            pass
    NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return NOFILE


def install_sigterm_handler():
    """Turn SIGINT/SIGTERM/SIGHUP into KeyboardInterrupt so the finally blocks
    run (SIGINT too: a shell starts background jobs with SIGINT ignored)."""
    def handler(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def make_docroot(path):
    os.makedirs(path, exist_ok=True)
    for name, size in FILES.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(os.urandom(size))
    return path


# --------------------------------------------------------------- /proc

def _read_stat(pid):
    """(ppid, sid, utime+stime ticks) of one process, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm may contain spaces/parens: split after the last ')'
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] = state (field 3); field N is rest[N-3]
    ppid = int(rest[1])
    sid = int(rest[3])
    utime = int(rest[11])
    stime = int(rest[12])
    return ppid, sid, utime + stime


def tree_pids(root):
    """The server's processes: everything in its session (it was started
    with setsid, so sid == root pid) plus any descendant by ppid."""
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _read_stat(int(d))
            if st:
                procs[int(d)] = st
    pids = {root} if root in procs else set()
    changed = True
    while changed:
        changed = False
        for pid, (ppid, sid, _) in procs.items():
            if pid not in pids and (sid == root or ppid in pids):
                pids.add(pid)
                changed = True
    return sorted(pids)


def tree_cpu_ticks(root):
    """utime+stime (clock ticks) summed over the server's process tree.
    Per-process figures already include every thread of the process."""
    total = 0
    for pid in tree_pids(root):
        st = _read_stat(pid)
        if st:
            total += st[2]
    return total


def tree_rss_bytes(root):
    """VmRSS summed over the server's process tree, in bytes."""
    total = 0
    for pid in tree_pids(root):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


# ----------------------------------------------------------- HTTP probe

def http_get(port, path, timeout=5.0):
    """One GET on a fresh connection (Connection: close).
    Returns (status, body bytes, seconds)."""
    t0 = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Connection: close\r\n\r\n" % path).encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    dt = time.perf_counter() - t0
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return status, body, dt


# --------------------------------------------------------------- servers

class Server:
    """One server under test. Subclasses write their config and command."""

    name = "?"

    def __init__(self, tmp, docroot, access_log=True, keepalive_timeout=120,
                 workers=2):
        self.tmp = os.path.join(tmp, self.name)
        os.makedirs(self.tmp, exist_ok=True)
        self.docroot = docroot
        self.access_log = access_log
        self.keepalive_timeout = keepalive_timeout
        self.workers = workers
        self.port = None
        self.proc = None
        self.pid = None          # root of the process tree to measure
        self._out = None

    def available(self):
        return True

    def command(self):
        raise NotImplementedError

    def start(self, timeout=15.0):
        cmd = self.command()
        self._out = open(os.path.join(self.tmp, "stdout.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.tmp)
        self.pid = self.proc.pid
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("%s exited with status %s at start-up:\n%s"
                                 % (self.name, self.proc.returncode, self.output_tail()))
            if self.port is None:
                self._discover_port()
            if self.port is not None:
                try:
                    status, body, _ = http_get(self.port, "/1k.bin", timeout=2)
                    if status == 200 and len(body) == FILES["1k.bin"]:
                        return
                    last = "status %s, %d body bytes" % (status, len(body))
                except OSError as e:
                    last = str(e)
            time.sleep(0.05)
        raise BenchError("%s not ready after %.0fs (%s):\n%s"
                         % (self.name, timeout, last, self.output_tail()))

    def _discover_port(self):
        pass

    def output_tail(self, n=20):
        out = []
        for fn in sorted(os.listdir(self.tmp)):
            if fn.endswith(".log") or fn.endswith(".txt"):
                p = os.path.join(self.tmp, fn)
                try:
                    with open(p, errors="replace") as f:
                        lines = f.readlines()[-n:]
                except OSError:
                    continue
                if lines and "access" not in fn:
                    out.append("--- %s\n%s" % (fn, "".join(lines)))
        return "\n".join(out)

    def check_files(self):
        """GET every bench file and compare with the source."""
        for name in FILES:
            with open(os.path.join(self.docroot, name), "rb") as f:
                want = f.read()
            status, body, _ = http_get(self.port, "/" + name)
            if status != 200 or body != want:
                raise BenchError("%s: GET /%s -> status %s, %d bytes (want 200, %d identical bytes)"
                                 % (self.name, name, status, len(body), len(want)))

    def cpu_ticks(self):
        return tree_cpu_ticks(self.pid)

    def rss(self):
        return tree_rss_bytes(self.pid)

    def nprocs(self):
        return len(tree_pids(self.pid))

    def stop(self, timeout=12.0):
        """SIGTERM the process group (and stragglers in the session), wait,
        then SIGKILL. Bounded."""
        if self.proc is None:
            return
        pids = set(tree_pids(self.pid)) if self.pid else set()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            for p in pids:
                try:
                    os.kill(p, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5)
            while time.monotonic() < deadline:
                self.proc.poll()
                alive = [p for p in pids | {self.pid} if _read_stat(p) and not _is_zombie(p)]
                if self.proc.returncode is not None and not alive:
                    break
                time.sleep(0.05)
            else:
                continue
            break
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None
        if self._out:
            self._out.close()
            self._out = None


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return data[data.rindex(")") + 2] == "Z"
    except (OSError, ValueError, IndexError):
        return False


class Infosrv(Server):
    name = "infosrv"

    def __init__(self, *a, binary=None, **kw):
        super().__init__(*a, **kw)
        self.binary = binary

    def available(self):
        return self.binary and os.access(self.binary, os.X_OK)

    def command(self):
        return [self.binary,
                "--state-dir", os.path.join(self.tmp, "var"),
                "--root", self.docroot,
                "--http", "%s:0" % HOST,
                "--workers", str(self.workers),
                "--keepalive-timeout", str(self.keepalive_timeout)]

    def _discover_port(self):
        p = os.path.join(self.tmp, "var", "listeners.json")
        try:
            with open(p) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return
        for l in doc.get("listeners", []):
            if l.get("service") == "www" and l.get("address") == HOST:
                self.port = int(l["port"])
                return


class Nginx(Server):
    name = "nginx"

    def available(self):
        return os.access(PEER_BINS["nginx"], os.X_OK)

    def command(self):
        self.port = free_port()
        t = self.tmp
        for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(t, d), exist_ok=True)
        # buffered like infosrv's own log (lines reach the file within ~1 s)
        access = ("access_log %s/access.log combined buffer=64k flush=1s;" % t
                  if self.access_log else "access_log off;")
        conf = """
user root;
worker_processes %(workers)d;
worker_rlimit_nofile %(nofile)d;
pid %(t)s/nginx.pid;
error_log %(t)s/error.log warn;
events { worker_connections %(wc)d; }
http {
    types { application/octet-stream bin; text/html html; }
    default_type application/octet-stream;
    %(access)s
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_requests 100000;
    keepalive_timeout %(ka)ds;
    client_body_temp_path %(t)s/client_body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
    server {
        listen %(host)s:%(port)d;
        root %(root)s;
    }
}
""" % dict(workers=self.workers, nofile=NOFILE, t=t, access=access, wc=min(30000, NOFILE),
           ka=self.keepalive_timeout, host=HOST, port=self.port, root=self.docroot)
        cf = os.path.join(t, "nginx.conf")
        with open(cf, "w") as f:
            f.write(conf)
        return [PEER_BINS["nginx"], "-c", cf, "-p", t + "/",
                "-e", os.path.join(t, "error.log"), "-g", "daemon off;"]


class Lighttpd(Server):
    name = "lighttpd"

    def available(self):
        return os.access(PEER_BINS["lighttpd"], os.X_OK)

    def command(self):
        self.port = free_port()
        t = self.tmp
        access = ('server.modules += ("mod_accesslog")\naccesslog.filename = "%s/access.log"'
                  % t) if self.access_log else ""
        conf = """
server.document-root = "%(root)s"
server.bind = "%(host)s"
server.port = %(port)d
server.errorlog = "%(t)s/error.log"
server.upload-dirs = ( "%(t)s" )
server.max-fds = %(nofile)d
server.max-connections = %(maxconn)d
server.max-keep-alive-requests = 100000
server.max-keep-alive-idle = %(ka)d
server.max-read-idle = %(ka)d
mimetype.assign = ( ".bin" => "application/octet-stream", ".html" => "text/html" )
%(access)s
""" % dict(root=self.docroot, host=HOST, port=self.port, t=t, nofile=NOFILE,
           ka=self.keepalive_timeout, access=access,
           maxconn=min(30000, NOFILE // 2))   # lighttpd insists on <= max-fds/2
        cf = os.path.join(t, "lighttpd.conf")
        with open(cf, "w") as f:
            f.write(conf)
        return [PEER_BINS["lighttpd"], "-D", "-f", cf]


class H2o(Server):
    name = "h2o"

    def available(self):
        return os.access(PEER_BINS["h2o"], os.X_OK)

    def command(self):
        self.port = free_port()
        t = self.tmp
        access = ('access-log: "%s/access.log"\n' % t) if self.access_log else ""
        conf = """user: root
num-threads: %(workers)d
max-connections: %(maxconn)d
pid-file: "%(t)s/h2o.pid"
error-log: "%(t)s/error.log"
http1-request-timeout: %(ka)d
listen:
  host: %(host)s
  port: %(port)d
file.mime.addtypes:
  application/octet-stream: .bin
%(access)shosts:
  default:
    paths:
      /:
        file.dir: "%(root)s"
""" % dict(workers=self.workers, t=t, ka=self.keepalive_timeout, host=HOST, maxconn=min(30000, NOFILE),
           port=self.port, root=self.docroot, access=access)
        cf = os.path.join(t, "h2o.conf")
        with open(cf, "w") as f:
            f.write(conf)
        return [PEER_BINS["h2o"], "-c", cf]


SERVER_CLASSES = {"infosrv": Infosrv, "nginx": Nginx, "lighttpd": Lighttpd, "h2o": H2o}


def make_server(name, tmp, docroot, infosrv_bin, **kw):
    cls = SERVER_CLASSES[name]
    if cls is Infosrv:
        return cls(tmp, docroot, binary=infosrv_bin, **kw)
    return cls(tmp, docroot, **kw)


class TempDir:
    """mkdtemp, world-readable (servers may read it as another user), removed
    on exit."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False
