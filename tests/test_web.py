"""The shared web foundation: CSRF tokens, security headers, the packaged stylesheet and templates."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse

from server.web.csrf import COOKIE, Csrf, CsrfRefused
from server.web.headers import content_security_policy
from tests.live import LiveServer

SECRET = b"k" * 32


def request_with(cookie: str | None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "method": "POST", "headers": headers, "path": "/", "query_string": b""})


def browser_cookie(csrf: Csrf) -> tuple[str, str]:
    issued = csrf.issue(request_with(None), "connect:a")
    response = HTMLResponse("")
    csrf.attach(response, issued)
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    return issued.browser, issued.token


def test_csrf_token_round_trip_and_every_way_it_is_refused() -> None:
    csrf = Csrf(SECRET, secure=False)
    browser, token = browser_cookie(csrf)
    csrf.check(request_with(browser), token, "connect:a")  # the page's own form: accepted
    again = csrf.issue(request_with(browser), "connect:a")
    assert again.browser == browser and not again.new_cookie  # a known browser keeps its cookie
    foreign = Csrf(b"o" * 32, secure=False).issue(request_with(browser), "connect:a").token
    refusals = {
        "no cookie": (None, token, "connect:a"),
        "other browser": ("x" * 32, token, "connect:a"),
        "other purpose": (browser, token, "connect:b"),
        "missing token": (browser, None, "connect:a"),
        "tampered token": (browser, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "connect:a"),
        "not a token": (browser, "garbage", "connect:a"),
        "other server's secret": (browser, foreign, "connect:a"),
    }
    for name, (cookie, submitted, purpose) in refusals.items():
        with pytest.raises(CsrfRefused):
            csrf.check(request_with(cookie), submitted, purpose)
            pytest.fail(name)
    with pytest.raises(CsrfRefused, match="too old"):
        Csrf(SECRET, secure=False, max_age=-1).check(request_with(browser), token, "connect:a")


def test_csrf_cookie_is_secure_over_https() -> None:
    csrf = Csrf(SECRET, secure=True)
    response = HTMLResponse("")
    csrf.attach(response, csrf.issue(request_with(None)))
    assert "secure" in response.headers["set-cookie"].lower()


def test_content_security_policy_is_strict() -> None:
    policy = content_security_policy(["https://github.com/login/oauth/authorize?x=1", "javascript:alert(1)"])
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["default-src"] == "'none'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self' https://github.com"
    assert "script-src" not in directives and "unsafe" not in policy


def test_pages_carry_security_headers_and_the_packaged_stylesheet(server: LiveServer) -> None:
    page = httpx.get(f"{server.url}/connect/not-a-link", timeout=30)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert href and href.group(1).startswith("/static/style.css?v=")
    css = httpx.get(server.url + href.group(1), timeout=30)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "prefers-color-scheme: dark" in css.text and ":focus-visible" in css.text
    assert "url(" not in css.text and "@import" not in css.text, "no external assets"
    assert httpx.get(f"{server.url}/static/../config.py", timeout=30).status_code == 404



def test_key_rotation_re_encrypts_the_server_secrets() -> None:
    from server.api import session_token
    from server.auth.rotation import SEALED_META_KEYS
    from server.web import csrf

    assert {session_token.META_KEY, csrf.META_KEY} <= set(SEALED_META_KEYS)
