"""The dashboard in a real headless browser: Debian's chromium, driven by
Selenium through Debian's chromedriver (``.ci/run`` installs both).

The page must show the workers and follow the task counts while tasks run,
without a reload.  Without chromium these tests skip, except under CI, which
installs it.  They are slow (a browser start each).  A screenshot is saved in ``test-artifacts/`` (or in
``$FASTRAY_TEST_ARTIFACTS``) for a person to look at.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import fastray

from helpers import fails, requirement_missing, wait_for_file

ARTIFACTS = Path(os.environ.get("FASTRAY_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[1] / "test-artifacts"))
PAGE_WAIT_S = 30

pytestmark = pytest.mark.slow


@pytest.fixture
def browser(tmp_path):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        requirement_missing("the browser tests need Debian's chromium and chromium-driver: "
                            "apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1000"):
        options.add_argument(argument)
    # Chromium's own temporary folders go under the test's, not /tmp: its
    # singleton socket folder outlives the browser.
    service = Service(driver, env={**os.environ, "TMPDIR": str(tmp_path)})
    session = webdriver.Chrome(service=service, options=options)
    try:
        yield session
    finally:
        session.quit()


def table(browser, selector: str) -> list[list[str]]:
    """The cells of a table's body rows, read in one script: the page
    replaces them each second, so an element found first may be gone when
    its text is read."""
    return browser.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' tbody tr')]"
        ".map(tr => [...tr.cells].map(td => td.textContent))", selector)


def count(browser, state: str) -> int:
    text = browser.execute_script("return document.querySelector(arguments[0]).textContent",
                                  f"#count-{state} b")
    return int(text.replace(",", ""))


def worker_rows(browser) -> dict[int, str]:
    """pid -> state, as the page's worker table shows them."""
    return {int(row[0]): row[1] for row in table(browser, "#workers")}


def test_the_page_follows_a_running_workload(browser, tmp_path):
    context = fastray.init(num_cpus=2, include_dashboard=True)
    browser.get("http://" + context.dashboard_url)
    wait = WebDriverWait(browser, PAGE_WAIT_S)

    pids = set(context.worker_pids)
    wait.until(lambda b: set(worker_rows(b)) == pids)
    assert count(browser, "finished") == 0

    release = tmp_path / "release"

    @fastray.remote
    def held(marker: str, release: str) -> str:
        open(marker, "w").close()
        wait_for_file(release)
        return marker

    marker = str(tmp_path / "started")
    blocked = held.remote(marker, str(release))
    wait_for_file(marker)
    wait.until(lambda b: "busy" in worker_rows(b).values() and count(b, "running") == 1)
    assert browser.find_element(By.CSS_SELECTOR, "#workers tbody").text.count("held") == 1

    quick = fastray.remote(lambda i: i)
    assert fastray.get([quick.remote(i) for i in range(200)]) == list(range(200))
    wait.until(lambda b: count(b, "finished") == 200)
    assert count(browser, "running") == 1

    release.touch()
    assert fastray.get(blocked) == marker
    wait.until(lambda b: count(b, "finished") == 201 and count(b, "running") == 0)
    wait.until(lambda b: set(worker_rows(b).values()) == {"idle"})
    assert browser.find_element(By.ID, "no-errors").is_displayed()

    with pytest.raises(ValueError):
        fastray.get(fastray.remote(max_retries=0)(fails).remote(7))
    wait.until(lambda b: count(b, "failed") == 1)
    wait.until(lambda b: "ValueError: bad 7" in b.find_element(By.ID, "errors").text)
    assert not browser.find_element(By.ID, "no-errors").is_displayed()

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000


def test_the_page_says_when_the_program_has_ended(browser):
    context = fastray.init(num_cpus=1, include_dashboard=True)
    browser.get("http://" + context.dashboard_url)
    wait = WebDriverWait(browser, PAGE_WAIT_S)
    wait.until(lambda b: b.find_element(By.ID, "updated").text.startswith("updated"))
    fastray.shutdown()
    wait.until(lambda b: "not reachable" in b.find_element(By.ID, "updated").text)


def test_without_the_token_the_browser_gets_403(browser):
    context = fastray.init(num_cpus=1, include_dashboard=True)
    browser.get("http://" + context.dashboard_url.split("?")[0])
    assert "forbidden" in browser.find_element(By.TAG_NAME, "body").text
    assert "Workers" not in browser.page_source


def actor_rows(browser) -> dict[str, list[str]]:
    """class -> the cells of its row in the page's actor table."""
    return {row[0]: row for row in table(browser, "#actors")}


def test_the_page_lists_actors_and_how_they_died(browser):
    context = fastray.init(num_cpus=2, include_dashboard=True)
    browser.get("http://" + context.dashboard_url)
    wait = WebDriverWait(browser, PAGE_WAIT_S)
    wait.until(lambda b: b.find_element(By.ID, "no-actors").is_displayed())

    @fastray.remote
    class Keeper:
        def pid(self):
            return os.getpid()

    keeper = Keeper.options(name="keeper").remote()
    pid = fastray.get(keeper.pid.remote())
    wait.until(lambda b: actor_rows(b).get("Keeper", [])[:4] == ["Keeper", "keeper", str(pid),
                                                                  "alive"])
    assert not browser.find_element(By.ID, "no-actors").is_displayed()
    fastray.kill(keeper)
    wait.until(lambda b: actor_rows(b)["Keeper"][3] == "dead")
    assert "killed by kill()" in actor_rows(browser)["Keeper"][-1]
    assert browser.find_element(By.ID, "actor-states").text == "1 dead"
