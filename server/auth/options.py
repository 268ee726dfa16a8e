"""Request bodies of the auth API (auth configs, authorize), validated like session options."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, WithJsonSchema

from server.errors import InvalidInput, describe_validation_error, model_vocabulary


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppCredentials(_Body):
    client_id: str = Field(min_length=1)
    client_secret: SecretStr


SCOPE = r"[!#-\[\]-~]+"  # an OAuth scope: one token without spaces (RFC 6749, 3.3)


def _scope(value: str) -> str:
    """The pattern with a message that says what is wrong: an empty scope would be sent as is."""
    if not re.fullmatch(SCOPE, value):
        raise ValueError(f"{value!r} is not an OAuth scope (one word, no spaces or quotes)")
    return value


Scopes = list[Annotated[str, AfterValidator(_scope), WithJsonSchema({"type": "string", "pattern": f"^{SCOPE}$"})]]


class AuthConfigCreate(_Body):
    toolkit: str
    name: str | None = Field(None, max_length=200)
    auth_scheme: str | None = Field(None, description="one of the toolkit's schemes; default: its first")
    credentials: AppCredentials | None = Field(None, description="the operator's OAuth app (client id/secret)")
    scopes: Scopes | None = None
    authorize_params: dict[str, str] | None = None
    restrict_to_tools: list[str] | None = None


class AuthConfigUpdate(_Body):
    name: str | None = Field(None, max_length=200)
    credentials: AppCredentials | None = None
    scopes: Scopes | None = None
    authorize_params: dict[str, str] | None = None
    restrict_to_tools: list[str] | None = None
    status: str | None = Field(None, pattern="^(ENABLED|DISABLED)$")


class AuthorizeRequest(_Body):
    toolkit: str
    callback_url: str | None = Field(None, pattern=r"^https?://")
    alias: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class LinkRequest(AuthorizeRequest):
    """An operator-made Connect Link for a user, outside any session (`concierge connect`)."""

    user_id: str = Field(min_length=1, max_length=256)


def parse_body(model: type[_Body], data: Any) -> Any:
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, problems = describe_validation_error(exc, model_vocabulary(model))
        raise InvalidInput(message, {"problems": problems}) from None
