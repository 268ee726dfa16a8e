"""Realistic catalogs of any size, generated in memory from providers' API descriptions.

The importer reads the OpenAPI / Swagger / Google Discovery files in `shared/data/api-specs/`
(GitHub, Slack, Discord, Notion, Gmail, Calendar, Drive, Sheets: about 1,860 operations) into
`ToolkitFile` objects, one tool per operation. Larger catalogs add variants of those toolkits with
reworded names and descriptions (synonyms chosen per variant), so a 50k-tool index sees realistic
vocabulary without 25 identical copies. Nothing generated is written to disk or committed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from server.catalog.loader import build_toolkit
from server.catalog.model import Toolkit
from server.catalog.toolkit_file import HttpBlock, ToolFile, ToolkitFile

SPECS_DIR = Path(os.environ.get("CONCIERGE_API_SPECS", Path(__file__).resolve().parents[2] / "shared/data/api-specs"))
METHODS = ("get", "post", "put", "patch", "delete")
JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object"}
DESCRIPTION_CHARS = 600
PARAM_DESCRIPTION_CHARS = 160
# Word swaps that give each catalog variant its own wording; index (variant + position) picks one.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "list": ("list", "enumerate", "show all", "fetch"),
    "lists": ("lists", "enumerates", "shows all", "returns"),
    "get": ("get", "retrieve", "fetch", "read"),
    "gets": ("gets", "retrieves", "fetches", "reads"),
    "create": ("create", "add", "make", "open"),
    "creates": ("creates", "adds", "makes", "opens"),
    "delete": ("delete", "remove", "erase", "drop"),
    "deletes": ("deletes", "removes", "erases", "drops"),
    "update": ("update", "modify", "edit", "change"),
    "updates": ("updates", "modifies", "edits", "changes"),
    "repository": ("repository", "repo", "project", "code base"),
    "user": ("user", "member", "account", "person"),
    "message": ("message", "post", "note", "chat message"),
    "file": ("file", "document", "attachment", "upload"),
    "event": ("event", "meeting", "appointment", "entry"),
    "channel": ("channel", "room", "conversation", "space"),
    "organization": ("organization", "org", "company", "team"),
    "issue": ("issue", "ticket", "bug", "task"),
}
VARIANT_NAMES = ("Enterprise", "Cloud", "Server", "Workspace", "Business", "Pro", "Community", "Team", "Edge")
_SYNONYM_WORDS = re.compile(r"\b(" + "|".join(SYNONYMS) + r")\b", re.IGNORECASE)
_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: str  # path | query | body
    type: str
    description: str
    required: bool


@dataclass(frozen=True, slots=True)
class Operation:
    op_id: str
    method: str
    path: str
    summary: str
    description: str
    params: tuple[Param, ...]


@dataclass(frozen=True, slots=True)
class Source:
    slug: str
    name: str
    description: str
    category: str
    file: str
    base_url: str
    read: Callable[[dict[str, Any]], Iterator[Operation]]


def _clean(text: str | None, limit: int) -> str:
    text = _MARKDOWN_LINK.sub(r"\1", text or "")
    return " ".join(text.split())[:limit]


def _json_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return kind if kind in JSON_TYPES else "string"


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow one local `$ref` (`#/components/...`), enough for parameters and top-level bodies."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    for part in ref[2:].split("/"):
        node = node.get(part, {})
    return node


def _openapi_operations(spec: dict[str, Any]) -> Iterator[Operation]:
    """OpenAPI 3.x (GitHub, Discord, Notion): path/query parameters and the JSON body's top-level fields."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = []
            for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
                p = _resolve(spec, raw)
                if p.get("in") in ("path", "query"):
                    params.append(Param(p["name"], p["in"], _json_type(p.get("schema", {})),
                                        _clean(p.get("description"), PARAM_DESCRIPTION_CHARS), bool(p.get("required"))))
            body = _resolve(spec, op.get("requestBody", {}))
            schema = _resolve(spec, body.get("content", {}).get("application/json", {}).get("schema", {}))
            required = set(schema.get("required", []))
            for name, prop in (schema.get("properties") or {}).items():
                prop = _resolve(spec, prop)
                params.append(Param(name, "body", _json_type(prop), _clean(prop.get("description"),
                                                                           PARAM_DESCRIPTION_CHARS), name in required))
            yield Operation(op.get("operationId") or f"{method} {path}", method, path, op.get("summary", ""),
                            op.get("description", ""), tuple(params))


def _swagger2_operations(spec: dict[str, Any]) -> Iterator[Operation]:
    """Swagger 2.0 (Slack's Web API): query and form parameters; the token header is auth, not input."""
    where = {"query": "query", "formData": "body", "path": "path"}
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = tuple(Param(p["name"], where[p["in"]], _json_type(p), _clean(p.get("description"),
                                                                                PARAM_DESCRIPTION_CHARS),
                                 bool(p.get("required"))) for p in op.get("parameters", []) if p.get("in") in where)
            yield Operation(op["operationId"], method, path, op.get("summary", ""), op.get("description", ""), params)


def _discovery_operations(doc: dict[str, Any]) -> Iterator[Operation]:
    """Google API Discovery documents: nested resources of methods, `request` bodies by schema name."""
    def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from node.get("methods", {}).values()
        for child in node.get("resources", {}).values():
            yield from walk(child)

    schemas = doc.get("schemas", {})
    for m in walk(doc):
        params = [Param(name, p.get("location", "query"), _json_type(p), _clean(p.get("description"),
                                                                               PARAM_DESCRIPTION_CHARS),
                        bool(p.get("required"))) for name, p in m.get("parameters", {}).items()]
        body = schemas.get(m.get("request", {}).get("$ref", ""), {})
        params += [Param(name, "body", _json_type(p), _clean(p.get("description"), PARAM_DESCRIPTION_CHARS), False)
                   for name, p in (body.get("properties") or {}).items()]
        yield Operation(m["id"], m["httpMethod"].lower(), "/" + m["path"].lstrip("/"), "", m.get("description", ""),
                        tuple(params))


SOURCES = (
    Source("github", "GitHub", "Code hosting: repositories, issues, pull requests, actions and organizations.",
           "developer-tools", "github/api.github.com.json", "https://api.github.com", _openapi_operations),
    Source("slack", "Slack", "Team chat: channels, messages, users, files and reactions.", "communication",
           "slack/slack_web_openapi_v2.json", "https://slack.com/api", _swagger2_operations),
    Source("discord", "Discord", "Community chat: guilds, channels, messages, members and roles.", "communication",
           "discord/openapi.json", "https://discord.com/api/v10", _openapi_operations),
    Source("notion", "Notion", "Notes and wikis: pages, databases, blocks and comments.", "productivity",
           "notion/notion-openapi.json", "https://api.notion.com", _openapi_operations),
    Source("gmail", "Gmail", "Email: messages, threads, labels, drafts and settings.", "email",
           "google/gmail.v1.json", "https://gmail.googleapis.com", _discovery_operations),
    Source("googlecalendar", "Google Calendar", "Calendars: events, attendees, free/busy and reminders.",
           "scheduling", "google/calendar.v3.json", "https://www.googleapis.com/calendar/v3", _discovery_operations),
    Source("googledrive", "Google Drive", "File storage: files, folders, permissions and comments.", "storage",
           "google/drive.v3.json", "https://www.googleapis.com/drive/v3", _discovery_operations),
    Source("googlesheets", "Google Sheets", "Spreadsheets: sheets, cell values, formatting and charts.",
           "productivity", "google/sheets.v4.json", "https://sheets.googleapis.com", _discovery_operations),
)


def _action_slug(toolkit: str, op_id: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", op_id)
    words = re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_").upper()
    return words.removeprefix(toolkit.upper() + "_") or "CALL"


def _tool_file(source: Source, op: Operation, slug: str) -> ToolFile:
    words = slug.removeprefix(source.slug.upper() + "_").replace("_", " ").lower()
    name = _clean(op.summary, 120) or words.capitalize()
    description = _clean(" ".join(filter(None, [op.summary, op.description])), DESCRIPTION_CHARS)
    if len(description) < 10:
        description = f"{words.capitalize()} in {source.name}."
    props: dict[str, Any] = {}
    required: list[str] = []
    for p in op.params:
        if p.name in props:
            continue
        props[p.name] = {"type": p.type, **({"description": p.description} if p.description else {})}
        if p.required:
            required.append(p.name)
    for name_in_path in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", op.path):
        props.setdefault(name_in_path, {"type": "string"})
    schema: dict[str, Any] = {"type": "object", "properties": props, **({"required": required} if required else {})}
    body = [p.name for p in op.params if p.location == "body" and p.name in props]
    http = HttpBlock(method=op.method.upper(), path=op.path, body=body or None,  # type: ignore[arg-type]
                     query=[p.name for p in op.params if p.location == "query" and p.name in props])
    # Built, not validated: the schema has a fixed valid shape, and jsonschema's check_schema costs 1-8 ms a
    # tool (machine load decides), seconds for the 1,861 base tools, in every benchmark server's start-up.
    return ToolFile.model_construct(
        slug=slug, name=name, description=description, input_schema=schema, http=http,
        tags=["readOnlyHint"] if op.method == "get" else (["destructiveHint"] if op.method == "delete" else []))


def _builtin_toolkits() -> tuple[ToolkitFile, ...]:
    """Fallback where the providers' API descriptions are not at hand (a clean clone without `shared/`):
    our own toolkit files, which `reword` then varies up to the requested size."""
    from server.catalog.loader import BUILTIN_TOOLKITS, parse_toolkit_file
    from server.catalog.toolkit_file import HttpBlock

    out = []
    for path in sorted(BUILTIN_TOOLKITS.glob("*/toolkit.yaml")):
        spec = parse_toolkit_file(path)
        noop = HttpBlock(method="GET", path="/noop")
        tools = [t.model_copy(update={"python": None, "http": noop}) for t in spec.tools]
        out.append(spec.model_copy(update={"tools": tools, "base_url": spec.base_url or "http://127.0.0.1:9"}))
    return tuple(out)


@lru_cache(maxsize=1)
def base_toolkits() -> tuple[ToolkitFile, ...]:
    """Every operation of every source as a validated toolkit file (slugs made unique per toolkit)."""
    if not SPECS_DIR.is_dir():
        return _builtin_toolkits()
    out = []
    for source in SOURCES:
        spec = json.loads((SPECS_DIR / source.file).read_text(encoding="utf-8"))
        tools, seen = [], set()
        for op in source.read(spec):
            slug = f"{source.slug.upper()}_{_action_slug(source.slug, op.op_id)}"
            while slug in seen:
                slug += "_2"
            seen.add(slug)
            tools.append(_tool_file(source, op, slug))
        out.append(ToolkitFile(slug=source.slug, name=source.name, description=source.description,
                               categories=[source.category], base_url=source.base_url, tools=tools))
    return tuple(out)


def reword(text: str, variant: int) -> str:
    """The same sentence in variant `variant`'s words (variant 0 is the original)."""
    if variant == 0:
        return text
    position = iter(range(1 << 30))

    def swap(match: re.Match[str]) -> str:
        options = SYNONYMS[match.group(0).lower()]
        word = options[(variant + next(position)) % len(options)]
        return word.capitalize() if match.group(0)[0].isupper() else word

    return _SYNONYM_WORDS.sub(swap, text)


def _variant(base: ToolkitFile, variant: int, take: int) -> ToolkitFile:
    """The first `take` tools of `base`, as another app of the same kind when `variant` > 0."""
    tools = list(base.tools[:take])
    if variant == 0:
        return base.model_copy(update={"tools": tools})
    slug = f"{base.slug}_{variant}"
    prefix = base.slug.upper() + "_"
    tools = [t.model_copy(update={"slug": f"{slug.upper()}_{t.slug.removeprefix(prefix)}",
                                  "name": reword(t.name, variant)[:120],
                                  "description": reword(t.description, variant)}) for t in tools]
    name = f"{base.name} {VARIANT_NAMES[variant % len(VARIANT_NAMES)]} {variant}"
    return base.model_copy(update={"slug": slug, "name": name, "description": reword(base.description, variant),
                                   "tools": tools})


def generate_files(total: int) -> list[ToolkitFile]:
    """Toolkit files holding exactly `total` tools: whole variants first, then a share of every toolkit."""
    bases = base_toolkits()
    per_variant = sum(len(b.tools) for b in bases)
    out: list[ToolkitFile] = []
    variant, remaining = 0, total
    while remaining > 0:
        share = min(1.0, remaining / per_variant)
        for base in bases:
            take = min(remaining, max(1, round(len(base.tools) * share)))
            out.append(_variant(base, variant, take))
            remaining -= take
            if remaining == 0:
                break
        variant += 1
    return out


def generate_toolkits(total: int) -> list[Toolkit]:
    return [build_toolkit(f) for f in generate_files(total)]
