"""COMPOSIO_GET_TOOL_SCHEMAS: full schemas for named tools; unknown or filtered-out slugs get suggestions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from server.catalog.catalog import near_matches
from server.meta_tools.base import MetaContext, MetaInput, MetaTool, ok
from server.meta_tools.json_schema import OBJ, OPT_STR, STR, STRS, envelope, mapping, obj

Schema = Literal["input_schema", "output_schema"]


def _input_schema_only() -> list[Schema]:
    return ["input_schema"]


class SchemasInput(MetaInput):
    tool_slugs: list[str] = Field(min_length=1, max_length=50, description="Tool slugs, e.g. ['GITHUB_CREATE_ISSUE']")
    include: list[Schema] = Field(default_factory=_input_schema_only, description="Which schemas to return")


DESCRIPTION = """Get the complete input (and optionally output) JSON Schema of tools by slug, before calling \
COMPOSIO_MULTI_EXECUTE_TOOL. Use it when COMPOSIO_SEARCH_TOOLS returned a `schemaRef` instead of a schema. \
Slugs that do not exist or are not available in this session are listed in `not_found` with up to 3 \
`suggestions` each."""


OUTPUT_SCHEMA = envelope(
    obj(
        {
            "tool_schemas": mapping(
                obj(
                    {"tool_slug": STR, "toolkit": STR, "name": STR, "description": STR, "tags": STRS},
                    {"input_schema": OBJ, "output_schema": OBJ},
                )
            ),
            "not_found": STRS,
            "suggestions": mapping(STRS),
            "not_found_message": OPT_STR,
        }
    )
)


async def handle(ctx: MetaContext, params: SchemasInput) -> dict[str, Any]:
    catalog, allowed = ctx.services.catalog, ctx.session.allowed
    schemas: dict[str, Any] = {}
    not_found: list[str] = []
    suggestions: dict[str, list[str]] = {}
    for slug in params.tool_slugs:
        tool = catalog.tool(slug)
        if tool is None or tool.slug not in allowed:
            not_found.append(slug)
            suggestions[slug] = near_matches(slug, allowed)
            continue
        entry: dict[str, Any] = {
            "tool_slug": tool.slug,
            "toolkit": tool.toolkit,
            "name": tool.name,
            "description": tool.description,
            "tags": list(tool.tags),
        }
        if "input_schema" in params.include:
            entry["input_schema"] = tool.input_schema
        if "output_schema" in params.include:
            entry["output_schema"] = tool.output_schema or {
                "description": tool.output_description or "JSON object; shape not declared"
            }
        schemas[tool.slug] = entry
    message = None
    if not_found:
        message = (
            f"{len(not_found)} slug(s) do not exist or are not available in this session: "
            f"{', '.join(not_found)}. Use COMPOSIO_SEARCH_TOOLS to find the right ones."
        )
    return ok(
        {"tool_schemas": schemas, "not_found": not_found, "suggestions": suggestions, "not_found_message": message}
    )


TOOL = MetaTool(
    name="COMPOSIO_GET_TOOL_SCHEMAS",
    title="Get tool schemas",
    description=DESCRIPTION,
    input_model=SchemasInput,
    handler=handle,
    output_schema=OUTPUT_SCHEMA,
    read_only=True,
    idempotent=True,
)
