"""The web console (web/) in headless Chromium against the real daemon: one
daemon with a TCP admin listener and one browser for the module. Each test
drives the console as a user would (typing, clicking, confirming) and checks
the effect where a user would see it: the bytes the WWW service serves, a
port that refuses, a connection the server closes, values read back through
the API, the browser's console log."""

import http.client
import json
import os
import socket
import time

import pytest

import browser
import tree
from conftest import REPO, AdminServer, admin_request, free_port, http_get, serving

pytestmark = pytest.mark.skipif(browser.missing() is not None,
                                reason=f"no headless browser: {browser.missing()}")

VIEWS = ["overview", "properties", "sites", "sessions", "statistics", "history", "audit", "accounts"]
SHOTS = os.path.join(REPO, "build", "console-screenshots")
DOC_NAME = "console-doc.html"
DOC_BODY = b"<!DOCTYPE html>\n<p>default document chosen in the console 5e1c</p>\n"
# Buttons a reader must not be offered, whatever their marking.
WRITE_WORDS = ("Start", "Stop", "Pause", "Continue", "Disconnect", "Commit", "Roll back", "Delete",
               "Create", "Add", "Remove", "Override", "Reset", "New token", "Clear", "Flush")


# -- fixtures ------------------------------------------------------------------

@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("console"))
    dirs = tree.build(base)
    with open(os.path.join(dirs["root"], DOC_NAME), "wb") as f:
        f.write(DOC_BODY)
    s = AdminServer(base, dirs["root"])
    s.dirs = dirs
    s.start()
    yield from serving(s)


@pytest.fixture(scope="module")
def driver(srv):
    d = browser.start(1280, 800)
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(scope="module")
def url(srv):
    return f"https://127.0.0.1:{srv.admin_port}/"


# -- helpers -------------------------------------------------------------------

def api(srv, method, path, body=None, **kw):
    """The API over HTTPS with the admin token (or as told by kw)."""
    kw.setdefault("via", "https")
    return admin_request(srv, method, path, body=body, **kw)


def ok(r, status=200):
    assert r.status == status, r
    return r.json


def with_cookie(srv, method, path, cookie, csrf=None, body=None):
    """A request carrying the console's session cookie (and CSRF token), no bearer."""
    headers = {"Cookie": f"infosrv_session={cookie}"}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    return api(srv, method, path, body=body, token="", headers=headers)


def www_get(srv, path="/"):
    return http_get(srv.port, path)


def override_number(driver, prop, value):
    """Override PROP on the open sheet and type VALUE into its number field; the row."""
    row = browser.one(driver, f'[data-prop="{prop}"]')
    browser.press(driver, row.find_element("css selector", 'button[data-role="override"]'))
    field = row.find_element("css selector", "input[type=number]")
    field.clear()
    field.send_keys(value)
    return row


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except (ConnectionRefusedError, ConnectionResetError):
        return True


def goto(d, view):
    """Show VIEW (#/VIEW...) and wait until it says its data is drawn."""
    name = view.split("/")[0]
    d.execute_script("""
        const h = '#/' + arguments[0];
        if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
        else location.hash = h;""", view)
    browser.wait_for(f"view {view} drawn",
                     lambda: d.execute_script("return document.getElementById('view').dataset.ready") == name)


def logged_in_as(d):
    who = browser.css(d, "#who")
    return who[0].text if who and who[0].is_displayed() else ""


def logout(d, url):
    if not d.current_url.startswith(url):
        d.get(url)
    browser.wait_for("the console started", lambda: browser.css(d, "#login:not([hidden]), #logout:not([hidden])"))
    if browser.css(d, "#logout:not([hidden])"):
        browser.click(d, "#logout")
    browser.one(d, "#token")


def login(d, url, token):
    """Type TOKEN into the login form (logging out first) and wait for the first view."""
    logout(d, url)
    field = browser.one(d, "#token")
    field.clear()
    field.send_keys(token)
    browser.click(d, "#login-button")
    browser.wait_for("the first view after login",
                     lambda: d.execute_script("return window.consoleFirstViewMs !== undefined "
                                              "&& document.getElementById('view').dataset.ready"))
    return d.execute_script("return window.consoleFirstViewMs")


def as_admin(d, url, srv):
    if not logged_in_as(d).startswith("admin"):
        login(d, url, srv.token)


def confirm(d, comment=None):
    dlg = browser.one(d, "dialog[open]")
    if comment is not None:
        field = dlg.find_element("css selector", "input[type=text]")
        field.send_keys(comment)
    browser.click(d, "dialog[open] #confirm-ok")
    browser.wait_for("the dialog to close", lambda: not browser.css(d, "dialog[open]"))


def console_errors(d, allow=()):
    """SEVERE console entries since the last read, but those naming one of ALLOW."""
    return [e for e in browser.severe(browser.console_log(d))
            if not any(a in e.get("message", "") for a in allow)]


def assert_clean_console(d, allow=()):
    errors = console_errors(d, allow)
    assert not errors, f"browser console errors: {json.dumps(errors, indent=1)}"


def current_revision(srv):
    return ok(api(srv, "GET", "/api/v1/revisions?limit=1"))["revisions"][0]["revision"]


def prop(srv, key, name):
    return ok(api(srv, "GET", f"/api/v1/config{key}"))["properties"][name]


def site_state(srv, service="www", site="default"):
    for s in ok(api(srv, "GET", "/api/v1/services"))["services"]:
        if s["name"] == service:
            if site is None:
                return s["state"]
            for x in s["sites"]:
                if x["name"] == site:
                    return x["state"]
    raise AssertionError(f"no {service}/{site} in GET /api/v1/services")


# -- login ---------------------------------------------------------------------

def test_wrong_token_shows_error(srv, driver, url):
    logout(driver, url)
    browser.one(driver, "#token").send_keys("not-the-token-" + "x" * 20)
    browser.click(driver, "#login-button")
    msg = browser.wait_for("the login error", lambda: browser.one(driver, "#login-error").text)
    assert "not accepted" in msg, msg
    assert not browser.css(driver, "#logout:not([hidden])")
    assert driver.execute_script("return document.getElementById('view').children.length") == 0
    # The refused GET /api is a 401 in the console log; nothing else may be.
    assert_clean_console(driver, allow=("status of 401",))


def test_login_first_view_within_300ms(srv, driver, url):
    ms = login(driver, url, srv.token)
    print(f"\nconsole first view {ms} ms after login (performance.measure login-start..first-view)")
    assert isinstance(ms, (int, float)) and 0 < ms <= 300, ms
    assert browser.one(driver, "#who").text.startswith("admin (admin)")
    # The overview is there with the server's own data, and an admin has write controls.
    browser.text_is(driver, '[data-state-of="www/default"]', "started")
    assert srv.version in browser.one(driver, ".facts").text
    assert browser.css(driver, "[data-write]"), "an admin sees no write control on the overview"
    cookie = driver.get_cookie("infosrv_session")
    assert cookie and cookie["httpOnly"] and cookie["secure"], cookie
    assert_clean_console(driver)


def test_keyboard_login_and_navigation(srv, driver, url):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    logout(driver, url)
    field = browser.one(driver, "#token")
    field.send_keys(srv.token + Keys.ENTER)
    browser.wait_for("logged in by Enter", lambda: logged_in_as(driver).startswith("admin"))
    driver.execute_script("document.activeElement.blur(); document.body.focus()")
    seen = []
    for _ in range(20):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        seen.append(active.text or active.get_attribute("aria-label") or active.tag_name)
        if active.get_attribute("data-view") == "sessions":
            break
    else:
        raise AssertionError(f"Tab never reached the Sessions link: {seen}")
    outline = driver.execute_script("const s = getComputedStyle(document.activeElement); "
                                    "return [s.outlineStyle, s.outlineWidth]")
    assert outline[0] != "none" and outline[1] != "0px", f"no visible focus: {outline}"
    ActionChains(driver).send_keys(Keys.ENTER).perform()
    browser.wait_for("the Sessions view by keyboard",
                     lambda: driver.execute_script("return document.getElementById('view').dataset.ready") == "sessions")
    assert_clean_console(driver)


# -- property sheet --------------------------------------------------------------

def test_property_sheet_sets_default_documents(srv, driver, url):
    as_admin(driver, url, srv)
    status, body = www_get(srv, "/")
    assert status == 200 and body == tree.INDEX_HTML, (status, body)
    goto(driver, "properties/www/sites/default")
    row = browser.one(driver, '[data-prop="default_documents"]')
    assert "default" in row.find_element("css selector", ".source").text
    browser.press(driver, row.find_element("css selector", 'button[data-role="override"]'))
    area = row.find_element("css selector", "textarea")
    assert area.is_enabled()
    area.clear()
    area.send_keys(DOC_NAME)
    comment = "console: default document " + DOC_NAME
    browser.one(driver, ".commit-bar input").send_keys(comment)
    before = current_revision(srv)
    browser.click(driver, '.commit-bar button[type="submit"]')
    browser.wait_status(driver, f"Committed revision {before + 1}")
    status, body = www_get(srv, "/")
    assert status == 200 and body == DOC_BODY, (status, body)
    newest = ok(api(srv, "GET", "/api/v1/revisions?limit=1"))["revisions"][0]
    assert newest["comment"] == comment and newest["identity"] == "token:admin", newest
    p = prop(srv, "/www/sites/default", "default_documents")
    assert p["value"] == [DOC_NAME] and p["inherited"] is False, p
    # The sheet reloaded at the new revision and shows the value as set here.
    browser.wait_for("set here", lambda: "set here" in browser.one(
        driver, '[data-prop="default_documents"] .source').text)
    assert_clean_console(driver)


def test_property_sheet_error_names_the_field(srv, driver, url):
    as_admin(driver, url, srv)
    goto(driver, "properties/www/sites/default")
    row = override_number(driver, "max_connections", "-5")
    browser.click(driver, '.commit-bar button[type="submit"]')
    err = browser.wait_for("the field's error", lambda: row.find_element("css selector", ".field-error").text)
    assert "max_connections" in err, err
    browser.wait_status(driver, "Not committed")
    assert prop(srv, "/www/sites/default", "max_connections")["value"] == 0
    assert_clean_console(driver, allow=("status of 400",))


def test_property_sheet_stale_revision_offers_reload(srv, driver, url):
    as_admin(driver, url, srv)
    goto(driver, "properties/www/sites/default")
    row = override_number(driver, "header_timeout", "7")
    # Someone else commits while the sheet has changes of ours: it is not reloaded
    # under our feet, and our commit is refused as stale.
    other = ok(api(srv, "PATCH", "/api/v1/config/www", {"set": {"max_body": 2097152}}))["revision"]
    browser.wait_status(driver, f"Revision {other} by token:admin")
    browser.click(driver, '.commit-bar button[type="submit"]')
    browser.wait_status(driver, "someone else changed the configuration")
    stale = browser.one(driver, ".stale")
    assert "Someone else changed" in stale.text, stale.text
    assert prop(srv, "/www/sites/default", "header_timeout")["value"] == 10
    browser.press(driver, stale.find_element("css selector", "button"))
    browser.wait_for("the sheet at the new revision",
                     lambda: f"revision {other}." in browser.one(driver, ".props").text)
    assert not browser.css(driver, ".stale p")
    ok(api(srv, "PATCH", "/api/v1/config/www", {"unset": ["max_body"]}))
    assert_clean_console(driver, allow=("status of 412",))


# -- overview: service control -----------------------------------------------------

def test_stop_and_start_site(srv, driver, url):
    as_admin(driver, url, srv)
    goto(driver, "overview")
    assert not refused(srv.port)
    browser.click(driver, 'button[data-action="stop"][data-service="www"][data-site="default"]')
    confirm(driver)
    browser.wait_status(driver, "Site default stopped")
    browser.wait_for("the WWW port to refuse", lambda: refused(srv.port), timeout=5)
    assert site_state(srv) == "stopped"
    browser.text_is(driver, '[data-state-of="www/default"]', "stopped")
    browser.click(driver, 'button[data-action="start"][data-service="www"][data-site="default"]')
    browser.wait_status(driver, "Site default started")
    status, body = browser.wait_for("the site serving again", lambda: www_get(srv, "/"), timeout=5)
    assert status == 200 and body == DOC_BODY, (status, body)
    assert site_state(srv) == "started"
    assert_clean_console(driver)


# -- sessions ------------------------------------------------------------------------

def test_disconnect_session(srv, driver, url):
    as_admin(driver, url, srv)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request("GET", "/hello.txt")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == tree.HELLO
        assert r.getheader("Connection", "").lower() != "close"
        port = conn.sock.getsockname()[1]
        goto(driver, "sessions")
        sel = f'tr[data-client$=":{port}"]'
        row = browser.one(driver, sel, timeout=5)
        assert "GET /hello.txt" in row.text, row.text
        browser.press(driver, row.find_element("css selector", 'button[data-action="disconnect"]'))
        confirm(driver)
        browser.wait_status(driver, "Disconnected 127.0.0.1")
        conn.sock.settimeout(5)
        t0 = time.monotonic()
        try:
            data = conn.sock.recv(1)
        except ConnectionResetError:
            data = b""
        # Closed by the server at once, not by its 15 s keep-alive timeout.
        assert data == b"" and time.monotonic() - t0 < 4, data
        browser.wait_for("the row gone", lambda: not browser.css(driver, sel), timeout=5)
    finally:
        conn.close()
    assert_clean_console(driver)


# -- history -------------------------------------------------------------------------

def test_rollback_in_history(srv, driver, url):
    as_admin(driver, url, srv)
    site = "/api/v1/config/www/sites/default"
    a = ok(api(srv, "PATCH", site, {"set": {"connection_timeout": 21}, "comment": "timeout 21"}))["revision"]
    b = ok(api(srv, "PATCH", site, {"set": {"connection_timeout": 42}, "comment": "timeout 42"}))["revision"]
    assert prop(srv, "/www/sites/default", "connection_timeout")["value"] == 42
    goto(driver, "history")
    browser.click(driver, f'button[data-action="rollback"][data-revision="{a}"]')
    confirm(driver, comment="console rollback test")
    browser.wait_status(driver, f"Rolled back to revision {a}: revision {b + 1}")
    assert prop(srv, "/www/sites/default", "connection_timeout")["value"] == 21
    newest = ok(api(srv, "GET", "/api/v1/revisions?limit=1"))["revisions"][0]
    assert newest["revision"] == b + 1 and "console rollback test" in newest["comment"], newest
    # The diff of the two revisions, picked in the view, names the property.
    goto(driver, "history")
    browser.click(driver, f'input[name="diff-from"][value="{b}"]')
    browser.click(driver, f'input[name="diff-to"][value="{b + 1}"]')
    browser.click(driver, "#show-diff")
    diff = browser.wait_for("the diff", lambda: browser.one(driver, ".diff table").text)
    assert "connection_timeout" in diff and "42" in diff and "21" in diff, diff
    assert_clean_console(driver)


# -- sites and virtual directories ---------------------------------------------------

def test_add_site_and_vdir_then_remove(srv, driver, url):
    as_admin(driver, url, srv)
    port = free_port()
    goto(driver, "sites")
    form = browser.one(driver, "form.add-site")
    form.find_element("css selector", "[name=name]").send_keys("shop")
    form.find_element("css selector", "[name=bindings]").send_keys(f"127.0.0.1:{port}")
    form.find_element("css selector", "[name=path]").send_keys(srv.dirs["docs"])
    browser.press(driver, form.find_element("css selector", "button[type=submit]"))
    browser.wait_status(driver, "Site shop added to www")
    assert http_get(port, "/readme.txt") == (200, tree.DOCS_README)
    shop = ok(api(srv, "GET", "/api/v1/config/www/sites/shop/root"))
    assert shop["properties"]["path"]["value"] == srv.dirs["docs"], shop
    # The new site's home directory is offered as a parent once the tree reloads.
    browser.wait_for("the shop root in the parent list",
                     lambda: browser.css(driver, 'form.add-vdir option[value="/www/sites/shop/root"]'))
    form = browser.one(driver, "form.add-vdir")
    driver.execute_script("arguments[0].value = '/www/sites/shop/root'",
                          form.find_element("css selector", "[name=parent]"))
    form.find_element("css selector", "[name=alias]").send_keys("deep")
    form.find_element("css selector", "[name=path]").send_keys(srv.dirs["deep"])
    browser.press(driver, form.find_element("css selector", "button[type=submit]"))
    browser.wait_status(driver, "Virtual directory /www/sites/shop/root/deep added")
    assert http_get(port, "/deep/deep.txt") == (200, tree.DOCS_DEEP)
    browser.click(driver, 'li[data-key="/www/sites/shop"] > .node button')
    confirm(driver)
    browser.wait_status(driver, "Removed /www/sites/shop")
    browser.wait_for("the shop port to refuse", lambda: refused(port), timeout=5)
    assert api(srv, "GET", "/api/v1/config/www/sites/shop").status == 404
    browser.wait_for("shop gone from the tree", lambda: not browser.css(driver, 'li[data-key="/www/sites/shop"]'))
    assert_clean_console(driver)


# -- accounts ------------------------------------------------------------------------------

def test_accounts_create_new_token_delete(srv, driver, url):
    as_admin(driver, url, srv)
    goto(driver, "accounts")
    form = browser.one(driver, "form.card")
    form.find_element("css selector", "input[type=text]").send_keys("console-made")
    driver.execute_script("arguments[0].value = 'operator'", form.find_element("css selector", "select"))
    browser.press(driver, form.find_element("css selector", "button[type=submit]"))
    browser.wait_status(driver, "Account console-made created with role operator")
    first = browser.one(driver, "input.token").get_attribute("value")
    assert ok(api(srv, "GET", "/api", token=first))["product"] == "infosrv"
    browser.click(driver, 'tr[data-account="console-made"] button[aria-label^="New token"]')
    confirm(driver)
    browser.wait_status(driver, "New token for console-made")
    second = browser.wait_for("the new token", lambda: (lambda v: v if v != first else None)(
        browser.one(driver, "input.token").get_attribute("value")))
    assert api(srv, "GET", "/api", token=first).status == 401
    assert ok(api(srv, "GET", "/api", token=second))["product"] == "infosrv"
    browser.click(driver, 'tr[data-account="console-made"] button[aria-label^="Delete"]')
    confirm(driver)
    browser.wait_status(driver, "Account console-made deleted")
    assert api(srv, "GET", "/api", token=second).status == 401
    names = [a["name"] for a in ok(api(srv, "GET", "/api/v1/accounts"))["accounts"]]
    assert "console-made" not in names, names
    browser.wait_for("the row gone", lambda: not browser.css(driver, 'tr[data-account="console-made"]'))
    assert_clean_console(driver)


# -- live events -------------------------------------------------------------------------

def test_live_commit_and_state_events(srv, driver, url):
    as_admin(driver, url, srv)
    goto(driver, "history")
    # A commit from elsewhere (the unix socket) is told and shown without a reload.
    rev = ok(api(srv, "PATCH", "/api/v1/config/www", {"set": {"header_timeout": 11}, "comment": "from elsewhere"},
                 via="unix"))["revision"]
    browser.wait_status(driver, f"Revision {rev} by local:")
    browser.one(driver, f'tr[data-revision="{rev}"]')
    ok(api(srv, "PATCH", "/api/v1/config/www", {"unset": ["header_timeout"]}, via="unix"))
    # A state change from elsewhere turns the overview's badge.
    goto(driver, "overview")
    badge = '[data-state-of="www/default"]'
    browser.text_is(driver, badge, "started")
    ok(api(srv, "POST", "/api/v1/services/www/sites/default/pause", via="unix"))
    try:
        browser.text_is(driver, badge, "paused")
        browser.one(driver, 'button[data-action="continue"][data-site="default"]')
    finally:
        ok(api(srv, "POST", "/api/v1/services/www/sites/default/continue", via="unix"))
    browser.text_is(driver, badge, "started")
    assert_clean_console(driver)


def test_statistics_update_live(srv, driver, url):
    as_admin(driver, url, srv)
    goto(driver, "statistics")
    cell = 'tr[data-service="www"][data-site=""] td.num'
    before = ok(api(srv, "GET", "/api/v1/stats?service=www"))["stats"]
    total = [x for x in before if x["site"] is None][0]["counters"]["total_requests"]
    for _ in range(5):
        assert www_get(srv, "/hello.txt")[0] == 200
    # The first counter column is total_requests; the table follows the stats events.
    browser.wait_for("total requests in the table",
                     lambda: browser.css(driver, cell)[0].text.replace(",", "") == str(total + 5), timeout=5)
    legend = browser.one(driver, 'figure.chart ul.legend').text
    assert legend.startswith("www:"), legend
    assert_clean_console(driver)


# -- cross-site request forgery --------------------------------------------------------

def test_forged_cross_site_post_refused(srv, driver, url):
    as_admin(driver, url, srv)
    target = f"{url}api/v1/services/www/stop"
    page = ("<!DOCTYPE html><html><body>"
            f'<form id="f" method="post" action="{target}"><input type="hidden" name="a" value="1"></form>'
            "<script>document.getElementById('f').submit();</script></body></html>")
    with open(os.path.join(srv.root, "forge.html"), "w", encoding="utf-8") as f:
        f.write(page)
    assert site_state(srv, site=None) == "started"
    driver.get(f"http://127.0.0.1:{srv.port}/forge.html")
    # The form was submitted: the browser is on the admin listener's answer.
    browser.wait_for("the forged POST to be answered", lambda: driver.current_url == target)
    answer = driver.find_element("css selector", "body").text
    assert "forbidden" in answer, answer
    assert site_state(srv, site=None) == "started"
    assert site_state(srv) == "started"
    assert not refused(srv.port)
    assert_clean_console(driver, allow=("status of 403",))
    driver.get(url)
    browser.wait_for("the session resumed", lambda: logged_in_as(driver).startswith("admin"))


# -- layout, screenshots and the console log on every view ------------------------------

def test_every_view_screenshots_and_no_console_errors(srv, driver, url):
    as_admin(driver, url, srv)
    os.makedirs(SHOTS, exist_ok=True)
    browser.set_viewport(driver, 1280, 800)
    try:
        for v in VIEWS:
            goto(driver, v)
            if v == "statistics":
                # Let a few stats events through so the charts have lines.
                time.sleep(1.5)
            path = os.path.join(SHOTS, f"{v}.png")
            assert driver.save_screenshot(path), path
            assert driver.execute_script("return document.documentElement.scrollWidth") <= 1280
    finally:
        browser.clear_viewport(driver)
    print(f"\nscreenshots in {SHOTS}")
    assert_clean_console(driver)


UNLABELLED_JS = """
const name = (e) => (e.getAttribute('aria-label') || '').trim()
  || (e.getAttribute('aria-labelledby') || '').split(' ').map((i) => document.getElementById(i))
       .filter(Boolean).map((x) => x.textContent).join(' ').trim()
  || (e.id && document.querySelector('label[for="' + CSS.escape(e.id) + '"]') ? 'label' : '')
  || (e.closest('label') ? 'label' : '')
  || (e.tagName === 'BUTTON' || e.tagName === 'A' ? e.textContent.trim() : '');
return Array.from(document.querySelectorAll('button, a[href], input, select, textarea, canvas'))
  .filter((e) => e.type !== 'hidden' && e.getClientRects().length && !name(e))
  .map((e) => e.outerHTML.slice(0, 100));
"""


def test_every_control_has_a_name(srv, driver, url):
    as_admin(driver, url, srv)
    found = {}
    for v in VIEWS:
        goto(driver, v)
        bad = driver.execute_script(UNLABELLED_JS)
        if bad:
            found[v] = bad
    assert not found, f"controls without a label or accessible name: {found}"
    assert_clean_console(driver)


def test_operator_controls_services_but_not_configuration(srv, driver, url):
    as_admin(driver, url, srv)
    op = ok(api(srv, "POST", "/api/v1/accounts", {"name": "console-operator", "role": "operator"}), 201)
    login(driver, url, op["token"])
    assert browser.one(driver, "#who").text.startswith("console-operator (operator)")
    goto(driver, "overview")
    assert browser.css(driver, 'button[data-write][data-action="stop"][data-site="default"]')
    goto(driver, "sessions")
    assert browser.css(driver, 'button[data-write][data-action="disconnect-all"]')
    for v in ("properties", "sites", "history", "accounts"):
        goto(driver, v)
        marked = browser.css(driver, "[data-write]")
        assert not marked, f"{v}: an operator is offered {[e.get_attribute('outerHTML')[:100] for e in marked[:3]]}"
    # The role is the server's: a configuration write with the operator's cookie is refused.
    cookie = driver.get_cookie("infosrv_session")["value"]
    csrf = ok(with_cookie(srv, "GET", "/api/v1/login", cookie))["csrf"]
    r = with_cookie(srv, "PATCH", "/api/v1/config/www", cookie, csrf=csrf, body={"set": {"header_timeout": 5}})
    assert r.status == 403 and r.error_code == "forbidden", r
    assert_clean_console(driver)
    login(driver, url, srv.token)


def test_narrow_layout_no_horizontal_overflow(srv, driver, url):
    as_admin(driver, url, srv)
    os.makedirs(SHOTS, exist_ok=True)
    browser.set_viewport(driver, 390, 844)
    try:
        widths = {}
        for v in VIEWS:
            goto(driver, v)
            widths[v] = driver.execute_script("return document.documentElement.scrollWidth")
            if v == "overview":
                assert driver.save_screenshot(os.path.join(SHOTS, "overview-390.png"))
                # The navigation is folded behind the Menu button, which opens it.
                assert not browser.css(driver, "#nav a")[0].is_displayed()
                browser.click(driver, "#menu-toggle")
                assert browser.css(driver, "#nav a")[0].is_displayed()
                browser.click(driver, "#menu-toggle")
        print(f"\nscrollWidth at 390 px: {widths}")
        assert all(w <= 390 for w in widths.values()), widths
    finally:
        browser.clear_viewport(driver)
    assert_clean_console(driver)


# -- roles ---------------------------------------------------------------------------------

def test_reader_sees_no_write_control_and_cannot_write(srv, driver, url):
    as_admin(driver, url, srv)
    # The admin's views do have marked write controls: the marking is what we count on.
    for v in ("overview", "properties", "sites", "sessions", "statistics", "accounts"):
        goto(driver, v)
        assert browser.css(driver, "[data-write]"), f"no [data-write] for an admin on {v}"
    rd = ok(api(srv, "POST", "/api/v1/accounts", {"name": "console-reader", "role": "reader"}), 201)
    login(driver, url, rd["token"])
    assert browser.one(driver, "#who").text.startswith("console-reader (reader)")
    for v in VIEWS:
        goto(driver, v)
        marked = browser.css(driver, "[data-write]")
        assert not marked, f"{v}: a reader is offered {len(marked)} write controls, first " \
            f"{[e.get_attribute('outerHTML')[:120] for e in marked[:3]]}"
        words = [b.text for b in browser.css(driver, "#view button")
                 if any(b.text.startswith(w) for w in WRITE_WORDS)]
        assert not words, f"{v}: a reader is offered the buttons {words}"
    assert not browser.css(driver, "#view textarea, #view select[data-write], #view input[type=password]")
    cookie = driver.get_cookie("infosrv_session")["value"]
    session = ok(with_cookie(srv, "GET", "/api/v1/login", cookie))
    assert session["role"] == "reader" and session["csrf"], session
    # The cookie authenticates (a GET works), the role refuses the writes.
    ok(with_cookie(srv, "GET", "/api/v1/services", cookie))
    r = with_cookie(srv, "POST", "/api/v1/services/www/stop", cookie, csrf=session["csrf"], body={})
    assert r.status == 403 and r.error_code == "forbidden", r
    r = with_cookie(srv, "PATCH", "/api/v1/config/www", cookie, csrf=session["csrf"],
                    body={"set": {"header_timeout": 5}})
    assert r.status == 403 and r.error_code == "forbidden", r
    assert site_state(srv, site=None) == "started"
    assert prop(srv, "/www", "header_timeout")["value"] == 10
    assert_clean_console(driver)


def test_logout_ends_the_session(srv, driver, url):
    as_admin(driver, url, srv)
    cookie = driver.get_cookie("infosrv_session")["value"]
    ok(with_cookie(srv, "GET", "/api/v1/login", cookie))
    browser.click(driver, "#logout")
    browser.one(driver, "#token")
    assert "Logged out" in browser.one(driver, "#login-error").text
    assert not browser.css(driver, "#logout:not([hidden])")
    r = with_cookie(srv, "GET", "/api/v1/login", cookie)
    assert r.status == 401, r
    r = with_cookie(srv, "GET", "/api/v1/services", cookie)
    assert r.status == 401, r
    # A reload does not bring the session back either.
    driver.get(url)
    browser.one(driver, "#token")
    assert not browser.css(driver, "#logout:not([hidden])")
    assert_clean_console(driver)
