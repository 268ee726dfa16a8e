from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, SchemaError

from server.catalog.loader import BUILTIN_TOOLKITS, load_toolkit_folder, load_toolkits
from server.catalog.toolkit_file import schema_problem
from server.errors import ConfigError

GOOD = """
slug: weather
name: Weather
description: Weather forecasts for testing the loader.
tools:
  - slug: WEATHER_FORECAST
    name: Forecast
    description: Get the forecast for a city.
    input_schema: {type: object, properties: {city: {type: string}}, required: [city]}
    python: forecast
"""


def make(tmp_path: Path, yaml_text: str, code: str = "def forecast(a, c):\n    return {}\n",
         folder: str = "weather") -> Path:
    root = tmp_path / "kits"
    path = root / folder
    path.mkdir(parents=True)
    (path / "toolkit.yaml").write_text(yaml_text)
    (path / "tools.py").write_text(code)
    return path


def error_for(tmp_path: Path, yaml_text: str, **kw: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_toolkit_folder(make(tmp_path, yaml_text, **kw))
    return exc.value.message


def test_good_toolkit_loads_with_its_handler(tmp_path: Path) -> None:
    toolkit = load_toolkit_folder(make(tmp_path, GOOD))
    tool = toolkit.tools["WEATHER_FORECAST"]
    assert tool.toolkit == "weather" and tool.handler is not None and not toolkit.needs_auth


def test_errors_name_file_and_field(tmp_path: Path) -> None:
    msg = error_for(tmp_path, GOOD.replace("input_schema: {type: object", "input_schema: {type: array"))
    assert "weather/toolkit.yaml" in msg and "tools.0.input_schema" in msg and "type: object" in msg


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    msg = error_for(tmp_path, GOOD.replace("    python: forecast", "    python: forecast\n    pyhton: x"))
    assert "tools.0.pyhton" in msg


def test_slug_prefix_and_folder_name(tmp_path: Path) -> None:
    assert "must start with 'WEATHER_'" in error_for(tmp_path, GOOD.replace("WEATHER_FORECAST", "CLIMATE_FORECAST"))
    assert "must match the folder name" in error_for(tmp_path / "b", GOOD, folder="other")


def test_missing_handler_and_broken_module(tmp_path: Path) -> None:
    assert "no function 'forecast'" in error_for(tmp_path, GOOD, code="def other(a, c):\n    return {}\n")
    assert "failed to import" in error_for(tmp_path / "b", GOOD, code="raise RuntimeError('boom')\n")


def test_invalid_yaml_and_bad_json_schema(tmp_path: Path) -> None:
    assert "not valid YAML" in error_for(tmp_path, "slug: [unclosed\n")
    bad_schema = GOOD.replace("properties: {city: {type: string}}", "properties: {city: {type: 12}}")
    assert "not valid JSON Schema" in error_for(tmp_path / "b", bad_schema)


CITY = {"type": "object", "properties": {"city": {"type": "string"}}}
SCHEMAS = [
    CITY,
    {**CITY, "properties": {"city": {"type": "nope"}}},
    {**CITY, "properties": {"city": {"type": "string", "pattern": "^[A-Z]"}}},
    {**CITY, "properties": {"city": {"type": "string", "pattern": "["}}},  # the regex format jsonschema-rs skips
    {**CITY, "patternProperties": {"(?P<": {}}},
    {**CITY, "properties": {"pattern": {"type": "string"}}, "examples": [{"pattern": "("}]},  # a regex only in data
    {**CITY, "required": "city"},
    {**CITY, "minProperties": -1},
    {**CITY, "$schema": "http://json-schema.org/draft-07/schema#", "minProperties": -1},
    {**CITY, "$schema": ["not", "a", "uri"]},
    {**CITY, "properties": {"city": {"$ref": "#/$defs/nowhere"}}},
]


def _python_check(schema: dict[str, Any]) -> bool:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    return True


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda schema: json.dumps(schema)[-60:])
def test_the_schema_check_agrees_with_the_pure_python_meta_schema_check(schema: dict[str, Any]) -> None:
    schema_problem.cache_clear()
    problem = schema_problem(json.dumps(schema, sort_keys=True))
    assert (problem is None) == _python_check(schema), problem
    if problem is not None:  # explained in the pure-Python validator's words
        with pytest.raises(SchemaError) as exc:
            Draft202012Validator.check_schema(schema)
        assert problem == exc.value.message


def test_every_shipped_schema_passes_both_checks() -> None:
    schema_problem.cache_clear()
    tools = [tool for toolkit in load_toolkits([BUILTIN_TOOLKITS]) for tool in toolkit.tools.values()]
    assert len(tools) > 250
    assert all(_python_check(tool.input_schema) for tool in tools)


def test_a_file_edited_in_place_is_read_again(tmp_path: Path) -> None:
    folder = make(tmp_path, GOOD)
    assert load_toolkit_folder(folder).tools["WEATHER_FORECAST"].name == "Forecast"
    # the same size, and on a coarse clock the same mtime: only the text tells the two apart
    (folder / "toolkit.yaml").write_text(GOOD.replace("name: Forecast", "name: Foretell"))
    assert load_toolkit_folder(folder).tools["WEATHER_FORECAST"].name == "Foretell"


def test_http_tool_needs_base_url_and_known_arguments(tmp_path: Path) -> None:
    http = GOOD.replace("    python: forecast", "    http: {method: GET, path: '/f/{town}'}")
    assert "not in input_schema.properties: ['town']" in error_for(tmp_path, http)
    http2 = GOOD.replace("    python: forecast", "    http: {method: GET, path: '/f/{city}'}")
    assert "has no base_url" in error_for(tmp_path / "b", http2)


def test_duplicate_toolkit_across_paths(tmp_path: Path) -> None:
    a = make(tmp_path / "a", GOOD).parent
    b = make(tmp_path / "b", GOOD).parent
    with pytest.raises(ConfigError, match="already defined"):
        load_toolkits([a, b])


def test_shipped_json_schema_matches_the_models() -> None:
    import json

    from server.catalog.toolkit_file import ToolkitFile

    shipped = json.loads((Path(__file__).resolve().parents[1] / "docs" / "toolkit.schema.json").read_text())
    assert shipped == ToolkitFile.model_json_schema()
