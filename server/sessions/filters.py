"""Which tools a session may see and run, resolved once per config version.

Order: toolkits (enable/disable) -> per-toolkit tools (enable/disable/tags) -> tags (enable: keep
tools with any of them; disable: drop tools with any of them). Unknown slugs and tags are refused
with their near matches, so a typo never silently empties a session.
"""

from __future__ import annotations

from server.catalog.catalog import Catalog, near_matches
from server.errors import InvalidInput
from server.sessions.options import SessionOptions


def _unknown(kind: str, names: list[str], pool: list[str], field: str) -> None:
    missing = [n for n in names if n not in pool]
    if missing:
        suggestions = {m: near_matches(m, pool) for m in missing}
        hint = "; ".join(f"{m!r} (did you mean {', '.join(s)}?)" if s else repr(m) for m, s in suggestions.items())
        raise InvalidInput(
            f"{field}: unknown {kind}: {hint}", {"field": field, "unknown": missing, "suggestions": suggestions}
        )


def validate(catalog: Catalog, options: SessionOptions) -> None:
    toolkit_pool = sorted(catalog.toolkits)
    if options.toolkits is not None:
        _unknown("toolkit", options.toolkits.enable or options.toolkits.disable or [], toolkit_pool, "toolkits")
    for field, mapping in (
        ("tools", options.tools),
        ("auth_configs", options.auth_configs),
        ("connected_accounts", options.connected_accounts),
    ):
        if mapping:
            _unknown("toolkit", list(mapping), toolkit_pool, field)
    for toolkit, selector in (options.tools or {}).items():
        if options.toolkits is not None and (
            toolkit not in (options.toolkits.enable or catalog.toolkits) or toolkit in (options.toolkits.disable or [])
        ):
            raise InvalidInput(
                f"tools.{toolkit}: toolkit {toolkit!r} is not enabled by `toolkits`; add it there or drop this entry",
                {"field": f"tools.{toolkit}"},
            )
        pool = sorted(catalog.toolkits[toolkit].tools)
        _unknown(
            f"tool of {toolkit}",
            [s.upper() for s in (selector.enable or selector.disable or [])],
            pool,
            f"tools.{toolkit}",
        )
        if selector.tags:
            _unknown("tag", selector.tags, sorted(catalog.tags), f"tools.{toolkit}.tags")
    if options.tags is not None:
        _unknown("tag", options.tags.enable + options.tags.disable, sorted(catalog.tags), "tags")
    if options.preload is not None and options.preload.tools != "all":
        preload = [s.upper() for s in options.preload.tools]
        _unknown("tool", preload, sorted(catalog.tools), "preload.tools")
        filtered = [s for s in preload if s not in resolve_allowed(catalog, options)]
        if filtered:  # a tool the session may not run would otherwise be dropped without a word
            raise InvalidInput(
                f"preload.tools: {', '.join(filtered)} not allowed by this session's toolkits, tools or tags; "
                "allow it there or drop it from preload",
                {"field": "preload.tools", "not_allowed": filtered},
            )


def resolve_allowed(catalog: Catalog, options: SessionOptions) -> frozenset[str]:
    allowed: set[str] = set()
    for slug in [s for s in catalog.toolkits if options.admits_toolkit(s)]:  # an upstream may have been removed
        tools = catalog.toolkits[slug].tools
        selector = (options.tools or {}).get(slug)
        if selector is None:
            allowed.update(tools)
        elif selector.enable is not None:
            allowed.update(s.upper() for s in selector.enable if s.upper() in tools)
        elif selector.disable is not None:
            allowed.update(set(tools) - {s.upper() for s in selector.disable})
        else:
            wanted = set(selector.tags or [])
            allowed.update(t for t, tool in tools.items() if wanted & catalog.tool_tags(tool))
    if options.tags is not None:
        keep, drop = set(options.tags.enable), set(options.tags.disable)
        allowed = {
            s
            for s in allowed
            if (not keep or keep & catalog.tool_tags(catalog.tools[s]))
            and not (drop & catalog.tool_tags(catalog.tools[s]))
        }
    return frozenset(allowed)
