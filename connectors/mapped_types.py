"""Checking the types a mapping gave before a connector builds its payload from them.

An admin may edit a mapping into one that gives, say, `quantity` as text (no `type: decimal`): the
push is then refused naming the field, instead of failing somewhere inside the payload code."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.errors import PermanentError

Types = Mapping[str, tuple[type, ...]]


def check_types(mapped: Mapping[str, Any], fields: Types, line_fields: Types, system: str) -> None:
    """PermanentError naming the first field (dotted for nested ones: `partner.name`) or line field
    (`lines[2].quantity`) whose value is not of its types; `type(None)` allows it to be empty."""
    for path, types in fields.items():
        _check(_value(mapped, path), types, path, system)
    lines = mapped.get("lines")
    if not isinstance(lines, list) or not lines:
        raise PermanentError("the mapping gives no lines", field="lines")
    for i, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise PermanentError(f"lines[{i}]: the mapping gives {line!r}, not a line", field=f"lines[{i}]")
        for name, types in line_fields.items():
            _check(line.get(name), types, f"lines[{i}].{name}", system)


def number(value: Any, path: str, system: str) -> Decimal:
    """A mapped number (Decimal or int) as Decimal; PermanentError naming `path` for anything else."""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    raise PermanentError(f"{path}: the mapping gives {value!r}; {system} needs a number", field=path)


def _value(mapped: Mapping[str, Any], path: str) -> Any:
    value: Any = mapped
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _check(value: Any, types: tuple[type, ...], path: str, system: str) -> None:
    if not isinstance(value, types) or isinstance(value, bool):
        names = " or ".join("nothing" if t is type(None) else t.__name__ for t in types)
        raise PermanentError(f"{path}: the mapping gives {value!r}; {system} needs {names}", field=path)
