"""`prepare` hooks: plain filter fields (team key, "me", a state name) into Linear's GraphQL filter objects, so an
agent need not know the nested comparator syntax (`{"assignee": {"isMe": {"eq": true}}}`)."""

from __future__ import annotations

from typing import Any

ISSUE_FIELDS = ("team_id", "team_key", "assignee", "state_name", "state_type", "priority", "label", "project_id",
                "cycle_id")


def _combine(args: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    raw = args.get("filter")
    if raw:
        parts.append(raw)
    if parts:
        args["filter"] = parts[0] if len(parts) == 1 else {"and": parts}
    return args


def _assignee(value: str) -> dict[str, Any]:
    if value.lower() == "me":
        return {"isMe": {"eq": True}}
    if value.lower() == "none":
        return {"null": True}
    return {"email": {"eqIgnoreCase": value}} if "@" in value else {"id": {"eq": value}}


def prepare_issue_filter(arguments: dict[str, Any]) -> dict[str, Any]:
    args = {k: v for k, v in arguments.items() if k not in ISSUE_FIELDS}
    get = arguments.get
    parts: list[dict[str, Any]] = []
    if get("team_id"):
        parts.append({"team": {"id": {"eq": get("team_id")}}})
    if get("team_key"):
        parts.append({"team": {"key": {"eqIgnoreCase": get("team_key")}}})
    if get("assignee"):
        parts.append({"assignee": _assignee(str(get("assignee")))})
    if get("state_name"):
        parts.append({"state": {"name": {"eqIgnoreCase": get("state_name")}}})
    if get("state_type"):
        parts.append({"state": {"type": {"in": list(get("state_type") or [])}}})
    if get("priority") is not None:
        parts.append({"priority": {"eq": get("priority")}})
    if get("label"):
        parts.append({"labels": {"some": {"name": {"eqIgnoreCase": get("label")}}}})
    if get("project_id"):
        parts.append({"project": {"id": {"eq": get("project_id")}}})
    if get("cycle_id"):
        parts.append({"cycle": {"id": {"eq": get("cycle_id")}}})
    return _combine(args, parts)


def prepare_team_filter(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    team = args.pop("team_id", None)
    return _combine(args, [{"team": {"id": {"eq": team}}}] if team else [])


def prepare_project_filter(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    team = args.pop("team_id", None)
    return _combine(args, [{"accessibleTeams": {"some": {"id": {"eq": team}}}}] if team else [])
