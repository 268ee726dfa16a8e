"""This process as one replica on the shared database: an id, the address others reach it at, and a
heartbeat, so the others can tell when it died and take over what it ran."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
from pathlib import Path

from server.config import ReplicaConfig
from server.store.interfaces import ReplicaStore
from server.store.records import now

log = logging.getLogger("concierge.replicas")


def replica_id(advertise_url: str | None, data_dir: Path) -> str:
    """Stable across restarts (its address, else this host and data folder), so a restarted replica keeps
    the workbench claims it made, whose folders it still has."""
    place = advertise_url or f"{socket.gethostname()}:{data_dir.resolve()}"
    return "rep_" + hashlib.sha256(place.encode()).hexdigest()[:16]


class Replica:
    def __init__(self, store: ReplicaStore, config: ReplicaConfig, data_dir: Path) -> None:
        self.store = store
        self.url = config.advertise_url.rstrip("/") if config.advertise_url else None
        self.id = replica_id(self.url, data_dir)
        self.secret = config.secret.get_secret_value() if config.secret else None
        self.heartbeat_seconds = config.heartbeat_seconds
        self.dead_after_seconds = config.dead_after_seconds
        self._beating: asyncio.Task[None] | None = None

    def alive(self, heartbeat_at: float | None) -> bool:
        return heartbeat_at is not None and now() - heartbeat_at < self.dead_after_seconds

    async def start(self) -> None:
        await self.store.heartbeat(self.id, self.url)
        self._beating = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.store.heartbeat(self.id, self.url)
            except Exception:  # a missed beat is survivable; the next one may get through
                log.warning("replica %s: recording the heartbeat failed", self.id, exc_info=True)

    async def stop(self) -> None:
        """A clean stop: the row goes at once, so the others need not wait out `dead_after_seconds`."""
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
        await self.store.remove(self.id)
