"""The compatibility suite's console column: this tree's web console against
a release's server.

A release's server serves its own console (or none, before 0.9.0), so the
console of this tree reaches it the way a newer console reaches any older
server: through one origin that serves this tree's web/ and forwards /api
and /metrics to the server's HTTPS admin listener (ConsoleProxy, rewriting
Origin to the server's own so that its same-origin rule holds). Headless
Debian Chromium (python3-selenium, chromium-driver) logs in with the admin
token and goes through the views; where the server lacks a capability the
console must say so (its banner names what the server cannot do) and keep
working, which counts as refused-capability; anything else that goes wrong
is a FAIL.

Rows: console login, console overview, console banner, console sheet,
console stop/start, console sessions, console statistics, console history,
console errors.
"""

import http.client
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WEB = os.path.join(REPO, "web")
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import browser  # noqa: E402  (tests/e2e/browser.py: the console tests' Chromium)
ROWS = ["console login", "console overview", "console banner", "console sheet",
        "console stop/start", "console sessions", "console statistics", "console history",
        "console errors"]
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".ico": "image/x-icon",
         ".png": "image/png", ".json": "application/json"}
PASS_HEADERS = ("authorization", "content-type", "if-match", "x-csrf-token", "cookie",
                "last-event-id", "accept")


class ConsoleProxy:
    """HTTPS on a free 127.0.0.1 port: this tree's web/ and the server's API."""

    def __init__(self, tmp, admin_port):
        self.admin_port = admin_port
        crt, key = os.path.join(tmp, "proxy.crt"), os.path.join(tmp, "proxy.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
                        "-days", "2", "-keyout", key, "-out", crt],
                       check=True, capture_output=True, timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_any(self):
                path = self.path.split("?", 1)[0]
                if path == "/api" or path.startswith("/api/") or path == "/metrics":
                    proxy.forward(self)
                else:
                    proxy.serve_file(self, path)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve_file(self, h, path):
        rel = "index.html" if path in ("", "/") else path.lstrip("/")
        full = os.path.realpath(os.path.join(WEB, rel))
        if not full.startswith(os.path.realpath(WEB) + os.sep) or not os.path.isfile(full):
            body, status, ctype = b"not found\n", 404, "text/plain"
        else:
            with open(full, "rb") as f:
                body = f.read()
            status, ctype = 200, TYPES.get(os.path.splitext(full)[1], "application/octet-stream")
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def forward(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else None
        hdrs = {k: v for k, v in h.headers.items() if k.lower() in PASS_HEADERS}
        hdrs["Host"] = "127.0.0.1:%d" % self.admin_port
        origin = h.headers.get("Origin")
        if origin is not None:  # this origin stands for the server's; any other stays foreign
            hdrs["Origin"] = ("https://127.0.0.1:%d" % self.admin_port
                              if origin == "https://127.0.0.1:%d" % self.port else origin)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        events = h.path.split("?", 1)[0] == "/api/v1/events"  # held open: no timeout
        up = http.client.HTTPSConnection("127.0.0.1", self.admin_port,
                                         timeout=None if events else 30, context=ctx)
        try:
            up.request(h.command, h.path, body=body, headers=hdrs)
            r = up.getresponse()
            stream = (r.getheader("Content-Type") or "").startswith("text/event-stream")
            h.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("connection", "transfer-encoding", "keep-alive", "server",
                                     "date"):
                    h.send_header(k, v)
            if stream:
                h.send_header("Connection", "close")
                h.end_headers()
                h.close_connection = True
                while True:
                    chunk = r.read1(65536)
                    if not chunk:
                        break
                    h.wfile.write(chunk)
                    h.wfile.flush()
            else:
                data = r.read()
                h.end_headers()
                if h.command != "HEAD":
                    h.wfile.write(data)
        except (OSError, http.client.HTTPException):
            h.close_connection = True
        finally:
            up.close()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Console:
    """One headless Chromium on the proxy's origin (tests/e2e/browser.py's)."""

    def __init__(self):
        self.d = browser.start()

    def wait(self, what, cond, timeout=10.0):
        return browser.wait_for(what, cond, timeout=timeout, interval=0.1)

    def css(self, sel):
        return browser.css(self.d, sel)

    def text(self, sel):
        els = self.css(sel)
        return els[0].text if els else ""

    def go(self, hash_):
        self.d.execute_script("location.hash = arguments[0]", hash_)

    def severe(self):
        return browser.severe(browser.console_log(self.d))

    def close(self):
        try:
            self.d.quit()
        except Exception:  # noqa: BLE001
            pass


def run_console(daemon, tmp, api_call, expect, Fail, Refused):
    """The console rows against DAEMON (started): {row: (cell, detail)}."""
    results = {}
    why = browser.missing()
    if why:
        return {r: ("skipped", why) for r in ROWS}
    os.makedirs(tmp, exist_ok=True)
    caps = daemon.caps
    proxy = console = None

    def step(name, fn):
        try:
            fn()
            results[name] = ("ok", None)
        except Refused as e:
            results[name] = (e.kind, str(e))
        except (AssertionError, Fail) as e:
            results[name] = ("FAIL", str(e))
        except Exception as e:  # noqa: BLE001 - a browser or proxy failure is a FAIL
            results[name] = ("FAIL", "%s: %s" % (type(e).__name__, e))

    try:
        proxy = ConsoleProxy(tmp, daemon.admin)
        console = Console()
        c = console
        base = "https://127.0.0.1:%d/" % proxy.port

        def login():
            c.d.get(base)
            tok = c.wait("the login form", lambda: [e for e in c.css("#token") if e.is_displayed()])
            tok[0].send_keys(daemon.token)
            c.css("#login-button")[0].click()
            c.wait("the overview after login", lambda: "www" in c.text("#view")
                   and c.css("#logout")[0].is_displayed())

        def overview():
            c.wait("the server's version in the header",
                   lambda: daemon.version in c.text("#server-info"))
            expect("default" in c.text("#view"), "the overview does not list the default site")

        def banner():
            lacking = [cap for cap in ("console", "schema", "events") if cap not in caps]
            b = c.css("#banner")[0]
            if not lacking:
                expect(not b.is_displayed(), "a banner on a server with every capability: "
                       + b.text)
                return
            c.wait("the banner naming what the server cannot do", lambda: b.is_displayed()
                   and ("version %s" % daemon.version) in b.text and "cannot" in b.text)
            raise Refused("refused-capability", "the console says the server (%s) lacks %s"
                          % (daemon.version, ", ".join(lacking)))

        def sheet():
            c.go("#/properties/www/sites/default/root")
            c.wait("the property sheet of /www/sites/default/root",
                   lambda: "default_documents" in c.text("#view"))
            if "schema" in caps:
                c.wait("typed inputs on the sheet", lambda: c.css("#view textarea, #view input"))
                return
            text = c.text("#view")
            expect("schema" in text or "read-only" in text or "cannot" in text,
                   "a server without the schema, but the sheet does not say why it is "
                   "read-only: " + text[:300])
            raise Refused("refused-capability", "property sheets read-only: no schema")

        def stop_start():
            if "services" not in caps:
                raise Refused("refused-capability", "no services capability")
            c.go("#/overview")
            sel = '#view button[data-action="%s"][data-site="default"][data-service="www"]'
            for action, want in (("stop", "stopped"), ("start", "started")):
                def press():  # the view redraws on live events: find the button again
                    b = c.css(sel % action)[0]
                    c.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", b)
                    b.click()
                    return True
                c.wait("a %s button for the default site to press" % action, press)
                if action == "stop":  # destructive: the console asks first
                    ok = c.wait("the confirmation dialog", lambda: c.css("dialog[open] #confirm-ok"))
                    ok[0].click()

                def state():
                    st, doc = api_call(daemon.sock, "GET", "/api/v1/services")
                    sites = [s for svc in doc["services"] if svc["name"] == "www"
                             for s in svc["sites"]]
                    return sites and sites[0]["state"] == want
                c.wait("the default site %s (seen through the API)" % want, state)

        def sessions():
            c.go("#/sessions")
            c.wait("the sessions view", lambda: "Session" in c.text("#view")
                   or "session" in c.text("#view"))

        def statistics():
            c.go("#/statistics")
            c.wait("the statistics view with counters", lambda: "total_requests" in
                   c.text("#view") or "requests" in c.text("#view").lower())

        def history():
            c.go("#/history")
            c.wait("the revision history", lambda: "compat" in c.text("#view").lower()
                   or "revision" in c.text("#view").lower())

        def errors():
            bad = [e for e in c.severe() if "favicon" not in e.get("message", "")]
            expect(not bad, "console errors in the browser: %s" % bad[:3])

        for name, fn in zip(ROWS, (login, overview, banner, sheet, stop_start, sessions,
                                   statistics, history, errors)):
            if name != "console login" and results.get("console login", ("",))[0] != "ok":
                results[name] = ("skipped", "the console could not log in")
                continue
            step(name, fn)
    except Exception as e:  # noqa: BLE001 - no browser, no proxy: every row fails alike
        for r in ROWS:
            results.setdefault(r, ("FAIL", "%s: %s" % (type(e).__name__, e)))
    finally:
        if console is not None:
            console.close()
        if proxy is not None:
            proxy.close()
    return results
