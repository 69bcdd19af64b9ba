"""Comparing two versions of a mapping document, leaf by leaf, for the history page."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mappings.values import storable


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any
    kind: str  # added | removed | changed


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """What changed between two mapping documents, leaf by leaf (lists compared as wholes)."""
    changes: list[Change] = []
    _diff(storable(old), storable(new), "", changes)
    return changes


def _diff(old: Any, new: Any, path: str, changes: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            sub = _join(path, key)
            if key not in new:
                changes.append(Change(sub, old[key], None, "removed"))
            elif key not in old:
                changes.append(Change(sub, None, new[key], "added"))
            else:
                _diff(old[key], new[key], sub, changes)
    elif old != new:
        changes.append(Change(path or "document", old, new, "changed"))


def _join(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"
