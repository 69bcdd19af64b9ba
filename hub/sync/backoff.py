"""How long a failed piece of work waits before it is tried again: a push, a cancel, an alert's
delivery. Jitter spreads the retries of many workers that failed at the same moment."""

from __future__ import annotations

import random

from flask import current_app


def retry_delay(attempts: int, wait: float | None = None) -> float:
    """Exponential backoff with jitter; the target's own wait (Retry-After) when it gave one."""
    config = current_app.config
    if wait is not None:
        return wait + random.uniform(0, min(1.0, wait * 0.1))
    ceiling = min(config["HUB_RETRY_CAP_SECONDS"], config["HUB_RETRY_BASE_SECONDS"] * 2 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
