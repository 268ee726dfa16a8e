"""The admin API key: from config, or generated on first start and kept only as a hash."""

from __future__ import annotations

import hmac
import logging
import secrets

from starlette.requests import Request

from server.auth.crypto import fingerprint
from server.errors import Unauthorized
from server.store.interfaces import ServerMetaStore

META_KEY = "admin_key_sha256"
log = logging.getLogger("concierge")


def new_admin_key() -> str:
    return "ck_" + secrets.token_urlsafe(32)


async def ensure_admin_key(
    meta: ServerMetaStore, configured: str | None, *, replace: bool = False
) -> tuple[str, str | None]:
    """Returns (hash to check against, the new plain key if one was just generated).

    A configured key (`api_key`, `CONCIERGE_API_KEY`) becomes the admin key when none is stored yet, but
    replaces a stored one only with `replace` (`serve --reset-admin-key`): an exported variable meant
    for the CLI must not silently change the key every other client uses."""
    stored = await meta.get(META_KEY)
    if configured:
        wanted = fingerprint(configured)
        if stored is None or replace:
            await meta.set(META_KEY, wanted)
            return wanted, None
        if stored != wanted:
            log.warning(
                "the configured api_key (concierge.toml or CONCIERGE_API_KEY) is not the stored admin key, "
                "which stays in force; start with `concierge serve --reset-admin-key` to replace it"
            )
        return stored, None
    if stored and not replace:
        return stored, None
    key = new_admin_key()
    if replace:
        await meta.set(META_KEY, fingerprint(key))
        return fingerprint(key), key
    stored = await meta.set_if_absent(META_KEY, fingerprint(key))
    return stored, key if stored == fingerprint(key) else None  # else a replica starting alongside won


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
