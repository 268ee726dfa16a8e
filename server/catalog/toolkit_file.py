"""The toolkit definition file (`toolkits/<slug>/toolkit.yaml`) as pydantic models.

This is the edge where operator-written YAML enters the system, so every field is checked and
unknown keys are refused; `docs/toolkit.schema.json` is generated from these models
(`concierge toolkits schema`) so editors can check files as they are written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Literal

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TOOL_SLUG = r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$"
TOOLKIT_SLUG = r"^[a-z][a-z0-9_]{1,63}$"
TOOL_HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint", "createHint", "updateHint")


DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# The meta-schema's formats the pure-Python check enforces besides `regex` (`uri`, `uri-reference`) are
# checked only when an optional library is installed; with one, that check alone decides.
_FAST_CHECK_IS_ENOUGH = {"uri", "uri-reference"}.isdisjoint(Draft202012Validator.FORMAT_CHECKER.checkers)


@lru_cache(maxsize=8192)
def schema_problem(schema_json: str) -> str | None:
    """Checking a schema against the 2020-12 meta-schema in pure Python was most of a server's start
    (every built-in tool's schema, each time); jsonschema-rs answers "valid?" at a fraction of that,
    so the pure-Python check runs only to explain a schema it refuses (or one it cannot vouch for)."""
    schema = json.loads(schema_json)
    if _surely_valid(schema):
        return None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None


def _surely_valid(schema: Any) -> bool:
    """jsonschema-rs's meta-schema check leaves out `format: regex`, which the pure-Python one applies
    to every `pattern` and `patternProperties` key: those are compiled here, as that check does."""
    if not (_FAST_CHECK_IS_ENOUGH and isinstance(schema, dict)):
        return False
    draft = schema.get("$schema", DRAFT_2020_12)
    if not isinstance(draft, str) or draft.rstrip("#") != DRAFT_2020_12:
        return False
    try:
        if not jsonschema_rs.meta.is_valid(schema):
            return False
        for pattern in _patterns(schema):
            re.compile(pattern)
    except (re.error, ValueError, jsonschema_rs.ReferencingError):
        return False
    return True


def _patterns(node: Any) -> Iterator[str]:
    """Every string that may be a regex keyword's value; one that is only data (in `examples`, say) is
    compiled too, and if it does not compile the pure-Python check decides."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from value
            yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PAGE_STYLES = ("link_header", "cursor", "page_token", "graphql", "offset")
_STYLE_DEFAULTS: dict[str, dict[str, str]] = {
    "link_header": {"cursor_param": "page"},
    "page_token": {"cursor_param": "pageToken", "next_cursor": "nextPageToken"},
    "graphql": {"cursor_param": "after"},
    "offset": {"cursor_param": "offset"},
}


class PaginateBlock(_Strict):
    """How a tool's answer continues on further pages; gathered up to the call's `max_results` items.

    Dotted paths (`response_metadata.next_cursor`, `data.issues.pageInfo.endCursor`) read the page's
    JSON body; numbers index lists.
    """

    style: Literal["link_header", "cursor", "page_token", "graphql", "offset"]
    items: str | None = Field(
        None, description="dotted path of the list gathered across pages (default: the http block's result_path)"
    )
    cursor_param: str | None = Field(
        None,
        description="argument that carries the next cursor (defaults: "
        "link_header page, page_token pageToken, graphql after, "
        "offset offset)",
    )
    next_cursor: str | None = Field(
        None,
        description='dotted path of the next cursor in the body (""/null = done; '
        "default for page_token: nextPageToken)",
    )
    has_more: str | None = Field(None, description="dotted path of a boolean that says whether more pages exist")
    limit_param: str | None = Field(None, description="page-size argument, capped by max_results")
    total_path: str | None = Field(None, description="offset style: dotted path of the total item count")

    @model_validator(mode="before")
    @classmethod
    def _style_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("style") in _STYLE_DEFAULTS:
            data = {**_STYLE_DEFAULTS[data["style"]], **{k: v for k, v in data.items() if v is not None}}
        return data

    @model_validator(mode="after")
    def _complete(self) -> PaginateBlock:
        if self.style in ("cursor", "graphql") and not (self.cursor_param and self.next_cursor):
            raise ValueError(f"paginate style {self.style} needs `cursor_param` and `next_cursor`")
        return self


class GraphQLBlock(_Strict):
    """A GraphQL operation POSTed as `{query, variables}` to the http block's path."""

    query: str = Field(min_length=1)
    variables: list[str] = Field(default_factory=list, description="arguments passed as GraphQL variables")

    @field_validator("query")
    @classmethod
    def _parses(cls, query: str) -> str:
        from graphql import GraphQLSyntaxError, parse

        try:
            parse(query)
        except GraphQLSyntaxError as exc:
            raise ValueError(f"graphql.query does not parse: {exc.message} at {exc.locations}") from None
        return query


class HttpBlock(_Strict):
    """How an HTTP tool turns arguments into a request against the toolkit's `base_url`.

    `{name}` placeholders in `path` take arguments of that name; `query`, `headers` and `body`
    list the arguments sent there (body `"*"` = every argument not used elsewhere).
    """

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/")
    query: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict, description="argument name -> header name")
    body: list[str] | Literal["*"] | None = None
    body_format: Literal["json", "form"] = "json"
    result_path: str | None = Field(None, description="dotted path of the part of the response to return")
    paginate: PaginateBlock | Literal["link_header", "none"] = Field(
        "none", description="how further pages are fetched; `link_header` is short for {style: link_header}"
    )
    prepare: str | None = Field(
        None,
        description="function in the toolkit's handlers file, (arguments) -> "
        "arguments, run before the request is built",
    )
    transform: str | None = Field(
        None, description="function in the toolkit's handlers file, (data) -> data, run on the result"
    )
    graphql: GraphQLBlock | None = None

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{\+?([A-Za-z_][A-Za-z0-9_]*)\}", self.path)

    @property
    def pagination(self) -> PaginateBlock | None:
        if self.paginate == "none":
            return None
        if self.paginate == "link_header":
            return PaginateBlock(style="link_header")
        return self.paginate

    @property
    def mapped(self) -> set[str]:
        """Every argument this block sends somewhere by name."""
        names = set(self.path_params) | set(self.query) | set(self.headers)
        if isinstance(self.body, list):
            names |= set(self.body)
        if self.graphql is not None:
            names |= set(self.graphql.variables)
        return names

    @model_validator(mode="after")
    def _coherent(self) -> HttpBlock:
        if self.graphql is not None and (self.method != "POST" or self.body is not None):
            raise ValueError("a graphql tool is a POST with no `body:` (its variables are the body)")
        page = self.pagination
        if (
            page is not None
            and page.style != "link_header"
            and page.cursor_param not in self.mapped
            and self.body != "*"
        ):
            raise ValueError(
                f"paginate.cursor_param {page.cursor_param!r} must be sent somewhere: list it in "
                "query, body or graphql.variables"
            )
        if page is not None and page.limit_param and page.limit_param not in self.mapped and self.body != "*":
            raise ValueError(
                f"paginate.limit_param {page.limit_param!r} must be listed in query, body or graphql.variables"
            )
        return self


class OAuth2Fields(_Strict):
    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    refresh_url: str | None = None
    default_scopes: list[str] = Field(default_factory=list)
    scope_separator: str = " "
    authorize_params: dict[str, str] = Field(default_factory=dict)
    token_endpoint_auth_method: Literal["client_secret_post", "client_secret_basic"] = "client_secret_post"
    pkce: bool = True
    token_request_format: Literal["form", "json"] = "form"
    token_response_path: str | None = Field(
        None, description="dotted path to the token object when the provider nests it (Slack: authed_user)"
    )
    extra_token_params: dict[str, str] = Field(
        default_factory=dict, description="sent to the token endpoint with every code exchange"
    )
    url_params: dict[str, str] = Field(
        default_factory=dict,
        description="defaults for `{name}` placeholders in the endpoint URLs; the operator's "
        "[oauth_apps.<slug>] table overrides them (Microsoft: tenant = common)",
    )

    @model_validator(mode="after")
    def _placeholders_known(self) -> OAuth2Fields:
        for url in (self.authorize_url, self.token_url, self.revoke_url or "", self.refresh_url or ""):
            for name in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", url):
                if name not in self.url_params:
                    raise ValueError(f"{url}: placeholder {{{name}}} needs a default in oauth2.url_params")
        return self


class AfterConnect(_Strict):
    """A request made once with the new token after an OAuth connect, to fill an account field
    (Atlassian: the site's cloud id from accessible-resources)."""

    url: str = Field(pattern=r"^https?://")
    field: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="account field to fill")
    path: str = Field(description="dotted path of the value in the JSON answer (numbers index lists)")


class FieldSpec(_Strict):
    """One value a person types into the Connect page (API key, subdomain, username, ...)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    secret: bool = True
    required: bool = True
    description: str = ""


class AuthSchemeFile(_Strict):
    type: Literal["none", "oauth2", "api_key", "bearer_token", "basic"]
    oauth2: OAuth2Fields | None = None
    api_key_in: Literal["header", "query"] = "header"
    api_key_name: str = "Authorization"
    api_key_prefix: str = ""
    fields: list[FieldSpec] = Field(default_factory=list, description="extra fields asked on the Connect page")
    label: str | None = Field(None, description="what the Connect page calls the secret, e.g. `Bot token`")
    help: str | None = Field(None, max_length=400, description="one line: where a person gets this credential")
    base_url: str | None = Field(
        None,
        description="this scheme's API base URL when it differs from the "
        "toolkit's; `{field}` placeholders take account fields",
    )
    after_connect: AfterConnect | None = None

    @model_validator(mode="after")
    def _oauth2_needs_urls(self) -> AuthSchemeFile:
        if self.type == "oauth2" and self.oauth2 is None:
            raise ValueError("an oauth2 scheme needs an `oauth2:` block with authorize_url and token_url")
        if self.after_connect is not None and self.type != "oauth2":
            raise ValueError("after_connect runs after an OAuth connect; it needs type oauth2")
        return self


class ErrorsBlock(_Strict):
    """How the provider's answer becomes one clear sentence, and which 200 answers are errors."""

    ok_field: str | None = Field(None, description="a 200 whose body has this field false is an error (Slack: ok)")
    message_paths: list[str] = Field(
        default_factory=lambda: ["message", "error_description", "error.message", "error"],
        description="dotted paths tried in order; a list value is joined with '; '",
    )
    error_if_present: str | None = Field(
        None, description="a non-empty value here is an error even on 200 (GraphQL: errors)"
    )
    code_path: str | None = Field(
        None,
        description="dotted path of the provider's error code, matched against "
        "retry.body_errors (GraphQL: errors.0.extensions.code)",
    )


class RetryBlock(_Strict):
    """Rate-limit retries; 429 with Retry-After is always retried, these add to it."""

    statuses: list[int] = Field(default_factory=lambda: [429])
    body_errors: list[str] = Field(
        default_factory=list, description="provider error codes that mean rate limited (Slack: ratelimited)"
    )
    max_attempts: int = Field(3, ge=1, le=10)
    budget_seconds: float = Field(20, ge=0, le=300, description="total time spent waiting, never exceeded")


class ToolFile(_Strict):
    slug: str = Field(pattern=TOOL_SLUG)
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=10, max_length=4000)
    tags: list[str] = Field(default_factory=list)
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    output_description: str = ""
    python: str | None = Field(None, description="function name in the toolkit's handler module")
    inline: bool = Field(
        False,
        description="run a sync `python:` handler on the event loop instead of a worker "
        "thread; only for handlers that do no I/O and finish in microseconds",
    )
    http: HttpBlock | None = None

    @field_validator("input_schema")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") != "object":
            raise ValueError("input_schema must be a JSON Schema with `type: object`")
        problem = schema_problem(json.dumps(schema, sort_keys=True))
        if problem:
            raise ValueError(f"input_schema is not valid JSON Schema: {problem}")
        return schema

    @model_validator(mode="after")
    def _one_way_to_run(self) -> ToolFile:
        if (self.python is None) == (self.http is None):
            raise ValueError("a tool needs exactly one of `python:` (local handler) or `http:` (request template)")
        if self.http is not None and self.http.prepare is None:  # a prepare function may make new arguments
            props = set((self.input_schema.get("properties") or {}).keys())
            missing = sorted(self.http.mapped - props)
            if missing:
                raise ValueError(f"http block uses arguments not in input_schema.properties: {missing}")
        return self


class ApiSpec(_Strict):
    """Where the provider's own description lives, relative to the api-specs folder."""

    file: str = Field(pattern=r"^[^/].*")
    format: Literal["openapi", "swagger", "google_discovery", "graphql"]
    base_path: str = Field(
        "", description="prefix of the spec's paths that the toolkit's base_url already holds, e.g. /gmail/v1"
    )
    not_in_spec: dict[str, str] = Field(
        default_factory=dict,
        description="tool slug -> why the description cannot cover it (a subset, "
        "a method newer than the file); counted as unchecked",
    )


class ToolkitFile(_Strict):
    slug: str = Field(pattern=TOOLKIT_SLUG)
    name: str
    description: str = Field(min_length=10)
    categories: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list, description="other names people use for this app")
    auth_schemes: list[AuthSchemeFile] = Field(default_factory=lambda: [AuthSchemeFile(type="none")])
    base_url: str | None = None
    default_headers: dict[str, str] = Field(default_factory=dict)
    handlers: str = Field(
        "tools.py",
        description="Python file in the toolkit folder holding `python:` handlers "
        "and http `prepare`/`transform` functions",
    )
    errors: ErrorsBlock = Field(default_factory=ErrorsBlock)
    retry: RetryBlock = Field(default_factory=RetryBlock)
    api_spec: ApiSpec | None = Field(
        None,
        description="the provider's published API description this toolkit is "
        "checked against (tests/test_spec_check.py)",
    )
    tools: list[ToolFile] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ToolkitFile:
        prefix = self.slug.upper() + "_"
        seen: set[str] = set()
        for i, tool in enumerate(self.tools):
            if not tool.slug.startswith(prefix):
                raise ValueError(f"tools[{i}].slug {tool.slug!r} must start with {prefix!r}")
            if tool.slug in seen:
                raise ValueError(f"tools[{i}].slug {tool.slug!r} is defined twice")
            seen.add(tool.slug)
            authed = [s for s in self.auth_schemes if s.type != "none"]
            if tool.http is not None and not self.base_url and not (authed and all(s.base_url for s in authed)):
                raise ValueError(f"tools[{i}] ({tool.slug}) is an http tool but the toolkit has no base_url")
        return self

    @property
    def uses_handlers(self) -> bool:
        return any(t.python or (t.http and (t.http.prepare or t.http.transform)) for t in self.tools)
