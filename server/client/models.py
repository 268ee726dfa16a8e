"""The one result model the client needs that `server/api/schemas.py` does not define.

Everything else (sessions, tool listings, envelopes, accounts, auth configs, Connect Links) is the
server's own model, imported from `server.api.schemas`.
"""

from __future__ import annotations

from typing import Any

from server.api.schemas import EnvelopeOut


class ToolResult(EnvelopeOut):
    """One tool execution: the meta tools' envelope, plus the log id and the structured error
    (`{code, message, details}`, e.g. a Connect Link) when a catalog tool ran or was refused."""

    log_id: str | None = None
    error_details: dict[str, Any] | None = None
