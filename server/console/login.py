"""Who may use the console: a login with the admin key opens a server-side login (its cookie holds a
random token; the database keeps only the token's hash, so logout ends it everywhere), and every form
of a login carries a CSRF token (`server/web/csrf.py`) issued for that login alone.

The login cookie is `HttpOnly`, `SameSite=Strict`, scoped to `/admin`, and `Secure` whenever the console
is reached over HTTPS (the request's scheme, which uvicorn takes from `X-Forwarded-Proto` of a trusted
proxy, or a `public_url` starting with https://).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from server.auth.crypto import fingerprint
from server.errors import RateLimited
from server.limits.ratelimit import RateLimiter
from server.store.interfaces import ConsoleLoginStore
from server.store.records import now

LOGIN_COOKIE = "concierge_console"
COOKIE_PATH = "/admin"
LOGIN_SECONDS = 8 * 3600
LOGIN_PURPOSE = "admin:login"  # the CSRF purpose of the login form
# failed tries per client address: 10 at once, then one every 5 s; guessing a 256-bit key is hopeless
# anyway, this keeps a script from flooding the audit list
LOGIN_RATE = 0.2
LOGIN_BURST = 10
KEPT_BLOCKS = 10_000


def key_matches(presented: str, expected_hash: str) -> bool:
    """Constant-time comparison of the presented key's hash with the stored admin key hash."""
    return hmac.compare_digest(fingerprint(presented), expected_hash)


def is_https(request: Request, public_url: str | None) -> bool:
    return request.url.scheme == "https" or bool(public_url and public_url.startswith("https://"))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Login:
    """A valid console login, known by its token's hash."""

    token_hash: str

    @property
    def csrf_purpose(self) -> str:
        """Forms of this login carry tokens for this purpose only: a token from another login never fits."""
        return f"admin:{self.token_hash}"


class ConsoleAuth:
    def __init__(self, store: ConsoleLoginStore, admin_key_hash: str, public_url: str | None) -> None:
        self.store = store
        self.admin_key_hash = admin_key_hash
        self.public_url = public_url
        self.failures = RateLimiter(LOGIN_RATE, LOGIN_BURST, "client address")
        self._blocked: dict[str, float] = {}

    def blocked_for(self, address: str) -> float:
        """Seconds until `address` may try again after too many failed logins (0: it may now)."""
        left = self._blocked.get(address, 0.0) - time.monotonic()
        if left <= 0:
            self._blocked.pop(address, None)
        return max(left, 0.0)

    def failed(self, address: str) -> None:
        """Counts a failed login; past the burst, the address is refused until a token is back."""
        try:
            self.failures.take(address)
        except RateLimited as exc:
            if len(self._blocked) > KEPT_BLOCKS:
                self._blocked = {a: t for a, t in self._blocked.items() if t > time.monotonic()}
            self._blocked[address] = time.monotonic() + float(exc.details["retry_after_seconds"])

    async def current(self, request: Request) -> Login | None:
        token = request.cookies.get(LOGIN_COOKIE)
        if not token or len(token) > 128:
            return None
        token_hash = self._stored(token)
        if not await self.store.alive(token_hash, now()):
            return None
        return Login(token_hash)

    async def open(self, response: Response, request: Request) -> None:
        token = secrets.token_urlsafe(32)
        await self.store.open(self._stored(token), now() + LOGIN_SECONDS)
        self._set(response, request, LOGIN_COOKIE, token, LOGIN_SECONDS)

    async def close(self, response: Response, request: Request, login: Login) -> None:
        await self.store.close(login.token_hash)
        self._forget(response, request, LOGIN_COOKIE)

    def _stored(self, token: str) -> str:
        """What the database keeps for a login: bound to the admin key, so a reset key ends every login."""
        return fingerprint(f"{self.admin_key_hash}:{token}")

    def secure(self, request: Request) -> bool:
        return is_https(request, self.public_url)

    def _set(self, response: Response, request: Request, name: str, value: str, seconds: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=seconds,
            path=COOKIE_PATH,
            secure=self.secure(request),
            httponly=True,
            samesite="strict",
        )

    def _forget(self, response: Response, request: Request, name: str) -> None:
        response.delete_cookie(name, path=COOKIE_PATH, secure=self.secure(request), httponly=True, samesite="strict")
