"""COMPOSIO_SEARCH_TOOLS: use cases in, ranked tools of this session out, with schemas and plan."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field

from server.catalog.model import Tool
from server.meta_tools.base import MetaContext, MetaInput, MetaTool, ok
from server.meta_tools.json_schema import BOOL, INT, OBJ, OPT_OBJ, OPT_STR, STR, STRS, arr, envelope, mapping, obj

PRIMARY = 3
RELATED = 5
USED_TOOLKIT_BOOST = 1.15


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    use_case: str = Field(min_length=1, max_length=1024, description="What the user wants done, in plain words")
    known_fields: str | None = Field(
        None, max_length=2048, description="Facts already known, as 'key:value,key:value' (e.g. 'channel:#general')"
    )


class SessionRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    generate_id: bool | None = None


class SearchInput(MetaInput):
    queries: list[SearchQuery] = Field(
        min_length=1, max_length=10, description="One entry per sub-task; several independent tasks at once are fine"
    )
    session: SessionRef | None = Field(None, description="Accepted for compatibility; this URL is the session")


DESCRIPTION = """Find the tools that can do a task. Call this FIRST for any task that needs an app or utility \
(time zones, maths, text, HTTP, databases, GitHub, Slack, ...), before executing anything.

Give one `queries` entry per sub-task, each a plain `use_case` ("convert 9am New York time to Tokyo", \
"list open issues in my repo"). For each you get `primary_tool_slugs` (best first), `related_tool_slugs`, \
a short `recommended_plan_steps` and `known_pitfalls`. `tool_schemas` holds each returned tool's input schema \
(or a `schemaRef`: then call COMPOSIO_GET_TOOL_SCHEMAS). `toolkit_connection_statuses` tells whether the user \
has connected each app; if not, call COMPOSIO_MANAGE_CONNECTIONS. Then run tools with COMPOSIO_MULTI_EXECUTE_TOOL. \
Only tools that exist and that this session allows are ever returned. When a step asks for an app or a \
capability the catalog does not have, or a toolkit this session does not enable, `unavailable` says so and `error` \
repeats it: tell the user plainly instead of improvising with other tools. `memory` holds facts remembered earlier."""


OUTPUT_SCHEMA = envelope(
    obj(
        {
            "results": arr(
                obj(
                    {
                        "index": INT,
                        "use_case": STR,
                        "primary_tool_slugs": STRS,
                        "related_tool_slugs": STRS,
                        "toolkits": STRS,
                        "sub_queries": arr(obj({"query": STR, "tool_slugs": STRS})),
                        "reasoning": STR,
                        "task_difficulty": {"enum": ["easy", "medium", "hard"]},
                        "recommended_plan_steps": STRS,
                        "known_pitfalls": STRS,
                        "reference_workbench_snippets": arr(OBJ),
                        "error": OPT_STR,
                    }
                )
            ),
            "tool_schemas": mapping(
                obj(
                    {"tool_slug": STR, "toolkit": STR, "description": STR, "hasFullSchema": BOOL},
                    {"input_schema": OBJ, "schemaRef": OBJ, "required": STRS, "parameters": STRS},
                )
            ),
            "toolkit_connection_statuses": arr(
                obj(
                    {
                        "toolkit": STR,
                        "description": STR,
                        "has_active_connection": BOOL,
                        "connection_details": OPT_OBJ,
                        "status_message": OPT_STR,
                    }
                )
            ),
            "time_info": obj({"current_time_utc": STR, "epoch": INT, "message": STR}),
            "session": obj({"id": STR, "instructions": STR}),
            "next_steps_guidance": STRS,
            "memory": mapping(STRS),
        }
    )
)


def _schema_entry(ctx: MetaContext, tool: Tool) -> dict[str, Any]:
    entry: dict[str, Any] = {"tool_slug": tool.slug, "toolkit": tool.toolkit, "description": tool.description}
    limit = ctx.services.limits.schema_inline_max_chars
    if tool.schema_chars <= limit:
        entry.update(input_schema=tool.input_schema, hasFullSchema=True)
    else:
        props = tool.input_schema.get("properties") or {}
        entry.update(
            schemaRef={"tool": "COMPOSIO_GET_TOOL_SCHEMAS", "tool_slugs": [tool.slug]},
            hasFullSchema=False,
            required=tool.input_schema.get("required", []),
            parameters=sorted(props),
        )
    return entry


def _plan(steps: list[tuple[str, Tool]]) -> list[str]:
    """One step per intent, in the user's order, with the tool that fits it best."""
    plan = []
    for n, (intent, tool) in enumerate(steps, start=1):
        required = tool.input_schema.get("required") or []
        needs = f" (needs {', '.join(required)})" if required else ""
        prefix = f"{n}. " if len(steps) > 1 else ""
        plan.append(f"{prefix}{intent.strip().rstrip('.')}: run {tool.slug}{needs} with COMPOSIO_MULTI_EXECUTE_TOOL.")
    if len(steps) > 1:
        plan.append(
            "Run independent steps together in one COMPOSIO_MULTI_EXECUTE_TOOL call; pass outputs of one "
            "step as arguments of the next."
        )
    return plan


def _pitfalls(tools: list[Tool]) -> list[str]:
    out = []
    for tool in tools[:1]:
        if "destructiveHint" in tool.tags:
            out.append(f"{tool.slug} changes or deletes data: confirm with the user first.")
        if tool.input_schema.get("additionalProperties") is False:
            out.append(f"{tool.slug} refuses arguments not in its schema.")
    return out


async def handle(ctx: MetaContext, params: SearchInput) -> dict[str, Any]:
    services, session = ctx.services, ctx.session
    catalog = services.catalog
    used = await services.executions.used_toolkits(session.id)
    boost = {tk: USED_TOOLKIT_BOOST for tk in used}
    results: list[dict[str, Any]] = []
    schemas: dict[str, Any] = {}
    toolkits_seen: list[str] = []
    for i, query in enumerate(params.queries, start=1):
        text = query.use_case if not query.known_fields else f"{query.use_case} ({query.known_fields})"
        search = partial(
            catalog.index.search_use_case, text, allowed=session.allowed, limit=PRIMARY + RELATED, toolkit_boost=boost
        )
        # An embedding model or service takes a forward pass or a round trip: not on the event loop.
        found = await anyio.to_thread.run_sync(search) if catalog.index.semantic else search()
        disabled = [
            catalog.toolkits[slug]
            for slug in sorted(catalog.index.toolkits_named(text))
            if not session.allowed.intersection(catalog.toolkits[slug].tools)
        ]
        # A step that names a toolkit this session leaves out is explained by that, not as a missing capability.
        unavailable: list[dict[str, Any]] = [
            {"step": u.intent, "app": u.app, "message": u.message} for u in found.unavailable if u.app or not disabled
        ]
        unavailable += [
            {
                "step": query.use_case,
                "app": tk.name,
                "toolkit": tk.slug,
                "message": (
                    f"The {tk.name} toolkit exists but is not enabled in this session; ask the operator to add "
                    f"'{tk.slug}' to the session's toolkits."
                ),
            }
            for tk in disabled
        ]
        firsts = [(intent.query, intent.hits[0].slug) for intent in found.intents if intent.hits]
        nearest = [h.slug for h in found.offered]  # the steps no tool covers offer nothing
        ranked = list(dict.fromkeys([slug for _, slug in firsts] + nearest))
        width = max(PRIMARY, len(firsts))
        primary = [catalog.tools[s] for s in ranked[:width]]
        related = [catalog.tools[s] for s in ranked[width : width + RELATED]]
        kits = list(dict.fromkeys(t.toolkit for t in primary + related))
        toolkits_seen.extend(k for k in kits if k not in toolkits_seen)
        for tool in primary:
            schemas[tool.slug] = _schema_entry(ctx, tool)
        reasons = {h.slug: h.reason for h in found.offered}
        results.append(
            {
                "index": i,
                "use_case": query.use_case,
                "primary_tool_slugs": [t.slug for t in primary],
                "related_tool_slugs": [t.slug for t in related],
                "toolkits": kits,
                "sub_queries": [
                    {"query": intent.query, "tool_slugs": [h.slug for h in intent.hits[:PRIMARY]]}
                    for intent in found.intents
                ]
                if len(found.intents) > 1
                else [],
                "reasoning": "; ".join(f"{t.slug}: {reasons.get(t.slug) or 'best match for one step'}" for t in primary)
                or "no tool in this session matches",
                "task_difficulty": "easy" if len(firsts) <= 1 else "medium" if len(firsts) <= 3 else "hard",
                "recommended_plan_steps": _plan(
                    [(q, catalog.tools[s]) for q, s in firsts]
                    if len(firsts) > 1
                    else [(query.use_case, primary[0])]
                    if primary
                    else []
                ),
                "known_pitfalls": _pitfalls(primary),
                "reference_workbench_snippets": [],
                "unavailable": unavailable,
                "error": None
                if primary and not unavailable
                else " ".join(u["message"] for u in unavailable)
                if unavailable
                else (
                    "No tool in this session matches this use case. Rephrase it with the app's name and "
                    "the action, or ask the operator to enable the toolkit for this session."
                ),
            }
        )
    now = datetime.now(UTC)
    memory = await services.memory.recall(session.user_id, toolkits_seen)
    return ok(
        {
            "results": results,
            "tool_schemas": schemas,
            "toolkit_connection_statuses": [
                await services.auth.status_for_search(session, catalog.toolkits[slug]) for slug in toolkits_seen
            ],
            "time_info": {
                "current_time_utc": now.isoformat(timespec="seconds"),
                "epoch": int(now.timestamp()),
                "message": "Use this as 'now' for relative dates.",
            },
            "session": {"id": session.id, "instructions": "This MCP URL is bound to one session; no id is needed."},
            "next_steps_guidance": [
                "Check toolkit_connection_statuses; for any toolkit without an active connection call "
                "COMPOSIO_MANAGE_CONNECTIONS and show the user the link.",
                "Execute the primary tools with COMPOSIO_MULTI_EXECUTE_TOOL, several at once when independent.",
            ],
            "memory": memory,
        }
    )


TOOL = MetaTool(
    name="COMPOSIO_SEARCH_TOOLS",
    title="Search tools",
    description=DESCRIPTION,
    input_model=SearchInput,
    handler=handle,
    output_schema=OUTPUT_SCHEMA,
    read_only=True,
    open_world=True,
    idempotent=True,
)
