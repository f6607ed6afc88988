"""End-to-end tests of the FTP service (RFC 959, 1123, 2228, 2389, 2428,
3659, 4217) with real clients: a raw-socket client that checks the exact
reply bytes, Python's ftplib (FTP, and FTP_TLS with data connections that
resume the control connection's TLS session, as the server requires),
curl and lftp.

One daemon (--http and --ftp, so both default sites are seeded) serves the
module from a known tree, with /up a writable virtual directory; tests that
change its configuration put it back before they end. Named users run on a
second, FTP-only daemon. Stopping the service, the idle timeout, the block
after failed logins and the cases that have crashed the daemon (a large
listing, clients killed mid-transfer) run on daemons of their own, so that
they cannot take the others down."""

import ftplib
import glob
import hashlib
import io
import json
import os
import random
import re
import socket
import ssl
import stat
import struct
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import (AdminServer, adm, adm_input, adm_ok, assert_no_sanitizer_report, infoadm_path,
                      sanitizer_env, serving, client_ctx)
from rawhttp import SockClient, wait_for

# -- the tree ------------------------------------------------------------------

FIXED_MTIME = 1591012800  # 2020-06-01 12:00:00 UTC
FIXED_STAMP = "20200601120000"
SECRET = b"TOP-SECRET-ftp-5e1f-do-not-serve\n"
SECRET_MTIME = 1000000000  # 2001-09-09 01:46:40 UTC: shows if the outside file's metadata leaks

HELLO = b"Hello, FTP world!\n"
INNER = b"inner file\n"
TEXT = b"alpha\nbeta\r\ngamma\rdelta\n\nlast line without a newline"
WWW_INDEX = b"<p>www</p>\n"
ALICE = b"alice's own file\n"


def _text_big():
    """About 100 KB of LF text with a CRLF straddling the server's 32 KiB conversion pieces."""
    rnd = random.Random(959)
    out = bytearray()
    n = 0
    while len(out) < 100000:
        out += f"text line {n} {'x' * rnd.randrange(0, 90)}\n".encode()
        n += 1
    out[32767:32769] = b"\r\n"  # CR ends the first piece, LF starts the second
    out[65535] = ord("\n")
    return bytes(out)


TEXT_BIG = _text_big()
BLOB = random.Random(2428).randbytes(256 * 1024)
BIG = random.Random(3659).randbytes(16 * 1024 * 1024)
HUGE_SIZE = 100 * 1000 * 1000

GREETING = b"220 infosrv FTP service ready.\r\n"
NOT_LOGGED_IN = b"530 Log in with USER and PASS first.\r\n"
OUTSIDE = "outside the site's directories"
FEAT_COMMON = (b"211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n MLST type*;size*;modify*;perm*;\r\n"
               b" PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n")
FEAT_TLS = FEAT_COMMON + b" AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n"
FEAT_PLAIN = FEAT_COMMON + b"211 End\r\n"
HELP = (b"214-The following commands are recognized:\r\n"
        b" ABOR ALLO APPE AUTH CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM MKD\r\n"
        b" MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD  QUIT REST\r\n"
        b" RETR RMD  RNFR RNTO SIZE STAT STOR STOU STRU SYST TYPE USER XCUP XCWD\r\n"
        b" XMKD XPWD XRMD\r\n214 Help OK.\r\n")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
NL = b"\n"
TEMP_RE = re.compile(r"^\.in\.infosrv-[0-9a-f]{12}$")


def _write(path, data, mtime=FIXED_MTIME):
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def build_tree(base):
    """root/ (the FTP root), up/ (the writable /up), outside/ (never served), wwwroot/."""
    root = os.path.join(base, "froot")
    up = os.path.join(base, "updir")
    outside = os.path.join(base, "outside")
    www = os.path.join(base, "wwwroot")
    for d in (root, up, outside, www):
        os.makedirs(d)
    _write(os.path.join(www, "index.html"), WWW_INDEX)
    _write(os.path.join(outside, "secret.txt"), SECRET, mtime=SECRET_MTIME)
    for name, data in (("hello.txt", HELLO), ("blob.bin", BLOB), ("text.txt", TEXT),
                       ("textbig.txt", TEXT_BIG), ("empty.txt", b""), ("big.bin", BIG),
                       (".hidden", b"dotfile\n")):
        _write(os.path.join(root, name), data)
    # A symbolic link in the root leading outside.
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "escape.txt"))
    sub = os.path.join(root, "sub")
    os.makedirs(os.path.join(sub, "deeper"))
    _write(os.path.join(sub, "inner.txt"), INNER)
    _write(os.path.join(sub, "with space.txt"), b"spaces in the name\n")
    _write(os.path.join(sub, "recent.txt"), b"recent\n", mtime=int(time.time()) - 7200)
    _write(os.path.join(sub, ".dotfile"), b"hidden\n")
    _write(os.path.join(sub, "deeper", "deep.txt"), b"deep file\n")
    os.utime(os.path.join(sub, "deeper"), (FIXED_MTIME, FIXED_MTIME))
    os.utime(sub, (FIXED_MTIME, FIXED_MTIME))
    os.makedirs(os.path.join(root, 'q"dir'))
    links = os.path.join(root, "links")
    os.makedirs(links)
    os.symlink("../hello.txt", os.path.join(links, "in.txt"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(links, "out.txt"))
    os.symlink("../../outside/secret.txt", os.path.join(links, "rel-out.txt"))
    os.symlink(outside, os.path.join(links, "outdir"))
    os.makedirs(os.path.join(root, "huge"))
    # In the writable directory: links leading outside, and someone else's file.
    os.symlink(outside, os.path.join(up, "outlink"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(up, "outfile"))
    _write(os.path.join(up, "others.txt"), b"not for bob\n")
    return {"root": root, "up": up, "outside": outside, "www": www}


def to_crlf(data):
    """TYPE A on the wire: every LF not already after a CR becomes CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def time14(t):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


def unix_line(name, st, now):
    """The LIST line of the UNIX style (ls -l, times in UTC)."""
    t = time.gmtime(st.st_mtime)
    recent = now - 183 * 86400 <= st.st_mtime <= now + 3600
    when = f"{t.tm_hour:02d}:{t.tm_min:02d}" if recent else f"{t.tm_year:5d}"
    return (f"{stat.filemode(st.st_mode)} {st.st_nlink:3d} ftp      ftp      {st.st_size:12d} "
            f"{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {when} {name}\r\n").encode()


def msdos_line(name, st):
    """The LIST line of the MS-DOS style of IIS: the size ends at column 37, the name at 39."""
    t = time.gmtime(st.st_mtime)
    hour = t.tm_hour % 12 or 12
    head = (f"{t.tm_mon:02d}-{t.tm_mday:02d}-{t.tm_year % 100:02d}  {hour:02d}:{t.tm_min:02d}"
            f"{'AM' if t.tm_hour < 12 else 'PM'}")
    if stat.S_ISDIR(st.st_mode):
        return f"{head}       <DIR>          {name}\r\n".encode()
    return f"{head} {st.st_size:20d} {name}\r\n".encode()


def mlsx_facts(st, write=False):
    if stat.S_ISDIR(st.st_mode):
        return f"type=dir;modify={time14(st.st_mtime)};perm={'cdeflmp' if write else 'el'};"
    return (f"type=file;size={st.st_size};modify={time14(st.st_mtime)};"
            f"perm={'adfrw' if write else 'r'};")


def listed_names(directory):
    """What a listing of DIRECTORY shows: sorted by byte value, dotfiles left out."""
    return sorted((n for n in os.listdir(directory) if not n.startswith(".")),
                  key=lambda n: n.encode())


# -- a raw FTP client ------------------------------------------------------------


def code(reply):
    return int(reply[:3])


class Ctl(SockClient):
    """One control connection that reads whole replies (multi-line ones
    included) as the exact bytes received, and counts every byte moved on it
    and on its data connections."""

    def __init__(self, port, timeout=10.0, implicit_tls=False, greet=True):
        self.port = port
        self.timeout = timeout
        self.ctx = client_ctx()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local_port = self.sock.getsockname()[1]
        self.buf = bytearray()
        self.sent = self.received = self.data_sent = self.data_received = 0
        self.prot_p = False
        if implicit_tls:
            self.sock = self.ctx.wrap_socket(self.sock)
        self.greeting = self.reply() if greet else None

    @property
    def client(self):
        return f"127.0.0.1:{self.local_port}"

    def send(self, data):
        self.sock.sendall(data)
        self.sent += len(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no complete reply within the deadline; got {bytes(self.buf)!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"no complete reply within the deadline; got {bytes(self.buf)!r}")
        if not chunk:
            raise EOFError(f"the server closed the control connection; pending {bytes(self.buf)!r}")
        self.received += len(chunk)
        self.buf += chunk

    def _line(self, deadline):
        while b"\n" not in self.buf:
            self._fill(deadline)
        i = self.buf.index(b"\n") + 1
        line = bytes(self.buf[:i])
        del self.buf[:i]
        return line

    def reply(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        raw = self._line(deadline)
        assert re.match(rb"^\d{3}[ -]", raw), f"not an FTP reply line: {raw!r}"
        if raw[3:4] == b"-":
            end = raw[:3] + b" "
            while True:
                line = self._line(deadline)
                raw += line
                if line.startswith(end):
                    break
        return raw

    def cmd(self, line, timeout=None):
        self.send((line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line)
                  + b"\r\n")
        return self.reply(timeout)

    def login(self, user="anonymous", password="e2e@example.org"):
        r = self.cmd(f"USER {user}")
        assert r.startswith(b"331 "), r
        r = self.cmd(f"PASS {password}")
        assert code(r) == 230, r
        return r

    def starttls(self):
        r = self.cmd("AUTH TLS")
        assert r == b"234 AUTH TLS successful; start the TLS handshake.\r\n", r
        assert not self.buf
        self.sock = self.ctx.wrap_socket(self.sock)

    def protect(self):
        assert self.cmd("PBSZ 0") == b"200 PBSZ=0\r\n"
        assert self.cmd("PROT P") == b"200 Data connections will be encrypted.\r\n"
        self.prot_p = True

    def epsv(self, rcvbuf=None, source=None):
        """EPSV and a connected data socket."""
        r = self.cmd("EPSV")
        m = re.match(rb"^229 Entering Extended Passive Mode \(\|\|\|(\d+)\|\)\.\r\n$", r)
        assert m, r
        d = socket.socket()
        if rcvbuf:
            d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:
            d.bind((source, 0))
        d.settimeout(self.timeout)
        d.connect(("127.0.0.1", int(m.group(1))))
        return d

    def secure(self, d):
        """The data connection, with TLS resuming the control session when PROT P is on."""
        if not self.prot_p:
            return d
        return self.ctx.wrap_socket(d, session=self.sock.session)

    def expect_close(self, timeout=5.0):
        """Read to the server's close; what came before it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
            except EOFError:
                rest = bytes(self.buf)
                self.buf.clear()
                return rest
            except (ConnectionResetError, ssl.SSLError):
                return bytes(self.buf)

    def quit(self):
        r = self.cmd("QUIT")
        assert r.endswith(b"221 Goodbye.\r\n"), r
        assert self.expect_close() == b""
        self.close()
        return r



def read_all(sock, timeout=60.0, what="the data connection"):
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{what}: no close within {timeout}s ({len(buf)} bytes)")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
    sock.close()
    return bytes(buf)


def retr(c, path, typ="I", rest=None):
    """RETR PATH on a passive connection: (data, the 150 reply, the final reply)."""
    assert c.cmd(f"TYPE {typ}") == f"200 Type set to {typ}.\r\n".encode()
    d = c.epsv()
    if rest is not None:
        assert c.cmd(f"REST {rest}").startswith(b"350 ")
    r150 = c.cmd(f"RETR {path}")
    assert r150.startswith(b"150 "), r150
    data = read_all(c.secure(d))
    c.data_received += len(data)
    return data, r150, c.reply()


def stor(c, path, payload, verb="STOR", typ="I", rest=None):
    """VERB PATH with PAYLOAD on a passive connection: (the 150 reply, the final reply)."""
    assert c.cmd(f"TYPE {typ}") == f"200 Type set to {typ}.\r\n".encode()
    d = c.epsv()
    if rest is not None:
        assert c.cmd(f"REST {rest}").startswith(b"350 ")
    r150 = c.cmd(f"{verb} {path}" if path else verb)
    assert r150.startswith(b"150 "), r150
    d = c.secure(d)
    d.sendall(payload)
    c.data_sent += len(payload)
    if isinstance(d, ssl.SSLSocket):
        d = d.unwrap()
    d.close()
    return r150, c.reply()


def listing(c, verb, path=None):
    d = c.epsv()
    r150 = c.cmd(f"{verb} {path}" if path else verb)
    assert r150 == b"150 Here comes the directory listing.\r\n", r150
    data = read_all(c.secure(d))
    c.data_received += len(data)
    assert c.reply() == b"226 Transfer complete.\r\n"
    return data


def exchange(port, *lines, login=True):
    """A fresh session: log in, send LINES, QUIT; the replies."""
    with Ctl(port) as c:
        if login:
            c.login()
        out = [c.cmd(line) for line in lines]
        c.quit()
    return out


def settled(probe, n=4):
    """PROBE holds on N fresh connections in a row: every worker runs the new generation."""
    return all(probe() for _ in range(n))


def greeting_of(port):
    with Ctl(port) as c:
        return c.greeting


def assert_healthy(port):
    """A fresh session still logs in and downloads hello.txt, byte-exact."""
    with Ctl(port) as c:
        assert c.greeting.endswith(GREETING), c.greeting
        c.login()
        data, r150, r226 = retr(c, "/hello.txt")
        assert data == HELLO and r226 == b"226 Transfer complete.\r\n", (data, r226)
        c.quit()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def free_port(avoid=()):
    while True:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        finally:
            s.close()
        if p not in avoid:
            return p


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return h.hexdigest()
            h.update(chunk)


def temp_files(directory):
    return [n for n in os.listdir(directory) if TEMP_RE.match(n)]


# -- ftplib ------------------------------------------------------------------------

class ReuseFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS
    session (RFC 4217 section 10.2): the server refuses the others with 522."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


class ImplicitFTPS(ReuseFTP_TLS):
    """FTPS on a port that speaks TLS from the first byte (ftps://)."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host, self.port = host, port
        if timeout != -999:
            self.timeout = timeout
        raw = socket.create_connection((host, port), self.timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def ftp_plain(port, user="anonymous", password="e2e@example.org"):
    f = ftplib.FTP()
    f.connect("127.0.0.1", port, timeout=30)
    f.login(user, password)
    return f


def ftp_tls(port, user="anonymous", password="e2e@example.org", cls=ReuseFTP_TLS):
    f = cls(context=client_ctx(), timeout=30)
    f.connect("127.0.0.1", port)
    f.auth()
    f.login(user, password)
    f.prot_p()
    return f


def fetch(f, path, blocksize=1 << 16):
    buf = io.BytesIO()
    r = f.retrbinary(f"RETR {path}", buf.write, blocksize=blocksize)
    assert r == "226 Transfer complete.", r
    return buf.getvalue()


# -- curl and lftp ---------------------------------------------------------------------

def curl(*args, timeout=90):
    p = subprocess.run(["curl", "-sS", "--max-time", "80"] + list(args), capture_output=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    p.err = p.stderr.decode("utf-8", "replace")
    return p


LFTP = "/usr/bin/lftp"


def lftp(port, commands, home, tls=True, passive=True, user="anonymous",
         password="e2e@example.org", timeout=60):
    """Run lftp non-interactively: COMMANDS (a list) after the settings and the open."""
    if not os.access(LFTP, os.X_OK):
        pytest.skip(f"lftp is not installed at {LFTP}")
    settings = ["set cmd:fail-exit yes", "set net:max-retries 1", "set net:timeout 15",
                "set net:reconnect-interval-base 1", "set xfer:clobber on",
                f"set ftp:passive-mode {'true' if passive else 'false'}"]
    if not tls:
        settings += ["set ftp:ssl-allow false"]
    else:
        settings += ["set ftp:ssl-force true", "set ftp:ssl-protect-data true",
                     "set ftp:ssl-protect-list true", "set ssl:verify-certificate no"]
    script = "; ".join(settings + [f"open -u {user},{password} -p {port} 127.0.0.1"]
                       + list(commands) + ["bye"])
    p = subprocess.run([LFTP, "-e", script], capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, HOME=str(home)))
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    return p


# -- daemon helpers ---------------------------------------------------------------------

def fport(srv, tls=False):
    ports = [int(e["port"]) for e in srv.listeners["listeners"]
             if e.get("service") == "ftp" and bool(e.get("tls")) == tls]
    assert len(ports) == 1, f"ftp listeners (tls={tls}) in listeners.json: {srv.listeners!r}"
    return ports[0]


def ftp_stats(srv):
    p = adm_ok(srv, "--json", "stats", "--service", "ftp")
    entries = [e for e in json.loads(p.out)["stats"] if e["site"] == "default"]
    assert len(entries) == 1, p.out
    return entries[0]["counters"]


def ftp_sessions(srv):
    p = adm_ok(srv, "--json", "sessions", "--service", "ftp")
    return json.loads(p.out)["sessions"]


def session_of(srv, c):
    found = [s for s in ftp_sessions(srv) if s.get("client") == c.client]
    return found[0] if found else None


def site_set(srv, *assignments):
    adm_ok(srv, "set", "/ftp/sites/default", *assignments)


def site_unset(srv, *names):
    adm_ok(srv, "unset", "/ftp/sites/default", *names)


def ftp_log_records(srv):
    records = []
    for path in sorted(glob.glob(os.path.join(srv.state_dir, "logs", "ftp", "default", "*.log"))):
        names = None
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f.read().splitlines():
                if line.startswith("#Fields:"):
                    names = line[len("#Fields:"):].split()
                elif line and not line.startswith("#"):
                    assert names, f"{path}: data line before #Fields: {line!r}"
                    values = line.split(" ")
                    assert len(values) == len(names), \
                        f"{path}: {len(values)} values for {len(names)} fields: {line!r}"
                    records.append(dict(zip(names, values)))
    return records


def ftp_logs_text(srv):
    text = ""
    for path in glob.glob(os.path.join(srv.state_dir, "logs", "**", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                text += f.read()
    return text


# -- fixtures ------------------------------------------------------------------------------

def _mlst(port, path):
    try:
        return exchange(port, f"MLST {path}")[0]
    except (OSError, AssertionError, EOFError):
        return b""


@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin, infoadm_bin):
    base = str(tmp_path_factory.mktemp("ftp"))
    dirs = build_tree(base)
    s = AdminServer(base, dirs["www"], ["--ftp", "127.0.0.1:0", "--ftp-root", dirs["root"]])
    s.dirs = dirs
    s.start()

    def setup(s):
        s.fport = fport(s)
        adm_ok(s, "vdir", "add", "default", "/up", dirs["up"], "--write", "--service", "ftp")
        wait_for(lambda: b"perm=cdeflmp;" in _mlst(s.fport, "/up"), timeout=10, interval=0.1,
                 what="/up to become writable")

    yield from serving(s, setup)


@pytest.fixture(scope="module")
def huge(srv):
    """A 100 MB file of random bytes at /huge/huge.bin, and its sha256."""
    path = os.path.join(srv.dirs["root"], "huge", "huge.bin")
    rnd = random.Random(4217)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = HUGE_SIZE
        while left:
            chunk = rnd.randbytes(min(left, 1 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return path, h.hexdigest()


@pytest.fixture(scope="module")
def usrv(tmp_path_factory, infosrv_bin, infoadm_bin):
    """An FTP-only daemon for named users: /home/alice read-only, /up writable (bob's home is /up/bob)."""
    base = str(tmp_path_factory.mktemp("ftpusers"))
    root = os.path.join(base, "froot")
    up = os.path.join(base, "updir")
    outside = os.path.join(base, "outside")
    for d in (os.path.join(root, "home", "alice"), os.path.join(up, "bob"), outside):
        os.makedirs(d)
    _write(os.path.join(root, "hello.txt"), HELLO)
    _write(os.path.join(root, "home", "alice", "alice.txt"), ALICE)
    _write(os.path.join(up, "others.txt"), b"not for bob\n")
    _write(os.path.join(outside, "secret.txt"), SECRET, mtime=SECRET_MTIME)
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(up, "bob", "link-out.txt"))
    state = os.path.join(base, "state")
    args = ["--state-dir", state, "--admin", "127.0.0.1:0", "--workers", "2",
            "--ftp", "127.0.0.1:0", "--ftp-root", root]
    s = AdminServer(base, root, base_args=args, state_dir=state)
    s.dirs = {"root": root, "up": up, "outside": outside}
    s.start()

    def setup(s):
        s.fport = fport(s)
        adm_ok(s, "vdir", "add", "default", "/up", up, "--write", "--service", "ftp")
        wait_for(lambda: b"perm=cdeflmp;" in _mlst(s.fport, "/up"), timeout=10, interval=0.1,
                 what="/up to become writable")

    yield from serving(s, setup)


@pytest.fixture
def solo(admin_server, tmp_path):
    """Factory: an FTP-only daemon of its own on a small root (hello.txt,
    big.bin, and many/ with MANY entries when asked); /up writable."""
    count = [0]

    def factory(workers=2, many=0):
        count[0] += 1
        root = tmp_path / f"froot{count[0]}"
        up = tmp_path / f"updir{count[0]}"
        root.mkdir()
        up.mkdir()
        _write(str(root / "hello.txt"), HELLO)
        _write(str(root / "big.bin"), BIG)
        if many:
            (root / "many").mkdir()
            names = [f"entry-{i:05d}.txt" for i in range(many)]
            random.Random(5).shuffle(names)
            for name in names:
                with open(root / "many" / name, "wb") as f:
                    f.write(b"e\n")
        state = str(tmp_path / f"state{count[0]}")
        args = ["--state-dir", state, "--admin", "127.0.0.1:0", "--workers", str(workers),
                "--ftp", "127.0.0.1:0", "--ftp-root", str(root)]
        s = admin_server(build_tree=False, base_args=args, state_dir=state)
        s.fport = fport(s)
        s.root, s.up = str(root), str(up)
        adm_ok(s, "vdir", "add", "default", "/up", str(up), "--write", "--service", "ftp")
        wait_for(lambda: b"perm=cdeflmp;" in _mlst(s.fport, "/up"), timeout=10, interval=0.1,
                 what="/up to become writable")
        return s

    return factory


# -- 1. the site, greeting, login, messages ----------------------------------------------------

def test_listeners_and_seeded_sites(srv):
    fl = [e for e in srv.listeners["listeners"] if e.get("service") == "ftp"]
    assert fl == [{"service": "ftp", "site": "default", "address": "127.0.0.1",
                   "port": srv.fport, "tls": False}], srv.listeners
    assert f"ftp listening on 127.0.0.1:{srv.fport}" in srv.stdout()
    sites = json.loads(adm_ok(srv, "--json", "site", "list", "--service", "ftp").out)["sites"]
    assert [x["name"] for x in sites] == ["default"], sites
    assert srv.dirs["root"] in adm_ok(srv, "get", "/ftp/sites/default/root").out
    p = adm_ok(srv, "vdir", "list", "default", "--service", "ftp")
    assert "/up" in p.out and srv.dirs["up"] in p.out, p.out
    # --http was given too: the www site is seeded and serves.
    p = curl(srv.url("/index.html"))
    assert p.returncode == 0 and p.stdout == WWW_INDEX, p.err


def test_greeting_login_and_quit_defaults(srv):
    port = srv.fport
    with Ctl(port) as c:
        assert c.greeting == GREETING
        assert c.cmd("USER anonymous") == \
            b"331 Anonymous login ok; send your e-mail address as the password.\r\n"
        assert c.cmd("PASS e2e@example.org") == b"230 Anonymous user logged in.\r\n"
        assert c.cmd("USER anonymous") == b"503 Already logged in.\r\n"
        assert c.cmd("QUIT") == b"221 Goodbye.\r\n"
        assert c.expect_close() == b"", "bytes after the 221"
    # "ftp" is the other anonymous name; names are case-insensitive; any password.
    for user in ("ftp", "FTP", "AnonyMous"):
        with Ctl(port) as c:
            assert c.cmd(f"USER {user}").startswith(b"331 Anonymous login ok")
            assert c.cmd("PASS ") == b"230 Anonymous user logged in.\r\n"
            c.quit()
    f = ftp_plain(port)
    assert f.getwelcome() == "220 infosrv FTP service ready."
    assert f.pwd() == "/"
    assert f.quit() == "221 Goodbye."


def test_greeting_welcome_and_exit_messages_are_multi_line(srv):
    port = srv.fport
    want_greeting = b"220-Hello\r\n220-World\r\n" + GREETING
    try:
        site_set(srv, 'ftp_greeting=["Hello","World"]',
                 'ftp_welcome=["Welcome, anonymous.","Uploads go to /up."]',
                 'ftp_exit_message=["Thanks for visiting."]')
        wait_for(lambda: settled(lambda: greeting_of(port) == want_greeting), timeout=10, interval=0.1,
                 what="the new greeting")
        with Ctl(port) as c:
            assert c.greeting == want_greeting
            c.cmd("USER anonymous")
            assert c.cmd("PASS x") == (b"230-Welcome, anonymous.\r\n230-Uploads go to /up.\r\n"
                                       b"230 Anonymous user logged in.\r\n")
            assert c.cmd("QUIT") == b"221-Thanks for visiting.\r\n221 Goodbye.\r\n"
            assert c.expect_close() == b""
        # ftplib reads the multi-line replies as one.
        f = ftplib.FTP()
        assert f.connect("127.0.0.1", port, timeout=30) == \
            "220-Hello\n220-World\n220 infosrv FTP service ready."
        assert f.login() == "230-Welcome, anonymous.\n230-Uploads go to /up.\n" \
                            "230 Anonymous user logged in."
        assert f.quit() == "221-Thanks for visiting.\n221 Goodbye."
        # curl reads them too.
        p = curl(f"ftp://127.0.0.1:{port}/hello.txt")
        assert p.returncode == 0 and p.stdout == HELLO, p.err
    finally:
        site_unset(srv, "ftp_greeting", "ftp_welcome", "ftp_exit_message")
    wait_for(lambda: settled(lambda: greeting_of(port) == GREETING), timeout=10, interval=0.1,
             what="the default greeting again")


def test_feat_syst_help_stat_noop_opts(srv):
    port = srv.fport
    version = srv.version
    with Ctl(port) as c:
        # Before the login.
        assert c.cmd("FEAT") == FEAT_TLS
        assert c.cmd("SYST") == b"215 UNIX Type: L8\r\n"
        assert c.cmd("HELP") == HELP
        assert c.cmd("NOOP") == b"200 NOOP ok.\r\n"
        assert c.cmd("STAT") == (f"211-infosrv {version} FTP status:\r\n Connected from 127.0.0.1\r\n"
                                 " TYPE: BINARY; control connection in the clear; data connections"
                                 " in the clear\r\n211 End of status.\r\n").encode()
        c.login()
        assert c.cmd("TYPE A") == b"200 Type set to A.\r\n"
        assert c.cmd("STAT") == (f"211-infosrv {version} FTP status:\r\n Connected from 127.0.0.1\r\n"
                                 " Logged in as anonymous\r\n"
                                 " TYPE: ASCII; control connection in the clear; data connections"
                                 " in the clear\r\n211 End of status.\r\n").encode()
        assert c.cmd("STAT /sub") == b"502 STAT with a path is not supported; use LIST or MLST.\r\n"
        assert c.cmd("OPTS UTF8 ON") == b"200 UTF-8 is on (names are sent as stored).\r\n"
        assert c.cmd("OPTS MLST type;size;") == b"200 MLST OPTS type;size;modify;perm;\r\n"
        assert c.cmd("OPTS NOPE") == b"501 OPTS supports UTF8 ON and MLST.\r\n"
        assert c.cmd("TYPE L 8") == b"200 Type set to I.\r\n"
        assert c.cmd("TYPE E") == b"504 TYPE supports A and I.\r\n"
        assert c.cmd("MODE S") == b"200 Mode S only.\r\n"
        assert c.cmd("MODE B") == b"504 Mode S only.\r\n"
        assert c.cmd("STRU F") == b"200 Structure F only.\r\n"
        assert c.cmd("STRU R") == b"504 Structure F only.\r\n"
        assert c.cmd("ALLO 1000") == b"202 ALLO is not needed.\r\n"
        assert c.cmd("ABOR") == b"225 No transfer to abort.\r\n"
        # Lower-case verbs and a bare LF line end are accepted.
        assert c.cmd("noop") == b"200 NOOP ok.\r\n"
        c.send(b"syst\n")
        assert c.reply() == b"215 UNIX Type: L8\r\n"
        # Pipelined commands are answered in order.
        c.send(b"NOOP\r\nSYST\r\nPWD\r\n")
        assert [c.reply(), c.reply(), c.reply()] == [
            b"200 NOOP ok.\r\n", b"215 UNIX Type: L8\r\n", b'257 "/" is the current directory.\r\n']
        c.quit()
    f = ftp_plain(port)
    assert f.sendcmd("SYST") == "215 UNIX Type: L8"
    assert f.voidcmd("NOOP") == "200 NOOP ok."
    f.quit()


# -- 2. directories and listings ----------------------------------------------------------------

def test_pwd_cwd_cdup(srv):
    port = srv.fport
    with Ctl(port) as c:
        c.login()
        assert c.cmd("PWD") == b'257 "/" is the current directory.\r\n'
        assert c.cmd("CWD sub") == b"250 Directory changed to /sub.\r\n"
        assert c.cmd("PWD") == b'257 "/sub" is the current directory.\r\n'
        assert c.cmd("SIZE inner.txt") == f"213 {len(INNER)}\r\n".encode(), "relative to the cwd"
        assert c.cmd("CWD deeper") == b"250 Directory changed to /sub/deeper.\r\n"
        assert c.cmd("XPWD") == b'257 "/sub/deeper" is the current directory.\r\n'
        assert c.cmd("CDUP") == b"250 Directory changed to /sub.\r\n"
        assert c.cmd("XCUP") == b"250 Directory changed to /.\r\n"
        assert c.cmd("CDUP") == b"250 Directory changed to /.\r\n", "'..' stops at the root"
        assert c.cmd("XCWD /sub/./deeper/../deeper//") == b"250 Directory changed to /sub/deeper.\r\n"
        assert c.cmd("CWD") == b"250 Directory changed to /.\r\n"
        assert c.cmd("CWD /nope") == b"550 /nope: no such file or directory.\r\n"
        assert c.cmd("CWD /hello.txt") == b"550 /hello.txt: no such file or directory.\r\n"
        assert c.cmd("PWD") == b'257 "/" is the current directory.\r\n', "a failed CWD moves nowhere"
        # RFC 959: a double quote in the name is doubled in the 257 reply.
        assert c.cmd('CWD q"dir') == b'250 Directory changed to /q"dir.\r\n'
        assert c.cmd("PWD") == b'257 "/q""dir" is the current directory.\r\n'
        c.quit()
    f = ftp_plain(port)
    assert f.cwd("/sub/deeper") == "250 Directory changed to /sub/deeper."
    assert f.pwd() == "/sub/deeper"
    f.cwd('/q"dir')
    assert f.pwd() == '/q"dir'
    f.quit()
    p = curl(f"ftp://127.0.0.1:{port}/sub/deeper/deep.txt")
    assert p.returncode == 0 and p.stdout == b"deep file\n", p.err


def _sub_entries(srv):
    sub = os.path.join(srv.dirs["root"], "sub")
    return [(n, os.stat(os.path.join(sub, n))) for n in listed_names(sub)]


def test_list_unix_style(srv):
    port = srv.fport
    entries = _sub_entries(srv)
    assert [n for n, _ in entries] == ["deeper", "inner.txt", "recent.txt", "with space.txt"]
    with Ctl(port) as c:
        c.login()
        now = time.time()
        body = listing(c, "LIST", "/sub")
        want = b"".join(unix_line(n, st, now) for n, st in entries)
        assert body == want, f"LIST /sub:\n{body.decode()}\nexpected:\n{want.decode()}"
        assert b"Jun  1  2020 inner.txt\r\n" in body, "an old file shows its year"
        assert re.search(rb" \d\d:\d\d recent\.txt\r\n", body), "a recent file shows its time"
        assert listing(c, "LIST", "-la /sub") == want, "ls options are skipped"
        assert c.cmd("CWD /sub").startswith(b"250 ")
        assert listing(c, "LIST") == want
        assert listing(c, "LIST", "inner.txt") == unix_line("inner.txt", dict(entries)["inner.txt"], now)
        assert listing(c, "NLST", "/sub") == b"deeper\r\ninner.txt\r\nrecent.txt\r\nwith space.txt\r\n"
        assert listing(c, "NLST") == b"deeper\r\ninner.txt\r\nrecent.txt\r\nwith space.txt\r\n"
        d = c.epsv()
        assert c.cmd("LIST /nope") == b"550 /nope: no such file or directory.\r\n"
        d.close()
        c.quit()
    # Real clients read the same listing.
    f = ftp_plain(port)
    lines = []
    f.retrlines("LIST /sub", lines.append)
    assert "\r\n".join(lines).encode() + b"\r\n" == want
    assert f.nlst("/sub") == ["deeper", "inner.txt", "recent.txt", "with space.txt"]
    f.quit()
    # curl lists in TYPE A and turns the CRLF line ends into LF, as it does for text.
    p = curl(f"ftp://127.0.0.1:{port}/sub/")
    assert p.returncode == 0 and p.stdout == want.replace(b"\r\n", b"\n"), (p.err, p.stdout)
    p = curl("--list-only", f"ftp://127.0.0.1:{port}/sub/")
    assert p.returncode == 0 and p.stdout == b"deeper\ninner.txt\nrecent.txt\nwith space.txt\n", \
        (p.err, p.stdout)


def test_list_msdos_style(srv, tmp_path):
    port = srv.fport
    entries = _sub_entries(srv)
    want = b"".join(msdos_line(n, st) for n, st in entries)
    try:
        site_set(srv, "listing_style=msdos")

        def msdos_listing():
            with Ctl(port) as c:
                c.login()
                return listing(c, "LIST", "/sub")

        wait_for(lambda: settled(lambda: msdos_listing().startswith(b"06-01-20")), timeout=10,
                 interval=0.1, what="the MS-DOS style")
        body = msdos_listing()
        assert body == want, f"LIST /sub:\n{body.decode()}\nexpected:\n{want.decode()}"
        lines = body.decode().split("\r\n")[:-1]
        by_name = {line[39:]: line for line in lines}
        assert by_name["inner.txt"].startswith("06-01-20  12:00PM "), by_name
        assert by_name["inner.txt"][17:38].strip() == str(len(INNER)) and \
            by_name["inner.txt"][37] == str(len(INNER))[-1], "the size ends at column 37"
        assert by_name["deeper"][24:29] == "<DIR>", by_name["deeper"]
        # lftp parses the MS-DOS lines (MLSD off, so that it reads LIST).
        p = lftp(port, ["set ftp:use-mlsd false", "cd /sub", "cls -1"], tmp_path, tls=False)
        assert p.returncode == 0, p.err
        assert p.out.split("\n") == ["deeper/", "inner.txt", "recent.txt", "with space.txt", ""], p.out
    finally:
        site_unset(srv, "listing_style")
    wait_for(lambda: settled(lambda: _unix_again(port)), timeout=10, interval=0.1,
             what="the UNIX style again")


def _unix_again(port):
    with Ctl(port) as c:
        c.login()
        return listing(c, "LIST", "/sub").startswith(b"d")


def test_mlsd_mlst_facts(srv):
    port = srv.fport
    entries = _sub_entries(srv)
    inner = dict(entries)["inner.txt"]
    with Ctl(port) as c:
        c.login()
        body = listing(c, "MLSD", "/sub")
        want = b"".join(f"{mlsx_facts(st)} {n}\r\n".encode() for n, st in entries)
        assert body == want, body
        assert f"type=file;size={len(INNER)};modify={FIXED_STAMP};perm=r; inner.txt\r\n".encode() in body
        assert c.cmd("MLST /sub/inner.txt") == (
            f"250-Listing /sub/inner.txt\r\n type=file;size={len(INNER)};modify={FIXED_STAMP};"
            f"perm=r; /sub/inner.txt\r\n250 End.\r\n").encode()
        assert c.cmd("MLST sub/deeper") == (
            f"250-Listing /sub/deeper\r\n type=dir;modify={FIXED_STAMP};perm=el; /sub/deeper\r\n"
            f"250 End.\r\n").encode()
        up = os.stat(srv.dirs["up"])
        assert c.cmd("MLST /up") == (f"250-Listing /up\r\n {mlsx_facts(up, write=True)} /up\r\n"
                                     f"250 End.\r\n").encode()
        assert c.cmd("MLST /nope") == b"550 /nope: no such file or directory.\r\n"
        d = c.epsv()
        assert c.cmd("MLSD /sub/inner.txt") == \
            b"501 /sub/inner.txt is not a directory (MLSD lists directories).\r\n"
        d.close()
        c.quit()
    f = ftp_plain(port)
    facts = dict(f.mlsd("/sub"))
    assert facts["inner.txt"] == {"type": "file", "size": str(len(INNER)), "modify": FIXED_STAMP,
                                  "perm": "r"}, facts
    assert facts["deeper"] == {"type": "dir", "modify": FIXED_STAMP, "perm": "el"}, facts
    assert inner.st_size == len(INNER)
    f.quit()


def test_size_and_mdtm(srv):
    port = srv.fport
    r = exchange(port, "SIZE /hello.txt", "SIZE blob.bin", "MDTM hello.txt", "MDTM /sub/inner.txt",
                 "SIZE /sub", "SIZE /nope", "MDTM /nope", "SIZE /empty.txt")
    assert r == [f"213 {len(HELLO)}\r\n".encode(), f"213 {len(BLOB)}\r\n".encode(),
                 f"213 {FIXED_STAMP}\r\n".encode(), f"213 {FIXED_STAMP}\r\n".encode(),
                 b"550 /sub: not a plain file.\r\n", b"550 /nope: no such file or directory.\r\n",
                 b"550 /nope: no such file or directory.\r\n", b"213 0\r\n"], r
    f = ftp_plain(port)
    assert f.size("blob.bin") == len(BLOB)
    assert f.voidcmd("MDTM /hello.txt") == f"213 {FIXED_STAMP}"
    f.quit()


# -- 3. downloads ---------------------------------------------------------------------------------

def test_retr_binary(srv):
    port = srv.fport
    with Ctl(port) as c:
        c.login()
        data, r150, r226 = retr(c, "/blob.bin")
        assert data == BLOB, f"{len(data)} of {len(BLOB)} bytes"
        assert r150 == f"150 Opening BINARY mode data connection for /blob.bin ({len(BLOB)} bytes).\r\n" \
            .encode(), r150
        assert r226 == b"226 Transfer complete.\r\n"
        data, r150, r226 = retr(c, "empty.txt")
        assert (data, r226) == (b"", b"226 Transfer complete.\r\n")
        # PASV (RFC 959) as well as EPSV.
        r = c.cmd("PASV")
        m = re.match(rb"^227 Entering Passive Mode \(127,0,0,1,(\d+),(\d+)\)\.\r\n$", r)
        assert m, r
        d = socket.create_connection(("127.0.0.1", int(m.group(1)) * 256 + int(m.group(2))), timeout=10)
        assert c.cmd("RETR /sub/inner.txt").startswith(b"150 ")
        assert read_all(d) == INNER
        assert c.reply() == b"226 Transfer complete.\r\n"
        # Errors.
        assert c.cmd("RETR /hello.txt") == b"425 Use PORT, EPRT, PASV or EPSV first.\r\n"
        d = c.epsv()
        assert c.cmd("RETR /sub") == b"550 /sub: not a plain file.\r\n"
        assert c.cmd("RETR /nope") == b"550 /nope: no such file or directory.\r\n"
        # The prepared connection is still there for the next transfer.
        assert c.cmd("RETR /hello.txt").startswith(b"150 ")
        assert read_all(d) == HELLO
        assert c.reply() == b"226 Transfer complete.\r\n"
        c.quit()
    f = ftp_plain(port)
    assert fetch(f, "/blob.bin") == BLOB
    f.quit()
    p = curl(f"ftp://127.0.0.1:{port}/blob.bin")
    assert p.returncode == 0 and p.stdout == BLOB, p.err


def test_active_mode_port_and_eprt(srv):
    port = srv.fport
    with Ctl(port) as c:
        c.login()
        for how in ("PORT", "EPRT"):
            lsock = socket.socket()
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(1)
            lsock.settimeout(10)
            p = lsock.getsockname()[1]
            arg = f"127,0,0,1,{p >> 8},{p & 255}" if how == "PORT" else f"|1|127.0.0.1|{p}|"
            assert c.cmd(f"{how} {arg}") == \
                b"200 PORT command successful; the data connection opens with the transfer.\r\n"
            assert c.cmd("RETR /blob.bin").startswith(b"150 ")
            d, peer = lsock.accept()
            lsock.close()
            assert peer[0] == "127.0.0.1", peer
            assert read_all(d) == BLOB, how
            assert c.reply() == b"226 Transfer complete.\r\n"
        c.quit()
    f = ftp_plain(port)
    f.set_pasv(False)
    assert fetch(f, "/blob.bin") == BLOB
    assert f.nlst("/sub") == ["deeper", "inner.txt", "recent.txt", "with space.txt"]
    f.quit()


def test_type_a_download_converts_lf_to_crlf(srv):
    port = srv.fport
    with Ctl(port) as c:
        c.login()
        data, r150, r226 = retr(c, "/text.txt", typ="A")
        assert r150 == f"150 Opening ASCII mode data connection for /text.txt ({len(TEXT)} bytes).\r\n" \
            .encode(), r150
        assert data == b"alpha\r\nbeta\r\ngamma\rdelta\r\n\r\nlast line without a newline", data
        assert r226 == b"226 Transfer complete.\r\n"
        # A CRLF split across the server's conversion pieces stays one CRLF.
        data, _, r226 = retr(c, "/textbig.txt", typ="A")
        assert data == to_crlf(TEXT_BIG), f"{len(data)} bytes, expected {len(to_crlf(TEXT_BIG))}"
        assert data.count(b"\r\r\n") == 0
        # TYPE I sends the file as it is.
        data, _, _ = retr(c, "/textbig.txt", typ="I")
        assert data == TEXT_BIG
        c.quit()
    f = ftp_plain(port)
    lines = []
    f.retrlines("RETR /text.txt", lines.append)
    # (ftplib reads lines with universal newlines: the lone CR ends a line too.)
    assert lines == ["alpha", "beta", "gamma", "delta", "", "last line without a newline"], lines
    f.quit()


def test_rest_retr(srv):
    port = srv.fport
    with Ctl(port) as c:
        c.login()
        assert c.cmd("REST 1000") == b"350 Restarting at 1000; send RETR, STOR or APPE.\r\n"
        data, _, r226 = retr(c, "/blob.bin")
        assert data == BLOB[1000:] and r226 == b"226 Transfer complete.\r\n"
        data, _, _ = retr(c, "/blob.bin", rest=len(BLOB))
        assert data == b""
        data, _, _ = retr(c, "/blob.bin")
        assert data == BLOB, "a REST applies to one transfer only"
        assert c.cmd("REST abc") == b"501 REST needs a byte offset.\r\n"
        assert c.cmd("REST -5") == b"501 REST needs a byte offset.\r\n"
        assert c.cmd("REST 99999999999999999999999") == b"501 REST needs a byte offset.\r\n"
        d = c.epsv()
        past = len(BLOB) + 1
        assert c.cmd(f"REST {past}").startswith(b"350 ")
        r = c.cmd("RETR /blob.bin")
        assert r == f"554 REST {past} is past the end of /blob.bin.\r\n".encode(), r
        assert c.cmd("RETR /blob.bin").startswith(b"150 "), "the bad REST was forgotten"
        assert read_all(d) == BLOB
        assert c.reply() == b"226 Transfer complete.\r\n"
        c.quit()
    f = ftp_plain(port)
    buf = io.BytesIO()
    f.retrbinary("RETR /blob.bin", buf.write, rest=123)
    assert buf.getvalue() == BLOB[123:]
    f.quit()
    p = curl("-C", "5000", f"ftp://127.0.0.1:{port}/blob.bin")
    assert p.returncode == 0 and p.stdout == BLOB[5000:], p.err


# -- 4. uploads, the read-only default, changes to the tree ------------------------------------------

def test_anonymous_is_read_only_by_default(srv, tmp_path):
    port = srv.fport
    root = srv.dirs["root"]
    before = sorted(os.listdir(root))
    with Ctl(port) as c:
        c.login()
        d = c.epsv()
        for line, want in (
                ("STOR /new.txt", b"550 /new.txt: permission denied (write access is not allowed here).\r\n"),
                ("APPE /hello.txt", _perm("/hello.txt")),
                ("STOR sub/inner.txt",
                 b"550 /sub/inner.txt: permission denied (write access is not allowed here).\r\n")):
            assert c.cmd(line) == want, line
        r = c.cmd("STOU")
        assert r.startswith(b"550 /ftp-") and r.endswith(b": permission denied (write access is not "
                                                          b"allowed here).\r\n"), r
        d.close()
        for line, want in (
                ("MKD /newdir", b"550 /newdir: permission denied (write access is not allowed here).\r\n"),
                ("RMD /sub/deeper",
                 b"550 /sub/deeper: permission denied (write access is not allowed here).\r\n"),
                ("DELE /hello.txt", _perm("/hello.txt")),
                ("RNFR /hello.txt", _perm("/hello.txt"))):
            assert c.cmd(line) == want, line
        c.quit()
    local = tmp_path / "upload.txt"
    local.write_bytes(b"should not land\n")
    p = curl("-T", str(local), f"ftp://127.0.0.1:{port}/curl-upload.txt")
    assert p.returncode == 25, (p.returncode, p.err)  # CURLE_UPLOAD_FAILED
    p = lftp(port, [f"put {local} -o /lftp-upload.txt"], tmp_path, tls=False)
    assert p.returncode != 0, p.out
    f = ftp_plain(port)
    with pytest.raises(ftplib.error_perm, match="^550 "):
        f.storbinary("STOR /ftplib-upload.txt", io.BytesIO(b"x"))
    f.quit()
    assert sorted(os.listdir(root)) == before
    with open(os.path.join(root, "hello.txt"), "rb") as fh:
        assert fh.read() == HELLO


def test_stor_appe_stou_in_the_write_directory(srv):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    name = f"stor-{tag}.bin"
    try:
        with Ctl(port) as c:
            c.login()
            r150, r226 = stor(c, f"/up/{name}", BLOB)
            assert r150 == b"150 Ok to send data.\r\n", r150
            assert r226 == b"226 Transfer complete.\r\n", r226
            with open(os.path.join(up, name), "rb") as fh:
                assert fh.read() == BLOB
            # STOR replaces; APPE appends; APPE creates a missing file.
            _, r226 = stor(c, f"/up/{name}", HELLO)
            assert r226 == b"226 Transfer complete.\r\n"
            _, r226 = stor(c, f"/up/{name}", INNER, verb="APPE")
            assert r226 == b"226 Transfer complete.\r\n"
            with open(os.path.join(up, name), "rb") as fh:
                assert fh.read() == HELLO + INNER
            _, r226 = stor(c, f"/up/appe-{tag}.txt", INNER, verb="APPE")
            with open(os.path.join(up, f"appe-{tag}.txt"), "rb") as fh:
                assert fh.read() == INNER
            # STOU stores under a new name, and RFC 1123 4.1.2.9 says the 150 names it.
            assert c.cmd("CWD /up").startswith(b"250 ")
            before = set(os.listdir(up))
            r150, r226 = stor(c, None, TEXT, verb="STOU")
            assert r226 == b"226 Transfer complete.\r\n", r226
            new = sorted(set(os.listdir(up)) - before)
            assert len(new) == 1 and re.match(r"^ftp-[0-9a-f]{12}$", new[0]), new
            with open(os.path.join(up, new[0]), "rb") as fh:
                assert fh.read() == TEXT
            assert r150 == f"150 FILE: {new[0]}\r\n".encode(), \
                f"the 150 reply to STOU does not name the file it creates: {r150!r}"
            c.quit()
        assert not temp_files(up)
    finally:
        for n in os.listdir(up):
            if tag in n or re.match(r"^ftp-[0-9a-f]{12}$", n):
                os.unlink(os.path.join(up, n))


def test_type_a_upload_converts_crlf_to_lf(srv):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    try:
        with Ctl(port) as c:
            c.login()
            assert c.cmd("TYPE A") == b"200 Type set to A.\r\n"
            d = c.epsv()
            d.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            assert c.cmd(f"STOR /up/ascii-{tag}.txt") == b"150 Ok to send data.\r\n"
            d.sendall(b"one\r\ntwo\r\n\r\nthree\rfour\r\nfive\r")
            time.sleep(0.05)  # pacing: the CR and its LF arrive in separate reads
            d.sendall(b"\nsix\r")
            d.close()
            assert c.reply() == b"226 Transfer complete.\r\n"
            c.quit()
        with open(os.path.join(up, f"ascii-{tag}.txt"), "rb") as fh:
            got = fh.read()
        assert got == b"one\ntwo\n\nthree\rfour\nfive\nsix\r", got
        f = ftp_plain(port)
        f.storlines(f"STOR /up/lines-{tag}.txt", io.BytesIO(b"a\nb\r\nc\n"))
        f.quit()
        with open(os.path.join(up, f"lines-{tag}.txt"), "rb") as fh:
            assert fh.read() == b"a\nb\nc\n"
    finally:
        for n in os.listdir(up):
            if tag in n:
                os.unlink(os.path.join(up, n))


def test_upload_takes_its_name_only_when_complete(srv):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    final = os.path.join(up, f"atomic-{tag}.bin")
    _write(final, b"old content\n")
    try:
        with Ctl(port) as c:
            c.login()
            assert c.cmd("TYPE I").startswith(b"200 ")
            d = c.epsv()
            assert c.cmd(f"STOR /up/atomic-{tag}.bin") == b"150 Ok to send data.\r\n"
            half = len(BLOB) // 2
            d.sendall(BLOB[:half])

            def temp_with_half():
                names = temp_files(up)
                return names if names and os.path.getsize(os.path.join(up, names[0])) == half else None

            names = wait_for(temp_with_half, timeout=10, interval=0.02, what="the temporary file")
            assert len(names) == 1, names
            with open(final, "rb") as fh:
                assert fh.read() == b"old content\n", "the final name changed before the end"
            # Another client still downloads the old file meanwhile.
            with Ctl(port) as other:
                other.login()
                data, _, _ = retr(other, f"/up/atomic-{tag}.bin")
                assert data == b"old content\n"
                other.quit()
            d.sendall(BLOB[half:])
            d.close()
            assert c.reply() == b"226 Transfer complete.\r\n"
            c.quit()
        with open(final, "rb") as fh:
            assert fh.read() == BLOB
        assert not temp_files(up), temp_files(up)
    finally:
        os.unlink(final)


def test_rest_stor_resumes_in_place(srv, tmp_path):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    try:
        with Ctl(port) as c:
            c.login()
            _, r226 = stor(c, f"/up/resume-{tag}.bin", BLOB[:100000])
            assert r226 == b"226 Transfer complete.\r\n"
            r150, r226 = stor(c, f"/up/resume-{tag}.bin", BLOB[100000:], rest=100000)
            assert r150.startswith(b"150 ") and r226 == b"226 Transfer complete.\r\n", (r150, r226)
            d = c.epsv()
            assert c.cmd("REST 10").startswith(b"350 ")
            assert c.cmd(f"STOR /up/missing-{tag}.bin") == \
                f"550 /up/missing-{tag}.bin: no such file or directory.\r\n".encode()
            d.close()
            c.quit()
        with open(os.path.join(up, f"resume-{tag}.bin"), "rb") as fh:
            assert fh.read() == BLOB
        # ftplib's rest= and curl's -C - resume too.
        _write(os.path.join(up, f"ftplib-{tag}.bin"), BLOB[:5000])
        f = ftp_plain(port)
        f.storbinary(f"STOR /up/ftplib-{tag}.bin", io.BytesIO(BLOB[5000:]), rest=5000)
        f.quit()
        with open(os.path.join(up, f"ftplib-{tag}.bin"), "rb") as fh:
            assert fh.read() == BLOB
        _write(os.path.join(up, f"curl-{tag}.bin"), BLOB[:7777])
        local = tmp_path / "blob.bin"
        local.write_bytes(BLOB)
        p = curl("-C", "-", "-T", str(local), f"ftp://127.0.0.1:{port}/up/curl-{tag}.bin")
        assert p.returncode == 0, p.err
        with open(os.path.join(up, f"curl-{tag}.bin"), "rb") as fh:
            assert fh.read() == BLOB
    finally:
        for n in os.listdir(up):
            if tag in n:
                os.unlink(os.path.join(up, n))


def test_dele_mkd_rmd_rnfr_rnto(srv):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    d_ = f"/up/d-{tag}"
    try:
        with Ctl(port) as c:
            c.login()
            assert c.cmd(f"MKD {d_}") == f'257 "{d_}" created.\r\n'.encode()
            assert os.path.isdir(os.path.join(up, f"d-{tag}"))
            assert c.cmd(f"MKD {d_}") == f"550 {d_}: already exists.\r\n".encode()
            assert c.cmd(f"XMKD {d_}/sub") == f'257 "{d_}/sub" created.\r\n'.encode()
            assert c.cmd(f"RMD {d_}") == f"550 {d_}: the directory is not empty.\r\n".encode()
            assert c.cmd(f"XRMD {d_}/sub") == f"250 {d_}/sub removed.\r\n".encode()
            assert c.cmd(f'MKD /up/q"{tag}') == f'257 "/up/q""{tag}" created.\r\n'.encode()
            assert c.cmd(f'RMD /up/q"{tag}') == f'250 /up/q"{tag} removed.\r\n'.encode()
            stor(c, f"/up/f-{tag}.txt", HELLO)
            assert c.cmd(f"RNFR /up/f-{tag}.txt") == \
                f"350 /up/f-{tag}.txt exists; send RNTO with its new name.\r\n".encode()
            assert c.cmd(f"RNTO {d_}/g.txt") == f"250 /up/f-{tag}.txt renamed to {d_}/g.txt.\r\n".encode()
            assert not os.path.exists(os.path.join(up, f"f-{tag}.txt"))
            with open(os.path.join(up, f"d-{tag}", "g.txt"), "rb") as fh:
                assert fh.read() == HELLO
            assert c.cmd("RNTO x") == b"503 Send RNFR first.\r\n", "RNFR counts for one RNTO"
            # Renaming out of the writable directory is refused.
            assert c.cmd(f"RNFR {d_}/g.txt").startswith(b"350 ")
            assert c.cmd("RNTO /sub/g.txt") == \
                b"550 /sub/g.txt: permission denied (write access is not allowed here).\r\n"
            assert os.path.exists(os.path.join(up, f"d-{tag}", "g.txt"))
            assert c.cmd(f"DELE {d_}") == f"550 {d_}: is a directory.\r\n".encode()
            assert c.cmd(f"DELE {d_}/g.txt") == f"250 {d_}/g.txt removed.\r\n".encode()
            assert c.cmd(f"DELE {d_}/g.txt") == f"550 {d_}/g.txt: no such file or directory.\r\n".encode()
            assert c.cmd(f"RNFR /up/nope-{tag}") == f"550 /up/nope-{tag}: no such file or directory.\r\n" \
                .encode()
            assert c.cmd(f"RMD {d_}") == f"250 {d_} removed.\r\n".encode()
            assert not os.path.exists(os.path.join(up, f"d-{tag}"))
            # The top of a virtual directory cannot be removed or renamed.
            assert c.cmd("RMD /up") == b"550 /up: permission denied.\r\n"
            assert c.cmd("RNFR /up") == b"550 /up: permission denied.\r\n"
            assert c.cmd("DELE") == b"501 A file name is needed.\r\n"
            c.quit()
        f = ftp_plain(port)
        assert f.mkd(f"/up/ftplib-{tag}") == f"/up/ftplib-{tag}"
        f.storbinary(f"STOR /up/ftplib-{tag}/a.bin", io.BytesIO(BLOB))
        f.rename(f"/up/ftplib-{tag}/a.bin", f"/up/ftplib-{tag}/b.bin")
        assert f.nlst(f"/up/ftplib-{tag}") == ["b.bin"]
        f.delete(f"/up/ftplib-{tag}/b.bin")
        f.rmd(f"/up/ftplib-{tag}")
        f.quit()
        assert not any(tag in n for n in os.listdir(up))
    finally:
        for n in os.listdir(up):
            if tag in n:
                p = os.path.join(up, n)
                if os.path.isdir(p):
                    for x in os.listdir(p):
                        os.unlink(os.path.join(p, x))
                    os.rmdir(p)
                else:
                    os.unlink(p)


def test_uploads_with_curl_and_lftp(srv, tmp_path):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    local = tmp_path / "blob.bin"
    local.write_bytes(BLOB)
    try:
        p = curl("-T", str(local), f"ftp://127.0.0.1:{port}/up/curl-{tag}.bin")
        assert p.returncode == 0, p.err
        p = curl("--ssl-reqd", "-k", "-T", str(local), f"ftp://127.0.0.1:{port}/up/curls-{tag}.bin")
        assert p.returncode == 0, p.err
        p = lftp(port, [f"put {local} -o /up/lftp-{tag}.bin", f"mkdir /up/lftpdir-{tag}",
                        f"put {local} -o /up/lftpdir-{tag}/x.bin", f"get /up/lftp-{tag}.bin -o "
                        f"{tmp_path}/back.bin"], tmp_path)
        assert p.returncode == 0, p.err
        for rel in (f"curl-{tag}.bin", f"curls-{tag}.bin", f"lftp-{tag}.bin", f"lftpdir-{tag}/x.bin"):
            with open(os.path.join(up, rel), "rb") as fh:
                assert fh.read() == BLOB, rel
        assert (tmp_path / "back.bin").read_bytes() == BLOB
        p = lftp(port, [f"rm /up/lftpdir-{tag}/x.bin", f"rmdir /up/lftpdir-{tag}"], tmp_path)
        assert p.returncode == 0, p.err
        assert not os.path.exists(os.path.join(up, f"lftpdir-{tag}"))
        assert not temp_files(up)
    finally:
        for n in os.listdir(up):
            if tag in n:
                path = os.path.join(up, n)
                if os.path.isdir(path):
                    for x in os.listdir(path):
                        os.unlink(os.path.join(path, x))
                    os.rmdir(path)
                else:
                    os.unlink(path)


# -- 5. transfers in progress: ABOR, STAT, sessions, Disconnect ---------------------------------------

def _start_blocked_download(c, path="/big.bin"):
    """RETR PATH with a client that reads almost nothing: the transfer stays in progress."""
    assert c.cmd("TYPE I").startswith(b"200 ")
    d = c.epsv(rcvbuf=4096)
    r = c.cmd(f"RETR {path}")
    assert r == f"150 Opening BINARY mode data connection for {path} ({len(BIG)} bytes).\r\n".encode(), r
    got = d.recv(1000)
    assert got and BIG.startswith(got)
    return d, len(got)


def test_abor_during_a_transfer(srv):
    port = srv.fport
    with Ctl(port) as c:
        c.login()
        d, _ = _start_blocked_download(c)
        t0 = time.monotonic()
        c.send(b"ABOR\r\n")
        replies = [c.reply(timeout=5), c.reply(timeout=5)]
        print(f"\nABOR answered in {time.monotonic() - t0:.3f} s")
        assert replies == [b"426 Transfer aborted.\r\n", b"226 ABOR successful.\r\n"], replies
        d.settimeout(5)
        rest = bytearray()
        try:
            while True:
                chunk = d.recv(1 << 20)
                if not chunk:
                    break
                rest += chunk
        except ConnectionResetError:
            pass
        assert len(rest) < len(BIG), "the aborted transfer went on to the end"
        d.close()
        assert c.cmd("NOOP") == b"200 NOOP ok.\r\n"
        # RFC 959's Telnet IP and Synch before ABOR (the DM byte sent as urgent data).
        d, _ = _start_blocked_download(c)
        c.send(b"\xff\xf4")
        c.sock.send(b"\xff\xf2", socket.MSG_OOB)
        c.sent += 2
        c.send(b"ABOR\r\n")
        assert [c.reply(timeout=5), c.reply(timeout=5)] == \
            [b"426 Transfer aborted.\r\n", b"226 ABOR successful.\r\n"]
        d.close()
        data, _, _ = retr(c, "/hello.txt")
        assert data == HELLO
        c.quit()
    # ftplib's abort() sends ABOR as urgent data.
    f = ftp_plain(port)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("RETR /big.bin")
    conn.recv(1000)
    assert f.abort() == "426 Transfer aborted."
    assert f.getresp() == "226 ABOR successful."
    conn.close()
    assert f.voidcmd("NOOP") == "200 NOOP ok."
    f.quit()
    assert_healthy(port)


def test_stat_and_noop_during_a_transfer(srv):
    port = srv.fport
    with Ctl(port) as c:
        c.login()
        d, got = _start_blocked_download(c)
        r = c.cmd("STAT", timeout=5)
        m = re.match(rb"^213 Status: (\d+) bytes of /big\.bin transferred\.\r\n$", r)
        assert m, r
        assert got <= int(m.group(1)) < len(BIG), r
        assert c.cmd("NOOP", timeout=5) == b"200 NOOP ok.\r\n"
        rest = read_all(d)
        assert bytes(BIG[:got]) + rest == BIG
        assert c.reply() == b"226 Transfer complete.\r\n"
        c.quit()


def test_session_listed_during_a_download_and_disconnect(srv):
    port = srv.fport
    with Ctl(port) as c:
        c.login()
        d, got = _start_blocked_download(c)
        s = wait_for(lambda: session_of(srv, c), timeout=5, interval=0.05, what="the session")
        assert s["service"] == "ftp" and s["site"] == "default" and s["tls"] is False, s
        assert s["user"] == "anonymous" and s["anonymous"] is True and s["logged_in"] is True, s
        assert s["request"] == "RETR /big.bin" and s["file"] == "/big.bin", s
        assert got <= s["transfer_bytes"] < len(BIG), s
        p = adm_ok(srv, "disconnect", str(s["id"]))
        assert p.out.strip() == "disconnected 1 session", p.out
        t0 = time.monotonic()
        c.expect_close(timeout=5)
        d.settimeout(5)
        received = got
        try:
            while True:
                chunk = d.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
        except ConnectionResetError:
            pass
        assert time.monotonic() - t0 < 5
        assert received < len(BIG), "the download went on after the disconnect"
        d.close()
    wait_for(lambda: session_of(srv, c) is None, timeout=5, interval=0.05, what="the session to end")
    assert_healthy(port)


def test_disconnect_mid_upload_leaves_no_file(srv):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    name = f"partial-{tag}.bin"
    with Ctl(port) as c:
        c.login()
        assert c.cmd("TYPE I").startswith(b"200 ")
        d = c.epsv()
        assert c.cmd(f"STOR /up/{name}") == b"150 Ok to send data.\r\n"
        d.sendall(BIG[:4 << 20])
        wait_for(lambda: temp_files(up), timeout=5, interval=0.02, what="the temporary file")
        s = wait_for(lambda: (lambda x: x if x and x["transfer_bytes"] > 0 else None)(session_of(srv, c)),
                     timeout=5, interval=0.05, what="the uploading session")
        assert s["request"] == f"STOR /up/{name}" and s["file"] == f"/up/{name}", s
        adm_ok(srv, "disconnect", str(s["id"]))
        c.expect_close(timeout=5)
        broken = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                d.sendall(BIG[:65536])
            except OSError:
                broken = True
                break
        assert broken, "the data connection of a disconnected upload is still open"
        d.close()
    wait_for(lambda: not temp_files(up) and not os.path.exists(os.path.join(up, name)), timeout=5,
             interval=0.05, what="no partial upload left")
    assert_healthy(port)


# -- 6. big files, both ways, plain and FTPS, passive and active ------------------------------------

def _huge_down(path, want_sha, what):
    assert os.path.getsize(path) == HUGE_SIZE, what
    assert sha256_file(path) == want_sha, what
    os.unlink(path)


def test_100mb_plain_passive_and_active(srv, huge, tmp_path):
    port = srv.fport
    src, sha = huge
    up = srv.dirs["up"]
    t0 = time.monotonic()
    try:
        for mode, extra in (("passive", []), ("active", ["--ftp-port", "127.0.0.1"])):
            out = tmp_path / f"down-{mode}.bin"
            p = curl(*extra, "-o", str(out), f"ftp://127.0.0.1:{port}/huge/huge.bin")
            assert p.returncode == 0, (mode, p.err)
            _huge_down(str(out), sha, f"download, {mode}")
            p = curl(*extra, "-T", src, f"ftp://127.0.0.1:{port}/up/huge-{mode}.bin")
            assert p.returncode == 0, (mode, p.err)
            _huge_down(os.path.join(up, f"huge-{mode}.bin"), sha, f"upload, {mode}")
    finally:
        for n in glob.glob(os.path.join(up, "huge-*.bin")):
            os.unlink(n)
    print(f"\n4 x 100 MB plain FTP with curl in {time.monotonic() - t0:.2f} s")


def test_100mb_ftps_passive(srv, huge, tmp_path):
    port = srv.fport
    src, sha = huge
    up = srv.dirs["up"]
    t0 = time.monotonic()
    try:
        out = tmp_path / "down.bin"
        p = curl("--ssl-reqd", "-k", "-o", str(out), f"ftp://127.0.0.1:{port}/huge/huge.bin")
        assert p.returncode == 0, p.err
        _huge_down(str(out), sha, "FTPS download, passive")
        p = curl("--ssl-reqd", "-k", "-T", src, f"ftp://127.0.0.1:{port}/up/huge-ftps.bin")
        assert p.returncode == 0, p.err
        _huge_down(os.path.join(up, "huge-ftps.bin"), sha, "FTPS upload, passive")
    finally:
        for n in glob.glob(os.path.join(up, "huge-*.bin")):
            os.unlink(n)
    print(f"\n2 x 100 MB FTPS (passive) with curl in {time.monotonic() - t0:.2f} s")


def test_100mb_ftps_active(srv, huge, tmp_path):
    """Active FTPS with ftplib: curl 7.88's active mode over TLS never starts
    TLS on the data connection it accepts (curl issue #10666)."""
    port = srv.fport
    src, sha = huge
    up = srv.dirs["up"]
    t0 = time.monotonic()
    try:
        f = ftp_tls(port)
        f.set_pasv(False)
        h = hashlib.sha256()
        n = [0]

        def sink(chunk):
            h.update(chunk)
            n[0] += len(chunk)

        assert f.retrbinary("RETR /huge/huge.bin", sink, blocksize=1 << 20) == "226 Transfer complete."
        assert n[0] == HUGE_SIZE and h.hexdigest() == sha
        with open(src, "rb") as fh:
            assert f.storbinary("STOR /up/huge-active.bin", fh, blocksize=1 << 20) == \
                "226 Transfer complete."
        f.quit()
        _huge_down(os.path.join(up, "huge-active.bin"), sha, "FTPS upload, active")
    finally:
        for n_ in glob.glob(os.path.join(up, "huge-*.bin")):
            os.unlink(n_)
    print(f"\n2 x 100 MB FTPS (active) with ftplib in {time.monotonic() - t0:.2f} s")


# -- 7. FTPS ---------------------------------------------------------------------------------------------

def test_explicit_ftps(srv, tmp_path):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    crt = os.path.join(srv.state_dir, "tls", "ftp-default.crt")
    try:
        f = ReuseFTP_TLS(context=client_ctx(), timeout=30)
        f.connect("127.0.0.1", port)
        assert f.auth() == "234 AUTH TLS successful; start the TLS handshake."
        # The generated self-signed certificate is the one served.
        with open(crt, encoding="ascii") as fh:
            assert f.sock.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(fh.read())
        assert f.login() == "230 Anonymous user logged in."
        assert f.prot_p() == "200 Data connections will be encrypted."
        assert "control connection encrypted; data connections encrypted" in f.sendcmd("STAT")
        assert fetch(f, "/blob.bin") == BLOB
        assert f.nlst("/sub") == ["deeper", "inner.txt", "recent.txt", "with space.txt"]
        f.storbinary(f"STOR /up/ftps-{tag}.bin", io.BytesIO(BLOB))
        with open(os.path.join(up, f"ftps-{tag}.bin"), "rb") as fh:
            assert fh.read() == BLOB
        f.quit()
        # A data connection that does not resume the session is refused.
        g = ftplib.FTP_TLS(context=client_ctx(), timeout=30)
        g.connect("127.0.0.1", port)
        g.auth()
        g.login()
        g.prot_p()
        with pytest.raises(ftplib.error_perm,
                           match="^522 The data connection must resume the control connection's TLS "
                                 "session.$"):
            g.retrbinary("RETR /hello.txt", lambda b: None)
        assert g.voidcmd("NOOP") == "200 NOOP ok."
        g.quit()
        # The raw protocol.
        with Ctl(port) as c:
            assert c.cmd("PBSZ 0") == b"503 PBSZ comes after AUTH TLS.\r\n"
            assert c.cmd("AUTH KERBEROS_V4") == b"504 AUTH supports TLS only.\r\n"
            c.starttls()
            assert c.cmd("AUTH TLS") == b"503 TLS is already on.\r\n"
            assert c.cmd("PROT P") == b"503 PROT comes after AUTH TLS and PBSZ.\r\n"
            c.login()
            assert c.cmd("PBSZ 16384") == b"200 PBSZ=0 (only 0 is supported)\r\n"
            assert c.cmd("PROT X") == b"504 PROT supports C and P.\r\n"
            assert c.cmd("CCC") == b"534 CCC is refused: the control connection stays encrypted.\r\n"
            # PROT C: clear data connections under an encrypted control connection.
            assert c.cmd("PROT C") == b"200 Data connections will be in the clear.\r\n"
            data, _, r226 = retr(c, "/hello.txt")
            assert (data, r226) == (HELLO, b"226 Transfer complete.\r\n")
            c.protect()
            data, _, r226 = retr(c, "/blob.bin")
            assert (data, r226) == (BLOB, b"226 Transfer complete.\r\n")
            assert listing(c, "NLST", "/sub") == b"deeper\r\ninner.txt\r\nrecent.txt\r\nwith space.txt\r\n"
            c.quit()
        # Bytes after AUTH TLS in the same packet would be lost to the handshake.
        with Ctl(port) as c:
            c.send(b"AUTH TLS\r\nUSER anonymous\r\n")
            assert c.reply() == b"503 Nothing may follow AUTH TLS before the TLS handshake.\r\n"
            assert c.expect_close() == b""
        # curl and lftp.
        p = curl("--ssl-reqd", "-k", f"ftp://127.0.0.1:{port}/blob.bin")
        assert p.returncode == 0 and p.stdout == BLOB, p.err
        p = lftp(port, ["cd /sub", "cls -1", f"get /blob.bin -o {tmp_path}/l.bin"], tmp_path)
        assert p.returncode == 0, p.err
        assert p.out.split("\n") == ["deeper/", "inner.txt", "recent.txt", "with space.txt", ""], p.out
        assert (tmp_path / "l.bin").read_bytes() == BLOB
        p = lftp(port, [f"get /blob.bin -o {tmp_path}/la.bin"], tmp_path, passive=False)
        assert p.returncode == 0, p.err
        assert (tmp_path / "la.bin").read_bytes() == BLOB
    finally:
        for n in os.listdir(up):
            if tag in n:
                os.unlink(os.path.join(up, n))


def test_ftp_tls_require_and_off(srv):
    port = srv.fport
    try:
        site_set(srv, "ftp_tls=require")
        want = b"530 TLS is required on this site: send AUTH TLS first.\r\n"
        wait_for(lambda: settled(lambda: exchange(port, "USER anonymous", login=False)[0] == want),
                 timeout=10, interval=0.1, what="ftp_tls=require")
        with Ctl(port) as c:
            assert c.cmd("USER anonymous") == want
            assert c.cmd("PASS x") == b"503 Send USER first.\r\n"
            c.starttls()
            c.login()
            d = c.epsv()
            assert c.cmd("RETR /hello.txt") == \
                b"521 Data connections must be encrypted here: send PBSZ 0 and PROT P.\r\n"
            assert c.cmd("LIST") == \
                b"521 Data connections must be encrypted here: send PBSZ 0 and PROT P.\r\n"
            d.close()
            assert c.cmd("PBSZ 0") == b"200 PBSZ=0\r\n"
            assert c.cmd("PROT C") == b"534 Data connections must be encrypted on this site.\r\n"
            assert c.cmd("PROT P") == b"200 Data connections will be encrypted.\r\n"
            c.prot_p = True
            data, _, r226 = retr(c, "/hello.txt")
            assert (data, r226) == (HELLO, b"226 Transfer complete.\r\n")
            c.quit()
        p = curl(f"ftp://127.0.0.1:{port}/hello.txt")
        assert p.returncode != 0 and p.stdout == b"", (p.returncode, p.stdout)
        p = curl("--ssl-reqd", "-k", f"ftp://127.0.0.1:{port}/hello.txt")
        assert p.returncode == 0 and p.stdout == HELLO, p.err
        f = ftp_tls(port)
        assert fetch(f, "/blob.bin") == BLOB
        f.quit()

        site_set(srv, "ftp_tls=off")
        wait_for(lambda: settled(lambda: exchange(port, "FEAT", login=False)[0] == FEAT_PLAIN), timeout=10,
                 interval=0.1, what="ftp_tls=off")
        with Ctl(port) as c:
            assert c.cmd("AUTH TLS") == b"534 TLS is not offered on this site.\r\n"
            c.login()
            c.quit()
        p = curl("--ssl-reqd", "-k", f"ftp://127.0.0.1:{port}/hello.txt")
        assert p.returncode != 0 and p.stdout == b"", (p.returncode, p.err)
    finally:
        site_unset(srv, "ftp_tls")
    wait_for(lambda: settled(lambda: exchange(port, "FEAT", login=False)[0] == FEAT_TLS),
             timeout=10, interval=0.1,
             what="ftp_tls back to allow")
    assert_healthy(port)


def test_implicit_ftps_binding(srv):
    port = srv.fport
    tport = free_port(avoid=(port,))
    crt = os.path.join(srv.state_dir, "tls", "ftp-default.crt")

    def tls_greeting():
        try:
            with Ctl(tport, implicit_tls=True, timeout=3) as c:
                return c.greeting
        except (OSError, AssertionError, EOFError):
            return None

    try:
        site_set(srv, f'bindings=["127.0.0.1:{port}","ftps://127.0.0.1:{tport}"]')
        assert wait_for(tls_greeting, timeout=10, interval=0.1, what="a greeting over ftps://") == GREETING
        with Ctl(tport, implicit_tls=True) as c:
            with open(crt, encoding="ascii") as fh:
                assert c.sock.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(fh.read())
            assert c.cmd("AUTH TLS") == b"503 TLS is already on.\r\n"
            c.login()
            assert b"control connection encrypted" in c.cmd("STAT")
            c.protect()
            data, _, r226 = retr(c, "/blob.bin")
            assert (data, r226) == (BLOB, b"226 Transfer complete.\r\n")
            s = wait_for(lambda: session_of(srv, c), timeout=5, interval=0.05, what="the session")
            assert s["tls"] is True, s
            c.quit()
        f = ImplicitFTPS(context=client_ctx(), timeout=30)
        assert f.connect("127.0.0.1", tport) == "220 infosrv FTP service ready."
        f.login()
        f.prot_p()
        assert fetch(f, "/blob.bin") == BLOB
        f.quit()
        p = curl("-k", f"ftps://127.0.0.1:{tport}/hello.txt")
        assert p.returncode == 0 and p.stdout == HELLO, p.err
        # The plain binding is unchanged.
        assert_healthy(port)
    finally:
        site_set(srv, f'bindings=["127.0.0.1:{port}"]')
    wait_for(lambda: refused(tport), timeout=10, interval=0.1, what="the ftps:// port to close")
    assert_healthy(port)


# -- 8. many clients ---------------------------------------------------------------------------------------

def test_fifty_concurrent_sessions(srv):
    port = srv.fport
    n = 50
    barrier = threading.Barrier(n)
    plan = [("/blob.bin", BLOB), ("/textbig.txt", TEXT_BIG), ("/hello.txt", HELLO),
            ("/sub/inner.txt", INNER), ("/big.bin", BIG)]
    results = [None] * n

    def client(i):
        path, want = plan[i % len(plan)]
        try:
            f = ftplib.FTP()
            f.connect("127.0.0.1", port, timeout=60)
            f.login()
            barrier.wait(timeout=60)
            got = fetch(f, path)
            f.quit()
            results[i] = "ok" if got == want else f"client {i} ({path}): {len(got)} of {len(want)} bytes"
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = f"client {i}: {e!r}"

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    print(f"\n{n} concurrent sessions downloaded in {time.monotonic() - t0:.2f} s")
    bad = [r for r in results if r != "ok"]
    assert not bad, "\n".join(str(b) for b in bad)
    assert ftp_stats(srv)["max_anonymous_users"] >= n
    assert_healthy(port)


# -- 9. hostile paths and commands ------------------------------------------------------------------------

def _perm(path):
    return f"550 {path}: permission denied (write access is not allowed here).\r\n".encode()


# (id, log in first, setup commands, the line, the exact reply, the server closes)
HOSTILE = [
    ("dotdot-etc-passwd", True, [], b"SIZE ../../etc/passwd",
     b"550 /etc/passwd: no such file or directory.\r\n", False),
    ("retr-dotdot-etc-passwd", True, ["EPSV"], b"RETR ../../../../etc/passwd",
     b"550 /etc/passwd: no such file or directory.\r\n", False),
    ("cwd-slash-dotdot", True, [], b"CWD /..", b"250 Directory changed to /.\r\n", False),
    ("dotdot-stops-at-root", True, [], b"SIZE /../../hello.txt", f"213 {len(HELLO)}\r\n".encode(), False),
    ("pct-encoded-dotdot", True, [], b"SIZE %2e%2e/%2e%2e/etc/passwd",
     b"550 /%2e%2e/%2e%2e/etc/passwd: no such file or directory.\r\n", False),
    ("backslashes", True, [], b"SIZE \\..\\..\\etc\\passwd",
     b"553 \\..\\..\\etc\\passwd: a backslash is not allowed in a name.\r\n", False),
    ("cwd-backslashes", True, [], b"CWD ..\\..",
     b"553 ..\\..: a backslash is not allowed in a name.\r\n", False),
    ("symlink-in-root-leading-out", True, ["EPSV"], b"RETR escape.txt",
     f"550 /escape.txt: {OUTSIDE}.\r\n".encode(), False),
    ("size-symlink-out", True, [], b"SIZE links/out.txt",
     f"550 /links/out.txt: {OUTSIDE}.\r\n".encode(), False),
    ("size-relative-symlink-out", True, [], b"SIZE /links/rel-out.txt",
     f"550 /links/rel-out.txt: {OUTSIDE}.\r\n".encode(), False),
    ("mdtm-symlink-out", True, [], b"MDTM /escape.txt", f"550 /escape.txt: {OUTSIDE}.\r\n".encode(), False),
    ("mlst-symlink-out", True, [], b"MLST /links/out.txt",
     f"550 /links/out.txt: {OUTSIDE}.\r\n".encode(), False),
    ("cwd-symlink-out-dir", True, [], b"CWD links/outdir",
     f"550 /links/outdir: {OUTSIDE}.\r\n".encode(), False),
    ("retr-through-symlink-dir", True, ["EPSV"], b"RETR /links/outdir/secret.txt",
     f"550 /links/outdir/secret.txt: {OUTSIDE}.\r\n".encode(), False),
    ("list-symlink-out-dir", True, ["EPSV"], b"LIST /links/outdir",
     f"550 /links/outdir: {OUTSIDE}.\r\n".encode(), False),
    ("stor-through-symlink-dir", True, ["EPSV"], b"STOR /up/outlink/planted.txt",
     f"550 /up/outlink/planted.txt: {OUTSIDE}.\r\n".encode(), False),
    ("appe-to-symlink-out", True, ["EPSV"], b"APPE /up/outfile",
     f"553 /up/outfile: {OUTSIDE}.\r\n".encode(), False),
    ("rest-stor-to-symlink-out", True, ["EPSV", "REST 3"], b"STOR /up/outfile",
     f"553 /up/outfile: {OUTSIDE}.\r\n".encode(), False),
    ("stor-dotdot-out-of-up", True, ["EPSV"], b"STOR /up/../../../evil.txt", _perm("/evil.txt"), False),
    ("mkd-dotdot", True, [], b"MKD ../../../evil-dir", _perm("/evil-dir"), False),
    ("rnfr-etc-passwd", True, [], b"RNFR /../../etc/passwd", _perm("/etc/passwd"), False),
    ("overlong-line", True, [], b"SIZE " + b"A" * 3000, b"500 line too long.\r\n", True),
    ("2049-byte-line", True, [], b"NOOP " + b"x" * 2044, b"500 line too long.\r\n", True),
    ("2048-byte-line-accepted", True, [], b"NOOP " + b"x" * 2043, b"200 NOOP ok.\r\n", False),
    ("nul-byte", True, [], b"SIZE hello.txt\x00/../../etc/passwd",
     b"501 NUL byte in command line.\r\n", False),
    ("port-foreign-address", True, [], b"PORT 10,0,0,1,100,100",
     b"504 PORT and EPRT may only name your own address (127.0.0.1).\r\n", False),
    ("port-privileged-port", True, [], b"PORT 127,0,0,1,0,21",
     b"504 PORT and EPRT may not name a privileged port (21).\r\n", False),
    ("port-malformed", True, [], b"PORT 127,0,0,1,300,1", b"501 PORT needs h1,h2,h3,h4,p1,p2.\r\n", False),
    ("port-too-few-fields", True, [], b"PORT 127,0,0,1,4", b"501 PORT needs h1,h2,h3,h4,p1,p2.\r\n", False),
    ("eprt-foreign-address", True, [], b"EPRT |1|10.0.0.1|5000|",
     b"504 PORT and EPRT may only name your own address (127.0.0.1).\r\n", False),
    ("eprt-other-loopback-address", True, [], b"EPRT |1|127.0.0.2|5000|",
     b"504 PORT and EPRT may only name your own address (127.0.0.1).\r\n", False),
    ("eprt-ipv6-address", True, [], b"EPRT |2|::1|5000|",
     b"504 PORT and EPRT may only name your own address (127.0.0.1).\r\n", False),
    ("eprt-privileged-port", True, [], b"EPRT |1|127.0.0.1|21|",
     b"504 PORT and EPRT may not name a privileged port (21).\r\n", False),
    ("eprt-bad-delimiter", True, [], b"EPRT |1|127.0.0.1!5000|",
     b"501 EPRT needs |1|ADDRESS|PORT| or |2|ADDRESS|PORT|.\r\n", False),
    ("eprt-digit-delimiter", True, [], b"EPRT 1112710011150001",
     b"501 EPRT needs |1|ADDRESS|PORT| or |2|ADDRESS|PORT|.\r\n", False),
    ("eprt-unterminated", True, [], b"EPRT |1|127.0.0.1|5000",
     b"501 EPRT needs |1|ADDRESS|PORT| or |2|ADDRESS|PORT|.\r\n", False),
    ("eprt-bad-family", True, [], b"EPRT |3|127.0.0.1|5000|",
     b"501 EPRT needs |1|ADDRESS|PORT| or |2|ADDRESS|PORT|.\r\n", False),
    ("list-before-login", False, [], b"LIST", NOT_LOGGED_IN, False),
    ("retr-before-login", False, [], b"RETR hello.txt", NOT_LOGGED_IN, False),
    ("cwd-before-login", False, [], b"CWD /sub", NOT_LOGGED_IN, False),
    ("pwd-before-login", False, [], b"PWD", NOT_LOGGED_IN, False),
    ("pasv-before-login", False, [], b"PASV", NOT_LOGGED_IN, False),
    ("port-before-login", False, [], b"PORT 127,0,0,1,200,1", NOT_LOGGED_IN, False),
    ("stor-before-login", False, [], b"STOR /up/x.txt", NOT_LOGGED_IN, False),
    ("dele-before-login", False, [], b"DELE /up/others.txt", NOT_LOGGED_IN, False),
    ("pass-before-user", False, [], b"PASS secret", b"503 Send USER first.\r\n", False),
    ("user-name-too-long", False, [], b"USER " + b"u" * 64,
     b"501 USER needs a name of at most 63 bytes.\r\n", False),
    ("unknown-command", True, [], b"XYZZ", b"500 XYZZ: command not understood.\r\n", False),
    ("unknown-long-verb", True, [], b"FOOBAR x", b"500 syntax error, command unrecognized.\r\n", False),
    ("verb-with-a-digit", True, [], b"R3TR hello.txt", b"500 syntax error, command unrecognized.\r\n", False),
    ("empty-line", True, [], b"", b"500 syntax error, command unrecognized.\r\n", False),
    ("site-command", True, [], b"SITE CHMOD 777 hello.txt", b"502 SITE is not implemented.\r\n", False),
    ("rein", True, [], b"REIN", b"502 REIN is not implemented.\r\n", False),
    ("rnto-without-rnfr", True, [], b"RNTO /up/x", b"503 Send RNFR first.\r\n", False),
    ("ccc-in-the-clear", True, [], b"CCC",
     b"534 CCC is refused: the control connection stays encrypted.\r\n", False),
    ("prot-without-auth", True, [], b"PROT P", b"503 PROT comes after AUTH TLS and PBSZ.\r\n", False),
    ("pbsz-without-auth", True, [], b"PBSZ 0", b"503 PBSZ comes after AUTH TLS.\r\n", False),
    ("auth-unknown-mechanism", True, [], b"AUTH GSSAPI", b"504 AUTH supports TLS only.\r\n", False),
    ("telnet-option-bytes", True, [], b"\xff\xfb\x01NOOP", b"200 NOOP ok.\r\n", False),
    ("bare-cr-inside-a-line", True, [], b"NOOP\rRETR /escape.txt",
     b"500 syntax error, command unrecognized.\r\n", False),
    ("invalid-utf8-path", True, [], b"SIZE /\xc3\x28\xa0.txt",
     b"550 /\xc3\x28\xa0.txt: no such file or directory.\r\n", False),
    ("telnet-iac-in-path", True, [], b"SIZE /\xff\xfe.txt",
     b"550 /txt: no such file or directory.\r\n", False),
]


@pytest.mark.parametrize("login,setup,line,want,closes", [c[1:] for c in HOSTILE],
                         ids=[c[0] for c in HOSTILE])
def test_hostile_input(srv, login, setup, line, want, closes):
    port = srv.fport
    base = os.path.dirname(srv.dirs["root"])
    before = sorted(os.listdir(base)), sorted(os.listdir(srv.dirs["outside"])), \
        sorted(os.listdir(srv.dirs["root"])), sorted(os.listdir(srv.dirs["up"]))
    with Ctl(port) as c:
        if login:
            c.login()
        data = []
        for s in setup:
            if s == "EPSV":
                data.append(c.epsv())
            else:
                assert c.cmd(s).startswith(b"350 "), s
        t0 = time.monotonic()
        c.send(line + b"\r\n")
        r = c.reply(timeout=5)
        assert time.monotonic() - t0 < 5
        assert r == want, f"{line[:80]!r}: {r!r}, expected {want!r}"
        assert SECRET not in r and b"root:" not in r
        if closes:
            assert c.expect_close(timeout=5) == b"", "bytes after the error of an overlong line"
        else:
            assert c.cmd("NOOP") == b"200 NOOP ok.\r\n", "the session goes on after the error"
        for d in data:
            d.close()
    after = sorted(os.listdir(base)), sorted(os.listdir(srv.dirs["outside"])), \
        sorted(os.listdir(srv.dirs["root"])), sorted(os.listdir(srv.dirs["up"]))
    assert after == before, "a hostile command changed the file system"
    with open(os.path.join(srv.dirs["outside"], "secret.txt"), "rb") as fh:
        assert fh.read() == SECRET
    assert_healthy(port)


def test_listings_do_not_reveal_links_leading_outside(srv):
    """A listing shows what the server serves: a symlink leading outside the
    root is refused, so neither it nor the outside file's size and date may show."""
    port = srv.fport
    secret_date = "Sep  9  2001"
    with Ctl(port) as c:
        c.login()
        for directory in ("/links", "/"):
            names = listing(c, "NLST", directory).decode().split("\r\n")[:-1]
            refused_names = []
            for n in names:
                path = f"{directory.rstrip('/')}/{n}"
                r = c.cmd(f"MLST {path}")
                if OUTSIDE.encode() in r:
                    refused_names.append(path)
            long_list = listing(c, "LIST", directory).decode()
            mlsd = listing(c, "MLSD", directory).decode()
            assert secret_date not in long_list and time14(SECRET_MTIME) not in mlsd, \
                f"LIST/MLSD of {directory} show the date of a file outside the root:\n{long_list}"
            assert not refused_names, f"NLST {directory} lists entries it refuses: {refused_names}"
        assert listing(c, "NLST", "/links") == b"in.txt\r\n"
        c.quit()


def test_passive_port_accepts_only_the_client_address(srv):
    """On Linux the whole of 127.0.0.0/8 is local, so a connection from
    127.0.0.2 is another address than the client's 127.0.0.1: the passive
    port must refuse it and still accept the client's own."""
    port = srv.fport
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.2", 0))
    except OSError as e:
        pytest.skip(f"cannot bind 127.0.0.2 here ({e}): only the client's own address can be tested")
    finally:
        probe.close()
    with Ctl(port) as c:
        c.login()
        r = c.cmd("EPSV")
        pport = int(re.search(rb"\|\|\|(\d+)\|", r).group(1))
        thief = socket.socket()
        thief.bind(("127.0.0.2", 0))
        thief.settimeout(5)
        thief.connect(("127.0.0.1", pport))
        try:
            stolen = thief.recv(100)
        except ConnectionResetError:
            stolen = b""
        thief.close()
        assert stolen == b"", "the passive port served another address"
        wait_for(lambda: "refused a data connection from 127.0.0.2" in srv.error_log(), timeout=5,
                 interval=0.05, what="the refusal in the error log")
        d = socket.create_connection(("127.0.0.1", pport), timeout=10)
        assert c.cmd("RETR /blob.bin").startswith(b"150 ")
        assert read_all(d) == BLOB
        assert c.reply() == b"226 Transfer complete.\r\n"
        c.quit()


def test_passive_port_range_and_data_timeout(srv):
    port = srv.fport
    pp = free_port(avoid=(port,))
    want = f"229 Entering Extended Passive Mode (|||{pp}|).\r\n".encode()
    try:
        site_set(srv, f"passive_port_min={pp}", f"passive_port_max={pp}", "data_timeout=1")
        wait_for(lambda: settled(lambda: exchange(port, "EPSV")[0] == want), timeout=10, interval=0.1,
                 what="the passive range")
        with Ctl(port) as c:
            c.login()
            # A passive connection nobody opens: 425 after data_timeout.
            assert c.cmd("EPSV") == want
            t0 = time.monotonic()
            assert c.cmd("RETR /hello.txt").startswith(b"150 ")
            assert c.reply(timeout=5) == b"425 The data connection did not open in time.\r\n"
            assert 0.8 <= time.monotonic() - t0 < 4
            assert c.cmd("NOOP") == b"200 NOOP ok.\r\n"
            c.quit()
        p = adm(srv, "set", "/ftp/sites/default", f"passive_port_min={pp + 10}", f"passive_port_max={pp}")
        assert p.returncode != 0 and "do not make a range" in p.out + p.err, (p.out, p.err)
        # The one port of the range serves one transfer after another (the
        # connection just closed on it is in TIME_WAIT).
        with Ctl(port) as c:
            c.login()
            for i in range(3):
                data, _, r226 = retr(c, "/hello.txt")
                assert (data, r226) == (HELLO, b"226 Transfer complete.\r\n"), i
            c.quit()
    finally:
        site_unset(srv, "passive_port_min", "passive_port_max", "data_timeout")
    wait_for(lambda: settled(lambda: exchange(port, "EPSV")[0] != want), timeout=10, interval=0.1,
             what="any passive port again")
    assert_healthy(port)


def test_connection_limits(srv):
    port = srv.fport
    busy = b"421-Busy, busy.\r\n421 Too many connections from your address; try again later.\r\n"
    site_busy = b"421 The site has too many connections right now; try again later.\r\n"
    held = []

    def hold_two_and_refuse_a_third():
        a, b = Ctl(port), Ctl(port)
        with Ctl(port) as c:
            ok = a.greeting == GREETING and b.greeting == GREETING and c.greeting == busy
            if ok:
                assert c.expect_close() == b"", "the refused connection stays open"
        if ok:
            return a, b
        a.close()
        b.close()
        return None

    try:
        site_set(srv, "max_connections_per_address=2", 'ftp_max_clients_message=["Busy, busy."]')
        def refused_with_two_held():
            pair = hold_two_and_refuse_a_third()
            for x in pair or ():
                x.close()
            return pair is not None

        wait_for(lambda: settled(refused_with_two_held), timeout=10, interval=0.1,
                 what="max_connections_per_address")
        # The server counts a closed connection out when it reads the close: retry until the
        # connections of the previous probe are gone.
        held = list(wait_for(hold_two_and_refuse_a_third, timeout=10, interval=0.1,
                             what="two connections held and a third refused"))
        held.pop().close()
        # One of the two closed: there is room for one more.
        wait_for(lambda: greeting_of(port) == GREETING, timeout=5, interval=0.05,
                 what="a connection once one is closed")
        for h in held:
            h.close()
        held = []
        site_unset(srv, "max_connections_per_address", "ftp_max_clients_message")
        site_set(srv, "max_connections=1")

        def second_refused():
            with Ctl(port) as a, Ctl(port) as b:
                return a.greeting == GREETING and b.greeting == site_busy

        wait_for(lambda: settled(second_refused), timeout=10, interval=0.1, what="max_connections")
    finally:
        for h in held:
            h.close()
        site_unset(srv, "max_connections_per_address", "ftp_max_clients_message", "max_connections")
    wait_for(lambda: settled(lambda: greeting_of(port) == GREETING), timeout=10, interval=0.1,
             what="no limit again")
    assert_healthy(port)


# -- 10. statistics and the access log -----------------------------------------------------------------

COUNTED = ("files_sent", "files_received", "logon_attempts", "bytes_sent", "bytes_received",
           "total_connections", "connection_attempts", "not_found_errors")


def test_statistics_deltas(srv):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    try:
        wait_for(lambda: ftp_stats(srv)["current_connections"] == 0, timeout=10, interval=0.1,
                 what="no FTP connection left from other tests")
    except AssertionError as e:
        raise AssertionError(f"{e}: {ftp_stats(srv)}\nsessions: {ftp_sessions(srv)}")
    before = ftp_stats(srv)
    clients = [Ctl(port) for _ in range(3)]
    try:
        for c in clients:
            c.login()
        now = wait_for(lambda: (lambda s: s if s["current_anonymous_users"] == 3 else None)(ftp_stats(srv)),
                       timeout=5, interval=0.05, what="three anonymous users")
        assert now["max_anonymous_users"] >= 3 and now["current_connections"] == 3, now
        c = clients[0]
        assert retr(c, "/hello.txt")[0] == HELLO
        assert retr(c, "/blob.bin")[0] == BLOB
        listing(c, "LIST", "/sub")
        assert stor(c, f"/up/stats-{tag}.bin", BLOB)[1] == b"226 Transfer complete.\r\n"
        assert c.cmd(f"SIZE /nope-{tag}") == f"550 /nope-{tag}: no such file or directory.\r\n".encode()
        for x in clients:
            x.quit()
    finally:
        for x in clients:
            x.close()
        if os.path.exists(os.path.join(up, f"stats-{tag}.bin")):
            os.unlink(os.path.join(up, f"stats-{tag}.bin"))
    sent = sum(x.sent + x.data_sent for x in clients)
    received = sum(x.received + x.data_received for x in clients)
    want = {"files_sent": 2, "files_received": 1, "logon_attempts": 3, "bytes_sent": received,
            "bytes_received": sent, "total_connections": 3, "connection_attempts": 3,
            "not_found_errors": 1}
    last = {}

    def moved():
        after = ftp_stats(srv)
        last.update({k: after[k] - before[k] for k in COUNTED})
        last["current_anonymous_users"] = after["current_anonymous_users"]
        last["current_connections"] = after["current_connections"]
        return all(last[k] == v for k, v in want.items()) and after["current_anonymous_users"] == 0 \
            and after["current_connections"] == 0

    try:
        wait_for(moved, timeout=8, interval=0.2, what="the counters")
    except AssertionError:
        raise AssertionError(f"counter deltas {last} != expected {want} (and no current users)")


def test_access_log_w3c(srv):
    port = srv.fport
    up = srv.dirs["up"]
    tag = uuid.uuid4().hex[:10]
    password = f"pw-{tag}@example.org"
    name = f"/up/log-{tag}.bin"
    aborted_before = sum(1 for r in ftp_log_records(srv)
                         if r.get("cs-method") == "RETR" and r.get("cs-uri-stem") == "/big.bin"
                         and r.get("sc-status") == "426")
    try:
        with Ctl(port) as c:
            c.login(password=password)
            assert stor(c, name, BLOB)[1] == b"226 Transfer complete.\r\n"
            assert retr(c, name)[0] == BLOB
            # The client drops the data connection: 426.
            d, _ = _start_blocked_download(c)
            d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            d.close()
            assert c.reply(timeout=10) == b"426 The data connection broke; transfer aborted.\r\n"
            c.quit()

        def mine():
            recs = ftp_log_records(srv)
            ours = [r for r in recs if tag in r.get("cs-uri-stem", "")]
            aborted = [r for r in recs if r.get("cs-method") == "RETR" and r.get("cs-uri-stem") == "/big.bin"
                       and r.get("sc-status") == "426"]
            return (ours, aborted) if len(ours) >= 2 and len(aborted) > aborted_before else None

        ours, aborted = wait_for(mine, timeout=15, interval=0.2, what="the W3C records")
    finally:
        if os.path.exists(os.path.join(up, f"log-{tag}.bin")):
            os.unlink(os.path.join(up, f"log-{tag}.bin"))
    methods = sorted((r["cs-method"], r["sc-status"]) for r in ours)
    assert methods == [("RETR", "226"), ("STOR", "226")], ours
    for r in ours + aborted[-1:]:
        for f in ("date", "time", "s-sitename", "s-ip", "s-port", "cs-method", "cs-uri-stem", "c-ip",
                  "cs-username", "sc-status"):
            assert f in r, f"W3C field {f} missing: {sorted(r)}"
        assert r["s-sitename"] == "default" and r["c-ip"] == "127.0.0.1", r
        assert int(r["s-port"]) == port and r["cs-username"] == "anonymous", r
        assert re.match(r"^\d{4}-\d\d-\d\d$", r["date"]) and re.match(r"^\d\d:\d\d:\d\d$", r["time"]), r
    for r in ours:
        assert r["cs-uri-stem"] == name, r
    logins = [r for r in ftp_log_records(srv) if r.get("cs-method") == "PASS" and r.get("sc-status") == "230"]
    assert logins and logins[-1]["cs-uri-stem"] == "anonymous", logins[-1:]
    assert password not in ftp_logs_text(srv), "the password is in a log"


# -- 11. daemons of their own: FTP only, stop/start, idle timeout, login block, crashes --------------

def test_ftp_only_daemon_stop_and_start(solo):
    s = solo()
    port = s.fport
    assert sorted(e["service"] for e in s.listeners["listeners"]) == ["admin", "ftp"], s.listeners
    assert json.loads(adm_ok(s, "--json", "site", "list", "--service", "www").out)["sites"] == []
    assert_healthy(port)
    with Ctl(port) as c:
        c.login()
        d, got = _start_blocked_download(c)
        assert adm_ok(s, "stop", "ftp").out.strip() == "ftp: stopped"
        wait_for(lambda: refused(port), timeout=10, interval=0.1, what="refused after stop")
        rest = c.expect_close(timeout=10)
        assert rest in (b"", b"421 The service is shutting down; closing the connection.\r\n"), rest
        d.settimeout(10)
        try:
            while True:
                chunk = d.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
        except ConnectionResetError:
            pass
        d.close()
        assert got < len(BIG), "the transfer of a stopped service went on"
    assert ftp_sessions(s) == []
    assert adm_ok(s, "start", "ftp").out.strip() == "ftp: started"
    wait_for(lambda: not refused(port), timeout=10, interval=0.1, what="served after start")
    assert_healthy(port)
    with Ctl(port) as c:
        c.login()
        assert retr(c, "/big.bin")[0] == BIG
        c.quit()


def test_idle_control_connection_is_closed(solo):
    s = solo()
    port = s.fport
    adm_ok(s, "set", "/ftp/sites/default", "connection_timeout=2")
    # A session started before the new generation reached the workers keeps
    # the old timeout: try a second one if the first is not closed in time.
    for attempt in range(2):
        with Ctl(port) as c:
            c.login()
            t0 = time.monotonic()
            try:
                r = c.reply(timeout=6)
            except AssertionError:
                if attempt == 0:
                    continue
                raise
            t = time.monotonic() - t0
            assert r == b"421 Timeout: no command for 2 seconds; closing the connection.\r\n", r
            assert c.expect_close() == b""
            break
    print(f"\nidle control connection closed after {t:.2f} s (connection_timeout=2)")
    assert 1.5 <= t < 6, t
    assert_healthy(port)


def test_five_failed_logins_block_the_address(solo):
    s = solo()
    port = s.fport
    before = ftp_stats(s)["logon_attempts"]
    results = [None] * 5

    def fail(i):
        try:
            with Ctl(port) as c:
                assert c.cmd(f"USER nobody{i}") == f"331 Password required for nobody{i}.\r\n".encode()
                t0 = time.monotonic()
                r = c.cmd("PASS wrong-password", timeout=15)
                results[i] = (r, time.monotonic() - t0)
                c.quit()
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = (repr(e), 0)

    threads = [threading.Thread(target=fail, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for r, t in results:
        assert r == b"530 Login incorrect.\r\n", results
        assert 0.9 <= t < 10, f"a wrong password answered after {t:.2f} s"
    print(f"\nwrong passwords answered after {min(t for _, t in results):.2f}-"
          f"{max(t for _, t in results):.2f} s")
    # The address is blocked now, for every user, anonymous included.
    for user in ("nobody0", "anonymous"):
        with Ctl(port) as c:
            assert c.greeting == GREETING
            assert c.cmd(f"USER {user}").startswith(b"331 ")
            r = c.cmd("PASS x")
            m = re.match(rb"^421 Too many failed logins from your address; try again in (\d+) seconds"
                         rb"\.\r\n$", r)
            assert m and 280 <= int(m.group(1)) <= 300, r
            assert c.expect_close() == b""
    assert ftp_stats(s)["logon_attempts"] - before == 7


def test_ten_thousand_entries(solo):
    """A big directory on a daemon of its own: LIST, NLST and MLSD of 10,000 entries."""
    many = 10000
    s = solo(many=many)
    port = s.fport
    d = os.path.join(s.root, "many")
    names = listed_names(d)
    stats = {n: os.stat(os.path.join(d, n)) for n in names}
    with Ctl(port, timeout=30) as c:
        c.login()
        t0 = time.monotonic()
        nlst = listing(c, "NLST", "/many")
        cold = time.monotonic() - t0
        now = time.time()
        body = listing(c, "LIST", "/many")
        mlsd = listing(c, "MLSD", "/many")
        c.quit()
    print(f"\n10,000-entry NLST in {cold:.3f} s")
    assert nlst == b"".join(f"{n}\r\n".encode() for n in names), f"{nlst.count(NL)} names"
    assert body == b"".join(unix_line(n, stats[n], now) for n in names), f"{body.count(NL)} lines"
    assert mlsd == b"".join(f"{mlsx_facts(stats[n])} {n}\r\n".encode() for n in names)
    assert_healthy(port)


def test_a_fast_download_does_not_starve_its_worker(solo):
    """Other sessions on the worker are answered while a transfer to a fast
    reader is in progress (one worker, so that they share it)."""
    s = solo(workers=1)
    port = s.fport
    size = 64 * 1024 * 1024
    with open(os.path.join(s.root, "fast.txt"), "wb") as fh:
        fh.write((b"x" * 63 + b"\n") * (size // 64))
    with Ctl(port, timeout=30) as other, Ctl(port, timeout=30) as c:
        other.login()
        c.login()
        assert c.cmd("TYPE A").startswith(b"200 ")
        d = c.epsv()
        assert c.cmd("RETR /fast.txt").startswith(b"150 ")
        got = [0]
        done = threading.Event()

        def reader():
            try:
                while True:
                    chunk = d.recv(1 << 20)
                    if not chunk:
                        break
                    got[0] += len(chunk)
            finally:
                done.set()

        t = threading.Thread(target=reader)
        t.start()
        wait_for(lambda: got[0] >= 1 << 20 or done.is_set(), timeout=10, interval=0.001,
                 what="the download to start")
        started = got[0]
        t0 = time.monotonic()
        r = other.cmd("NOOP", timeout=30)
        latency = time.monotonic() - t0
        at_reply, finished = got[0], done.is_set()
        t.join(60)
        d.close()
        assert c.reply() == b"226 Transfer complete.\r\n"
        total = got[0]
        print(f"\nNOOP answered after {latency:.3f} s, {at_reply - started} bytes of the download later")
        assert r == b"200 NOOP ok.\r\n"
        assert total == size + size // 64
        assert not finished and at_reply < total, \
            f"the other session was answered only after the download ended ({latency:.3f} s): " \
            f"one transfer holds the worker"
        other.quit()
        c.quit()


CHILD_CLIENT = r"""
import re, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
def reply(f):
    while True:
        line = f.readline()
        if not line or line[3:4] == b" ":
            return line
keep = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"USER ftp\r\nPASS x\r\nTYPE I\r\nEPSV\r\n")
    reply(f); reply(f); reply(f)
    p = int(re.search(rb"\|\|\|(\d+)\|", reply(f)).group(1))
    d = socket.socket()
    d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    d.connect(("127.0.0.1", p))
    if i % 4 == 3:
        s.sendall(b"STOR /up/killed-%d.bin\r\n" % i)
        reply(f)
        d.sendall(b"x" * 100000)
    else:
        s.sendall(b"RETR /big.bin\r\n")
        reply(f)
        d.recv(1000)
    keep += [s, f, d]
print("ready", flush=True)
sys.stdin.read()
"""


def test_clients_killed_mid_transfer(solo):
    """Clients that die with transfers in progress: the control and data
    connections of each close together (one worker, so that their events
    share epoll batches)."""
    s = solo(workers=1)
    port = s.fport
    for round_ in range(3):
        p = subprocess.Popen([sys.executable, "-c", CHILD_CLIENT, str(port), "12"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        try:
            assert p.stdout.readline().strip() == b"ready"
            wait_for(lambda: len(temp_files(s.up)) == 3, timeout=10, interval=0.05,
                     what="the uploads in progress")
        finally:
            p.kill()
            p.wait()
        wait_for(lambda: s.proc.poll() is not None or ftp_sessions(s) == [], timeout=10, interval=0.1,
                 what="the sessions of the killed client to end")
        assert s.proc.poll() is None, f"the daemon died in round {round_}:\n{s.stderr()[-3000:]}"
        # No temporary file is left behind. In stream mode the end of the data
        # connection is the end of the file: an upload whose client died after
        # sending its bytes may have taken its name, with exactly those bytes.
        wait_for(lambda: not temp_files(s.up), timeout=5, interval=0.05,
                 what="no temporary upload left")
        for n in os.listdir(s.up):
            assert re.match(r"^killed-\d+\.bin$", n), n
            with open(os.path.join(s.up, n), "rb") as fh:
                assert fh.read() == b"x" * 100000, n
            os.unlink(os.path.join(s.up, n))
    assert_healthy(port)


# -- 12. named users (on their own daemon) ---------------------------------------------------------------

def add_user(srv, name, home, password):
    p = adm_input(srv, password + "\n", "user", "add", name, "--home", home, "--password-stdin")
    assert p.returncode == 0, \
        f"infoadm user add {name} --home {home} --password-stdin: exit {p.returncode}\n" \
        f"stdout: {p.out}\nstderr: {p.err}"
    return p


def remove_user(srv, name):
    return adm(srv, "user", "remove", name)


def login_reply(port, user, password, timeout=15):
    with Ctl(port) as c:
        r = c.cmd(f"USER {user}")
        assert r == f"331 Password required for {user}.\r\n".encode(), r
        t0 = time.monotonic()
        r = c.cmd(f"PASS {password}", timeout=timeout)
        t = time.monotonic() - t0
        if code(r) == 230:
            c.quit()
        return r, t


def test_user_add_list_passwd_remove(usrv):
    port = usrv.fport
    pw, pw2 = "alice-Secr3t-pass", "alice-N3w-pass"
    try:
        p = add_user(usrv, "alice", "/home/alice", pw)
        assert pw not in p.out + p.err
        p = adm_ok(usrv, "user", "list")
        assert "alice" in p.out and "/home/alice" in p.out, p.out
        got = adm_ok(usrv, "get", "/ftp/users/alice").out
        assert "/home/alice" in got and pw not in got and "argon2" not in got, got
        with Ctl(port) as c:
            assert c.cmd("USER alice") == b"331 Password required for alice.\r\n"
            assert c.cmd(f"PASS {pw}", timeout=15) == b"230 User logged in.\r\n"
            assert c.cmd("PWD") == b'257 "/" is the current directory.\r\n'
            assert listing(c, "NLST") == b"alice.txt\r\n"
            assert retr(c, "/alice.txt")[0] == ALICE
            assert b" Logged in as alice\r\n" in c.cmd("STAT")
            sess = wait_for(lambda: session_of(usrv, c), timeout=5, interval=0.05, what="the session")
            assert sess["user"] == "alice" and sess["anonymous"] is False, sess
            st = ftp_stats(usrv)
            assert st["current_nonanonymous_users"] == 1 and st["max_nonanonymous_users"] >= 1, st
            c.quit()
        r, t = login_reply(port, "alice", "wrong")
        assert r == b"530 Login incorrect.\r\n" and 0.9 <= t < 10, (r, t)
        p = adm_input(usrv, pw2 + "\n", "user", "passwd", "alice", "--password-stdin")
        assert p.returncode == 0, (p.out, p.err)
        assert login_reply(port, "alice", pw2)[0] == b"230 User logged in.\r\n"
        r, t = wait_for(lambda: (lambda x: x if x[0] != b"230 User logged in.\r\n" else None)(
            login_reply(port, "alice", pw)), timeout=10, interval=0.1, what="the old password to fail")
        assert r == b"530 Login incorrect.\r\n", r
        assert login_reply(port, "alice", pw2)[0] == b"230 User logged in.\r\n"
    finally:
        remove_user(usrv, "alice")
    p = adm_ok(usrv, "user", "list")
    assert "alice" not in p.out, p.out
    r, _ = login_reply(port, "alice", pw2)
    assert r == b"530 Login incorrect.\r\n", r
    assert exchange(port, "NOOP")[0] == b"200 NOOP ok.\r\n", "anonymous logins reset the failures"


def test_named_user_over_ftps_uploads_and_is_confined(usrv):
    port = usrv.fport
    up = usrv.dirs["up"]
    pw = "bob-Upl0ad-pass"
    try:
        add_user(usrv, "bob", "/up/bob", pw)
        f = ftp_tls(port, "bob", pw)
        assert f.pwd() == "/"
        assert f.storbinary("STOR report.bin", io.BytesIO(BLOB)) == "226 Transfer complete."
        with open(os.path.join(up, "bob", "report.bin"), "rb") as fh:
            assert fh.read() == BLOB
        assert fetch(f, "/report.bin") == BLOB
        assert "perm=cdeflmp;" in f.sendcmd("MLST /")
        f.cwd("..")
        assert f.pwd() == "/", "'..' stops at the user's home"
        f.cwd("/../..")
        assert f.pwd() == "/"
        # Uploads above the home land in it.
        f.storbinary("STOR ../../escape.bin", io.BytesIO(HELLO))
        assert os.path.exists(os.path.join(up, "bob", "escape.bin"))
        assert not os.path.exists(os.path.join(up, "escape.bin"))
        # Nothing outside the home is reachable.
        for cmd in ("SIZE /others.txt", "SIZE ../others.txt", "SIZE /../hello.txt", "SIZE ../../hello.txt",
                    "CWD /up", "CWD /home/alice", "SIZE /link-out.txt"):
            with pytest.raises(ftplib.error_perm, match="^550 "):
                f.sendcmd(cmd)
        names = set(f.nlst("/"))
        assert {"escape.bin", "report.bin"} <= names and "others.txt" not in names, names
        c_port = f.sock.getsockname()[1]
        sess = [x for x in ftp_sessions(usrv) if x["client"] == f"127.0.0.1:{c_port}"]
        assert sess and sess[0]["user"] == "bob" and sess[0]["tls"] is True and \
            sess[0]["anonymous"] is False, sess
        f.quit()
    finally:
        remove_user(usrv, "bob")
        for n in ("report.bin", "escape.bin"):
            if os.path.exists(os.path.join(up, "bob", n)):
                os.unlink(os.path.join(up, "bob", n))


def test_named_user_whose_home_is_missing(usrv):
    port = usrv.fport
    try:
        add_user(usrv, "carol", "/nope", "carol-pass")
        r, _ = login_reply(usrv.fport, "carol", "carol-pass")
        assert r == b"530 Your home directory /nope does not exist on this site.\r\n", r
    finally:
        remove_user(usrv, "carol")
    assert_healthy(port)


def test_disabled_user_cannot_log_in(usrv):
    port = usrv.fport
    try:
        add_user(usrv, "dave", "/", "dave-pass")
        assert login_reply(port, "dave", "dave-pass")[0] == b"230 User logged in.\r\n"
        adm_ok(usrv, "set", "/ftp/users/dave", "enabled=false")
        r, t = wait_for(lambda: (lambda x: x if x[0] != b"230 User logged in.\r\n" else None)(
            login_reply(port, "dave", "dave-pass")), timeout=10, interval=0.1, what="dave disabled")
        assert r == b"530 Login incorrect.\r\n" and t >= 0.9, (r, t)
    finally:
        remove_user(usrv, "dave")
    assert_healthy(port)


def test_anonymous_only_and_no_anonymous(usrv):
    port = usrv.fport
    try:
        adm_ok(usrv, "set", "/ftp/sites/default", "anonymous_only=true")
        want = b"530 Only anonymous logins are allowed here.\r\n"
        wait_for(lambda: settled(lambda: exchange(port, "USER someone", login=False)[0] == want), timeout=10,
                 interval=0.1, what="anonymous_only")
        assert exchange(port, "USER someone", "PASS x", login=False) == [want, b"503 Send USER first.\r\n"]
        assert_healthy(port)
        adm_ok(usrv, "set", "/ftp/sites/default", "anonymous_only=false", "allow_anonymous=false")
        want = b"530 Anonymous logins are not allowed here.\r\n"
        wait_for(lambda: settled(lambda: exchange(port, "USER anonymous", login=False)[0] == want),
                 timeout=10, interval=0.1, what="allow_anonymous=false")
        assert exchange(port, "USER ftp", "PASS x", login=False) == [want, b"503 Send USER first.\r\n"]
        p = curl(f"ftp://127.0.0.1:{port}/hello.txt")
        assert p.returncode == 67 and p.stdout == b"", (p.returncode, p.err)  # CURLE_LOGIN_DENIED
    finally:
        adm_ok(usrv, "unset", "/ftp/sites/default", "anonymous_only", "allow_anonymous")
    wait_for(lambda: settled(lambda: exchange(port, "NOOP")[0] == b"200 NOOP ok.\r\n"),
             timeout=10, interval=0.1,
             what="anonymous logins again")
    assert_healthy(port)
