"""The seam between the executor and connected accounts: who supplies a credential for a call.

The executor only knows this Protocol; `auth/` implements it (token refresh, account selection).
Without auth, toolkits that declare `none` run and the others say a connection is required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from server.catalog.model import Toolkit
from server.errors import ConnectionRequired
from server.values import Session


@dataclass(frozen=True, slots=True)
class Credential:
    """What an HTTP tool needs to authenticate: headers and query parameters to add.

    `account_id` goes to the execution log; the secret values never leave the executor.
    """

    account_id: str | None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    query: dict[str, str] = field(default_factory=dict, repr=False)
    fields: dict[str, str] = field(default_factory=dict, repr=False)
    access_token: str | None = field(default=None, repr=False)
    base_url: str | None = None  # the auth scheme's own API base (Jira: cloud id vs. site), else the toolkit's


class CredentialProvider(Protocol):
    async def credential_for(self, session: Session, toolkit: Toolkit, account: str | None) -> Credential: ...

    async def after_unauthorized(self, session: Session, toolkit: Toolkit, credential: Credential) -> Credential | None:
        """Called once when the provider answered 401: a refreshed credential to retry with, or None."""
        ...


class NoAuthProvider:
    async def credential_for(self, session: Session, toolkit: Toolkit, account: str | None) -> Credential:
        if toolkit.needs_auth:
            raise ConnectionRequired(
                f"toolkit {toolkit.slug} needs a connected account; connections are not configured on this server",
                {"toolkit": toolkit.slug},
            )
        return Credential(account_id=None)

    async def after_unauthorized(self, session: Session, toolkit: Toolkit, credential: Credential) -> Credential | None:
        return None
