"""One exception type per failure kind, mapped once to HTTP, JSON-RPC and tool-result errors.

Every layer raises these; `api/` turns them into `{"error": {...}}` responses, `mcp_app` into
JSON-RPC errors or `is_error` tool results. Messages are written for the person or agent that
has to fix the problem, and never contain secrets.
"""

from __future__ import annotations

from typing import Any


class ConciergeError(Exception):
    """Base of every error we raise on purpose."""

    code = "internal_error"
    http_status = 500
    jsonrpc_code = -32603

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(ConciergeError):
    code = "invalid_input"
    http_status = 400
    jsonrpc_code = -32602


class Unauthorized(ConciergeError):
    code = "unauthorized"
    http_status = 401
    jsonrpc_code = -32001


class Forbidden(ConciergeError):
    code = "forbidden"
    http_status = 403
    jsonrpc_code = -32003


class NotFound(ConciergeError):
    code = "not_found"
    http_status = 404
    jsonrpc_code = -32004


class Conflict(ConciergeError):
    code = "conflict"
    http_status = 409
    jsonrpc_code = -32009


class PayloadTooLarge(ConciergeError):
    code = "payload_too_large"
    http_status = 413
    jsonrpc_code = -32600


class ToolNotAllowed(ConciergeError):
    """The tool exists but the session's filter does not allow it."""

    code = "tool_not_allowed"
    http_status = 403
    jsonrpc_code = -32003


class ConnectionRequired(ConciergeError):
    """The toolkit needs a connected account the user does not have (details carry the Connect Link)."""

    code = "connection_required"
    http_status = 409
    jsonrpc_code = -32010


class ToolError(ConciergeError):
    """A tool ran and failed in a way the caller can act on (bad date, HTTP 404 upstream, ...)."""

    code = "tool_error"
    http_status = 422
    jsonrpc_code = -32011


class UpstreamError(ConciergeError):
    """A third-party API failed (5xx, timeout, rate limit)."""

    code = "upstream_error"
    http_status = 502
    jsonrpc_code = -32012


class ConfigError(ConciergeError):
    """Bad configuration or toolkit definition; stops start-up with one clear line."""

    code = "config_error"


class StorageError(ConciergeError):
    """The database cannot be used as it is (newer schema, wrong encryption key)."""

    code = "storage_error"
