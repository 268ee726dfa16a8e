"""The workbench across replicas: a session's workbench runs on one replica, its owner (recorded in the
store); a call reaching any other replica is forwarded to the owner over HTTP. A dead owner (silent for
`replica.dead_after_seconds`, or refusing connections) is taken over by the replica the next call
reaches, and that call's result says the earlier workbench state was lost."""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from server import errors
from server.errors import ConciergeError, Conflict
from server.replicas.replica import Replica
from server.store.interfaces import ReplicaStore
from server.store.records import WorkbenchOwner
from server.workbench import BashRun, PythonRun, RunError, WorkbenchManager, WorkbenchSettings
from server.workbench.files import Scan

log = logging.getLogger("concierge.replicas")
T = TypeVar("T")

FORWARD_PATH = "/internal/v1/workbench"
FORWARD_MARGIN_SECONDS = 30.0  # beyond a run's own time limit: the owner's scans and the network
FILE_OP_SECONDS = 120.0


class OwnerUnreachable(Exception):
    """The owner's address refused the connection: its process is gone."""


def lost_notice(owner: WorkbenchOwner, dead_after: float) -> str:
    why = "stopped" if owner.heartbeat_at is None else f"stopped answering (no heartbeat for {dead_after:g} s)"
    return (
        f"This session's workbench ran on another server replica ({owner.replica_id}), which {why}; it was "
        "started again on this replica, so the previous workbench state was lost: earlier variables are gone "
        "and files written there may be missing."
    )


def _with_notice(run: T, notice: str | None) -> T:
    if notice is None:
        return run
    earlier = getattr(run, "notice", None)
    return dataclasses.replace(run, notice=f"{notice} {earlier}" if earlier else notice)  # type: ignore[type-var]


def python_run(data: dict[str, Any]) -> PythonRun:
    data = dict(data)
    data["result"] = data.pop("results")
    error = data.pop("error")
    return PythonRun(**data, error=RunError(**error) if error else None)


def scan_to_wire(scan: Scan) -> dict[str, Any]:
    return {
        "files": scan.files,
        "dirs": sorted(scan.dirs),
        "bytes_used": scan.bytes_used,
        "complete": scan.complete,
        "others": scan.others,
    }


def scan_from_wire(data: dict[str, Any]) -> Scan:
    files = {path: (int(sig[0]), int(sig[1])) for path, sig in data["files"].items()}
    return Scan(files, frozenset(data["dirs"]), data["bytes_used"], data["complete"], data.get("others", 0))


def error_from_wire(status: int, body: Any) -> ConciergeError:
    """The owner's error as the same kind here, so the caller's answer is what the owner would give."""
    problem = body.get("error") if isinstance(body, dict) else None
    if not isinstance(problem, dict):
        return ConciergeError(f"the workbench's replica answered HTTP {status} without an error body")
    kind = getattr(errors, str(problem.get("kind")), None)
    cls = kind if isinstance(kind, type) and issubclass(kind, ConciergeError) else ConciergeError
    return cls(str(problem.get("message")), problem.get("details") or {})


class RoutedWorkbench:
    """Any replica's view of every session's workbench; `local` runs the ones this replica owns."""

    def __init__(self, local: WorkbenchManager, replica: Replica, store: ReplicaStore) -> None:
        self.local = local
        self.replica = replica
        self.store = store
        self._http = httpx.AsyncClient(trust_env=False, follow_redirects=False)

    @property
    def settings(self) -> WorkbenchSettings:
        return self.local.settings

    @property
    def isolation(self) -> str:
        return self.local.isolation

    @property
    def running(self) -> int:
        """On this replica only (the console and /metrics of each replica count their own)."""
        return self.local.running

    async def run_python(self, session_id: str, code: str, timeout_seconds: float | None = None) -> PythonRun:
        run, notice = await self._call(
            session_id,
            lambda: self.local.run_python(session_id, code, timeout_seconds),
            "run_python",
            {"code": code, "timeout_seconds": timeout_seconds},
            python_run,
            self._run_seconds(timeout_seconds),
        )
        return _with_notice(run, notice)

    async def run_bash(self, session_id: str, command: str, timeout_seconds: float | None = None) -> BashRun:
        run, notice = await self._call(
            session_id,
            lambda: self.local.run_bash(session_id, command, timeout_seconds),
            "run_bash",
            {"command": command, "timeout_seconds": timeout_seconds},
            lambda data: BashRun(**data),
            self._run_seconds(timeout_seconds),
        )
        return _with_notice(run, notice)

    async def write_file(self, session_id: str, relpath: str, data: bytes) -> object:
        wire = {"path": relpath, "data": base64.b64encode(data).decode()}
        written, _ = await self._call(
            session_id, lambda: self.local.write_file(session_id, relpath, data), "write_file", wire, str
        )
        return written

    async def read_file(self, session_id: str, relpath: str) -> bytes:
        data, _ = await self._call(
            session_id,
            lambda: self.local.read_file(session_id, relpath),
            "read_file",
            {"path": relpath},
            base64.b64decode,
        )
        return data

    async def list_files(self, session_id: str) -> Scan:
        scan, _ = await self._call(
            session_id, lambda: self.local.list_files(session_id), "list_files", {}, scan_from_wire
        )
        return scan

    async def stop(self, session_id: str) -> None:
        owner = await self.store.workbench_owner(session_id)
        if owner is None or owner.replica_id == self.replica.id:
            await self.local.stop(session_id)
        elif self.replica.alive(owner.heartbeat_at) and owner.url:
            await self._forward(owner.url, "stop", session_id, {}, FILE_OP_SECONDS)

    async def discard(self, session_id: str) -> None:
        """Wherever the workbench lives: its process is killed and its folder removed there; the claim goes."""
        owner = await self.store.workbench_owner(session_id)
        if owner is not None and owner.replica_id != self.replica.id:
            if not owner.url:
                log.warning(
                    "session %s deleted; its workbench's replica %s has no replica.advertise_url to reach "
                    "it: its process and folder stay there",
                    session_id,
                    owner.replica_id,
                )
            else:
                try:
                    await self._forward(owner.url, "discard", session_id, {}, FILE_OP_SECONDS)
                except OwnerUnreachable:
                    log.warning("session %s deleted; its workbench's replica %s is gone", session_id, owner.replica_id)
        await self.local.discard(session_id)
        await self.store.release_workbench(session_id)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.local.aclose()

    def _run_seconds(self, timeout_seconds: float | None) -> float:
        limit = min(timeout_seconds or self.settings.default_timeout_seconds, self.settings.max_timeout_seconds)
        return limit + FORWARD_MARGIN_SECONDS

    async def _call(
        self,
        session_id: str,
        here: Callable[[], Awaitable[Any]],
        op: str,
        wire_args: dict[str, Any],
        decode: Callable[[Any], T],
        seconds: float = FILE_OP_SECONDS,
    ) -> tuple[T, str | None]:
        """Runs the call on the owner (here or forwarded); returns its result and a takeover notice."""
        for _ in range(4):
            owner = await self.store.workbench_owner(session_id)
            if owner is None:
                if await self.store.claim_workbench(session_id, self.replica.id, None):
                    return await here(), None
                continue
            if owner.replica_id == self.replica.id:
                return await here(), None
            if self.replica.alive(owner.heartbeat_at):
                if not owner.url:
                    raise ConciergeError(
                        f"this session's workbench runs on replica {owner.replica_id}, which has no "
                        "replica.advertise_url: set it (and replica.secret) on every replica"
                    )
                try:
                    return decode(await self._forward(owner.url, op, session_id, wire_args, seconds)), None
                except OwnerUnreachable:
                    log.warning("replica %s refuses connections; taking over session %s", owner.replica_id, session_id)
                except _NotOwner:
                    continue
            if await self.store.claim_workbench(session_id, self.replica.id, owner.replica_id):
                return await here(), lost_notice(owner, self.replica.dead_after_seconds)
        raise Conflict("the workbench of this session is moving between server replicas; retry")

    async def _forward(self, url: str, op: str, session_id: str, args: dict[str, Any], seconds: float) -> Any:
        try:
            response = await self._http.post(
                url + FORWARD_PATH,
                json={"op": op, "session_id": session_id, "args": args},
                headers={"Authorization": f"Bearer {self.replica.secret or ''}"},
                timeout=httpx.Timeout(seconds, connect=5.0),
            )
        except httpx.ConnectError as exc:
            raise OwnerUnreachable(str(exc)) from None
        except httpx.HTTPError as exc:
            raise ConciergeError(f"forwarding the workbench call to its replica failed: {exc!r}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict) and "result" in body:
            return body["result"]
        if response.status_code == 409 and isinstance(body, dict) and body.get("error", {}).get("kind") == "NotOwner":
            raise _NotOwner
        raise error_from_wire(response.status_code, body)


class _NotOwner(Exception):
    """The replica forwarded to no longer owns the workbench (it was taken over): route again."""
