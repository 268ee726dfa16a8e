"""The catalog's inner types: plain frozen dataclasses built once from validated toolkit files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.catalog.toolkit_file import ApiSpec, AuthSchemeFile, ErrorsBlock, HttpBlock, RetryBlock

Handler = Callable[..., Any | Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    slug: str
    name: str
    description: str
    toolkit: str
    tags: tuple[str, ...]
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None = None
    output_description: str = ""
    http: HttpBlock | None = None
    handler: Handler | None = field(default=None, compare=False, repr=False)
    inline: bool = False
    schema_chars: int = 0
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = field(default=None, compare=False, repr=False)
    transform: Callable[[Any], Any] | None = field(default=None, compare=False, repr=False)
    upstream_name: str | None = None  # the tool's own name on an upstream MCP server (server/upstreams/)
    upstream_task: bool = False  # the upstream runs it only as an MCP task (`execution.taskSupport: "required"`)

    @property
    def is_local(self) -> bool:
        return self.handler is not None

    @property
    def parameter_names(self) -> list[str]:
        return list((self.input_schema.get("properties") or {}).keys())


@dataclass(frozen=True, slots=True)
class Toolkit:
    slug: str
    name: str
    description: str
    categories: tuple[str, ...]
    aliases: tuple[str, ...]
    auth_schemes: tuple[AuthSchemeFile, ...]
    base_url: str | None
    tools: Mapping[str, Tool]
    folder: Path | None = None
    default_headers: Mapping[str, str] = field(default_factory=dict)
    errors: ErrorsBlock = field(default_factory=ErrorsBlock)
    retry: RetryBlock = field(default_factory=RetryBlock)
    api_spec: ApiSpec | None = None

    @property
    def needs_auth(self) -> bool:
        return any(s.type != "none" for s in self.auth_schemes)
