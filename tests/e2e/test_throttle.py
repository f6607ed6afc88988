"""Bandwidth throttling: a site's max_bandwidth and the machine's bandwidth_limit, which
counts what every service sends (WWW, FTP data connections, Gopher). Rates are measured
by real clients (curl, ftplib, a raw Gopher socket) and must be within 10 % of the
limit; connections share a limit fairly; limits change live, transfers in progress
included."""

import ftplib
import os
import random
import socket
import subprocess
import threading
import time

import pytest

from conftest import adm, adm_ok, admin_request, health_check
from rawhttp import wait_for

MB = 1_000_000
BLOB = random.Random(1999).randbytes(3_500_000)
HALF = BLOB[:2_000_000]


def within(rate, limit, tol=0.10):
    return abs(rate - limit) <= tol * limit


@pytest.fixture
def srv(admin_server, tmp_path):
    froot, groot = tmp_path / "ftproot", tmp_path / "gopherroot"
    froot.mkdir()
    groot.mkdir()
    (froot / "half.bin").write_bytes(HALF)
    (groot / "half.bin").write_bytes(HALF)
    s = admin_server(["--ftp", "127.0.0.1:0", "--ftp-root", str(froot),
                      "--gopher", "127.0.0.1:0", "--gopher-root", str(groot)])
    with open(os.path.join(s.root, "blob.bin"), "wb") as f:
        f.write(BLOB)
    with open(os.path.join(s.root, "half.bin"), "wb") as f:
        f.write(HALF)
    return s


def curl_start(url, out):
    return subprocess.Popen(["curl", "-sS", "--fail", "--max-time", "30", "-o", str(out), "-w",
                             "%{size_download} %{time_total}", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def curl_end(p):
    stdout, stderr = p.communicate(timeout=40)
    assert p.returncode == 0, stderr
    size, total = stdout.split()
    return int(size), float(total)


def download(srv, path, out):
    """Bytes and seconds of one curl download of PATH."""
    return curl_end(curl_start(srv.url(path), out))


def test_site_max_bandwidth_limits_a_download(srv, tmp_path):
    adm_ok(srv, "set", "/www/sites/default", f"max_bandwidth={MB}")
    size, secs = download(srv, "/blob.bin", tmp_path / "out")
    assert size == len(BLOB) and (tmp_path / "out").read_bytes() == BLOB
    rate = size / secs
    assert within(rate, MB), f"{rate:.0f} B/s for a limit of {MB} B/s ({secs:.2f} s)"
    # Small answers still go out (each takes its turn), and the site stays healthy.
    health_check(srv.port)


def test_machine_limit_is_shared_by_two_downloads(srv, tmp_path):
    adm_ok(srv, "set", "/", f"bandwidth_limit={MB}")
    start = time.monotonic()
    a = curl_start(srv.url("/half.bin"), tmp_path / "a")
    b = curl_start(srv.url("/half.bin"), tmp_path / "b")
    (sa, ta), (sb, tb) = curl_end(a), curl_end(b)
    wall = time.monotonic() - start
    assert sa == sb == len(HALF)
    assert (tmp_path / "a").read_bytes() == HALF and (tmp_path / "b").read_bytes() == HALF
    total = (sa + sb) / wall
    assert within(total, MB), f"together {total:.0f} B/s for a limit of {MB} ({wall:.2f} s)"
    # Fair shares: each took about twice as long as it would alone, finishing together.
    for rate in (sa / ta, sb / tb):
        assert 0.4 * MB <= rate <= 0.6 * MB, f"one download at {rate:.0f} B/s of {MB} shared"
    assert abs(ta - tb) < 0.25 * max(ta, tb), (ta, tb)


def test_ftp_and_gopher_downloads_count_against_the_machine_limit(srv):
    limit = MB
    adm_ok(srv, "set", "/", f"bandwidth_limit={limit}")
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", int(srv.listener_of("ftp")["port"]), timeout=20)
    ftp.login()
    got = bytearray()
    start = time.monotonic()
    ftp.retrbinary("RETR half.bin", got.extend)
    secs = time.monotonic() - start
    ftp.quit()
    assert bytes(got) == HALF
    assert within(len(got) / secs, limit), f"FTP {len(got) / secs:.0f} B/s for {limit}"

    gsock = socket.create_connection(("127.0.0.1", int(srv.listener_of("gopher")["port"])),
                                     timeout=20)
    start = time.monotonic()
    gsock.sendall(b"/half.bin\r\n")
    data = bytearray()
    while chunk := gsock.recv(65536):
        data += chunk
    secs = time.monotonic() - start
    gsock.close()
    assert bytes(data) == HALF
    assert within(len(data) / secs, limit), f"Gopher {len(data) / secs:.0f} B/s for {limit}"


def test_removing_the_limit_speeds_up_a_download_in_progress(srv, tmp_path):
    slow = 250_000
    adm_ok(srv, "set", "/www/sites/default", f"max_bandwidth={slow}")
    p = curl_start(srv.url("/blob.bin"), tmp_path / "out")   # 14 s at that rate
    out = tmp_path / "out"
    wait_for(lambda: out.exists() and out.stat().st_size > 100_000, timeout=5,
             what="the download to be under way")
    adm_ok(srv, "unset", "/www/sites/default", "max_bandwidth")
    size, secs = curl_end(p)
    assert size == len(BLOB) and out.read_bytes() == BLOB
    assert secs < 4, f"{secs:.2f} s: the download kept the old limit"
    size, secs = download(srv, "/blob.bin", tmp_path / "again")
    assert size / secs > 20 * slow, f"{size / secs:.0f} B/s with no limit"


def test_a_changed_limit_applies_to_a_download_in_progress(srv, tmp_path):
    adm_ok(srv, "set", "/www/sites/default", "max_bandwidth=250000")
    out = tmp_path / "out"
    p = curl_start(srv.url("/half.bin"), out)   # 8 s at that rate
    wait_for(lambda: out.exists() and out.stat().st_size > 100_000, timeout=5,
             what="the download to be under way")
    adm_ok(srv, "set", "/www/sites/default", f"max_bandwidth={2 * MB}")
    size, secs = curl_end(p)
    assert size == len(HALF) and out.read_bytes() == HALF
    # At most about 1.4 s at the first rate, then 2 MB/s for the rest.
    assert 0.9 < secs < 3.0, f"{secs:.2f} s"
    health_check(srv.port)


def test_limits_on_the_service_apply_to_each_site_and_bad_values_are_refused(srv, tmp_path):
    assert "bandwidth" in admin_request(srv, "GET", "/api").json["capabilities"]
    adm_ok(srv, "set", "/www", f"max_bandwidth={2 * MB}")
    size, secs = download(srv, "/half.bin", tmp_path / "out")
    assert within(size / secs, 2 * MB), f"{size / secs:.0f} B/s for {2 * MB} set on /www"
    for setting in ("max_bandwidth=-1", "max_bandwidth=fast", "bandwidth_limit=-5"):
        key = "/" if setting.startswith("bandwidth") else "/www/sites/default"
        p = adm(srv, "set", key, setting)
        assert p.returncode == 1 and setting.split("=")[0] in p.err, (setting, p.err)
    p = adm(srv, "set", "/www/sites/default/root", "max_bandwidth=1000")
    assert p.returncode == 1, "a site setting, not a directory's"
