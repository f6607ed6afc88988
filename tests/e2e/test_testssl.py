"""testssl.sh (Debian's testssl.sh package) against the HTTPS binding: the
protocols offered and every vulnerability check it knows must come back OK
or INFO. Certificate findings (a self-signed test certificate) and HTTP
header advice are not part of these checks."""

import json
import os
import shutil
import subprocess


def test_testssl_finds_no_vulnerability(make_server, tmp_path):
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    assert testssl, "testssl is not installed (make test installs Debian's testssl.sh)"
    srv = make_server(["--https", "127.0.0.1:0"])
    port = [li["port"] for li in srv.listeners["listeners"] if li.get("tls")][0]
    out = os.path.join(str(tmp_path), "testssl.json")
    p = subprocess.run([testssl, "--quiet", "--color", "0", "--warnings", "off", "--protocols",
                        "--vulnerable", "--jsonfile", out, f"127.0.0.1:{port}"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=240)
    with open(out, encoding="utf-8") as f:
        findings = json.load(f)
    ids = {e["id"] for e in findings}
    for must in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "heartbleed", "CCS",
                 "ticketbleed", "secure_client_renego", "CRIME_TLS", "POODLE_SSL", "SWEET32",
                 "FREAK", "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4"):
        assert must in ids, f"testssl did not check {must} (exit {p.returncode}):\n" \
                            f"{p.stdout.decode(errors='replace')[-3000:]}"
    bad = [e for e in findings if e["severity"] not in ("OK", "INFO")]
    assert not bad, "testssl findings:\n" + "\n".join(
        f"{e['id']} {e['severity']}: {e['finding']}" for e in bad)
    by_id = {e["id"]: e["finding"] for e in findings}
    assert by_id["TLS1_1"].startswith("not offered") and by_id["TLS1"].startswith("not offered")
    assert "offered" in by_id["TLS1_3"] and "not" not in by_id["TLS1_3"]
