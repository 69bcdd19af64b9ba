"""Counts a test wants shown at the end of the run (how many generated cases it tried, say):
`tally("name")["key"] += n`; conftest prints them in pytest's terminal summary."""

from __future__ import annotations

from collections import Counter

TALLIES: dict[str, Counter] = {}


def tally(name: str) -> Counter:
    return TALLIES.setdefault(name, Counter())
