"""Takes docs/dashboard.png, the README's picture of the dashboard during the
tour: ``python docs/dashboard_picture.py`` (needs the test extra and Debian's
chromium and chromium-driver).  It runs ``python -m fastray tour``, opens the
URL the tour prints in headless chromium, and shoots the page while the
tour's tree reduction (cell 40) runs, when the timeline holds both sums."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

PICTURE = Path(__file__).with_name("dashboard.png")
SHOT_CELL = "In [40]:"
SECONDS_INTO_CELL = 2.5


def main() -> None:
    tour = subprocess.Popen([sys.executable, "-m", "fastray", "tour"], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert tour.stdout is not None
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1280,1000"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        for line in tour.stdout:
            if line.startswith("Dashboard url: "):
                browser.get(line.split(": ", 1)[1].strip())
            elif line.strip() == SHOT_CELL:
                time.sleep(SECONDS_INTO_CELL)
                browser.save_screenshot(str(PICTURE))
                print(f"wrote {PICTURE}")
                break
        for _ in tour.stdout:
            pass
    finally:
        browser.quit()
        tour.wait()


if __name__ == "__main__":
    main()
