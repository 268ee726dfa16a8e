"""Issue 13: the Connect pages, used the way a person uses them, in headless Chromium (Debian's).

A real Concierge, the local OAuth server and a resource API that checks credentials. Each page is
checked with axe-core (zero serious or critical violations, at desktop and phone width) and
photographed into docs/screenshots/. Every page's HTML is kept and searched for secrets at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys

from server.auth import connect_flow
from tests.auth_fixtures import ResourceApi, write_toolkits
from tests.browser import Browser
from tests.live import LiveServer
from tests.oauth_server import OAuthServer

PRODUCT = "Northwind Assistant"
KEY = "sk_live_browser_0123456789abcdef"
PASSWORD = "hunter2-correct-horse-battery"
LEDGER = """
slug: ledger
name: Ledger
description: A test service that signs in with a username and password.
base_url: {api}
auth_schemes:
  - type: basic
    help: "Create an app password at https://ledger.example.test/settings/app-passwords and use it here."
tools:
  - slug: LEDGER_PING
    name: Ping
    description: Check the connection.
    input_schema: {{type: object, properties: {{}}}}
    http: {{method: GET, path: /keyed}}
"""


class World:
    def __init__(self, root: Path) -> None:
        self.oauth = OAuthServer().start()
        self.api = ResourceApi(self.oauth.verify).start()
        kits = write_toolkits(root / "kits", self.oauth, self.api.url)
        (kits / "ledger").mkdir()
        (kits / "ledger" / "toolkit.yaml").write_text(LEDGER.format(api=self.api.url))
        self.server = LiveServer(
            root / "data",
            toolkit_paths=[kits],
            oauth_apps={"acme": {"client_id": self.oauth.client_id, "client_secret": self.oauth.client_secret}},
            pages={"product_name": PRODUCT},
        ).start()
        self.served: list[str] = []  # every page the browser was shown

    def close(self) -> None:
        self.server.stop()
        self.api.stop()
        self.oauth.stop()

    def link(self, toolkit: str, user: str = "pat") -> dict[str, Any]:
        session = self.server.create_session(user_id=user, toolkits=[toolkit])
        made = self.server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": toolkit})
        assert made.status_code == 201, made.text
        return made.json() | {"session_id": session["id"]}

    def account(self, account_id: str) -> dict[str, Any]:
        return self.server.api("GET", f"/connected_accounts/{account_id}").json()

    def run(self, session_id: str, slug: str) -> dict[str, Any]:
        ran = self.server.api("POST", f"/sessions/{session_id}/tools/COMPOSIO_MULTI_EXECUTE_TOOL",
                              json={"arguments": {"tools": [{"tool_slug": slug, "arguments": {}}]}})
        assert ran.status_code == 200, ran.text
        return ran.json()["data"]["results"][0]["response"]

    def look(self, browser: Browser, name: str | None, status_heading: str) -> None:
        """The page shows `status_heading`, passes axe, is kept for the secret check and photographed."""
        assert browser.heading() == status_heading, browser.text
        assert "<script" not in browser.html
        self.served.append(browser.html)
        browser.assert_accessible()
        if name:
            browser.screenshot(name)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("pages"))
    yield w
    secrets = [KEY, PASSWORD, w.oauth.client_secret, *w.oauth.issued]
    for html in w.served:
        for secret in secrets:
            assert secret not in html, "a secret was served in a page"
    w.close()


def test_oauth_connect_by_clicking_through_the_pages(world: World, browser: Browser) -> None:
    link = world.link("acme")
    browser.open(link["redirect_url"])
    world.look(browser, "connect-oauth", "Connect your Acme account")
    assert f"{PRODUCT} is asking" in browser.text and browser.find(".logo").text == "A"
    assert "Access that Acme calls “profile”" in browser.text  # the scope, with the fallback wording
    assert "127.0.0.1" in browser.text and "never sees your password" in browser.text
    browser.click("Continue to Acme")
    world.look(browser, "connect-done", "Your Acme account is connected")
    assert "Your assistant can continue now." in browser.text
    assert world.account(link["connected_account_id"])["status"] == "ACTIVE"
    assert world.run(link["session_id"], "ACME_WHOAMI")["data"]["login"] == "octocat"
    browser.open(link["redirect_url"])  # the link again: used
    world.look(browser, "connect-used", "This link was already used")
    assert "already connected" in browser.text and browser.find(".app .name").text == "Acme"


def test_token_connect_by_clicking_with_a_form_error_first(world: World, browser: Browser) -> None:
    link = world.link("ledger")
    browser.open(link["redirect_url"])
    world.look(browser, "connect-form", "Connect your Ledger account")
    assert "Where do I get this?" in browser.text
    help_link = browser.find("details.help a")
    assert help_link.get_attribute("href") == "https://ledger.example.test/settings/app-passwords"
    browser.fill("Username", "   ")  # blank after trimming: refused by the server, not the browser
    browser.fill("Password", PASSWORD)
    browser.click("Connect Ledger")
    world.look(browser, "connect-form-error", "Connect your Ledger account")
    assert "Username is required" in browser.find("[role=alert]").text
    assert browser.find("#field-password").get_attribute("value") == "", "the secret is not written back"
    assert world.account(link["connected_account_id"])["status"] == "INITIATED"
    browser.fill("Username", "ada")
    browser.fill("Password", PASSWORD)
    browser.click("Connect Ledger")
    world.look(browser, None, "Your Ledger account is connected")
    assert world.account(link["connected_account_id"])["status"] == "ACTIVE"


def test_api_key_connect_with_the_keyboard_only_in_dark_mode(world: World, browser: Browser) -> None:
    link = world.link("keyed")
    browser.color_scheme("dark")
    browser.open(link["redirect_url"])
    world.look(browser, "connect-form-dark", "Connect your Keyed account")
    assert browser.find("body").value_of_css_property("background-color") != "rgba(244, 245, 248, 1)"
    browser.keys(Keys.TAB)
    assert browser.focused().text == "Skip to main content"  # the first stop, visible when focused
    assert browser.focused().value_of_css_property("outline-style") == "solid"
    browser.keys(Keys.ENTER)
    browser.keys(Keys.TAB)
    assert browser.focused().get_attribute("name") == "api_key"
    browser.keys(KEY, Keys.ENTER)  # Enter in the field submits the form
    browser.wait_for_heading("Your Keyed account is connected")
    world.look(browser, "connect-done-dark", "Your Keyed account is connected")
    assert world.run(link["session_id"], "KEYED_WHOAMI")["data"]["key_seen"] == KEY


def test_provider_error_page_then_try_again(world: World, browser: Browser) -> None:
    link = world.link("acme", user="quinn")
    browser.open(link["redirect_url"])
    world.oauth.deny_next()
    browser.click("Continue to Acme")
    world.look(browser, "connect-failed", "Acme did not connect")
    assert "declined" in browser.text and "access_denied" in browser.text
    assert world.account(link["connected_account_id"])["status"] == "FAILED"
    browser.click("Try again")  # a new link for the same connection, on its first page again
    world.look(browser, None, "Connect your Acme account")
    browser.click("Continue to Acme")
    world.look(browser, None, "Your Acme account is connected")
    accounts = world.server.api("GET", "/connected_accounts", params={"user_id": "quinn"}).json()["items"]
    assert sorted(a["status"] for a in accounts) == ["ACTIVE", "FAILED"]


def test_expired_revoked_and_unknown_link_pages(world: World, browser: Browser,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    expired = world.link("keyed", user="rita")
    later = connect_flow.now() + world.server.settings().connect_link_ttl_seconds + 5
    monkeypatch.setattr(connect_flow, "now", lambda: later)
    browser.open(expired["redirect_url"])
    world.look(browser, "connect-expired", "This link has expired")
    assert browser.find(".app .name").text == "Keyed"
    monkeypatch.undo()
    assert world.account(expired["connected_account_id"])["status"] == "EXPIRED"

    revoked = world.link("keyed", user="sam")
    world.server.api("POST", f"/connected_accounts/{revoked['connected_account_id']}/revoke")
    browser.open(revoked["redirect_url"])
    world.look(browser, "connect-revoked", "This connection was revoked")

    browser.open(f"{world.server.url}/connect/not-a-link")
    world.look(browser, "connect-invalid", "This link is not valid")


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(world: World, browser: Browser) -> None:
    link = world.link("keyed", user="tess")
    browser.open(link["redirect_url"])
    browser.driver.execute_script("document.querySelector('input[name=csrf_token]').value = 'forged'")
    browser.fill("API key", KEY)
    browser.click("Connect Keyed")
    world.look(browser, "connect-refused", "Request refused")
    assert "Nothing was changed." in browser.text
    assert world.account(link["connected_account_id"])["status"] == "INITIATED"
    browser.open(link["redirect_url"])  # the link still works from its own page
    browser.fill("API key", KEY)
    browser.click("Connect Keyed")
    world.look(browser, None, "Your Keyed account is connected")
