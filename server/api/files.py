"""Workbench files over REST: the host app uploads inputs and downloads outputs of a session."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.api.endpoint import ApiState
from server.api.schemas import FileListOut, FileOut
from server.errors import Forbidden, PayloadTooLarge
from server.workbench import Workbench


def _manager(state: ApiState) -> Workbench:
    if state.runtime.workbench is None:
        raise Forbidden(
            "the workbench is off on this server (workbench.enable = false, or no sandbox can run "
            "on this host: see the server's start-up log)"
        )
    return state.runtime.workbench


async def list_files(request: Request, state: ApiState) -> FileListOut:
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    scan = await _manager(state).list_files(session.id)
    return FileListOut(items=[FileOut(path=p, size=size) for p, (size, _) in sorted(scan.files.items())])


async def get_file(request: Request, state: ApiState) -> Response:
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    data = await _manager(state).read_file(session.id, request.path_params["path"])
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )


async def put_file(request: Request, state: ApiState) -> FileOut:
    session = await state.runtime.sessions.get(request.path_params["session_id"])
    manager = _manager(state)
    limit = manager.settings.max_file_mb * 1024 * 1024
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"file is larger than workbench.max_file_mb ({manager.settings.max_file_mb} MB)")
        chunks.append(chunk)
    path = request.path_params["path"]
    await manager.write_file(session.id, path, b"".join(chunks))
    return FileOut(path=path, size=size)
