"""Reads toolkit folders into `Toolkit` objects, refusing bad files with the file and field named."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import yaml
from pydantic import ValidationError

from server.catalog.model import Tool, Toolkit
from server.catalog.toolkit_file import ToolkitFile
from server.errors import ConfigError

TOOLKIT_FILE = "toolkit.yaml"
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster, same safety
# An installed wheel carries the toolkits inside the package (setup.py copies them there); a source
# checkout or editable install reads `toolkits/` at the repository root.
_PACKAGED_TOOLKITS = Path(__file__).resolve().parents[1] / "builtin_toolkits"
BUILTIN_TOOLKITS = (
    _PACKAGED_TOOLKITS if _PACKAGED_TOOLKITS.is_dir() else Path(__file__).resolve().parents[2] / "toolkits"
)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - 5
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse_toolkit_file(path: Path) -> ToolkitFile:
    return _parse_toolkit_text(path, path.read_text(encoding="utf-8"))


@lru_cache(maxsize=64)
def _parse_toolkit_text(path: Path, text: str) -> ToolkitFile:
    """Parsing and checking the YAML is most of what building a catalog costs; a process that builds
    one again (an app built anew in place, as the tests do) parses each file's text once. The parsed
    file is frozen; handler modules are still imported anew for every catalog."""
    try:
        raw = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return ToolkitFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from None


def _load_module(folder: Path, filename: str, slug: str) -> ModuleType:
    path = folder / filename
    if not path.is_file():
        raise ConfigError(f"{folder / TOOLKIT_FILE}: handlers file {filename!r} not found")
    name = f"concierge_toolkits.{slug}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the operator's code: name it, then stop start-up
        raise ConfigError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
    return module


def _function(
    spec: ToolkitFile, folder: Path | None, module: ModuleType | None, where: str, name: str | None
) -> Callable[..., Any] | None:
    if name is None:
        return None
    found = getattr(module, name, None) if module is not None else None
    if not callable(found):
        handlers = folder / spec.handlers if folder else spec.handlers
        raise ConfigError(
            f"{folder / TOOLKIT_FILE if folder else spec.slug}: {where}: no function {name!r} in {handlers}"
        )
    return cast(Callable[..., Any], found)


def build_toolkit(spec: ToolkitFile, folder: Path | None = None, module: ModuleType | None = None) -> Toolkit:
    tools: dict[str, Tool] = {}
    for i, t in enumerate(spec.tools):
        http = t.http
        tools[t.slug] = Tool(
            slug=t.slug,
            name=t.name,
            description=t.description.strip(),
            toolkit=spec.slug,
            tags=tuple(t.tags),
            input_schema=t.input_schema,
            output_schema=t.output_schema,
            output_description=t.output_description,
            http=http,
            handler=_function(spec, folder, module, f"tools[{i}].python", t.python),
            inline=t.inline,
            schema_chars=len(json.dumps(t.input_schema)),
            prepare=_function(spec, folder, module, f"tools[{i}].http.prepare", http.prepare if http else None),
            transform=_function(spec, folder, module, f"tools[{i}].http.transform", http.transform if http else None),
        )
    return Toolkit(
        slug=spec.slug,
        name=spec.name,
        description=spec.description.strip(),
        categories=tuple(spec.categories),
        aliases=tuple(spec.aliases),
        auth_schemes=tuple(spec.auth_schemes),
        base_url=spec.base_url,
        tools=tools,
        folder=folder,
        default_headers=dict(spec.default_headers),
        errors=spec.errors,
        retry=spec.retry,
        api_spec=spec.api_spec,
    )


def load_toolkit_folder(folder: Path) -> Toolkit:
    path = folder / TOOLKIT_FILE
    spec = parse_toolkit_file(path)
    if spec.slug != folder.name:
        raise ConfigError(f"{path}: slug {spec.slug!r} must match the folder name {folder.name!r}")
    module = _load_module(folder, spec.handlers, spec.slug) if spec.uses_handlers else None
    return build_toolkit(spec, folder, module)


def load_toolkits(paths: Iterable[Path]) -> list[Toolkit]:
    """Every toolkit folder under the given roots; a slug defined twice is an error, not a silent override."""
    found: dict[str, Toolkit] = {}
    for root in paths:
        if not root.is_dir():
            raise ConfigError(f"toolkit path {root} is not a directory")
        for folder in sorted(p for p in root.iterdir() if (p / TOOLKIT_FILE).is_file()):
            toolkit = load_toolkit_folder(folder)
            if toolkit.slug in found:
                raise ConfigError(
                    f"{folder / TOOLKIT_FILE}: toolkit {toolkit.slug!r} is already defined "
                    f"in {found[toolkit.slug].folder}"
                )
            found[toolkit.slug] = toolkit
    return list(found.values())
