"""Whether this process is the only one using its SQLite database right now, decided by the kernel.

While it is, nobody else can change a session, so the per-call check of a cached session against the
database (`SessionStore.stamp`, a thread hop and a read on every call) can be skipped. Two POSIX
record locks on a file next to the database say so, and the kernel drops a dead process's locks
(even after `kill -9`), so no timeout or heartbeat is trusted:

- byte 1, *presence*: every process read-locks it when it opens the database and keeps the lock.
- byte 0, *use*: every process holds a lock on it before it reads or writes anything: a write lock
  when it is alone ("sole"), a read lock otherwise.

A process is sole only while it holds the write lock on byte 0, so no other process is past opening
the database. A newcomer read-locks byte 1, then waits for a read lock on byte 0. The sole process
checks byte 1 every `PROBE_SECONDS` (a write lock on it fails while anyone else holds its read
lock), stops being sole, and only then steps down to a read lock on byte 0, which lets the newcomer
in. A process that is not sole tries to become sole at each probe; when it does, `generation`
changes, because what it cached while others could write may be stale.

POSIX locks belong to a process, and closing any descriptor of the file drops them all, so one
`SoleUse` per database file serves every `Database` a process opens on it (`for_database`); while
more than one is open, none is sole (each has its own caches).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger("concierge.store")

PROBE_SECONDS = 0.25
USE, PRESENCE = 0, 1


_OPEN: dict[Path, SoleUse] = {}


class SoleUse:
    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".users")
        self.held = False
        self.generation = 0
        self.users = 0  # `Database` objects of this process open on the file
        self._fd: int | None = None
        self._probe: asyncio.Task[None] | None = None

    @classmethod
    async def for_database(cls, database: Path) -> SoleUse:
        """This process's one `SoleUse` of `database`, started; `release()` it when the database closes."""
        key = _absolute(database)
        found = _OPEN.get(key)
        if found is None:
            found = _OPEN[key] = cls(key)
            try:
                await found._start()
            except BaseException:
                del _OPEN[key]
                raise
        else:
            found._step_down()
        found.users += 1
        return found

    async def release(self) -> None:
        self.users -= 1
        if self.users > 0:
            return
        _OPEN.pop(self.database, None)
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        self.held = False
        if self._fd is not None:
            os.close(self._fd)  # releases both locks
            self._fd = None

    async def _start(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        await asyncio.to_thread(_lock, self._fd, fcntl.LOCK_SH, PRESENCE)
        if not self._try_sole():
            # Another process uses the database: wait (off the loop) until a sole one has stepped down.
            await asyncio.to_thread(_lock, self._fd, fcntl.LOCK_SH, USE)
        self._probe = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                self.probe()
            except OSError:  # the locks still hold as they were; the next probe tries again
                log.warning("checking for other processes on %s failed", self.path, exc_info=True)

    def probe(self) -> None:
        """Steps down when another process arrived; becomes sole when every other one has gone."""
        assert self._fd is not None
        if self.held:
            if _try_lock(self._fd, fcntl.LOCK_EX, PRESENCE):  # (a second `Database` here stepped down at open)
                _lock(self._fd, fcntl.LOCK_SH, PRESENCE)
                return
            self._step_down()
            log.info("another user opened the database: sessions are checked against it on every call")
        elif self._try_sole():
            log.info("this process is the database's only user again")

    def _step_down(self) -> None:
        if self.held:
            assert self._fd is not None
            self.held = False  # first: from now on every call checks the database; then the newcomer gets in
            _lock(self._fd, fcntl.LOCK_SH, USE)

    def _try_sole(self) -> bool:
        assert self._fd is not None
        if self.users > 1 or not _try_lock(self._fd, fcntl.LOCK_EX, USE):
            return False
        if not _try_lock(self._fd, fcntl.LOCK_EX, PRESENCE):  # someone is arriving: let them in
            _lock(self._fd, fcntl.LOCK_SH, USE)
            return False
        _lock(self._fd, fcntl.LOCK_SH, PRESENCE)
        self.generation += 1
        self.held = True
        return True


def _absolute(path: Path) -> Path:
    """One key per file, however a caller spelled its path (no disk access: cwd is in memory)."""
    return path.absolute()


def _lock(fd: int, kind: int, byte: int) -> None:
    """POSIX record locks (`lockf`): per process, changed in place (a read lock becomes a write lock
    or back atomically), released by the kernel when the process dies."""
    fcntl.lockf(fd, kind, 1, byte)


def _try_lock(fd: int, kind: int, byte: int) -> bool:
    try:
        fcntl.lockf(fd, kind | fcntl.LOCK_NB, 1, byte)
    except (BlockingIOError, PermissionError):
        return False  # a conflicting lock is held; this process's own lock on that byte is unchanged
    return True
