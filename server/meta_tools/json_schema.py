"""Small JSON Schema builders for the meta tools' output schemas, and `$ref` inlining for their input
schemas (strict-mode converters such as the OpenAI Agents SDK's refuse schemas built on `$defs`)."""

from __future__ import annotations

from typing import Any

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}
BOOL: dict[str, Any] = {"type": "boolean"}
OBJ: dict[str, Any] = {"type": "object"}
STRS: dict[str, Any] = {"type": "array", "items": STR}
OPT_STR: dict[str, Any] = {"type": ["string", "null"]}
OPT_INT: dict[str, Any] = {"type": ["integer", "null"]}
OPT_OBJ: dict[str, Any] = {"type": ["object", "null"]}

# The data of a failed call (`failed()` in base.py): the error code, plus the error's details.
FAILURE_DATA: dict[str, Any] = {"type": "object", "properties": {"error_code": STR}, "required": ["error_code"]}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """An object with these required (and optional) properties; unlisted keys are allowed, so a new
    field never breaks a client that validates results."""
    return {"type": "object", "properties": {**required, **(optional or {})}, "required": list(required), **extra}


def arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def mapping(values: dict[str, Any]) -> dict[str, Any]:
    """An object keyed by slugs (tool or toolkit), every value of one shape."""
    return {"type": "object", "additionalProperties": values}


def envelope(data: dict[str, Any]) -> dict[str, Any]:
    """Every meta tool answers `{data, error, successful}`; when it fails, `data` may be FAILURE_DATA."""
    return obj({"data": {"anyOf": [data, FAILURE_DATA]}, "error": OPT_STR, "successful": BOOL})


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every local `#/$defs/...` reference replaced by its definition (our input
    models are not recursive), and no `$defs` left."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = walk(defs[ref.removeprefix("#/$defs/")])
                return target | {k: walk(v) for k, v in node.items() if k != "$ref"}
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)
