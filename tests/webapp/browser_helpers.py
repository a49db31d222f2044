"""What the browser tests share: headless Chromium (selenium), the review admin on a local server, a reviewer
account, screenshots, and the keyboard reviewer's steps on the admin's suggestion pages.

Used by tests/webapp/test_browser.py, tests/webapp/test_browser_keyboard.py and tests/dags/test_airflow_browser.py.
A test module takes the fixtures by importing them (`from tests.webapp.browser_helpers import browser, ...`) and
skips without the tools with `pytestmark = needs_browser`.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")

try:
    import selenium  # noqa: F401
    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover
    HAVE_SELENIUM = False

needs_browser = pytest.mark.skipif(
    not (HAVE_SELENIUM and CHROMIUM and CHROMEDRIVER),
    reason="browser test needs selenium, chromium and chromedriver (apt-get install chromium chromium-driver)")

WIDTH, HEIGHT = 1400, 1000
PASSWORD = "browser-test-password"


@contextlib.contextmanager
def serve_admin() -> Iterator[str]:
    """The admin served by a threaded WSGI server on 127.0.0.1 (random port), static files included; yields its
    base URL (without /admin/)."""
    from data_platform.webapp.setup import setup_django

    setup_django()
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=True)
    server.set_app(StaticFilesHandler(get_wsgi_application()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        from django.db import connections

        connections.close_all()


@pytest.fixture
def live_admin(db):
    with serve_admin() as url:
        yield url


@pytest.fixture
def browser():
    """Headless Chromium, 1,400 × 1,000 px, a throw-away profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="dp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screens(tmp_path) -> Path:
    """Where screenshots go: $DP_SCREENSHOT_DIR, else the test's tmp dir."""
    out = Path(os.environ.get("DP_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def screenshot(browser, path: Path, whole_page: bool = False) -> None:
    """The window (of the top document, frames included); `whole_page`: the window stretched to the current
    document's height first (at most 8,000 px), then back to 1,400 × 1,000."""
    if not whole_page:
        browser.save_screenshot(str(path))
        return
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.set_window_size(WIDTH, max(HEIGHT, min(height + 100, 8000)))
    try:
        browser.save_screenshot(str(path))
    finally:
        browser.set_window_size(WIDTH, HEIGHT)


def make_reviewer(username: str, password: str):
    """A staff account in the reviewer group (view + decide on suggestions), replacing any of that name."""
    from django.contrib.auth.models import Group, User

    from data_platform.reference import REVIEWER_GROUP

    User.objects.filter(username=username).delete()
    user = User.objects.create_user(username, password=password, is_staff=True)
    user.groups.add(Group.objects.get(name=REVIEWER_GROUP))
    return user


def log_in(browser, wait, username: str, password: str) -> None:
    """Fill the admin's login form shown in the current browsing context (the page or a frame) and submit it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    wait.until(ec.presence_of_element_located((By.ID, "id_username"))).send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


ENTER = "\ue007"
_SUGGESTION_PAGE = re.compile(r"/suggestion/(\d+)/change/")


class KeyboardReview:
    """A reviewer's keyboard on the admin's suggestion pages, in the current browsing context (the top page, or
    the frame selenium is switched to: URLs are read from that document, never from `current_url`).

    `decide` / `reject` time each decision from its first key press to the next suggestion's page loaded
    (the time spent on screenshots in between is left out); `timings` keeps them, `summary()` prints them."""

    def __init__(self, browser, wait):
        self.browser, self.wait = browser, wait
        self.timings: list[float] = []

    def press(self, *keys: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.browser).send_keys(*keys).perform()

    def here(self) -> str:
        return self.browser.execute_script("return window.location.href")

    def current(self) -> int | None:
        """The suggestion whose page is shown (None elsewhere)."""
        m = _SUGGESTION_PAGE.search(self.here())
        return int(m.group(1)) if m else None

    def next_in_list(self) -> int | None:
        """The next suggestion of the list the page was opened from (its "suivante j" link), None at the end."""
        url = self.browser.execute_script(
            "var r = document.getElementById('revue-suggestion'); return r ? r.dataset.nextUrl : null;")
        m = _SUGGESTION_PAGE.search(url or "")
        return int(m.group(1)) if m else None

    def on_page(self, pk: int) -> None:
        """Wait for suggestion `pk`'s page, loaded."""
        from selenium.webdriver.common.by import By

        self.wait.until(lambda d: f"/suggestion/{pk}/change/" in self.here()
                        and d.execute_script("return document.readyState") == "complete"
                        and d.find_elements(By.ID, "statut-suggestion"))

    def decide(self, keys, next_pk: int) -> float:
        """Press `keys` (e.g. ["a"]: approve and next), wait for `next_pk`'s page; the seconds it took."""
        start = time.perf_counter()
        self.press(*keys)
        self.on_page(next_pk)
        return self._took(time.perf_counter() - start)

    def reject(self, reason: int, next_pk: int, shot=None) -> float:
        """r, the reason's number (1–6) and Enter in the dialog r opens, then `next_pk`'s page; `shot()`, when
        given, is called while the dialog is shown (not timed)."""
        from selenium.webdriver.common.by import By

        start = time.perf_counter()
        self.press("r")
        self.wait.until(lambda d: d.find_element(By.ID, "dialog-rejet").is_displayed())
        spent = time.perf_counter() - start
        if shot is not None:
            shot()
        start = time.perf_counter()
        self.press(str(reason), ENTER)
        self.on_page(next_pk)
        return self._took(spent + time.perf_counter() - start)

    def _took(self, seconds: float) -> float:
        self.timings.append(seconds)
        return seconds

    def summary(self, where: str) -> str:
        t = self.timings
        mean = sum(t) / len(t)
        return (f"keyboard review ({where}): {len(t)} decisions, " + ", ".join(f"{s * 1000:.0f} ms" for s in t)
                + f"; mean {mean * 1000:.0f} ms, max {max(t) * 1000:.0f} ms per decision (key press → next "
                  f"suggestion shown, headless Chromium) = the tool's share of a decision; 200 decisions an hour "
                  f"leave {18 - mean:.1f} s each to read the cluster")
