"""The query page in a real browser: headless Chromium clicks an example and reads the results table."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import smnpc_server

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.browser, pytest.mark.integration]  # starts smnpc-kg serve and drives Chromium


@pytest.fixture(scope="module")
def server(served_root: Path) -> Iterator[str]:
    with smnpc_server(served_root) as url:
        yield url


def test_clicking_an_example_shows_its_results(server: str, tmp_path: Path) -> None:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail("headless Chromium is needed: `make test` installs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.get(server + "/")
        wait = WebDriverWait(browser, 30)
        button = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#example-list button[data-name='table-1']")))
        button.click()
        table = wait.until(ec.presence_of_element_located((By.ID, "results-table")))
        rows = table.find_elements(By.TAG_NAME, "tr")
        assert [c.text for c in rows[0].find_elements(By.TAG_NAME, "th")] == ["study", "ref", "n", "subtype", "definition", "survival"]
        assert len(rows) == 1 + 14
        first = [c.text for c in rows[1].find_elements(By.TAG_NAME, "td")]
        assert first[0] == "Chen et al (2017)" and first[-1] == "3-year 54.5–72.7%"
        assert "14 row(s)" in browser.find_element(By.ID, "status").text
        browser.save_screenshot(str(tmp_path / "page.png"))
    finally:
        browser.quit()
