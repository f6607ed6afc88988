"""End-to-end tests of automatic certificates (tls_acme) against Pebble 2.4.0 and
the stubs of acme_env: issuance over HTTP-01 and TLS-ALPN-01, renewal of a
short-lived certificate under load, a CA that refuses (failed validation,
refused nonces, rate limit), reuse of the certificate and account after a
restart, and the API/infoadm surface (cert list, cert renew, status warnings,
roles, refused settings). Every check is on what a user sees: the certificate
a TLS client is served and verifies, infoadm's output and exit status, the API's
JSON, the error log and the files in the state directory.

One daemon serves the module (the restart test has its own): each test adds its
own site on the shared plain and https:// bindings, told apart by host name,
and removes it when done. Pebble validates every name on those two ports, so
each CA started here (the module's Pebble, a short-lived one, a refusing one)
is pointed at them. The issuance and renewal times measured are listed at the
end of the run and written to acme-timings.txt in pytest's base temp dir."""

import calendar
import hashlib
import json
import math
import os
import re
import socket
import ssl
import stat
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest

import tree
from acme_env import AcmeStub, NonceSpoiler, Pebble, free_port
from conftest import AdminServer, adm, adm_ok, admin_request, health_check, run_infoadm, client_ctx
from rawhttp import RawConn, build_request, request

NO_AUTHZ_REUSE = {"PEBBLE_AUTHZREUSE": "0"}   # every order is validated afresh
TIMINGS = []            # (what, ms) of each issuance/renewal, listed at the end of the run
RETRY_AFTER = 15        # the rate-limit stub's Retry-After: longer than the first backoff (10 s)


# -- helpers -------------------------------------------------------------------

def wait_until(pred, timeout, what, detail=None, interval=0.05):
    """Poll PRED until it returns something true (returned); AssertionError after TIMEOUT
    seconds, with DETAIL() (e.g. the error log) in the message."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                 + (f"\n{detail()}" if detail else ""))
        time.sleep(interval)


def iso(s):
    """Seconds since the epoch of an API time ("2026-12-01T15:18:40Z")."""
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def certs(srv):
    """GET /api/v1/certificates as {site key: entry}."""
    r = admin_request(srv, "GET", "/api/v1/certificates")
    assert r.status == 200, r
    return {c["site"]: c for c in r.json["certificates"]}


def log_tail(srv, key=None, n=30):
    lines = srv.error_log().splitlines()
    if key:
        lines = [ln for ln in lines if key in ln]
    return "error.log:\n" + "\n".join(lines[-n:])


def wait_acme(srv, key, timeout, what, ok):
    """Poll the certificate list until OK(entry) holds for KEY's entry; returns it."""
    def check():
        c = certs(srv).get(key)
        return c if c and c.get("acme") and ok(c) else None
    return wait_until(check, timeout, f"{key}: {what}",
                      lambda: f"{json.dumps(certs(srv).get(key), indent=1)}\n{log_tail(srv, key)}")


def wait_issued(srv, key, orders=1, timeout=20):
    """Wait for KEY's ORDERS-th certificate from the CA (status valid); returns the entry."""
    return wait_acme(srv, key, timeout, f"certificate #{orders} from the CA",
                     lambda c: c["acme"]["orders"] >= orders and c["acme"]["status"] == "valid"
                     and c["source"] == "acme")


def wait_failing(srv, key, failures=1, timeout=20):
    return wait_acme(srv, key, timeout, f"failed attempt #{failures}",
                     lambda c: c["acme"]["failures"] >= failures
                     and c["acme"]["status"] == "failing")



def served_cert(port, sni, cafile=None, timeout=5.0):
    """DER of the certificate 127.0.0.1:PORT serves for SNI (verified against CAFILE,
    name included, when given: ssl.SSLCertVerificationError if it does not verify)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with client_ctx(cafile).wrap_socket(raw, server_hostname=sni) as s:
            return s.getpeercert(binary_form=True)


def _der_tlv(b, i):
    """(tag, start of value, length) of the DER element at B[I]."""
    tag, n, i = b[i], b[i + 1], i + 2
    if n & 0x80:
        k = n & 0x7F
        n, i = int.from_bytes(b[i:i + k], "big"), i + k
    return tag, i, n


def serial_of(der):
    """The serial number of a DER certificate (Certificate > tbsCertificate > serial)."""
    _, i, _ = _der_tlv(der, 0)
    _, i, _ = _der_tlv(der, i)
    tag, j, n = _der_tlv(der, i)
    if tag == 0xA0:                       # [0] version, then the serial
        tag, j, n = _der_tlv(der, j + n)
    assert tag == 0x02, f"no serial INTEGER in the certificate (tag {tag:#x})"
    return int.from_bytes(der[j:j + n], "big")


def pem_ders(path):
    with open(path, encoding="ascii") as f:
        return [ssl.PEM_cert_to_DER_cert(m) for m in
                re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", f.read(),
                           re.S)]


def pebble_serials(pebble):
    """Serials of the certificates PEBBLE issued, in order (from its log)."""
    return [int(h, 16) for h in re.findall(r"Issued certificate serial ([0-9a-f]+) ", pebble.log())]


def curl_https(port, host, cafile, path="/"):
    """curl, verifying against CAFILE, of https://HOST:PORT/PATH resolved to 127.0.0.1."""
    p = subprocess.run(["curl", "-sS", "--noproxy", "*", "--max-time", "10", "--cacert", cafile,
                        "--resolve", f"{host}:{port}:127.0.0.1", f"https://{host}:{port}{path}"],
                       capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    p.err = p.stderr.decode("utf-8", "replace")
    return p


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def account_key(srv, directory):
    """The account key file of DIRECTORY: one per directory URL, named by its SHA-256."""
    digest = hashlib.sha256(directory.encode()).hexdigest()[:16]
    return os.path.join(srv.state_dir, "tls", "acme", f"account-{digest}.key")


ISSUED_RE = re.compile(r"acme: (\S+): certificate for (\S+) issued in (\d+) ms, "
                       r"valid until (\S+), renewal at (\S+)")


def issued_ms(srv, key):
    """The "issued in N ms" figures of KEY's log lines, oldest first."""
    return [int(m.group(3)) for m in ISSUED_RE.finditer(srv.error_log()) if m.group(1) == key]


def record(what, ms):
    TIMINGS.append((what, ms))
    print(f"acme timing: {what}: {ms} ms")


def table_rows(out):
    """The rows of a table printed by infoadm (header and warning lines left out)."""
    lines = [ln.split() for ln in out.splitlines() if ln.strip()]
    return [ln for ln in lines[1:] if ln[0] != "warning:"]


def row_of(out, key):
    rows = [r for r in table_rows(out) if r[0] == key]
    assert len(rows) == 1, f"no single row for {key} in:\n{out}"
    return rows[0]


def warnings_of(out, key):
    return [ln for ln in out.splitlines() if ln.startswith(f"warning: {key}:")]


def revision(srv):
    r = admin_request(srv, "GET", "/api/v1/revisions?limit=1")
    assert r.status == 200, r
    return r.json["revisions"][0]["revision"]


class TLSConn(RawConn):
    """RawConn over TLS with SNI (the handshake is done by the constructor)."""

    def __init__(self, port, sni, cafile=None, timeout=5.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            self.sock = client_ctx(cafile).wrap_socket(raw, server_hostname=sni)
        except BaseException:
            raw.close()
            raise
        self.timeout, self.buf, self.closed, self.reset = timeout, bytearray(), False, False
        self.sent = self.received = 0

    def get(self, path, host, close=False):
        self.send(build_request("GET", path, host=host, close=close))
        return self.read_response()

    @property
    def serial(self):
        return serial_of(self.sock.getpeercert(binary_form=True))


class Env:
    """The module's daemon (srv, on plain port hp and TLS port tp), the module's Pebble
    (pebble, validating on hp/tp; root verifies what it issues), a document root."""


@contextmanager
def acme_site(env, name, ca, hosts=None, bindings=None, challenges=None, **extra):
    """Site NAME (host NAME.test) with tls_acme on and CA's directory, added in one
    commit and removed (recursively) on exit. Yields its key."""
    key = f"/www/sites/{name}"
    props = {"bindings": bindings or [f"127.0.0.1:{env.hp}", f"https://127.0.0.1:{env.tp}"],
             "host_names": hosts or [f"{name}.test"], "tls_acme": "on",
             "acme_directory": ca.directory, "acme_ca_certificate": ca.ca_file}
    if challenges is not None:
        props["acme_challenges"] = challenges
    props.update(extra)
    r = admin_request(env.srv, "POST", "/api/v1/commits", {"comment": f"acme site {name}", "ops": [
        {"op": "create", "key": key, "set": props},
        {"op": "create", "key": f"{key}/root", "set": {"path": env.docroot}}]})
    assert r.status == 200 and r.json.get("changed") is True, r
    try:
        yield key
    finally:
        remove_site(env.srv, name)


def remove_site(srv, name):
    r = admin_request(srv, "DELETE", f"/api/v1/config/www/sites/{name}?recursive=1")
    assert r.status in (200, 404), r


def assert_healthy(env):
    """Plain HTTP and the default site's TLS binding still answer."""
    health_check(env.hp)
    with TLSConn(env.tp, "localhost") as c:
        r = c.get("/index.html", "localhost", close=True)
    assert r.status == 200 and r.body == tree.INDEX_HTML, r


# -- fixtures --------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def timings_summary(request, tmp_path_factory):
    """List the measured times at the end of the run (whatever -s) and in a file."""
    yield
    if not TIMINGS:
        return
    lines = [f"{what}: {ms} ms" for what, ms in TIMINGS]
    path = tmp_path_factory.getbasetemp() / "acme-timings.txt"
    path.write_text("\n".join(lines) + "\n")
    print("acme timings:\n  " + "\n  ".join(lines))

    class Summary:
        @staticmethod
        def pytest_terminal_summary(terminalreporter):
            terminalreporter.write_sep("-", "acme timings")
            for ln in lines:
                terminalreporter.write_line(ln)
            terminalreporter.write_line(f"(also in {path})")

    pm = request.config.pluginmanager
    if not pm.has_plugin("acme-timings"):
        pm.register(Summary(), "acme-timings")


@pytest.fixture(scope="module")
def env(tmp_path_factory, infosrv_bin, infoadm_bin):
    base = str(tmp_path_factory.mktemp("acme"))
    dirs = tree.build(base)
    srv = AdminServer(base, dirs["root"])
    srv.dirs = dirs
    srv.start()
    e = Env()
    e.srv, e.base, e.docroot, e.hp, e.tp = srv, base, dirs["root"], srv.port, free_port()
    e.pebble = None
    try:
        # The default site holds both bindings (self-signed, no host names): the sites of
        # the tests share them and the TLS port stays bound whatever site comes and goes.
        adm_ok(srv, "set", "/www/sites/default",
               f'bindings=["127.0.0.1:{e.hp}","https://127.0.0.1:{e.tp}"]')
        e.pebble = Pebble(os.path.join(base, "pebble"), e.hp, e.tp,
                          extra_env=NO_AUTHZ_REUSE).start()
        e.root = e.pebble.root_file()
        assert_healthy(e)
    except BaseException:
        srv.kill()
        if e.pebble:
            e.pebble.stop()
        raise
    yield e
    try:
        srv.stop()
    finally:
        srv.kill()
        e.pebble.stop()


@pytest.fixture(scope="module")
def rate_limited(env):
    """Site "limited" whose CA (AcmeStub) answers every POST 429 rateLimited with
    Retry-After: RETRY_AFTER. Module-scoped so that its wait for the retry overlaps
    the tests in between: test_rate_limit_* below look at it early and late."""
    stub = AcmeStub(os.path.join(env.base, "stub"), retry_after=RETRY_AFTER).start()
    try:
        with acme_site(env, "limited", stub) as key:
            first = wait_failing(env.srv, key, 1, timeout=15)
            yield stub, key, first
    finally:
        stub.stop()


# -- 4c (first half). A rate limit: started first, its retry is checked at the end ----

def test_rate_limit_is_reported_and_honoured(env, rate_limited):
    srv = env.srv
    stub, key, c = rate_limited
    a = c["acme"]
    # The API: failing, the CA's problem, no retry before Retry-After.
    assert c["source"] == "placeholder", c
    assert a["failures"] == 1 and a["orders"] == 0, a
    assert "rateLimited" in a["last_error"] and "429" in a["last_error"], a
    assert "rateLimited" in a["warning"], a
    assert iso(a["next_attempt"]) - iso(a["last_error_at"]) >= RETRY_AFTER, \
        f"next attempt sooner than the CA's Retry-After of {RETRY_AFTER} s: {a}"
    # The CA was asked once and not again: the refusal is not retried within the order.
    assert len(stub.post_times()) == 1, stub.requests
    assert re.search(rf"acme: {key}: order failed \(attempt 1\): .*rateLimited.*; serving the "
                     rf"placeholder; next attempt in {RETRY_AFTER} s", srv.error_log()), \
        log_tail(srv, key)
    # The site serves its placeholder meanwhile.
    der = served_cert(env.tp, "limited.test")
    assert der == pem_ders(os.path.join(srv.state_dir, "tls", "www-limited.crt"))[0]
    # What an administrator sees.
    out = adm_ok(srv, "cert", "list").out
    row = row_of(out, key)
    assert row[1] == "placeholder" and row[3] == "failing", out
    assert any("rateLimited" in w for w in warnings_of(out, key)), out
    out = adm_ok(srv, "status").out
    assert any("rateLimited" in w for w in warnings_of(out, key)), out
    assert_healthy(env)


# -- 1. issuance over HTTP-01 -------------------------------------------------------

def test_issuance_over_http01(env):
    srv, pebble = env.srv, env.pebble
    key = "/www/sites/shop"
    adm_ok(srv, "site", "add", "shop", "--binding", f"127.0.0.1:{env.hp}", "--binding",
           f"https://127.0.0.1:{env.tp}", "--host", "shop.test", "--path", env.docroot)
    try:
        t0 = time.monotonic()
        adm_ok(srv, "set", key, "tls_acme=on", f"acme_directory={pebble.directory}",
               f"acme_ca_certificate={pebble.ca_file}", 'acme_challenges=["http-01"]')
        c = wait_issued(srv, key)
        waited_ms = (time.monotonic() - t0) * 1000

        # A client trusting Pebble's root verifies the site.
        p = curl_https(env.tp, "shop.test", env.root)
        assert p.returncode == 0, f"curl exit {p.returncode}: {p.err}"
        assert p.stdout == tree.INDEX_HTML
        der = served_cert(env.tp, "shop.test", cafile=env.root)
        crt = os.path.join(srv.state_dir, "tls", "acme", "www-shop.crt")
        chain = pem_ders(crt)
        assert der == chain[0] and len(chain) == 2, "the served leaf is not the stored chain's"
        assert serial_of(der) in pebble_serials(pebble)
        placeholder = os.path.join(srv.state_dir, "tls", "www-shop.crt")
        assert os.path.isfile(placeholder) and pem_ders(placeholder)[0] != der

        # infoadm cert list: the table and the JSON.
        out = adm_ok(srv, "cert", "list").out
        assert out.split()[:5] == ["SITE", "SOURCE", "EXPIRES", "STATUS", "NAMES"], out
        site, source, expires, status, names = row_of(out, key)
        assert (source, status, names) == ("acme", "valid", "shop.test"), out
        assert expires == c["certificate"]["not_after"], out
        assert not warnings_of(out, key), out
        j = {x["site"]: x for x in json.loads(adm_ok(srv, "--json", "cert", "list").out)
             ["certificates"]}[key]
        cert, a = j["certificate"], j["acme"]
        assert j["source"] == "acme" and j["service"] == "www" and j["name"] == "shop", j
        assert j["host_names"] == ["shop.test"] and cert["names"] == ["shop.test"], j
        assert cert["file"] == crt and "Pebble Intermediate" in cert["issuer"], j
        assert a["directory"] == pebble.directory and a["status"] == "valid", a
        assert (a["orders"], a["failures"], a["last_error"]) == (1, 0, None), a
        assert "warning" not in a, a
        nb, na = iso(cert["not_before"]), iso(cert["not_after"])
        assert iso(a["renew_at"]) == nb + (na - nb) * 2 // 3, f"renewal not at 2/3 of life: {j}"
        assert 0 < cert["expires_in"] <= na - time.time() + 2, j

        # Files: the site's key and the account key are private.
        assert mode(os.path.join(srv.state_dir, "tls", "acme", "www-shop.key")) == 0o600
        account = account_key(srv, pebble.directory)
        assert os.path.isfile(account), os.listdir(os.path.dirname(account))
        assert mode(account) == 0o600

        # The log, and how long it took.
        ms = issued_ms(srv, key)
        assert len(ms) == 1, log_tail(srv, key)
        assert ms[0] <= waited_ms + 1000, (ms, waited_ms)
        record("issuance over HTTP-01 (shop.test)", ms[0])

        # Pebble validated on the site's plain port; the answer is withdrawn afterwards.
        paths = re.findall(rf"Attempting to validate w/ HTTP: http://shop\.test:{env.hp}"
                           r"(/\.well-known/acme-challenge/\S+)", pebble.log())
        assert paths, pebble.log()[-3000:]
        r = request(env.hp, "GET", paths[-1])
        assert r.status == 404, f"the challenge answer is still served: {r!r}"
        # The plain binding still serves the site.
        with RawConn(env.hp) as conn:
            conn.send(build_request("GET", "/index.html", host="shop.test", close=True))
            r = conn.read_response()
        assert r.status == 200 and r.body == tree.INDEX_HTML, r
        assert_healthy(env)
    finally:
        remove_site(srv, "shop")


# -- 2. issuance over TLS-ALPN-01 only ------------------------------------------------

def test_issuance_over_tls_alpn01_only(env):
    srv, pebble = env.srv, env.pebble
    with acme_site(env, "alpn", pebble, bindings=[f"https://127.0.0.1:{env.tp}"],
                   challenges=["tls-alpn-01"]) as key:
        c = wait_issued(srv, key)
        assert c["certificate"]["names"] == ["alpn.test"], c
        p = curl_https(env.tp, "alpn.test", env.root, "/hello.txt")
        assert p.returncode == 0 and p.stdout == tree.HELLO, f"curl exit {p.returncode}: {p.err}"
        assert f"acme: {key}: answering tls-alpn-01 for alpn.test" in srv.error_log()
        assert "validate w/ HTTP: http://alpn.test" not in pebble.log(), "HTTP-01 was used"
        ms = issued_ms(srv, key)
        assert len(ms) == 1, log_tail(srv, key)
        record("issuance over TLS-ALPN-01 (alpn.test)", ms[0])
        # The challenge certificate is gone: acme-tls/1 for the name is refused now...
        with pytest.raises(ssl.SSLError):
            with socket.create_connection(("127.0.0.1", env.tp), timeout=5) as raw:
                with client_ctx(alpn=["acme-tls/1"]).wrap_socket(raw, server_hostname="alpn.test"):
                    pass
        # ...and ordinary clients (ALPN http/1.1) get the CA's certificate.
        with socket.create_connection(("127.0.0.1", env.tp), timeout=5) as raw:
            with client_ctx(env.root, alpn=["http/1.1"]).wrap_socket(
                    raw, server_hostname="alpn.test") as s:
                assert s.selected_alpn_protocol() == "http/1.1"
        assert_healthy(env)


# -- 3. renewal of a short-lived certificate under load --------------------------------

class Prober(threading.Thread):
    """New verified TLS connections to PORT for SNI, one after the other, each with one
    request, until stop() (or LIMIT seconds): the serials seen in order, and failures."""

    def __init__(self, port, sni, cafile, limit=60.0):
        super().__init__(daemon=True)
        self.port, self.sni, self.cafile, self.limit = port, sni, cafile, limit
        self.serials, self.failures, self.count = [], [], 0
        self._stop_event = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.limit
        while not self._stop_event.is_set() and time.monotonic() < deadline:
            try:
                with TLSConn(self.port, self.sni, cafile=self.cafile) as c:
                    r = c.get("/index.html", self.sni, close=True)
                    if r.status != 200 or r.body != tree.INDEX_HTML:
                        raise AssertionError(f"bad answer {r!r}")
                    if not self.serials or self.serials[-1] != c.serial:
                        self.serials.append(c.serial)
                self.count += 1
            except (OSError, AssertionError) as e:
                self.failures.append(repr(e))
            time.sleep(0.02)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=10)


def h2load_summary(out):
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
    s = re.search(r"status codes: (\d+) 2xx", out)
    assert m and s, f"unexpected h2load output:\n{out}"
    return dict(zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"),
                    map(int, m.groups())), ok=int(s.group(1)))


def test_renewal_under_load(env):
    srv = env.srv
    validity = 12
    short = Pebble(os.path.join(env.base, "pebble-short"), env.hp, env.tp, validity=validity,
                   extra_env=NO_AUTHZ_REUSE).start()
    h2 = prober = old = None
    try:
        root = short.root_file()
        # connection_timeout: the connection opened before the renewal idles across it.
        with acme_site(env, "renew", short, connection_timeout=60) as key:
            c1 = wait_issued(srv, key)
            cert1 = c1["certificate"]
            nb, na, renew_at = iso(cert1["not_before"]), iso(cert1["not_after"]), \
                iso(c1["acme"]["renew_at"])
            assert na - nb == validity - 1 and renew_at == nb + (na - nb) * 2 // 3, c1
            s1 = serial_of(served_cert(env.tp, "renew.test", cafile=root))
            crt = os.path.join(srv.state_dir, "tls", "acme", "www-renew.crt")
            assert s1 == serial_of(pem_ders(crt)[0])

            # A connection opened before the renewal, kept open across it.
            old = TLSConn(env.tp, "renew.test", cafile=root)
            r = old.get("/index.html", "renew.test")
            assert r.status == 200 and old.serial == s1, r
            # The load: 4 keep-alive clients (h2load, SNI renew.test) paced at 100 req/s,
            # until a few seconds after the renewal is due, and new verified connections
            # one after the other.
            duration = max(3, math.ceil(renew_at - time.time()) + 3)
            h2 = subprocess.Popen(["h2load", "--h1", "-c", "4", "--rps", "25", "-D", str(duration),
                                   f"--connect-to=127.0.0.1:{env.tp}",
                                   f"https://renew.test:{env.tp}/index.html"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
            h2_started = time.monotonic()
            prober = Prober(env.tp, "renew.test", root)
            prober.start()

            c2 = wait_issued(srv, key, orders=2, timeout=max(renew_at - time.time(), 0) + 15)
            renewed_at = time.monotonic()
            wait_until(lambda: len(prober.serials) >= 2, 5,
                       "a new connection to get the renewed certificate")
            switched = prober.count
            wait_until(lambda: prober.count >= switched + 5, 5,
                       "more new connections after the renewal")
            prober.stop()
            # The connection opened before still works, with the certificate it had.
            r = old.get("/hello.txt", "renew.test", close=True)
            assert r.status == 200 and r.body == tree.HELLO and old.serial == s1, r
            old.close()
            out = h2.communicate(timeout=duration + 20)[0].decode("utf-8", "replace")
            h2 = None

            # No request failed, the keep-alive load spanned the renewal.
            hs = h2load_summary(out)
            assert hs["failed"] == hs["errored"] == hs["timeout"] == 0, out
            assert hs["done"] == hs["succeeded"] == hs["ok"] > 0, out
            assert renewed_at < h2_started + duration, "the renewal came after the load ended"
            st = json.loads(adm_ok(srv, "--json", "stats", "--site", "renew").out)["stats"]
            assert st[0]["counters"]["get_requests"] >= hs["done"] + prober.count, \
                f"the load did not reach site renew (SNI renew.test): {st}"
            assert not prober.failures, prober.failures[:5]
            # New connections went from the old certificate to the new one, never back.
            s2 = serial_of(served_cert(env.tp, "renew.test", cafile=root))
            assert s2 != s1 and prober.serials == [s1, s2], (s1, s2, prober.serials)
            assert s2 == serial_of(pem_ders(crt)[0]) and pebble_serials(short)[:2] == [s1, s2]

            # Renewed at 2/3 of the life (not before), logged, and the API shows it.
            a2 = c2["acme"]
            assert iso(a2["last_issued_at"]) >= renew_at, (c1, c2)
            assert iso(a2["last_issued_at"]) <= renew_at + 10, (c1, c2)
            assert iso(c2["certificate"]["not_before"]) > nb, c2
            assert iso(a2["renew_at"]) > renew_at and a2["failures"] == 0, c2
            assert mode(os.path.join(srv.state_dir, "tls", "acme", "www-renew.key")) == 0o600
            ms = issued_ms(srv, key)
            assert len(ms) >= 2, log_tail(srv, key)
            record("renewal under load (renew.test, validity 12 s)", ms[1])
            print(f"h2load during the renewal: {hs}; prober: {prober.count} connections")
            assert_healthy(env)
    finally:
        if prober:
            prober.stop()
        if old:
            old.close()
        if h2:
            h2.kill()
            h2.wait()
        short.stop()


# -- 4a. a failing challenge, then fixing the setting -----------------------------------

def test_failed_validation_then_fixed_setting(env):
    srv = env.srv
    dead = free_port()     # Pebble's HTTP-01 port: nobody listens there
    bad = Pebble(os.path.join(env.base, "pebble-dead-http"), dead, env.tp,
                 extra_env=NO_AUTHZ_REUSE).start()
    try:
        with acme_site(env, "broken", bad, challenges=["http-01"]) as key:
            c = wait_failing(srv, key)
            a = c["acme"]
            # The CA's problem, as the site's error, warning and log line.
            assert "http-01 validation failed" in a["last_error"], a
            assert "urn:ietf:params:acme:error:connection" in a["last_error"], a
            assert f"127.0.0.1:{dead}" in a["last_error"] and "refused" in a["last_error"], a
            assert a["last_error"] in a["warning"] and a["orders"] == 0, a
            assert re.search(rf"acme: {key}: order failed \(attempt 1\): broken\.test: http-01 "
                             r"validation failed: .*; serving the placeholder; next attempt in "
                             r"10 s", srv.error_log()), log_tail(srv, key)
            # The site keeps its placeholder.
            assert c["source"] == "placeholder", c
            placeholder = os.path.join(srv.state_dir, "tls", "www-broken.crt")
            assert served_cert(env.tp, "broken.test") == pem_ders(placeholder)[0]
            with pytest.raises(ssl.SSLCertVerificationError):
                served_cert(env.tp, "broken.test", cafile=bad.root_file())
            # infoadm: cert list and status warn.
            out = adm_ok(srv, "cert", "list").out
            assert row_of(out, key)[1] == "placeholder" and row_of(out, key)[3] == "failing", out
            w = warnings_of(out, key)
            assert len(w) == 1 and "validation failed" in w[0] and "refused" in w[0], out
            out = adm_ok(srv, "status").out
            w = warnings_of(out, key)
            assert len(w) == 1 and "validation failed" in w[0], out
            assert_healthy(env)

            # Fixing the setting (TLS-ALPN-01 reaches the site) gets a certificate at once,
            # long before the 10 s backoff.
            fixed_at = time.time()
            assert iso(a["next_attempt"]) - fixed_at > 5, f"too slow to test 'at once': {a}"
            adm_ok(srv, "set", key, 'acme_challenges=["tls-alpn-01"]')
            c = wait_issued(srv, key, timeout=5)
            assert iso(c["acme"]["last_issued_at"]) < iso(a["next_attempt"]), (a, c)
            assert c["acme"]["failures"] == 0 and "warning" not in c["acme"], c
            served_cert(env.tp, "broken.test", cafile=bad.root_file())  # verifies
            assert not warnings_of(adm_ok(srv, "status").out, key)
            assert not warnings_of(adm_ok(srv, "cert", "list").out, key)
            record("issuance after a fix (broken.test, TLS-ALPN-01)", issued_ms(srv, key)[-1])
            assert_healthy(env)
    finally:
        bad.stop()


# -- 4b. refused nonces ---------------------------------------------------------------

def test_refused_nonces_are_retried(env):
    """Every other POST is refused with badNonce (NonceSpoiler in front of the module's
    Pebble; Pebble's own PEBBLE_WFE_NONCEREJECT is random, see the report on 60 %)."""
    srv = env.srv
    spoiler = NonceSpoiler(os.path.join(env.base, "spoiler"), env.pebble).start()
    try:
        with acme_site(env, "nonce", spoiler, hosts=["nonce.test", "www.nonce.test"]) as key:
            c = wait_issued(srv, key)
            assert c["acme"]["failures"] == 0 and c["acme"]["orders"] == 1, c
            assert sorted(c["certificate"]["names"]) == ["nonce.test", "www.nonce.test"], c
            for host in ("nonce.test", "www.nonce.test"):
                p = curl_https(env.tp, host, env.root)
                assert p.returncode == 0 and p.stdout == tree.INDEX_HTML, (host, p.err)
            refused = [ln for ln in srv.error_log().splitlines()
                       if f"acme: {key}:" in ln and "the CA refused the nonce" in ln]
            assert spoiler.rejected >= 6, spoiler.requests
            assert len(refused) == spoiler.rejected, \
                f"{spoiler.rejected} refusals, {len(refused)} logged\n{log_tail(srv, key)}"
            assert "order failed" not in log_tail(srv, key)
            record("issuance with every other nonce refused (2 names)", issued_ms(srv, key)[0])
    finally:
        spoiler.stop()
    assert_healthy(env)


# -- 6. the API and infoadm ----------------------------------------------------------

def test_cert_renew_and_api(env):
    srv, pebble = env.srv, env.pebble
    r = admin_request(srv, "GET", "/api")
    assert r.status == 200 and "certificates" in json.dumps(r.json), r
    with acme_site(env, "api", pebble) as key:
        c1 = wait_issued(srv, key)
        s1 = serial_of(served_cert(env.tp, "api.test", cafile=env.root))

        # infoadm cert renew NAME --wait: a new certificate, told when it came.
        p = adm_ok(srv, "cert", "renew", "api", "--wait")
        assert f"{key}: renewed" in p.out, p.out
        c2 = certs(srv)[key]
        assert c2["acme"]["orders"] == c1["acme"]["orders"] + 1, c2
        assert c2["certificate"]["not_after"] in p.out, (p.out, c2)
        s2 = serial_of(served_cert(env.tp, "api.test", cafile=env.root))
        assert s2 != s1 and s2 == pebble_serials(pebble)[-1]
        record("renewal by infoadm cert renew --wait (api.test)", issued_ms(srv, key)[-1])

        # The API: 202 queued, then a third certificate.
        r = admin_request(srv, "POST", "/api/v1/certificates/renew", {"site": key})
        assert r.status == 202 and r.json == {"site": key, "queued": True}, r
        wait_issued(srv, key, orders=3, timeout=15)
        assert serial_of(served_cert(env.tp, "api.test", cafile=env.root)) not in (s1, s2)

        # infoadm --json cert list is the API's list.
        j = json.loads(adm_ok(srv, "--json", "cert", "list").out)
        api = certs(srv)
        assert {x["site"] for x in j["certificates"]} == set(api), j
        mine = [x for x in j["certificates"] if x["site"] == key][0]
        assert mine["acme"]["orders"] == 3 and mine["source"] == "acme", mine
        assert mine["certificate"]["not_after"] == api[key]["certificate"]["not_after"], mine

        # Renewing a site without tls_acme (or no site at all): a clear refusal.
        orders = certs(srv)[key]["acme"]["orders"]
        for site in ("default", "/www/sites/default", "nosuch"):
            p = adm(srv, "cert", "renew", site)
            assert p.returncode != 0 and "does not have tls_acme on" in p.err, (site, p.out, p.err)
            assert p.out == "", p.out
        r = admin_request(srv, "POST", "/api/v1/certificates/renew", {"site": "/www/sites/default"})
        assert r.status == 404 and r.error_code == "not_found", r
        assert "tls_acme" in r.json["error"]["message"], r

        # A reader sees the certificates but may not renew them.
        r = admin_request(srv, "POST", "/api/v1/accounts", {"name": "certreader", "role": "reader"})
        assert r.status == 201, r
        token = r.json["token"]
        try:
            r = admin_request(srv, "GET", "/api/v1/certificates", via="https", token=token)
            assert r.status == 200 and key in {x["site"] for x in r.json["certificates"]}, r
            r = admin_request(srv, "POST", "/api/v1/certificates/renew", {"site": key},
                              via="https", token=token)
            assert r.status == 403 and r.error_code == "forbidden", r
            p = run_infoadm(["-s", f"https://127.0.0.1:{srv.admin_port}", "--token", token,
                             "--cacert", os.path.join(srv.state_dir, "admin.crt"),
                             "cert", "renew", "api"])
            refusal = "does not allow POST /api/v1/certificates/renew"
            assert p.returncode != 0 and refusal in p.err, (p.out, p.err)
        finally:
            r = admin_request(srv, "DELETE", "/api/v1/accounts/certreader")
            assert r.status == 200, r
        # Nothing was queued: a queued renewal is due at once (next_attempt null).
        a = certs(srv)[key]["acme"]
        assert a["orders"] == orders and a["status"] == "valid", a
        assert a["next_attempt"] == a["renew_at"] is not None, a
    assert_healthy(env)


def test_refused_settings_change_nothing(env):
    srv, pebble = env.srv, env.pebble
    r = admin_request(srv, "POST", "/api/v1/commits", {"comment": "plain-only site", "ops": [
        {"op": "create", "key": "/www/sites/plainonly",
         "set": {"bindings": [f"127.0.0.1:{env.hp}"], "host_names": ["plainonly.test"]}},
        {"op": "create", "key": "/www/sites/plainonly/root", "set": {"path": env.docroot}}]})
    assert r.status == 200, r
    try:
        directory = f"acme_directory={pebble.directory}"
        ca = f"acme_ca_certificate={pebble.ca_file}"
        hosts = 'host_names=["cfg.test"]'
        cases = [  # (key, settings, words the message must have)
            ("/www/sites/default", ["tls_acme=on", directory, ca], ["host_names", "empty"]),
            ("/www/sites/default", ["tls_acme=on", hosts, ca], ["acme_directory", "not set"]),
            ("/www/sites/default", ["tls_acme=on", hosts, "acme_directory=http://127.0.0.1:1/dir"],
             ["acme_directory", "https://"]),
            ("/www/sites/plainonly", ["tls_acme=on", directory, ca],
             ["tls_acme", "https:// binding"]),
            ("/www/sites/default", ["tls_acme=on", hosts, directory, "acme_challenges=[]"],
             ["acme_challenges", "empty"]),
            ("/www/sites/default", ["tls_acme=on", hosts, directory, 'acme_challenges=["dns-01"]'],
             ["acme_challenges", "http-01"]),
        ]
        before = revision(srv)
        listed = certs(srv)
        failures = []
        for key, sets, words in cases:
            p = adm(srv, "set", key, *sets)
            msg = (p.out + p.err).strip()
            if p.returncode == 0 or not all(w in msg for w in words + [key]):
                failures.append(f"infoadm set {key} {' '.join(sets)}: exit {p.returncode}: {msg!r}")
            assert revision(srv) == before, f"{sets}: a revision was recorded"
        assert not failures, "\n".join(failures)
        # Nothing changed: same settings, same certificates, everything still serves.
        for key in ("/www/sites/default", "/www/sites/plainonly"):
            r = admin_request(srv, "GET", f"/api/v1/config{key}")
            assert r.status == 200, r
            assert r.json["properties"]["tls_acme"]["value"] == "off", r
        assert certs(srv).keys() == listed.keys()
        assert certs(srv)["/www/sites/default"]["source"] == "self-signed"
        assert_healthy(env)
    finally:
        remove_site(srv, "plainonly")


# -- changed settings, and a renewal the CA refuses ------------------------------------

def site_stats(srv, name):
    st = json.loads(adm_ok(srv, "--json", "stats", "--site", name).out)["stats"]
    assert len(st) == 1, st
    return st[0]["counters"]


def test_changed_names_and_directory_order_again(env):
    """docs/certificates.md: an added host name starts a new order; a site moved to another
    directory (staging to production) is ordered again though its certificate is valid."""
    srv = env.srv
    other = Pebble(os.path.join(env.base, "pebble-other"), env.hp, env.tp).start()
    try:
        with acme_site(env, "move", env.pebble) as key:
            wait_issued(srv, key)
            adm_ok(srv, "set", key, 'host_names=["move.test","www.move.test"]')
            c = wait_issued(srv, key, orders=2, timeout=10)
            assert sorted(c["certificate"]["names"]) == ["move.test", "www.move.test"], c
            p = curl_https(env.tp, "www.move.test", env.root)
            assert p.returncode == 0 and p.stdout == tree.INDEX_HTML, p.err

            adm_ok(srv, "set", key, f"acme_directory={other.directory}",
                   f"acme_ca_certificate={other.ca_file}")
            c = wait_issued(srv, key, orders=3, timeout=10)
            assert c["acme"]["directory"] == other.directory, c
            other_root = other.root_file()
            served_cert(env.tp, "www.move.test", cafile=other_root)   # verifies
            with pytest.raises(ssl.SSLCertVerificationError):
                served_cert(env.tp, "move.test", cafile=env.root)
            with open(os.path.join(srv.state_dir, "tls", "acme", "www-move.directory")) as f:
                assert f.read().strip() == other.directory
            assert mode(account_key(srv, other.directory)) == 0o600
            st = site_stats(srv, "move")
            assert st["certificates_issued"] == 3 and st["certificate_failures"] == 0, st
    finally:
        other.stop()
    assert_healthy(env)


def test_refused_renewal_keeps_the_certificate(env):
    srv = env.srv
    gone = Pebble(os.path.join(env.base, "pebble-gone"), env.hp, env.tp).start()
    try:
        root = gone.root_file()
        with acme_site(env, "gone", gone) as key:
            c1 = wait_issued(srv, key)
            s1 = serial_of(served_cert(env.tp, "gone.test", cafile=root))
            gone.stop()                          # the CA is unreachable from now on
            p = adm(srv, "cert", "renew", "gone", "--wait")
            assert p.returncode == 1 and f"{key}: renewal failed: " in p.err, (p.out, p.err)
            assert gone.directory in p.err, p.err
            c = certs(srv)[key]
            a = c["acme"]
            assert a["status"] == "failing" and a["failures"] == 1 and a["orders"] == 1, a
            assert a["warning"].startswith("renewal failing (1 attempt), the certificate expires "
                                           "in "), a
            assert re.search(rf"acme: {key}: renewal failed \(attempt 1\): .*; the current "
                             rf"certificate expires at {c1['certificate']['not_after']}; next "
                             r"attempt in 10 s", srv.error_log()), log_tail(srv, key)
            # It keeps serving the CA's certificate, which still verifies.
            assert c["source"] == "acme", c
            assert serial_of(served_cert(env.tp, "gone.test", cafile=root)) == s1
            assert any("renewal failing" in w for w in warnings_of(adm_ok(srv, "status").out, key))
            out = adm_ok(srv, "cert", "list").out
            assert row_of(out, key)[1] == "acme" and row_of(out, key)[3] == "failing", out
            assert warnings_of(out, key), out
            st = site_stats(srv, "gone")
            assert st["certificates_issued"] == 1 and st["certificate_failures"] == 1, st
    finally:
        gone.stop()
    assert_healthy(env)


# -- 4c (second half). The retry after the rate limit ------------------------------------

def test_rate_limit_retry_waits_for_retry_after(env, rate_limited):
    srv = env.srv
    stub, key, _first = rate_limited
    posts = wait_until(lambda: len(stub.post_times()) >= 2 and stub.post_times(),
                       RETRY_AFTER + 10, "the retry after the rate limit",
                       lambda: log_tail(srv, key))
    gap = posts[1] - posts[0]
    # The server's clock has whole seconds: at least Retry-After - 1 s, and not much more.
    assert RETRY_AFTER - 1 <= gap <= RETRY_AFTER + 5, f"retried after {gap:.1f} s"
    c = wait_failing(srv, key, failures=2, timeout=10)
    a = c["acme"]
    assert "rateLimited" in a["last_error"] and c["source"] == "placeholder", c
    # The next wait is the doubled backoff (20 s), longer than Retry-After.
    assert iso(a["next_attempt"]) - iso(a["last_error_at"]) >= 20, a
    assert re.search(rf"acme: {key}: order failed \(attempt 2\): .*rateLimited", srv.error_log())
    assert len(stub.post_times()) == 2, stub.requests
    assert_healthy(env)


# -- 5. a restart reuses the certificate and the account ---------------------------------

def test_restart_reuses_certificate_and_account(admin_server, tmp_path):
    srv = admin_server()
    tp = free_port()
    pebble = Pebble(str(tmp_path / "pebble"), srv.port, tp).start()
    try:
        root = pebble.root_file()
        key = "/www/sites/default"
        adm_ok(srv, "set", key, f'bindings=["127.0.0.1:{srv.port}","https://127.0.0.1:{tp}"]',
               'host_names=["shop.test"]', "tls_acme=on", f"acme_directory={pebble.directory}",
               f"acme_ca_certificate={pebble.ca_file}", 'acme_challenges=["http-01"]')
        c1 = wait_issued(srv, key)
        s1 = serial_of(served_cert(tp, "shop.test", cafile=root))
        acme_dir = os.path.join(srv.state_dir, "tls", "acme")
        accounts = [f for f in os.listdir(acme_dir) if f.startswith("account-")]
        assert len(accounts) == 1, os.listdir(acme_dir)
        account = os.path.join(acme_dir, accounts[0])
        with open(account, "rb") as f:
            account_pem = f.read()
        assert pebble.log().count("Added order") == 1

        srv.stop()
        srv.restart()
        # Served from the first handshake on: the same certificate, no placeholder.
        assert serial_of(served_cert(tp, "shop.test", cafile=root)) == s1
        p = curl_https(tp, "shop.test", root)
        assert p.returncode == 0 and p.stdout == tree.INDEX_HTML, p.err
        # The ACME thread decided: valid, next attempt at the renewal time, no order.
        c = wait_acme(srv, key, 10, "the restarted daemon's ACME record",
                      lambda c: c["acme"]["status"] == "valid")
        assert c["source"] == "acme" and c["acme"]["orders"] == 0, c
        assert c["acme"]["next_attempt"] == c["acme"]["renew_at"] == c1["acme"]["renew_at"], c
        assert c["certificate"]["not_after"] == c1["certificate"]["not_after"], c
        assert pebble.log().count("Added order") == 1, "the restarted daemon ordered again"
        assert srv.error_log().count(f"acme: {key}: ordering a certificate") == 1
        with open(account, "rb") as f:
            assert f.read() == account_pem, "the account key changed"
        assert mode(account) == 0o600 and os.listdir(acme_dir).count(accounts[0]) == 1

        # A renewal now uses the same account at the CA (no new account is created).
        p = adm_ok(srv, "cert", "renew", "default", "--wait")
        assert f"{key}: renewed" in p.out, p.out
        assert serial_of(served_cert(tp, "shop.test", cafile=root)) != s1
        assert pebble.log().count("Added order") == 2
        assert srv.error_log().count("the CA created account") == 1, log_tail(srv, key)
        assert "There are now 2 accounts" not in pebble.log()
        health_check(srv.port)
    finally:
        pebble.stop()


# -- a restart keeps a failing site's next attempt ------------------------------------

def test_restart_keeps_the_backoff(admin_server, tmp_path):
    """A daemon restarted while its CA rate-limits it does not ask again before the time
    the CA gave (a server restarted in a loop must not hammer the CA)."""
    srv = admin_server()
    tp = free_port()
    stub = AcmeStub(str(tmp_path / "stub"), retry_after=30).start()
    try:
        key = "/www/sites/default"
        adm_ok(srv, "set", key, f'bindings=["127.0.0.1:{srv.port}","https://127.0.0.1:{tp}"]',
               'host_names=["shop.test"]', "tls_acme=on", f"acme_directory={stub.directory}",
               f"acme_ca_certificate={stub.ca_file}")
        first = wait_failing(srv, key, 1, timeout=15)["acme"]
        assert len(stub.post_times()) == 1, stub.requests
        retry = os.path.join(srv.state_dir, "tls", "acme", "www-default.retry")
        assert os.path.exists(retry), os.listdir(os.path.dirname(retry))

        srv.stop()
        srv.restart()
        c = wait_acme(srv, key, 10, "the restarted daemon's ACME record",
                      lambda c: c["acme"]["failures"] == 1)
        assert c["acme"]["status"] == "failing" and c["source"] == "placeholder", c
        assert c["acme"]["next_attempt"] == first["next_attempt"], (first, c["acme"])
        assert "warning" in c["acme"], c
        # Give a forgetful server the time to ask: it must not.
        time.sleep(1.5)
        assert len(stub.post_times()) == 1, f"asked the CA again after the restart: {stub.requests}"
        health_check(srv.port)
    finally:
        stub.stop()
