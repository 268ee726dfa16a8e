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


class Unprocessable(InvalidInput):
    """Well-formed input (it matches the documented schema) that names things this server does not have
    or combines options that cannot go together: HTTP 422 (RFC 9110 §15.5.21), same `invalid_input` code."""

    http_status = 422


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


class AddressInUse(ConciergeError):
    """`concierge serve` cannot bind its port: another program (or Concierge) holds it."""

    code = "address_in_use"


class ServerUnreachable(ConciergeError):
    """A CLI command found no Concierge server at the URL it resolved."""

    code = "server_unreachable"


class StorageError(ConciergeError):
    """The database cannot be used as it is (newer schema, wrong encryption key)."""

    code = "storage_error"


def model_vocabulary(model: type) -> set[str]:
    """Every field name (and alias) of a pydantic model and the models nested in it."""
    from pydantic import BaseModel

    words: set[str] = set()
    stack: list[type] = [model]
    seen: set[type] = set()
    while stack:
        m = stack.pop()
        if m in seen or not (isinstance(m, type) and issubclass(m, BaseModel)):
            continue
        seen.add(m)
        for name, field in m.model_fields.items():
            words.add(name)
            if field.alias:
                words.add(field.alias)
            stack.extend(_nested_models(field.annotation))
    return words


def _nested_models(annotation: Any) -> list[type]:
    from typing import get_args

    out = [annotation] if isinstance(annotation, type) else []
    for arg in get_args(annotation):
        out.extend(_nested_models(arg))
    return out


def describe_validation_error(exc: Exception, vocabulary: set[str], limit: int = 5) -> tuple[str, list[dict[str, Any]]]:
    """Turn a pydantic ValidationError into one readable sentence plus per-field details.

    Misspelt keys get a "did you mean" from `vocabulary` (reference complaint: opaque 400s for
    `enabled` instead of `enable`).
    """
    import difflib

    problems: list[dict[str, Any]] = []
    for err in exc.errors()[:limit]:  # type: ignore[attr-defined]
        loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
        where = ".".join(loc) or "(body)"
        item: dict[str, Any] = {"field": where, "problem": err["msg"]}
        if err["type"] == "extra_forbidden" and loc:
            item["problem"] = f"unknown option {loc[-1]!r}"
            near = difflib.get_close_matches(loc[-1], sorted(vocabulary - {loc[-1]}), n=1, cutoff=0.6)
            if near:
                item["did_you_mean"] = near[0]
                item["problem"] += f"; did you mean {near[0]!r}?"
        problems.append(item)
    message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return message, problems


class AuthFlowError(ConciergeError):
    """An OAuth exchange with a provider failed (bad code, invalid_grant on refresh, provider down)."""

    code = "auth_flow_error"
    http_status = 502
    jsonrpc_code = -32013


class RateLimited(ConciergeError):
    """Too many requests for one API key or session; `details.retry_after_seconds` says when to retry."""

    code = "rate_limited"
    http_status = 429
    jsonrpc_code = -32029
