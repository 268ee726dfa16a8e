"""Request bodies are checked against the published OpenAPI schema before any handler sees them, so
the server accepts exactly what the document says; a schema-valid body that still cannot be done
(unknown names, options that clash) is a 422, not a 400."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import BaseModel, ValidationError

from server.errors import InvalidInput, Unprocessable, describe_validation_error, model_vocabulary


class BodySchema:
    def __init__(self, model: type[BaseModel], document: dict[str, Any]) -> None:
        self.model = model
        schema = {"$ref": f"#/components/schemas/{model.__name__}",
                  "components": document["components"]}
        self.validator = Draft202012Validator(schema)

    def check(self, data: dict[str, Any]) -> None:
        error = best_match(self.validator.iter_errors(data))
        if error is None:
            return
        try:  # the model's own message is the friendlier one (did-you-mean for misspelt keys)
            self.model.model_validate(data)
        except ValidationError as exc:
            message, problems = describe_validation_error(exc, model_vocabulary(self.model))
            raise InvalidInput(message, {"problems": problems}) from None
        where = ".".join(str(p) for p in error.absolute_path) or "(body)"
        raise InvalidInput(f"{where}: {error.message[:300]}", {"field": where})


@contextlib.asynccontextmanager
async def semantic_as_422() -> AsyncIterator[None]:
    """Around a service call made with an already schema-checked body: its `InvalidInput` can only be
    about meaning, so it is answered as 422."""
    try:
        yield
    except Unprocessable:
        raise
    except InvalidInput as exc:
        raise Unprocessable(exc.message, exc.details) from None
