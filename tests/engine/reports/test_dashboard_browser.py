"""The live class view in a real browser: headless Chromium on a class made through the console.

Debian's ``chromium`` and ``chromium-driver`` with selenium drive it. Without them the
test is skipped on a developer's machine; under CI (``CI=true``) a missing browser fails.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.console.repl import run_console
from bot.dashboard.app import DashboardApp
from bot.dashboard.server import DashboardServer
from bot.progress import StuckRules
from bot.tutor.core import Tutor

pytestmark = pytest.mark.docker

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SHOTS = Path(os.environ.get("TUTOR_SCREENSHOTS", "")) if os.environ.get("TUTOR_SCREENSHOTS") else None


def _console(tutor: Tutor, user: str, lines: list[str]) -> str:
    out = io.StringIO()
    assert run_console(tutor, user, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out) == 0
    return out.getvalue()


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Chromium driven by chromedriver (no network, no sandbox as root)."""
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium and chromium-driver (.ci/run does)")
        pytest.skip("no chromium/chromedriver here: apt-get install chromium chromium-driver")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
                 "--disable-background-networking", "--disable-component-update"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_dashboard_shows_the_class_and_refreshes_itself(
        tutor: Tutor, browser: object, tmp_path: Path) -> None:
    """A learner appears, a stuck reason shows, and a new line shows up without a page reload."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    _console(tutor, "ada", ["start data-persistence", "next",
                            "docker run --name hello busybox echo hi from ada"])
    _console(tutor, "bob", ["start data-persistence", "next",
                            "docker run --privileged busybox", "docker run --pid host busybox",
                            "docker run --network host busybox"])
    app = DashboardApp(tutor.store, tutor.catalog, rules=StuckRules(failed_attempts=3))
    with DashboardServer(app) as server:
        browser.get(server.url)
        WebDriverWait(browser, 15).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-learner="console:ada"]'))
        ada = browser.find_element(By.CSS_SELECTOR, 'tr[data-learner="console:ada"]')
        assert "docker run --name hello busybox echo hi from ada" in ada.text
        bob = browser.find_element(By.CSS_SELECTOR, 'tr[data-learner="console:bob"]')
        assert "stuck: 3 failed attempts" in bob.text
        assert "is-stuck" in (bob.get_attribute("class") or "")
        browser.execute_script("window.__sameDocument = 'yes';")
        shot = (SHOTS or tmp_path) / "dashboard-before.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:4] == b"\x89PNG"

        _console(tutor, "cy", ["start data-persistence"])
        started = time.monotonic()
        WebDriverWait(browser, 20).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, 'tr[data-learner="console:cy"]'))
        assert time.monotonic() - started < 20
        assert browser.execute_script("return window.__sameDocument;") == "yes"  # no reload
        after = (SHOTS or tmp_path) / "dashboard-after.png"
        assert browser.save_screenshot(str(after)) and after.stat().st_size > 10_000
        problems = [entry for entry in browser.get_log("browser") if "favicon" not in entry["message"]]
        assert problems == []  # no CSP violation, no script error
