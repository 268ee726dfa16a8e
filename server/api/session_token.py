"""Optional bearer tokens for MCP URLs (`mcp_session_tokens = true`): for deployments where the URL
itself may leak (logs, screenshots, a shared config). The token is an HMAC of the session id under a
server secret kept encrypted in the database, so there is nothing per session to store or lose, and
deleting the session still revokes both URL and token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from server.auth.crypto import SecretBox
from server.store.interfaces import ServerMetaStore

META_KEY = "mcp_token_secret_sealed"


async def load_secret(meta: ServerMetaStore, box: SecretBox, key: str = META_KEY) -> bytes:
    """The server secret stored (encrypted) under `key`; made on first use."""
    sealed = await meta.get(key)
    if sealed:
        return bytes.fromhex(box.open(sealed.encode()))
    stored = await meta.set_if_absent(key, box.seal(secrets.token_bytes(32).hex()).decode())
    return bytes.fromhex(box.open(stored.encode()))  # another replica's, if it started first


def token_for(secret: bytes, session_id: str) -> str:
    digest = hmac.new(secret, session_id.encode(), hashlib.sha256).digest()
    return "mt_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def presented(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def valid(secret: bytes, session_id: str, authorization: str | None) -> bool:
    given = presented(authorization)
    return given is not None and hmac.compare_digest(given.encode(), token_for(secret, session_id).encode())
