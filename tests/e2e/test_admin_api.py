"""End-to-end tests of the admin API (docs/admin-api.md) against the real
daemon: HTTPS authentication, roles, rate limiting and cross-origin refusal;
error answers (and that nothing changed after them); the configuration tree,
revisions, diff, export/import, backups, audit, metrics and cache flush.
Every check is on statuses, JSON fields and the bytes the WWW service serves."""

import os
import re
import socket

import pytest

import tree
from conftest import admin_request
from rawhttp import RawConn, build_request, request, wait_for

SITE = "/api/v1/config/www/sites/default"


def api(srv, method, path, body=None, **kw):
    return admin_request(srv, method, path, body=body, **kw)


def ok(r, status=200):
    assert r.status == status, r
    return r.json


def current_revision(srv):
    return ok(api(srv, "GET", "/api/v1/revisions?limit=1"))["revisions"][0]["revision"]


def prop(srv, key, name):
    return ok(api(srv, "GET", f"/api/v1/config{key}"))["properties"][name]


def keepalive_get(port, path="/index.html"):
    with RawConn(port) as c:
        c.send(build_request("GET", path))
        return c.read_response()


def assert_serves_index(port):
    r = keepalive_get(port)
    assert r.status == 200 and r.body == tree.INDEX_HTML, r


def assert_error(r, status, code):
    assert r.status == status, r
    assert r.json and r.error_code == code, r
    assert isinstance(r.json["error"].get("message"), str) and r.json["error"]["message"], r
    ctype = r.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/json", ctype


# -- 2. HTTPS, tokens, roles, origin ------------------------------------------

def test_https_token_discovery_and_stats(admin_server):
    srv = admin_server()
    st = os.stat(os.path.join(srv.state_dir, "admin.token"))
    assert oct(st.st_mode & 0o777) == "0o600"
    d = ok(api(srv, "GET", "/api", via="https"))
    assert d["product"] == "infosrv" and "v1" in d["api_versions"]
    for cap in ("config", "config.history", "services", "services.pause", "stats", "sessions",
                "sessions.disconnect", "accounts", "audit", "metrics", "backups", "cache.flush"):
        assert cap in d["capabilities"], cap
    assert_serves_index(srv.port)
    s = ok(api(srv, "GET", "/api/v1/stats", via="https"))["stats"]
    www = [x for x in s if x["service"] == "www" and x["site"] is None]
    assert len(www) == 1 and www[0]["counters"]["get_requests"] == 1, s


def test_https_unauthorized(admin_server):
    srv = admin_server()
    r = api(srv, "GET", "/api", via="https", token="")
    assert_error(r, 401, "unauthorized")
    assert (r.headers.get("WWW-Authenticate") or "").startswith("Bearer"), r.headers
    r = api(srv, "GET", "/api/v1/config/www", via="https", token="not-the-token")
    assert_error(r, 401, "unauthorized")
    r = api(srv, "PATCH", "/api/v1/config/www", {"set": {"header_timeout": 5}}, via="https",
            token=srv.token[:-1] + ("A" if srv.token[-1] != "A" else "B"))
    assert_error(r, 401, "unauthorized")
    assert prop(srv, "/www", "header_timeout")["value"] == 10


def test_https_failed_logins_rate_limited(admin_server):
    srv = admin_server()
    statuses = [api(srv, "GET", "/api", via="https", token=f"wrong-{i}") for i in range(6)]
    assert [r.status for r in statuses[:5]] == [401] * 5, statuses
    r = statuses[5]
    assert_error(r, 429, "rate_limited")
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.isdigit() and 0 < int(ra) <= 60, r.headers
    # The local socket is not affected.
    ok(api(srv, "GET", "/api"))


def test_reader_and_operator_roles(admin_server):
    srv = admin_server()
    port = srv.port
    rd = ok(api(srv, "POST", "/api/v1/accounts", {"name": "rd", "role": "reader"}), 201)
    assert rd["name"] == "rd" and rd["role"] == "reader" and rd["token"]
    op = ok(api(srv, "POST", "/api/v1/accounts", {"name": "op", "role": "operator"}), 201)
    assert op["token"] and op["token"] != rd["token"]
    assert_error(api(srv, "POST", "/api/v1/accounts", {"name": "rd", "role": "admin"}), 409,
                 "account_exists")
    names = {a["name"]: a["role"] for a in ok(api(srv, "GET", "/api/v1/accounts"))["accounts"]}
    assert names == {"admin": "admin", "rd": "reader", "op": "operator"}, names
    assert not any("token" in a for a in ok(api(srv, "GET", "/api/v1/accounts"))["accounts"])

    rev = current_revision(srv)
    # reader: every GET, nothing else.
    ok(api(srv, "GET", "/api/v1/config/www/sites/default", via="https", token=rd["token"]))
    ok(api(srv, "GET", "/api/v1/revisions", via="https", token=rd["token"]))
    r = api(srv, "PATCH", "/api/v1/config/www", {"set": {"header_timeout": 5}}, via="https",
            token=rd["token"])
    assert_error(r, 403, "forbidden")
    assert_error(api(srv, "POST", "/api/v1/services/www/stop", via="https", token=rd["token"]),
                 403, "forbidden")
    assert_serves_index(port)

    # operator: service control yes, configuration no.
    r = api(srv, "POST", "/api/v1/services/www/stop", via="https", token=op["token"])
    assert ok(r)["changed"] is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    ok(api(srv, "POST", "/api/v1/services/www/start", via="https", token=op["token"]))
    assert_serves_index(port)
    r = api(srv, "PATCH", "/api/v1/config/www", {"set": {"header_timeout": 5}}, via="https",
            token=op["token"])
    assert_error(r, 403, "forbidden")
    assert_error(api(srv, "POST", "/api/v1/accounts", {"name": "x", "role": "admin"}, via="https",
                     token=op["token"]), 403, "forbidden")
    assert prop(srv, "/www", "header_timeout")["value"] == 10
    # Only the two service actions made revisions.
    assert current_revision(srv) == rev + 2

    # A removed account's token stops working; a new token replaces the old one.
    ok(api(srv, "DELETE", "/api/v1/accounts/rd"))
    assert_error(api(srv, "GET", "/api", via="https", token=rd["token"]), 401, "unauthorized")
    new = ok(api(srv, "POST", "/api/v1/accounts/op/token"))["token"]
    assert_error(api(srv, "GET", "/api", via="https", token=op["token"]), 401, "unauthorized")
    ok(api(srv, "GET", "/api", via="https", token=new))


def test_cross_origin_refused(admin_server):
    srv = admin_server()
    for via in ("https", "unix"):
        r = api(srv, "GET", "/api/v1/config/www", via=via, headers={"Origin": "http://evil.example"})
        assert_error(r, 403, "forbidden")
        r = api(srv, "PATCH", "/api/v1/config/www", {"set": {"header_timeout": 5}}, via=via,
                headers={"Origin": "https://evil.example"})
        assert_error(r, 403, "forbidden")
    assert prop(srv, "/www", "header_timeout")["value"] == 10
    # Same origin (Origin matches Host) is served.
    host = f"127.0.0.1:{srv.admin_port}"
    r = api(srv, "GET", "/api", via="https", headers={"Origin": f"https://{host}", "Host": host})
    assert r.status == 200, r


def test_get_never_changes_state(admin_server):
    srv = admin_server()
    rev = current_revision(srv)
    services = ok(api(srv, "GET", "/api/v1/services"))
    backups = ok(api(srv, "GET", "/api/v1/backups"))
    audit = ok(api(srv, "GET", "/api/v1/audit"))
    paths = ["/api", "/api/v1/config/", "/api/v1/config/www?recursive=1", "/api/v1/revisions",
             f"/api/v1/revisions/{rev}", f"/api/v1/diff?from={rev}&to={rev}", "/api/v1/export",
             "/api/v1/backups", "/api/v1/services", "/api/v1/stats", "/api/v1/sessions",
             "/api/v1/accounts", "/api/v1/audit", "/metrics"]
    for _ in range(3):
        for p in paths:
            ok(api(srv, "GET", p))
            ok(api(srv, "GET", p, via="https"))
    # GET on action endpoints: refused, nothing done.
    for p in ("/api/v1/services/www/stop", "/api/v1/cache/flush", "/api/v1/backups/x/restore",
              "/api/v1/rollback", "/api/v1/commits", "/api/v1/import"):
        r = api(srv, "GET", p)
        assert r.status in (404, 405), (p, r)
        assert r.error_code in ("method_not_allowed", "not_found"), (p, r)
    assert_serves_index(srv.port)
    assert current_revision(srv) == rev
    assert ok(api(srv, "GET", "/api/v1/services")) == services
    assert ok(api(srv, "GET", "/api/v1/backups")) == backups
    # Reads are not audited as changes: no new audit entries.
    assert ok(api(srv, "GET", "/api/v1/audit")) == audit


# -- 5. API errors: refused, and nothing changed ---------------------------------

def test_unknown_property_and_invalid_value(admin_server):
    srv = admin_server()
    rev = current_revision(srv)
    r = api(srv, "PATCH", SITE, {"set": {"colour": "red"}})
    assert_error(r, 400, "unknown_property")
    assert r.json["error"]["details"]["property"] == "colour"
    assert "colour" in r.json["error"]["message"]
    r = api(srv, "PATCH", SITE, {"set": {"header_timeout": 20, "colour": "red"}})
    assert_error(r, 400, "unknown_property")
    for bad in (0, 3601, "abc", 1.5, [5]):
        r = api(srv, "PATCH", SITE, {"set": {"header_timeout": bad}})
        assert_error(r, 400, "invalid_value")
    assert_error(api(srv, "PATCH", SITE, {"set": {"state": "sleeping"}}), 400, "invalid_value")
    assert_error(api(srv, "PATCH", SITE, {"set": {"bindings": ["nowhere"]}}), 400, "invalid_value")
    assert_error(api(srv, "PATCH", SITE, {"set": {"path": "/tmp"}}), 400, "not_allowed_here")
    assert_error(api(srv, "PATCH", SITE, {"sett": {"header_timeout": 20}}), 400, "invalid_request")
    assert_error(api(srv, "PATCH", SITE, raw_body=b"{not json"), 400, "invalid_request")
    assert_error(api(srv, "GET", "/api/v1/config/www/sites/nosuch"), 404, "no_such_key")
    assert_error(api(srv, "GET", "/api/v1/revisions/9999"), 404, "no_such_revision")
    assert_error(api(srv, "GET", "/api/v1/nothing-here"), 404, "not_found")
    assert current_revision(srv) == rev
    assert prop(srv, "/www/sites/default", "header_timeout") == \
        {"value": 10, "inherited": True, "source": "default"}


def test_if_match_stale(admin_server):
    srv = admin_server()
    r0 = api(srv, "GET", SITE)
    etag = r0.headers.get("ETag")
    rev = r0.json["revision"]
    assert etag == f'"{rev}"', etag
    ok(api(srv, "PATCH", SITE, {"set": {"header_timeout": 20}}, headers={"If-Match": etag}))
    r = api(srv, "PATCH", SITE, {"set": {"header_timeout": 30}}, headers={"If-Match": etag})
    assert_error(r, 412, "stale_revision")
    r = api(srv, "POST", "/api/v1/commits", {"base_revision": rev, "ops": [
        {"op": "set", "key": "/www/sites/default", "set": {"header_timeout": 40}}]})
    assert_error(r, 412, "stale_revision")
    assert current_revision(srv) == rev + 1
    assert prop(srv, "/www/sites/default", "header_timeout")["value"] == 20


def test_put_existing_key_conflict(admin_server):
    srv = admin_server()
    rev = current_revision(srv)
    r = api(srv, "PUT", SITE, {"properties": {"header_timeout": 20}})
    assert_error(r, 409, "key_exists")
    assert current_revision(srv) == rev
    assert prop(srv, "/www/sites/default", "header_timeout")["inherited"] is True
    # DELETE of a key with children without recursive -> has_children.
    assert_error(api(srv, "DELETE", SITE), 409, "has_children")
    assert_serves_index(srv.port)


def test_commit_missing_directory_apply_failed(admin_server, tmp_path):
    srv = admin_server()
    rev = current_revision(srv)
    missing = str(tmp_path / "does-not-exist")
    r = api(srv, "PUT", "/api/v1/config/www/sites/default/root/ghost", {"properties": {"path": missing}})
    assert_error(r, 422, "apply_failed")
    r = api(srv, "PATCH", "/api/v1/config/www/sites/default/root", {"set": {"path": missing}})
    assert_error(r, 422, "apply_failed")
    assert current_revision(srv) == rev
    assert_error(api(srv, "GET", "/api/v1/config/www/sites/default/root/ghost"), 404, "no_such_key")
    assert prop(srv, "/www/sites/default/root", "path")["value"] == srv.root
    assert_serves_index(srv.port)
    r = keepalive_get(srv.port, "/ghost/x")
    assert r.status == 404, r


def test_commit_port_in_use_apply_failed(admin_server):
    srv = admin_server()
    rev = current_revision(srv)
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    try:
        r = api(srv, "PATCH", SITE, {"set": {"bindings": [f"127.0.0.1:{busy}"]}})
        assert_error(r, 422, "apply_failed")
        assert str(busy) in r.json["error"]["message"]
        r = api(srv, "POST", "/api/v1/commits", {"ops": [
            {"op": "create", "key": "/www/sites/blog", "set": {"bindings": [f"127.0.0.1:{busy}"]}},
            {"op": "create", "key": "/www/sites/blog/root", "set": {"path": srv.dirs["docs"]}}]})
        assert_error(r, 422, "apply_failed")
        assert current_revision(srv) == rev
        assert prop(srv, "/www/sites/default", "bindings")["value"] == [f"127.0.0.1:{srv.port}"]
        assert_error(api(srv, "GET", "/api/v1/config/www/sites/blog"), 404, "no_such_key")
        assert_serves_index(srv.port)
    finally:
        holder.close()


def test_binding_without_port_refused(admin_server):
    srv = admin_server()
    rev = current_revision(srv)
    r = api(srv, "PATCH", SITE, {"set": {"bindings": ["127.0.0.1:0"]}})
    assert_error(r, 422, "apply_failed")
    assert "port" in r.json["error"]["message"]
    assert current_revision(srv) == rev
    assert_serves_index(srv.port)


def test_dry_run_changes_nothing(admin_server):
    srv = admin_server()
    rev = current_revision(srv)
    r = ok(api(srv, "POST", "/api/v1/commits", {"dry_run": True, "comment": "just looking", "ops": [
        {"op": "set", "key": "/www/sites/default/root", "set": {"default_documents": ["hello.txt"]}},
        {"op": "create", "key": "/www/sites/default/root/docs", "set": {"path": srv.dirs["docs"]}}]}))
    assert r["dry_run"] is True, r
    assert current_revision(srv) == rev
    assert_serves_index(srv.port)
    r = keepalive_get(srv.port, "/")
    assert r.status == 200 and r.body == tree.INDEX_HTML, r
    assert keepalive_get(srv.port, "/docs/readme.txt").status == 404
    assert_error(api(srv, "GET", "/api/v1/config/www/sites/default/root/docs"), 404, "no_such_key")
    # A dry run that would fail reports the failure.
    r = api(srv, "POST", "/api/v1/commits", {"dry_run": True, "ops": [
        {"op": "set", "key": "/www", "set": {"colour": 1}}]})
    assert_error(r, 400, "unknown_property")


def test_commit_is_atomic(admin_server, tmp_path):
    srv = admin_server()
    rev = current_revision(srv)
    good = [{"op": "set", "key": "/www", "set": {"header_timeout": 25}},
            {"op": "set", "key": "/www/sites/default/root", "set": {"default_documents": ["hello.txt"]}},
            {"op": "create", "key": "/www/sites/default/root/docs", "set": {"path": srv.dirs["docs"]}}]
    bad_ops = [
        ({"op": "set", "key": "/www/sites/default", "set": {"colour": "red"}}, 400, "unknown_property"),
        ({"op": "set", "key": "/www/sites/default", "set": {"header_timeout": -1}}, 400, "invalid_value"),
        ({"op": "create", "key": "/www/sites/default/root/ghost",
          "set": {"path": str(tmp_path / "missing")}}, 422, "apply_failed"),
        ({"op": "delete", "key": "/www/sites/nosuch"}, 404, "no_such_key"),
    ]
    for bad, status, code in bad_ops:
        r = api(srv, "POST", "/api/v1/commits", {"ops": good + [bad]})
        assert_error(r, status, code)
        assert current_revision(srv) == rev
        assert prop(srv, "/www", "header_timeout")["value"] == 10
        r = keepalive_get(srv.port, "/")
        assert r.body == tree.INDEX_HTML, f"after a refused commit ({code}) / serves {r.body!r}"
        assert keepalive_get(srv.port, "/docs/readme.txt").status == 404
    # The good part alone is one revision with everything applied.
    r = ok(api(srv, "POST", "/api/v1/commits", {"ops": good, "comment": "three in one"}))
    assert r["revision"] == rev + 1 and r["changed"] is True and r["dry_run"] is False, r
    assert keepalive_get(srv.port, "/").body == tree.HELLO
    assert keepalive_get(srv.port, "/docs/readme.txt").body == tree.DOCS_README
    rv = ok(api(srv, "GET", f"/api/v1/revisions/{rev + 1}"))
    assert rv["comment"] == "three in one" and len(rv["changes"]) >= 3, rv
    # The same again changes nothing.
    r = ok(api(srv, "POST", "/api/v1/commits", {"ops": good[:2]}))
    assert r == {"revision": rev + 1, "changed": False, "dry_run": False}, r


# -- 6. configuration tree and revisions ---------------------------------------

def test_recursive_get_inheritance(admin_server):
    srv = admin_server()
    ok(api(srv, "PATCH", "/api/v1/config/www", {"set": {"default_documents": ["hello.txt", "index.html"]}}))
    r = api(srv, "GET", SITE + "?recursive=1")
    d = ok(r)
    assert r.headers.get("ETag") == f'"{d["revision"]}"'
    assert d["key"] == "/www/sites/default" and d["kind"] == "site"
    p = d["properties"]
    assert p["default_documents"] == {"value": ["hello.txt", "index.html"], "inherited": True,
                                      "source": "/www"}
    assert p["bindings"] == {"value": [f"127.0.0.1:{srv.port}"], "inherited": False}
    assert p["header_timeout"] == {"value": 10, "inherited": True, "source": "default"}
    assert p["anonymous_password"]["secret"] is True and p["anonymous_password"]["value"] == ""
    assert "root" in d["children"]
    subs = {s["key"]: s for s in d["subkeys"]}
    root = subs["/www/sites/default/root"]
    assert root["kind"] == "vdir"
    assert root["properties"]["path"] == {"value": srv.root, "inherited": False}
    assert root["properties"]["default_documents"]["source"] == "/www"
    # The change is served: hello.txt is the first default document now.
    assert keepalive_get(srv.port, "/").body == tree.HELLO
    # A secret is write-only.
    ok(api(srv, "PATCH", SITE, {"set": {"anonymous_password": "s3cr3t-pw"}}))
    ap = prop(srv, "/www/sites/default", "anonymous_password")
    assert ap["value"] == "" and ap["set"] is True, ap
    assert b"s3cr3t-pw" not in api(srv, "GET", "/api/v1/export").body
    rv = api(srv, "GET", f"/api/v1/revisions/{current_revision(srv)}")
    assert rv.status == 200 and b"s3cr3t-pw" not in rv.body
    # The root key.
    top = ok(api(srv, "GET", "/api/v1/config/"))
    assert top["key"] == "/" and top["kind"] == "machine" and "www" in top["children"], top


def test_diff_between_revisions(admin_server):
    srv = admin_server()
    a = current_revision(srv)
    ok(api(srv, "PATCH", "/api/v1/config/www", {"set": {"header_timeout": 21}}))
    ok(api(srv, "PATCH", SITE, {"set": {"max_connections": 77}}))
    b = current_revision(srv)
    assert b == a + 2
    d = ok(api(srv, "GET", f"/api/v1/diff?from={a}&to={b}"))
    assert d["from"] == a and d["to"] == b
    flat = [(c.get("key"), c.get("name", c.get("property"))) for c in d["changes"]]
    assert ("/www", "header_timeout") in flat and ("/www/sites/default", "max_connections") in flat, d
    assert len(d["changes"]) == 2, d
    assert ok(api(srv, "GET", f"/api/v1/diff?from={b}&to={b}"))["changes"] == []
    assert_error(api(srv, "GET", f"/api/v1/diff?from={a}&to=9999"), 404, "no_such_revision")
    assert_error(api(srv, "GET", "/api/v1/diff?from=x&to=1"), 400, "invalid_request")


def _strip_revisions(obj):
    if isinstance(obj, dict):
        return {k: _strip_revisions(v) for k, v in obj.items() if k != "revision"}
    if isinstance(obj, list):
        return [_strip_revisions(v) for v in obj]
    return obj


def test_export_import_round_trip(admin_server):
    a = admin_server()
    ok(api(a, "PATCH", "/api/v1/config/www", {"set": {"header_timeout": 22, "mime_map": {"md": "text/markdown"}}}))
    ok(api(a, "PATCH", "/api/v1/config/", {"set": {"server_comment": "exported"}}))
    ok(api(a, "PUT", "/api/v1/config/www/sites/default/root/docs",
           {"properties": {"path": a.dirs["docs"], "directory_browsing": True}}), 201)
    assert keepalive_get(a.port, "/docs/readme.txt").body == tree.DOCS_README
    doc = ok(api(a, "GET", "/api/v1/export"))
    assert doc["keys"]["/www/sites/default/root/docs"]["path"] == a.dirs["docs"], doc
    want = _strip_revisions(ok(api(a, "GET", "/api/v1/config/?recursive=1")))
    port_a = a.port
    a.stop()  # free its www port: the imported document binds it

    b = admin_server()
    rev_b = current_revision(b)
    r = ok(api(b, "POST", "/api/v1/import", doc))
    assert r["revision"] > rev_b
    got = _strip_revisions(ok(api(b, "GET", "/api/v1/config/?recursive=1")))
    assert got == want
    # b now serves a's configuration on a's port.
    assert keepalive_get(port_a, "/docs/readme.txt").body == tree.DOCS_README
    assert keepalive_get(port_a, "/index.html").body == tree.INDEX_HTML


def test_backup_change_restore(admin_server):
    srv = admin_server()
    r = api(srv, "POST", "/api/v1/backups")
    assert r.status in (200, 201), r
    bid = r.json["id"]
    ok(api(srv, "PATCH", SITE, {"set": {"header_timeout": 33}}))
    changed = current_revision(srv)
    assert prop(srv, "/www/sites/default", "header_timeout")["value"] == 33
    r = ok(api(srv, "POST", f"/api/v1/backups/{bid}/restore", {"comment": "back"}))
    assert r["revision"] > changed
    assert prop(srv, "/www/sites/default", "header_timeout") == \
        {"value": 10, "inherited": True, "source": "default"}
    revs = ok(api(srv, "GET", "/api/v1/revisions"))["revisions"]
    assert revs[0]["revision"] == r["revision"] and "back" in revs[0]["comment"], revs[0]
    assert [x["revision"] for x in revs][:2] == [r["revision"], changed]
    assert_error(api(srv, "POST", "/api/v1/backups/nosuch/restore", {}), 404, "not_found")
    assert_serves_index(srv.port)


def test_backup_list_fields(admin_server):
    """docs/admin-api.md: GET /api/v1/backups -> {"backups": [{"id", "time", "revision", "size"}]},
    times as ISO 8601 UTC strings."""
    srv = admin_server()
    rev = current_revision(srv)
    bid = api(srv, "POST", "/api/v1/backups").json["id"]
    lst = ok(api(srv, "GET", "/api/v1/backups"))["backups"]
    mine = [b for b in lst if b["id"] == bid]
    assert len(mine) == 1, lst
    b = mine[0]
    assert b.get("revision") == rev, b
    assert isinstance(b["size"], int) and b["size"] > 0
    assert isinstance(b["time"], str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b["time"]), b


def test_audit_lists_changes_with_identities(admin_server):
    srv = admin_server()
    r1 = ok(api(srv, "PATCH", SITE, {"set": {"header_timeout": 12}}))["revision"]
    r2 = ok(api(srv, "PATCH", SITE, {"set": {"header_timeout": 13}}, via="https"))["revision"]
    api(srv, "PATCH", SITE, {"set": {"header_timeout": 0}})
    api(srv, "GET", "/api", via="https", token="bogus")
    entries = ok(api(srv, "GET", "/api/v1/audit?limit=50"))["entries"]
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids, reverse=True), ids

    def find(identities, rev=None, result="ok"):
        # A commit's target is its key (docs/infoadm.md) or, as this server
        # writes for successful commits, "revision N".
        targets = {"/www/sites/default"} | ({f"revision {rev}"} if rev else set())
        return [e for e in entries if e["action"] == "commit" and e["identity"] in identities
                and e["target"] in targets and (e["result"] == result) == (result == "ok")]

    local = (f"local:{os.getuid()}",)
    assert find(local, r1), entries
    remote = find(("admin", "token:admin"), r2)
    assert remote and remote[0]["address"] == "127.0.0.1", entries
    refused = find(local, result="refused")
    assert refused and refused[0]["result"] == "invalid_value", entries
    assert any(e["action"] == "login" and e["result"] != "ok" and e["address"] == "127.0.0.1"
               for e in entries), entries
    for e in entries:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["time"]), e
    lim = ok(api(srv, "GET", "/api/v1/audit?limit=2"))["entries"]
    assert [e["id"] for e in lim] == ids[:2]
    before = ok(api(srv, "GET", f"/api/v1/audit?before={ids[0]}&limit=1"))["entries"]
    assert [e["id"] for e in before] == [ids[1]]


def test_metrics_prometheus(admin_server):
    srv = admin_server()
    for p in ("/index.html", "/hello.txt", "/nope"):
        keepalive_get(srv.port, p)
    wait_for(lambda: ok(api(srv, "GET", "/api/v1/stats"))["stats"][0]["counters"]["total_requests"] >= 3,
             timeout=5, what="3 requests counted")
    r = api(srv, "GET", "/metrics")
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    text = r.body.decode()
    vals = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+]+)', line)
        assert m, f"not a Prometheus sample line: {line!r}"
        vals[(m.group(1), m.group(2) or "")] = float(m.group(3))
    tr = {k: v for k, v in vals.items() if k[0] == "infosrv_requests_total"}
    assert tr, text
    assert any('site="default"' in k[1] and v == 3 for k, v in tr.items()), tr
    nf = {k: v for k, v in vals.items()
          if k[0] == "infosrv_not_found_errors_total" and 'site="default"' in k[1]}
    assert list(nf.values()) == [1], nf
    r = api(srv, "GET", "/metrics", via="https", token="")
    assert r.status == 401, r


def test_cache_flush(admin_server):
    srv = admin_server(workers=1)  # each worker has its own open-file cache: use one
    ok(api(srv, "PATCH", "/api/v1/config/", {"set": {"cache_revalidate": 60000}}))
    path = os.path.join(srv.root, "flush.txt")
    with open(path, "wb") as f:
        f.write(b"old content\n")
    assert keepalive_get(srv.port, "/flush.txt").body == b"old content\n"
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(b"new content, longer\n")
    os.replace(tmp, path)
    stale = keepalive_get(srv.port, "/flush.txt").body
    r = ok(api(srv, "POST", "/api/v1/cache/flush?service=www"))
    assert r == {"flushed": True}, r
    assert ok(api(srv, "POST", "/api/v1/cache/flush", {})) == {"flushed": True}
    assert keepalive_get(srv.port, "/flush.txt").body == b"new content, longer\n"
    # With cache_revalidate at 60 s the replaced file was still served from the cache.
    assert stale == b"old content\n", stale


def test_max_connections_refuses_the_extra_client(admin_server):
    srv = admin_server()
    assert api(srv, "PATCH", SITE, {"set": {"max_connections": 1}}).status == 200
    with RawConn(srv.port) as first:
        first.send(build_request("GET", "/hello.txt"))
        assert first.read_response().status == 200
        # The limit counts open connections: a second one is told why and closed.
        with RawConn(srv.port) as second:
            raw = second.read_until_close()
        assert raw.startswith(b"HTTP/1.1 503 "), raw[:80]
        assert b"too many connections" in raw
        first.send(build_request("GET", "/hello.txt"))
        assert first.read_response().status == 200, "the admitted client is still served"
    assert api(srv, "PATCH", SITE, {"unset": ["max_connections"]}).status == 200
    wait_for(lambda: request(srv.port, "GET", "/hello.txt").status == 200, timeout=5,
             what="served again without the limit")


def test_failed_bind_leaves_no_new_listener(admin_server):
    srv = admin_server()
    rev = current_revision(srv)
    free_sock = socket.socket()
    free_sock.bind(("127.0.0.1", 0))
    free_port = free_sock.getsockname()[1]
    free_sock.close()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    busy = holder.getsockname()[1]
    try:
        # One commit, two new sites: the first address binds, the second cannot.
        r = api(srv, "POST", "/api/v1/commits", {"ops": [
            {"op": "create", "key": "/www/sites/a", "set": {"bindings": [f"127.0.0.1:{free_port}"]}},
            {"op": "create", "key": "/www/sites/a/root", "set": {"path": srv.dirs["docs"]}},
            {"op": "create", "key": "/www/sites/b", "set": {"bindings": [f"127.0.0.1:{busy}"]}},
            {"op": "create", "key": "/www/sites/b/root", "set": {"path": srv.dirs["docs"]}}]})
        assert_error(r, 422, "apply_failed")
        assert current_revision(srv) == rev
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", free_port), timeout=2).close()
        assert_serves_index(srv.port)
    finally:
        holder.close()
