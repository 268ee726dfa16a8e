"""Labelled tool-retrieval sets as catalogs: the public `corpus/queries/qrels` format and our own toolkits.

A public set's corpus rows become `ToolkitFile` objects and go through `build_toolkit()`, the path
the server loads `toolkits/` with, so the evaluation ranks what the server would rank. Slugs are
derived from names (the format wants `TOOLKIT_ACTION` upper snake case) and mapped back to the
corpus `_id`s the qrels use.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from server.catalog.loader import BUILTIN_TOOLKITS, build_toolkit, load_toolkits
from server.catalog.model import Toolkit
from server.catalog.terms import slug_words
from server.catalog.toolkit_file import ToolFile, ToolkitFile
from server.errors import ConfigError

BUILTIN_QUERIES = BUILTIN_TOOLKITS.parent / "tests" / "data" / "search_queries.jsonl"
NEGATIVES_NAME = "search_negatives.jsonl"  # beside a labelled-queries file: requests nothing covers
PLACEHOLDER_HANDLER = "retrieval_set_placeholder"
_MIN_DESCRIPTION = 10  # ToolFile/ToolkitFile refuse shorter descriptions
# Source sets write Python type names; JSON Schema has its own.
_JSON_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "array",
    "dict": "object",
    "tuple": "array",
    "none": "null",
}
_VALID_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    id: str
    text: str
    split: str
    relevant: frozenset[str]  # tool slugs


@dataclass(frozen=True, slots=True)
class NegativeQuery:
    """A request the catalog cannot serve (fully): `app` is the missing app when it names one,
    `possible` the tools of a step that can be done (mixed requests)."""

    id: str
    text: str
    kind: str
    app: str | None
    possible: frozenset[str]


@dataclass(frozen=True, slots=True)
class RetrievalSet:
    name: str
    toolkits: list[Toolkit]
    queries: list[LabelledQuery]
    negatives: list[NegativeQuery] = field(default_factory=list)

    @property
    def splits(self) -> list[str]:
        return sorted({q.split for q in self.queries})


def _placeholder(**_: Any) -> Any:
    raise NotImplementedError("tools of an evaluation catalog exist for ranking only")


_PLACEHOLDER_MODULE = ModuleType("retrieval_set_handlers")
setattr(_PLACEHOLDER_MODULE, PLACEHOLDER_HANDLER, _placeholder)


def toolkit_slug(name: str, fallback: str) -> str:
    """`Chemical Engineering` -> `chemical_engineering`; an empty name takes `fallback` (itself a valid slug)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug:
        return fallback
    if len(slug) < 2 or not slug[0].isalpha():
        slug = f"{fallback}_{slug}"
    return slug[:64].rstrip("_")


def _action(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", slug_words(name).upper()).strip("_") or "TOOL"


def _schema(raw: Any) -> dict[str, Any]:
    """The source's input schema as valid JSON Schema: Python type names mapped, unknown ones dropped."""
    if not isinstance(raw, dict):
        return {"type": "object", "properties": {}}
    props: dict[str, Any] = {}
    for key, value in (raw.get("properties") or {}).items():
        prop = dict(value) if isinstance(value, dict) else {}
        kind = str(prop.get("type", "")).lower()
        kind = _JSON_TYPES.get(kind, kind)
        if kind in _VALID_TYPES:
            prop["type"] = kind
        else:
            prop.pop("type", None)
        props[str(key)] = prop
    required = [r for r in raw.get("required") or [] if r in props]
    return {"type": "object", "properties": props, "required": required}


def _padded(text: str, filler: str) -> str:
    """`text`, prefixed with `filler` (and dots) when shorter than the format's minimum description."""
    text = " ".join(text.split())[:4000]
    if len(text) >= _MIN_DESCRIPTION:
        return text
    return f"{filler}: {text}".strip(": ").ljust(_MIN_DESCRIPTION, ".")[:4000]


_KNOWN_FIELDS = {"_id", "name", "toolkit", "subfield", "description", "input_schema"}
_OUTPUT_FIELDS = {"output", "outputs", "returns", "return", "output_description", "output_schema", "response"}
_TAG_FIELDS = {"tags", "category", "categories", "labels", "keywords"}


def _flat_text(value: Any) -> list[str]:
    """Every string (and number) inside a JSON value, keys of objects included."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [slug_words(str(k)), *_flat_text(v)]]
    if isinstance(value, list):
        return [t for v in value for t in _flat_text(v)]
    return []


def _other_fields(row: dict[str, Any]) -> tuple[str, list[str], str]:
    """A corpus row's fields beyond the format's: (free text such as `raw_text`, tags, output text).

    Some sets carry a tool's parameters only in a free-text field; every field is indexed."""
    free, tags, output = [], [], []
    for key, value in row.items():
        if key in _KNOWN_FIELDS or value is None:
            continue
        if key.lower() in _TAG_FIELDS:
            tags += [t for t in _flat_text(value) if t.strip()]
        elif key.lower() in _OUTPUT_FIELDS:
            output += _flat_text(value)
        else:
            free += _flat_text(value)
    return " ".join(free)[:20000], [t[:64] for t in tags], " ".join(output)[:20000]


def corpus_toolkits(rows: list[dict[str, Any]], set_name: str) -> tuple[list[Toolkit], dict[str, str]]:
    """Toolkits built from corpus rows, and the map corpus `_id` -> tool slug."""
    fallback = toolkit_slug(set_name, "tools")
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    names: dict[str, str] = {}
    for row in rows:
        slug = toolkit_slug(str(row.get("toolkit") or ""), fallback)
        grouped[slug].append(row)
        names.setdefault(slug, str(row.get("toolkit") or set_name))
    toolkits: list[Toolkit] = []
    slug_of: dict[str, str] = {}
    for tk_slug, tk_rows in grouped.items():
        tools: list[ToolFile] = []
        taken: set[str] = set()
        for row in tk_rows:
            base = f"{tk_slug.upper()}_{_action(str(row['name']))}"
            slug, n = base, 1
            while slug in taken:
                n += 1
                slug = f"{base}_{n}"
            taken.add(slug)
            slug_of[str(row["_id"])] = slug
            subfield = str(row.get("subfield") or "")
            schema = _schema(row.get("input_schema"))
            free, tags, output = _other_fields(row)
            if free:
                schema["description"] = free
            tools.append(
                ToolFile(
                    slug=slug,
                    name=str(row["name"])[:120],
                    description=_padded(str(row.get("description") or ""), str(row["name"])),
                    tags=([subfield.rsplit("/", 1)[-1]] if subfield else []) + tags,
                    input_schema=schema,
                    python=PLACEHOLDER_HANDLER,
                    output_description=output,
                )
            )
        spec = ToolkitFile(
            slug=tk_slug, name=names[tk_slug], description=_padded(f"{names[tk_slug]} tools", "Tools"), tools=tools
        )
        toolkits.append(build_toolkit(spec, module=_PLACEHOLDER_MODULE))
    return toolkits, slug_of


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"{path}: not found")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_retrieval_set(data_dir: Path) -> RetrievalSet:
    """A directory holding `corpus.jsonl`, `queries.jsonl` and `qrels.tsv`."""
    toolkits, slug_of = corpus_toolkits(_jsonl(data_dir / "corpus.jsonl"), data_dir.name)
    relevant: dict[str, set[str]] = defaultdict(set)
    with (data_dir / "qrels.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if float(row["score"]) > 0 and row["corpus-id"] in slug_of:
                relevant[row["query-id"]].add(slug_of[row["corpus-id"]])
    queries = [
        LabelledQuery(str(q["_id"]), str(q["text"]), str(q.get("split") or "all"), frozenset(relevant[str(q["_id"])]))
        for q in _jsonl(data_dir / "queries.jsonl")
        if relevant.get(str(q["_id"]))
    ]
    return RetrievalSet(data_dir.name, toolkits, queries)


def load_builtin_set(queries_path: Path = BUILTIN_QUERIES, toolkits_dir: Path = BUILTIN_TOOLKITS) -> RetrievalSet:
    """Our own toolkits with hand-labelled use cases (`{"_id", "text", "relevant": [slugs]}` a line)."""
    toolkits = load_toolkits([toolkits_dir])
    known = {slug for tk in toolkits for slug in tk.tools}
    queries = []
    for row in _jsonl(queries_path):
        unknown = sorted(set(row["relevant"]) - known)
        if unknown:
            raise ConfigError(f"{queries_path}: query {row['_id']!r} labels unknown tools {unknown}")
        queries.append(
            LabelledQuery(
                str(row["_id"]), str(row["text"]), str(row.get("split") or "builtin"), frozenset(row["relevant"])
            )
        )
    negatives_path = queries_path.parent / NEGATIVES_NAME
    negatives = []
    for row in _jsonl(negatives_path) if negatives_path.is_file() else []:
        unknown = sorted(set(row.get("possible") or []) - known)
        if unknown:
            raise ConfigError(f"{negatives_path}: {row['_id']!r} labels unknown tools {unknown}")
        negatives.append(
            NegativeQuery(
                str(row["_id"]),
                str(row["text"]),
                str(row["kind"]),
                row.get("app"),
                frozenset(row.get("possible") or []),
            )
        )
    return RetrievalSet("builtin", toolkits, queries, negatives)


def load_sets(data: Path) -> list[RetrievalSet]:
    """A public-format directory, a directory of them, or a `.jsonl` of labelled queries over the
    built-in toolkits."""
    if data.is_file() and data.suffix == ".jsonl":
        return [load_builtin_set(data)]
    if (data / "corpus.jsonl").is_file():
        return [load_retrieval_set(data)]
    found = sorted(d for d in data.iterdir() if (d / "corpus.jsonl").is_file()) if data.is_dir() else []
    if not found:
        raise ConfigError(
            f"{data}: expected a directory with corpus.jsonl, queries.jsonl and qrels.tsv (or "
            "a directory of such), or a .jsonl file of labelled queries over the built-in toolkits"
        )
    return [load_retrieval_set(d) for d in found]
