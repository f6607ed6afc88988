"""IP address restrictions of the WWW service: ip_default and ip_exceptions on a site
and its virtual directories, set live with infoadm; a refused client gets 403 and is
counted (access_denied), everybody else is served as before."""

import json

import tree
from conftest import adm, adm_ok, health_check
from rawhttp import request


def status(port, path):
    return request(port, "GET", path).status


def denied(srv):
    out = json.loads(adm_ok(srv, "--json", "stats", "--site", "default").out)
    return out["stats"][0]["counters"]["access_denied"]


def test_deny_loopback_from_a_vdir_then_grant_it_back(admin_server):
    srv = admin_server()
    docs = srv.dirs.get("docs") or srv.root
    adm_ok(srv, "vdir", "add", "default", "/private", docs)
    assert status(srv.port, "/private/") in (200, 403, 404)
    before = status(srv.port, "/private/")
    # Everybody but 127.0.0.0/8: this client is refused there, and only there.
    adm_ok(srv, "set", "/www/sites/default/root/private", 'ip_exceptions=["127.0.0.0/8"]')
    r = request(srv.port, "GET", "/private/")
    assert r.status == 403 and b"not allowed" in r.body, r
    assert denied(srv) == 1
    health_check(srv.port)  # the rest of the site is untouched
    # deny by default, with this client as the exception: served again.
    adm_ok(srv, "set", "/www/sites/default/root/private", "ip_default=deny")
    assert status(srv.port, "/private/") == before
    # On the site, inherited by every directory: deny all, 127.0.0.1 alone excepted.
    adm_ok(srv, "unset", "/www/sites/default/root/private", "ip_default", "ip_exceptions")
    adm_ok(srv, "set", "/www/sites/default", "ip_default=deny", 'ip_exceptions=["10.0.0.0/8"]')
    assert status(srv.port, "/index.html") == 403
    assert status(srv.port, "/private/") == 403
    assert denied(srv) == 3
    adm_ok(srv, "set", "/www/sites/default", 'ip_exceptions=["10.0.0.0/8","127.0.0.1"]')
    health_check(srv.port)


def test_a_malformed_rule_is_refused_and_changes_nothing(admin_server):
    srv = admin_server()
    for bad, words in (("10.0.0.1/8", "bits after the prefix are zero"),
                       ("10.0.0.0/33", "at most 32"), ("intranet", "numeric")):
        p = adm(srv, "set", "/www/sites/default", f'ip_exceptions=["{bad}"]')
        assert p.returncode == 1 and words in p.err and "ip_exceptions" in p.err, p.err
    p = adm(srv, "set", "/www/sites/default", "ip_default=maybe")
    assert p.returncode == 1 and "ip_default" in p.err, p.err
    health_check(srv.port)
    assert request(srv.port, "GET", "/index.html").body == tree.INDEX_HTML
