"""Custom response headers (http_headers) and content expiration (expires) of the WWW
service, set live with infoadm on a site and inherited by its directories."""

import email.utils
import time

import tree
from conftest import adm, adm_ok, health_check
from rawhttp import request


def test_http_headers_on_every_response_of_the_site(admin_server):
    srv = admin_server()
    adm_ok(srv, "set", "/www/sites/default",
           'http_headers={"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src \'self\'"}')
    for path, want in (("/index.html", 200), ("/no-such-file", 404)):
        r = request(srv.port, "GET", path)
        assert r.status == want, r
        assert r.header("X-Frame-Options") == "DENY", r
        assert r.header("Content-Security-Policy") == "default-src 'self'", r
    assert request(srv.port, "GET", "/index.html").body == tree.INDEX_HTML
    adm_ok(srv, "unset", "/www/sites/default", "http_headers")
    assert request(srv.port, "GET", "/index.html").header("X-Frame-Options") is None


def test_expires_after_on_and_immediate(admin_server):
    srv = admin_server()
    assert request(srv.port, "GET", "/index.html").header("Expires") is None, "off by default"
    adm_ok(srv, "set", "/www/sites/default", "expires=after 3600")
    r = request(srv.port, "GET", "/index.html")
    assert r.header("Cache-Control") == "max-age=3600", r
    exp = email.utils.parsedate_to_datetime(r.header("Expires")).timestamp()
    assert abs(exp - (time.time() + 3600)) < 5, r.header("Expires")
    # Conditional and range answers of the file carry it too.
    etag = r.header("ETag")
    r = request(srv.port, "GET", "/index.html", headers=[("If-None-Match", etag)])
    assert r.status == 304 and r.header("Cache-Control") == "max-age=3600", r
    r = request(srv.port, "GET", "/index.html", headers=[("Range", "bytes=0-3")])
    assert r.status == 206 and r.header("Cache-Control") == "max-age=3600", r
    adm_ok(srv, "set", "/www/sites/default", "expires=on Fri, 01 Jan 2027 00:00:00 GMT")
    r = request(srv.port, "GET", "/index.html")
    assert r.header("Expires") == "Fri, 01 Jan 2027 00:00:00 GMT" and r.header("Cache-Control") is None
    adm_ok(srv, "set", "/www/sites/default", "expires=immediate")
    r = request(srv.port, "GET", "/index.html")
    assert r.header("Cache-Control") == "no-cache", r
    assert r.header("Expires") == "Thu, 01 Jan 1970 00:00:00 GMT", r


def test_broken_header_and_expiry_settings_are_refused(admin_server):
    srv = admin_server()
    for setting, words in (('http_headers={"Content-Length": "5"}', "writes this header itself"),
                           ('http_headers={"Connection": "close"}', "writes this header itself"),
                           ("expires=after soon", "after SECONDS"),
                           ("expires=on tomorrow", "HTTP-date"),
                           ("expires=sometimes", "must be")):
        p = adm(srv, "set", "/www/sites/default", setting)
        assert p.returncode == 1 and words in p.err, (setting, p.err)
    health_check(srv.port)
    r = request(srv.port, "GET", "/index.html")
    assert r.header("Expires") is None, r
    assert [v for k, v in r.headers if k.lower() == "connection"] == ["close"], r


def test_error_pages_replace_the_built_in_ones(admin_server, tmp_path):
    srv = admin_server()
    page = tmp_path / "404.html"
    page.write_bytes(b"<h1>Nothing here, sorry</h1>\n")
    adm_ok(srv, "set", "/www/sites/default", f'error_pages={{"404": "{page}"}}')
    r = request(srv.port, "GET", "/no-such-file")
    assert r.status == 404 and r.body == page.read_bytes(), r
    assert r.header("Content-Type") == "text/html; charset=utf-8", r
    r = request(srv.port, "HEAD", "/no-such-file")
    assert r.status == 404 and r.header("Content-Length") == str(len(page.read_bytes())), r
    # Other statuses keep the built-in page.
    r = request(srv.port, "DELETE", "/index.html")
    assert r.status == 405 and b"<h1>Method Not Allowed</h1>" in r.body, r
    # A missing file or a status that is not an error is refused, naming it.
    for setting, words in ((f'error_pages={{"404": "{tmp_path}/none.html"}}', "cannot be read"),
                           (f'error_pages={{"200": "{page}"}}', "not a status from 400 to 599"),
                           ('error_pages={"404": "relative.html"}', "not an absolute path")):
        p = adm(srv, "set", "/www/sites/default", setting)
        assert p.returncode == 1 and words in p.err, (setting, p.err)
    assert request(srv.port, "GET", "/no-such-file").body == page.read_bytes()
    health_check(srv.port)
