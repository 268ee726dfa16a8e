"""Large tool results go to the session's workbench as a file; the agent gets a preview and the path."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from server import jsontext
from server.errors import ConciergeError
from server.execute.executor import Outcome
from server.meta_tools.base import MetaServices
from server.values import Session

SAMPLE_ITEMS = 3
SAMPLE_CHARS = 300


def _short(value: Any) -> Any:
    text = jsontext.dumps(value)
    return value if len(text) <= SAMPLE_CHARS else text[:SAMPLE_CHARS] + "…"


def preview(data: Any) -> dict[str, Any]:
    """Shape, keys and first items: enough for the agent to write the code that processes the file."""
    if isinstance(data, list):
        return {"type": "array", "length": len(data), "first_items": [_short(x) for x in data[:SAMPLE_ITEMS]]}
    if isinstance(data, dict):
        shape: dict[str, Any] = {}
        for key, value in list(data.items())[:50]:
            if isinstance(value, list):
                shape[key] = {
                    "type": "array",
                    "length": len(value),
                    "first_items": [_short(x) for x in value[:SAMPLE_ITEMS]],
                }
            elif isinstance(value, dict):
                shape[key] = {"type": "object", "keys": list(value)[:20]}
            else:
                shape[key] = _short(value)
        return {"type": "object", "keys": list(data)[:50], "fields": shape}
    return {"type": type(data).__name__, "value": _short(data)}


def threshold(services: MetaServices, session: Session) -> int | None:
    if services.workbench is None or not session.options.workbench.enable:
        return None
    return session.options.workbench.auto_offload_threshold or services.limits.auto_offload_threshold


async def offload(
    services: MetaServices, session: Session, outcome: Outcome, force: bool
) -> tuple[Outcome, dict[str, Any] | None]:
    """Returns the outcome to show (a preview when offloaded) and the file info, or the outcome as is.

    A file that cannot be written (the workbench over its quota, `results` taken by a file the agent made)
    leaves the result inline with the reason in the file info: the call has already run, and an error
    here would make an agent run it again."""
    limit = threshold(services, session)
    if limit is None or not outcome.successful:
        return outcome, None
    text = jsontext.dumps(outcome.data)
    if len(text) <= limit and not force:
        return outcome, None
    assert services.workbench is not None
    path = f"results/{outcome.log_id}.json"
    try:
        await services.workbench.write_file(session.id, path, text.encode())
    except ConciergeError as exc:  # the tool has run: its result is shown whole rather than lost
        return outcome, {
            "file_path": None,
            "size_chars": len(text),
            "log_id": outcome.log_id,
            "error": f"not saved to the workbench ({exc.message}); the result is shown inline",
        }
    info = {"file_path": path, "size_chars": len(text), "log_id": outcome.log_id}
    shown = {
        "offloaded_to_workbench": True,
        **info,
        "preview": preview(outcome.data),
        "how_to_use": f"In COMPOSIO_REMOTE_WORKBENCH: data = load_result('{path}') — then filter or "
        "aggregate it in Python instead of reading it all.",
    }
    return replace(outcome, data=shown), info
