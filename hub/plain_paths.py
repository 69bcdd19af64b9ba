"""Which performance mechanisms to leave out, so that `bench/` can measure what each one pays
(docs/performance.md, "Mechanisms and what they pay"). HUB_PLAIN_PATHS names them, comma-separated;
unset in a deployed hub, where every mechanism runs."""

from __future__ import annotations

import os


def plain(mechanism: str) -> bool:
    """Whether `mechanism` is to take its plain path (read on every call: a benchmark may switch)."""
    return mechanism in os.environ.get("HUB_PLAIN_PATHS", "").split(",")
