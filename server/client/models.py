"""The REST answers the client reads, as its own pydantic models: the client imports no server code, so
it installs and loads without the server's dependencies. `tests/test_layering.py` checks each model
against the server's `server/api/schemas.py` field by field, so the two cannot drift.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class McpInfo(BaseModel):
    type: str = "http"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)


class McpClientOut(BaseModel):
    mcp_session_id: str
    client_name: str | None
    client_version: str | None
    protocol_version: str | None
    first_seen: float
    last_seen: float
    terminated_at: float | None


class SessionOut(BaseModel):
    id: str
    session_id: str
    user_id: str
    config: dict[str, Any]
    config_version: int
    created_at: float
    updated_at: float
    mcp: McpInfo
    tools: list[str]
    allowed_tool_count: int
    warnings: list[str] = Field(default_factory=list)
    clients: list[McpClientOut] = Field(default_factory=list)


class SessionListOut(BaseModel):
    items: list[SessionOut]


class ToolListingOut(BaseModel):
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any]


class ToolListingsOut(BaseModel):
    items: list[ToolListingOut]


class EnvelopeOut(BaseModel):
    data: Any
    error: str | None
    successful: bool


class AccountOut(BaseModel):
    id: str
    user_id: str
    toolkit: dict[str, Any]
    auth_config: dict[str, Any]
    auth_config_id: str | None
    alias: str | None
    status: str
    status_reason: str | None
    is_disabled: bool
    scopes: list[str] | None
    credential_preview: str | None
    expires_at: float | None
    created_at: float
    updated_at: float


class AccountListOut(BaseModel):
    items: list[AccountOut]


class RevokeOut(BaseModel):
    account: AccountOut
    warning: str | None = None


class AuthConfigOut(BaseModel):
    id: str
    toolkit: str
    name: str
    auth_scheme: str
    type: str
    status: str
    is_managed: bool
    is_default: bool
    app_source: str | None
    is_disabled: bool
    scopes: list[str] | None
    authorize_params: dict[str, str]
    restrict_to_following_tools: list[str] | None
    has_app_credentials: bool
    created_at: float
    updated_at: float


class AuthConfigListOut(BaseModel):
    items: list[AuthConfigOut]


class ConnectionRequestOut(BaseModel):
    id: str
    connected_account_id: str
    redirect_url: str
    expires_at: float
    status: str


class SessionToolkitOut(BaseModel):
    slug: str
    name: str
    is_no_auth: bool
    connection: dict[str, Any] | None


class SessionToolkitListOut(BaseModel):
    items: list[SessionToolkitOut]


class ToolResult(EnvelopeOut):
    """One tool execution: the meta tools' envelope, plus the log id and the structured error
    (`{code, message, details}`, e.g. a Connect Link) when a catalog tool ran or was refused."""

    log_id: str | None = None
    error_details: dict[str, Any] | None = None
