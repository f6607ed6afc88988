"""Path decoding, normalisation, traversal and symlink policy.

Targets are sent byte for byte on raw sockets (clients would normalise them).
"""

import subprocess

import pytest

import tree
from conftest import health_check
from rawhttp import RawConn, assert_error_page, build_request

PASSWD_MARK = b"root:x:0:0"

CASES = [
    # --- climbing above the root: 400 ---
    ("/../etc/passwd", 400, None),
    ("/..%2f..%2fetc/passwd", 400, None),
    ("/%2e%2e/%2e%2e/etc/passwd", 400, None),
    ("/%2E%2E/etc/passwd", 400, None),
    ("/.%2e/etc/passwd", 400, None),
    ("/a/%2e%2e/%2e%2e/etc/passwd", 400, None),
    ("/docs/../../etc/passwd", 400, None),
    ("/..", 400, None),
    # --- bad escapes and bytes: 400 ---
    ("/%c0%af", 400, None),
    ("/%c0%ae%c0%ae/", 400, None),
    ("/%e0%80%af", 400, None),
    ("/%c3%28", 400, None),
    ("/%ed%a0%80", 400, None),
    ("/%f4%90%80%80", 400, None),
    ("/%ff", 400, None),
    ("/foo%00.html", 400, None),
    ("/%01", 400, None),
    ("/%1f", 400, None),
    ("/%7f", 400, None),
    ("/%u002e%u002e/", 400, None),
    ("/..\\..\\etc\\passwd", 400, None),
    ("/a\\b", 400, None),
    ("/%5c..%5c", 400, None),
    ("/%5C..%5Cetc%5Cpasswd", 400, None),
    ("/%zz", 400, None),
    ("/%2", 400, None),
    ("/%", 400, None),
    ("/%g0", 400, None),
    # --- decoded exactly once ---
    ("/%252e%252e/etc/passwd", 404, None),
    ("/%2fetc%2fpasswd", 404, None),
    ("/hello%2etxt", 200, tree.HELLO),
    ("/%68ello.txt", 200, tree.HELLO),
    # --- dot segments and slashes that stay inside ---
    ("/a/../index.html", 200, tree.INDEX_HTML),
    ("//index.html", 200, tree.INDEX_HTML),
    ("/./index.html", 200, tree.INDEX_HTML),
    ("/%2e/index.html", 200, tree.INDEX_HTML),
    ("///browse///plain.txt", 200, tree.BROWSE_FILES["plain.txt"]),
    ("/browse/subdir/../../hello.txt", 200, tree.HELLO),
    ("/docs/../hello.txt", 200, tree.HELLO),
    ("/hello.txt?../../etc/passwd", 200, tree.HELLO),
    ("/hello.txt?%00%zz", 200, tree.HELLO),
    ("/a/.." * 1000 + "/index.html", 200, tree.INDEX_HTML),
    ("/a/.." * 1000 + "/../index.html", 400, None),
    # --- symlinks ---
    ("/inside-link.txt", 200, tree.HELLO),
    ("/escape-link/secret.txt", 403, None),
    ("/escape-link/", 403, None),
    ("/escape-file.txt", 403, None),
    ("/escape-rel.txt", 403, None),
    ("/docs/%2e%2e/escape-link/secret.txt", 403, None),
    ("/strict/link.txt", 403, None),
    ("/strict/real.txt", 200, tree.STRICT_REAL),
    ("/any/out.txt", 200, tree.OUTSIDE_OK),
    # --- virtual directories ---
    ("/private/x", 403, None),
    ("/private/", 403, None),
    ("/docs/readme.txt", 200, tree.DOCS_README),
    ("/docs/guide/intro.txt", 200, b"intro\n"),
    ("/docs/deep/deep.txt", 200, tree.DOCS_DEEP),
    ("/docs/deep.txt", 404, None),
    ("/docsx", 404, None),
    ("/docsx/readme.txt", 404, None),
    # --- names ---
    (tree.SPACE_URL, 200, tree.SPACE_BODY),
    ("/sp%20ace%20%c3%a9t%c3%a9.txt", 200, tree.SPACE_BODY),
    ("/hello.txt%20", 404, None),
    ("/hello.txt/", 404, None),
    ("/missing.html", 404, None),
]


@pytest.mark.parametrize("target,status,body", CASES, ids=[c[0][:60] for c in CASES])
def test_path(shared, target, status, body):
    with RawConn(shared.port) as c:
        c.send(build_request("GET", target, close=True))
        r = c.read_response()
        rest = c.read_until_close()
    raw = r.raw + rest
    assert tree.SECRET not in raw, "the secret file outside the root was served"
    assert PASSWD_MARK not in raw, "/etc/passwd was served"
    assert r.status == status, f"GET {target}: expected {status}, got {r!r}"
    if body is not None:
        assert r.body == body
    else:
        assert_error_page(r, status)
    health_check(shared.port)


def test_head_follows_the_same_rules(shared):
    for target, status in [("/escape-link/secret.txt", 403), ("/..%2f..%2fetc/passwd", 400),
                           ("/strict/link.txt", 403), ("/private/x", 403)]:
        with RawConn(shared.port) as c:
            c.send(build_request("HEAD", target, close=True))
            r = c.read_response(head=True)
            rest = c.read_until_close()
        assert r.status == status, (target, r)
        assert rest == b"", f"HEAD {target} sent a body"


@pytest.mark.parametrize("path,status", [
    ("/../../etc/passwd", 400),
    ("/escape-link/secret.txt", 403),
    ("/escape-file.txt", 403),
])
def test_curl_path_as_is(shared, path, status):
    p = subprocess.run(["curl", "-sS", "--path-as-is", "--max-time", "10", "-o", "-",
                        "-w", "\n%{http_code}", shared.url(path)], capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    body, _, code = p.stdout.rpartition(b"\n")
    assert int(code) == status
    assert tree.SECRET not in body and PASSWD_MARK not in body
