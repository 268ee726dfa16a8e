"""The admin console in Debian's headless Chromium, used as a person would: log in with the admin key,
search for a tool, revoke an account (after which the account's sessions can no longer use it), every
page checked with axe-core and photographed at desktop and phone widths into docs/screenshots/."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import Browser
from tests.console_fixtures import KEY, connect_key, run_keyed
from tests.live import API_KEY, LiveServer


def _arrive(browser: Browser, path_and_query: str) -> None:
    """Waits until a click's navigation has landed on this URL (the next page is loaded)."""
    WebDriverWait(browser.driver, 30).until(expected_conditions.url_contains(path_and_query))
    WebDriverWait(browser.driver, 30).until(
        lambda driver: driver.execute_script("return document.readyState") == "complete"
    )


def _check(browser: Browser, name: str) -> None:
    """A console page: no secret in it, zero serious/critical axe findings, photographed."""
    html = browser.html
    assert API_KEY not in html and KEY not in html, browser.url
    browser.assert_accessible()
    browser.screenshot(f"console-{name}")


def test_console_in_a_real_browser(browser: Browser, console_server: LiveServer) -> None:
    session = console_server.create_session(user_id="browser-user", toolkits=["keyed", "math"])
    account = connect_key(console_server, session)
    run_keyed(console_server, session)
    console_server.api("POST", f"/sessions/{session['id']}/tools/COMPOSIO_MULTI_EXECUTE_TOOL",
                       json={"arguments": {"tools": [{"tool_slug": "MATH_EVALUATE",
                                                      "arguments": {"expression": "1/0"}}]}})
    base = console_server.url

    browser.open(f"{base}/admin/accounts")
    assert "/admin/login" in browser.url, "a page without a login leads to the login form"
    _check(browser, "login")
    browser.fill("Admin key", "ck_not_the_key")
    browser.click("Log in")
    WebDriverWait(browser.driver, 30).until(lambda d: "That is not the admin key" in browser.text)
    # keyboard only: type the key and press Enter in the field
    browser.fill("Admin key", API_KEY)
    browser.find("#admin_key").send_keys(Keys.ENTER)
    _arrive(browser, "/admin/accounts")
    assert browser.url.endswith("/admin/accounts"), "back where the person wanted to go"
    assert account in browser.text and "ACTIVE" in browser.text
    _check(browser, "accounts")

    browser.open(f"{base}/admin/tools")
    browser.fill("Search tools", "which api key does the service receive")
    browser.click("Search")
    _arrive(browser, "q=which")
    first = browser.find("ol.results li code").text
    assert first == "KEYED_WHOAMI", browser.text
    _check(browser, "tools")

    browser.open(f"{base}/admin/sessions")
    browser.fill("User id", "browser-user")
    browser.click("Filter")
    _arrive(browser, "user_id=browser-user")
    links = [a.text for a in browser.find_all("td a code")]
    assert links == [session["id"]]
    _check(browser, "sessions")
    browser.driver.find_element(By.LINK_TEXT, session["id"]).click()
    _arrive(browser, f"/admin/sessions/{session['id']}")
    assert "KEYED_WHOAMI" in browser.text and "MATH_EVALUATE" in browser.text and "error" in browser.text
    _check(browser, "session")

    browser.open(f"{base}/admin")
    assert "Workbench processes" in browser.text and "Upstream connections" in browser.text
    _check(browser, "overview")
    browser.open(f"{base}/admin/auth-configs")
    assert "keyed" in browser.text
    _check(browser, "auth-configs")

    # revoke from the console: the session's next tool call fails with the revoked-account error
    assert run_keyed(console_server, session)["successful"]
    browser.open(f"{base}/admin/accounts?user_id=browser-user")
    browser.find("body").send_keys(Keys.TAB)  # keyboard only: the first stop is the skip link
    assert browser.driver.switch_to.active_element.text == "Skip to main content"
    browser.find(f"form[action='/admin/accounts/{account}/revoke'] button").send_keys(Keys.ENTER)
    _arrive(browser, "revoked=")
    assert f"Account {account} is revoked" in browser.text and "REVOKED" in browser.text
    failed = run_keyed(console_server, session)
    assert not failed["successful"] and failed["error_details"]["code"] == "connection_required"
    assert f"{account} was revoked" in failed["error"]

    browser.open(f"{base}/admin/audit")
    assert "console.revoke" in browser.text and "console.login_failed" in browser.text
    _check(browser, "audit")

    # dark mode (the shared stylesheet's colours): still zero serious/critical findings
    browser.driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    )
    try:
        browser.open(f"{base}/admin/accounts?user_id=browser-user")
        _check(browser, "accounts-dark")
    finally:
        browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    browser.click("Log out")
    _arrive(browser, "/admin/login")
    browser.open(f"{base}/admin/audit")
    assert "/admin/login" in browser.url, "logged out for real"
