"""COMPOSIO_WAIT_FOR_CONNECTIONS: block (bounded) until the user finishes connecting toolkits."""

from __future__ import annotations

import time
from typing import Any, Literal

import anyio
from pydantic import Field

from server.meta_tools.base import MetaContext, MetaInput, MetaTool, ok
from server.meta_tools.json_schema import BOOL, OPT_STR, envelope, mapping, obj
from server.values import AccountStatus

POLL_SECONDS = 1.0


class WaitInput(MetaInput):
    toolkits: list[str] = Field(min_length=1, max_length=20)
    mode: Literal["any", "all"] = Field("all", description="Return when any, or all, of them are connected")
    timeout_seconds: float = Field(60, gt=0, le=300)


DESCRIPTION = """Wait until the user has finished connecting the given toolkits (after you showed them the \
links from COMPOSIO_MANAGE_CONNECTIONS). Returns per toolkit ACTIVE, INITIATED (still waiting), FAILED or \
NOT_FOUND (no connection was started). Bounded by `timeout_seconds` (max 300)."""


OUTPUT_SCHEMA = envelope(
    obj(
        {
            "results": mapping(
                obj(
                    {"status": {"enum": ["ACTIVE", "INITIATED", "FAILED", "NOT_FOUND"]}},
                    {"connected_account_id": OPT_STR, "message": OPT_STR},
                )
            ),
            "completed": BOOL,
            "timed_out": BOOL,
        }
    )
)


async def _states(ctx: MetaContext, slugs: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for slug in slugs:
        toolkit = ctx.services.catalog.toolkits.get(slug)
        if toolkit is None:
            out[slug] = {"status": "NOT_FOUND", "message": "unknown toolkit"}
            continue
        if not toolkit.needs_auth:
            out[slug] = {"status": AccountStatus.ACTIVE, "message": "needs no authentication"}
            continue
        account, message = await ctx.services.auth.connection_state(ctx.session, toolkit)
        if account is not None:
            out[slug] = {"status": AccountStatus.ACTIVE, "connected_account_id": account.id, "message": message}
            continue
        recent = await ctx.services.auth.accounts.list(ctx.session.user_id, slug)
        status: str = "NOT_FOUND"
        if recent:
            status = AccountStatus.FAILED if recent[0].status.final else recent[0].status
        out[slug] = {"status": status, "connected_account_id": recent[0].id if recent else None, "message": message}
    return out


async def handle(ctx: MetaContext, params: WaitInput) -> dict[str, Any]:
    slugs = list(dict.fromkeys(t.strip().lower() for t in params.toolkits))
    deadline = time.monotonic() + params.timeout_seconds
    while True:
        states = await _states(ctx, slugs)
        active = [s for s, v in states.items() if v["status"] == AccountStatus.ACTIVE]
        settled = all(v["status"] != AccountStatus.INITIATED for v in states.values())
        done = bool(active) if params.mode == "any" else len(active) == len(slugs)
        if done or settled or time.monotonic() >= deadline:
            return ok({"results": states, "completed": done, "timed_out": not (done or settled)})
        await anyio.sleep(POLL_SECONDS)


TOOL = MetaTool(
    name="COMPOSIO_WAIT_FOR_CONNECTIONS",
    title="Wait for connections",
    description=DESCRIPTION,
    input_model=WaitInput,
    handler=handle,
    output_schema=OUTPUT_SCHEMA,
    read_only=True,
    available=lambda services, session: session.options.manage_connections.wait_for_connections,
)
