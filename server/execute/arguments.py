"""Checking tool arguments against the tool's input schema, on every call.

jsonschema-rs answers "valid?" in about a microsecond, where the pure-Python validator takes tens;
when the answer is no, the pure-Python validator explains what is wrong (its messages and paths are
the ones our errors are built from). A schema jsonschema-rs cannot compile is checked by the
pure-Python validator alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError


class ArgumentValidator:
    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._explain = Draft202012Validator(schema)
        try:
            self._fast: Any = jsonschema_rs.Draft202012Validator(dict(schema))
        except (ValueError, jsonschema_rs.ReferencingError):
            self._fast = self._explain

    def is_valid(self, arguments: Any) -> bool:
        return bool(self._fast.is_valid(arguments))

    def iter_errors(self, arguments: Any) -> Iterator[ValidationError]:
        return self._explain.iter_errors(arguments)
