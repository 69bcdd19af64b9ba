"""Typed errors raised by hub code, and the one JSON shape every API error is answered with.

`{"code": "validation_error", "message": "...", "errors": {"lines[2].quantity": ["..."]}}`
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class HubError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: Mapping[str, list[str] | str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = {k: [v] if isinstance(v, str) else list(v) for k, v in (errors or {}).items()}


class ValidationFailed(HubError):
    """The input is well-formed but wrong; `errors` names each bad field."""

    status = 422
    code = "validation_error"

    def __init__(self, errors: Mapping[str, list[str] | str], message: str = "The input is not valid.") -> None:
        super().__init__(message, errors)


class NotFound(HubError):
    status = 404
    code = "not_found"


class Conflict(HubError):
    """The request is valid but contradicts the current state (duplicate key, won deal, ...)."""

    status = 409
    code = "conflict"


class PreconditionFailed(HubError):
    """The request's If-Match names no current version of the record: it was changed since the
    client read it (RFC 9110, 13.1.1). Nothing is written."""

    status = 412
    code = "precondition_failed"


class UpstreamFailed(HubError):
    """A target system refused or did not answer something the request needed done there."""

    status = 502
    code = "upstream_error"


class Unauthorized(HubError):
    status = 401
    code = "unauthorized"


class Forbidden(HubError):
    status = 403
    code = "forbidden"


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    502: "upstream_error",
}


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into paths: {"lines": {2: {"quantity": [..]}}} →
    {"lines[2].quantity": [..]}."""
    if isinstance(messages, list):
        return {prefix or "_schema": [str(m) for m in messages]}
    if not isinstance(messages, Mapping):
        return {prefix or "_schema": [str(messages)]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
            path = f"{prefix}[{key}]"
        elif key == "_schema" and prefix:
            path = prefix
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        for k, v in flatten_messages(value, path).items():
            flat.setdefault(k, []).extend(v)
    return flat


def error_body(code: str, message: str, errors: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "errors": dict(errors or {})}
