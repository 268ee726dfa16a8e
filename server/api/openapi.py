"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from server.api.routes import ApiRoute
from server.api.schemas import ErrorOut

REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def build_openapi(table: list[ApiRoute], prefix: str, extra_paths: dict[str, Any]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    error = {"description": "error", "content": {"application/json": {"schema": _schema(ErrorOut, components)}}}
    paths: dict[str, Any] = {}
    for route in table:
        op: dict[str, Any] = {"summary": route.summary, "operationId": route.handler.__name__,
                              "security": [{"bearer": []}, {"apiKey": []}],
                              "responses": {"default": error}}
        params = re.findall(r"\{(\w+)(?::\w+)?\}", route.path)
        if params:
            op["parameters"] = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                for p in params]
        if route.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": _schema(route.body, components)}}}
        ok: dict[str, Any] = {"description": "OK"}
        if route.response is not None:
            ok["content"] = {"application/json": {"schema": _schema(route.response, components)}}
        op["responses"][str(route.status)] = ok
        paths.setdefault(prefix + route.path.replace(":path}", "}"), {})[route.method.lower()] = op
    paths.update(extra_paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Concierge REST API", "version": "0.1.0",
                 "description": "Sessions, toolkits and tools of a Concierge server. Every call needs the admin "
                                "API key as `Authorization: Bearer <key>` or `x-api-key: <key>`."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}},
    }


def openapi_endpoint(document: dict[str, Any]):  # noqa: ANN201 - a Starlette endpoint
    async def serve(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return serve
