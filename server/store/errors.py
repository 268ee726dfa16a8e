"""Storage-neutral failures every backend raises instead of its driver's exceptions.

They subclass the API's error kinds, so a service that has nothing better to say can let them
through and they map to the right HTTP / JSON-RPC answer; services that know more catch and say it.
"""

from __future__ import annotations

from server.errors import Conflict, NotFound


class AlreadyExists(Conflict):
    """A unique key is taken (an id, an alias of a live account, a state hash)."""


class ReferenceMissing(NotFound):
    """A write refers to a row that is gone (typically deleted concurrently)."""


class VersionConflict(Conflict):
    """A compare-and-set lost: the row changed since it was read."""

    @classmethod
    def of_session(cls, session_id: str, current: int, expected: int) -> VersionConflict:
        return cls(
            f"session {session_id} changed concurrently: config_version is {current}, "
            f"expected {expected}; reload it and retry",
            {"config_version": current, "expected_config_version": expected},
        )


class LockTimeout(Conflict):
    """A store-wide lock stayed held by another holder (maybe another replica) past the wait allowed."""
