"""Settings a backend takes besides its URL."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PoolSettings:
    """Bounds of a client-server backend's connection pool (PostgreSQL); SQLite ignores them."""

    min_size: int = 1
    max_size: int = 10
    acquire_timeout_seconds: float = 30.0  # waiting for a free connection, then StorageError
    connect_timeout_seconds: float = 10.0
