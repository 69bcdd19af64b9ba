"""Sync runs: one row per attempt, with what was sent and what came back, secrets redacted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from connectors.base import Exchange
from hub.extensions import db
from hub.models import RunOutcome, SyncRun
from hub.models.base import utcnow
from hub.sentences import Stored, english

REDACTED = "***"
SECRET_KEYS = ("password", "secret", "token", "api_key", "apikey", "authorization", "x-api-key", "client_secret")
EXCERPT_CHARS = 4000


def redact(value: Any, secrets: Sequence[str]) -> Any:
    """Replace secret values wherever they appear, and every value under a secret-looking key."""
    return _redact(value, _redacted_secrets(secrets))


def _redact(value: Any, secrets: list[str]) -> Any:
    # `secrets` already filtered, once per walk rather than once per string in it.
    if isinstance(value, dict):
        return {k: REDACTED if _secret_key(k) else _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    return value


@lru_cache(maxsize=4096, typed=True)
def _secret_key(key: Any) -> bool:
    # A batch's payloads repeat the same few keys thousands of times: each is judged once.
    return any(s in str(key).lower() for s in SECRET_KEYS)


@dataclass(frozen=True)
class RedactedExchange:
    request: dict[str, Any]
    response: dict[str, Any]
    request_json: str
    response_json: str
    # Request and response as JSON, joined once: which documents the exchange carried is looked up here.
    text: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", self.request_json + self.response_json)


def redact_exchanges(exchanges: Iterable[Exchange], secrets: Sequence[str]) -> list[RedactedExchange]:
    """Redact once per job: a batch's runs share its exchanges (redacting them per run cost
    O(batch²) — most of a 50-invoice push's time before)."""
    out = []
    for ex in exchanges:
        request, request_json = _redacted({"method": ex.method, "url": ex.url, "body": ex.request}, secrets)
        response, response_json = _redacted(
            {"status": ex.status, "body": ex.response, "error": ex.error, "ms": ex.elapsed_ms}, secrets
        )
        out.append(RedactedExchange(request, response, request_json, response_json))
    return out


def _redacted(value: dict[str, Any], secrets: Sequence[str]) -> tuple[dict[str, Any], str]:
    """The value redacted, and its JSON. The JSON is written first: when it holds no secret-looking
    word and no secret, there is nothing to redact, and walking a batch's payloads to find that out
    was most of the redaction's time."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if _may_hold_secrets(text, secrets):
        value = redact(value, secrets)
        text = json.dumps(value, default=str, ensure_ascii=False)
    return value, text


def _may_hold_secrets(text: str, secrets: Sequence[str]) -> bool:
    lowered = text.lower()
    if any(word in lowered for word in SECRET_KEYS):
        return True
    # Unescaped (ensure_ascii=False), a string's JSON holds every run of its characters as they are,
    # except quotes, backslashes and control characters: a secret with one of those is not searched.
    return any(
        secret in text or json.dumps(secret, ensure_ascii=False)[1:-1] != secret
        for secret in _redacted_secrets(secrets)
    )


def _redacted_secrets(secrets: Sequence[str]) -> list[str]:
    return [secret for secret in secrets if secret and len(secret) >= 4]


def exchanges_by_document(exchanges: Sequence[RedactedExchange], batch_keys: Sequence[str]):
    """The exchanges of a batch that concern each of its documents, by key: those that name its
    key, and those that name no document of the batch (a log-in, a failure before anything was
    sent). Which exchanges name none is worked out once per exchange, not once per document."""
    unnamed = [not any(k in ex.text for k in batch_keys) for ex in exchanges]
    return {
        key: [ex for ex, general in zip(exchanges, unnamed, strict=True) if general or key in ex.text]
        for key in batch_keys
    }


def exchanges_json(exchanges: Iterable[Exchange | RedactedExchange], secrets: Sequence[str]) -> tuple[Any, Any]:
    """(requests, responses) of the exchanges, redacted and shortened for the run history."""
    redacted = [ex if isinstance(ex, RedactedExchange) else redact_exchanges([ex], secrets)[0] for ex in exchanges]
    return _excerpt_of([ex.request_json for ex in redacted]), _excerpt_of([ex.response_json for ex in redacted])


def _excerpt_of(items_json: list[str]) -> Any:
    """The list as plain JSON (Decimals and dates as text), cut short when it is long; its items are
    JSON already, so they are joined, not dumped again."""
    text = "[" + ", ".join(items_json) + "]"
    if len(text) <= EXCERPT_CHARS:
        return json.loads(text)
    return {"excerpt": text[:EXCERPT_CHARS], "truncated_chars": len(text) - EXCERPT_CHARS}


def run_values(
    *,
    connection_id: int,
    operation: str,
    outcome: RunOutcome,
    started_at,
    event_id: int | None = None,
    object_type: str | None = None,
    object_id: int | None = None,
    attempt: int = 1,
    exchanges: Iterable[Exchange | RedactedExchange] = (),
    secrets: Sequence[str] = (),
    error: str | Stored | None = None,
) -> dict[str, Any]:
    """A run's row as column values: what `record_run` adds, or a batch inserts many of at once.
    `error`: the target's words (text), or the hub's note as a sentence (hub.sentences), kept in
    English and as the sentence, said in the reader's language."""
    request, response = exchanges_json(exchanges, secrets)
    message = None
    if isinstance(error, Mapping):
        message = _redacted_sentence(error, _redacted_secrets(secrets))
        error = english(message)
    return {
        "connection_id": connection_id,
        "event_id": event_id,
        "operation": operation,
        "object_type": object_type,
        "object_id": object_id,
        "attempt": attempt,
        "started_at": started_at,
        "finished_at": utcnow(),
        "outcome": outcome,
        "request": request or None,
        "response": response or None,
        "error": redact(error, secrets) if error else None,
        "error_message": message,
    }


def _redacted_sentence(stored: Mapping[str, Any], secrets: list[str]) -> Stored:
    """The sentence with secrets taken out of its values; its template (a msgid) left as it is."""
    out = dict(stored)
    if "params" in stored:
        out["params"] = {name: _redacted_value(value, secrets) for name, value in stored["params"].items()}
    if "items" in stored:
        out["items"] = [_redacted_value(item, secrets) for item in stored["items"]]
    return out


def _redacted_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, Mapping):
        return _redacted_sentence(value, secrets)
    return _redact(value, secrets)


def record_run(**fields: Any) -> SyncRun:
    """Add one run to the session (the arguments are `run_values`')."""
    run = SyncRun(**run_values(**fields))
    db.session.add(run)
    return run
