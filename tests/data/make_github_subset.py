"""Extract from GitHub's OpenAPI description the facts about exactly the operations toolkits/github uses.

The full description is 13 MB and lives outside the repository, but CI runs on a clean clone, so
tests/test_github_toolkit.py checks the toolkit against this small extract (facts only: method, path,
parameter names, required fields, enums). Re-run after changing the toolkit:

    python tests/data/make_github_subset.py [path/to/api.github.com.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = ROOT / "toolkits" / "github" / "toolkit.yaml"
SUBSET = Path(__file__).with_name("github_spec_subset.json")
DEFAULT_SPEC = ROOT.parent / "shared" / "data" / "api-specs" / "github" / "api.github.com.json"
SOURCE = {
    "document": "api.github.com.json from octokit/openapi (GitHub's REST API description, github/rest-api-description, "
                "plus Octokit extensions)",
    "url": "https://github.com/octokit/openapi",
    "license": "MIT",
    "copyright": "Copyright (c) 2020 Octokit contributors",
    "generated_by": "tests/data/make_github_subset.py",
}


def toolkit_operations(toolkit_path: Path = TOOLKIT) -> list[tuple[str, str]]:
    """(METHOD, path) of every http tool, in file order, without duplicates (`{+path}`, a parameter that
    keeps its slashes, is `{path}` in the description)."""
    tools = yaml.safe_load(toolkit_path.read_text(encoding="utf-8"))["tools"]
    return list(dict.fromkeys((t["http"]["method"], t["http"]["path"].replace("{+", "{"))
                              for t in tools if "http" in t))


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s ("#/components/parameters/owner") until a real node."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operation_facts(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    ref = partial(resolve, spec)
    operation = spec["paths"][path][method.lower()]
    params = [ref(p) for p in operation.get("parameters", [])]
    body: dict[str, Any] = {}
    if "requestBody" in operation:
        body = ref(ref(operation["requestBody"])["content"]["application/json"]["schema"])
    schemas = {p["name"]: ref(p.get("schema", {})) for p in params} | body.get("properties", {})
    enums = {name: schema["enum"] for name, schema in schemas.items() if "enum" in schema}
    return {
        "operation_id": operation["operationId"],
        "method": method,
        "path": path,
        "path_params": [p["name"] for p in params if p["in"] == "path"],
        "query_params": [p["name"] for p in params if p["in"] == "query"],
        "required_query": [p["name"] for p in params if p["in"] == "query" and p.get("required")],
        "body_params": sorted(body.get("properties", {})),
        "required_body": sorted(body.get("required", [])),
        "enums": enums,
    }


def build_subset(spec: dict[str, Any], operations: list[tuple[str, str]]) -> dict[str, Any]:
    return {"source": SOURCE | {"version": spec["info"]["version"]},
            "operations": [operation_facts(spec, method, path) for method, path in operations]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", type=Path, default=DEFAULT_SPEC, help="path to api.github.com.json")
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        print(f"GitHub OpenAPI description not found at {args.spec}", file=sys.stderr)
        return 1
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    subset = build_subset(spec, toolkit_operations())
    SUBSET.write_text(json.dumps(subset, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(subset['operations'])} operations to {SUBSET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
