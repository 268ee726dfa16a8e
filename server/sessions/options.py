"""Session options as the API and CLI accept them (reference shapes, `notes/reference-api.md`).

Lists are shorthand for `{"enable": [...]}`; misspelt keys are refused with a suggestion.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from server.errors import InvalidInput, describe_validation_error, model_vocabulary

MAX_USER_ID = 256


class _Option(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _list_means_enable(value: Any) -> Any:
    return {"enable": value} if isinstance(value, list) else value


class ToolkitSelector(_Option):
    enable: list[str] | None = None
    disable: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _list_means_enable(value)

    @model_validator(mode="after")
    def _one_of(self) -> ToolkitSelector:
        if (self.enable is None) == (self.disable is None):
            raise ValueError("give exactly one of `enable` or `disable`")
        return self


class ToolSelector(_Option):
    """Per toolkit: which of its tools (`enable`/`disable` slugs, or `tags`)."""

    enable: list[str] | None = None
    disable: list[str] | None = None
    tags: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _list_means_enable(value)

    @model_validator(mode="after")
    def _one_of(self) -> ToolSelector:
        if sum(x is not None for x in (self.enable, self.disable, self.tags)) != 1:
            raise ValueError("give exactly one of `enable`, `disable` or `tags`")
        return self


class TagSelector(_Option):
    enable: list[str] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _list_means_enable(value)


class ManageConnections(_Option):
    enable: bool = True
    callback_url: str | None = None
    wait_for_connections: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"enable": value} if isinstance(value, bool) else value


class MultiAccount(_Option):
    enable: bool = False
    max_accounts_per_toolkit: int = Field(5, ge=2, le=10)
    require_explicit_selection: bool = False


class WorkbenchOptions(_Option):
    enable: bool = True
    auto_offload_threshold: int | None = Field(None, ge=1_000)


class Preload(_Option):
    tools: list[str] | Literal["all"] = Field(default_factory=list)


class SessionOptions(_Option):
    """Everything about a session except its user; stored as JSON, versioned on every update."""

    toolkits: ToolkitSelector | None = None
    tools: dict[str, ToolSelector] | None = None
    tags: TagSelector | None = None
    auth_configs: dict[str, str] | None = None
    connected_accounts: dict[str, str | list[str]] | None = None
    manage_connections: ManageConnections = Field(default_factory=ManageConnections)
    multi_account: MultiAccount = Field(default_factory=MultiAccount)
    workbench: WorkbenchOptions = Field(
        default_factory=WorkbenchOptions, alias="workbench", validation_alias="workbench"
    )
    preload: Preload | None = None
    session_preset: Literal["direct_tools"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _sandbox_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sandbox" in data:
            data = dict(data)
            if "workbench" in data:
                raise ValueError("give `workbench` or its alias `sandbox`, not both")
            data["workbench"] = data.pop("sandbox")
        return data

    def admits_toolkit(self, slug: str) -> bool:
        """Whether `toolkits` lets this toolkit in (tool and tag filters apply on top)."""
        if self.toolkits is None:
            return True
        if self.toolkits.enable is not None:
            return slug in self.toolkits.enable
        return slug not in (self.toolkits.disable or [])

    def stored(self) -> dict[str, Any]:
        return self.model_dump(
            mode="json", exclude_none=True, by_alias=True, exclude={"user_id", "expected_config_version"}
        )


class SessionCreate(SessionOptions):
    user_id: str

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("user_id must not be empty")
        if len(value) > MAX_USER_ID:
            raise ValueError(f"user_id must be at most {MAX_USER_ID} characters")
        return value


class SessionUpdate(SessionOptions):
    """A partial PATCH: only the keys present change; an explicit `null` removes that override."""

    expected_config_version: int | None = None


VOCABULARY = model_vocabulary(SessionCreate) | model_vocabulary(SessionUpdate) | {"sandbox"}


def parse(model: type[_Option], data: Any) -> Any:
    if not isinstance(data, dict):
        raise InvalidInput("session options must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        message, problems = describe_validation_error(exc, VOCABULARY)
        raise InvalidInput(f"invalid session options: {message}", {"problems": problems}) from None
