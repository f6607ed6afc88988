"""End-to-end tests of GET /metrics (docs/admin-api.md), the Prometheus text
exposition of the statistics: Debian's `promtool check metrics` finds nothing
to report; every family has # HELP and # TYPE before its samples; counters end
in _total; a site's samples carry service and site, the service-wide
aggregate service alone (never site=""); the values are those of
GET /api/v1/stats; infosrv_build_info carries the release.

One daemon serving WWW, FTP and Gopher answers a known set of requests
first, so that the counters have values a mistake would show."""

import ftplib
import os
import re
import shutil
import subprocess

import pytest

from conftest import AdminServer, admin_request, gopher_get, serving
from rawhttp import request, wait_for

HELLO = b"Hello, metrics!\n"

# The statistics of GET /api/v1/stats and their Prometheus families (0.5.0).
FAMILIES = {
    "bytes_sent": "infosrv_sent_bytes_total",
    "bytes_received": "infosrv_received_bytes_total",
    "files_sent": "infosrv_files_sent_total",
    "total_connections": "infosrv_connections_total",
    "connection_attempts": "infosrv_connection_attempts_total",
    "get_requests": "infosrv_get_requests_total",
    "head_requests": "infosrv_head_requests_total",
    "other_requests": "infosrv_other_requests_total",
    "total_requests": "infosrv_requests_total",
    "not_found_errors": "infosrv_not_found_errors_total",
    "menus_sent": "infosrv_menus_sent_total",
    "files_received": "infosrv_files_received_total",
    "logon_attempts": "infosrv_logon_attempts_total",
    "certificates_issued": "infosrv_certificates_issued_total",
    "certificate_failures": "infosrv_certificate_failures_total",
    "access_denied": "infosrv_access_denied_total",
    "log_entries_dropped": "infosrv_log_entries_dropped_total",
    "files_compressed": "infosrv_files_compressed_total",
    "current_connections": "infosrv_current_connections",
    "max_connections": "infosrv_max_connections",
    "current_anonymous_users": "infosrv_current_anonymous_users",
    "max_anonymous_users": "infosrv_max_anonymous_users",
    "current_nonanonymous_users": "infosrv_current_nonanonymous_users",
    "max_nonanonymous_users": "infosrv_max_nonanonymous_users",
}
GAUGES = {n for n in FAMILIES if n.startswith(("current_", "max_"))}

SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_labels(text):
    """{name: value} of a sample's label text, escapes undone; fails on anything else."""
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, f"bad label text at {pos}: {text!r}"
        assert m.group(1) not in labels, f"label {m.group(1)} repeated: {text!r}"
        value = re.sub(r'\\(.)', lambda e: "\n" if e.group(1) == "n" else e.group(1), m.group(2))
        labels[m.group(1)] = value
        pos = m.end()
    return labels


def parse(text):
    """The families of an exposition, in order: [{name, help, type, samples}],
    each sample (labels, value). Asserts HELP and TYPE come first, once."""
    families, current = [], None
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6].lower(), *line[7:].split(" ", 1)
            if current is None or current["name"] != name:
                assert all(f["name"] != name for f in families), f"family {name} split: {text}"
                current = {"name": name, "help": None, "type": None, "samples": []}
                families.append(current)
            assert current[kind] is None and not current["samples"], f"{kind} of {name} late"
            current[kind] = rest
            continue
        assert line and not line.startswith("#"), f"unexpected line {line!r}"
        m = SAMPLE.fullmatch(line)
        assert m, f"not a sample line: {line!r}"
        assert current and m.group(1) == current["name"], f"sample outside its family: {line!r}"
        assert current["help"] and current["type"], f"sample before HELP and TYPE: {line!r}"
        current["samples"].append((parse_labels(m.group(2) or ""), float(m.group(3))))
    return families


@pytest.fixture(scope="module")
def srv(tmp_path_factory, infosrv_bin):
    base = tmp_path_factory.mktemp("metrics")
    roots = {}
    for service in ("www", "ftp", "gopher"):
        roots[service] = base / service
        roots[service].mkdir()
        (roots[service] / "hello.txt").write_bytes(HELLO)
    state = str(base / "state")
    args = ["--state-dir", state, "--admin", "127.0.0.1:0", "--workers", "2",
            "--http", "127.0.0.1:0", "--root", str(roots["www"]),
            "--ftp", "127.0.0.1:0", "--ftp-root", str(roots["ftp"]),
            "--gopher", "127.0.0.1:0", "--gopher-root", str(roots["gopher"])]
    s = AdminServer(str(base), str(roots["www"]), base_args=args, state_dir=state)
    s.start()

    def setup(s):
        traffic(s)

    yield from serving(s, setup)


def stats(srv):
    r = admin_request(srv, "GET", "/api/v1/stats")
    assert r.status == 200, r
    return {(e["service"], e["site"]): e["counters"] for e in r.json["stats"]}


def traffic(srv):
    """WWW: two GETs (one 404) and a HEAD; FTP: an anonymous logon and a
    download; Gopher: a menu and a file. Returns once they are all counted."""
    port = srv.listener_of("www")["port"]
    assert request(port, "GET", "/hello.txt").body == HELLO
    assert request(port, "GET", "/nope").status == 404
    assert request(port, "HEAD", "/hello.txt").status == 200
    with ftplib.FTP() as f:
        f.connect("127.0.0.1", srv.listener_of("ftp")["port"], timeout=5)
        f.login()
        got = []
        f.retrbinary("RETR hello.txt", got.append)
        assert b"".join(got) == HELLO
    gport = srv.listener_of("gopher")["port"]
    assert b"hello.txt" in gopher_get(gport, b"")
    assert gopher_get(gport, b"/hello.txt") == HELLO + b".\r\n"  # a text item ends with "."

    def settled():
        s = stats(srv)
        return (s[("www", None)]["total_requests"] == 3 and s[("ftp", None)]["files_sent"] == 1
                and s[("gopher", None)]["total_requests"] == 2
                and all(c["current_connections"] == 0 for c in s.values()))
    wait_for(settled, timeout=5, what="the requests to be counted and their connections closed")


@pytest.fixture(scope="module")
def exposition(srv):
    r = admin_request(srv, "GET", "/metrics")
    assert r.status == 200, r
    assert r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), r.headers
    return r.body.decode("utf-8")


def by_name(text):
    return {f["name"]: f for f in parse(text)}


def value(families, name, service, site=None):
    labels = {"service": service, **({"site": site} if site else {})}
    found = [v for ls, v in families[name]["samples"] if ls == labels]
    assert len(found) == 1, f"{name}{labels}: {families[name]['samples']}"
    return found[0]


def test_promtool_reports_nothing(exposition):
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    if not os.access(promtool, os.X_OK):
        pytest.fail("promtool is not installed (Debian package prometheus; make test installs it)")
    p = subprocess.run([promtool, "check", "metrics"], input=exposition.encode(),
                       capture_output=True, timeout=20)
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b""), exposition


def test_every_family_has_help_and_type(exposition):
    families = parse(exposition)
    assert len(families) == len(FAMILIES) + 1, [f["name"] for f in families]
    for f in families:
        assert f["name"].startswith("infosrv_"), f
        assert f["help"] and f["help"].strip() == f["help"], f
        assert f["type"] in ("counter", "gauge"), f
        assert f["name"].endswith("_total") == (f["type"] == "counter"), f
        assert f["samples"], f


def test_families_named_after_the_statistics(exposition):
    families = by_name(exposition)
    assert set(families) == set(FAMILIES.values()) | {"infosrv_build_info"}
    for stat, name in FAMILIES.items():
        assert families[name]["type"] == ("gauge" if stat in GAUGES else "counter"), name


def test_labels_service_and_site_never_empty(exposition):
    for f in parse(exposition):
        if f["name"] == "infosrv_build_info":
            continue
        aggregates = set()
        for labels, _ in f["samples"]:
            assert set(labels) in ({"service"}, {"service", "site"}), (f["name"], labels)
            assert labels["service"] and labels.get("site", "x"), (f["name"], labels)
            if "site" not in labels:
                assert labels["service"] not in aggregates, (f["name"], labels)
                aggregates.add(labels["service"])
        assert aggregates, f"{f['name']} has no service-wide sample"
    assert 'site=""' not in exposition


def test_values_match_the_stats_api(srv, exposition):
    families, api = by_name(exposition), stats(srv)
    for (service, site), counters in api.items():
        for stat, v in counters.items():
            assert value(families, FAMILIES[stat], service, site) == v, (service, site, stat)
    # And the requests made are there, per site and service-wide.
    for site in ("default", None):
        assert value(families, "infosrv_requests_total", "www", site) == 3
        assert value(families, "infosrv_get_requests_total", "www", site) == 2
        assert value(families, "infosrv_head_requests_total", "www", site) == 1
        assert value(families, "infosrv_not_found_errors_total", "www", site) == 1
        assert value(families, "infosrv_files_sent_total", "ftp", site) == 1
        assert value(families, "infosrv_logon_attempts_total", "ftp", site) == 1
        assert value(families, "infosrv_menus_sent_total", "gopher", site) == 1
        assert value(families, "infosrv_requests_total", "gopher", site) == 2
        assert value(families, "infosrv_sent_bytes_total", "gopher", site) > len(HELLO)
    services = {ls["service"] for ls, _ in families["infosrv_get_requests_total"]["samples"]}
    assert services == {"www"}, "only WWW counts requests by method"


def test_build_info_carries_the_version(srv, exposition):
    families = by_name(exposition)
    info = families["infosrv_build_info"]
    assert info["type"] == "gauge", info
    version = admin_request(srv, "GET", "/api").json["version"]
    assert version == srv.version
    assert info["samples"] == [({"version": version}, 1.0)], info
    assert exposition.startswith("# HELP infosrv_build_info "), exposition[:200]
