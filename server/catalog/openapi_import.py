"""`concierge toolkits import-openapi`: a provider's API description in, a toolkit folder out.

OpenAPI 3.x, Swagger 2.0 and Google discovery documents are read by `api_specs` into one model;
this module turns each selected operation into a tool an agent can use: a `NAME_ACTION` slug of at
most 64 characters, a description cut to its first sentences, parameters and request bodies as
plain JSON Schema (refs inlined, cycles cut, OpenAPI-only keywords dropped), hints from the method,
and auth schemes from the description's security schemes. The result is validated by loading it,
so a written folder always loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from server.catalog import api_specs
from server.catalog.loader import TOOLKIT_FILE, load_toolkit_folder
from server.catalog.spec_check import DEFAULT_SPECS
from server.errors import ConfigError, InvalidInput

MAX_SLUG = 64
MAX_DESCRIPTION = 600
MAX_PARAM_DESCRIPTION = 300
MAX_DEPTH = 4
GOOGLE_OAUTH = {
    "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_url": "https://oauth2.googleapis.com/token",
    "revoke_url": "https://oauth2.googleapis.com/revoke",
    "authorize_params": {"access_type": "offline", "prompt": "consent"},
}
_KEEP = {
    "type",
    "enum",
    "format",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "const",
    "multipleOf",
}
_ARTICLES = {"a", "an", "the"}


@dataclass(slots=True)
class ImportResult:
    folder: Path
    tools: int
    skipped: list[str] = field(default_factory=list)  # "METHOD path: why"


def trim(text: str, limit: int = MAX_DESCRIPTION, sentences: int = 3) -> str:
    """The first sentences of a provider's prose, without markup: what an agent needs to pick the tool."""
    text = re.sub(r"<[^>]+>", " ", text or "")
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # markdown links and images -> their text
    text = re.sub(r"[*_`#>]{1,3}", "", text)
    text = " ".join(text.split())
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])", text)
    out = ""
    for part in parts[:sentences]:
        if out and len(out) + len(part) + 1 > limit:
            break
        out = f"{out} {part}".strip()
    if len(out) > limit:
        out = out[: limit - 1].rsplit(" ", 1)[0] + "…"
    return out


def _words(text: str) -> list[str]:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", text) if w]


def action_name(op: api_specs.Operation, google: bool = False) -> str:
    """UPPER_SNAKE action: from the operationId, else the summary, else the method and path. Google ids
    (`gmail.users.messages.list`) become verb first: LIST_MESSAGES."""
    if google and op.operation_id.count(".") >= 2:
        *resources, verb = op.operation_id.split(".")[1:]
        if len(resources) > 1 and resources[0] == "users":
            resources = resources[1:]
        words = _words(verb) + [w for r in resources for w in _words(r)]
    elif op.operation_id:
        words = _words(op.operation_id)
    elif op.summary:
        words = [w for w in _words(op.summary) if w.lower() not in _ARTICLES][:8]
    else:
        words = [op.method.lower()] + [w for w in _words(re.sub(r"\{[^}]*\}", "", op.path))][-4:]
    return "_".join(w.upper() for w in words) or op.method


def unique_slug(prefix: str, action: str, taken: set[str]) -> str:
    base = re.sub(r"_+", "_", f"{prefix}_{action}").strip("_")[:MAX_SLUG].rstrip("_")
    slug, n = base, 2
    while slug in taken:
        suffix = f"_{n}"
        slug = base[: MAX_SLUG - len(suffix)].rstrip("_") + suffix
        n += 1
    taken.add(slug)
    return slug


def clean_schema(schema: Any, depth: int = 0) -> dict[str, Any]:
    """Plain JSON Schema 2020-12 from an OpenAPI/Swagger/discovery schema: known keywords only, nested
    objects cut below a few levels so a tool's schema stays small enough for an agent's context."""
    if not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {k: v for k, v in schema.items() if k in _KEEP}
    if out.get("type") == "file":  # Swagger 2.0 uploads
        out["type"] = "string"
    if isinstance(out.get("type"), str) and out["type"] not in (
        "string",
        "number",
        "integer",
        "boolean",
        "array",
        "object",
        "null",
    ):
        out.pop("type")
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None] if None not in out["enum"] else out["enum"]
    for bound in ("exclusiveMinimum", "exclusiveMaximum"):
        value = schema.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[bound] = value
    if schema.get("description"):
        out["description"] = trim(str(schema["description"]), MAX_PARAM_DESCRIPTION, 2)
    if "example" in schema and not isinstance(schema["example"], dict | list):
        out["examples"] = [schema["example"]]
    if depth >= MAX_DEPTH:
        if "properties" in schema or schema.get("type") == "object":
            out["type"] = "object"
        elif schema.get("type") == "array":
            out["items"] = {}
        return out
    if isinstance(schema.get("items"), dict):
        out["items"] = clean_schema(schema["items"], depth + 1)
    props = schema.get("properties")
    if isinstance(props, dict):
        out["properties"] = {
            name: clean_schema(p, depth + 1)
            for name, p in props.items()
            if isinstance(p, dict) and not p.get("readOnly")
        }
        required = [r for r in schema.get("required") or [] if r in out["properties"]]
        if required:
            out["required"] = required
    extra = schema.get("additionalProperties")
    if isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif isinstance(extra, dict) and extra:
        out["additionalProperties"] = clean_schema(extra, depth + 1)
    for key in ("oneOf", "anyOf", "allOf"):
        if isinstance(schema.get(key), list):
            parts = [clean_schema(p, depth + 1) for p in schema[key] if isinstance(p, dict)]
            if parts:
                out[key] = parts
    try:
        Draft202012Validator.check_schema(out)
    except SchemaError:
        return {k: v for k, v in out.items() if k in ("type", "description")}
    return out


def _merged_properties(schema: dict[str, Any]) -> dict[str, Any]:
    """Top-level body fields, also those an allOf/oneOf/anyOf part adds (the first definition wins)."""
    merged: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            merged.setdefault(name, prop)
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key) or []:
            if isinstance(part, dict):
                for name, prop in _merged_properties(part).items():
                    merged.setdefault(name, prop)
    return merged


def _arg(name: str) -> str:
    """An argument name usable as a `{placeholder}` in a path."""
    arg = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "value"
    return arg if not arg[0].isdigit() else "p_" + arg


def _selected(op: api_specs.Operation, include: list[str]) -> bool:
    if not include:
        return True
    for rule in include:
        if rule.startswith("/"):
            if api_specs.template(op.path).startswith(api_specs.template(rule).rstrip("/")) or op.path.startswith(rule):
                return True
        elif rule.lower() in (t.lower() for t in op.tags) or rule == op.operation_id:
            return True
    return False


def _hints(method: str) -> list[str]:
    return {
        "GET": ["readOnlyHint", "idempotentHint"],
        "DELETE": ["destructiveHint", "idempotentHint"],
        "PUT": ["idempotentHint"],
    }.get(method, []) + ["openWorldHint"]


def _sentence(text: str) -> str:
    return text + "." if text and text[-1] not in ".!?…" else text


def _tool(op: api_specs.Operation, slug: str, base_path: str, title: str) -> tuple[dict[str, Any] | None, str]:
    """One tool dict, or None and why the operation cannot be a declarative tool."""
    if "multipart" in op.body_media or "octet-stream" in op.body_media:
        return None, f"its body is {op.body_media} (file upload); write a python handler for it"
    properties: dict[str, Any] = {}
    required: list[str] = []
    path = op.path[len(base_path) :] if base_path and op.path.startswith(base_path) else op.path
    path = "/" + path.lstrip("/")
    query: list[str] = []
    headers: dict[str, str] = {}
    for name in api_specs.placeholders(op.path):
        param = op.param(name) or api_specs.Param(name, "path", True)
        arg = _arg(name)
        path = re.sub(r"\{(\+?)" + re.escape(name) + r"\}", "{" + r"\g<1>" + arg + "}", path)
        properties[arg] = clean_schema({**param.schema, "description": param.description}) or {"type": "string"}
        if "type" not in properties[arg]:
            properties[arg]["type"] = "string"
        required.append(arg)
    for param in op.params:
        if param.location == "query":
            properties.setdefault(param.name, clean_schema({**param.schema, "description": param.description}))
            query.append(param.name)
        elif param.location == "header" and param.name.lower() not in ("authorization", "content-type", "accept"):
            arg = _arg(param.name).lower()
            properties.setdefault(arg, clean_schema({**param.schema, "description": param.description}))
            headers[arg] = param.name
        else:
            continue
        if param.required:
            required.append(param.name if param.location == "query" else _arg(param.name).lower())
    http: dict[str, Any] = {"method": op.method, "path": path}
    form = [p for p in op.params if p.location == "formData"]
    body_names: list[str] = []
    if form:
        for param in form:
            if param.name in properties:
                continue
            properties[param.name] = clean_schema({**param.schema, "description": param.description})
            body_names.append(param.name)
            if param.required:
                required.append(param.name)
        http["body_format"] = "form"
    elif op.body is not None and op.method != "GET":
        fields, body_required = api_specs.object_fields(op.body)
        if fields is None:
            return None, "its request body is not an object with named fields"
        for name, raw in _merged_properties(op.body).items():
            if name in properties or (raw.get("readOnly") and name not in body_required):
                continue
            properties[name] = clean_schema(raw, 1)
            body_names.append(name)
            if name in body_required and (op.body_required or body_required):
                required.append(name)
        if "form" in op.body_media:
            http["body_format"] = "form"
    if query:
        http["query"] = query
    if headers:
        http["headers"] = headers
    if body_names:
        http["body"] = body_names
    description = _sentence(trim(op.description or op.summary))
    summary = _sentence(trim(op.summary, 200, 1))
    if summary and summary.rstrip(".").lower() not in description.lower():
        description = f"{summary} {description}".strip()
    if len(description) < 60:  # a bare "Send a message": say where and how, so search and the agent can place it
        description = f"{description} ({title}: {op.method} {op.path})".strip()
    name = trim(op.summary, 120, 1) if op.summary else " ".join(w.capitalize() for w in slug.split("_")[1:])
    tool = {
        "slug": slug,
        "name": name[:120] or slug,
        "description": description,
        "tags": _hints(op.method) + [t for t in dict.fromkeys(x.lower() for x in op.tags)][:3],
        "http": http,
        "input_schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
            **({"required": list(dict.fromkeys(required))} if required else {}),
        },
    }
    return tool, ""


def _auth(api: api_specs.ApiDescription) -> list[dict[str, Any]]:
    oauth: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []
    for name, scheme in api.security_schemes.items():
        kind = str(scheme.get("type", "")).lower()
        if api.format == "google_discovery":
            oauth.append({"type": "oauth2", "oauth2": {**GOOGLE_OAUTH, "default_scopes": scheme.get("scopes", [])[:1]}})
        elif kind == "oauth2":
            flows = scheme.get("flows") or {}
            flow = flows.get("authorizationCode") or (scheme if scheme.get("flow") == "accessCode" else None)
            if flow and flow.get("authorizationUrl") and flow.get("tokenUrl"):
                entry: dict[str, Any] = {"authorize_url": flow["authorizationUrl"], "token_url": flow["tokenUrl"]}
                scopes = list(flow.get("scopes") or {})
                if 0 < len(scopes) <= 12:  # a handful: ask for all; many: the operator picks (auth config scopes)
                    entry["default_scopes"] = scopes
                if flow.get("refreshUrl"):
                    entry["refresh_url"] = flow["refreshUrl"]
                oauth.append({"type": "oauth2", "oauth2": entry})
        elif kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer" or kind == "bearer":
            tokens.append(
                {
                    "type": "bearer_token",
                    "label": "Access token",
                    "help": trim(str(scheme.get("description") or ""), 300, 1) or None,
                }
            )
        elif kind == "basic" or (kind == "http" and str(scheme.get("scheme", "")).lower() == "basic"):
            tokens.append({"type": "basic", "help": trim(str(scheme.get("description") or ""), 300, 1) or None})
        elif kind == "apikey" and scheme.get("in") in ("header", "query"):
            tokens.append(
                {
                    "type": "api_key",
                    "api_key_in": scheme["in"],
                    "api_key_name": scheme.get("name", name),
                    "label": "API key",
                    "help": trim(str(scheme.get("description") or ""), 300, 1) or None,
                }
            )
    schemes = oauth[:1] + tokens
    return [{k: v for k, v in s.items() if v is not None} for s in schemes] or [{"type": "none"}]


def build(
    path: Path, slug: str, include: list[str] | None = None, specs_root: Path | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The toolkit.yaml content for the description at `path`, and the operations left out (with why)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", slug):
        raise InvalidInput(f"--slug {slug!r}: use 2-64 lower-case letters, digits and '_', starting with a letter")
    document = api_specs.load_document(path)
    kind = api_specs.detect_format(document)
    api = api_specs.load(path.resolve(), kind)
    operations = [op for op in api.operations.values() if _selected(op, include or []) and not op.deprecated]
    if not operations:
        raise InvalidInput(
            f"no operation of {path.name} matches --include {include}; use tag names or path prefixes (starting with /)"
        )
    base_url = api.servers[0] if api.servers else ""
    base_path = ""
    if kind == "google_discovery":
        service = "/" + str(document.get("servicePath") or "").strip("/")
        base_path = service if service != "/" else ""
        base_url = str(document.get("rootUrl") or "").rstrip("/") + base_path
    variables = _server_vars(document)
    base_url = re.sub(r"\{([^}]+)\}", lambda m: variables.get(m.group(1)) or m.group(0), base_url).rstrip("/")
    prefix = slug.upper()
    taken: set[str] = set()
    tools: list[dict[str, Any]] = []
    skipped: list[str] = []
    for op in sorted(operations, key=lambda o: (o.path, o.method)):
        tool, why = _tool(
            op, unique_slug(prefix, action_name(op, kind == "google_discovery"), taken), base_path, api.title or slug
        )
        if tool is None:
            skipped.append(f"{op.method} {op.path}: {why}")
        else:
            tools.append(tool)
    if not tools:
        raise InvalidInput(
            f"none of the {len(operations)} selected operations can be a declarative tool: " + "; ".join(skipped[:3])
        )
    title = api.title or slug
    toolkit: dict[str, Any] = {
        "slug": slug,
        "name": title,
        "description": trim(api.description, 400, 2)
        if len(trim(api.description, 400, 2)) >= 10
        else f"{title}: tools imported from its published API description.",
        "base_url": base_url,
        "auth_schemes": _auth(api),
    }
    root = (specs_root or DEFAULT_SPECS).resolve()
    try:
        relative = path.resolve().relative_to(root)
        toolkit["api_spec"] = {
            "file": relative.as_posix(),
            "format": kind,
            **({"base_path": base_path} if base_path else {}),
        }
    except ValueError:
        pass
    toolkit["tools"] = tools
    return toolkit, skipped


def _server_vars(document: dict[str, Any]) -> dict[str, str]:
    servers = document.get("servers") or [{}]
    variables = (servers[0] or {}).get("variables") or {}
    return {k: str(v.get("default", "")) for k, v in variables.items() if isinstance(v, dict)}


def import_spec(
    path: Path, slug: str, include: list[str] | None, out: Path, specs_root: Path | None = None
) -> ImportResult:
    """Write `out/<slug>/toolkit.yaml` and load it back (a folder that does not load is never left behind)."""
    toolkit, skipped = build(path, slug, include, specs_root)
    folder = out / slug
    if (folder / TOOLKIT_FILE).exists():
        raise InvalidInput(f"{folder / TOOLKIT_FILE} already exists; remove it or choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Imported by `concierge toolkits import-openapi` from {path.name}"
        + (f" (--include {' '.join(include)})" if include else "")
        + ".\n"
        "# Review descriptions, hints and auth; add `paginate:` blocks and `max_results` to list tools.\n"
    )
    text = header + yaml.safe_dump(toolkit, sort_keys=False, allow_unicode=True, width=120)
    (folder / TOOLKIT_FILE).write_text(text, encoding="utf-8")
    try:
        load_toolkit_folder(folder)
    except ConfigError:
        (folder / TOOLKIT_FILE).unlink()
        raise
    return ImportResult(folder, len(toolkit["tools"]), skipped)
