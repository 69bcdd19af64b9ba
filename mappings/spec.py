"""A parsed mapping and what goes wrong with one: the rules `mappings.parse` compiles, the problems
every step reports (each with its path in the document), and the errors that carry them."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class ProblemKind(enum.StrEnum):
    MAPPING = "mapping"  # the mapping document itself is wrong (bad JMESPath, unknown table, ...)
    EXPRESSION = "expression"  # a valid expression failed on this document (e.g. to_number of a list)
    UNMAPPED = "unmapped"  # a value has no row in a table that refuses unmapped values
    REQUIRED = "required"  # a required target field has no value
    TYPE = "type"  # a value is not of the field's type


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    kind: ProblemKind
    table: str | None = None
    value: str | None = None  # the unmapped value, as its table key

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "message": self.message,
            "kind": self.kind.value,
            "table": self.table,
            "value": self.value,
        }


class MappingError(Exception):
    """Base of the engine's errors: each carries every problem found, with its path."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class MappingInvalid(MappingError):
    """The mapping document is wrong: found when it is loaded or saved, never at push time."""


class MappingFailed(MappingError):
    """This document cannot be mapped (a value without a row, a required field without a value)."""

    @property
    def unmapped(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.kind == ProblemKind.UNMAPPED)


@dataclass(frozen=True)
class Table:
    name: str
    key_type: str = "string"
    value_type: str = "string"
    unmapped: str = "refuse"
    rows: Mapping[str, Any] = field(default_factory=dict)  # normalised key → value (None: "nothing")
    description: str = ""


@dataclass(frozen=True)
class FieldRule:
    target: str
    expr: str | None = None
    compiled: Any = None
    const: Any = None
    has_const: bool = False
    table: str | None = None
    default: Any = None
    has_default: bool = False
    required: bool = False
    type: str = "any"


@dataclass(frozen=True)
class LinesRule:
    target: str
    source: str
    compiled: Any
    fields: tuple[FieldRule, ...]


@dataclass(frozen=True)
class MappingSpec:
    """A parsed, valid mapping. `document` is its storable form (JSON-safe: Decimals as text)."""

    target: str | None
    fields: tuple[FieldRule, ...]
    lines: LinesRule | None
    tables: Mapping[str, Table]
    document: Mapping[str, Any]
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    def with_rows(self, rows: Mapping[str, Mapping[str, Any]]) -> MappingSpec:
        """The same mapping with more table rows (already normalised); these win over inline rows.

        The hub keeps rows edited one by one (SKU → item, customer → party) outside the versioned
        document and hands them in here."""
        tables = dict(self.tables)
        for name, extra in rows.items():
            if name in tables and extra:
                table = tables[name]
                tables[name] = Table(
                    table.name,
                    table.key_type,
                    table.value_type,
                    table.unmapped,
                    {**table.rows, **extra},
                    table.description,
                )
        return MappingSpec(self.target, self.fields, self.lines, tables, self.document, self.description, self.options)

    def target_names(self) -> set[str]:
        names = {f.target for f in self.fields}
        if self.lines is not None:
            names |= {f"{self.lines.target}[].{f.target}" for f in self.lines.fields}
        return names


@dataclass(frozen=True)
class Outcome:
    """What mapping one document gave: the payload (fields with problems left out) and every problem."""

    payload: dict[str, Any]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems
