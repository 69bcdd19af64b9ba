"""Throttling log-ins: wrong passwords are counted per account and per calling address (the
`limits` library, Flask-Limiter's engine, in a moving window kept on the hub's Redis; in memory
without it). Once either count is spent the log-in form answers 429 with `Retry-After` — even to
the right password — and the refusal is audited. Only failed log-ins count, so a person who types
their password right is never slowed.

An unknown e-mail costs what a known one does (a password hash is checked either way): the time
of an answer does not tell which accounts exist.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, request
from flask_babel import ngettext
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from hub.extensions import db
from hub.models import AuditEntry, User

log = logging.getLogger(__name__)
# Checked against when the e-mail is unknown, so that both cost one password hash.
_NOBODY = generate_password_hash("no one logs in with this")
NAMESPACE = "hub:login"


def init_app(app: Flask) -> None:
    storage = storage_from_string(app.config.get("REDIS_URL") or "memory://")
    app.extensions["login_throttle"] = MovingWindowRateLimiter(storage)


def _limiter() -> MovingWindowRateLimiter:
    return current_app.extensions["login_throttle"]


def login_email() -> str:
    return (request.form.get("email") or "").strip().lower()


def _counts() -> list[tuple[RateLimitItem, str]]:
    """Each limit with the key it counts under: the account, and the calling address."""
    config = current_app.config
    return [
        *((limit, f"account:{login_email()}") for limit in parse_many(config["HUB_LOGIN_LIMIT_ACCOUNT"])),
        *((limit, f"address:{request.remote_addr}") for limit in parse_many(config["HUB_LOGIN_LIMIT_ADDRESS"])),
    ]


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # seconds until the spent count has room again
    limit: str

    @property
    def message(self) -> str:
        minutes = math.ceil(self.retry_after / 60)
        return ngettext(
            "Too many wrong passwords. Try again in %(num)s minute.",
            "Too many wrong passwords. Try again in %(num)s minutes.",
            minutes,
        )


def refused() -> Refusal | None:
    """Whether this log-in is refused before its password is looked at (and audited if so). With
    the counts' store out of reach (Redis down), log-ins go on unthrottled, and the log says so:
    people keep working, and the password checks themselves still hold."""
    limiter = _limiter()
    try:
        for limit, key in _counts():
            if not limiter.test(limit, NAMESPACE, key):
                reset_at = limiter.get_window_stats(limit, NAMESPACE, key).reset_time
                refusal = Refusal(max(1, math.ceil(reset_at - time.time())), str(limit))
                _audit(refusal)
                return refusal
    except (ConnectionError, OSError, RedisError) as exc:
        log.warning("log-in throttling unavailable: %s", exc)
    return None


def count_failure() -> None:
    limiter = _limiter()
    try:
        for limit, key in _counts():
            limiter.hit(limit, NAMESPACE, key)
    except (ConnectionError, OSError, RedisError) as exc:
        log.warning("a wrong password could not be counted: %s", exc)


def _audit(refusal: Refusal) -> None:
    email = login_email()
    user_id = db.session.scalar(select(User.id).where(User.email == email))
    db.session.add(
        AuditEntry(
            actor_id=None,
            actor=f"log-in from {request.remote_addr}",
            entity="users",
            entity_id=str(user_id or "-"),
            action="throttled",
            changes={"email": {"old": None, "new": email[:254]}, "limit": {"old": None, "new": refusal.limit}},
        )
    )
    db.session.commit()


def password_matches(user: User | None, password: str) -> bool:
    """Whether the password is the user's; for no user, as long to say no."""
    if user is None:
        check_password_hash(_NOBODY, password)
        return False
    return user.check_password(password)
