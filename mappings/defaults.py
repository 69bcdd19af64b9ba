"""The default mapping of each connector type, shipped as `mappings/<type>.yaml` and checked when
it is loaded: a broken default fails loudly at start-up, not at the first push."""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

from mappings.parse import loads, parse
from mappings.spec import MappingSpec


class NoDefaultMapping(LookupError):
    pass


def default_types() -> list[str]:
    """The connector types a default mapping ships for."""
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in resources.files("mappings").iterdir()
        if entry.name.endswith(".yaml")
    )


@cache
def _text(type_name: str) -> str:
    entry = resources.files("mappings").joinpath(f"{type_name}.yaml")
    if not type_name.replace("_", "").isalnum() or not entry.is_file():
        raise NoDefaultMapping(f"no default mapping for connector type {type_name!r}")
    return entry.read_text(encoding="utf-8")


def default_document(type_name: str) -> dict[str, Any]:
    """The stored form of the default mapping (a fresh copy the caller may change)."""
    return copy.deepcopy(dict(default_mapping(type_name).document))


@cache
def default_mapping(type_name: str) -> MappingSpec:
    """The parsed default mapping; MappingInvalid if the shipped file is broken."""
    spec = parse(loads(_text(type_name)))
    if spec.target not in (None, type_name):
        raise ValueError(f"mappings/{type_name}.yaml is written for {spec.target!r}")
    return spec
