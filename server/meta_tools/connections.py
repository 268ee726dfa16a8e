"""Per-toolkit connection status as SEARCH_TOOLS and MANAGE_CONNECTIONS report it."""

from __future__ import annotations

from typing import Any

from server.meta_tools.base import MetaContext


async def toolkit_statuses(ctx: MetaContext, toolkits: list[str]) -> list[dict[str, Any]]:
    out = []
    for slug in toolkits:
        toolkit = ctx.runtime.catalog.toolkits[slug]
        if not toolkit.needs_auth:
            out.append({"toolkit": slug, "description": toolkit.description, "has_active_connection": True,
                        "connection_details": {"auth_scheme": "NO_AUTH"},
                        "status_message": f"{toolkit.name} needs no authentication; its tools can run right away."})
            continue
        out.append(await ctx.runtime.auth.status_for_search(ctx.session, toolkit))
    return out
