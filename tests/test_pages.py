"""Issue 13: the Connect pages over plain HTTP — CSRF refusals, security headers, no secret in any
page, the operator's product name, scopes in plain words, provider errors and "Try again"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from server.api.connect import _failure_words
from server.web.scopes import in_plain_words
from tests.auth_fixtures import ResourceApi, hidden_fields, start_oauth, write_toolkits
from tests.live import LiveServer
from tests.oauth_server import OAuthServer

KEY = "sk_pages_0123456789abcdefghij"


class World:
    def __init__(self, root: Path) -> None:
        self.oauth = OAuthServer().start()
        self.api = ResourceApi(self.oauth.verify).start()
        kits = write_toolkits(root / "kits", self.oauth, self.api.url)
        self.server = LiveServer(
            root / "data",
            toolkit_paths=[kits],
            oauth_apps={
                "acme": {"client_id": self.oauth.client_id, "client_secret": self.oauth.client_secret},
                "github": {"client_id": "Iv1.pages", "client_secret": "github-app-secret-never-shown"},
            },
            pages={"product_name": "Contoso Helper"},
        ).start()
        self.pages: list[httpx.Response] = []  # every HTML page served in these tests

    def close(self) -> None:
        self.server.stop()
        self.api.stop()
        self.oauth.stop()

    def link(self, toolkit: str, user: str = "uma", **body: Any) -> dict[str, Any]:
        session = self.server.create_session(user_id=user, toolkits=[toolkit])
        made = self.server.api("POST", f"/sessions/{session['id']}/authorize", json={"toolkit": toolkit, **body})
        assert made.status_code == 201, made.text
        return made.json()

    def status(self, account_id: str) -> str:
        return self.server.api("GET", f"/connected_accounts/{account_id}").json()["status"]

    def seen(self, response: httpx.Response) -> httpx.Response:
        if response.headers.get("content-type", "").startswith("text/html"):
            self.pages.append(response)
        return response


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("pages"))
    yield w
    secrets = [KEY, w.oauth.client_secret, "github-app-secret-never-shown", *w.oauth.issued]
    assert len(w.pages) >= 10
    for page in w.pages:
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script" not in policy
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        assert "<script" not in page.text and " style=" not in page.text
        for secret in secrets:
            assert secret not in page.text, f"a secret was served in {page.url}"
    w.close()


def test_forged_or_missing_csrf_tokens_are_refused_and_change_nothing(world: World) -> None:
    link, other = world.link("keyed"), world.link("keyed", user="vic")
    url = link["redirect_url"]
    with httpx.Client(timeout=30) as browser, httpx.Client(timeout=30) as stranger:
        strangers = hidden_fields(world.seen(stranger.get(url)).text)["csrf_token"]
        foreign = hidden_fields(world.seen(browser.get(other["redirect_url"])).text)["csrf_token"]
        hidden = hidden_fields(world.seen(browser.get(url)).text)  # the latest page's form state is the live one
        attempts = {
            "missing token": browser.post(url, data={"state": hidden["state"], "api_key": KEY}),
            "forged token": browser.post(url, data={**hidden, "csrf_token": "1700000000.Zm9yZ2Vk", "api_key": KEY}),
            "another link's token": browser.post(url, data={**hidden, "csrf_token": foreign, "api_key": KEY}),
            "another browser's token": browser.post(url, data={**hidden, "csrf_token": strangers, "api_key": KEY}),
            "no cookie": httpx.post(url, data={**hidden, "api_key": KEY}, timeout=30),
        }
        for name, refused in attempts.items():
            world.seen(refused)
            assert refused.status_code == 403, name
            assert "Request refused" in refused.text and "Nothing was changed." in refused.text, name
        assert world.status(link["connected_account_id"]) == "INITIATED"
        done = world.seen(browser.post(url, data={**hidden, "api_key": KEY}))  # the page's own form still works
        assert done.status_code == 200 and "Your Keyed account is connected" in done.text
    assert world.status(link["connected_account_id"]) == "ACTIVE"


def test_the_oauth_continue_button_needs_its_token_too(world: World) -> None:
    link = world.link("acme")
    refused = world.seen(httpx.post(link["redirect_url"], data={}, timeout=30))
    assert refused.status_code == 403
    preview = world.seen(httpx.get(link["redirect_url"], timeout=30))  # e.g. a chat app unfurling the link
    assert preview.status_code == 200, "looking at the page does not use the link up"
    with httpx.Client(timeout=30) as browser:  # the link was not opened: its page still works
        page = world.seen(browser.get(link["redirect_url"]))
        assert page.status_code == 200 and "Continue to Acme" in page.text
        policy = page.headers["content-security-policy"]
        assert f"form-action 'self' {world.oauth.base_url}" in policy  # the button's redirect may go there
        started = browser.post(link["redirect_url"], data=hidden_fields(page.text))
    assert started.status_code == 303 and started.headers["location"].startswith(world.oauth.authorize_url)
    assert world.seen(httpx.get(link["redirect_url"], timeout=30)).status_code == 410  # opened: used


def test_pages_name_the_product_and_the_scopes_in_plain_words(world: World) -> None:
    page = world.seen(httpx.get(world.link("github")["redirect_url"], timeout=30))
    assert page.status_code == 200
    assert "Contoso Helper is asking" in page.text and "Connect your GitHub account" in page.text
    for words in ("Read and change your repositories", "See your profile", "See your email addresses"):
        assert words in page.text
    assert "<strong>github.com</strong>" in page.text and "Iv1.pages" not in page.text
    assert world.seen(httpx.get(world.link("keyed")["redirect_url"], timeout=30)).text.count("Contoso Helper") >= 2
    assert in_plain_words("gmail", "Gmail", ["https://www.googleapis.com/auth/gmail.modify"]) == [
        "Read, send, label and delete your email (not delete forever)"]
    assert in_plain_words("linear", "Linear", ["read", "admin"]) == [
        "Read your Linear workspace: issues, projects, teams and comments", "Access that Linear calls “admin”"]
    assert in_plain_words("acme", "Acme", []) == []


def test_a_form_error_keeps_plain_fields_and_drops_secrets(world: World, tmp_path: Path) -> None:
    link = world.link("keyed")
    with httpx.Client(timeout=30) as browser:
        hidden = hidden_fields(world.seen(browser.get(link["redirect_url"])).text)
        blank = world.seen(browser.post(link["redirect_url"], data={**hidden, "api_key": "   "}))
    assert blank.status_code == 400 and "API key is required" in blank.text
    assert 'aria-invalid="true"' in blank.text and 'name="api_key" type="password"' in blank.text
    assert world.status(link["connected_account_id"]) == "INITIATED"


def test_a_callback_url_is_allowed_by_the_forms_policy_and_gets_the_result(world: World) -> None:
    link = world.link("keyed", callback_url="https://app.example.test/connected?step=2")
    with httpx.Client(timeout=30) as browser:
        page = world.seen(browser.get(link["redirect_url"]))
        assert "form-action 'self' https://app.example.test" in page.headers["content-security-policy"]
        done = browser.post(link["redirect_url"], data={**hidden_fields(page.text), "api_key": KEY})
    assert done.status_code == 303
    assert parse_qs(urlsplit(done.headers["location"]).query)["status"] == ["success"]


def test_provider_error_page_and_try_again(world: World) -> None:
    link = world.link("acme", user="wes")
    world.oauth.deny_next()
    with httpx.Client(timeout=30) as browser:
        step = start_oauth(link["redirect_url"], browser)
        while step.is_redirect:
            step = browser.get(step.headers["location"])
        failed = world.seen(step)
        assert failed.status_code == 400 and "Acme did not connect" in failed.text
        assert "The request was declined at Acme" in failed.text and "<code>access_denied</code>" in failed.text
        retry = hidden_fields(failed.text)
        assert world.seen(browser.post(f"{world.server.url}/connect/retry", data={"state": retry["state"]})
                          ).status_code == 403  # no CSRF token
        again = browser.post(f"{world.server.url}/connect/retry", data=retry)
        assert again.status_code == 303 and again.headers["location"].startswith(f"{world.server.url}/connect/")
        twice = browser.post(f"{world.server.url}/connect/retry", data=retry)
        assert twice.headers["location"] == again.headers["location"], "one pending link, not one per click"
        wrong = world.seen(browser.post(f"{world.server.url}/connect/retry", data={**retry, "state": "made-up"}))
        assert wrong.status_code == 400 and "cannot be restarted" in wrong.text
        page = world.seen(browser.get(again.headers["location"]))
        assert page.status_code == 200 and "Continue to Acme" in page.text
    assert world.status(link["connected_account_id"]) == "FAILED"


def test_failures_in_plain_words() -> None:
    assert _failure_words("Acme", "access_denied: The user said no") == {
        "summary": "The request was declined at Acme, so nothing was connected.", "detail": "The user said no",
        "code": "access_denied"}
    assert _failure_words("Acme", "temporarily_unavailable")["summary"].startswith("Acme is busy")
    github = _failure_words("GitHub", "bad_verification_code: The code passed is incorrect or expired.")
    assert github["summary"] == "GitHub did not complete the connection." and github["code"] == "bad_verification_code"
    assert _failure_words("Acme", None) == {"summary": "Acme did not complete the connection.", "detail": None,
                                            "code": None}


def test_docs_link_every_connect_page_screenshot() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs"
    linked = set(re.findall(r"\(screenshots/(connect-[a-z-]+-\d+\.png)\)", (docs / "console.md").read_text()))
    shot = {p.name for p in (docs / "screenshots").glob("connect-*.png")}
    assert linked and linked == shot, (linked ^ shot)
    assert {n.rsplit("-", 1)[1] for n in shot} == {"1280.png", "390.png"}
