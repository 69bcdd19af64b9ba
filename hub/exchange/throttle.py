"""Brute-force protection for the exchange's `checkauth`: wrong passwords are counted per
connection (the user name 1C gave names it) and per calling address. After
`HUB_EXCHANGE_LOGIN_FAILURES` of them within `HUB_EXCHANGE_LOCKOUT_SECONDS`, log-ins from that
scope are refused (429, even with the right password) until the lockout ends; a good log-in clears
the count. The counts live in the database, so every web process sees the same ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hub.extensions import db
from hub.models import Connection, ExchangeLoginFailures
from hub.models.base import utcnow


def now() -> datetime:
    """The clock lockouts are judged by (tests replace it)."""
    return utcnow()


def scopes(connections: Iterable[Connection], address: str | None) -> list[str]:
    """The scopes a log-in attempt counts against."""
    return [f"connection:{c.id}" for c in connections] + [f"address:{address or 'unknown'}"]


def locked_until(scope_names: list[str], at: datetime) -> datetime | None:
    """When the latest lockout among these scopes ends; None when none is locked."""
    ends = db.session.scalars(
        select(ExchangeLoginFailures.locked_until).where(
            ExchangeLoginFailures.scope.in_(scope_names), ExchangeLoginFailures.locked_until > at
        )
    ).all()
    return max(ends, default=None)


def failed(scope_names: list[str], at: datetime) -> None:
    """Count a wrong password against each scope; lock those that reach the limit."""
    limit = current_app.config["HUB_EXCHANGE_LOGIN_FAILURES"]
    period = timedelta(seconds=current_app.config["HUB_EXCHANGE_LOCKOUT_SECONDS"])
    for scope in scope_names:
        row = _row(scope, at)
        if row.first_failed_at <= at - period:  # failures long ago count no more
            row.failures, row.first_failed_at = 0, at
        row.failures += 1
        if row.failures >= limit:
            row.locked_until, row.failures, row.first_failed_at = at + period, 0, at


def succeeded(scope_names: list[str]) -> None:
    db.session.execute(delete(ExchangeLoginFailures).where(ExchangeLoginFailures.scope.in_(scope_names)))


def _row(scope: str, at: datetime) -> ExchangeLoginFailures:
    found = db.session.scalar(select(ExchangeLoginFailures).where(ExchangeLoginFailures.scope == scope))
    if found is not None:
        return found
    row = ExchangeLoginFailures(scope=scope, failures=0, first_failed_at=at)
    try:
        with db.session.begin_nested():  # another process may count the same scope's first failure
            db.session.add(row)
    except IntegrityError:
        return db.session.scalars(select(ExchangeLoginFailures).where(ExchangeLoginFailures.scope == scope)).one()
    return row
