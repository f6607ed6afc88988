"""The fixture file trees served by the test daemons, with their known bytes."""

import calendar
import os
import random

# A fixed modification time (UTC) for files whose Last-Modified is asserted.
FIXED_MTIME = calendar.timegm((2020, 6, 1, 12, 0, 0))
FIXED_MTIME_HTTP = "Mon, 01 Jun 2020 12:00:00 GMT"
EARLIER_HTTP = "Sun, 31 May 2020 12:00:00 GMT"
LATER_HTTP = "Tue, 02 Jun 2020 12:00:00 GMT"

INDEX_HTML = b"<!DOCTYPE html>\n<html><body><h1>infosrv e2e index</h1></body></html>\n"
HELLO = b"Hello, infosrv!\n"
STYLE_CSS = b"body { color: #123456; }\n"
DATA_JSON = b'{"answer": 42, "list": [1, 2, 3]}\n'
IMAGE_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n'
SCRIPT_JS = b"console.log('infosrv');\n"
NOEXT = b"no extension here\n"
DATA_1K = bytes(range(256)) * 4
BIG_100K = random.Random(20240601).randbytes(100 * 1024)
SPACE_NAME = "sp ace \u00e9t\u00e9.txt"          # "sp ace été.txt"
SPACE_URL = "/sp%20ace%20%C3%A9t%C3%A9.txt"
SPACE_BODY = b"spaces and UTF-8 in the name\n"
SUB_INDEX_HTM = b"<p>index.htm of sub-index</p>\n"
SUB_DEFAULT_HTM = b"<p>default.htm of sub-default</p>\n"
BOTH_INDEX_HTML = b"<p>index.html wins</p>\n"
BOTH_INDEX_HTM = b"<p>index.htm loses</p>\n"
SECRET = b"TOP-SECRET-7f3a9c-do-not-serve\n"
OUTSIDE_OK = b"outside file reachable only with symlinks=any\n"
DOCS_README = b"docs readme\n"
DOCS_DEEP = b"deep vdir file\n"
PRIVATE_X = b"private file\n"
STRICT_REAL = b"strict vdir real file\n"
BROWSE_FILES = {
    "a&b<c>.txt": b"escaped name\n",
    "with space.txt": b"space name\n",
    "plain.txt": b"plain\n",
    ".hidden": b"dotfile\n",
    "\"><svg onload=alert(1)>.txt": b"markup in the name\n",
    "q'uote.txt": b"quote in the name\n",
    "\u00e9t\u00e9 \u65e5\u672c.txt": b"non-ASCII name\n",
    "100%.txt": b"percent in the name\n",
    "hash#x.txt": b"hash in the name\n",
}
EMPTY = b""


def _write(path, data, mtime=None):
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def build(base):
    """Create root/, outside/, docs/, deep/, private/, strict/, any/ under base.

    Returns a dict of the directories.
    """
    d = {name: os.path.join(base, name)
         for name in ("root", "outside", "docs", "deep", "private", "strict", "any")}
    for p in d.values():
        os.makedirs(p)
    root = d["root"]
    _write(os.path.join(root, "index.html"), INDEX_HTML, FIXED_MTIME)
    _write(os.path.join(root, "hello.txt"), HELLO, FIXED_MTIME)
    _write(os.path.join(root, "style.css"), STYLE_CSS)
    _write(os.path.join(root, "data.json"), DATA_JSON)
    _write(os.path.join(root, "image.svg"), IMAGE_SVG)
    _write(os.path.join(root, "script.js"), SCRIPT_JS)
    _write(os.path.join(root, "noext"), NOEXT)
    _write(os.path.join(root, "data1k.bin"), DATA_1K, FIXED_MTIME)
    _write(os.path.join(root, "big.bin"), BIG_100K)
    _write(os.path.join(root, "empty.txt"), EMPTY)
    _write(os.path.join(root, SPACE_NAME), SPACE_BODY)
    os.makedirs(os.path.join(root, "browse", "subdir"))
    for name, data in BROWSE_FILES.items():
        _write(os.path.join(root, "browse", name), data)
    os.makedirs(os.path.join(root, "sub-index"))
    _write(os.path.join(root, "sub-index", "index.htm"), SUB_INDEX_HTM)
    os.makedirs(os.path.join(root, "sub-default"))
    _write(os.path.join(root, "sub-default", "default.htm"), SUB_DEFAULT_HTM)
    os.makedirs(os.path.join(root, "both"))
    _write(os.path.join(root, "both", "index.html"), BOTH_INDEX_HTML)
    _write(os.path.join(root, "both", "index.htm"), BOTH_INDEX_HTM)
    # Symlinks: one staying inside the root, three leading outside.
    os.symlink("hello.txt", os.path.join(root, "inside-link.txt"))
    _write(os.path.join(d["outside"], "secret.txt"), SECRET)
    _write(os.path.join(d["outside"], "ok.txt"), OUTSIDE_OK)
    os.symlink(d["outside"], os.path.join(root, "escape-link"))
    os.symlink(os.path.join(d["outside"], "secret.txt"), os.path.join(root, "escape-file.txt"))
    os.symlink("../outside/secret.txt", os.path.join(root, "escape-rel.txt"))
    # Virtual directories.
    _write(os.path.join(d["docs"], "readme.txt"), DOCS_README)
    os.makedirs(os.path.join(d["docs"], "guide"))
    _write(os.path.join(d["docs"], "guide", "intro.txt"), b"intro\n")
    _write(os.path.join(d["deep"], "deep.txt"), DOCS_DEEP)
    _write(os.path.join(d["private"], "x"), PRIVATE_X)
    _write(os.path.join(d["strict"], "real.txt"), STRICT_REAL)
    os.symlink("real.txt", os.path.join(d["strict"], "link.txt"))
    os.symlink(os.path.join(d["outside"], "ok.txt"), os.path.join(d["any"], "out.txt"))
    return d


def shared_args(d):
    """The command-line options of the shared read-only server."""
    return [
        "--browse",
        "--vdir", f"/docs={d['docs']},browse",
        "--vdir", f"/docs/deep={d['deep']}",
        "--vdir", f"/private={d['private']},noread",
        "--vdir", f"/strict={d['strict']},symlinks=never",
        "--vdir", f"/any={d['any']},symlinks=any",
    ]
