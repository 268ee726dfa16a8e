"""Server-side access to a workbench directory that sandboxed code controls.

The sandbox can plant symlinks or swap a directory for one at any moment, so every path is walked
one component at a time from an open directory fd with O_NOFOLLOW, and scans use `os.fwalk`:
the server (often root) never follows a link out of the workbench, whatever the timing.
These functions block; callers run them in the manager's own small thread pool, one at a time per
session, and every walk is bounded by the workbench's limit on entries (`max_files`).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from server.errors import InvalidInput, NotFound

Owner = tuple[int, int] | None
"""uid/gid given to what the server creates in a workbench, so the sandbox user can change it."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def split_relpath(relpath: str) -> list[str]:
    """The components of a workbench-relative path; absolute paths, `..` and NUL are refused."""
    if not relpath or "\x00" in relpath:
        raise InvalidInput("a workbench file path must be a non-empty relative path", {"path": relpath})
    if relpath.startswith("/"):
        raise InvalidInput("a workbench file path must be relative to the workbench", {"path": relpath})
    parts = [part for part in relpath.split("/") if part not in ("", ".")]
    if not parts:
        raise InvalidInput("the path names the workbench itself, not a file", {"path": relpath})
    if ".." in parts:
        raise InvalidInput("'..' is not allowed in a workbench file path", {"path": relpath})
    return parts


@contextmanager
def _folder_fd(base: Path, folders: list[str], *, create: bool, owner: Owner) -> Iterator[int]:
    """An fd for `base/folders...`, refusing symlinks on the way; created when `create`."""
    fd = os.open(base, _DIR_FLAGS)
    try:
        for name in folders:
            if create:
                try:
                    os.mkdir(name, 0o755, dir_fd=fd)
                    if owner is not None:
                        os.chown(name, *owner, dir_fd=fd, follow_symlinks=False)
                except FileExistsError:
                    pass
            try:
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise InvalidInput(f"{name!r} in the path is not a directory", {"folder": name}) from None
                raise
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


def open_file(base: Path, relpath: str) -> int:
    """Open a regular file inside `base` for reading; NotFound or InvalidInput otherwise."""
    *folders, name = split_relpath(relpath)
    try:
        with _folder_fd(base, folders, create=False, owner=None) as folder:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=folder)
    except FileNotFoundError:
        raise NotFound(f"no file {relpath!r} in the workbench", {"path": relpath}) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidInput(f"{relpath!r} is a symlink, not a file", {"path": relpath}) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidInput(f"{relpath!r} is not a regular file", {"path": relpath})
    return fd


def read_file(base: Path, relpath: str) -> bytes:
    with os.fdopen(open_file(base, relpath), "rb") as handle:
        return handle.read()


def write_file(base: Path, relpath: str, data: bytes, owner: Owner, staging: Path) -> Path:
    """Write atomically: a temp file in `staging` (same file system, outside every workbench, so a kill
    mid-write leaves nothing in the workbench or its quota), then a rename, which replaces a planted
    symlink rather than following it."""
    *folders, name = split_relpath(relpath)
    with _folder_fd(base, folders, create=True, owner=owner) as folder:
        staging_fd = os.open(staging, _DIR_FLAGS)
        temp = f"{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=staging_fd
            )
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    if owner is not None:
                        os.fchown(handle.fileno(), *owner)
                os.rename(temp, name, src_dir_fd=staging_fd, dst_dir_fd=folder)
            except IsADirectoryError:
                os.unlink(temp, dir_fd=staging_fd)
                raise InvalidInput(f"{relpath!r} is a directory", {"path": relpath}) from None
            except BaseException:
                os.unlink(temp, dir_fd=staging_fd)
                raise
        finally:
            os.close(staging_fd)
    return base.joinpath(*folders, name)


def remove_file(base: Path, relpath: str) -> None:
    """Delete a file if present (never what a symlink points to)."""
    *folders, name = split_relpath(relpath)
    try:
        with _folder_fd(base, folders, create=False, owner=None) as folder:
            os.unlink(name, dir_fd=folder)
    except (FileNotFoundError, InvalidInput):
        pass


def truncate_file(base: Path, relpath: str, size: int) -> None:
    """Cut a regular file back to `size` bytes (never through a symlink)."""
    *folders, name = split_relpath(relpath)
    with _folder_fd(base, folders, create=False, owner=None) as folder:
        fd = os.open(name, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.ftruncate(fd, size)
        finally:
            os.close(fd)


def undo_growth(base: Path, before: Scan) -> set[str]:
    """Remove what appeared since `before` (files and folders) and cut grown files back; returns the paths touched.

    One walk, deepest folders first, so it also clears a tree too large to have been scanned in full.
    """
    undone: set[str] = set()
    for folder, dirs, names, folder_fd in os.fwalk(base, topdown=False, follow_symlinks=False):
        rel = os.path.relpath(folder, base)
        for name in names:
            path = name if rel == "." else f"{rel}/{name}"
            old = before.files.get(path)
            try:
                if old is None:
                    os.unlink(name, dir_fd=folder_fd)
                elif os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_size > old[0]:
                    truncate_file(base, path, old[0])
                else:
                    continue
            except (OSError, InvalidInput):  # gone or replaced meanwhile: nothing left to undo
                continue
            undone.add(path)
        for name in dirs:
            path = name if rel == "." else f"{rel}/{name}"
            if path not in before.dirs:
                with suppress(OSError):  # not empty: something of before's is in it
                    os.rmdir(name, dir_fd=folder_fd)
                    undone.add(path)
    return undone


def list_names(base: Path, relpath: str) -> list[str]:
    """Names in a workbench folder; empty when it is missing or not a real folder."""
    try:
        with _folder_fd(base, split_relpath(relpath), create=False, owner=None) as folder:
            return os.listdir(folder)
    except (OSError, InvalidInput):
        return []


@dataclass(frozen=True)
class Scan:
    """The files of a workbench (relative path -> size, mtime), its folders and the disk blocks they use.

    `complete` is False when the walk stopped at its limit of entries: then only `bytes_used` (so far)
    and the fact that there are too many entries are known.
    """

    files: dict[str, tuple[int, int]]
    dirs: frozenset[str]
    bytes_used: int
    complete: bool = True
    others: int = 0  # symbolic links, pipes, ...: counted against the limit, never listed (nobody can read them)

    @property
    def entries(self) -> int:
        return len(self.files) + len(self.dirs) + self.others

    def changed_since(self, before: Scan) -> list[str]:
        return sorted(path for path, sig in self.files.items() if before.files.get(path) != sig)


class Stopped(Exception):
    """The server is shutting down: a scan in progress gives up."""


def scan(base: Path, max_entries: int, stop: threading.Event | None = None) -> Scan:
    """Walk the workbench once (linear in its entries), stopping after `max_entries` files and folders."""
    files: dict[str, tuple[int, int]] = {}
    dirs: set[str] = set()
    used = others = 0
    for folder, subdirs, names, folder_fd in os.fwalk(base, follow_symlinks=False):
        if stop is not None and stop.is_set():
            raise Stopped
        rel = os.path.relpath(folder, base)
        prefix = "" if rel == "." else f"{rel}/"
        for is_dir_entry, group in ((True, subdirs), (False, names)):
            for name in group:
                if len(files) + len(dirs) + others >= max_entries:
                    return Scan(files, frozenset(dirs), used, complete=False, others=others)
                try:
                    info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                used += info.st_blocks * 512
                if is_dir_entry:
                    dirs.add(prefix + name)
                elif stat.S_ISREG(info.st_mode):
                    files[prefix + name] = (info.st_size, info.st_mtime_ns)
                elif not stat.S_ISDIR(info.st_mode):
                    others += 1
    return Scan(files, frozenset(dirs), used, others=others)
