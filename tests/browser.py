"""Headless Chromium for browser tests: open a local HTML file, read its console, screenshot it.

Tests call ``chromium_or_skip()`` so they skip (with the install command as the reason) only
where Chromium or chromedriver cannot be found; anything else that goes wrong fails.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
INSTALL_HINT = "apt-get update && apt-get install -y chromium chromium-driver"


def _first_existing(candidates: tuple[str, ...], name: str) -> str | None:
    for candidate in candidates:
        if Path(candidate).exists():
            return candidate
    return shutil.which(name)


def chromium_or_skip() -> tuple[str, str]:
    """Paths of (chromium, chromedriver), or skip the test saying how to install them."""
    browser = _first_existing(CHROMIUM_CANDIDATES, "chromium")
    driver = _first_existing(CHROMEDRIVER_CANDIDATES, "chromedriver")
    if browser is None or driver is None:
        missing = "chromium" if browser is None else "chromedriver"
        pytest.skip(f"{missing} not found; install with: {INSTALL_HINT}")
    return browser, driver


@contextmanager
def headless_chromium(tmp_path: Path, width: int = 1400, height: int = 1000) -> Iterator:
    """A selenium Chrome driver on a fresh profile in ``tmp_path``, browser logs enabled."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium_or_skip()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition, timeout_s: float = 15.0, interval_s: float = 0.1):
    """Poll ``condition()`` until it returns something truthy; return it or the last value."""
    deadline = time.monotonic() + timeout_s
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = condition()
    return value


def severe_console_entries(driver) -> list[dict]:
    """Browser console entries at SEVERE level (JavaScript errors, failed loads)."""
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def full_page_screenshot(driver, path: Path) -> Path:
    """Resize the window to the page height, then save a PNG of the whole page."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(int(height) + 100, 16000))
    driver.save_screenshot(str(path))
    return path
