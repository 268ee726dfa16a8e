"""The toolkit definition file (`toolkits/<slug>/toolkit.yaml`) as pydantic models.

This is the edge where operator-written YAML enters the system, so every field is checked and
unknown keys are refused; `docs/toolkit.schema.json` is generated from these models
(`concierge toolkits schema`) so editors can check files as they are written.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TOOL_SLUG = r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$"
TOOLKIT_SLUG = r"^[a-z][a-z0-9_]{1,63}$"
TOOL_HINTS = ("readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint", "createHint", "updateHint")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    paginate: Literal["link_header", "cursor", "none"] = "none"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", self.path)


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

    @model_validator(mode="after")
    def _oauth2_needs_urls(self) -> AuthSchemeFile:
        if self.type == "oauth2" and self.oauth2 is None:
            raise ValueError("an oauth2 scheme needs an `oauth2:` block with authorize_url and token_url")
        return self


class ToolFile(_Strict):
    slug: str = Field(pattern=TOOL_SLUG)
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(min_length=10, max_length=4000)
    tags: list[str] = Field(default_factory=list)
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    output_description: str = ""
    python: str | None = Field(None, description="function name in the toolkit's handler module")
    inline: bool = Field(False, description="run a sync `python:` handler on the event loop instead of a worker "
                                            "thread; only for handlers that do no I/O and finish in microseconds")
    http: HttpBlock | None = None

    @field_validator("input_schema")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("type") != "object":
            raise ValueError("input_schema must be a JSON Schema with `type: object`")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"input_schema is not valid JSON Schema: {exc.message}") from None
        return schema

    @model_validator(mode="after")
    def _one_way_to_run(self) -> ToolFile:
        if (self.python is None) == (self.http is None):
            raise ValueError("a tool needs exactly one of `python:` (local handler) or `http:` (request template)")
        if self.http is not None:
            props = set((self.input_schema.get("properties") or {}).keys())
            used = set(self.http.path_params) | set(self.http.query) | set(self.http.headers)
            if isinstance(self.http.body, list):
                used |= set(self.http.body)
            missing = sorted(used - props)
            if missing:
                raise ValueError(f"http block uses arguments not in input_schema.properties: {missing}")
        return self


class ToolkitFile(_Strict):
    slug: str = Field(pattern=TOOLKIT_SLUG)
    name: str
    description: str = Field(min_length=10)
    categories: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list, description="other names people use for this app")
    auth_schemes: list[AuthSchemeFile] = Field(default_factory=lambda: [AuthSchemeFile(type="none")])
    base_url: str | None = None
    default_headers: dict[str, str] = Field(default_factory=dict)
    handlers: str = Field("tools.py", description="Python file in the toolkit folder holding `python:` handlers")
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
            if tool.http is not None and not self.base_url:
                raise ValueError(f"tools[{i}] ({tool.slug}) is an http tool but the toolkit has no base_url")
        return self
