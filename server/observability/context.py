"""The request being served, as context variables: every log line written while serving it carries its
request id and session id without passing them through every call."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
session_id: ContextVar[str | None] = ContextVar("session_id", default=None)

_SESSION_IN_PATH = re.compile(r"^/(?:mcp/|s/|api/v1/sessions/)(sess_[A-Za-z0-9_-]{1,64})")
_GOOD_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_request_id(offered: str | None) -> str:
    """The caller's `X-Request-Id` when it is a plain token (it lands in logs), else a fresh one."""
    if offered and _GOOD_REQUEST_ID.match(offered):
        return offered
    return "req_" + secrets.token_hex(8)


def session_in_path(path: str) -> str | None:
    match = _SESSION_IN_PATH.match(path)
    return match.group(1) if match else None
