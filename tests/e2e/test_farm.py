"""Farms on etcd (docs/farm.md): a real three-member etcd cluster on loopback
and three infosrv members on one machine (each maps the shared site's
binding to its own port with --binding-override). The cluster and the
members are shared by the module, and every test leaves the farm with
three live, current members; the tests run in file order.

What a user would see is checked: the pages each member's WWW port serves,
the API's statuses and error codes, infoadm's exit status and its one
line, farm status, and each member's own history."""

import json
import os
import socket
import threading
import time
import uuid

import pytest

from conftest import (AdminServer, adm, adm_ok, admin_request, assert_no_sanitizer_report,
                      free_port, run_cli)
from etcd_cluster import EtcdCluster, b64, die_with_parent_kwargs
from rawhttp import request

SITE_ROOT = "/www/sites/default/root"
WAIT = 20.0  # bound on anything the farm should do in well under a second


class Member(AdminServer):
    """An infosrv farm member; it dies with the test run whatever happens."""
    popen_extra = die_with_parent_kwargs()


def wait_for(what, fn, timeout=WAIT, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("%s: not within %ss (last: %r)" % (what, timeout, last))


def api(m, method, path, body=None, headers=None):
    return admin_request(m, method, path, body=body, headers=headers)


def status(m):
    r = api(m, "GET", "/api/v1/farm")
    assert r.status == 200, r
    return r.json


def members_of(st):
    return {e["name"]: e for e in st["members"]}


def page(m, path="/"):
    r = request(m.port, "GET", path)
    return r.status, r.body


def etag(m, key="/www"):
    r = api(m, "GET", "/api/v1/config" + key)
    assert r.status == 200, r
    return r.headers["ETag"]


def history(m, limit=200):
    r = api(m, "GET", "/api/v1/revisions?limit=%d" % limit)
    assert r.status == 200, r
    return r.json["revisions"]


def comments(m):
    return [h["comment"] for h in history(m)]


class Farm:
    def __init__(self, base):
        self.base = base
        self.etcd = EtcdCluster(base)
        self.name = "/infosrv/farms/test-" + uuid.uuid4().hex[:8]
        self.root = os.path.join(base, "root")
        os.makedirs(os.path.join(self.root, "extra"))
        for name, body in (("index.html", b"farm index\n"), ("other.html", b"farm other\n"),
                           ("third.html", b"farm third\n"), ("extra/index.html", b"extra\n")):
            with open(os.path.join(self.root, name), "wb") as f:
                f.write(body)
        self.shared_port = free_port()
        self.members = []

    def member_args(self, i, port):
        args = ["--farm", self.etcd.endpoints, "--farm-name", self.name, "--member", "m%d" % i]
        if port != self.shared_port:
            args += ["--binding-override", "127.0.0.1:%d=127.0.0.1:%d" % (self.shared_port, port)]
        return args

    def add_member(self, i):
        port = self.shared_port if i == 1 else free_port()
        d = os.path.join(self.base, "m%d" % i)
        os.makedirs(d)
        m = Member(d, self.root, self.member_args(i, port), http="127.0.0.1:%d" % port, workers=1)
        m.index = i
        self.members.append(m)
        m.start()
        return m

    def head(self):
        got = self.etcd.get(self.name + "/head")
        return int(got[0][1]) if got else 0

    def settled(self, members=None):
        """Every member alive, connected and at the farm's revision, without error."""
        head = self.head()
        for m in members or self.members:
            st = status(m)
            if not st["connected"] or st["applied"] != head:
                return False
            es = members_of(st)
            if any(not es.get(x.name(), {}).get("alive") or es[x.name()]["revision"] != head
                   or es[x.name()]["error"] for x in self.members):
                return False
        return head

    def wait_settled(self, timeout=WAIT):
        return wait_for("every member current", self.settled, timeout)


def member_name(m):
    return "m%d" % m.index


Member.name = member_name


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    f = Farm(str(tmp_path_factory.mktemp("farm")))
    try:
        f.etcd.start()
        m1 = f.add_member(1)
        wait_for("m1 creates the farm", lambda: status(m1)["connected"] and f.head() >= 1)
        f.add_member(2)
        f.add_member(3)
        f.wait_settled()
    except BaseException:
        for m in f.members:
            m.kill()
        f.etcd.stop()
        raise
    yield f
    errors = []
    for m in f.members:
        try:
            if m.proc is not None and m.proc.poll() is None:
                m.stop()
            else:
                m.check_logs()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            m.kill()
    f.etcd.stop()
    if errors:
        pytest.fail("\n".join(errors))


def member_rows(out):
    """The rows of infoadm farm status's member table, split into words."""
    lines = out.splitlines()
    start = [i for i, ln in enumerate(lines) if ln.startswith("MEMBER ")][0]
    return [ln.split() for ln in lines[start + 1:] if ln.strip()]


def set_docs(m, docs, query="", headers=None, comment=None):
    body = {"set": {"default_documents": docs}}
    if comment:
        body["comment"] = comment
    return api(m, "PATCH", "/api/v1/config" + SITE_ROOT + query, body, headers)


# ---------------------------------------------------------------------------- the tests


def test_a_commit_on_one_member_is_served_by_all_three(farm):
    m1, m2, m3 = farm.members
    for m in farm.members:
        assert page(m) == (200, b"farm index\n")
    before = farm.head()
    r = set_docs(m1, ["other.html"], "?wait=all", comment="docs to other")
    assert r.status == 200, r
    assert r.json["farm_revision"] == before + 1 and r.json["changed"] is True
    assert r.json["all_applied"] is True
    assert sorted(x["name"] for x in r.json["members"]) == ["m1", "m2", "m3"]
    assert all(x["applied"] for x in r.json["members"]), r.json
    # answered once every live member applied it: no waiting needed
    for m in farm.members:
        assert page(m) == (200, b"farm other\n"), m.name()
    # each member applied it as its own commit, with the writer's identity
    for m in farm.members:
        top = history(m, 1)[0]
        assert top["identity"] == "farm:m1:local:0", top
        assert top["comment"] == "farm revision %d: docs to other" % (before + 1), top
    # infoadm on another member shows the value and the farm
    assert adm_ok(m3, "get", SITE_ROOT, "default_documents").out == '["other.html"]\n'
    out = adm_ok(m2, "farm", "status").out
    assert "farm      %s" % farm.name in out and "(connected)" in out, out
    check = run_cli(["--check", "--state-dir", m2.state_dir])
    assert check.returncode == 0, check.stdout.decode()
    assert "ok: farm member m2 of farm %s (etcd is not asked)\n" % farm.name in \
        check.stdout.decode()
    rows = member_rows(out)
    assert [r[:5] for r in rows] == [["m%d" % i, "yes", m1.version, str(before + 1), "current"]
                                     for i in (1, 2, 3)], out


def test_infoadm_changes_reach_every_member(farm):
    m1, m2, m3 = farm.members
    p = adm(m2, "set", SITE_ROOT, "default_documents=third.html")
    assert p.returncode == 0, p.err
    assert p.out.startswith(SITE_ROOT + " changed (revision "), p.out
    for m in farm.members:
        wait_for("%s serves third.html" % m.name(), lambda m=m: page(m) == (200, b"farm third\n"))


def test_rollback_and_import_go_through_the_farm(farm):
    m1, m2, m3 = farm.members
    assert set_docs(m1, ["index.html"], "?wait=all").status == 200
    farm.wait_settled()
    good = history(m2, 1)[0]["revision"]  # m2's own revision number for that state
    assert set_docs(m1, ["other.html"], "?wait=all").status == 200
    head = farm.head()
    r = api(m2, "POST", "/api/v1/rollback?wait=all", {"to": good, "comment": "undo"})
    assert r.status == 200 and r.json["farm_revision"] == head + 1 and r.json["all_applied"], r
    for m in farm.members:
        assert page(m) == (200, b"farm index\n"), m.name()
        assert history(m, 1)[0]["comment"] == ("farm revision %d: rollback to revision %d: undo"
                                               % (head + 1, good))
    # an import replaces the shared keys; the importing member's machine key stays its own
    adm_ok(m3, "set", "/", "server_comment=m3 own")
    doc = api(m3, "GET", "/api/v1/export").json
    doc["keys"][SITE_ROOT]["default_documents"] = ["other.html"]
    doc["keys"]["/"] = {"server_comment": "from the file"}
    r = api(m3, "POST", "/api/v1/import?wait=all", doc)
    assert r.status == 200 and r.json["farm_revision"] == head + 2 and r.json["all_applied"], r
    for m in farm.members:
        assert page(m) == (200, b"farm other\n"), m.name()
    assert adm_ok(m3, "get", "/", "server_comment").out == "m3 own\n"


def test_two_concurrent_commits_one_wins_the_other_gets_412(farm):
    m1, m2, _ = farm.members
    for rnd in range(3):
        farm.wait_settled()
        tags = {m1: etag(m1), m2: etag(m2)}
        gate = threading.Barrier(2)
        got = {}

        def commit(m, value):
            gate.wait()
            got[m] = (value, api(m, "PATCH", "/api/v1/config/www",
                                 {"set": {"admin_name": value}}, {"If-Match": tags[m]}))

        ts = [threading.Thread(target=commit, args=(m, "%s-round%d" % (m.name(), rnd)))
              for m in (m1, m2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        statuses = sorted(r.status for _, r in got.values())
        assert statuses == [200, 412], {m.name(): r for m, (_, r) in got.items()}
        winner = [v for v, r in got.values() if r.status == 200][0]
        loser = [r for _, r in got.values() if r.status == 412][0]
        assert loser.error_code == "stale_revision", loser
        head = farm.wait_settled()
        for m in farm.members:  # the loser changed nothing, anywhere
            assert adm_ok(m, "get", "/www", "admin_name").out == winner + "\n"
            assert members_of(status(m))[m.name()]["revision"] == head


def test_a_mixed_commit_is_refused_whole(farm):
    m1 = farm.members[0]
    head = farm.head()
    r = api(m1, "POST", "/api/v1/commits", {"ops": [
        {"op": "set", "key": "/", "set": {"server_comment": "local"}},
        {"op": "set", "key": "/www", "set": {"admin_email": "x@example.org"}}]})
    assert r.status == 400 and r.error_code == "invalid_request", r
    assert "machine key" in r.json["error"]["message"]
    assert farm.head() == head
    # the machine key alone is this member's own: a local commit, not a farm revision
    r = api(m1, "PATCH", "/api/v1/config/", {"set": {"server_comment": "m1 only"}})
    assert r.status == 200 and "farm_revision" not in r.json, r
    assert farm.head() == head
    assert adm_ok(farm.members[1], "get", "/", "server_comment").out == "\n"


def test_killing_the_etcd_leader_loses_no_acknowledged_commit(farm):
    m1 = farm.members[0]
    farm.wait_settled()
    leader = farm.etcd.leader()
    assert leader is not None
    acked, failed, stop = [], [], threading.Event()
    kill_time = []

    def stream():
        i = 0
        while not stop.is_set():
            i += 1
            token = "stream-%d" % i
            t0 = time.monotonic()
            r = api(m1, "PATCH", "/api/v1/config/www",
                    {"set": {"admin_email": "%s@example.org" % token}, "comment": token})
            if r.status == 200:
                acked.append((token, r.json["farm_revision"], t0, time.monotonic()))
            else:
                failed.append((token, r.status, r.error_code, time.monotonic()))
                time.sleep(0.05)

    t = threading.Thread(target=stream)
    t.start()
    try:
        wait_for("commits flow", lambda: len(acked) >= 5)
        kill_time.append(time.monotonic())
        leader.kill()
        wait_for("commits resume", lambda: any(a[2] > kill_time[0] for a in acked), timeout=10)
        wait_for("more commits", lambda: sum(a[2] > kill_time[0] for a in acked) >= 5)
    finally:
        stop.set()
        t.join(30)
    resumed = min(a[3] for a in acked if a[2] > kill_time[0]) - kill_time[0]
    print("leader %s killed: %d commits acknowledged, %d refused, accepted again after %.2fs"
          % (leader.name, len(acked), len(failed), resumed))
    assert resumed <= 5.0, "commits accepted again %.1fs after the leader died" % resumed
    assert all(code in ("farm_unreachable", "farm_timeout", "stale_revision")
               for _, _, code, _ in failed), failed
    # every acknowledged commit is in every member's history, once, in farm order
    farm.wait_settled()
    for m in farm.members:
        cs = comments(m)
        for token, rev, _, _ in acked:
            want = "farm revision %d: %s" % (rev, token)
            assert cs.count(want) == 1, (m.name(), want, cs[:20])
    revs = [rev for _, rev, _, _ in acked]
    assert revs == sorted(revs) and len(set(revs)) == len(revs)
    last = acked[-1][0]
    for m in farm.members:
        assert adm_ok(m, "get", "/www", "admin_email").out == last + "@example.org\n"
    farm.etcd.restart(leader)
    farm.wait_settled()


def test_a_stopped_member_catches_up_when_it_returns(farm):
    m1, _, m3 = farm.members
    farm.wait_settled()
    m3.stop()
    st = wait_for("m3 shown as gone", lambda: (lambda s: s if not members_of(s)["m3"]["alive"]
                                               else None)(status(m1)))
    stopped_at = members_of(st)["m3"]["revision"]
    assert set(members_of(st)) == {"m1", "m2", "m3"}  # still known
    assert set_docs(m1, ["index.html"], "?wait=all").status == 200
    assert set_docs(m1, ["other.html"], "?wait=all", comment="while m3 was away").status == 200
    head = farm.head()
    assert head == stopped_at + 2
    out = adm_ok(m1, "farm", "status").out
    row = [r for r in member_rows(out) if r[0] == "m3"][0]
    assert row[:6] == ["m3", "no", m1.version, str(stopped_at), "behind", "2"], out
    m3.restart()
    farm.wait_settled()
    assert page(m3) == (200, b"farm other\n")
    cs = comments(m3)
    # both revisions applied, each once, each as its own local commit
    assert cs.count("farm revision %d" % (head - 1)) == 1, cs[:5]
    assert cs.count("farm revision %d: while m3 was away" % head) == 1, cs[:5]
    assert not any(c.startswith("farm revisions ") for c in cs[:2]), cs[:5]
    # a restart applies nothing twice
    assert sum(c.startswith("farm revision 1:") for c in cs) == 1, cs


def test_a_member_behind_what_etcd_keeps_catches_up_from_a_snapshot(farm):
    """etcd keeps the last 64 farm revisions (and compacts its own history): a
    member further behind applies the newest one, which holds the whole tree."""
    m1, _, m3 = farm.members
    farm.wait_settled()
    m3.stop()
    wait_for("m3 gone", lambda: not members_of(status(m1))["m3"]["alive"])
    stopped_at = farm.head()
    for i in range(66):
        r = api(m1, "PATCH", "/api/v1/config/www", {"set": {"admin_email": "snap%d@x.org" % i}})
        assert r.status == 200, r
    head = farm.head()
    assert head == stopped_at + 66
    kept = farm.etcd.get(farm.name + "/revisions/", prefix=True)
    assert len(kept) == 64 and not any(k.endswith("%020d" % (stopped_at + 1)) for k, _ in kept)
    store = farm.etcd.call("/v3/kv/range", {"key": b64(farm.name + "/head")})["header"]["revision"]
    farm.etcd.call("/v3/kv/compaction", {"revision": store, "physical": True})
    m3.restart()
    farm.wait_settled()
    top = history(m3, 1)[0]
    assert top["comment"] == "farm revisions %d-%d" % (stopped_at + 1, head), top
    assert adm_ok(m3, "get", "/www", "admin_email").out == "snap65@x.org\n"
    assert page(m3) == page(m1)


def test_a_tree_changed_behind_the_farms_back_shows_as_drift(farm):
    import sqlite3
    m1, m2, _ = farm.members
    head = farm.wait_settled()
    m2.stop()
    db = sqlite3.connect(os.path.join(m2.state_dir, "metabase.db"))
    with db:
        db.execute("INSERT OR REPLACE INTO properties (key, name, value) VALUES (?, ?, ?)",
                   ("/www", "admin_name", '"edited by hand"'))
    db.close()
    m2.restart()
    e = wait_for("m2 drifted", lambda: (lambda e: e if e["alive"] and e["drift"] else None)(
        members_of(status(m1))["m2"]))
    assert e["revision"] == head and e["hash"] != e["farm_hash"], e
    row = [r for r in member_rows(adm_ok(m1, "farm", "status").out) if r[0] == "m2"][0]
    assert row[4:6] == ["drift", "yes"], row
    # the next farm revision carries the whole shared tree: the drift is gone
    assert api(m1, "PATCH", "/api/v1/config/www?wait=all",
               {"set": {"admin_name": "farm"}}).status == 200
    e = members_of(status(m1))["m2"]
    assert not e["drift"] and e["revision"] == head + 1, e
    assert adm_ok(m2, "get", "/www", "admin_name").out == "farm\n"


def test_a_member_whose_apply_fails_reports_it_and_keeps_serving(farm):
    m1, m2, m3 = farm.members
    farm.wait_settled()
    shared, blocked = free_port(), socket.socket()
    blocked.bind(("127.0.0.1", 0))
    blocked.listen(1)  # a port in use on m3's host, by someone else
    try:
        for m in farm.members:  # each member maps the new site's binding to its own address
            own = blocked.getsockname()[1] if m is m3 else free_port()
            ov = json.loads(adm_ok(m, "--json", "get", "/", "binding_overrides").out)
            ov = ov["binding_overrides"]["value"]
            ov["127.0.0.1:%d" % shared] = "127.0.0.1:%d" % own
            r = api(m, "PATCH", "/api/v1/config/", {"set": {"binding_overrides": ov}})
            assert r.status == 200, r
            m.extra_port = own
        head = farm.head()
        r = api(m1, "POST", "/api/v1/commits?wait=all", {"comment": "extra site", "ops": [
            {"op": "create", "key": "/www/sites/extra",
             "set": {"bindings": ["127.0.0.1:%d" % shared]}},
            {"op": "create", "key": "/www/sites/extra/root",
             "set": {"path": os.path.join(farm.root, "extra")}}]})
        assert r.status == 200, r
        assert r.json["farm_revision"] == head + 1 and r.json["all_applied"] is False, r.json
        m3r = [x for x in r.json["members"] if x["name"] == "m3"][0]
        assert not m3r["applied"] and "address" in m3r["error"].lower(), m3r
        for m in (m1, m2):
            assert request(m.extra_port, "GET", "/").body == b"extra\n"
        # m3 stays on its last good revision and says why
        st = status(m1)
        e = members_of(st)["m3"]
        assert e["alive"] and e["revision"] == head and e["error_revision"] == head + 1, e
        assert "cannot apply farm revision %d" % (head + 1) in e["error"], e
        out = adm_ok(m1, "farm", "status").out
        row = [ln for ln in out.splitlines() if ln.startswith("m3 ")][0]
        assert " failed " in row and "cannot apply farm revision" in row, out
        assert page(m3) == (200, b"farm other\n")
        assert members_of(status(m3))["m3"]["revision"] == head
    finally:
        blocked.close()
    # the port is free again: m3 retries by itself
    farm.wait_settled(timeout=40)
    assert request(m3.extra_port, "GET", "/").body == b"extra\n"
    r = api(m1, "DELETE", "/api/v1/config/www/sites/extra?recursive=1&wait=all")
    assert r.status == 200 and r.json["all_applied"], r
    farm.wait_settled()


def newer_record(farm, rev, base, requires, extra_props):
    """Farm revision REV as a newer release would write it (record format 1): the tree
    of revision BASE with EXTRA_PROPS on /www."""
    import hashlib
    head_rec = json.loads(farm.etcd.get("%s/revisions/%020d" % (farm.name, base))[0][1])
    state = head_rec["state"]
    state["/www"] = dict(state["/www"], **extra_props)
    text = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {"format": 1, "revision": rev, "id": uuid.uuid4().hex, "time": int(time.time()),
            "member": "m9", "identity": "local:0", "address": "unix",
            "comment": "written by a newer release", "requires": requires,
            "hash": hashlib.sha256(text.encode()).hexdigest(), "state": state}


def put_record(farm, rec):
    key, head = "%s/revisions/%020d" % (farm.name, rec["revision"]), farm.name + "/head"
    r = farm.etcd.txn(
        [{"key": b64(head), "target": "VALUE", "result": "EQUAL",
          "value": b64(str(rec["revision"] - 1))}],
        [{"request_put": {"key": b64(head), "value": b64(str(rec["revision"]))}},
         {"request_put": {"key": b64(key), "value": b64(json.dumps(rec))}}])
    assert r.get("succeeded"), r


def test_members_refuse_a_revision_that_needs_what_they_lack(farm):
    """Every member here is older than a revision a newer release wrote: it
    refuses it, says so, and stays on its last good revision, whole."""
    m1 = farm.members[0]
    head = farm.wait_settled()
    rec = newer_record(farm, head + 1, head, ["farm", "www.quic"], {"quic_max_streams": 100})
    put_record(farm, rec)
    for m in farm.members:
        e = wait_for("%s reports the refusal" % m.name(),
                     lambda m=m: (lambda e: e if e["error"] else None)(
                         members_of(status(m1))[m.name()]))
        assert e["revision"] == head and e["error_revision"] == head + 1, e
        assert e["error"] == ("farm revision %d needs capability www.quic, which infosrv %s "
                              "lacks" % (head + 1, m1.version)), e
        assert page(m) == (200, b"farm other\n")
        assert "quic" not in adm_ok(m, "--json", "get", "/www").out
    out = adm_ok(m1, "farm", "status").out
    assert out.count("needs capability www.quic") == 3, out
    # a commit on a member that is not at the farm's revision loses: nothing half-done
    r = set_docs(m1, ["index.html"], headers={"If-Match": etag(m1, SITE_ROOT)})
    assert r.status == 412 and r.error_code == "stale_revision", r
    # an unknown property is refused by name even without a capability to say so
    rec2 = newer_record(farm, head + 2, head, ["farm"], {"quic_max_streams": 100})
    put_record(farm, rec2)
    e = wait_for("refusal by property", lambda: (lambda e: e if e["error_revision"] == head + 2
                                                 else None)(members_of(status(m1))["m2"]))
    assert 'sets property "quic_max_streams" on /www, which infosrv' in e["error"], e
    # the newer writer backs out: its next revision carries a tree every member can apply
    rec3 = newer_record(farm, head + 3, head, ["farm"], {})
    put_record(farm, rec3)
    assert farm.wait_settled() == head + 3
    for m in farm.members:
        assert members_of(status(m))[m.name()]["error"] is None
        assert page(m) == (200, b"farm other\n")


def test_a_member_that_loses_etcd_keeps_serving_and_refuses_changes(farm):
    m1, m2, _ = farm.members
    farm.wait_settled()
    for nd in farm.etcd.nodes:
        nd.kill()
    try:
        wait_for("m1 notices", lambda: not status(m1)["connected"])
        for m in farm.members:
            assert page(m) == (200, b"farm other\n")
        p = adm(m1, "set", SITE_ROOT, "default_documents=index.html")
        assert p.returncode == 1 and p.out == "", p
        lines = p.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("infoadm: farm unreachable: "), p.err
        r = set_docs(m2, ["index.html"])
        assert r.status == 503 and r.error_code == "farm_unreachable", r
        assert adm_ok(m1, "get", SITE_ROOT, "default_documents").out == '["other.html"]\n'
        out = adm_ok(m1, "farm", "status").out
        assert "(unreachable: " in out, out
    finally:
        for nd in farm.etcd.nodes:
            nd.start(farm.etcd.initial, "existing")
        farm.etcd.wait_healthy()
    farm.wait_settled(timeout=30)
    assert set_docs(m2, ["index.html"], "?wait=all").status == 200
    for m in farm.members:
        assert page(m) == (200, b"farm index\n")


def test_farm_leave_makes_a_member_standalone(farm):
    m1, _, m3 = farm.members
    farm.wait_settled()
    p = adm_ok(m3, "farm", "leave")
    assert p.out == ("m3 left farm %s: standalone with its configuration (revision %d); its "
                     "etcd entries: removed\n" % (farm.name, history(m3, 1)[0]["revision"])), p.out
    farm.members.remove(m3)  # stopped by this test
    try:
        assert adm_ok(m3, "farm", "status").out == "standalone: this server is not in a farm\n"
        wait_for("m3 leaves the roster", lambda: "m3" not in members_of(status(m1)))
        farm.wait_settled()
        # it keeps its configuration, and its changes are its own from now on
        assert page(m3) == (200, b"farm index\n")
        adm_ok(m3, "set", SITE_ROOT, "default_documents=third.html")
        assert page(m3) == (200, b"farm third\n")
        assert page(m1) == (200, b"farm index\n")
        assert set_docs(m1, ["other.html"], "?wait=all").status == 200
        assert page(m3) == (200, b"farm third\n")
        m3.stop()
        # and across a restart without the farm flags
        del m3.args[m3.args.index("--farm"):]
        m3.restart()
        assert adm_ok(m3, "farm", "status").out == "standalone: this server is not in a farm\n"
        assert page(m3) == (200, b"farm third\n")
        m3.stop()
    finally:
        m3.kill()


def test_bad_farm_settings_are_refused_with_one_line(tmp_path):
    state = str(tmp_path / "state")
    p = run_cli(["--state-dir", state, "--root", str(tmp_path), "--http", "127.0.0.1:0",
                 "--admin", "none", "--farm", "http://127.0.0.1:1"])
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert err == ("infosrv: farm: farm_endpoints is set but farm_name is not: set both to join "
                   "a farm, or neither\n"), err
    assert_no_sanitizer_report(err, "infosrv stderr")
    p = run_cli(["--check", "--state-dir", state])  # what that start wrote stays checkable
    assert p.returncode == 1, p.stdout.decode()
    assert ("error: farm: farm_endpoints is set but farm_name is not: set both to join a farm, "
            "or neither\n") in p.stdout.decode(), p.stdout.decode()
    p = run_cli(["--state-dir", str(tmp_path / "s2"), "--root", str(tmp_path), "--http",
                 "127.0.0.1:0", "--admin", "none", "--farm", "ftp://x:1", "--farm-name", "/f"])
    err = p.stderr.decode()
    assert p.returncode == 1 and len(err.splitlines()) == 1, err
    assert "farm_endpoints" in err and "etcd client URL" in err, err


def test_a_member_logs_in_to_an_etcd_with_authentication(tmp_path):
    etcd = EtcdCluster(str(tmp_path), n=1)
    m = None
    try:
        etcd.start()
        prefix = "/infosrv/farms/auth"
        for path, body in (
                ("/v3/auth/role/add", {"name": "root"}),
                ("/v3/auth/user/add", {"name": "root", "password": "root pw"}),
                ("/v3/auth/user/grant", {"user": "root", "role": "root"}),
                ("/v3/auth/role/add", {"name": "farm"}),
                ("/v3/auth/role/grant", {"name": "farm", "perm": {
                    "permType": "READWRITE", "key": b64(prefix + "/"),
                    "range_end": b64(prefix + "0")}}),
                ("/v3/auth/user/add", {"name": "web", "password": "web pw"}),
                ("/v3/auth/user/grant", {"user": "web", "role": "farm"}),
                ("/v3/auth/enable", {})):
            r = etcd.call(path, body)
            assert "error" not in r, (path, r)
        root = os.path.join(str(tmp_path), "root")
        os.makedirs(root)
        with open(os.path.join(root, "index.html"), "wb") as f:
            f.write(b"auth farm\n")
        m = Member(str(tmp_path), root, ["--farm", etcd.endpoints, "--farm-name", prefix,
                                         "--member", "a1"], workers=1)
        m.index = 1
        m.start()
        st = wait_for("refused by etcd", lambda: (lambda s: s if "error" in s else None)(status(m)))
        assert not st["connected"] and "user name is empty" in st["error"], st
        p = adm(m, "set", SITE_ROOT, "directory_browsing=true")
        assert p.returncode == 1 and p.err.startswith("infoadm: farm unreachable: "), p.err
        adm_ok(m, "set", "/", "farm_user=web", "farm_password=web pw")
        assert adm_ok(m, "get", "/", "farm_password").out == "(secret, set)\n"
        m.stop()
        m.restart()
        wait_for("logged in", lambda: status(m)["connected"] and status(m)["applied"] == 1)
        assert set_docs(m, ["index.html", "x.html"]).status == 200
        got = etcd.call("/v3/kv/range", {"key": b64(prefix + "/head")})
        assert "error" in got and "user name is empty" in got["error"], got  # still closed
        m.stop()
    finally:
        if m is not None:
            m.kill()
        etcd.stop()
