"""Python client for a Concierge server: sessions from code, their tools for model providers, Connect Links.

    from server.client import Concierge
    concierge = Concierge(base_url="http://127.0.0.1:8000", api_key="ck_...")
    session = concierge.create(user_id="user_123", toolkits=["github", "slack"])
    tools = session.tools(provider="openai")
    mcp_url = session.mcp.url

`AsyncConcierge` is the same API with `await`. See docs/python-client.md.
"""

from server.client._async import (
    AsyncAuthConfigs,
    AsyncConcierge,
    AsyncConnectedAccounts,
    AsyncConnectionRequest,
    AsyncSession,
    AsyncSessions,
)
from server.client._sync import AuthConfigs, Concierge, ConnectedAccounts, ConnectionRequest, Session, Sessions
from server.client.errors import (
    AccountNotActiveError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConciergeClientError,
    ConfigurationError,
    ConflictError,
    ConnectionRequiredError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ToolExecutionError,
    WaitTimeoutError,
)
from server.client.models import (
    AccountOut,
    AuthConfigOut,
    ConnectionRequestOut,
    EnvelopeOut,
    SessionOut,
    SessionToolkitOut,
    ToolResult,
)
from server.client.providers import Provider

__all__ = [
    # clients and what they hand out
    "AsyncAuthConfigs",
    "AsyncConcierge",
    "AsyncConnectedAccounts",
    "AsyncConnectionRequest",
    "AsyncSession",
    "AsyncSessions",
    "AuthConfigs",
    "Concierge",
    "ConnectedAccounts",
    "ConnectionRequest",
    "Provider",
    "Session",
    "Sessions",
    # results: the server's own API models, and ToolResult
    "AccountOut",
    "AuthConfigOut",
    "ConnectionRequestOut",
    "EnvelopeOut",
    "SessionOut",
    "SessionToolkitOut",
    "ToolResult",
    # errors
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AccountNotActiveError",
    "AuthenticationError",
    "ConciergeClientError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionRequiredError",
    "InvalidRequestError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServerError",
    "ToolExecutionError",
    "WaitTimeoutError",
]
