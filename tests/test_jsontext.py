from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from server import jsontext


def test_any_tool_result_serialises_compactly_and_round_trips() -> None:
    value = {"big": 2**80, "when": dt.date(2026, 11, 26), 3: "int key", "text": "déjà vu", "path": Path("/tmp/x")}
    text = jsontext.dumps(value)
    assert json.loads(text) == {"big": 2**80, "when": "2026-11-26", "3": "int key", "text": "déjà vu", "path": "/tmp/x"}
    assert ", " not in text and "déjà" in text
    small = {"b": 1, "a": [1.5, None, True]}
    assert jsontext.dumps(small) == '{"b":1,"a":[1.5,null,true]}'
    assert jsontext.dumps_bytes(small, sort_keys=True) == b'{"a":[1.5,null,true],"b":1}'
    assert jsontext.loads(b'{"a": [1, 2]}') == {"a": [1, 2]}
