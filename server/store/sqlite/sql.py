"""Mapping between dataclass rows and SQL: one place for the column lists of a table."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def columns(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def insert_sql(table: str, cls: type) -> str:
    names = columns(cls)
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def values(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, name) for name in columns(type(row)))


def build(cls: type[T], record: Any) -> T:
    return cls(**{name: record[name] for name in columns(cls)})
