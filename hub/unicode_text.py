"""Names in any script in SQL: case-insensitive "contains" that holds for Cyrillic and Bengali on
both databases.

PostgreSQL's ILIKE folds case by the database's character type (C.UTF-8 and every UTF-8 locale
fold Cyrillic). SQLite's LIKE, and its lower(), fold ASCII letters only: "иванов" would never find
"Иванов". So on SQLite the hub registers `hub_casefold` (Python's str.casefold) on every
connection and compares folded text with LIKE.

Sorting by name: on PostgreSQL migration 0023 gives the name columns the ICU root collation
("und-x-icu") where the server has ICU, so ORDER BY name and its index follow the Unicode
collation order (case-insensitive first, Latin, Cyrillic, Bengali each in its alphabetical order).
SQLite has no locale collation: it orders by code point (capitals before small letters, Latin
before Cyrillic before Bengali; "ё" after "я"), which its indexes serve.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean

SQLITE_CASEFOLD = "hub_casefold"
ESCAPE = "\\"


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Give a new SQLite connection the functions the hub's SQL uses (called on connect)."""
    dbapi_connection.create_function(SQLITE_CASEFOLD, 1, _casefold, deterministic=True)


class ContainsText(ColumnElement[bool]):
    """`column` contains `text`, case-insensitively in every script; LIKE's wildcards in `text`
    are matched literally."""

    type = Boolean()
    inherit_cache = True
    # The statement cache keys on every part; the patterns stay bound parameters.
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
        ("folded", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, text: str) -> None:
        self.column = column
        escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
        self.pattern = literal("%" + escaped + "%", String())
        # Folded here once, not by SQLite for every row (a Python call each: a fifth of the search).
        self.folded = literal(("%" + escaped + "%").casefold(), String())


@compiles(ContainsText)
def _contains_default(element: ContainsText, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column.ilike(element.pattern, escape=ESCAPE), **kw)


@compiles(ContainsText, "sqlite")
def _contains_sqlite(element: ContainsText, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    pattern = compiler.process(element.folded, **kw)
    return f"{SQLITE_CASEFOLD}({column}) LIKE {pattern} ESCAPE '{ESCAPE}'"
