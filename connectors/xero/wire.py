"""Xero's wire conventions: literals of its `where` filter, the validation errors of its answers, and
the idempotency key that makes a retried create safe."""

from __future__ import annotations

import hashlib
import json as _json
from collections.abc import Mapping
from datetime import date
from typing import Any

from connectors.refused_field import field_in_message

# References or contacts per `where` filter: keeps the query string short.
WHERE_CHUNK = 25

# Requests whose retry must not create twice: Xero keeps the answer of a request with an
# `Idempotency-Key` and gives it again for the same key (at most 128 characters).
CREATES = frozenset({"/Invoices", "/Contacts", "/CreditNotes"})


def date_literal(day: date) -> str:
    """A date in Xero's `where` syntax."""
    return f"DateTime({day.year},{day.month:02d},{day.day:02d})"


def quoted(text: str) -> str:
    """A string literal in Xero's `where` syntax."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def has_errors(element: Mapping[str, Any]) -> bool:
    return bool(
        element.get("HasErrors") or element.get("ValidationErrors") or element.get("StatusAttributeString") == "ERROR"
    )


def validation_errors(body: Any, sent: list[Any]) -> list[tuple[int, str, str | None]]:
    """(element index, message, field) of every validation error in a Xero answer: a 400's
    `Elements`, or the elements of a batch answered with summarizeErrors=false."""
    if not isinstance(body, Mapping) or not isinstance(body.get("Elements"), list):
        return []
    found = []
    for index, element in enumerate(body["Elements"]):
        if not isinstance(element, Mapping):
            continue
        messages = [e.get("Message") for e in element.get("ValidationErrors") or [] if isinstance(e, Mapping)]
        for line in element.get("LineItems") or []:
            if isinstance(line, Mapping):
                messages += [e.get("Message") for e in line.get("ValidationErrors") or [] if isinstance(e, Mapping)]
        payload = sent[index] if index < len(sent) else None
        found += [(index, m, field_in_message(m, payload) if payload else None) for m in messages if m]
    return found


def idempotency_key(method: str, path: str, body: Any) -> str:
    """The same create, sent again after a lost answer, gets the same key: the request's digest."""
    sent = _json.dumps([method, path, body], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(sent.encode()).hexdigest()
