"""Typed connector errors: they tell the sync engine what to do next.

| error | meaning | the engine |
| --- | --- | --- |
| RetryableError | timeout, 5xx, 429, lock; `wait` seconds if the target said so | retries with backoff |
| UncertainOutcomeError | sent, no answer came: it may have been applied | looks up before it retries |
| PermanentError | the target refused the data (validation, unknown SKU) | parks the job as failed |
| MappingRefused | a PermanentError before sending: the mapping has no row for a value | parks it, naming the table |
| AuthError | credentials refused or revoked | parks and alerts an admin |
"""

from __future__ import annotations


class ConnectorError(Exception):
    def __init__(self, message: str, *, detail: object = None) -> None:
        super().__init__(message)
        self.message = message
        # What the target answered, for the run history (already free of secrets).
        self.detail = detail


class RetryableError(ConnectorError):
    def __init__(self, message: str, *, wait: float | None = None, detail: object = None) -> None:
        super().__init__(message, detail=detail)
        self.wait = wait


class UncertainOutcomeError(RetryableError):
    """Sent, but no answer: a retry must first look for what the lost request may have created."""


class PermanentError(ConnectorError):
    def __init__(self, message: str, *, field: str | None = None, detail: object = None) -> None:
        super().__init__(message, detail=detail)
        self.field = field


class MappingRefused(PermanentError):
    """The connection's mapping cannot map the document (a value without a row in a value table, a
    required field without a value): nothing was sent. `problems` are the engine's, each with its
    path, table and value; parked until the mapping or a table row is fixed."""

    def __init__(self, problems: tuple, *, field: str | None = None) -> None:
        super().__init__("; ".join(str(p) for p in problems), field=field)
        self.problems = problems


class AuthError(ConnectorError):
    def __init__(self, message: str, *, status: int | None = None, detail: object = None) -> None:
        super().__init__(message, detail=detail)
        # 401 (the token or password is not valid) or 403 (valid, but not allowed to do this).
        self.status = status


class UnsupportedOperation(ConnectorError):
    """The target system cannot do this (e.g. cancel an invoice)."""
