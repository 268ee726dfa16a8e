"""CSRF protection for every HTML form: a signed double-submit token.

The browser gets a random id in a cookie (`concierge_csrf`, HttpOnly, SameSite=Lax, Secure on
HTTPS); each form carries `csrf_token` = issue time + HMAC(server secret, purpose | browser id |
time). A POST is accepted only if the cookie is present and the token matches it, is younger than
`max_age` and was issued for the same `purpose` (e.g. `connect:<link>` or `admin:<login>`), so a token
from one page or browser cannot be replayed on another, and another site cannot forge one.

API:
    csrf = Csrf(secret, secure=False)
    issued = csrf.issue(request, purpose)   # issued.token -> the hidden field `csrf_token`
    csrf.attach(response, issued)            # sets the cookie when the browser had none
    csrf.check(request, submitted, purpose)  # raises CsrfRefused; changes nothing
The signing secret is random, kept encrypted in the database (`load_secret`), shared by replicas.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from server.errors import ConciergeError

COOKIE = "concierge_csrf"
FIELD = "csrf_token"
META_KEY = "web_csrf_secret_sealed"
MAX_AGE_SECONDS = 4 * 3600
_BROWSER_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")


class CsrfRefused(ConciergeError):
    """A form without a valid CSRF token (forged, missing, expired, or cookies blocked)."""

    code = "csrf_refused"
    http_status = 403


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    browser: str
    new_cookie: bool


class Csrf:
    def __init__(self, secret: bytes, *, secure: bool, max_age: int = MAX_AGE_SECONDS) -> None:
        self._secret = secret
        self.secure = secure
        self.max_age = max_age

    def _mac(self, purpose: str, browser: str, issued_at: int) -> str:
        message = f"{purpose}|{browser}|{issued_at}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    @staticmethod
    def _browser(request: Request) -> str | None:
        value = request.cookies.get(COOKIE, "")
        return value if _BROWSER_ID.match(value) else None

    def issue(self, request: Request, purpose: str = "") -> Issued:
        known = self._browser(request)
        browser = known or secrets.token_urlsafe(24)
        issued_at = int(time.time())
        return Issued(f"{issued_at}.{self._mac(purpose, browser, issued_at)}", browser, known is None)

    def attach(self, response: Response, issued: Issued) -> None:
        if issued.new_cookie:
            response.set_cookie(COOKIE, issued.browser, httponly=True, samesite="lax", secure=self.secure, path="/")

    def check(self, request: Request, submitted: str | None, purpose: str = "") -> None:
        browser = self._browser(request)
        if browser is None:
            raise CsrfRefused(
                "This form came without its security cookie. Allow cookies for this site, reload the page "
                "and try again.",
                {"reason": "no_cookie"},
            )
        stamp, _, mac = (submitted or "").partition(".")
        expected = self._mac(purpose, browser, int(stamp)) if stamp.isdigit() else ""
        if not expected or not hmac.compare_digest(mac.encode(), expected.encode()):
            raise CsrfRefused(
                "This form did not come from this page (its security token is missing or wrong). Reload the "
                "page and try again.",
                {"reason": "token"},
            )
        if time.time() - int(stamp) > self.max_age:
            raise CsrfRefused("This form is too old. Reload the page and try again.", {"reason": "expired"})
