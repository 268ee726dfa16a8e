"""The endpoint another replica forwards a workbench call to (`RoutedWorkbench`). Not part of the
public API: it answers only callers holding `replica.secret`, and only for workbenches this replica owns."""

from __future__ import annotations

import base64
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from server.errors import ConciergeError, Conflict, Forbidden, InvalidInput
from server.replicas.workbench import RoutedWorkbench, scan_to_wire


def _error(exc: ConciergeError, kind: str | None = None) -> JSONResponse:
    body = {"error": {"kind": kind or type(exc).__name__, "message": exc.message, "details": exc.details}}
    return JSONResponse(body, status_code=exc.http_status)


async def _run(workbench: RoutedWorkbench, op: str, session_id: str, args: dict[str, Any]) -> Any:
    local = workbench.local
    if op == "run_python":
        return (await local.run_python(session_id, args["code"], args.get("timeout_seconds"))).to_dict()
    if op == "run_bash":
        return (await local.run_bash(session_id, args["command"], args.get("timeout_seconds"))).to_dict()
    if op == "write_file":
        return str(await local.write_file(session_id, args["path"], base64.b64decode(args["data"])))
    if op == "read_file":
        return base64.b64encode(await local.read_file(session_id, args["path"])).decode()
    if op == "list_files":
        return scan_to_wire(await local.list_files(session_id))
    if op == "stop":
        await local.stop(session_id)
        return None
    if op == "discard":
        await local.discard(session_id)
        return None
    raise InvalidInput(f"unknown workbench operation {op!r}")


OPERATIONS = frozenset({"run_python", "run_bash", "write_file", "read_file", "list_files", "stop", "discard"})


async def workbench_call(request: Request) -> JSONResponse:
    runtime = request.app.state.api.runtime
    workbench = runtime.workbench
    replica = runtime.replica
    secret = replica.secret if replica is not None else None
    given = request.headers.get("authorization", "").removeprefix("Bearer ")
    if not secret or not isinstance(workbench, RoutedWorkbench) or not hmac.compare_digest(given, secret):
        return _error(Forbidden("internal endpoint: forwarded workbench calls need this replica's replica.secret"))
    try:
        body = await request.json()
        op, session_id, args = body["op"], body["session_id"], body["args"]
        if op not in OPERATIONS or not isinstance(session_id, str) or not isinstance(args, dict):
            raise InvalidInput(f"unknown workbench operation {op!r}, or a malformed call")
        if op not in ("discard", "stop"):
            await runtime.sessions.get(session_id)
            owner = await workbench.store.workbench_owner(session_id)
            if owner is None or owner.replica_id != replica.id:
                return _error(Conflict("this replica no longer owns the session's workbench"), "NotOwner")
        return JSONResponse({"result": await _run(workbench, op, session_id, args)})
    except ConciergeError as exc:
        return _error(exc)
    except (ValueError, KeyError, TypeError) as exc:
        return _error(InvalidInput(f"malformed forwarded workbench call: {exc!r}"))
