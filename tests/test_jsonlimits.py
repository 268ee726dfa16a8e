from __future__ import annotations

import json

import pytest

from server.errors import InvalidInput
from server.limits.jsonlimits import check_depth


def _nested(levels: int) -> object:
    """Lists and objects in turn, `levels` deep."""
    value: object = 1
    for level in range(levels):
        value = [value] if level % 2 else {"a": value}
    return value


@pytest.mark.parametrize("with_text", [False, True])
def test_depth_at_the_limit_passes_and_one_more_level_is_refused(with_text: bool) -> None:
    for levels, ok in ((9, True), (10, True), (11, False)):
        value = _nested(levels)
        raw = json.dumps(value).encode() if with_text else None
        if ok:
            check_depth(value, 10, raw)
        else:
            with pytest.raises(InvalidInput, match="max_json_depth"):
                check_depth(value, 10, raw)


def test_brackets_inside_strings_do_not_make_a_shallow_value_too_deep() -> None:
    value = {"text": "[{" * 50, "items": [{"x": 1}]}
    check_depth(value, 10, json.dumps(value).encode())
