"""Sync runs: one row per attempt, with what was sent and what came back, secrets redacted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from connectors.base import Exchange
from hub.extensions import db
from hub.models import RunOutcome, SyncRun
from hub.models.base import utcnow

REDACTED = "***"
SECRET_KEYS = ("password", "secret", "token", "api_key", "apikey", "authorization", "x-api-key", "client_secret")
EXCERPT_CHARS = 4000


def redact(value: Any, secrets: Sequence[str]) -> Any:
    """Replace secret values wherever they appear, and every value under a secret-looking key."""
    if isinstance(value, dict):
        return {
            k: REDACTED if any(s in str(k).lower() for s in SECRET_KEYS) else redact(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            if secret and len(secret) >= 4:
                value = value.replace(secret, REDACTED)
        return value
    return value


def _excerpt(value: Any) -> Any:
    """The value as plain JSON (Decimals and dates as text), cut short when it is long."""
    text = json.dumps(value, default=str)
    if len(text) <= EXCERPT_CHARS:
        return json.loads(text)
    return {"excerpt": text[:EXCERPT_CHARS], "truncated_chars": len(text) - EXCERPT_CHARS}


def exchanges_json(exchanges: Iterable[Exchange], secrets: Sequence[str]) -> tuple[Any, Any]:
    """(requests, responses) of the exchanges, redacted and shortened for the run history."""
    requests_, responses = [], []
    for ex in exchanges:
        requests_.append(redact({"method": ex.method, "url": ex.url, "body": ex.request}, secrets))
        responses.append(
            redact({"status": ex.status, "body": ex.response, "error": ex.error, "ms": ex.elapsed_ms}, secrets)
        )
    return _excerpt(requests_), _excerpt(responses)


def record_run(
    *,
    connection_id: int,
    operation: str,
    outcome: RunOutcome,
    started_at,
    event_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    attempt: int = 1,
    exchanges: Iterable[Exchange] = (),
    secrets: Sequence[str] = (),
    error: str | None = None,
) -> SyncRun:
    request, response = exchanges_json(exchanges, secrets)
    run = SyncRun(
        connection_id=connection_id,
        event_id=event_id,
        operation=operation,
        object_type=object_type,
        object_id=object_id,
        attempt=attempt,
        started_at=started_at,
        finished_at=utcnow(),
        outcome=outcome,
        request=request or None,
        response=response or None,
        error=redact(error, secrets) if error else None,
    )
    db.session.add(run)
    return run
