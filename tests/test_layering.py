"""The layering rules the code must keep: storage behind `server/store/`, a client that stands alone."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from pydantic import BaseModel

import server.api.schemas as api_schemas
import server.client.errors as client_errors
import server.client.models as client_models
from server import errors as server_errors
from server.store.records import ExecutionRow, McpClientRow
from server.values import FINAL_ACCOUNT_STATES

ROOT = Path(__file__).resolve().parent.parent
DRIVERS = re.compile(r"\b(sqlite3|aiosqlite|asyncpg|psycopg)\b")
SQL = re.compile(r"\b(SELECT\s+\S|INSERT\s+(INTO|OR)\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|"
                 r"(CREATE|DROP|ALTER)\s+(TABLE|INDEX|TRIGGER)\b|PRAGMA\s+\w|BEGIN\s+IMMEDIATE\b|\bROLLBACK\b)")
# The SQLite toolkit's job is running SQL on the user's own database files; it never sees the server's.
NOT_STORAGE = {ROOT / "toolkits" / "sqlite"}


def _code_files() -> list[Path]:
    files = [p for p in (ROOT / "server").rglob("*.py") if (ROOT / "server" / "store") not in p.parents]
    files += [p for p in (ROOT / "toolkits").rglob("*.py") if not any(d in p.parents for d in NOT_STORAGE)]
    return sorted(files)


def test_no_database_driver_or_sql_outside_the_store() -> None:
    files = _code_files()
    assert len(files) > 50
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
            for p in files for n, line in enumerate(p.read_text().splitlines(), 1)
            if DRIVERS.search(line) or SQL.search(line)]
    assert hits == []


def test_the_patterns_would_catch_a_violation() -> None:
    caught = ['import sqlite3', 'import aiosqlite', 'await db.execute("SELECT id FROM sessions")',
              '"UPDATE sessions SET config = ?"', '"DELETE FROM mcp_clients WHERE x"', '"INSERT INTO t VALUES (1)"']
    assert all(DRIVERS.search(s) or SQL.search(s) for s in caught)
    assert not any(DRIVERS.search(s) or SQL.search(s) for s in ["select the tools", "update the session"])


def test_only_the_store_package_names_a_backend() -> None:
    hits = [str(p.relative_to(ROOT)) for p in _code_files()
            if any(f"server.store.{backend}" in p.read_text() for backend in ("sqlite", "postgres", "sql"))]
    assert hits == []


def test_importing_the_client_loads_no_server_code() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import sys, server.client; print('\\n'.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    server_modules = [m for m in out if m == "server" or m.startswith("server.")]
    assert "server.client" in server_modules
    assert [m for m in server_modules if m != "server" and not m.startswith("server.client")] == []
    assert not [m for m in out if "sqlite" in m or m.startswith(("starlette", "mcp", "uvicorn"))]


def _shape(annotation: Any) -> Any:
    """A type with server and client model classes replaced by their names, for comparison."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    origin = get_origin(annotation)
    if origin is None:
        return annotation
    return (origin, tuple(_shape(a) for a in get_args(annotation)))


def test_client_models_match_the_server_answers_field_by_field() -> None:
    compared = 0
    for name, model in vars(client_models).items():
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or model.__module__ != client_models.__name__:
            continue
        if name == "ToolResult":
            continue  # the client's own: the executor's outcome, not a REST model
        server_model = getattr(api_schemas, name)
        theirs = {k: (_shape(f.annotation), f.is_required()) for k, f in server_model.model_fields.items()}
        ours = {k: (_shape(f.annotation), f.is_required()) for k, f in model.model_fields.items()}
        assert ours == theirs, name
        compared += 1
    assert compared >= 15


def test_response_models_carry_every_field_of_their_store_rows() -> None:
    for row, model, left_out in ((ExecutionRow, api_schemas.ExecutionOut, set()),
                                 (McpClientRow, api_schemas.McpClientOut, {"session_id"})):
        hints = get_type_hints(row)
        expected = {f.name: hints[f.name] for f in dataclasses.fields(row) if f.name not in left_out}
        assert {k: f.annotation for k, f in model.model_fields.items()} == expected, model.__name__


def test_client_error_codes_and_final_states_are_the_servers() -> None:
    server_codes = {cls.code for cls in vars(server_errors).values()
                    if isinstance(cls, type) and issubclass(cls, server_errors.ConciergeError)}
    assert set(client_errors._BY_CODE) <= server_codes
    import server.client._base as base

    assert {str(s) for s in FINAL_ACCOUNT_STATES} == base.FINAL_ACCOUNT_STATES
