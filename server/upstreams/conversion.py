"""MCP wire shapes <-> catalog shapes: an upstream's `tools/list` becomes a Toolkit, a `tools/call`
result becomes the data a meta tool returns (or a ToolError)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from server.catalog.model import Tool, Toolkit
from server.catalog.toolkit_file import AuthSchemeFile, OAuth2Fields
from server.config import UpstreamConfig
from server.errors import ToolError
from server.execute.credentials import Credential
from server.jsontext import loads
from server.upstreams.naming import tool_slug

# MCP tool annotations that the session's tag filter understands (`tags: {"disable": ["destructiveHint"]}`)
HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
PERMISSIVE_SCHEMA: Mapping[str, Any] = {"type": "object"}


def _is_bearer(config: UpstreamConfig) -> bool:
    """A stdio upstream takes the bare credential in its environment: asked for as a token."""
    return (
        config.command is not None
        or config.auth.type == "oauth"
        or (config.auth.header == "Authorization" and config.auth.prefix == "Bearer ")
    )


def auth_schemes(config: UpstreamConfig, oauth2: OAuth2Fields | None = None) -> tuple[AuthSchemeFile, ...]:
    auth = config.auth
    if auth.type == "none":
        return (AuthSchemeFile(type="none"),)
    if oauth2 is not None:
        return (AuthSchemeFile(type="oauth2", oauth2=oauth2),)
    if _is_bearer(config):
        return (AuthSchemeFile(type="bearer_token", label=auth.label, help=auth.help or None),)
    return (
        AuthSchemeFile(
            type="api_key",
            api_key_in="header",
            api_key_name=auth.header,
            api_key_prefix=auth.prefix,
            label=auth.label,
            help=auth.help or None,
        ),
    )


def secret_of(config: UpstreamConfig, credential: Credential) -> str | None:
    """The bare credential from the header the account's scheme built (the upstream adds its own prefix)."""
    value = next(iter(credential.headers.values()), None)
    prefix = "Bearer " if _is_bearer(config) else config.auth.prefix
    if value is None:
        return None
    return value[len(prefix) :] if prefix and value.startswith(prefix) else value


def _input_schema(raw: Any) -> Mapping[str, Any]:
    """An upstream's schema is used as given when it is a valid object schema; otherwise any object is
    accepted and the upstream does its own checking (a bad schema must not hide the tool)."""
    if not isinstance(raw, dict) or raw.get("type", "object") != "object":
        return PERMISSIVE_SCHEMA
    try:
        Draft202012Validator.check_schema(raw)
    except SchemaError:
        return PERMISSIVE_SCHEMA
    return {"type": "object", **raw}


def toolkit_from(
    name: str, config: UpstreamConfig, tools: list[dict[str, Any]], oauth2: OAuth2Fields | None = None
) -> Toolkit:
    """`tools` is the upstream's `tools/list` answer in wire form (camelCase), as stored."""
    out: dict[str, Tool] = {}
    for raw in tools:
        tool_name = str(raw.get("name") or "")
        if not tool_name:
            continue
        slug = tool_slug(name, tool_name, set(out))
        annotations = raw.get("annotations") or {}
        hints = tuple(h for h in HINTS if annotations.get(h) is True)
        description = (raw.get("description") or raw.get("title") or annotations.get("title") or tool_name).strip()
        schema = _input_schema(raw.get("inputSchema"))
        execution = raw.get("execution")
        out[slug] = Tool(
            slug=slug,
            name=str(raw.get("title") or annotations.get("title") or tool_name),
            description=description,
            toolkit=name,
            tags=(*hints, "mcp"),
            input_schema=schema,
            output_schema=raw.get("outputSchema") if isinstance(raw.get("outputSchema"), dict) else None,
            schema_chars=len(str(schema)),
            upstream_name=tool_name,
            upstream_task=isinstance(execution, dict) and execution.get("taskSupport") == "required",
        )
    where = config.url or " ".join([config.command or "", *config.args]).strip()
    description = config.description or f"Tools of the MCP server {name!r} ({where})."
    return Toolkit(
        slug=name,
        name=name,
        description=description,
        categories=("mcp",),
        aliases=(),
        auth_schemes=auth_schemes(config, oauth2),
        base_url=None,
        tools=out,
    )


def result_data(upstream: str, tool_name: str, result: Any) -> Any:
    """`result` in wire form (a `tools/call` result as the upstream sent it). Structured content when the
    upstream gives it; otherwise the content blocks (one text block is returned as its text, or its JSON
    when it is JSON). Images and resources keep their wire form. Only what this reads is checked: a
    result that breaks it is the upstream's error, named as such."""
    problem = _malformed(result)
    if problem:
        raise ToolError(
            f"upstream {upstream!r} tool {tool_name!r} answered with a malformed result: {problem}",
            {"upstream": upstream},
        )
    blocks = result.get("content") or []
    if result.get("isError"):
        text = " ".join(b["text"] for b in blocks if b["type"] == "text").strip()
        raise ToolError(
            f"upstream {upstream!r} tool {tool_name!r} failed: {text or 'no message'}", {"upstream": upstream}
        )
    if result.get("structuredContent") is not None:
        return result["structuredContent"]
    if len(blocks) == 1 and blocks[0]["type"] == "text":
        text = blocks[0]["text"]
        if text[:1] in "{[":
            try:
                return loads(text)
            except ValueError:
                pass
        return text
    return blocks


def _malformed(result: Any) -> str | None:
    if not isinstance(result, dict):
        return "not an object"
    if not isinstance(result.get("isError", False), bool | None):
        return "isError is not a boolean"
    blocks = result.get("content") or []
    if not isinstance(blocks, list):
        return "content is not a list"
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return "a content block has no type"
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            return "a text block has no text"
    return None
