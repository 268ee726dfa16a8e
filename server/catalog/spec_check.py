"""Every HTTP tool checked against its provider's own published API description.

A toolkit names its description in toolkit.yaml (`api_spec: {file, format, base_path}`, the file
relative to the api-specs folder). For each HTTP tool the check finds the operation by method and
path template (parameter names normalised) and reports a mismatch when: the operation does not
exist; the path parameters differ in number or are not required; a parameter the provider requires
is not required by the tool; an enum offers values the provider does not accept; a query parameter
or body field is unknown to the provider. GraphQL tools are validated with graphql-core against the
schema (fields, arguments, variable types). Tools the description cannot cover (a subset, methods
newer than the file) are listed in `api_spec.not_in_spec` with the reason and count as unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from server.catalog import api_specs
from server.catalog.model import Tool, Toolkit
from server.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPECS = REPO_ROOT.parent / "shared" / "data" / "api-specs"
# Query parameters that carry credentials or transport options, never a tool's business.
_TRANSPORT = {
    "token",
    "access_token",
    "key",
    "alt",
    "prettyPrint",
    "fields",
    "quotaUser",
    "callback",
    "$.xgafv",
    "oauth_token",
    "upload_protocol",
    "uploadType",
}


@dataclass(slots=True)
class ToolResult:
    slug: str
    checked: bool
    problems: list[str] = field(default_factory=list)
    reason: str = ""  # why it was not checked
    operation: str = ""


@dataclass(slots=True)
class ToolkitReport:
    toolkit: str
    spec: str
    results: list[ToolResult]

    @property
    def http_tools(self) -> int:
        return len(self.results)

    @property
    def checked(self) -> int:
        return sum(1 for r in self.results if r.checked)

    @property
    def mismatches(self) -> list[str]:
        return [f"{r.slug}: {p}" for r in self.results for p in r.problems]

    @property
    def coverage(self) -> float:
        return self.checked / self.http_tools if self.http_tools else 1.0

    def line(self) -> str:
        return (
            f"{self.toolkit}: {self.checked}/{self.http_tools} HTTP tools checked against {self.spec} "
            f"({self.coverage:.0%}), {len(self.mismatches)} mismatches"
        )


def specs_dir(explicit: Path | None = None) -> Path:
    """The api-specs folder: given, or ../shared/data/api-specs beside the repository."""
    folder = explicit or DEFAULT_SPECS
    if not folder.is_dir():
        raise ConfigError(
            f"the providers' API descriptions are not at {folder}; the spec check needs them (the "
            "shared data folder ../shared/data/api-specs next to the repository, or --specs DIR)"
        )
    return folder


def check_toolkit(toolkit: Toolkit, folder: Path) -> ToolkitReport | None:
    """None when the toolkit declares no description."""
    spec = toolkit.api_spec
    if spec is None:
        return None
    path = folder / spec.file
    if not path.is_file():
        raise ConfigError(f"{toolkit.slug}: api_spec.file {spec.file!r} is not in {folder}")
    excused = dict(spec.not_in_spec)
    unknown = sorted(set(excused) - set(toolkit.tools))
    results: list[ToolResult] = []
    if unknown:
        results.append(ToolResult("(api_spec.not_in_spec)", True, [f"names tools that do not exist: {unknown}"]))
    http_tools = [t for t in toolkit.tools.values() if t.http is not None]
    if spec.format == "graphql":
        schema = _graphql_schema(path)
        for tool in http_tools:
            if tool.slug in excused:
                results.append(ToolResult(tool.slug, False, reason=excused[tool.slug]))
            elif tool.http is None or tool.http.graphql is None:
                results.append(ToolResult(tool.slug, False, reason="not a GraphQL tool"))
            else:
                results.append(_check_graphql(tool, schema))
        return ToolkitReport(toolkit.slug, spec.file, results)
    description = api_specs.load(path, spec.format)
    for tool in http_tools:
        if tool.slug in excused:
            results.append(ToolResult(tool.slug, False, reason=excused[tool.slug]))
        else:
            results.append(_check_http(tool, toolkit, description, spec.base_path))
    return ToolkitReport(toolkit.slug, spec.file, results)


def check_catalog(toolkits: list[Toolkit], folder: Path) -> list[ToolkitReport]:
    return [r for r in (check_toolkit(tk, folder) for tk in toolkits) if r is not None]


def _check_http(tool: Tool, toolkit: Toolkit, api: api_specs.ApiDescription, base_path: str) -> ToolResult:
    http = tool.http
    assert http is not None
    full = base_path.rstrip("/") + http.path
    op = api.find(http.method, full)
    if op is None:
        others = sorted(m for (m, p) in api.operations if p == api_specs.template(full))
        why = (
            f"the provider has {full} only as {', '.join(others)}"
            if others
            else f"{http.method} {full} is not in the provider's description"
        )
        return ToolResult(tool.slug, True, [why])
    result = ToolResult(tool.slug, True, operation=f"{op.method} {op.path}")
    problems = result.problems
    props: dict[str, Any] = dict(tool.input_schema.get("properties") or {})
    required = set(tool.input_schema.get("required") or [])
    prepared = tool.prepare is not None  # a prepare hook makes arguments the schema does not list

    unsent = sorted(set(props) - http.mapped - {"max_results"}) if http.body != "*" and not prepared else []
    if unsent:
        problems.append(f"arguments {unsent} are never sent (not in the path, query, headers or body)")
    spec_path = api_specs.placeholders(op.path)
    if len(spec_path) != len(http.path_params):
        problems.append(f"path parameters {http.path_params} do not match the provider's {spec_path}")
    for name in http.path_params:
        if name not in required and not prepared and name not in (toolkit.default_headers or {}):
            problems.append(f"path parameter {name!r} must be required")

    query_names = {p.name for p in op.params if p.location == "query"} | api.global_query
    form_names = {p.name for p in op.params if p.location in ("formData", "query")}
    for name in http.query:
        if name not in query_names and not (api.format == "swagger" and name in form_names):
            problems.append(f"query parameter {name!r} is not one the provider accepts")

    body_names = _body_names(tool)
    spec_fields, spec_required = api_specs.object_fields(op.body)
    if api.format == "swagger" and op.body is None:
        spec_fields = form_names
    if body_names and http.graphql is None:
        if op.body is None and not (api.format == "swagger" and form_names):
            problems.append(f"sends a body ({sorted(body_names)}) but the provider's operation takes none")
        elif spec_fields is not None:
            unknown = sorted(body_names - spec_fields)
            if unknown:
                problems.append(f"body fields {unknown} are not in the provider's request body")

    sent = set(http.query) | body_names | set(http.path_params)
    for p in op.params:
        if not p.required or p.location in ("path", "header", "cookie") or p.name in _TRANSPORT:
            continue
        if _credential_param(toolkit, p.name):
            continue
        if p.name not in sent and not prepared:
            problems.append(f"the provider requires {p.location} parameter {p.name!r}; the tool does not send it")
        elif p.name in props and p.name not in required and "default" not in props[p.name]:
            problems.append(f"the provider requires {p.name!r}; the tool must require it (or give a default)")
    if spec_fields is not None:  # a required name the description never defines is its own slip (Figma webhooks)
        spec_required &= spec_fields
    if op.body_required and not prepared:  # Swagger form parameters were checked with the parameters above
        for name in sorted(spec_required - sent):
            problems.append(f"the provider requires body field {name!r}; the tool does not send it")
        for name in sorted(spec_required & body_names):
            if name in props and name not in required and "default" not in props[name]:
                problems.append(f"the provider requires body field {name!r}; the tool must require it")

    for name, prop in props.items():
        ours = prop.get("enum") or (prop.get("items") or {}).get("enum")
        if not ours:
            continue
        theirs = _spec_enum(op, name, body_names)
        if theirs is not None:
            extra = [v for v in ours if v not in theirs and v is not None]
            if extra:
                problems.append(f"{name}: values {extra} are not among the provider's {theirs}")
    return result


def _body_names(tool: Tool) -> set[str]:
    http = tool.http
    assert http is not None
    if http.body == "*":
        used = set(http.path_params) | set(http.query) | set(http.headers)
        return {n for n in (tool.input_schema.get("properties") or {}) if n not in used and n != "max_results"}
    return set(http.body or [])


def _credential_param(toolkit: Toolkit, name: str) -> bool:
    return any(s.type == "api_key" and s.api_key_in == "query" and s.api_key_name == name for s in toolkit.auth_schemes)


def _spec_enum(op: api_specs.Operation, name: str, body_names: set[str]) -> list[Any] | None:
    param = op.param(name)
    if param is not None:
        return param.enum
    if name in body_names and isinstance(op.body, dict):
        prop = _body_property(op.body, name)
        if prop is not None:
            values = prop.get("enum") or (prop.get("items") or {}).get("enum")
            return list(values) if values else None
    return None


def _body_property(schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    prop = (schema.get("properties") or {}).get(name)
    if isinstance(prop, dict):
        return prop
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key) or []:
            if isinstance(part, dict) and (found := _body_property(part, name)) is not None:
                return found
    return None


@lru_cache(maxsize=4)
def _graphql_schema(path: Path) -> Any:
    from graphql import build_schema

    return build_schema(path.read_text(encoding="utf-8"))


def _check_graphql(tool: Tool, schema: Any) -> ToolResult:
    """The operation must validate against the schema; every declared variable is passed from an argument,
    and a non-null variable without a default is a required argument."""
    from graphql import GraphQLError, NonNullTypeNode, OperationDefinitionNode, parse, validate

    http = tool.http
    assert http is not None and http.graphql is not None
    result = ToolResult(tool.slug, True)
    try:
        document = parse(http.graphql.query)
    except GraphQLError as exc:
        result.problems.append(f"the GraphQL operation does not parse: {exc.message}")
        return result
    result.problems.extend(f"GraphQL: {e.message}" for e in validate(schema, document))
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    result.operation = " ".join(
        f"{op.operation.value} {sel.name.value}"
        for op in operations
        for sel in op.selection_set.selections
        if hasattr(sel, "name")
    )
    required = set(tool.input_schema.get("required") or [])
    passed = set(http.graphql.variables)
    unsent = sorted(set(tool.input_schema.get("properties") or {}) - http.mapped - {"max_results"})
    if unsent and tool.prepare is None:
        result.problems.append(f"arguments {unsent} are never sent (not GraphQL variables)")
    for op in operations:
        for var in op.variable_definitions or []:
            name = var.variable.name.value
            if name not in passed:
                result.problems.append(f"GraphQL variable ${name} is declared but not in graphql.variables")
            elif (
                isinstance(var.type, NonNullTypeNode)
                and var.default_value is None
                and name not in required
                and tool.prepare is None
            ):
                result.problems.append(f"GraphQL variable ${name} is non-null; argument {name!r} must be required")
        declared = {v.variable.name.value for v in op.variable_definitions or []}
        for name in sorted(passed - declared):
            result.problems.append(f"graphql.variables names {name!r}, which the operation does not declare")
    return result
