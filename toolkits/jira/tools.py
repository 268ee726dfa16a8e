"""`prepare` hooks: plain text into Atlassian Document Format and flat fields into Jira's `fields` object, so an
agent writes "summary" and "description" instead of nested ADF JSON."""

from __future__ import annotations

from typing import Any

from server.errors import InvalidInput

# /search/jql returns only issue ids unless asked for fields; these answer "what are my tickets".
SEARCH_FIELDS = ["summary", "status", "assignee", "priority", "issuetype", "updated"]


def adf(text: str) -> dict[str, Any]:
    """A plain-text document: blank lines split paragraphs, single newlines become hard breaks."""
    paragraphs = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        content: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        if content:
            paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def _fields(args: dict[str, Any]) -> dict[str, Any]:
    fields = dict(args.pop("fields", None) or {})
    if "summary" in args:
        fields["summary"] = args.pop("summary")
    if "description" in args:
        fields["description"] = adf(args.pop("description"))
    if "priority" in args:
        fields["priority"] = {"name": args.pop("priority")}
    for name in ("labels", "duedate"):
        if name in args:
            fields[name] = args.pop(name)
    return fields


def prepare_search(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"fields": SEARCH_FIELDS, **arguments}


def prepare_create_issue(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    project, kind = args.pop("project_key"), args.pop("issue_type", None) or "Task"
    assignee, parent = args.pop("assignee_account_id", None), args.pop("parent_key", None)
    fields = {"project": {"key": project}, "issuetype": {"name": kind}} | _fields(args)
    if assignee:
        fields["assignee"] = {"accountId": assignee}
    if parent:
        fields["parent"] = {"key": parent}
    args["fields"] = fields
    return args


def prepare_edit_issue(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    fields = _fields(args)
    if fields:
        args["fields"] = fields
    if not args.get("fields") and not args.get("update"):
        raise InvalidInput("nothing to change: give summary, description, priority, labels, duedate, fields or "
                           "update", {"field": "fields"})
    return args


def prepare_transition(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    args["transition"] = {"id": str(args.pop("transition_id"))}
    comment = args.pop("comment", None)
    if comment:
        args["update"] = {"comment": [{"add": {"body": adf(comment)}}]}
    return args


def prepare_comment(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    args["body"] = adf(args.pop("text"))
    return args


def prepare_worklog(arguments: dict[str, Any]) -> dict[str, Any]:
    args = dict(arguments)
    if not args.get("timeSpent") and not args.get("timeSpentSeconds"):
        raise InvalidInput('give timeSpent (e.g. "2h 30m") or timeSpentSeconds', {"field": "timeSpent"})
    note = args.pop("comment_text", None)
    if note:
        args["comment"] = adf(note)
    return args
