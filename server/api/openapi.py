"""The OpenAPI 3.1 document, generated from the route table, the pydantic models and this server's
catalog (toolkit slugs a body may name), so what it documents is what the server accepts."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from server.api.routes import ApiRoute
from server.api.schemas import ErrorOut
from server.catalog.catalog import Catalog
from server.sessions.options import MAX_USER_ID

REF = "#/components/schemas/{model}"
# Bodies whose `toolkit` must name a toolkit that needs a connection (others are refused with 400).
AUTH_TOOLKIT_BODIES = ("AuthorizeRequest", "LinkRequest", "AuthConfigCreate")


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _operation(route: ApiRoute, components: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": route.handler.__name__,
        "security": [{"bearer": []}, {"apiKey": []}],
        "responses": {"default": error},
    }
    if route.body is not None:
        op["responses"]["422"] = {
            **error,
            "description": "the body matches the schema but cannot be done (unknown names, options that clash)",
        }
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in re.findall(r"\{(\w+)(?::\w+)?\}", route.path)
    ]
    params += [{"name": q.name, "in": "query", "required": q.required, "schema": q.schema} for q in route.query]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": {"schema": _schema(route.body, components)}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(route.response, components)}}
    op["responses"][str(route.status)] = ok
    return op


def _toolkit_enums(components: dict[str, Any], catalog: Catalog) -> None:
    """`toolkit` names a toolkit that needs a connection; an auth config's schemes and tools are that
    toolkit's own (one `oneOf` branch per toolkit)."""
    needing = {slug: toolkit for slug, toolkit in sorted(catalog.toolkits.items()) if toolkit.needs_auth}
    for name in AUTH_TOOLKIT_BODIES:
        prop = components.get(name, {}).get("properties", {}).get("toolkit")
        if prop is not None:
            prop.pop("type", None)
            rule: dict[str, Any] = {"enum": list(needing)} if needing else {"not": {}}
            prop.update(rule)
    create = components.get("AuthConfigCreate")
    if create is not None and needing:
        create["oneOf"] = [
            {
                "properties": {
                    "toolkit": {"const": slug},
                    "auth_scheme": {"enum": [s.type for s in toolkit.auth_schemes if s.type != "none"] + [None]},
                    "restrict_to_tools": {
                        "anyOf": [{"type": "array", "items": {"enum": sorted(toolkit.tools)}}, {"type": "null"}]
                    },
                }
            }
            for slug, toolkit in needing.items()
        ]


def _exactly_one(component: dict[str, Any], names: tuple[str, ...]) -> None:
    """Selectors take exactly one non-null list (or a bare list, meaning `enable`)."""
    component["oneOf"] = [{"required": [n], "properties": {n: {"type": "array"}}} for n in names]
    _shorthand(component, {"type": "array", "items": {"type": "string"}})


def _shorthand(component: dict[str, Any], alternative: dict[str, Any]) -> None:
    body = dict(component)
    component.clear()
    component.update({"anyOf": [alternative, body]})


def _session_rules(components: dict[str, Any]) -> None:
    """What the session models' validators accept besides their fields: shorthands (a bare list means
    `enable`, a bare boolean for `manage_connections`), the `sandbox` alias, one-of selectors."""
    user_id = components.get("SessionCreate", {}).get("properties", {}).get("user_id")
    if user_id is not None:
        user_id.update({"minLength": 1, "maxLength": MAX_USER_ID, "pattern": r"\S"})
    for name in ("SessionCreate", "SessionUpdate"):
        model = components.get(name)
        if model is not None and "workbench" in model["properties"]:
            model["properties"]["sandbox"] = {
                **model["properties"]["workbench"],
                "deprecated": True,
                "description": "alias of `workbench` (give one, not both)",
            }
            model["not"] = {"required": ["workbench", "sandbox"]}
    if "TagSelector" in components:
        _shorthand(components["TagSelector"], {"type": "array", "items": {"type": "string"}})
    if "ManageConnections" in components:
        _shorthand(components["ManageConnections"], {"type": "boolean"})
    if "ToolkitSelector" in components:
        _exactly_one(components["ToolkitSelector"], ("enable", "disable"))
    if "ToolSelector" in components:
        _exactly_one(components["ToolSelector"], ("enable", "disable", "tags"))


def build_openapi(
    table: list[ApiRoute], prefix: str, extra_paths: dict[str, Any], catalog: Catalog | None = None
) -> dict[str, Any]:
    components: dict[str, Any] = {}
    error = {"description": "error", "content": {"application/json": {"schema": _schema(ErrorOut, components)}}}
    paths: dict[str, Any] = {}
    for route in table:
        paths.setdefault(prefix + route.path.replace(":path}", "}"), {})[route.method.lower()] = _operation(
            route, components, error
        )
    paths.update(extra_paths)
    _session_rules(components)
    if catalog is not None:
        _toolkit_enums(components, catalog)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Concierge REST API",
            "version": "0.1.0",
            "description": "Sessions, toolkits and tools of a Concierge server. Every call needs the admin "
            "API key as `Authorization: Bearer <key>` or `x-api-key: <key>`. Every error "
            'is `{"error": {code, message, details}}`; 429 carries `Retry-After`.',
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


def openapi_endpoint(document: Callable[[Request], dict[str, Any]]) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def serve(request: Request) -> JSONResponse:
        return JSONResponse(document(request))

    return serve
