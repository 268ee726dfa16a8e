"""COMPOSIO_MANAGE_CONNECTIONS: connection status per toolkit, and Connect Links for the missing ones."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from server.auth.connect_flow import instruction
from server.catalog.catalog import Catalog, near_matches
from server.errors import ConciergeError
from server.meta_tools.base import MetaContext, MetaInput, MetaTool, ok
from server.meta_tools.json_schema import BOOL, INT, NUM, OPT_STR, STR, envelope, mapping, nullable, obj
from server.values import Session


class ManageInput(MetaInput):
    toolkits: list[str] = Field(min_length=1, max_length=20, description="Toolkit slugs, e.g. ['github', 'gmail']")
    reinitiate_all: bool = Field(
        False,
        description="Make new links even for toolkits that are already connected (to switch or repair an account)",
    )


DESCRIPTION = """Check whether the user has connected the apps a task needs, and get a Connect Link for each \
one that is not connected. Call it when COMPOSIO_SEARCH_TOOLS shows `has_active_connection: false`, or when a \
tool call fails with `connection_required`. For every toolkit not yet active you get `status: initiated`, a \
`redirect_url` and an `instruction` sentence: show the link to the user, ask them to finish in their browser, \
then retry the task. Toolkits that need no authentication report `active`. Use `reinitiate_all` only when the \
user wants to reconnect or switch accounts."""


OUTPUT_SCHEMA = envelope(
    obj(
        {
            "message": STR,
            "results": mapping(
                obj(
                    {
                        "toolkit": STR,
                        "status": {"enum": ["active", "initiated", "failed"]},
                        "has_active_connection": BOOL,
                        "redirect_url": OPT_STR,
                        "instruction": OPT_STR,
                        "connected_account_id": OPT_STR,
                        "auth_config_id": OPT_STR,
                        "created_at": nullable({"type": ["number", "string"]}),
                        "error_message": OPT_STR,
                        "was_reinitiated": BOOL,
                    },
                    {"expires_at": nullable(NUM)},
                )
            ),
            "summary": obj(
                {
                    "total_toolkits": INT,
                    "active_connections": INT,
                    "initiated_connections": INT,
                    "failed_connections": INT,
                }
            ),
        }
    )
)


def session_toolkits(session: Session, catalog: Catalog) -> set[str]:
    """Toolkits with a tool the session allows, and admitted toolkits with no tools yet (an upstream MCP
    server that lists its tools only to a signed-in user must be connectable first)."""
    empty = {
        slug for slug, toolkit in catalog.toolkits.items() if not toolkit.tools and session.options.admits_toolkit(slug)
    }
    return {catalog.tools[slug].toolkit for slug in session.allowed} | empty


async def handle(ctx: MetaContext, params: ManageInput) -> dict[str, Any]:
    services, session = ctx.services, ctx.session
    auth = services.auth
    reachable = session_toolkits(session, services.catalog)
    results: dict[str, Any] = {}
    for slug in dict.fromkeys(t.strip().lower() for t in params.toolkits):
        entry: dict[str, Any] = {
            "toolkit": slug,
            "status": "failed",
            "has_active_connection": False,
            "redirect_url": None,
            "instruction": None,
            "connected_account_id": None,
            "auth_config_id": None,
            "created_at": None,
            "error_message": None,
            "was_reinitiated": False,
        }
        toolkit = services.catalog.toolkits.get(slug)
        if toolkit is None or slug not in reachable:
            near = near_matches(slug, reachable)
            entry["error_message"] = f"toolkit {slug!r} is not available in this session" + (
                f"; did you mean {', '.join(near)}?" if near else ""
            )
            results[slug] = entry
            continue
        if not toolkit.needs_auth:
            results[slug] = entry | {
                "status": "active",
                "has_active_connection": True,
                "instruction": f"{toolkit.name} needs no authentication.",
            }
            continue
        account, message = await auth.connection_state(session, toolkit)
        if account is not None and not params.reinitiate_all:
            results[slug] = entry | {
                "status": "active",
                "has_active_connection": True,
                "instruction": message,
                "connected_account_id": account.id,
                "auth_config_id": account.auth_config_id,
                "created_at": account.created_at,
            }
            continue
        try:
            request = await auth.flow.link_for(session, toolkit, fresh=params.reinitiate_all)
        except ConciergeError as exc:
            results[slug] = entry | {"error_message": exc.message}
            continue
        pending = await auth.accounts.get(request.connected_account_id)
        scheme = await auth.flow.scheme_for(request.connected_account_id)
        results[slug] = entry | {
            "status": "initiated",
            "redirect_url": request.redirect_url,
            "instruction": instruction(toolkit, scheme, request.redirect_url),
            "auth_scheme": scheme.type.upper(),
            "credential_help": scheme.help,
            "connected_account_id": request.connected_account_id,
            "auth_config_id": pending.auth_config_id,
            "created_at": pending.created_at,
            "was_reinitiated": params.reinitiate_all and account is not None,
            "expires_at": request.expires_at,
        }
    counts = {s: sum(1 for r in results.values() if r["status"] == s) for s in ("active", "initiated", "failed")}
    summary = {
        "total_toolkits": len(results),
        "active_connections": counts["active"],
        "initiated_connections": counts["initiated"],
        "failed_connections": counts["failed"],
    }
    message = (
        "All requested toolkits are connected."
        if counts["active"] == len(results)
        else "Show the user the redirect_url of each initiated toolkit; retry once they have connected."
    )
    return ok({"message": message, "results": results, "summary": summary})


TOOL = MetaTool(
    name="COMPOSIO_MANAGE_CONNECTIONS",
    title="Manage connections",
    description=DESCRIPTION,
    input_model=ManageInput,
    handler=handle,
    output_schema=OUTPUT_SCHEMA,
    open_world=True,
    available=lambda services, session: session.options.manage_connections.enable,
)
