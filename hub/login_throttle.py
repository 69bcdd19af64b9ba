"""Throttling log-ins: wrong passwords are counted per account and per calling address
(Flask-Limiter, on the hub's Redis; in memory without it), and once either count is spent the
log-in form answers 429 with `Retry-After` — even to the right password — and the refusal is
audited. Only failed log-ins count, so a person who types their password right is never slowed.

An unknown e-mail costs what a known one does (a password hash is checked either way): the time
of an answer does not tell which accounts exist.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, current_app, render_template, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from hub.extensions import db
from hub.models import AuditEntry, User

limiter = Limiter(key_func=get_remote_address, strategy="moving-window")
# Checked against when the e-mail is unknown, so that both cost one password hash.
_NOBODY = generate_password_hash("no one logs in with this")


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "hub:limits")
    limiter.init_app(app)


def login_email() -> str:
    return (request.form.get("email") or "").strip().lower()


def _account_key() -> str:
    return f"account:{login_email()}"


def _failed(response: Any) -> bool:
    return response.status_code == 401


def _refused(limit: RequestLimit) -> Any:
    wait = max(1, math.ceil(limit.reset_at - time.time()))
    email = login_email()
    user_id = db.session.scalar(select(User.id).where(User.email == email))
    db.session.add(
        AuditEntry(
            actor_id=None,
            actor=f"log-in from {get_remote_address()}",
            entity="users",
            entity_id=str(user_id or "-"),
            action="throttled",
            changes={"email": {"old": None, "new": email[:254]}, "limit": {"old": None, "new": str(limit.limit)}},
        )
    )
    db.session.commit()
    minutes = math.ceil(wait / 60)
    error = f"Too many wrong passwords. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    response = current_app.make_response((render_template("login.html", error=error), 429))
    response.headers["Retry-After"] = str(wait)
    return response


def throttled(view):
    """The log-in view, with both counts of wrong passwords (see the module's docstring)."""
    by_address = limiter.limit(
        lambda: current_app.config["HUB_LOGIN_LIMIT_ADDRESS"],
        key_func=get_remote_address,
        methods=["POST"],
        deduct_when=_failed,
        on_breach=_refused,
        scope="login-address",
    )
    by_account = limiter.limit(
        lambda: current_app.config["HUB_LOGIN_LIMIT_ACCOUNT"],
        key_func=_account_key,
        methods=["POST"],
        deduct_when=_failed,
        on_breach=_refused,
        scope="login-account",
    )
    return by_address(by_account(view))


def password_matches(user: User | None, password: str) -> bool:
    """Whether the password is the user's; for no user, as long to say no."""
    if user is None:
        check_password_hash(_NOBODY, password)
        return False
    return user.check_password(password)
