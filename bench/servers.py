"""Shared helpers for bench/http, bench/idle, bench/admin and
bench/tls-handshake: start infosrv and its peers (nginx, lighttpd, h2o) on
free 127.0.0.1 ports in a temporary directory, over HTTP or HTTPS (one
shared certificate, TLS 1.3 only), measure their CPU time and RSS over the
whole process tree, and stop them.

Every server is started in a new session (setsid) so that it and every
child it forks can be found (same session id) and killed (process group).
Nothing here addresses anything but 127.0.0.1.
"""

import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

# infosrv started as root drops to an unprivileged user unless root is named; the
# benchmarks keep their trees in root-only temporary directories.
if os.geteuid() == 0:
    os.environ.setdefault("INFOSRV_USER", "root")

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
LIGHTTPD_MOD_OPENSSL = "/usr/lib/lighttpd/mod_openssl.so"   # Debian: lighttpd-mod-openssl


TLS13_CIPHER = "TLS_AES_128_GCM_SHA256"   # the one TLS 1.3 suite every run uses
INFOSRV_TLS_HELP = ("infosrv's TLS interface: --https ADDR:PORT, then `infoadm set "
                    "/www/sites/default tls_certificate_file=... tls_key_file=...`")


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


# ------------------------------------------------------------------ TLS

class TlsFiles:
    """The one certificate and key every server is given in a TLS run, and
    an OpenSSL configuration for clients that pins TLS 1.3 and TLS13_CIPHER
    (OPENSSL_CONF; for clients that have no option of their own, e.g. wrk
    and Python's ssl module, which cannot set TLS 1.3 suites)."""

    def __init__(self, cert, key, client_conf):
        self.cert = cert
        self.key = key
        self.client_conf = client_conf
        with open(cert) as f:
            self.der = ssl.PEM_cert_to_DER_cert(f.read())

    def client_env(self):
        env = dict(os.environ)
        env["OPENSSL_CONF"] = self.client_conf
        return env

    def context(self):
        """A client context that trusts only our certificate (so a verified
        handshake proves the server presented it) and speaks only TLS 1.3."""
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        return ctx


def make_tls_files(dirpath, timeout=30.0):
    """Generate one EC P-256 self-signed certificate for localhost and
    127.0.0.1, valid 2 days, into dirpath. Returns TlsFiles."""
    os.makedirs(dirpath, exist_ok=True)
    cert = os.path.join(dirpath, "cert.pem")
    key = os.path.join(dirpath, "key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-nodes", "-subj", "/CN=localhost",
           "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2",
           "-keyout", key, "-out", cert]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError("openssl req: %s" % e)
    if p.returncode != 0 or not os.path.exists(cert) or not os.path.exists(key):
        raise BenchError("openssl req failed (status %s):\n%s"
                         % (p.returncode, p.stdout.decode(errors="replace")))
    conf = os.path.join(dirpath, "openssl-client.cnf")
    with open(conf, "w") as f:
        f.write("openssl_conf = openssl_init\n"
                "[openssl_init]\nssl_conf = ssl_sect\n"
                "[ssl_sect]\nsystem_default = system_default_sect\n"
                "[system_default_sect]\nMinProtocol = TLSv1.3\n"
                "Ciphersuites = %s\n" % TLS13_CIPHER)
    return TlsFiles(cert, key, conf)


def tls_probe(port, tls, timeout=10.0):
    """One handshake with `openssl s_client` (TLS 1.3, TLS13_CIPHER, our
    certificate as the only CA): what the server negotiated. Returns a dict
    with protocol, cipher, group ("Server Temp Key"), verification."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, port), "-brief",
           "-tls1_3", "-ciphersuites", TLS13_CIPHER, "-CAfile", tls.cert,
           "-verify_return_error", "-verify_ip", HOST]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        out = p.stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": str(e)}
    info = {}
    for key, pat in (("protocol", r"^Protocol version: (\S+)"),
                     ("cipher", r"^Ciphersuite: (\S+)"),
                     ("group", r"^(?:Server|Peer) Temp Key: ([^\n]+)"),
                     ("signature", r"^Signature type: (\S+)"),
                     ("verification", r"^Verification: ([^\n]+)")):
        m = re.search(pat, out, re.M)
        if m:
            info[key] = m.group(1).strip()
    if "protocol" not in info:
        info["error"] = out.strip().splitlines()[-1] if out.strip() else "no output"
    return info


def tls_probe_problems(info):
    """What is wrong with a tls_probe() result, as a list of strings."""
    if info.get("error"):
        return ["handshake: %s" % info["error"]]
    bad = []
    if info.get("protocol") != "TLSv1.3":
        bad.append("protocol %s" % info.get("protocol"))
    if info.get("cipher") != TLS13_CIPHER:
        bad.append("cipher %s" % info.get("cipher"))
    if info.get("verification") != "OK":
        bad.append("certificate verification: %s" % info.get("verification"))
    return bad


# ----------------------------------------------------------- HTTP probe

def http_get(port, path, timeout=5.0, tls=None):
    """One GET on a fresh connection (Connection: close), over TLS with
    `tls` (a TlsFiles: the server must present that certificate).
    Returns (status, body bytes, seconds)."""
    t0 = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=timeout) as raw:
        s = tls.context().wrap_socket(raw, server_hostname=HOST) if tls else raw
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Connection: close\r\n\r\n" % path).encode())
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ssl.SSLZeroReturnError:
                break
            except (ssl.SSLEOFError, ConnectionResetError):
                if tls:         # some servers close without close_notify
                    break
                raise
            if not b:
                break
            chunks.append(b)
        if tls:
            der = s.getpeercert(binary_form=True)
            if der != tls.der:
                raise ssl.SSLError("server presented another certificate")
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
                 workers=2, tls=None, http2=False):
        self.tmp = os.path.join(tmp, self.name)
        os.makedirs(self.tmp, exist_ok=True)
        self.docroot = docroot
        self.access_log = access_log
        self.keepalive_timeout = keepalive_timeout
        self.workers = workers
        self.tls = tls           # a TlsFiles: serve HTTPS (TLS 1.3) on self.port
        self.http2 = http2       # offer h2 by ALPN where a server needs telling (nginx)
        self.port = None
        self.proc = None
        self.pid = None          # root of the process tree to measure
        self._out = None

    def available(self):
        return True

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    def url(self, path):
        return "%s://%s:%d%s" % (self.scheme, HOST, self.port, path)

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
            if self.port is not None and self._before_probe():
                try:
                    status, body, _ = http_get(self.port, "/1k.bin", timeout=2, tls=self.tls)
                    if status == 200 and len(body) == FILES["1k.bin"]:
                        return
                    last = "status %s, %d body bytes" % (status, len(body))
                except OSError as e:     # ssl.SSLError is an OSError
                    last = str(e)
            time.sleep(0.05)
        raise BenchError("%s not ready after %.0fs (%s):\n%s"
                         % (self.name, timeout, last, self.output_tail()))

    def _discover_port(self):
        pass

    def _before_probe(self):
        """Called while waiting for readiness, once the port is known; False
        means not ready to be probed yet."""
        return True

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
            status, body, _ = http_get(self.port, "/" + name, tls=self.tls)
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


def _listener_tls_port(l):
    """(is_tls, port, host) of one listeners.json entry. TLS is "tls": true, or an
    address or binding written as a URL "https://HOST:PORT"; the port is
    "port", else the one in that URL."""
    urls = [v for v in (l.get("binding"), l.get("address"))
            if isinstance(v, str) and "://" in v]
    is_tls = l.get("tls") is True or any(v.lower().startswith("https://") for v in urls)
    port = l.get("port")
    if port is None:
        for v in urls:
            m = re.match(r"^[a-z]+://(?:\[[^\]]*\]|[^/:]*):(\d+)", v, re.I)
            if m:
                port = m.group(1)
                break
    host = l.get("address") or ""
    if (not host or "://" in host) and urls:
        m = re.match(r"^[a-z]+://(\[[^\]]*\]|[^/:]*)", urls[0], re.I)
        host = m.group(1) if m else ""
    try:
        port = int(port) if port is not None else None
    except (TypeError, ValueError):
        port = None
    return is_tls, port, host


class Infosrv(Server):
    name = "infosrv"

    def __init__(self, *a, binary=None, **kw):
        super().__init__(*a, **kw)
        self.binary = binary
        self.infoadm = os.path.join(os.path.dirname(binary or "."), "infoadm")
        self.state_dir = os.path.join(self.tmp, "var")
        self._cert_set = False

    def available(self):
        return self.binary and os.access(self.binary, os.X_OK)

    def command(self):
        cmd = [self.binary,
               "--state-dir", self.state_dir,
               "--root", self.docroot,
               "--http", "%s:0" % HOST,
               "--admin", "none",  # the unix socket only: runs side by side never collide
               "--workers", str(self.workers),
               "--keepalive-timeout", str(self.keepalive_timeout)]
        if self.tls:
            if not os.access(self.infoadm, os.X_OK):
                raise BenchError("infosrv --tls needs %s (to set the certificate)" % self.infoadm)
            cmd += ["--https", "%s:0" % HOST]
        return cmd

    def _wait_ready(self, timeout):
        try:
            super()._wait_ready(timeout)
        except BenchError as e:
            if self.tls and self._rejected_https():
                said = [l.strip() for l in self.output_tail().splitlines()
                        if l.strip() and not l.startswith("---")]
                raise BenchError("infosrv rejected --https (%s): this build has no TLS "
                                 "listener yet; %s.\n%s"
                                 % (said[-1] if said else "exit status %s" % self.proc.returncode,
                                    INFOSRV_TLS_HELP, self.output_tail()))
            if self.tls and self.port is None:
                raise BenchError("infosrv: no TLS www listener in %s/listeners.json "
                                 "(want an entry with \"tls\": true or a binding "
                                 "\"https://...\"; %s): %s"
                                 % (self.state_dir, INFOSRV_TLS_HELP, e))
            raise

    def _rejected_https(self):
        tail = self.output_tail()
        return (self.proc is not None and self.proc.poll() is not None
                and re.search(r"https", tail, re.I) is not None)

    def _discover_port(self):
        p = os.path.join(self.state_dir, "listeners.json")
        try:
            with open(p) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return
        for l in doc.get("listeners", []):
            if l.get("service") != "www":
                continue
            is_tls, port, host = _listener_tls_port(l)
            if is_tls == bool(self.tls) and host == HOST and port:
                self.port = port
                return

    def _before_probe(self):
        """TLS: once the listener is up, give the default site the
        certificate through the admin socket (once); new connections use it."""
        if not self.tls or self._cert_set:
            return True
        sock = os.path.join(self.state_dir, "admin.sock")
        if not os.path.exists(sock):
            return False
        cmd = [self.infoadm, "-s", "unix:" + sock, "set", "/www/sites/default",
               "tls_certificate_file=" + self.tls.cert, "tls_key_file=" + self.tls.key]
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=15)
        except subprocess.TimeoutExpired:
            raise BenchError("infosrv: `%s` did not finish in 15 s" % " ".join(cmd))
        if p.returncode != 0:
            raise BenchError("infosrv: `%s` failed (status %d): %s"
                             % (" ".join(cmd), p.returncode,
                                p.stdout.decode(errors="replace").strip()[-800:]))
        self._cert_set = True
        return True


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
        listen %(host)s:%(port)d%(ssl)s;
        root %(root)s;%(tls)s
    }
}
""" % dict(workers=self.workers, nofile=NOFILE, t=t, access=access, wc=min(30000, NOFILE),
           ka=self.keepalive_timeout, host=HOST, port=self.port, root=self.docroot,
           ssl=(" ssl http2" if self.http2 else " ssl") if self.tls else "", tls=self._tls_conf())
        cf = os.path.join(t, "nginx.conf")
        with open(cf, "w") as f:
            f.write(conf)
        return [PEER_BINS["nginx"], "-c", cf, "-p", t + "/",
                "-e", os.path.join(t, "error.log"), "-g", "daemon off;"]

    def _tls_conf(self):
        if not self.tls:
            return ""
        # no ssl_session_cache: TLS 1.3 resumption is by (stateless) ticket
        return """
        ssl_certificate %s;
        ssl_certificate_key %s;
        ssl_protocols TLSv1.3;
        ssl_conf_command Ciphersuites %s;
        ssl_session_tickets on;""" % (self.tls.cert, self.tls.key, TLS13_CIPHER)


class Lighttpd(Server):
    name = "lighttpd"

    def available(self):
        if self.tls and not os.path.exists(LIGHTTPD_MOD_OPENSSL):
            return False
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
%(tls)s
""" % dict(root=self.docroot, host=HOST, port=self.port, t=t, nofile=NOFILE,
           ka=self.keepalive_timeout, access=access, tls=self._tls_conf(),
           maxconn=min(30000, NOFILE // 2))   # lighttpd insists on <= max-fds/2
        cf = os.path.join(t, "lighttpd.conf")
        with open(cf, "w") as f:
            f.write(conf)
        return [PEER_BINS["lighttpd"], "-D", "-f", cf]

    def _tls_conf(self):
        if not self.tls:
            return ""
        # Debian: mod_openssl is in the package lighttpd-mod-openssl.
        # Session tickets are on by default (keys rotated by lighttpd itself).
        return """server.modules += ( "mod_openssl" )
ssl.engine = "enable"
ssl.pemfile = "%s"
ssl.privkey = "%s"
ssl.openssl.ssl-conf-cmd = ( "MinProtocol" => "TLSv1.3", "Ciphersuites" => "%s" )
""" % (self.tls.cert, self.tls.key, TLS13_CIPHER)


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
%(tls)sfile.mime.addtypes:
  application/octet-stream: .bin
%(access)shosts:
  default:
    paths:
      /:
        file.dir: "%(root)s"
""" % dict(workers=self.workers, t=t, ka=self.keepalive_timeout, host=HOST, maxconn=min(30000, NOFILE),
           port=self.port, root=self.docroot, access=access, tls=self._tls_conf())
        cf = os.path.join(t, "h2o.conf")
        with open(cf, "w") as f:
            f.write(conf)
        return [PEER_BINS["h2o"], "-c", cf]

    def _tls_conf(self):
        if not self.tls:
            return ""
        # h2o 2.2 has no setting for the TLS 1.3 suites: the clients pin
        # TLS13_CIPHER. Resumption (ssl-session-resumption) defaults to
        # cache and tickets. ocsp-update-interval 0: no OCSP fetcher process.
        return """  ssl:
    certificate-file: "%s"
    key-file: "%s"
    min-version: TLSv1.3
    ocsp-update-interval: 0
""" % (self.tls.cert, self.tls.key)


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
