"""The admin API key: from config, or generated on first start and kept only as a hash."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

from server.auth.crypto import fingerprint
from server.errors import Unauthorized
from server.store.interfaces import ServerMetaStore

META_KEY = "admin_key_sha256"


async def ensure_admin_key(meta: ServerMetaStore, configured: str | None) -> tuple[str, str | None]:
    """Returns (hash to check against, the new plain key if one was just generated)."""
    if configured:
        return fingerprint(configured), None
    stored = await meta.get(META_KEY)
    if stored:
        return stored, None
    key = "ck_" + secrets.token_urlsafe(32)
    await meta.set(META_KEY, fingerprint(key))
    return fingerprint(key), key


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def check(request: Request, expected_hash: str) -> None:
    key = presented_key(request)
    if not key:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`")
    if not hmac.compare_digest(fingerprint(key), expected_hash):
        raise Unauthorized("invalid API key")
