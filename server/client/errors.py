"""Exceptions the Python client raises, one type per thing a caller would handle differently.

Server errors arrive as `{"error": {"code", "message", "details"}}`; the `code` picks the class (the
codes are `server.errors`' codes, checked by `tests/test_layering.py`), the HTTP status is the fallback
for answers that did not come from Concierge itself (a proxy's 404 or 502).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.client.models import AccountOut


class ConciergeClientError(Exception):
    """Base of everything the client raises."""


class ConfigurationError(ConciergeClientError, ValueError):
    """The client cannot be built as asked (no API key, no base URL)."""


class APIConnectionError(ConciergeClientError):
    """The server could not be reached, even after the retries."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within the client's timeout."""


class APIError(ConciergeClientError):
    """The server refused or failed a request; `code`, `message` and `details` are the server's own.

    `status_code` is the HTTP status, or None when the error came inside a meta tool's
    `{data, error, successful}` envelope (HTTP 200).
    """

    def __init__(
        self, message: str, *, code: str, status_code: int | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequestError(APIError):
    """Bad arguments or options (400, 413); `details` says which field and often the right spelling."""


class AuthenticationError(APIError):
    """Missing or wrong admin API key (401)."""


class PermissionDeniedError(APIError):
    """Not allowed (403), e.g. a tool outside the session's filter."""


class NotFoundError(APIError):
    """Unknown session, account, tool or toolkit (404)."""


class ConflictError(APIError):
    """A concurrent change won (409), e.g. `expected_config_version` no longer matches."""


class ConnectionRequiredError(ConflictError):
    """The toolkit needs a connected account the user lacks; `details` carries the Connect Link."""


class ToolExecutionError(APIError):
    """A tool ran and failed in a way the caller can act on (422)."""


class ServerError(APIError):
    """The server or an upstream API failed (5xx)."""


class AccountNotActiveError(ConciergeClientError):
    """`wait_for_connection` saw the account reach a final state other than ACTIVE."""

    def __init__(self, account: AccountOut) -> None:
        reason = f" ({account.status_reason})" if account.status_reason else ""
        super().__init__(f"connected account {account.id} ended as {account.status}{reason}")
        self.account = account


class WaitTimeoutError(ConciergeClientError, TimeoutError):
    """`wait_for_connection` gave up while the account was still pending; the link may still be used."""

    def __init__(self, account: AccountOut, timeout: float) -> None:
        super().__init__(f"connected account {account.id} still {account.status} after {timeout:g} s")
        self.account = account


_BY_CODE: dict[str, type[APIError]] = {
    "invalid_input": InvalidRequestError,
    "payload_too_large": InvalidRequestError,
    "unauthorized": AuthenticationError,
    "forbidden": PermissionDeniedError,
    "tool_not_allowed": PermissionDeniedError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "connection_required": ConnectionRequiredError,
    "tool_error": ToolExecutionError,
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    422: ToolExecutionError,
}


def error_for(
    code: str, message: str, details: dict[str, Any] | None = None, status_code: int | None = None
) -> APIError:
    """The exception for a server error, by its code first and its HTTP status second."""
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status_code or 0)
    if cls is None:
        cls = ServerError if status_code is None or status_code >= 500 else APIError
    return cls(message, code=code, status_code=status_code, details=details)
