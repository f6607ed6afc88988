"""ACME test environment for the infosrv end-to-end suite (standard library only).

Pebble(workdir, http_port, tls_port, validity=None, nonce_reject=0, extra_env=None) runs
Debian's pebble 2.4.0 with pebble-challtestsrv as its mock DNS, everything on 127.0.0.1;
AcmeStub(workdir, status=429, ...) is a tiny HTTPS ACME server whose every POST fails, for
error paths Pebble cannot produce; NonceSpoiler(workdir, pebble) is an HTTPS proxy in front
of a Pebble that refuses every other POST with badNonce, deterministically (Pebble's own
PEBBLE_WFE_NONCEREJECT is random). All are context managers; see their docstrings.

Findings about pebble 2.4.0 (read in its v2.4.0 source, then checked against
/usr/bin/pebble with a manual ACME flow through this harness):

* certificateValidityPeriod (seconds) is honoured: notBefore is the issuance time
  (time.Now(), to the second, NOT backdated) and notAfter = notBefore + validity - 1 s.
  0 or absent means the default 157766400 s (5 years); values >= 9223372038 are ignored
  (default again). No minimum: validity=1 gives notAfter == notBefore, a certificate that
  is expired at once, so use 2 or more (Pebble() refuses < 1). notBefore/notAfter sent in
  newOrder are taken verbatim and override the validity. The root and intermediate are new
  on every start (notBefore = start time too); the download is leaf + 1 intermediate,
  the root is not in it (root_file() is what a client trusts).
* No ARI: the directory has newNonce, newAccount, newOrder, revokeCert, keyChange and
  meta {termsOfService, externalAccountRequired}; renewalInfo came in pebble 2.6.0.
* No rate limiting at all: no rateLimited problem and no Retry-After header anywhere
  (not on polling either). Hence AcmeStub.
* PEBBLE_WFE_NONCEREJECT=P: each JWS POST (POST-as-GET included) with a good nonce is
  rejected with probability P% (rand.Intn(100) < P). Unset or unparsable means 5; < 0 is 0;
  100 rejects every POST; > 100 is clipped to 99. The good nonce is consumed even when
  rejected. The answer is 400 application/problem+json, type
  urn:ietf:params:acme:error:badNonce, with a fresh Replay-Nonce (every POST answer has
  one) and no Retry-After. A reused nonce is always badNonce. newNonce: HEAD 200, GET 204,
  Cache-Control "public, max-age=0, no-cache".
* HTTP-01: GET http://NAME:HTTP_PORT/.well-known/acme-challenge/TOKEN, so the Host header
  carries the port ("foo.test:18080"; "127.0.0.1:18080" for an IP identifier), User-Agent
  "LetsEncrypt-Pebble-VA (linux; amd64)", no keep-alive, redirects followed (Go client).
* TLS-ALPN-01: connects to TLS_PORT offering ALPN "acme-tls/1" only, SNI = the DNS name,
  or for an IP identifier the reverse name ("1.0.0.127.in-addr.arpa", RFC 8738). It needs
  acme-tls/1 negotiated, a leaf with exactly one SAN equal to the identifier and the
  critical acmeIdentifier extension 1.3.6.1.5.5.7.1.31; no chain verification. TLS 1.3
  was negotiated with a Python server.
* Every challenge is validated 3 times concurrently (3 HTTP requests / 3 TLS handshakes),
  all must succeed. PEBBLE_VA_NOSLEEP=1 removes the random 0-4 s sleep before each.
* IPv4 only here: Pebble asks the DNS for AAAA first, then A, and dials the first address.
  pebble-challtestsrv answers AAAA with ::1 by default; -defaultIPv6 "" disables the
  default (checked: no AAAA answer), A gets 127.0.0.1 for every name (-defaultIPv4), so
  validation always connected from and to 127.0.0.1. IP identifiers skip DNS. add_a() is
  only needed for other addresses; never add AAAA records.
* Valid authorizations (1 hour lifetime) are reused in 50% of new orders by default: pass
  extra_env={"PEBBLE_AUTHZREUSE": "0"} when a test needs a validation on each order
  (renewal), "100" to skip it.
* Directory URLs are built from the request's Host, and a JWS "url" must equal
  "https://" + Host + path: use 127.0.0.1 throughout. The API speaks HTTP/2 when offered
  by ALPN, HTTP/1.1 otherwise. Pebble does not log httpPort/tlsPort at start; it logs
  "Attempting to validate w/ HTTP: URL" and "Using certificate validity period of N seconds".
"""

import atexit
import http.client
import http.server
import json
import os
import secrets
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time

__all__ = ["Pebble", "AcmeStub", "NonceSpoiler", "free_port", "make_self_signed",
           "dns_query"]

_LIVE = set()   # started Pebble/AcmeStub objects, stopped at interpreter exit as a safety net


@atexit.register
def _stop_leftovers():
    for obj in list(_LIVE):
        obj.stop()


def free_port(udp_too=False):
    """A port that 127.0.0.1 TCP (and, with udp_too, UDP as well) can bind just now."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if udp_too else None
        try:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            if u is not None:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            if u is not None:
                u.close()
    raise RuntimeError("no free 127.0.0.1 port found")


def make_self_signed(workdir, name):
    """Write NAME.crt/NAME.key in WORKDIR: a self-signed P-256 certificate (its own trust
    anchor, no CA above it) for DNS:localhost and IP:127.0.0.1. Returns (crt, key)."""
    crt = os.path.join(workdir, f"{name}.crt")
    key = os.path.join(workdir, f"{name}.key")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name} test",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-days", "30", "-keyout", key, "-out", crt],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("openssl req failed: " + p.stderr.decode("utf-8", "replace"))
    return crt, key


def _https_get(port, path, cafile, method="GET", timeout=5.0):
    """(status, headers, body) of one request to https://127.0.0.1:PORT/PATH, verified
    against CAFILE. http.client directly, so no *_proxy variable can reroute it."""
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def dns_query(port, name, qtype="A", timeout=2.0):
    """Ask the DNS server on 127.0.0.1:PORT (UDP) for NAME; returns the A or AAAA answers
    as address strings. Used to wait for challtestsrv and to check what Pebble will see."""
    qt = {"A": 1, "AAAA": 28}[qtype]
    qid = secrets.randbits(16)
    qname = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qt, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        data = s.recv(4096)
    finally:
        s.close()
    rid, _flags, qd, an = struct.unpack(">HHHH", data[:8])
    if rid != qid:
        raise OSError("DNS answer id mismatch")
    pos = 12

    def skip_name(pos):
        while True:
            n = data[pos]
            if n == 0:
                return pos + 1
            if n & 0xC0 == 0xC0:
                return pos + 2
            pos += 1 + n

    for _ in range(qd):
        pos = skip_name(pos) + 4
    out = []
    for _ in range(an):
        pos = skip_name(pos)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        rdata = data[pos + 10:pos + 10 + rdlen]
        pos += 10 + rdlen
        if rtype == 1 and qt == 1:
            out.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28 and qt == 28:
            out.append(socket.inet_ntop(socket.AF_INET6, rdata))
    return out


class Pebble:
    """Pebble 2.4.0 (/usr/bin/pebble) plus pebble-challtestsrv as its mock DNS, all on
    127.0.0.1. Pebble's validation authority connects to HTTP_PORT (HTTP-01) and TLS_PORT
    (TLS-ALPN-01) on 127.0.0.1 for every name: the infosrv under test listens there.

    Attributes after start(): directory, ca_file (trust this for Pebble's API), port,
    mgmt_port, dns_port, dns_mgmt_port, pebble_log_path, challtestsrv_log_path.
    validity: certificate lifetime in seconds (notAfter = notBefore + validity - 1 s);
    nonce_reject: percentage of good nonces Pebble rejects with badNonce; extra_env: more
    environment for pebble (e.g. {"PEBBLE_AUTHZREUSE": "0"}, see the findings above)."""

    def __init__(self, workdir, http_port, tls_port, validity=None, nonce_reject=0,
                 extra_env=None):
        self.workdir = os.path.abspath(workdir)
        self.http_port = int(http_port)
        self.tls_port = int(tls_port)
        if validity is not None and int(validity) < 1:
            raise ValueError("validity must be >= 1 s (0 would mean Pebble's 5-year default)")
        self.validity = validity
        self.nonce_reject = nonce_reject
        self.extra_env = dict(extra_env or {})
        self.pebble_log_path = os.path.join(self.workdir, "pebble.log")
        self.challtestsrv_log_path = os.path.join(self.workdir, "challtestsrv.log")
        self.config_path = os.path.join(self.workdir, "pebble-config.json")
        self._procs = []
        self._files = []

    # -- life cycle -------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, args, log_path, env=None):
        f = open(log_path, "wb")
        self._files.append(f)
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                             env=env, cwd=self.workdir, start_new_session=True)
        self._procs.append(p)
        return p

    def start(self, timeout=10.0):
        """Generate cert and config, start challtestsrv then pebble, and wait until the
        mock DNS answers and Pebble's directory and management interface answer."""
        os.makedirs(self.workdir, exist_ok=True)
        _LIVE.add(self)
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout):
        self.ca_file, key = make_self_signed(self.workdir, "pebble-https")
        self.dns_port = free_port(udp_too=True)
        self.dns_mgmt_port = free_port()
        self.port = free_port()
        self.mgmt_port = free_port()
        self.directory = f"https://127.0.0.1:{self.port}/dir"
        self.mgmt_url = f"https://127.0.0.1:{self.mgmt_port}"
        self.dns_mgmt_url = f"http://127.0.0.1:{self.dns_mgmt_port}"

        # Only the mock DNS: A -> 127.0.0.1, no AAAA answers at all (an empty
        # -defaultIPv6 disables the default; Pebble asks AAAA first and dials the first
        # address it got, so a ::1 answer would send validation to ::1).
        self._challtestsrv = self._spawn(
            ["pebble-challtestsrv", "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-dns01", f"127.0.0.1:{self.dns_port}",
             "-management", f"127.0.0.1:{self.dns_mgmt_port}",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""],
            self.challtestsrv_log_path)

        conf = {"listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
                "certificate": self.ca_file, "privateKey": key,
                "httpPort": self.http_port, "tlsPort": self.tls_port,
                "ocspResponderURL": "", "externalAccountBindingRequired": False}
        if self.validity is not None:
            conf["certificateValidityPeriod"] = int(self.validity)
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump({"pebble": conf}, f, indent=2)

        env = dict(os.environ)
        env.update({"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": str(self.nonce_reject)})
        env.update({k: str(v) for k, v in self.extra_env.items()})
        deadline = time.monotonic() + timeout
        self._wait(deadline, "pebble-challtestsrv DNS", self._challtestsrv,
                   self.challtestsrv_log_path,
                   lambda: dns_query(self.dns_port, "ready.test", timeout=0.5) == ["127.0.0.1"])
        self._pebble = self._spawn(["pebble", "-config", self.config_path,
                                    "-dnsserver", f"127.0.0.1:{self.dns_port}"],
                                   self.pebble_log_path, env)
        self._wait(deadline, "pebble directory", self._pebble, self.pebble_log_path,
                   lambda: _https_get(self.port, "/dir", self.ca_file, timeout=1)[0] == 200)
        self._wait(deadline, "pebble management", self._pebble, self.pebble_log_path,
                   lambda: _https_get(self.mgmt_port, "/roots/0", self.ca_file, timeout=1)[0] == 200)

    def _wait(self, deadline, what, proc, log_path, ready):
        last = None
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: process exited with {proc.returncode}\n"
                                   + self._read(log_path))
            try:
                if ready():
                    return
            except (OSError, ssl.SSLError, http.client.HTTPException) as e:
                last = e
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready in time (last error: {last!r})\n"
                                   + self._read(log_path))
            time.sleep(0.05)

    def stop(self):
        """Terminate both processes (SIGTERM, then SIGKILL after 5 s) and close the logs.
        Safe to call more than once and after a failed start()."""
        for p in reversed(self._procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self._procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        self._procs = []
        for f in self._files:
            f.close()
        self._files = []
        _LIVE.discard(self)

    # -- inspection -------------------------------------------------------
    @staticmethod
    def _read(path):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log(self):
        """Pebble's stdout+stderr so far (validation attempts are logged here)."""
        return self._read(self.pebble_log_path)

    def challtestsrv_log(self):
        return self._read(self.challtestsrv_log_path)

    def management_get(self, path):
        """Body of GET PATH on Pebble's management interface (HTTPS, same cert as the API)."""
        status, _h, body = _https_get(self.mgmt_port, path, self.ca_file)
        if status != 200:
            raise RuntimeError(f"pebble management {path}: HTTP {status}: {body[:200]!r}")
        return body

    def root_pem(self):
        """PEM of the root that signs this run's certificates (new on every start)."""
        return self.management_get("/roots/0").decode("ascii")

    def intermediate_pem(self):
        """PEM of the intermediate that issues the leaves (also sent in the chain)."""
        return self.management_get("/intermediates/0").decode("ascii")

    def root_file(self):
        """Write root_pem() to WORKDIR/pebble-root.pem: what a client trusts to verify
        certificates issued by this Pebble. Returns the path."""
        path = os.path.join(self.workdir, "pebble-root.pem")
        with open(path, "w", encoding="ascii") as f:
            f.write(self.root_pem())
        return path

    def add_a(self, host, ip):
        """Make the mock DNS answer A queries for HOST with IP (added to what it has).
        Not needed for 127.0.0.1: every unknown name already resolves to it."""
        body = json.dumps({"host": host, "addresses": [ip]}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.dns_mgmt_port, timeout=5)
        try:
            conn.request("POST", "/add-a", body=body)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"challtestsrv /add-a: HTTP {r.status}")
        finally:
            conn.close()

    def resolve(self, host, qtype="A"):
        """What Pebble's resolver gets for HOST (A or AAAA) from the mock DNS."""
        return dns_query(self.dns_port, host, qtype)


class _HttpsServer:
    """A threaded HTTPS server on a free 127.0.0.1 port with a self-signed certificate
    (.ca_file), started and stopped like Pebble; subclasses give _handler_class() and
    NAME, and may extend _started()."""

    NAME = "https"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        self.ca_file, key = make_self_signed(self.workdir, self.NAME.lower() + "-https")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.ca_file, key)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        httpd.daemon_threads = True
        # Handshake lazily in the per-connection thread, not in the accepting one.
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True,
                                       do_handshake_on_connect=False)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.base = f"https://127.0.0.1:{self.port}"
        self.directory = self.base + "/dir"
        self._thread = threading.Thread(target=httpd.serve_forever, name=self.NAME, daemon=True)
        self._thread.start()
        _LIVE.add(self)
        return self

    def stop(self):
        if getattr(self, "_httpd", None) is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None
        _LIVE.discard(self)


class AcmeStub(_HttpsServer):
    """A minimal HTTPS ACME server for error paths Pebble cannot produce (it has no rate
    limits). GET /dir lists newNonce, newAccount, newOrder, revokeCert and keyChange on
    itself; HEAD/GET newNonce give 200/204 with a Replay-Nonce and Cache-Control: no-store;
    EVERY POST answers STATUS with an application/problem+json body of PROBLEM_TYPE and
    DETAIL, a fresh Replay-Nonce and, unless retry_after is None, Retry-After (an int of
    seconds or any string, e.g. an HTTP-date). The attributes status, problem_type, detail
    and retry_after are read per request, so a test may change them while it runs.

    .requests is a list of (time.monotonic(), method, path) of every request received;
    .directory and .ca_file are what the client under test is given."""

    NAME = "AcmeStub"
    PATHS = {"newNonce": "/new-nonce", "newAccount": "/new-account", "newOrder": "/new-order",
             "revokeCert": "/revoke-cert", "keyChange": "/key-change"}

    def __init__(self, workdir, status=429, problem_type="urn:ietf:params:acme:error:rateLimited",
                 detail="too many new orders (stub)", retry_after=3):
        self.workdir = os.path.abspath(workdir)
        self.status = status
        self.problem_type = problem_type
        self.detail = detail
        self.retry_after = retry_after
        self.requests = []
        self._lock = threading.Lock()

    def post_times(self, path=None):
        """Monotonic times of the POSTs received (to PATH only, if given)."""
        with self._lock:
            return [t for t, m, p in self.requests if m == "POST" and path in (None, p)]

    def _record(self, method, path):
        with self._lock:
            self.requests.append((time.monotonic(), method, path))

    def _handler_class(self):
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", ctype=None, headers=()):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _nonce(self):
                return ("Replay-Nonce", secrets.token_urlsafe(16))

            def _get(self):
                path = self.path.split("?", 1)[0]
                stub._record(self.command, path)
                if path == "/dir":
                    d = {k: stub.base + v for k, v in stub.PATHS.items()}
                    self._send(200, json.dumps(d, indent=2).encode(), "application/json")
                elif path == stub.PATHS["newNonce"]:
                    self._send(200 if self.command == "HEAD" else 204,
                               headers=[self._nonce(), ("Cache-Control", "no-store")])
                else:
                    self._problem(404, "urn:ietf:params:acme:error:malformed", "no such resource")

            do_GET = do_HEAD = _get

            def do_POST(self):
                stub._record("POST", self.path.split("?", 1)[0])
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                extra = []
                if stub.retry_after is not None:
                    extra.append(("Retry-After", str(stub.retry_after)))
                self._problem(stub.status, stub.problem_type, stub.detail, extra)

            def _problem(self, status, ptype, detail, extra=()):
                body = json.dumps({"type": ptype, "detail": detail, "status": status}).encode()
                self._send(status, body, "application/problem+json",
                           [self._nonce(), ("Cache-Control", "no-store")] + list(extra))

        return Handler


class NonceSpoiler(_HttpsServer):
    """An HTTPS proxy in front of PEBBLE that answers every REJECT_EVERY-th JWS POST (the
    1st, 3rd, 5th... with the default 2) itself with 400 badNonce and a fresh Replay-Nonce
    obtained from Pebble, and forwards everything else unchanged. A client that retries a
    refused nonce once succeeds every time, and .rejected says how many it was refused.

    The Host header is forwarded as it came (127.0.0.1:PROXY_PORT): Pebble builds its URLs
    from it and checks each JWS "url" against it, so the client keeps talking to the proxy.
    .directory and .ca_file are what the client under test is given; .requests is a list of
    (time.monotonic(), method, path, "rejected"|"forwarded")."""

    NAME = "NonceSpoiler"
    HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
           "transfer-encoding", "upgrade", "content-length"}

    def __init__(self, workdir, pebble, reject_every=2):
        self.workdir = os.path.abspath(workdir)
        self.pebble = pebble
        self.reject_every = int(reject_every)
        self.rejected = 0
        self.requests = []
        self._posts = 0
        self._lock = threading.Lock()

    def _upstream(self, method, path, body, headers):
        ctx = ssl.create_default_context(cafile=self.pebble.ca_file)
        conn = http.client.HTTPSConnection("127.0.0.1", self.pebble.port, context=ctx, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            conn.close()

    def _fresh_nonce(self):
        _s, headers, _b = self._upstream("HEAD", "/nonce-plz", None, {})
        for k, v in headers:
            if k.lower() == "replay-nonce":
                return v
        raise RuntimeError("pebble gave no Replay-Nonce on HEAD /nonce-plz")

    def _handler_class(self):
        spoiler = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path
                if self.command == "POST":
                    with spoiler._lock:
                        reject = spoiler._posts % spoiler.reject_every == 0
                        spoiler._posts += 1
                    if reject:
                        nonce = spoiler._fresh_nonce()
                        problem = json.dumps({"type": "urn:ietf:params:acme:error:badNonce",
                                              "detail": "nonce refused by the test proxy",
                                              "status": 400}).encode()
                        with spoiler._lock:
                            spoiler.rejected += 1
                            spoiler.requests.append((time.monotonic(), "POST", path, "rejected"))
                        self.send_response(400)
                        self.send_header("Content-Type", "application/problem+json")
                        self.send_header("Replay-Nonce", nonce)
                        self.send_header("Cache-Control", "no-store")
                        self.send_header("Content-Length", str(len(problem)))
                        self.end_headers()
                        self.wfile.write(problem)
                        return
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in spoiler.HOP}
                status, headers, data = spoiler._upstream(
                    self.command, path, body if self.command == "POST" else None, hdrs)
                with spoiler._lock:
                    spoiler.requests.append((time.monotonic(), self.command, path, "forwarded"))
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in spoiler.HOP and k.lower() not in ("server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = _relay

        return Handler
