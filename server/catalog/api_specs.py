"""Providers' published API descriptions read into one shape: operations with their parameters.

OpenAPI 3.0/3.1 and Swagger 2.0 (JSON or YAML) and Google discovery documents all become
`Operation`s keyed by method and path template, so the spec check and the OpenAPI importer read
one model. Local `$ref`s are inlined by `Resolver`, which cuts cycles (a schema that contains
itself, like a comment tree) at the first repeat instead of recursing forever.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from server.errors import ConfigError

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_PLACEHOLDER = re.compile(r"\{\+?([^}/]+)\}")
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def template(path: str) -> str:
    """A path with every parameter name replaced, so `/users/{user-id}` and `/users/{user_id}` compare equal."""
    return _PLACEHOLDER.sub("{}", "/" + path.lstrip("/")).rstrip("/") or "/"


def placeholders(path: str) -> list[str]:
    return _PLACEHOLDER.findall(path)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    location: str  # path | query | header | formData | cookie
    required: bool = False
    schema: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def enum(self) -> list[Any] | None:
        values = self.schema.get("enum") or (self.schema.get("items") or {}).get("enum")
        return list(values) if values else None


@dataclass(slots=True)
class Operation:
    method: str  # upper case
    path: str  # as written in the description (full path for discovery documents)
    operation_id: str = ""
    summary: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    body: dict[str, Any] | None = None  # resolved JSON Schema of the request body
    body_required: bool = False
    body_media: str = ""  # application/json, application/x-www-form-urlencoded, ...
    deprecated: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


@dataclass(slots=True)
class ApiDescription:
    format: str
    title: str
    servers: list[str]
    operations: dict[tuple[str, str], Operation]  # (METHOD, template(path)) -> operation
    security_schemes: dict[str, dict[str, Any]] = field(default_factory=dict)
    global_query: set[str] = field(default_factory=set)  # discovery: alt, fields, key, ...
    description: str = ""

    def find(self, method: str, path: str) -> Operation | None:
        return self.operations.get((method.upper(), template(path)))


class Resolver:
    """Inlines local `$ref`s (`#/components/schemas/X`, `#/definitions/X`), cutting cycles.

    Hand-written rather than `jsonref`: jsonref gives lazy proxies that stay cyclic, while the
    importer and the checker both need plain, finite JSON, and a cut cycle must become a plain
    `{"type": "object"}` with the reference's name in its description.
    """

    def __init__(self, document: dict[str, Any], bare: str | None = None) -> None:
        self.document = document
        self.bare = bare  # discovery documents name schemas bare (`Message` = `#/schemas/Message`)

    def lookup(self, ref: str) -> Any:
        if self.bare is not None and not ref.startswith("#"):
            ref = self.bare + ref
        if not ref.startswith("#/"):
            raise ConfigError(f"only local $refs are supported, not {ref!r}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[part] if isinstance(node, dict) else node[int(part)]
        return node

    def resolve(self, node: Any, seen: tuple[str, ...] = (), depth: int = 0) -> Any:
        if depth > 40:
            return {"type": "object"}
        if isinstance(node, list):
            return [self.resolve(v, seen, depth + 1) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                return {"type": "object", "description": f"(recursive: {ref.rsplit('/', 1)[-1]})"}
            target = self.resolve(self.lookup(ref), (*seen, ref), depth + 1)
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return {**target, **self.resolve(extra, seen, depth + 1)} if isinstance(target, dict) else target
        return {k: self.resolve(v, seen, depth + 1) for k, v in node.items()}


def object_fields(schema: dict[str, Any] | None) -> tuple[set[str] | None, set[str]]:
    """(property names, required names) of a resolved object schema; None when any name is allowed
    or the shape cannot be told (free-form objects, non-object bodies)."""
    if not isinstance(schema, dict):
        return None, set()
    names: set[str] = set(schema.get("properties") or {})
    required: set[str] = set(schema.get("required") or [])
    open_ended = False
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key) or []:
            sub, sub_required = object_fields(part)
            if sub is None:
                open_ended = True
                continue
            names |= sub
            if key == "allOf":
                required |= sub_required
    extra = schema.get("additionalProperties")
    if not names and not open_ended and schema.get("type") not in ("object", None):
        return None, set()
    if open_ended or (not names and extra is not False) or (isinstance(extra, dict) and extra):
        return None, required
    return names, required


def load_document(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"API description {path} not found")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=SAFE_LOADER)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not an API description (expected a mapping at the top level)")
    return data


def detect_format(document: dict[str, Any]) -> str:
    if "openapi" in document:
        return "openapi"
    if "swagger" in document:
        return "swagger"
    if document.get("kind") == "discovery#restDescription":
        return "google_discovery"
    raise ConfigError("not an OpenAPI 3.x, Swagger 2.0 or Google discovery document")


@lru_cache(maxsize=16)
def load(path: Path, format: str | None = None) -> ApiDescription:
    """The description at `path` (cached: the big ones take a second to read)."""
    document = load_document(path)
    kind = format or detect_format(document)
    if kind == "google_discovery":
        return from_discovery(document)
    if kind in ("openapi", "swagger"):
        return from_openapi(document)
    raise ConfigError(f"{path}: format {kind!r} is not an HTTP API description")


def _params(raw: list[Any], resolver: Resolver) -> list[Param]:
    out = []
    for item in raw or []:
        p = resolver.resolve(item)
        if not isinstance(p, dict) or "name" not in p:
            continue
        schema = p.get("schema") or {
            k: v for k, v in p.items() if k in ("type", "enum", "items", "format", "default", "minimum", "maximum")
        }
        out.append(
            Param(
                str(p["name"]),
                str(p.get("in", "query")),
                bool(p.get("required")) or p.get("in") == "path",
                schema if isinstance(schema, dict) else {},
                str(p.get("description") or ""),
            )
        )
    return out


def from_openapi(document: dict[str, Any]) -> ApiDescription:
    resolver = Resolver(document)
    swagger = "swagger" in document
    operations: dict[tuple[str, str], Operation] = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        item = resolver.resolve(item) if "$ref" in item else item
        shared = item.get("parameters") or []
        for method in HTTP_METHODS:
            raw = item.get(method)
            if not isinstance(raw, dict):
                continue
            own = _params(raw.get("parameters") or [], resolver)
            names = {(p.name, p.location) for p in own}
            params = own + [p for p in _params(shared, resolver) if (p.name, p.location) not in names]
            op = Operation(
                method.upper(),
                path,
                str(raw.get("operationId") or ""),
                str(raw.get("summary") or ""),
                str(raw.get("description") or ""),
                [str(t) for t in raw.get("tags") or []],
                deprecated=bool(raw.get("deprecated")),
            )
            if swagger:
                body = next((p for p in params if p.location == "body"), None)
                if body is not None:
                    op.body, op.body_required, op.body_media = body.schema, body.required, "application/json"
                op.params = [p for p in params if p.location != "body"]
                consumes = raw.get("consumes") or document.get("consumes") or []
                if any(p.location == "formData" for p in op.params):
                    op.body_media = (
                        "application/x-www-form-urlencoded"
                        if not any("multipart" in c for c in consumes)
                        else "multipart/form-data"
                    )
            else:
                op.params = params
                request = resolver.resolve(raw.get("requestBody")) if raw.get("requestBody") else None
                if isinstance(request, dict):
                    content = request.get("content") or {}
                    media = next((m for m in content if "json" in m), next(iter(content), ""))
                    op.body = (content.get(media) or {}).get("schema") if media else None
                    op.body_required, op.body_media = bool(request.get("required")), media
            operations[(op.method, template(path))] = op
    if swagger:
        base = document.get("basePath") or ""
        servers = [f"{(document.get('schemes') or ['https'])[0]}://{document.get('host', '')}{base}"]
        schemes = document.get("securityDefinitions") or {}
    else:
        servers = [str(s.get("url", "")) for s in document.get("servers") or [] if isinstance(s, dict)]
        schemes = (document.get("components") or {}).get("securitySchemes") or {}
    info = document.get("info") or {}
    return ApiDescription(
        "swagger" if swagger else "openapi",
        str(info.get("title") or ""),
        servers,
        operations,
        {k: resolver.resolve(v) for k, v in schemes.items()},
        description=str(info.get("description") or ""),
    )


def from_discovery(document: dict[str, Any]) -> ApiDescription:
    """Google discovery: methods nested in resources; paths relative to rootUrl + servicePath."""
    service = "/" + str(document.get("servicePath") or "").strip("/")
    schemas = document.get("schemas") or {}
    resolver = Resolver({"schemas": schemas}, bare="#/schemas/")
    operations: dict[tuple[str, str], Operation] = {}

    def walk(resource: dict[str, Any], tags: list[str]) -> None:
        for method in (resource.get("methods") or {}).values():
            path = service.rstrip("/") + "/" + str(method.get("path", "")).lstrip("/")
            params = []
            for name, p in (method.get("parameters") or {}).items():
                schema = {
                    k: v
                    for k, v in p.items()
                    if k in ("type", "enum", "items", "format", "default", "minimum", "maximum")
                }
                if p.get("repeated"):
                    schema = {"type": "array", "items": schema}
                params.append(
                    Param(
                        name,
                        str(p.get("location", "query")),
                        bool(p.get("required")),
                        schema,
                        str(p.get("description") or ""),
                    )
                )
            op = Operation(
                str(method.get("httpMethod", "GET")).upper(),
                path,
                str(method.get("id") or ""),
                "",
                str(method.get("description") or ""),
                list(tags),
                params,
                deprecated=bool(method.get("deprecated")),
            )
            request = method.get("request")
            if isinstance(request, dict) and "$ref" in request:
                op.body = resolver.resolve({"$ref": request["$ref"]})
                op.body_required, op.body_media = True, "application/json"
            operations[(op.method, template(path))] = op
        for name, sub in (resource.get("resources") or {}).items():
            walk(sub, [*tags, name])

    walk(document, [])
    root = str(document.get("rootUrl") or "").rstrip("/")
    oauth = ((document.get("auth") or {}).get("oauth2") or {}).get("scopes") or {}
    return ApiDescription(
        "google_discovery",
        str(document.get("title") or document.get("name") or ""),
        [root + service],
        operations,
        {"oauth2": {"type": "oauth2", "scopes": sorted(oauth)}} if oauth else {},
        set(document.get("parameters") or {}),
        str(document.get("description") or ""),
    )
