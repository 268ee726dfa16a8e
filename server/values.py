"""Value types every layer shares: a session as the services see it, what a local tool handler
receives, and the lifecycle states of a connected account.

Bottom layer: imports nothing from the rest of the server at run time, so toolkits, the store and
the services can all depend on it without pulling each other in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from server.sessions.options import SessionOptions


class AccountStatus(StrEnum):
    """A connected account's state; the value is what the API shows and the database stores."""

    INITIATED = "INITIATED"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"

    @property
    def final(self) -> bool:
        """No transition leaves this state; a new connection is a new account."""
        return self in FINAL_ACCOUNT_STATES


FINAL_ACCOUNT_STATES = frozenset({AccountStatus.FAILED, AccountStatus.EXPIRED, AccountStatus.REVOKED})


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user_id: str
    options: SessionOptions
    config_version: int
    created_at: float
    updated_at: float
    allowed: frozenset[str]

    def config(self) -> dict[str, Any]:
        return self.options.stored()


@dataclass(frozen=True, slots=True)
class ToolContext:
    """Per-call context for `python:` handlers: `handler(arguments, ctx)`.

    `settings` is the `[toolkit_settings.<slug>]` table from the config (limits, paths), so a
    toolkit's knobs live with the operator's config rather than in code.
    """

    session_id: str
    user_id: str
    data_dir: Path
    http: httpx.AsyncClient
    settings: Mapping[str, Any] = field(default_factory=dict)
