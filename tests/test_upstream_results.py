"""An upstream's `tools/call` result, in wire form, as the data a meta tool returns: what is read from
it is checked, and a result that breaks it is the upstream's error, named as such."""

from __future__ import annotations

from typing import Any

import pytest

from server.errors import ToolError
from server.upstreams.conversion import result_data

IMAGE = {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}


@pytest.mark.parametrize(("result", "data"), [
    ({"content": [{"type": "text", "text": "{}"}], "structuredContent": {"total": 3}}, {"total": 3}),
    ({"content": [], "structuredContent": [1, 2]}, [1, 2]),
    ({"content": [{"type": "text", "text": '{"a": [1]}'}]}, {"a": [1]}),
    ({"content": [{"type": "text", "text": "{not json"}]}, "{not json"),
    ({"content": [{"type": "text", "text": "plain"}], "isError": False}, "plain"),
    ({"content": [{"type": "text", "text": "a"}, IMAGE]}, [{"type": "text", "text": "a"}, IMAGE]),
    ({"content": [IMAGE]}, [IMAGE]),
    ({}, []),
])
def test_results_become_data(result: dict[str, Any], data: Any) -> None:
    assert result_data("up", "tool", result) == data


def test_an_error_result_is_a_tool_error_with_the_upstreams_words() -> None:
    result = {"content": [{"type": "text", "text": "no such"}, IMAGE, {"type": "text", "text": "row"}],
              "isError": True}
    with pytest.raises(ToolError, match=r"upstream 'up' tool 'tool' failed: no such row") as raised:
        result_data("up", "tool", result)
    assert raised.value.details == {"upstream": "up"}


@pytest.mark.parametrize(("result", "problem"), [
    (None, "not an object"),
    ([], "not an object"),
    ({"content": "text"}, "content is not a list"),
    ({"content": [{"text": "untyped"}]}, "a content block has no type"),
    ({"content": ["text"]}, "a content block has no type"),
    ({"content": [{"type": "text"}]}, "a text block has no text"),
    ({"content": [{"type": "text", "text": 3}]}, "a text block has no text"),
    ({"content": [], "isError": "yes"}, "isError is not a boolean"),
])
def test_a_malformed_result_is_the_upstreams_error(result: Any, problem: str) -> None:
    with pytest.raises(ToolError, match=f"upstream 'up' tool 'tool' answered with a malformed result: {problem}"):
        result_data("up", "tool", result)
