"""REST response models, shared by the server and the Python client so the two cannot drift."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.catalog.toolkit_file import TOOLKIT_SLUG
from server.config import UpstreamConfig


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    error: ErrorBody


class McpInfo(BaseModel):
    type: str = "http"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)


class McpClientOut(BaseModel):
    """A store `McpClientRow` without its session id (tests/test_layering.py keeps the two equal)."""

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
    tools: list[str] = Field(description="tool names an MCP client of this session sees")
    allowed_tool_count: int
    warnings: list[str] = Field(default_factory=list)
    clients: list[McpClientOut] = Field(default_factory=list)


class SessionListOut(BaseModel):
    items: list[SessionOut]


class ToolOut(BaseModel):
    slug: str
    name: str
    toolkit: str
    description: str
    tags: list[str]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    kind: str = Field(description="local or http")


class ToolkitOut(BaseModel):
    slug: str
    name: str
    description: str
    categories: list[str]
    aliases: list[str]
    auth_schemes: list[str]
    is_no_auth: bool
    tool_count: int
    tools: list[str] | None = None


class ToolkitListOut(BaseModel):
    items: list[ToolkitOut]


class ToolListOut(BaseModel):
    items: list[ToolOut]
    total: int


class ToolListingOut(BaseModel):
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any]


class ToolListingsOut(BaseModel):
    items: list[ToolListingOut]


class ExecutionOut(BaseModel):
    """A store `ExecutionRow` (tests/test_layering.py keeps the two equal)."""

    id: str
    session_id: str
    user_id: str
    tool_slug: str
    toolkit: str
    account_id: str | None
    arguments_digest: str
    status: str = Field(
        description="success, error, running (a remote call in progress, or cut off by a crash), or "
        "cancelled (its caller went away)"
    )
    error: str | None
    started_at: float
    duration_ms: float
    source: str


class ExecutionListOut(BaseModel):
    items: list[ExecutionOut]


class ToolCallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arguments: dict[str, Any] = Field(default_factory=dict)


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
    credential_preview: str | None = Field(description="masked, e.g. ghp_…9f3; the secret is never returned")
    expires_at: float | None
    created_at: float
    updated_at: float


class AccountListOut(BaseModel):
    items: list[AccountOut]


class AccountEventOut(BaseModel):
    event: str
    actor: str
    detail: str | None
    at: float


class AccountEventsOut(BaseModel):
    items: list[AccountEventOut]


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
    is_managed: bool = Field(description="always false: Concierge ships no OAuth apps; every app is the operator's")
    is_default: bool = Field(description="made by Concierge for the toolkit (no auth config was chosen)")
    app_source: str | None = Field(
        description="where the OAuth app comes from: oauth_apps_config ([oauth_apps.<slug>] "
        "in the config), auth_config (stored in this config), or null (none: a "
        "token scheme, or no app configured yet)"
    )
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


class FileOut(BaseModel):
    path: str
    size: int


class FileListOut(BaseModel):
    items: list[FileOut]


class UpstreamCreate(UpstreamConfig):
    name: str = Field(
        pattern=TOOLKIT_SLUG,
        description="becomes the toolkit slug (lower-case letters, digits, '_'); tools are NAME_TOOL",
    )


class UpstreamOut(BaseModel):
    name: str
    source: str = Field(description="config (declared in the config file) or api (registered at run time)")
    transport: str
    url: str | None
    command: str | None
    args: list[str]
    auth: str
    tool_count: int
    tools: list[str]
    last_error: str | None
    connections: int
    processes: int


class UpstreamListOut(BaseModel):
    items: list[UpstreamOut]


class UpstreamRefreshOut(BaseModel):
    name: str
    tool_count: int
