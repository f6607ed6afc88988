"""Content coding of static files: gzip copies made once per file version and kept in
STATE_DIR/cache/gzip, precompressed FILE.br and FILE.gz siblings, Accept-Encoding with
its q-values, Vary, per-representation ETags, and what is never coded (ranges,
compressed formats, small files, compression off)."""

import gzip
import http.client
import json
import os
import random
import subprocess

from conftest import adm, adm_ok, admin_request, health_check
from rawhttp import request, wait_for

WORDS = ["<div>", "</div>", "<p class=\"note\">", "</p>", "infosrv", "gopher", "archie",
         "veronica", "compression", "bandwidth", "metabase", "<a href=\"/x\">", "</a>"]


def text(n, seed):
    """N bytes of markup-like text (compresses to about a fifth)."""
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += (rnd.choice(WORDS) + " ").encode()
    return bytes(out[:n])


PAGE = text(50_000, 1)          # compressed inline, on the first request
BIG = text(600_000, 2)          # above the inline bound: compressed off-loop
PNG = b"\x89PNG\r\n\x1a\n" + text(5000, 3)


def put(srv, name, data, mtime=None):
    path = os.path.join(srv.root, name)
    with open(path, "wb") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def get(srv, path, accept=None, method="GET", headers=()):
    """One request with http.client (which sends no Accept-Encoding of its own)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    hdrs = dict(headers)
    if accept is not None:
        hdrs["Accept-Encoding"] = accept
    try:
        conn.request(method, path, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def compressed_count(srv):
    out = json.loads(adm_ok(srv, "--json", "stats", "--site", "default").out)
    return out["stats"][0]["counters"]["files_compressed"]


def copies(srv):
    d = os.path.join(srv.state_dir, "cache", "gzip")
    return sorted(n for n in os.listdir(d) if n.endswith(".gz"))


def test_curl_compressed_gets_gzip_that_decodes_to_the_file(admin_server, tmp_path):
    srv = admin_server()
    put(srv, "page.html", PAGE)
    body, head = tmp_path / "body", tmp_path / "head"
    p = subprocess.run(["curl", "-sS", "--fail", "--max-time", "20", "--compressed", "-D", str(head),
                        "-o", str(body), srv.url("/page.html")], capture_output=True)
    assert p.returncode == 0, p.stderr
    assert body.read_bytes() == PAGE
    lines = head.read_text().lower().splitlines()
    assert "content-encoding: gzip" in lines, lines
    assert "vary: accept-encoding" in lines, lines
    # Without --compressed curl asks for nothing and gets the file as it is.
    p = subprocess.run(["curl", "-sS", "--fail", "--max-time", "20", "-D", str(head), "-o",
                        str(body), srv.url("/page.html")], capture_output=True)
    assert p.returncode == 0 and body.read_bytes() == PAGE
    lines = head.read_text().lower().splitlines()
    assert not any(x.startswith("content-encoding") for x in lines), lines
    assert "vary: accept-encoding" in lines, lines


def test_gzip_response_headers_etag_and_head(admin_server):
    srv = admin_server()
    put(srv, "page.html", PAGE)
    st, h, body = get(srv, "/page.html", "gzip")
    assert st == 200 and h["Content-Encoding"] == "gzip", h
    assert gzip.decompress(body) == PAGE
    assert int(h["Content-Length"]) == len(body) < len(PAGE) // 2
    assert h["Vary"] == "Accept-Encoding" and h["Content-Type"] == "text/html", h
    assert h["Accept-Ranges"] is None, "ranges are of the unencoded file only"
    st, plain, pbody = get(srv, "/page.html")
    assert st == 200 and pbody == PAGE and plain["Content-Encoding"] is None
    assert plain["Vary"] == "Accept-Encoding", plain
    assert h["ETag"] == plain["ETag"][:-1] + '-gzip"', (h["ETag"], plain["ETag"])
    # HEAD: the headers GET gets, and no body.
    st, hh, hbody = get(srv, "/page.html", "gzip", method="HEAD")
    assert st == 200 and hbody == b""
    for name in ("Content-Length", "Content-Encoding", "ETag", "Vary", "Content-Type"):
        assert hh[name] == h[name], name
    # Conditionals are against the representation chosen.
    st, h304, _ = get(srv, "/page.html", "gzip", headers=[("If-None-Match", h["ETag"])])
    assert st == 304 and h304["ETag"] == h["ETag"] and h304["Vary"] == "Accept-Encoding", h304
    st, _, body = get(srv, "/page.html", "gzip", headers=[("If-None-Match", plain["ETag"])])
    assert st == 200 and gzip.decompress(body) == PAGE


def test_q_values_are_respected(admin_server):
    srv = admin_server()
    put(srv, "page.html", PAGE)
    put(srv, "tiny.html", PAGE[:500])
    for accept, coded in (("gzip;q=0", False), ("deflate", False), ("", False),
                          ("gzip;q=0.5", False),           # identity keeps q=1
                          ("gzip;q=0.5, identity;q=0.2", True),
                          ("br, gzip;q=0.001, identity;q=0", True),  # no .br: gzip is left
                          ("*", True), ("*;q=0", False), ("x-gzip", True),
                          ("GZIP ; Q=1.0", True), ("gzip;q=1.5", False)):
        st, h, body = get(srv, "/page.html", accept)
        assert st == 200, accept
        assert (h["Content-Encoding"] == "gzip") == coded, (accept, h["Content-Encoding"])
        assert (gzip.decompress(body) if coded else body) == PAGE, accept
        assert h["Vary"] == "Accept-Encoding", accept
    # Below compression_min_size the file goes as it is, unless identity is refused.
    st, h, body = get(srv, "/tiny.html", "gzip")
    assert h["Content-Encoding"] is None and body == PAGE[:500]
    st, h, body = get(srv, "/tiny.html", "gzip, identity;q=0")
    assert h["Content-Encoding"] == "gzip" and gzip.decompress(body) == PAGE[:500]


def test_never_coded_ranges_compressed_formats_and_other_responses(admin_server):
    srv = admin_server()
    put(srv, "page.html", PAGE)
    put(srv, "picture.png", PNG)
    st, h, body = get(srv, "/page.html", "gzip", headers=[("Range", "bytes=100-199")])
    assert st == 206 and body == PAGE[100:200] and h["Content-Encoding"] is None, h
    assert h["Vary"] == "Accept-Encoding", h
    st, h, body = get(srv, "/picture.png", "gzip, br")
    assert st == 200 and body == PNG and h["Content-Encoding"] is None and h["Vary"] is None, h
    st, h, body = get(srv, "/data1k.bin", "gzip")
    assert st == 200 and h["Content-Encoding"] is None and h["Vary"] is None, h
    st, h, _ = get(srv, "/no-such.html", "gzip")
    assert st == 404 and h["Content-Encoding"] is None
    # An admin cannot make PNG compressible by listing it.
    adm_ok(srv, "set", "/www/sites/default", 'compression_types=["image/*", "text/html"]')
    st, h, body = get(srv, "/picture.png", "gzip")
    assert body == PNG and h["Content-Encoding"] is None and h["Vary"] is None, h
    assert compressed_count(srv) == 0


def test_precompressed_siblings_br_preferred_and_stale_ones_ignored(admin_server):
    srv = admin_server()
    base = put(srv, "app.js", PAGE, mtime=1_700_000_000)
    br = b"not really brotli, served as it is"          # the server never decodes it
    gz = gzip.compress(PAGE[:30_000] + b"/* from the .gz */")
    put(srv, "app.js.br", br, mtime=1_700_000_100)
    put(srv, "app.js.gz", gz, mtime=1_700_000_100)
    st, h, body = get(srv, "/app.js", "gzip, deflate, br")
    assert st == 200 and body == br and h["Content-Encoding"] == "br", h
    assert int(h["Content-Length"]) == len(br) and h["Vary"] == "Accept-Encoding"
    assert h["ETag"].endswith('-br"'), h
    assert h["Content-Type"] in ("text/javascript", "application/javascript"), h
    st, h, body = get(srv, "/app.js", "gzip, br;q=0.5")
    assert body == gz and h["Content-Encoding"] == "gzip" and h["ETag"].endswith('-gzip"'), h
    st, h, body = get(srv, "/app.js", "identity, br;q=0.9")
    assert body == PAGE and h["Content-Encoding"] is None
    # The file itself, and its siblings, can still be asked for by name.
    st, h, body = get(srv, "/app.js.gz", "gzip")
    assert body == gz and h["Content-Encoding"] is None, h
    assert compressed_count(srv) == 0, "a sibling is sent, nothing compressed"
    # A file newer than its siblings makes them stale: the .br is left out, and the
    # gzip copy is made from the file (after the open-file cache looks again).
    os.utime(base, (1_700_000_200, 1_700_000_200))
    wait_for(lambda: get(srv, "/app.js", "br")[1]["Content-Encoding"] is None, timeout=5,
             what="the stale .br to be passed over")
    st, h, body = get(srv, "/app.js", "gzip, br")
    assert h["Content-Encoding"] == "gzip" and gzip.decompress(body) == PAGE, h
    assert compressed_count(srv) == 1


def test_compression_static_sends_siblings_but_makes_no_copies(admin_server):
    srv = admin_server()
    put(srv, "page.html", PAGE, mtime=1_700_000_000)
    put(srv, "style.css", PAGE)
    put(srv, "page.html.gz", gzip.compress(PAGE), mtime=1_700_000_001)
    adm_ok(srv, "set", "/www/sites/default", "compression=static")
    st, h, body = get(srv, "/page.html", "gzip")
    assert h["Content-Encoding"] == "gzip" and gzip.decompress(body) == PAGE
    st, h, body = get(srv, "/style.css", "gzip")
    assert h["Content-Encoding"] is None and body == PAGE and h["Vary"] == "Accept-Encoding"
    assert compressed_count(srv) == 0 and copies(srv) == []
    adm_ok(srv, "set", "/www/sites/default", "compression=off")
    st, h, body = get(srv, "/page.html", "gzip")
    assert h["Content-Encoding"] is None and body == PAGE and h["Vary"] is None, h


def test_a_file_version_is_compressed_once(admin_server):
    srv = admin_server()
    path = put(srv, "page.html", PAGE)
    for _ in range(12):  # new connections: both workers answer some
        st, h, body = get(srv, "/page.html", "gzip")
        assert h["Content-Encoding"] == "gzip" and gzip.decompress(body) == PAGE
    assert compressed_count(srv) == 1
    assert len(copies(srv)) == 1
    # A new generation empties the open-file caches; the copy on disk is found again.
    adm_ok(srv, "set", "/www/sites/default", "comment=new generation")
    st, h, body = get(srv, "/page.html", "gzip")
    assert gzip.decompress(body) == PAGE and compressed_count(srv) == 1
    # A new version of the file gets its own copy.
    new = PAGE.replace(b"infosrv", b"INFOSRV")
    with open(path, "wb") as f:
        f.write(new)
    wait_for(lambda: gzip.decompress(get(srv, "/page.html", "gzip")[2]) == new, timeout=5,
             what="the new version to be compressed")
    assert compressed_count(srv) == 2 and len(copies(srv)) == 2
    # The next start finds the copies: nothing is compressed again.
    srv.stop()
    srv.restart()
    st, h, body = get(srv, "/page.html", "gzip")
    assert gzip.decompress(body) == new and compressed_count(srv) == 0


def test_a_big_file_is_compressed_off_the_loop(admin_server):
    srv = admin_server()
    put(srv, "big.html", BIG)
    st, h, body = get(srv, "/big.html", "gzip")
    assert st == 200 and h["Vary"] == "Accept-Encoding"
    # The first answers may be the file as it is while the copy is made.
    assert body == BIG or gzip.decompress(body) == BIG

    def coded():
        st, h, body = get(srv, "/big.html", "gzip")
        return h["Content-Encoding"] == "gzip" and gzip.decompress(body) == BIG
    wait_for(coded, timeout=10, interval=0.05, what="the gzip copy of big.html")
    assert compressed_count(srv) == 1
    health_check(srv.port)


def test_bad_compression_settings_are_refused(admin_server):
    srv = admin_server()
    assert "www.compression" in admin_request(srv, "GET", "/api").json["capabilities"]
    for setting, words in (('compression_types=["text"]', "media type"),
                           ('compression_types=["*/*"]', "media type"),
                           ('compression_types=["text/html; charset=utf-8"]', "media type"),
                           ("compression=maybe", "compression"),
                           ("compression_min_size=-1", "compression_min_size")):
        p = adm(srv, "set", "/www/sites/default", setting)
        assert p.returncode == 1 and words in p.err, (setting, p.err)
    health_check(srv.port)
    # The raw client gets the same representation as http.client.
    put(srv, "page.html", PAGE)
    r = request(srv.port, "GET", "/page.html", headers=[("Accept-Encoding", "gzip")])
    assert r.status == 200 and gzip.decompress(r.body) == PAGE
