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

REF = "#/components/schemas/{model}"
# Bodies whose `toolkit` must name a toolkit that needs a connection (others are refused with 400).
AUTH_TOOLKIT_BODIES = ("AuthorizeRequest", "LinkRequest", "AuthConfigCreate")


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _operation(route: ApiRoute, components: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": route.summary, "operationId": route.handler.__name__,
                          "security": [{"bearer": []}, {"apiKey": []}], "responses": {"default": error}}
    params: list[dict[str, Any]] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                    for p in re.findall(r"\{(\w+)(?::\w+)?\}", route.path)]
    params += [{"name": q.name, "in": "query", "required": q.required, "schema": q.schema} for q in route.query]
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": route.body_required,
                             "content": {"application/json": {"schema": _schema(route.body, components)}}}
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(route.response, components)}}
    op["responses"][str(route.status)] = ok
    return op


def _toolkit_enums(components: dict[str, Any], catalog: Catalog) -> None:
    slugs = sorted(slug for slug, toolkit in catalog.toolkits.items() if toolkit.needs_auth)
    for name in AUTH_TOOLKIT_BODIES:
        prop = components.get(name, {}).get("properties", {}).get("toolkit")
        if prop is not None:
            prop.pop("type", None)
            prop.update({"enum": slugs} if slugs else {"not": {}})


def build_openapi(table: list[ApiRoute], prefix: str, extra_paths: dict[str, Any],
                  catalog: Catalog | None = None) -> dict[str, Any]:
    components: dict[str, Any] = {}
    error = {"description": "error", "content": {"application/json": {"schema": _schema(ErrorOut, components)}}}
    paths: dict[str, Any] = {}
    for route in table:
        paths.setdefault(prefix + route.path.replace(":path}", "}"), {})[route.method.lower()] = \
            _operation(route, components, error)
    paths.update(extra_paths)
    if catalog is not None:
        _toolkit_enums(components, catalog)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Concierge REST API", "version": "0.1.0",
                 "description": "Sessions, toolkits and tools of a Concierge server. Every call needs the admin "
                                "API key as `Authorization: Bearer <key>` or `x-api-key: <key>`. Every error "
                                "is `{\"error\": {code, message, details}}`; 429 carries `Retry-After`."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}},
    }


def openapi_endpoint(document: Callable[[Request], dict[str, Any]]) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def serve(request: Request) -> JSONResponse:
        return JSONResponse(document(request))

    return serve
