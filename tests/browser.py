"""Browser test kit: Debian's headless Chromium driven by Selenium through Debian's chromedriver.

- `browser` fixture: one Chromium per test process (so one per xdist worker), with cookies cleared and
  the desktop size restored before each test.
- `Browser.screenshot(name)` writes `docs/screenshots/<name>-1280.png` and `<name>-390.png` (desktop
  1280x900 and phone 390x844 viewports, the whole page height).
- `Browser.color_scheme("dark")` emulates a dark-mode system; `Browser.keys(...)` types like a keyboard.
- `Browser.assert_accessible()` runs axe-core (npm `axe-core`, installed into `.ci/cache/axe` on first
  use) in the page and fails on any serious or critical violation.

Never downloads a browser or driver: both paths are the system's, and Selenium Manager is disabled
(calling it raises), so a missing package fails loudly instead of fetching something.
"""

from __future__ import annotations

import base64
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common import selenium_manager
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CONCIERGE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CONCIERGE_CHROMEDRIVER", "/usr/bin/chromedriver")
AXE = "axe-core@4.10.3"
ROOT = Path(__file__).resolve().parents[1]
AXE_CACHE = ROOT / ".ci" / "cache" / "axe"
AXE_FILE = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = (1280, 900)
PHONE = (390, 844)
BLOCKING_IMPACTS = ("serious", "critical")


def _no_selenium_manager(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("Selenium Manager must not run: the tests use the system's chromium and chromedriver")


selenium_manager.SeleniumManager.binary_paths = _no_selenium_manager  # type: ignore[method-assign]


def axe_source() -> str:
    """axe-core's browser bundle, installed from npm once (a file lock keeps xdist workers in line)."""
    if not AXE_FILE.exists():
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        with open(AXE_CACHE / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not AXE_FILE.exists():
                npm = shutil.which("npm")
                assert npm, "the accessibility checks need Node.js and npm (apt-get install nodejs npm)"
                subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(AXE_CACHE),
                                AXE], check=True, timeout=300)
    return AXE_FILE.read_text(encoding="utf-8")



def _gone(element: WebElement) -> bool:
    """Whether the page that held `element` has been replaced. Chromium reports a replaced node either as
    a stale reference or as "Node with given id does not belong to the document"."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in (exc.msg or ""):
            return True
        raise
    return False

class Browser:
    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self._axe: str | None = None

    # navigation and reading
    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return self.driver.current_url

    @property
    def html(self) -> str:
        return self.driver.page_source

    @property
    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def fill(self, label: str, value: str) -> None:
        """Types into the input that a visible <label> with this text names (as a person would find it)."""
        target = self.driver.find_element(By.XPATH, f"//label[normalize-space()='{label}']").get_attribute("for")
        field = self.driver.find_element(By.ID, target or "")
        field.clear()
        field.send_keys(value)

    def click(self, text: str) -> None:
        """Clicks the button or link with this visible text, and waits until the next page has loaded."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        target = f"//button[normalize-space()='{text}'] | //a[normalize-space()='{text}']"
        for attempt in range(3):
            try:
                self.driver.find_element(By.XPATH, target).click()
                break
            except WebDriverException as exc:
                # Chromium sometimes loses the element between finding and clicking it ("Node with given
                # id does not belong to the document"); click again only if the page did not change
                if attempt == 2 or _gone(old):
                    raise AssertionError(f"could not click {text!r}: {exc.msg}") from None
        WebDriverWait(self.driver, 30).until(lambda driver: _gone(old))
        WebDriverWait(self.driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete"
        )

    def keys(self, *keys: str) -> None:
        """Sends keystrokes to whatever has focus (Keys.TAB, Keys.ENTER, text), as a keyboard-only user."""
        self.driver.switch_to.active_element.send_keys(*keys)

    def focused(self) -> WebElement:
        return self.driver.switch_to.active_element

    def heading(self) -> str:
        return self.find("h1").text

    def wait_for_heading(self, text: str) -> None:
        WebDriverWait(self.driver, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda driver: any(h.text == text for h in driver.find_elements(By.TAG_NAME, "h1"))
        )

    def reset(self) -> None:
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.color_scheme("light")
        self._viewport(*DESKTOP)

    def color_scheme(self, scheme: str) -> None:
        """Emulates the system's `prefers-color-scheme` (light or dark) for the pages that follow."""
        self.driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
        )

    # screenshots
    def _viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )

    def screenshot(self, name: str) -> list[Path]:
        """The current page at desktop and phone width, full height, into docs/screenshots/
        (`<name>-<width>.png`; name it `...-dark` after `color_scheme("dark")`)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        written = []
        for (width, height), mobile in ((DESKTOP, False), (PHONE, True)):
            self._viewport(width, height, mobile)
            full = self.driver.execute_script("return document.documentElement.scrollHeight")
            self._viewport(width, max(height, int(full)), mobile)
            path = SCREENSHOTS / f"{name}-{width}.png"
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
            path.write_bytes(base64.b64decode(shot["data"]))
            written.append(path)
        self._viewport(*DESKTOP)
        return written

    # accessibility
    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations for the current page (every rule axe runs by default, WCAG 2.x A/AA)."""
        if self._axe is None:
            self._axe = axe_source()
        if not self.driver.execute_script("return !!window.axe"):
            self.driver.execute_script(self._axe)
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));"
        )
        assert isinstance(result, list), f"axe-core failed to run: {result}"
        return result

    def assert_accessible(self) -> None:
        """Zero serious or critical axe violations, checked at desktop and at phone width."""
        for (width, height), mobile in ((DESKTOP, False), (PHONE, True)):
            self._viewport(width, height, mobile)
            bad = [v for v in self.axe() if v.get("impact") in BLOCKING_IMPACTS]
            assert not bad, f"{self.url} at {width}px: " + "; ".join(
                f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad
            )
        self._viewport(*DESKTOP)


def start_chromium(profile: Path) -> webdriver.Chrome:
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        f"the browser tests need Debian's chromium and chromedriver at {CHROMIUM} and {CHROMEDRIVER} "
        "(apt-get install chromium chromium-driver)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                 "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-features=Translate,MediaRouter",
                 "--password-store=basic", "--lang=en-US", f"--user-data-dir={profile}",
                 f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(flag)
    options.page_load_strategy = "normal"
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    return driver


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    with tempfile.TemporaryDirectory(prefix="concierge-chromium-") as profile:
        try:
            driver = start_chromium(Path(profile))
        except WebDriverException as exc:
            raise AssertionError(f"chromium did not start through {CHROMEDRIVER}: {exc.msg}") from None
        try:
            yield driver
        finally:
            driver.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> Browser:
    page = Browser(chromium)
    page.reset()
    return page
