"""End-to-end tests of the Gopher service (RFC 1436 and Gopher+) with real
clients: a raw-socket client that sends exact bytes, curl's gopher://, lynx
-dump and Python's ssl module for gophers://.

One daemon (--http and --gopher, so both default sites are seeded) serves
the module from a known tree; tests that change its configuration put it
back before they end. Stopping, pausing and the idle timeout run on
daemons of their own."""

import glob
import html
import json
import os
import random
import re
import socket
import ssl
import subprocess
import threading
import time
import uuid

import pytest

from conftest import AdminServer, adm, adm_ok, serving, client_ctx
from rawhttp import wait_for

# -- the tree ------------------------------------------------------------------

FIXED_MTIME = 1591012800  # 2020-06-01 12:00:00 UTC
FIXED_MOD_DATE = " Mod-Date: Mon Jun 01 12:00:00 2020 <20200601120000>\r\n"

HELLO = b"Hello, gopherspace!\n"
SECRET = b"TOP-SECRET-gopher-4b1d-do-not-serve\n"
SECRET_MTIME = 1000000000  # 2001-09-09 01:46:40 UTC: shows if the outside file's date leaks
SECRET_STAMP = "20010909014640"
DOTS = b".first line starts with a dot\nmiddle\n..two dots\n.\nlast line without a newline"
HTML = b"<!DOCTYPE html>\n<html><body><p>an html item</p></body></html>\n"


def _big_text():
    """About 1 MiB of text with many '.'-initial lines (and CRLF ones)."""
    rnd = random.Random(1436)
    shapes = [".", "..", "...", ".hidden-looking line {n}", ". dot and space {n}",
              "plain text line {n}", "", ".\r", "crlf line {n}\r", "\t.tab then dot {n}",
              "a.b.c {n}", "..{n}..", "x" * 100]
    lines, size, n = [], 0, 0
    while size < 1024 * 1024:
        line = rnd.choice(shapes).format(n=n)
        n += 1
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def _blob():
    """Binary bytes holding what a text decoder would mangle: ".\\r\\n" lines, "..", NULs."""
    rnd = random.Random(70)
    parts = []
    for _ in range(300):
        parts.append(rnd.randbytes(1000))
        parts.append(rnd.choice([b"\n.\r\n", b"\n..\n", b"\r\n.\r\n", b"\x00\n.", b"\n"]))
    return b"".join(parts)


BIG_TEXT = _big_text()
BLOB = _blob()
HUGE = random.Random(71).randbytes(16 * 1024 * 1024)

ROOT_FILES = {
    "100%.txt": b"percent in the name\n",
    "README": b"Read me first.\n",
    "Zeta.txt": b"Uppercase names sort before lowercase ones.\n",
    "about.txt": b"About this server.\n",
    "archive.zip": b"PK\x03\x04" + bytes(range(256)),
    "big.txt": BIG_TEXT,
    "blob.bin": BLOB,
    "doc.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    "dots.txt": DOTS,
    "empty.txt": b"",
    "hello.txt": HELLO,
    "index.html": HTML,
    "mac.hqx": b"(This file must be converted with BinHex 4.0)\n",
    "photo.png": b"\x89PNG\r\n\x1a\n" + bytes(64),
    "pic.gif": b"GIF89a" + bytes(32),
    "song.mp3": b"ID3\x03\x00" + bytes(64),
    "tarball.tar.gz": b"\x1f\x8b\x08\x00" + bytes(32),
}
ROOT_DIRS = ["links", "many", "mapped", "mapped2", "mapped3", "sub", "tagged"]
EXPECTED_TYPES = {
    "100%.txt": "0", "README": "0", "Zeta.txt": "0", "about.txt": "0", "archive.zip": "5",
    "big.txt": "0", "blob.bin": "9", "doc.pdf": "d", "dots.txt": "0", "empty.txt": "0",
    "hello.txt": "0", "index.html": "h", "mac.hqx": "4", "photo.png": "I", "pic.gif": "g",
    "song.mp3": "s", "tarball.tar.gz": "5",
    **{d: "1" for d in ROOT_DIRS},
}
# Entries that are in the root directory but never in its menu.
ROOT_HIDDEN = [".hidden", ".config", "tab\tname.txt", "new\nline.txt", "dangling"]

MANY = 10000

GOPHERMAP_V1 = (
    "!Mapped directory\n"
    "Welcome to the mapped directory.\n"
    "# this comment is not shown\n"
    "0Relative link\trel.txt\n"
    "0Absolute link\t/hello.txt\n"
    "1Elsewhere\t/world\tgopher.example.org\t7070\n"
    "hWeb link\tURL:https://example.org/\n"
    "Xbroken line\tnowhere\n"
    "-secret.txt\n"
    "*\n"
    "this text after the star is not shown\n"
)
GOPHERMAP_V1_BAD = "gopher: site default: /mapped/gophermap:8: unknown item type"
GOPHERMAP_V2 = (
    "Version two.\n"
    "0Bad port\t/x\thost.example\t99999\n"
    "0Hello again\t/hello.txt\n"
    ".\n"
    "0Not shown after the end\t/hello.txt\n"
)
GOPHERMAP_V2_BAD = "gopher: site default: /mapped/gophermap:2: the port field is not a number"
GOPHERMAP2 = (
    "Only this line is shown.\n"
    "\x01control\tsel\n"
    ".\n"
    "0Not shown\t/hello.txt\n"
)
GOPHERMAP2_BAD = "gopher: site default: /mapped2/gophermap:2: the line contains a control character"


def _write(path, data, mtime=FIXED_MTIME):
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def build_tree(base):
    """root/ (the Gopher root), outside/ (must never be served), wwwroot/."""
    root = os.path.join(base, "groot")
    outside = os.path.join(base, "outside")
    www = os.path.join(base, "wwwroot")
    for d in (root, outside, www):
        os.makedirs(d)
    _write(os.path.join(www, "index.html"), b"<p>www</p>\n")
    for name, data in ROOT_FILES.items():
        _write(os.path.join(root, name), data)
    for d in ROOT_DIRS:
        os.makedirs(os.path.join(root, d))
    # Hidden: dotfiles, a dot directory, names a menu line cannot carry, a dangling link.
    _write(os.path.join(root, ".hidden"), b"dotfile\n")
    os.makedirs(os.path.join(root, ".config"))
    _write(os.path.join(root, ".config", "x.txt"), b"hidden directory\n")
    _write(os.path.join(root, "tab\tname.txt"), b"tab\n")
    _write(os.path.join(root, "new\nline.txt"), b"newline\n")
    os.symlink("no-such-target", os.path.join(root, "dangling"))
    # Outside the root.
    _write(os.path.join(outside, "secret.txt"), SECRET, mtime=SECRET_MTIME)
    _write(os.path.join(outside, "evil-map"), b"i" + SECRET + b"0secret\t/x\n", mtime=SECRET_MTIME)
    # Symlinks: one inside, two leading outside.
    links = os.path.join(root, "links")
    os.symlink("../hello.txt", os.path.join(links, "in.txt"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(links, "out.txt"))
    os.symlink(outside, os.path.join(links, "outdir"))
    os.symlink("../../outside/secret.txt", os.path.join(links, "rel-out.txt"))
    # sub/
    _write(os.path.join(root, "sub", "inner.txt"), b"inner file\n")
    _write(os.path.join(root, "sub", "huge.bin"), HUGE)
    # mapped/: a gophermap with "*"; mapped2/: one that ends with "."
    m = os.path.join(root, "mapped")
    _write(os.path.join(m, "gophermap"), GOPHERMAP_V1.encode())
    for name in ("rel.txt", "secret.txt", "visible.txt"):
        _write(os.path.join(m, name), name.encode() + b"\n")
    _write(os.path.join(m, ".hidden-too"), b"x\n")
    m2 = os.path.join(root, "mapped2")
    _write(os.path.join(m2, "gophermap"), GOPHERMAP2.encode())
    _write(os.path.join(m2, "unlisted.txt"), b"unlisted\n")
    # mapped3/: its gophermap is a symlink leading outside the root.
    m3 = os.path.join(root, "mapped3")
    os.symlink(os.path.join(outside, "evil-map"), os.path.join(m3, "gophermap"))
    _write(os.path.join(m3, "plain.txt"), b"plain\n")
    # tagged/: tag files in .cap/
    t = os.path.join(root, "tagged")
    os.makedirs(os.path.join(t, ".cap"))
    for name in ("a.txt", "b.txt", "c.txt"):
        _write(os.path.join(t, name), f"file {name}\n".encode())
    _write(os.path.join(t, ".cap", "a.txt"),
           b"Name=Alpha, the first file\nAbstract=First line of the abstract.\r\n"
           b"Abstract=Second line.\n")
    _write(os.path.join(t, ".cap", "b.txt"), b"Type=9\n")
    _write(os.path.join(t, ".cap", "c.txt"), b"Numb=1\nName=Numbered first\n")
    # many/: 10,000 entries, created in a shuffled order.
    names = [f"entry-{i:05d}.txt" for i in range(MANY)]
    random.Random(5).shuffle(names)
    many = os.path.join(root, "many")
    for name in names:
        with open(os.path.join(many, name), "wb") as f:
            f.write(b"e\n")
    return {"root": root, "outside": outside, "www": www}


# -- Gopher helpers ------------------------------------------------------------

def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _read_to_close(sock, timeout, what):
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{what}: no close within {timeout}s (got {len(buf)} bytes: "
                                 f"{bytes(buf[:300])!r})")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError, OSError) as e:
            raise AssertionError(f"{what}: {e!r} after {len(buf)} bytes: {bytes(buf[:300])!r}")
        if not chunk:
            return bytes(buf)
        buf += chunk


def gopher(port, line, timeout=15.0, tls=False):
    """Send LINE (bytes) on a new connection; the bytes until the server closes."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock = raw
    try:
        if tls:
            sock = client_ctx().wrap_socket(raw, server_hostname=None)
        sock.sendall(line)
        return _read_to_close(sock, timeout, f"selector {line[:80]!r} on port {port}")
    finally:
        sock.close()



def dot_stuff(data):
    """What RFC 1436 says a text item looks like on the wire."""
    out = bytearray()
    pieces = data.split(b"\n")
    for i, p in enumerate(pieces):
        last = i == len(pieces) - 1
        if last and p == b"":
            break
        if p.startswith(b"."):
            out += b"."
        out += p
        if not last:
            out += b"\n"
    if data and not data.endswith(b"\n"):
        out += b"\r\n"
    return bytes(out + b".\r\n")


def undot(body):
    """Decode a text item as a client does: read lines up to the lone "." line,
    undoubling line-initial dots. Fails on an undoubled dot or bytes after the end."""
    out = bytearray()
    pos = 0
    while True:
        lf = body.find(b"\n", pos)
        assert lf >= 0, f"the text item has no terminating '.' line (tail {body[-80:]!r})"
        line = body[pos:lf + 1]
        pos = lf + 1
        if line in (b".\r\n", b".\n"):
            assert pos == len(body), f"{len(body) - pos} bytes after the '.' line: {body[pos:pos + 80]!r}"
            return bytes(out)
        if line.startswith(b"."):
            assert line.startswith(b".."), f"a line-initial dot was not doubled: {line[:80]!r}"
            line = line[1:]
        out += line


def expect_text(data):
    """The decoded form of a text file: the server adds a line end when the file lacks one."""
    return data if data == b"" or data.endswith(b"\n") else data + b"\r\n"


def parse_menu(body):
    """Menu lines as tuples of str (type, display, selector, host, port[, '+'])."""
    assert body.endswith(b".\r\n"), f"the menu does not end with '.': {body[-120:]!r}"
    lines = body[:-3].split(b"\r\n")
    assert lines[-1] == b"", f"the last menu line does not end with CRLF: {body[-120:]!r}"
    items = []
    for raw in lines[:-1]:
        assert b"\n" not in raw and b"\r" not in raw, raw
        text = raw.decode("utf-8")
        fields = text[1:].split("\t")
        assert len(fields) in (4, 5), f"menu line with {len(fields)} fields: {raw!r}"
        items.append((text[0],) + tuple(fields))
    return items


def menu_line(t, display, selector, port, host="127.0.0.1", plus=False):
    return f"{t}{display}\t{selector}\t{host}\t{port}{chr(9) + '+' if plus else ''}\r\n".encode()


def info_line(text):
    return f"i{text}\t\tnull.host\t1\r\n".encode()


def selector_of(name, directory=""):
    return directory + "/" + name.replace("%", "%25")


def expected_root_menu(port, plus=False):
    names = sorted(list(ROOT_FILES) + ROOT_DIRS)
    body = b"".join(menu_line(EXPECTED_TYPES[n], n, selector_of(n), port, plus=plus) for n in names)
    return body + b".\r\n"


def error_item(message_part, body):
    """Assert BODY is one RFC 1436 error item (type 3) naming MESSAGE_PART."""
    assert body.startswith(b"3"), f"not an error item (type 3): {body[:200]!r}"
    assert body.endswith(b"\terror.host\t1\r\n.\r\n"), f"malformed error item: {body[:300]!r}"
    assert body.count(b"\r\n") == 2, f"more than one error line: {body[:300]!r}"
    if message_part:
        assert message_part.encode() in body, f"{message_part!r} not in {body[:300]!r}"


def curl(*args, timeout=30):
    p = subprocess.run(["curl", "-sS", "--max-time", "20"] + list(args), capture_output=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    p.err = p.stderr.decode("utf-8", "replace")
    return p


# -- daemon helpers ------------------------------------------------------------

def gport(srv, tls=False):
    ports = [int(e["port"]) for e in srv.listeners["listeners"]
             if e.get("service") == "gopher" and bool(e.get("tls")) == tls]
    assert len(ports) == 1, f"gopher listeners (tls={tls}) in listeners.json: {srv.listeners!r}"
    return ports[0]


def gopher_stats(srv):
    p = adm_ok(srv, "--json", "stats", "--service", "gopher")
    entries = [e for e in json.loads(p.out)["stats"] if e["site"] == "default"]
    assert len(entries) == 1, p.out
    return entries[0]["counters"]


def gopher_sessions(srv):
    p = adm_ok(srv, "--json", "sessions", "--service", "gopher")
    return json.loads(p.out)["sessions"]


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def assert_root_served(port):
    body = gopher(port, b"/\r\n")
    assert body == expected_root_menu(port), f"health check: the root menu changed:\n{body[:600]!r}"


def gopher_log_records(srv):
    records = []
    for path in sorted(glob.glob(os.path.join(srv.state_dir, "logs", "gopher", "default", "*.log"))):
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


# -- fixtures --------------------------------------------------------------------

@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin, infoadm_bin):
    base = str(tmp_path_factory.mktemp("gopher"))
    dirs = build_tree(base)
    s = AdminServer(base, dirs["www"], ["--gopher", "127.0.0.1:0", "--gopher-root", dirs["root"]])
    s.dirs = dirs
    s.start()

    def setup(s):
        s.gport = gport(s)

    yield from serving(s, setup)


@pytest.fixture
def solo(admin_server, tmp_path):
    """Factory: a daemon of its own serving a small Gopher root (gopher only
    unless http=True); returns (server, root directory)."""
    count = [0]

    def factory(http=False):
        count[0] += 1
        root = tmp_path / f"groot{count[0]}"
        root.mkdir()
        _write(str(root / "hello.txt"), HELLO)
        _write(str(root / "huge.bin"), HUGE)
        state = str(tmp_path / f"state{count[0]}")
        args = ["--state-dir", state, "--admin", "127.0.0.1:0", "--workers", "2",
                "--gopher", "127.0.0.1:0", "--gopher-root", str(root)]
        if http:
            www = tmp_path / f"www{count[0]}"
            www.mkdir()
            args += ["--http", "127.0.0.1:0", "--root", str(www)]
        s = admin_server(build_tree=False, base_args=args, state_dir=state)
        s.gport = gport(s)
        return s, root

    return factory


SOLO_MENU = (b"0hello.txt\t/hello.txt\t127.0.0.1\t%d\r\n9huge.bin\t/huge.bin\t127.0.0.1\t%d\r\n.\r\n")


# -- 1. menus, text and binary items ---------------------------------------------

def test_listeners_and_seeded_sites(srv):
    gl = [e for e in srv.listeners["listeners"] if e.get("service") == "gopher"]
    assert gl == [{"service": "gopher", "site": "default", "address": "127.0.0.1",
                   "port": srv.gport, "tls": False}], srv.listeners
    assert f"gopher listening on 127.0.0.1:{srv.gport}" in srv.stdout()
    p = adm_ok(srv, "--json", "site", "list", "--service", "gopher")
    sites = json.loads(p.out)["sites"]
    assert [x["name"] for x in sites] == ["default"], p.out
    p = adm_ok(srv, "get", "/gopher/sites/default/root")
    assert srv.dirs["root"] in p.out, p.out
    # Both services were seeded: the www site serves too.
    p = curl(srv.url("/index.html"))
    assert p.returncode == 0 and p.stdout == b"<p>www</p>\n", p.err


def test_root_menu_types_sort_hidden_and_address(srv):
    port = srv.gport
    expected = expected_root_menu(port)
    # CRLF, LF and the empty selector all name the root.
    for line in (b"/\r\n", b"/\n", b"\r\n", b"\n"):
        body = gopher(port, line)
        assert body == expected, f"root menu for {line!r}:\n{body.decode('utf-8', 'replace')}"
    items = parse_menu(body)
    names = [i[1] for i in items]
    assert names == sorted(names) and names[:3] == ["100%.txt", "README", "Zeta.txt"], names
    for hidden in ROOT_HIDDEN + ["gophermap", "caps.txt"]:
        assert hidden not in names, f"{hidden!r} is listed"
    assert body.count(b"\r\n") == len(ROOT_FILES) + len(ROOT_DIRS) + 1
    for t, display, sel, host, p in items:
        assert (host, p) == ("127.0.0.1", str(port)), (display, host, p)
        assert t == EXPECTED_TYPES[display], (display, t)
    # curl, the real client, sees the same bytes.
    p = curl(f"gopher://127.0.0.1:{port}/1/")
    assert p.returncode == 0, p.err
    assert p.stdout == expected
    # Every selector of the menu fetches its item.
    for t, display, sel, host, p in items:
        got = gopher(port, sel.encode() + b"\r\n")
        if t == "1":
            assert got.endswith(b".\r\n") and not got.startswith(b"3"), (sel, got[:200])
        elif t == "0":
            assert got == dot_stuff(ROOT_FILES[display]), sel
        else:
            assert got == ROOT_FILES[display], f"{sel}: {got[:100]!r}"


def test_subdirectory_menu_and_selectors(srv):
    port = srv.gport
    body = gopher(port, b"/sub\r\n")
    assert body == (menu_line("9", "huge.bin", "/sub/huge.bin", port) +
                    menu_line("0", "inner.txt", "/sub/inner.txt", port) + b".\r\n"), body
    assert gopher(port, b"/sub/\r\n") == body
    assert gopher(port, b"sub\r\n") == body, "a selector without a leading '/' is relative to the root"
    assert gopher(port, b"/sub/./inner.txt\r\n") == b"inner file\n.\r\n"
    assert gopher(port, b"/sub/../hello.txt\r\n") == dot_stuff(HELLO), "'..' inside the root"
    # A '%' in a name is sent as %25 in its selector; a bare '%' is a malformed escape.
    assert gopher(port, b"/100%25.txt\r\n") == b"percent in the name\n.\r\n"
    error_item("malformed percent escape", gopher(port, b"/100%.txt\r\n"))
    # A symlink staying inside the root is followed.
    assert gopher(port, b"/links/in.txt\r\n") == dot_stuff(HELLO)


def test_text_items_are_dot_stuffed_and_decode_byte_exact(srv):
    port = srv.gport
    dot_lines = sum(1 for line in BIG_TEXT.split(b"\n") if line.startswith(b"."))
    assert dot_lines > 10000, dot_lines
    for name, data in (("big.txt", BIG_TEXT), ("dots.txt", DOTS), ("hello.txt", HELLO),
                       ("empty.txt", b"")):
        body = gopher(port, f"/{name}\r\n".encode())
        assert body == dot_stuff(data), \
            f"{name}: {len(body)} bytes, expected {len(dot_stuff(data))}; tail {body[-60:]!r}"
        assert undot(body) == expect_text(data), name
    assert len(gopher(port, b"/big.txt\r\n")) == len(BIG_TEXT) + dot_lines + 3
    assert gopher(port, b"/dots.txt\r\n").endswith(b"without a newline\r\n.\r\n")
    assert gopher(port, b"/empty.txt\r\n") == b".\r\n"
    # curl (gopher://HOST:PORT/0/SELECTOR) receives the same wire bytes.
    p = curl(f"gopher://127.0.0.1:{port}/0/big.txt")
    assert p.returncode == 0, p.err
    assert undot(p.stdout) == BIG_TEXT
    assert p.stdout == dot_stuff(BIG_TEXT)


def test_binary_items_are_raw(srv):
    port = srv.gport
    assert b"\n.\r\n" in BLOB and b"\n..\n" in BLOB
    assert gopher(port, b"/blob.bin\r\n") == BLOB
    p = curl(f"gopher://127.0.0.1:{port}/9/blob.bin")
    assert p.returncode == 0, p.err
    assert p.stdout == BLOB
    for name in ("archive.zip", "pic.gif", "photo.png", "index.html", "song.mp3"):
        assert gopher(port, f"/{name}\r\n".encode()) == ROOT_FILES[name], name


def test_lynx_dump(srv):
    if not os.access("/usr/bin/lynx", os.X_OK):
        pytest.skip("lynx is not installed at /usr/bin/lynx")
    port = srv.gport
    env = dict(os.environ, TERM="dumb", HOME=str(srv.workdir))

    def lynx(url):
        p = subprocess.run(["/usr/bin/lynx", "-dump", "-width=200", url], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL, env=env)
        assert p.returncode == 0, p.stderr
        return p.stdout.decode("utf-8", "replace")

    out = lynx(f"gopher://127.0.0.1:{port}/1/")
    for name in ("README", "about.txt", "hello.txt", "big.txt"):
        assert re.search(rf"^ *\(FILE\) \[\d+\]{re.escape(name)}$", out, re.M), \
            f"{name} not a FILE entry:\n{out}"
        assert re.search(rf"^ *\d+\. gopher://127\.0\.0\.1:{port}/0/{re.escape(name)}$", out, re.M), \
            f"no reference to {name}:\n{out}"
    for name in ROOT_DIRS:
        assert re.search(rf"^ *\(DIR\) \[\d+\]{re.escape(name)}$", out, re.M), \
            f"{name} not a DIR entry:\n{out}"
        assert re.search(rf"^ *\d+\. gopher://127\.0\.0\.1:{port}/1/{re.escape(name)}$", out, re.M), out
    refs = re.findall(r"^ *\d+\. (gopher://\S+)$", out, re.M)
    assert len(refs) == len(ROOT_FILES) + len(ROOT_DIRS), refs
    for hidden in (".hidden", ".config", "gophermap"):
        assert hidden not in out
    out = lynx(f"gopher://127.0.0.1:{port}/0/hello.txt")
    assert "Hello, gopherspace!" in out, out
    out = lynx(f"gopher://127.0.0.1:{port}/1/mapped")
    assert "Welcome to the mapped directory." in out and "Relative link" in out, out
    assert f"gopher://127.0.0.1:{port}/0/mapped/rel.txt" in out, out
    assert "gopher://gopher.example.org:7070/1/world" in out, out


def test_ten_thousand_entries(srv):
    port = srv.gport
    t0 = time.monotonic()
    body = gopher(port, b"/many\r\n", timeout=30)
    cold = time.monotonic() - t0
    t0 = time.monotonic()
    again = gopher(port, b"/many\r\n", timeout=30)
    warm = time.monotonic() - t0
    print(f"\n10,000-entry menu: {len(body)} bytes, first request {cold:.3f} s, second {warm:.3f} s")
    expected = b"".join(menu_line("0", f"entry-{i:05d}.txt", f"/many/entry-{i:05d}.txt", port)
                        for i in range(MANY)) + b".\r\n"
    assert body == expected, f"{len(parse_menu(body))} entries, {len(body)} bytes"
    assert again == expected
    assert cold < 2.0, f"the 10,000-entry menu took {cold:.3f} s"


# -- 2. gophermaps and tag files ---------------------------------------------------

def _log_count(srv, text):
    return srv.error_log().count(text)


def test_gophermap(srv):
    port = srv.gport
    v1 = (info_line("Mapped directory") +
          info_line("Welcome to the mapped directory.") +
          menu_line("0", "Relative link", "/mapped/rel.txt", port) +
          menu_line("0", "Absolute link", "/hello.txt", port) +
          menu_line("1", "Elsewhere", "/world", 7070, host="gopher.example.org") +
          menu_line("h", "Web link", "URL:https://example.org/", port) +
          menu_line("0", "rel.txt", "/mapped/rel.txt", port) +
          menu_line("0", "visible.txt", "/mapped/visible.txt", port) + b".\r\n")
    for _ in range(3):
        body = gopher(port, b"/mapped\r\n")
        assert body == v1, body.decode("utf-8", "replace")
    assert gopher(port, b"/mapped/rel.txt\r\n") == b"rel.txt\n.\r\n"
    # Hidden from the listing, not from the server.
    assert gopher(port, b"/mapped/secret.txt\r\n") == b"secret.txt\n.\r\n"

    # "." ends the map and there is no listing; the bad line is left out.
    v2map = info_line("Only this line is shown.") + b".\r\n"
    for _ in range(3):
        assert gopher(port, b"/mapped2\r\n") == v2map
    wait_for(lambda: _log_count(srv, GOPHERMAP2_BAD) >= 1, timeout=5, what=GOPHERMAP2_BAD)

    # The bad line of mapped/gophermap was logged once for three requests.
    wait_for(lambda: _log_count(srv, GOPHERMAP_V1_BAD) >= 1, timeout=5, what=GOPHERMAP_V1_BAD)
    path = os.path.join(srv.dirs["root"], "mapped", "gophermap")
    try:
        # A new version of the file (another mtime) is checked, and logged, again.
        _write(path, GOPHERMAP_V2.encode(), mtime=FIXED_MTIME + 60)
        v2 = (info_line("Version two.") + menu_line("0", "Hello again", "/hello.txt", port) +
              b".\r\n")
        for _ in range(3):
            body = gopher(port, b"/mapped\r\n")
            assert body == v2, body.decode("utf-8", "replace")
        wait_for(lambda: _log_count(srv, GOPHERMAP_V2_BAD) >= 1, timeout=5, what=GOPHERMAP_V2_BAD)
    finally:
        _write(path, GOPHERMAP_V1.encode())
    assert gopher(port, b"/mapped\r\n") == v1
    log = srv.error_log()
    for text in (GOPHERMAP_V1_BAD, GOPHERMAP_V2_BAD, GOPHERMAP2_BAD):
        n = log.count(text)
        assert n == 1, f"{text!r} logged {n} times:\n{log[-3000:]}"
    assert "the line is left out" in log


def test_tag_files(srv):
    port = srv.gport
    body = gopher(port, b"/tagged\r\n")
    assert body == (menu_line("0", "Numbered first", "/tagged/c.txt", port) +
                    menu_line("0", "Alpha, the first file", "/tagged/a.txt", port) +
                    menu_line("9", "b.txt", "/tagged/b.txt", port) + b".\r\n"), body
    assert ".cap" not in body.decode()
    body = gopher(port, b"/tagged/a.txt\t!\r\n")
    assert body.startswith(b"+-1\r\n+INFO: " + menu_line("0", "Alpha, the first file",
                                                         "/tagged/a.txt", port, plus=True)), body
    assert b"+ABSTRACT:\r\n First line of the abstract.\r\n Second line.\r\n" in body, body
    assert body.endswith(b".\r\n")
    # No tag file: no abstract.
    body = gopher(port, b"/hello.txt\t!\r\n")
    assert b"+ABSTRACT" not in body and b"+INFO: 0hello.txt\t" in body, body


# -- 3. Gopher+ ------------------------------------------------------------------------

def test_gopher_plus(srv):
    port = srv.gport
    # "+": the item with a length line ("+-1": ends with ".", "+N": N raw bytes).
    assert gopher(port, b"/hello.txt\t+\r\n") == b"+-1\r\n" + dot_stuff(HELLO)
    assert gopher(port, b"/big.txt\t+\r\n") == b"+-1\r\n" + dot_stuff(BIG_TEXT)
    assert gopher(port, b"/blob.bin\t+\r\n") == b"+%d\r\n" % len(BLOB) + BLOB
    assert gopher(port, b"/\t+\r\n") == b"+-1\r\n" + expected_root_menu(port, plus=True)
    # "!": every attribute block of one item.
    body = gopher(port, b"/hello.txt\t!\r\n").decode()
    assert body == ("+-1\r\n"
                    f"+INFO: 0hello.txt\t/hello.txt\t127.0.0.1\t{port}\t+\r\n"
                    "+ADMIN:\r\n"
                    " Admin: Administrator <>\r\n"
                    f"{FIXED_MOD_DATE}"
                    f" Version: infosrv {srv.version}\r\n"
                    "+VIEWS:\r\n"
                    " text/plain: <1k>\r\n"
                    ".\r\n"), body
    body = gopher(port, b"/blob.bin\t!\r\n").decode()
    assert f" application/octet-stream: <{(len(BLOB) + 1023) // 1024}k>\r\n" in body, body
    body = gopher(port, b"/sub\t!\r\n").decode()
    assert body.startswith(f"+-1\r\n+INFO: 1sub\t/sub\t127.0.0.1\t{port}\t+\r\n"), body
    assert "+VIEWS:\r\n application/gopher+-menu: <0k>\r\n" in body, body
    # "!+ADMIN": that block only.
    body = gopher(port, b"/hello.txt\t!+ADMIN\r\n").decode()
    assert body == ("+-1\r\n+ADMIN:\r\n Admin: Administrator <>\r\n"
                    f"{FIXED_MOD_DATE} Version: infosrv {srv.version}\r\n.\r\n"), body
    body = gopher(port, b"/tagged/a.txt\t!+ABSTRACT+VIEWS\r\n").decode()
    assert body == ("+-1\r\n+ABSTRACT:\r\n First line of the abstract.\r\n Second line.\r\n"
                    "+VIEWS:\r\n text/plain: <1k>\r\n.\r\n"), body
    # "$": the blocks of every item of a menu, in menu order.
    body = gopher(port, b"/tagged\t$\r\n").decode()
    assert body.startswith("+-1\r\n") and body.endswith(".\r\n"), body
    infos = [line for line in body.split("\r\n") if line.startswith("+INFO: ")]
    assert infos == [f"+INFO: 0Numbered first\t/tagged/c.txt\t127.0.0.1\t{port}\t+",
                     f"+INFO: 0Alpha, the first file\t/tagged/a.txt\t127.0.0.1\t{port}\t+",
                     f"+INFO: 9b.txt\t/tagged/b.txt\t127.0.0.1\t{port}\t+"], body
    assert body.count("+ADMIN:\r\n") == 3 and body.count("+VIEWS:\r\n") == 3, body
    assert body.count("+ABSTRACT:\r\n") == 1 and " Second line.\r\n" in body, body
    body = gopher(port, b"/tagged\t$+INFO\r\n").decode()
    assert body == "+-1\r\n" + "".join(i + "\r\n" for i in infos) + ".\r\n", body
    # The gophermap's items: the remote one has +INFO only; info lines are left out.
    body = gopher(port, b"/mapped\t$\r\n").decode()
    assert "Mapped directory" not in body, body
    assert re.search("\\+INFO: 1Elsewhere\t/world\tgopher.example.org\t7070(\t\\+)?\r\n\\+INFO: ", body), \
        f"the remote item has blocks other than +INFO: {body}"
    # Gopher+ errors: "--1", then the code and whom to ask.
    body = gopher(port, b"/no-such-item\t+\r\n")
    assert body.startswith(b"--1\r\n1 ") and body.endswith(b"\r\n.\r\n"), body
    assert b"does not exist" in body, body
    body = gopher(port, b"/../etc/passwd\t!\r\n")
    assert body.startswith(b"--1\r\n1 ") and b"root:" not in body, body


def test_admin_block_follows_infoadm_set_live(srv):
    port = srv.gport
    pid = srv.pid
    props = {"admin_name": "Gopher Admin", "admin_email": "gopher@example.org",
             "gopher_organization": "Example Org", "gopher_site": "Example Gopher",
             "gopher_location": "Paris, France", "gopher_geography": "48.85 2.35",
             "gopher_language": "En_US"}
    want = ("+-1\r\n+ADMIN:\r\n Admin: Gopher Admin <gopher@example.org>\r\n"
            f"{FIXED_MOD_DATE} Site: Example Gopher\r\n Org: Example Org\r\n"
            " Loc: Paris, France\r\n Geog: 48.85 2.35\r\n Language: En_US\r\n"
            f" Version: infosrv {srv.version}\r\n.\r\n")
    try:
        adm_ok(srv, "set", "/gopher/sites/default", "gopher_organization=Example Org",
               "admin_email=gopher@example.org")
        body = wait_for(lambda: (lambda b: b if b" Org: Example Org" in b else None)(
            gopher(port, b"/hello.txt\t!+ADMIN\r\n")), timeout=5, what="Org: in +ADMIN")
        assert body.decode() == ("+-1\r\n+ADMIN:\r\n Admin: Administrator <gopher@example.org>\r\n"
                                 f"{FIXED_MOD_DATE} Org: Example Org\r\n"
                                 f" Version: infosrv {srv.version}\r\n.\r\n"), body
        adm_ok(srv, "set", "/gopher/sites/default", *[f"{k}={v}" for k, v in props.items()])
        body = wait_for(lambda: (lambda b: b if b"Language" in b else None)(
            gopher(port, b"/hello.txt\t!+ADMIN\r\n")), timeout=5, what="the other +ADMIN lines")
        assert body.decode() == want, body
        caps = undot(gopher(port, b"/caps.txt\r\n")).decode()
        assert "ServerAdmin=gopher@example.org\n" in caps, caps
        assert "ServerDescription=Example Gopher\n" in caps, caps
        # The Gopher+ error names whom to ask.
        body = gopher(port, b"/no-such-item\t+\r\n")
        assert body.startswith(b"--1\r\n1 Gopher Admin <gopher@example.org>\r\n"), body
        assert srv.pid == pid and srv.proc.poll() is None, "the daemon restarted"
    finally:
        adm_ok(srv, "unset", "/gopher/sites/default", *props)
    body = wait_for(lambda: (lambda b: b if b"Org:" not in b else None)(
        gopher(port, b"/hello.txt\t!+ADMIN\r\n")), timeout=5, what="+ADMIN without Org:")
    assert body.decode() == ("+-1\r\n+ADMIN:\r\n Admin: Administrator <>\r\n"
                             f"{FIXED_MOD_DATE} Version: infosrv {srv.version}\r\n.\r\n"), body


def test_admin_block_inherits_from_service_and_machine(srv):
    port = srv.gport
    try:
        adm_ok(srv, "set", "/gopher", "gopher_language=Fr_FR", "admin_name=Service Admin")
        adm_ok(srv, "set", "/", "admin_email=machine@example.org")
        want = ("+-1\r\n+ADMIN:\r\n Admin: Service Admin <machine@example.org>\r\n"
                f"{FIXED_MOD_DATE} Language: Fr_FR\r\n Version: infosrv {srv.version}\r\n.\r\n")
        body = wait_for(lambda: (lambda b: b if b"machine@" in b else None)(
            gopher(port, b"/hello.txt\t!+ADMIN\r\n")), timeout=5, what="inherited +ADMIN values")
        assert body.decode() == want, body
        # The site's own value wins over the service's.
        adm_ok(srv, "set", "/gopher/sites/default", "gopher_language=De_DE")
        body = wait_for(lambda: (lambda b: b if b"De_DE" in b else None)(
            gopher(port, b"/hello.txt\t!+ADMIN\r\n")), timeout=5, what="the site's own language")
        assert b"Fr_FR" not in body, body
    finally:
        adm_ok(srv, "unset", "/gopher/sites/default", "gopher_language")
        adm_ok(srv, "unset", "/gopher", "gopher_language", "admin_name")
        adm_ok(srv, "unset", "/", "admin_email")
    body = wait_for(lambda: (lambda b: b if b"Language" not in b and b"<>" in b else None)(
        gopher(port, b"/hello.txt\t!+ADMIN\r\n")), timeout=5, what="+ADMIN back to the defaults")
    assert b"Admin: Administrator <>" in body, body


def test_host_names_are_advertised(srv):
    port = srv.gport
    try:
        adm_ok(srv, "set", "/gopher/sites/default", 'host_names=["gopher.test"]')
        want = (menu_line("9", "huge.bin", "/sub/huge.bin", port, host="gopher.test") +
                menu_line("0", "inner.txt", "/sub/inner.txt", port, host="gopher.test") + b".\r\n")
        body = wait_for(lambda: (lambda b: b if b"gopher.test" in b else None)(
            gopher(port, b"/sub\r\n")), timeout=5, what="menus naming gopher.test")
        assert body == want, body
        body = gopher(port, b"/hello.txt\t!+INFO\r\n")
        assert body == b"+-1\r\n+INFO: " + menu_line("0", "hello.txt", "/hello.txt", port,
                                                       host="gopher.test", plus=True) + b".\r\n", body
    finally:
        adm_ok(srv, "unset", "/gopher/sites/default", "host_names")
    wait_for(lambda: gopher(port, b"/\r\n") == expected_root_menu(port), timeout=5,
             what="menus naming 127.0.0.1 again")


def test_caps_txt(srv):
    port = srv.gport
    body = gopher(port, b"/caps.txt\r\n")
    text = undot(body).decode()
    assert text.startswith("CAPS\n\nCapsVersion=1\n"), text
    for line in ("PathDelimeter=/", "PathParent=..", "ServerSoftware=infosrv",
                 f"ServerSoftwareVersion={srv.version}"):
        assert f"\n{line}\n" in text, f"{line} not in caps.txt:\n{text}"
    assert gopher(port, b"/caps.txt\t+\r\n") == b"+-1\r\n" + body
    p = curl(f"gopher://127.0.0.1:{port}/0/caps.txt")
    assert p.returncode == 0 and p.stdout == body, p.err
    # Only at the root, and only when the site has none of its own.
    error_item("does not exist", gopher(port, b"/sub/caps.txt\r\n"))
    own = b"CAPS\n\nCapsVersion=1\nServerDescription=our own caps.txt\n"
    path = os.path.join(srv.dirs["root"], "caps.txt")
    try:
        _write(path, own)
        adm_ok(srv, "flush-cache", "gopher")
        wait_for(lambda: all(gopher(port, b"/caps.txt\r\n") == dot_stuff(own) for _ in range(4)),
                 timeout=10, what="the site's own caps.txt")
    finally:
        os.unlink(path)
        adm_ok(srv, "flush-cache", "gopher")
    wait_for(lambda: all(gopher(port, b"/caps.txt\r\n") == body for _ in range(4)), timeout=10,
             what="the generated caps.txt again")
    assert_root_served(port)


# -- 4. URL: links and web browsers ---------------------------------------------------

def test_url_selector_page(srv):
    port = srv.gport
    body = gopher(port, b"URL:https://example.org/path?a=1&b=<2>\r\n").decode()
    assert body.startswith("<!DOCTYPE html>") and body.endswith("</html>\n"), body
    assert '<a href="https://example.org/path?a=1&amp;b=&lt;2&gt;">' in body, body
    assert 'http-equiv="refresh" content="2;URL=https://example.org/path?a=1&amp;b=&lt;2&gt;"' \
        in body, body
    for scheme_url in ("http://example.org/", "ftp://ftp.example.org/pub/", "mailto:root@example.org",
                       "gopher://gopher.example.org/1/"):
        body = gopher(port, f"URL:{scheme_url}\r\n".encode()).decode()
        assert f'<a href="{scheme_url}">' in body, body
    # curl fetches the same page as an 'h' item.
    p = curl(f"gopher://127.0.0.1:{port}/hURL:https://example.org/")
    assert p.returncode == 0, p.err
    assert b'<a href="https://example.org/">' in p.stdout, p.stdout
    # Schemes that run code are shown, never linked or refreshed to.
    for bad in ("javascript:alert(document.cookie)", "JavaScript:alert(1)", " javascript:alert(1)",
                "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"):
        body = gopher(port, f"URL:{bad}\r\n".encode()).decode()
        assert "<a " not in body and "refresh" not in body, f"{bad!r} is linked: {body}"
        assert "<script>" not in body, body
        assert html.escape(bad.strip(), quote=True).split("(")[0] in body, body
    # Markup in a linkable URL is escaped in the attribute and the text.
    body = gopher(port, b'URL:https://x.example/"><script>alert(1)</script>\r\n').decode()
    assert "<script>" not in body and '<a href="https://x.example/&quot;&gt;&lt;script&gt;' in body, body


def test_http_request_on_the_gopher_port(srv):
    port = srv.gport
    raw = gopher(port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: e2e\r\n"
                       b"Accept: */*\r\n\r\n")
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.0 400 "), raw[:300]
    headers = {k.strip().lower(): v.strip() for k, v in
               (h.split(b":", 1) for h in head.split(b"\r\n")[1:])}
    assert headers[b"content-type"].startswith(b"text/html"), headers
    assert int(headers[b"content-length"]) == len(body), (headers, len(body))
    assert b"Gopher server" in body and f"gopher://127.0.0.1:{port}/".encode() in body, body
    p = curl("-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{port}/index.html")
    assert p.stdout == b"400", (p.stdout, p.err)
    p = curl(f"http://127.0.0.1:{port}/")
    assert b"Gopher" in p.stdout and b"<html" in p.stdout, p.stdout
    assert_root_served(port)


# -- 5. hostile selectors ---------------------------------------------------------------

HOSTILE = [
    ("dotdot-etc-passwd", b"/../etc/passwd\r\n", "climbs above the root"),
    ("dotdot", b"/..\r\n", "climbs above the root"),
    ("pct-dotdot", b"%2e%2e/%2e%2e/etc/passwd\r\n", "climbs above the root"),
    ("pct-slash-dotdot", b"/sub/..%2f..%2f..%2fetc%2fpasswd\r\n", "climbs above the root"),
    ("a-dotdot-dotdot", b"/a/../../etc\r\n", "climbs above the root"),
    ("backslashes", b"\\..\\..\\etc\r\n", "backslash"),
    ("pct-backslashes", b"/..%5c..%5cetc%5cpasswd\r\n", "backslash"),
    ("nul-byte", b"/hello.txt\x00/../../etc/passwd\r\n", "NUL"),
    ("pct-nul", b"/hello.txt%00.bin\r\n", "NUL"),
    ("control-chars", b"/hello\x1b[2J\x07.txt\r\n", "control character"),
    ("del-char", b"/hello.txt\x7f\r\n", "control character"),
    ("bare-cr", b"/hello.txt\r/../x\r\n", "control character"),
    ("2000-bytes", b"/" + b"A" * 2000 + b"\r\n", "longer than 1024 bytes"),
    ("1024-bytes-accepted", b"/" + b"A" * 1023 + b"\r\n", "does not exist"),
    ("1025-bytes-crlf", b"/" + b"A" * 1024 + b"\r\n", "longer than 1024 bytes"),
    ("1025-bytes-lf", b"/" + b"A" * 1024 + b"\n", "longer than 1024 bytes"),
    ("four-tab-fields", b"/\tsearch\t+\textra\r\n", "more than three"),
    ("bad-third-field", b"/\tsearch\tnot-a-marker\r\n", "Gopher+ marker"),
    ("symlink-out-file", b"/links/out.txt\r\n", "may not be read"),
    ("symlink-out-relative", b"/links/rel-out.txt\r\n", "may not be read"),
    ("symlink-out-dir", b"/links/outdir\r\n", "may not be read"),
    ("through-symlink-out-dir", b"/links/outdir/secret.txt\r\n", "may not be read"),
    ("etc-passwd", b"/etc/passwd\r\n", "does not exist"),
    ("double-slash-etc", b"//etc/passwd\r\n", "does not exist"),
    ("missing-dir", b"/no/such/dir\r\n", "does not exist"),
    ("overlong-no-lf", b"x" * 1500, "longer than 1024 bytes"),
    ("invalid-utf8", b"/\xff\xfe.txt\r\n", "UTF-8"),
]


@pytest.mark.parametrize("line,message", [(c[1], c[2]) for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_selector(srv, line, message):
    port = srv.gport
    t0 = time.monotonic()
    body = gopher(port, line, timeout=10)
    assert time.monotonic() - t0 < 5, "the server took too long to answer"
    error_item(message, body)
    assert SECRET not in body and b"TOP-SECRET" not in body
    assert b"root:" not in body and b"/bin/" not in body, body
    assert_root_served(port)


def test_symlinks_outside_are_refused_over_every_path(srv):
    port = srv.gport
    for line in (b"/links/out.txt\t+\r\n", b"/links/out.txt\t!\r\n", b"/links/outdir\t$\r\n",
                 b"/links/outdir\t+\r\n"):
        body = gopher(port, line)
        assert body.startswith(b"--1\r\n") and SECRET not in body, (line, body)
    p = curl(f"gopher://127.0.0.1:{port}/0/links/out.txt")
    assert SECRET not in p.stdout and p.stdout.startswith(b"3"), p.stdout
    # A gophermap that is a symlink leading outside is not read.
    body = gopher(port, b"/mapped3\r\n")
    assert SECRET not in body and b"TOP-SECRET" not in body, body
    assert body == menu_line("0", "plain.txt", "/mapped3/plain.txt", port) + b".\r\n", body


def test_menus_do_not_reveal_links_leading_outside(srv):
    """A menu lists what the server serves: a symlink leading outside the root
    is refused, so neither it nor the outside file's size and date may show."""
    port = srv.gport
    body = gopher(port, b"/links\r\n")
    advertised = {i[2]: gopher(port, i[2].encode() + b"\r\n") for i in parse_menu(body)}
    refused_items = {sel: got[:80] for sel, got in advertised.items() if got.startswith(b"3")}
    attrs = gopher(port, b"/links\t$\r\n").decode()
    assert SECRET_STAMP not in attrs, \
        f"Gopher+ '$' on /links shows the date of a file outside the root:\n{attrs}"
    assert not refused_items, f"the menu of /links advertises items it refuses: {refused_items}\n" \
                              f"menu:\n{body.decode()}"
    assert body == menu_line("0", "in.txt", "/links/in.txt", port) + b".\r\n", body


def test_request_line_delivery(srv):
    """The line may arrive byte by byte, be followed by a half-close or by more
    bytes than it: the answer is whole and the connection ends with a FIN."""
    port = srv.gport
    want = dot_stuff(HELLO)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in b"/hello.txt\r\n":
            c.sendall(bytes([b]))
            time.sleep(0.01)  # pacing, so that the bytes arrive in separate segments
        assert _read_to_close(c, 10, "byte by byte") == want
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"/blob.bin\r\n")
        c.shutdown(socket.SHUT_WR)
        assert _read_to_close(c, 10, "half-closed client") == BLOB
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"/big.txt\r\n" + b"junk after the line\r\n" * 4000)
        assert _read_to_close(c, 10, "bytes after the line") == dot_stuff(BIG_TEXT)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"/hello.txt\r\n/blob.bin\r\n")
        assert _read_to_close(c, 10, "two lines") == want, "one line, one answer, then the close"
    assert_root_served(port)


# -- 6. statistics, sessions, access log ---------------------------------------------------

COUNTED = ("total_requests", "menus_sent", "files_sent", "not_found_errors",
           "connection_attempts", "total_connections", "bytes_sent", "bytes_received")


def test_stats_counters(srv):
    port = srv.gport
    before = gopher_stats(srv)
    lines = [b"/\r\n", b"/sub\r\n",                                    # 2 menus
             b"/hello.txt\r\n", b"/blob.bin\r\n", b"/caps.txt\r\n",    # 3 files
             b"/nope-1\r\n", b"/nope-2\t+\r\n",                         # 2 not found
             b"/../x\r\n"]                                              # 1 bad request
    sent = received = 0
    for line in lines:
        sent += len(line)
        received += len(gopher(port, line))
    n = len(lines)
    want = {"total_requests": n, "menus_sent": 2, "files_sent": 3, "not_found_errors": 2,
            "connection_attempts": n, "total_connections": n, "bytes_sent": received,
            "bytes_received": sent}
    last = {}

    def moved():
        after = gopher_stats(srv)
        last.update({k: after[k] - before[k] for k in COUNTED})
        last["current_connections"] = after["current_connections"]
        return all(last[k] == v for k, v in want.items()) and after["current_connections"] == 0

    try:
        wait_for(moved, timeout=8, interval=0.2, what="the counters")
    except AssertionError:
        raise AssertionError(f"counter deltas {last} != expected {want}")


def test_session_of_a_slow_client(srv):
    port = srv.gport
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(15)
    s.connect(("127.0.0.1", port))
    try:
        client = f"127.0.0.1:{s.getsockname()[1]}"
        s.sendall(b"/sub/huge.bin\r\n")
        got = bytearray(s.recv(1000))

        def mine():
            return [x for x in gopher_sessions(srv) if x.get("client") == client]

        found = wait_for(mine, timeout=8, interval=0.1, what=f"the session of {client}")
        x = found[0]
        assert x["service"] == "gopher" and x["site"] == "default" and x["tls"] is False, x
        assert x["request"] == "GET /sub/huge.bin", x
        assert x["bytes_sent"] < len(HUGE), x
        got += _read_to_close(s, 30, "/sub/huge.bin")
    finally:
        s.close()
    assert len(got) == len(HUGE) and bytes(got) == HUGE, f"{len(got)} of {len(HUGE)} bytes"
    wait_for(lambda: not mine(), timeout=5, interval=0.1, what="the session to end")


def test_access_log_w3c(srv):
    port = srv.gport
    tag = uuid.uuid4().hex[:12]
    name = f"log-{tag}.txt"
    _write(os.path.join(srv.dirs["root"], "sub", name), b"logged\n")
    try:
        cases = [(f"/sub/{name}\r\n", "GET", "200"), (f"/sub/{name}\t+\r\n", "GET+", "200"),
                 (f"/sub/{name}\t!\r\n", "!", "200"), (f"/nope-{tag}\r\n", "GET", "404"),
                 (f"/../{tag}\r\n", "GET", "400"), (f"/no such {tag}\r\n", "GET", "404")]
        sizes = {}
        for line, method, status in cases:
            reply = gopher(port, line.encode())
            stem = line.split("\t")[0].rstrip("\r\n")
            sizes[(stem, method)] = (len(line), len(reply), status)

        def mine():
            recs = [r for r in gopher_log_records(srv) if tag in r.get("cs-uri-stem", "")]
            return recs if len(recs) >= len(cases) else None

        recs = wait_for(mine, timeout=15, interval=0.2, what="the W3C records of the requests")
    finally:
        os.unlink(os.path.join(srv.dirs["root"], "sub", name))
    assert len(recs) == len(cases), recs
    seen = set()
    for r in recs:
        for f in ("date", "time", "cs-method", "cs-uri-stem", "sc-status", "sc-bytes", "c-ip",
                  "s-port"):
            assert f in r, f"W3C field {f} missing: {sorted(r)}"
        stem = r["cs-uri-stem"].replace("+", " ").replace("%20", " ")
        key = (stem, r["cs-method"])
        assert key in sizes, f"unexpected record {r}"
        seen.add(key)
        line_len, reply_len, status = sizes[key]
        assert r["sc-status"] == status, r
        assert int(r["sc-bytes"]) == reply_len, (r, reply_len)
        if "cs-bytes" in r:
            assert int(r["cs-bytes"]) == line_len, (r, line_len)
        assert r["c-ip"] == "127.0.0.1" and int(r["s-port"]) == port, r
        if "s-sitename" in r:
            assert r["s-sitename"] == "default", r
    assert seen == set(sizes), (seen, set(sizes))


# -- 7. many clients -------------------------------------------------------------------------

def test_fifty_concurrent_clients(srv):
    port = srv.gport
    n = 50
    barrier = threading.Barrier(n)
    plan = [(b"/\r\n", expected_root_menu(port)), (b"/hello.txt\r\n", dot_stuff(HELLO)),
            (b"/blob.bin\r\n", BLOB), (b"/big.txt\r\n", dot_stuff(BIG_TEXT))]
    results = [None] * n

    def client(i):
        line, want = plan[i % len(plan)]
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            try:
                barrier.wait(timeout=30)
                s.sendall(line)
                got = _read_to_close(s, 30, f"client {i}")
            finally:
                s.close()
            results[i] = "ok" if got == want else f"client {i} ({line!r}): {len(got)} bytes, " \
                                                  f"expected {len(want)}"
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = f"client {i}: {e!r}"

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    print(f"\n{n} concurrent clients answered in {time.monotonic() - t0:.2f} s")
    bad = [r for r in results if r != "ok"]
    assert not bad, "\n".join(str(b) for b in bad)
    assert_root_served(port)


# -- 8. gophers:// ------------------------------------------------------------------------------

def test_gophers_tls_binding(srv):
    port = srv.gport
    tport = free_port()
    while tport == port:
        tport = free_port()
    crt = os.path.join(srv.state_dir, "tls", "gopher-default.crt")
    adm_ok(srv, "set", "/gopher/sites/default",
           f'bindings=["127.0.0.1:{port}","gophers://127.0.0.1:{tport}"]')
    try:
        def tls_menu():
            try:
                return gopher(tport, b"/\r\n", tls=True, timeout=5)
            except (OSError, AssertionError):
                return None

        body = wait_for(tls_menu, timeout=10, interval=0.1, what="a menu over gophers://")
        assert body == expected_root_menu(tport), body[:400]
        assert gopher(tport, b"/big.txt\r\n", tls=True) == dot_stuff(BIG_TEXT)
        assert gopher(tport, b"/blob.bin\r\n", tls=True) == BLOB
        assert gopher(tport, b"/blob.bin\t+\r\n", tls=True) == b"+%d\r\n" % len(BLOB) + BLOB
        # The generated self-signed certificate is the one served.
        assert os.path.isfile(crt), f"no generated certificate at {crt}"
        served = ssl.get_server_certificate(("127.0.0.1", tport), timeout=5)
        with open(crt, encoding="ascii") as f:
            assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(f.read())
        assert "gopher-default.crt" in srv.error_log()
        # The plain binding is unchanged.
        assert_root_served(port)
        # A plain Gopher request on the TLS port is told to use gophers://, every time.
        hint = b"3This port speaks Gopher over TLS: use a gophers:// address.\terror.host\t1\r\n.\r\n"
        outcomes = []
        for i in range(20):
            try:
                body = gopher(tport, b"/\r\n", timeout=5)
                outcomes.append("hint" if body == hint else f"other: {body[:100]!r}")
            except AssertionError as e:
                got_hint = "gophers://" in str(e)
                outcomes.append("hint, then reset" if got_hint and "reset" in str(e)
                                else f"error: {e}")
        summary = {o: outcomes.count(o) for o in set(outcomes)}
        assert outcomes == ["hint"] * 20, \
            f"a plain request on the gophers:// port, 20 times: {summary} (a reset can destroy the hint " \
            f"before the client reads it)"
    finally:
        adm_ok(srv, "set", "/gopher/sites/default", f'bindings=["127.0.0.1:{port}"]')
    wait_for(lambda: refused(tport), timeout=10, interval=0.1, what="the gophers:// port to close")
    assert_root_served(port)


# -- 9. daemons of their own: gopher only, stop/start, pause, idle timeout -------------------

def test_gopher_only_daemon_stop_start_pause(solo):
    s, root = solo()
    port = s.gport
    assert sorted(e["service"] for e in s.listeners["listeners"]) == ["admin", "gopher"], s.listeners
    assert json.loads(adm_ok(s, "--json", "site", "list", "--service", "www").out)["sites"] == []
    assert not os.path.exists(os.path.join(s.workdir, "wwwroot"))
    assert gopher(port, b"/\r\n") == SOLO_MENU % (port, port)

    # pause: the listener closes, a download in progress goes on to the end.
    with socket.socket() as c:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.settimeout(15)
        c.connect(("127.0.0.1", port))
        c.sendall(b"/huge.bin\r\n")
        got = bytearray(c.recv(1000))
        assert adm_ok(s, "pause", "gopher").out.strip() == "gopher: paused"
        wait_for(lambda: refused(port), timeout=10, interval=0.1, what="refused while paused")
        got += _read_to_close(c, 30, "the download across the pause")
    assert len(got) == len(HUGE) and bytes(got) == HUGE, f"{len(got)} of {len(HUGE)} bytes"
    assert adm_ok(s, "continue", "gopher").out.strip() == "gopher: started"
    wait_for(lambda: not refused(port), timeout=10, interval=0.1, what="served after continue")
    assert gopher(port, b"/\r\n") == SOLO_MENU % (port, port)

    # stop: the listener and the connections close.
    with socket.socket() as c:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.settimeout(15)
        c.connect(("127.0.0.1", port))
        c.sendall(b"/huge.bin\r\n")
        got = bytearray(c.recv(1000))
        assert adm_ok(s, "stop", "gopher").out.strip() == "gopher: stopped"
        wait_for(lambda: refused(port), timeout=10, interval=0.1, what="refused after stop")
        try:
            got += _read_to_close(c, 15, "the download across the stop")
        except AssertionError as e:
            assert "reset" in str(e).lower(), e
    assert len(got) < len(HUGE), "the connection of a stopped service was not closed"
    p = adm_ok(s, "--json", "stats", "--service", "gopher")
    assert "gopher" in p.out
    assert adm_ok(s, "start", "gopher").out.strip() == "gopher: started"
    wait_for(lambda: not refused(port), timeout=10, interval=0.1, what="served after start")
    assert gopher(port, b"/\r\n") == SOLO_MENU % (port, port)
    assert gopher(port, b"/huge.bin\r\n") == HUGE


def test_idle_client_is_closed_after_connection_timeout(solo):
    s, root = solo(http=True)
    port = s.gport
    assert sorted(e["service"] for e in s.listeners["listeners"]) == ["admin", "gopher", "www"]
    adm_ok(s, "set", "/gopher/sites/default", "connection_timeout=2")
    silent = socket.create_connection(("127.0.0.1", port), timeout=15)
    partial = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        t0 = time.monotonic()
        partial.sendall(b"/hello.txt")  # no line end, ever
        got_silent = _read_to_close(silent, 12, "a client that sends nothing")
        t_silent = time.monotonic() - t0
        got_partial = _read_to_close(partial, 12, "a client that never ends its line")
        t_partial = time.monotonic() - t0
    finally:
        silent.close()
        partial.close()
    print(f"\nidle clients closed after {t_silent:.2f} s and {t_partial:.2f} s (connection_timeout=2)")
    assert got_silent == b"" and got_partial == b"", (got_silent, got_partial)
    assert 1.5 <= t_silent < 6 and 1.5 <= t_partial < 6, (t_silent, t_partial)
    wait_for(lambda: not gopher_sessions(s), timeout=5, interval=0.1, what="no sessions left")
    assert gopher(port, b"/hello.txt\r\n") == dot_stuff(HELLO)
