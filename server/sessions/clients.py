"""MCP clients of each session: the `Mcp-Session-Id`s minted at initialize, bound to one session.

Recorded in the store (so they survive a restart and every replica sees them). Each call checks its id
in the same read that checks the session (`SessionStore.stamp`), so an id ended through one replica is
refused by the others at once; memory only keeps `last_seen` to one write a minute per client.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from server.store.interfaces import McpClientStore
from server.store.records import McpClientRow, SessionStamp

TOUCH_EVERY_SECONDS = 60
KNOWN_CLIENTS = 10_000  # an evicted one costs one early `last_seen` write


class McpClients:
    def __init__(self, store: McpClientStore) -> None:
        self.store = store
        self._known: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def register(
        self, client_id: str, session_id: str, name: str | None, version: str | None, protocol_version: str | None
    ) -> None:
        """`NotFound` (store `ReferenceMissing`) when the session was deleted meanwhile."""
        await self.store.register(client_id, session_id, name, version, protocol_version)
        self._remember(client_id, session_id)

    async def verify(self, client_id: str, session_id: str, stamp: SessionStamp) -> bool:
        """Whether this id was minted for this session and not ended, as `stamp` (read just now) says."""
        if stamp.client_session_id != session_id or stamp.client_terminated:
            self._known.pop(client_id, None)
            return False
        if not self.known_live(client_id, session_id):  # new here, or its `last_seen` is due
            self._remember(client_id, session_id)
            await self.store.touch(client_id, time.time())
        return True

    def known_live(self, client_id: str, session_id: str) -> bool:
        """Whether memory alone can say this id is a live client of this session (it was registered or
        verified here and its `last_seen` is recent), which holds while no other process can end it."""
        known = self._known.get(client_id)
        return known is not None and known[0] == session_id and time.monotonic() - known[1] <= TOUCH_EVERY_SECONDS

    def forget_all(self) -> None:
        self._known.clear()

    async def terminate(self, client_id: str) -> None:
        await self.store.terminate(client_id)
        self._known.pop(client_id, None)

    async def of_session(self, session_id: str) -> list[McpClientRow]:
        return await self.store.list_by_session(session_id)

    def forget_session(self, session_id: str) -> None:
        """The session was deleted (its rows go with it): drop its ids from memory too."""
        for client_id in [c for c, (s, _) in self._known.items() if s == session_id]:
            del self._known[client_id]

    def _remember(self, client_id: str, session_id: str) -> None:
        self._known[client_id] = (session_id, time.monotonic())
        self._known.move_to_end(client_id)
        while len(self._known) > KNOWN_CLIENTS:
            self._known.popitem(last=False)
