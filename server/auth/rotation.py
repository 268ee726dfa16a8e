"""Key rotation: re-encrypt every stored secret under the first configured key, in one transaction.

Procedure (docs/auth.md): generate a key, configure `encryption_key = "NEW,OLD"`, restart, run
`concierge keys rotate`, then drop OLD from the config.
"""

from __future__ import annotations

from server.auth.crypto import SecretBox
from server.store.interfaces import Store

CANARY_KEY = "encryption_canary"
# server-wide secrets kept sealed in server_meta: the MCP session-token secret, the web pages' CSRF secret
SEALED_META_KEYS = (CANARY_KEY, "mcp_token_secret_sealed", "web_csrf_secret_sealed")


async def rotate_all(store: Store, box: SecretBox) -> int:
    return await store.reencrypt(box.rotate, meta_keys=SEALED_META_KEYS)
