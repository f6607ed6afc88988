"""Headless Chromium for the web console tests (tests/e2e/test_console.py):
starting it, waiting on the page without sleeps, reading its console log."""

import os
import time

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def missing():
    """Why the browser tests cannot run here, or None."""
    for p in (CHROMIUM, CHROMEDRIVER):
        if not os.access(p, os.X_OK):
            return f"{p} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is not installed"
    return None


def start(width=1280, height=800):
    """A headless Chromium driven by chromedriver, logging the page's console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--ignore-certificate-errors",
              f"--window-size={width},{height}", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-extensions", "--no-first-run", "--password-store=basic"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    return driver


class Timeout(AssertionError):
    pass


def wait_for(what, fn, timeout=5.0, interval=0.02):
    """Poll FN until it returns something true; return it, or fail naming WHAT."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # a stale element while the page redraws: try again
            last_exc = e
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}"
                          + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


def css(driver, selector):
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, selector)


def one(driver, selector, timeout=5.0):
    """The first element matching SELECTOR that is displayed, once there is one."""
    def find():
        for e in css(driver, selector):
            if e.is_displayed():
                return e
        return None
    return wait_for(f"a visible {selector!r}", find, timeout)


def press(driver, element):
    """Click ELEMENT once it is scrolled to the middle of the viewport (clear of sticky bars)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()
    return element


def click(driver, selector, timeout=5.0):
    """Click the visible SELECTOR, again if the page redrew it under us (a live update)."""
    return wait_for(f"a click on {selector!r}", lambda: press(driver, one(driver, selector, timeout)), timeout)


def text_is(driver, selector, text, timeout=5.0):
    """Wait until the visible SELECTOR reads TEXT (found afresh each time: views redraw)."""
    return wait_for(f"{selector!r} to read {text!r}", lambda: one(driver, selector, timeout).text == text, timeout)


def status_text(driver):
    """Every message now in the console's aria-live status region."""
    return " | ".join(e.text for e in css(driver, "#status .msg"))


def wait_status(driver, needle, timeout=5.0):
    """Wait until the status region says NEEDLE; fail with what it said instead."""
    try:
        return wait_for(f"status {needle!r}", lambda: needle in status_text(driver), timeout)
    except Timeout as e:
        raise Timeout(f"{e}; status region says: {status_text(driver)!r}") from None


def console_log(driver):
    """The browser console entries since the last call (reading empties the buffer)."""
    return driver.get_log("browser")


def severe(entries):
    return [e for e in entries if e.get("level") == "SEVERE"]


def set_viewport(driver, width, height):
    """An exact CSS viewport (the window size would include no chrome headless, but be sure)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def clear_viewport(driver):
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
