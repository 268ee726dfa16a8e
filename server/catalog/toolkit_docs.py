"""docs/toolkits.md, generated from the catalog (`concierge toolkits docs > docs/toolkits.md`).

A test regenerates it and fails when the committed file differs, so the page never drifts from
the toolkits: every toolkit with its auth and spec coverage, every tool with its hints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from server.catalog.model import Tool, Toolkit
from server.catalog.spec_check import ToolkitReport
from server.catalog.toolkit_file import TOOL_HINTS, AuthSchemeFile

HINT_WORDS = {
    "readOnlyHint": "read-only",
    "destructiveHint": "destructive",
    "idempotentHint": "idempotent",
    "openWorldHint": "open-world",
    "createHint": "creates",
    "updateHint": "updates",
}
AUTH_WORDS = {"none": "none", "oauth2": "OAuth 2.0", "bearer_token": "token", "api_key": "API key", "basic": "basic"}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _auth(scheme: AuthSchemeFile) -> str:
    word = AUTH_WORDS[scheme.type]
    return f"{word} ({scheme.label})" if scheme.label and scheme.type != "oauth2" else word


def _coverage(report: ToolkitReport | None) -> str:
    if report is None:
        return "no published description"
    return f"{report.checked}/{report.http_tools} checked ({report.coverage:.0%}), {len(report.mismatches)} mismatches"


def _how(tool: Tool) -> str:
    if tool.http is None:
        return "local"
    if tool.http.graphql is not None:
        return "GraphQL"
    return f"`{tool.http.method} {tool.http.path}`"


def render(toolkits: Sequence[Toolkit], reports: Sequence[ToolkitReport]) -> str:
    by_slug = {r.toolkit: r for r in reports}
    ordered = sorted(toolkits, key=lambda tk: (not tk.needs_auth, tk.slug))
    apps = [tk for tk in ordered if tk.needs_auth]
    lines = [
        "# Toolkits",
        "",
        "Generated from the catalog by `concierge toolkits docs > docs/toolkits.md`; do not edit by hand "
        "(tests/test_toolkit_docs.py fails when this page is stale). How to write a toolkit: "
        "[toolkits-authoring.md](toolkits-authoring.md).",
        "",
        f"{len(ordered)} toolkits with {sum(len(tk.tools) for tk in ordered)} tools; {len(apps)} of them need a "
        f"connected account ({sum(len(tk.tools) for tk in apps)} tools). Spec coverage: HTTP tools checked against "
        "the provider's published API description (server/catalog/spec_check.py).",
        "",
        "| toolkit | name | auth | tools | spec coverage |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for tk in ordered:
        auth = ", ".join(_auth(s) for s in tk.auth_schemes)
        lines.append(
            f"| [{tk.slug}](#{tk.slug}) | {_cell(tk.name)} | {auth} | {len(tk.tools)} | "
            f"{_coverage(by_slug.get(tk.slug))} |"
        )
    for tk in ordered:
        lines += ["", f"## {tk.slug}", "", _cell(tk.description), ""]
        for scheme in tk.auth_schemes:
            if scheme.type == "none":
                continue
            line = f"- Auth: {_auth(scheme)}"
            if scheme.oauth2 is not None and scheme.oauth2.default_scopes:
                line += f", scopes {', '.join(f'`{s}`' for s in scheme.oauth2.default_scopes)}"
            if scheme.help:
                line += f". {_cell(scheme.help)}"
            lines.append(line)
        if tk.api_spec is not None:
            lines.append(
                f"- Checked against `{tk.api_spec.file}` ({tk.api_spec.format}): {_coverage(by_slug.get(tk.slug))}"
            )
        lines += ["", "| tool | what it does | hints | call |", "| --- | --- | --- | --- |"]
        for tool in sorted(tk.tools.values(), key=lambda t: t.slug):
            hints = ", ".join(HINT_WORDS[h] for h in TOOL_HINTS if h in tool.tags) or "—"
            first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", tool.description)[0]
            lines.append(f"| `{tool.slug}` | {_cell(first)} | {hints} | {_how(tool)} |")
    return "\n".join(lines) + "\n"
