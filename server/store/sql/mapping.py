"""Mapping between dataclass rows and SQL: one place for the column lists of a table.

Column lists, statements and row readers are computed once per row class: rows are written on every
tool call (the execution log), so none of it is rebuilt per row."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


_COLUMNS: dict[type, tuple[str, ...]] = {}
_READERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def columns(cls: type) -> tuple[str, ...]:
    names = _COLUMNS.get(cls)
    if names is None:
        names = _COLUMNS[cls] = tuple(f.name for f in fields(cls))
    return names


@functools.cache
def insert_sql(table: str, cls: type) -> str:
    names = columns(cls)
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def _reader(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    reader = _READERS.get(cls)
    if reader is None:
        names = columns(cls)
        reader = _READERS[cls] = (
            (lambda row: (getattr(row, names[0]),)) if len(names) == 1 else operator.attrgetter(*names)
        )
    return reader


def values(row: Any) -> tuple[Any, ...]:
    return _reader(type(row))(row)


def build(cls: type[T], record: Any) -> T:
    return cls(**{name: record[name] for name in columns(cls)})
