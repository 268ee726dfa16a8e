"""Key rotation: re-encrypt every stored secret under the first configured key, in one transaction.

Procedure (docs/auth.md): generate a key, configure `encryption_key = "NEW,OLD"`, restart, run
`concierge keys rotate`, then drop OLD from the config.
"""

from __future__ import annotations

from server.auth.crypto import SecretBox
from server.store.db import Database

ENCRYPTED_COLUMNS = (
    ("auth_configs", "id", "credentials"),
    ("connected_accounts", "id", "credential"),
    ("connect_links", "token_hash", "token"),
    ("connect_links", "token_hash", "pkce_verifier"),
)
CANARY_KEY = "encryption_canary"


async def rotate_all(db: Database, box: SecretBox) -> int:
    count = 0
    async with db.transaction() as conn:
        for table, key, column in ENCRYPTED_COLUMNS:
            async with conn.execute(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL") as cur:
                rows = list(await cur.fetchall())
            for row_id, blob in rows:
                await conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (box.rotate(blob), row_id))
                count += 1
        async with conn.execute("SELECT value FROM server_meta WHERE key = ?", (CANARY_KEY,)) as cur:
            canary = await cur.fetchone()
        if canary is not None:
            await conn.execute("UPDATE server_meta SET value = ? WHERE key = ?",
                               (box.rotate(canary[0].encode()).decode(), CANARY_KEY))
    return count
