"""`Idempotency-Key` on every POST and PATCH of the API, as payment APIs have it: a client that
sends a request again after a timeout, a cut connection or a double click gets the first answer,
not a second change.

- The first request with a key claims it (caller, key, a hash of the request) before its view
  runs, and stores its answer when it ends. The claim is marked, in the request's own transaction,
  when the request commits a change.
- The same key and request again: the stored answer, with `Idempotent-Replayed: true`.
- The same key with another request (method, path, query or body): 422.
- The same key while the first is still running: 409; try again shortly.
- A key counts for 24 hours (`HUB_IDEMPOTENCY_KEEP_SECONDS`).
- An answer that says "try again" (5xx, 429) from a request that changed nothing is not kept, so
  the retry runs. A claim whose request died without an answer is taken over after
  `HUB_IDEMPOTENCY_STALE_SECONDS` if that request changed nothing; if it did, the key answers 409
  until it expires (its outcome is in the data, its answer is lost).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from apispec import BasePlugin
from flask import Flask, Response, current_app, g, jsonify, request
from flask_login import current_user
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import make_transient_to_detached

from hub.errors import error_body
from hub.extensions import db
from hub.models import IdempotencyKey
from hub.models.base import utcnow
from hub.models.idempotency import keep_period

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
METHODS = frozenset({"POST", "PATCH"})
KEY_FORMAT = re.compile(r"[\x21-\x7e]{1,255}")
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
_CLAIM = "hub_idempotency_claim"


def _error(status: int, code: str, message: str, **headers: str) -> Response:
    response = jsonify(error_body(code, message, {HEADER: [message]} if status == 422 else {}))
    response.status_code = status
    response.headers.update(headers)
    return response


def _request_hash() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.full_path):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _claim_new(user_id: int, key: str, digest: str, now: datetime) -> int | None:
    """Insert the claim, or renew an expired one; its id, or None when a live one has the key."""
    table = IdempotencyKey.__table__
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(user_id=user_id, key=key, request_hash=digest, created_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.key],
        set_={"request_hash": digest, "created_at": now, "committed_at": None, "status": None, "body": None},
        where=table.c.created_at <= now - keep_period(),
    ).returning(table.c.id)
    with db.engine.begin() as conn:
        return conn.execute(statement).scalar()


def _take_over(row: IdempotencyKey) -> bool:
    """Claim a key whose request died before answering and changed nothing (compare-and-set)."""
    table = IdempotencyKey.__table__
    with db.engine.begin() as conn:
        taken = conn.execute(
            update(table)
            .where(
                table.c.id == row.id,
                table.c.created_at == row.created_at,
                table.c.status.is_(None),
                table.c.committed_at.is_(None),
            )
            .values(created_at=utcnow())
        )
    return taken.rowcount == 1


def _find(user_id: int, key: str):
    with db.engine.connect() as conn:
        return conn.execute(
            select(IdempotencyKey.__table__).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        ).one_or_none()


def _existing(row, digest: str, now: datetime) -> Response | int:
    """What a request with a key already claimed gets: the stored answer, or a refusal; or the
    claim's id when it was abandoned and is taken over."""
    if row.request_hash != digest:
        return _error(422, "validation_error", "This Idempotency-Key was used with a different request; use a new key.")
    if row.status is not None:
        replay = Response(row.body, status=row.status, headers=row.headers or {})
        replay.headers[REPLAYED] = "true"
        return replay
    stale = timedelta(seconds=current_app.config["HUB_IDEMPOTENCY_STALE_SECONDS"])
    if row.created_at > now - stale:
        return _error(
            409,
            "conflict",
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            **{"Retry-After": "1"},
        )
    if row.committed_at is None and _take_over(row):
        return row.id
    return _error(
        409,
        "conflict",
        "The earlier request with this Idempotency-Key made its change, but its answer was lost; "
        "look the resource up instead of sending it again.",
    )


def _claim(user_id: int, key: str, digest: str, now: datetime) -> int | Response:
    """The claim's id for this request, or the answer it gets instead (a replay or a refusal)."""
    # Read first: on SQLite a claim waits for the database's one writer, which may be the request
    # that holds this very key.
    row = _find(user_id, key)
    if row is None or row.created_at <= now - keep_period():
        claim = _claim_new(user_id, key, digest, now)
        if claim is not None:
            return claim
        row = _find(user_id, key)  # claimed by a request that arrived at the same moment
        if row is None:  # and purged in between
            return _error(409, "conflict", "This Idempotency-Key was just released; send the request again.")
    return _existing(row, digest, now)


def _before() -> Response | None:
    key = request.headers.get(HEADER)
    if key is None or request.method not in METHODS or not request.path.startswith("/api/"):
        return None
    if not current_user.is_authenticated:
        return None  # the view answers 401
    if not KEY_FORMAT.fullmatch(key):
        return _error(422, "validation_error", "An Idempotency-Key is 1 to 255 visible ASCII characters.")
    now = utcnow()
    claim = _claim(current_user.id, key, _request_hash(), now)
    if isinstance(claim, Response):
        return claim
    setattr(g, _CLAIM, claim)
    # Marked with the request's first commit: a change made under this key is then on record.
    marker = IdempotencyKey(id=claim)
    make_transient_to_detached(marker)
    db.session.merge(marker, load=False).committed_at = now
    return None


def _after(response: Response) -> Response:
    claim = g.pop(_CLAIM, None)
    if claim is None:
        return response
    db.session.rollback()  # what the view did not commit is not part of its outcome
    table = IdempotencyKey.__table__
    with db.engine.begin() as conn:
        if response.status_code >= 500 or response.status_code == 429:
            # A refusal to try again later, from a request that changed nothing: the retry runs.
            conn.execute(delete(table).where(table.c.id == claim, table.c.committed_at.is_(None)))
        conn.execute(
            update(table)
            .where(table.c.id == claim)
            .values(
                status=response.status_code,
                body=response.get_data(as_text=True),
                headers={k: response.headers[k] for k in KEPT_HEADERS if k in response.headers},
            )
        )
    return response


def _teardown(error: BaseException | None) -> None:
    claim = g.pop(_CLAIM, None)
    if claim is None:
        return  # answered (and recorded) by _after
    # The request ended in an exception before it had an answer: free the key unless it committed.
    db.session.rollback()
    table = IdempotencyKey.__table__
    with db.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.id == claim, table.c.committed_at.is_(None), table.c.status.is_(None)))


PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": f"^{KEY_FORMAT.pattern}$"},
    "description": "Send the same request again with the same key to get the first answer instead of a "
    "second change (kept 24 h; the answer then carries `Idempotent-Replayed: true`). The same key with "
    "another request: 422; while the first is still running: 409.",
}


class OpenAPIHeader(BasePlugin):
    """Names the header on every POST and PATCH of the OpenAPI document."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for method, operation in (operations or {}).items():
            if method.upper() in METHODS:
                operation.setdefault("parameters", []).append(PARAMETER)


def init_app(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)
