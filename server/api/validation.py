"""Request bodies are checked against the published OpenAPI schema before any handler sees them, so
the server accepts exactly what the document says; a schema-valid body that still cannot be done
(unknown names, options that clash) is a 422, not a 400."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as ValidationError_
from jsonschema.exceptions import best_match
from pydantic import BaseModel, ValidationError

from server.errors import InvalidInput, Unprocessable, describe_validation_error, model_vocabulary


class BodySchema:
    def __init__(self, model: type[BaseModel], document: dict[str, Any]) -> None:
        self.model = model
        schema = {"$ref": f"#/components/schemas/{model.__name__}", "components": document["components"]}
        self.validator = Draft202012Validator(schema)

    def check(self, data: dict[str, Any]) -> None:
        errors = list(self.validator.iter_errors(data))
        if not errors:
            return
        plain = [e for e in errors if e.validator not in ("oneOf", "anyOf")]  # a named field beats "any of"
        error = _within_chosen_branch(best_match(plain or errors) or errors[0])
        try:  # the model's own message is the friendlier one (did-you-mean for misspelt keys)
            self.model.model_validate(data)
        except ValidationError as exc:
            message, problems = describe_validation_error(exc, model_vocabulary(self.model))
            raise InvalidInput(message, {"problems": problems}) from None
        where = ".".join(str(p) for p in error.absolute_path) or "(body)"
        raise InvalidInput(f"{where}: {error.message[:300]}", {"field": where})


def _within_chosen_branch(error: ValidationError_) -> ValidationError_:
    """A one-of keyed by a constant (an auth config's branch per toolkit) fails as "not valid under any of
    the given schemas"; the branch whose constant the body matched says what is actually wrong."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[Any, list[ValidationError_]] = defaultdict(list)
        for sub in error.context:
            branches[sub.relative_schema_path[0] if sub.relative_schema_path else None].append(sub)
        chosen = [errs for errs in branches.values() if not any(e.validator == "const" for e in errs)]
        if len(chosen) != 1:
            break
        error = best_match(chosen[0]) or error
    return error


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
