"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key the operator owns.

The key comes from `encryption_key` (several comma-separated keys = rotation: the first encrypts,
all decrypt) or from `<data_dir>/secret.key`, created with 0600 permissions on first start. A canary
value in the database proves at start that the key matches the data, so a wrong key stops the server
instead of silently writing secrets nobody can read.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from server.errors import StorageError

KEY_FILE = "secret.key"
CANARY = "concierge-canary"


def fingerprint(value: str) -> str:
    """SHA-256 hex of a capability (admin key, link token, OAuth state): what we store instead of it."""
    return hashlib.sha256(value.encode()).hexdigest()


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError):
            raise StorageError(
                "encryption_key (CONCIERGE_ENCRYPTION_KEY) is not a valid Fernet key (32 url-safe base64 bytes); "
                "generate one with `concierge keys generate`"
            ) from None

    @classmethod
    def from_settings(cls, configured: str | None, data_dir: Path) -> SecretBox:
        if configured:
            return cls([k.strip().encode() for k in configured.split(",") if k.strip()])
        path = data_dir / KEY_FILE
        if not path.exists():
            key = Fernet.generate_key()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
        return cls([path.read_bytes().strip()])

    def seal(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, blob: bytes) -> Any:
        try:
            return json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise StorageError("a stored secret cannot be decrypted with the configured encryption key") from None

    def rotate(self, blob: bytes) -> bytes:
        try:
            return self._fernet.rotate(blob)
        except InvalidToken:
            raise StorageError(
                "a stored secret cannot be decrypted with any configured key; nothing was "
                're-encrypted (give the old key too: encryption_key = "NEW,OLD")'
            ) from None

    def check_canary(self, stored: str | None) -> str | None:
        """Verifies the key against the stored canary; returns a new canary to store on first start."""
        if stored is None:
            return self.seal(CANARY).decode()
        try:
            ok = self.open(stored.encode()) == CANARY
        except StorageError:
            ok = False
        if not ok:
            raise StorageError(
                "the encryption key does not match this database (wrong CONCIERGE_ENCRYPTION_KEY "
                "or secret.key?); refusing to start so no secret is lost or corrupted"
            )
        return None
