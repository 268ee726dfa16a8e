"""The rows every backend stores and returns: plain frozen dataclasses, no driver types.

Services read these; each backend maps them to its own tables (`server/store/sqlite/`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from server.values import AccountStatus


def now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    user_id: str
    config: dict[str, Any]
    config_version: int
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: str
    user_id: str
    toolkit: str
    auth_config_id: str | None
    alias: str | None
    status: AccountStatus
    status_reason: str | None
    is_disabled: int
    scopes: str | None
    credential: bytes | None
    credential_preview: str | None
    expires_at: float | None
    created_at: float
    updated_at: float

    def public(self) -> dict[str, Any]:
        """Every field but the encrypted credential."""
        data = asdict(self)
        data.pop("credential")
        return data


@dataclass(frozen=True, slots=True)
class LinkRow:
    token_hash: str
    token: bytes
    account_id: str
    session_id: str | None
    callback_url: str | None
    state_hash: str | None
    pkce_verifier: bytes | None
    expires_at: float
    opened_at: float | None
    used_at: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class AuthConfigRow:
    id: str
    toolkit: str
    name: str
    auth_scheme: str
    type: str
    status: str
    credentials: bytes | None
    scopes: str | None
    authorize_params: str | None
    restrict_to_tools: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    id: str
    session_id: str
    user_id: str
    tool_slug: str
    toolkit: str
    account_id: str | None
    arguments_digest: str
    status: str
    error: str | None
    started_at: float
    duration_ms: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def settled(self, status: str, error: str | None, duration_ms: float) -> ExecutionRow:
        """This call's outcome row, built directly: `dataclasses.replace` inspects the fields on every call."""
        return ExecutionRow(
            self.id,
            self.session_id,
            self.user_id,
            self.tool_slug,
            self.toolkit,
            self.account_id,
            self.arguments_digest,
            status,
            error,
            self.started_at,
            duration_ms,
            self.source,
        )


@dataclass(frozen=True, slots=True)
class McpClientRow:
    mcp_session_id: str
    session_id: str
    client_name: str | None
    client_version: str | None
    protocol_version: str | None
    first_seen: float
    last_seen: float
    terminated_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class UpstreamRow:
    name: str
    definition: dict[str, Any] | None  # None: declared in the config file
    tools: list[dict[str, Any]] | None  # the upstream's `tools/list` answer, as JSON
    tools_refreshed_at: float | None
    oauth: dict[str, Any] | None = None  # its authorization server's endpoints, once discovered
    oauth_client: bytes | None = None  # the client registered there (encrypted)
    secrets: bytes | None = None  # the definition's `headers` and `env` (encrypted)


@dataclass(frozen=True, slots=True)
class SessionStamp:
    """What a replica checks on every call to trust its cached copy of a session: the stored
    config_version and, when the call carries one, its MCP client id's binding and state."""

    config_version: int
    client_session_id: str | None  # the session the client id was minted for; None: unknown id
    client_terminated: bool


@dataclass(frozen=True, slots=True)
class WorkbenchOwner:
    """The replica running a session's workbench, and whether it still beats."""

    session_id: str
    replica_id: str
    url: str | None  # the owner's advertised address; None when it has none or its row is gone
    heartbeat_at: float | None  # None: the owner stopped cleanly (its replica row is gone)
    since: float


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """Which sessions a listing shows; `toolkit` matches sessions whose config names it (in
    `toolkits.enable` or as a key of `tools`); the created range is [created_from, created_to)."""

    user_id: str | None = None
    toolkit: str | None = None
    created_from: float | None = None
    created_to: float | None = None


@dataclass(frozen=True, slots=True)
class PageKey:
    """Keyset position: the sort time and id of the last row of the previous page (newest first)."""

    at: float
    id: str


@dataclass(frozen=True, slots=True)
class AccountListing:
    """An account for an operator's list, with when its token was last refreshed (None: never)."""

    account: AccountRow
    last_refreshed_at: float | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit entry: `source` "account" (a connected account's lifecycle) or "console" (what an
    operator did in the admin console: logins, logouts, revokes)."""

    source: str
    id: int
    at: float
    event: str
    actor: str
    target: str | None
    user_id: str | None
    toolkit: str | None
    detail: str | None

    def key(self) -> AuditKey:
        return AuditKey(self.at, self.source, self.id)


@dataclass(frozen=True, slots=True)
class AuditKey:
    """Keyset position in the merged audit list (newest first)."""

    at: float
    source: str
    id: int
