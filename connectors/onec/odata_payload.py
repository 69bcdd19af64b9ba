"""Pieces of the document body the OData connector builds: catalog items the push creates
(`NewItem`, standing in for their Ref_Key until then) and the body's clean-up for 1C and for the
preview.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from connectors.onec.odata_options import names
from mappings.values import storable


@dataclass(frozen=True)
class NewItem:
    """A catalog item the push creates (after every document of the batch passed its checks)."""

    catalog: str
    fields: dict[str, Any]
    match: str

    @property
    def key(self) -> str:
        """The same item wanted twice in a batch (one new customer, two invoices) is created once."""
        return self.catalog + json.dumps(storable(self.fields), sort_keys=True, ensure_ascii=False)

    def note(self) -> str:
        return f"(new {self.catalog} item, created by the push: {shown(self.fields, self.match)})"


def shown(fields: Any, match: str) -> str:
    if not isinstance(fields, dict):
        return "nothing mapped"
    return ", ".join(f"{n} {fields[n]!r}" for n in names(match) if fields.get(n) not in (None, "")) or "no values"


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def with_notes(body: dict[str, Any]) -> dict[str, Any]:
    def note(value: Any) -> Any:
        if isinstance(value, NewItem):
            return value.note()
        if isinstance(value, dict):
            return {k: note(v) for k, v in value.items()}
        if isinstance(value, list):
            return [note(v) for v in value]
        return value

    return note(body)
