"""A page read as a person's browser reads it: Debian's headless Chromium, driven by
Selenium through Debian's chromedriver (.ci/run installs both). No network: the driver is
given by path, so Selenium Manager downloads nothing."""

import dataclasses
import os
import shutil
from typing import Dict, List, Tuple

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PAGE_SECONDS = 60  # the longest a page may take to load, and the driver to answer


@dataclasses.dataclass
class Page:
    """What the browser saw: its console's messages at level SEVERE, each image as (alt,
    decoded), each marked number as key -> (text shown, full value), the visible text, and
    the resources it fetched."""

    errors: List[str]
    images: List[Tuple[str, bool]]
    facts: Dict[str, Tuple[str, str]]
    text: str
    fetched: List[str]


def require_browser() -> None:
    """Skips the test without Chromium (fails it under CI, whose .ci/run installs it)."""
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    message = f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def read(path: str) -> Page:
    """Opens the file `path` in headless Chromium and reads the page back."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1300,2000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(PAGE_SECONDS)
        driver.set_script_timeout(PAGE_SECONDS)
        driver.get("file://" + os.path.abspath(path))
        images = driver.execute_script(
            "return Array.from(document.images).map("
            "i => [i.alt, i.complete && i.naturalWidth > 0 && i.naturalHeight > 0]);")
        facts = driver.execute_script(
            "return Array.from(document.querySelectorAll('[data-fact]')).map("
            "e => [e.dataset.fact, e.textContent, e.dataset.value]);")
        text = driver.execute_script("return document.body.innerText;")
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name);")
        errors = [entry["message"] for entry in driver.get_log("browser")
                  if entry["level"] == "SEVERE"]
    finally:
        driver.quit()
    return Page(errors, [(alt, bool(ok)) for alt, ok in images],
                {key: (shown, value) for key, shown, value in facts}, text, fetched)
