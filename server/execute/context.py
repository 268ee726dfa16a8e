"""What a local tool handler receives besides its arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


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
