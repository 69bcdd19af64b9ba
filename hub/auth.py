"""Authentication (session cookie for the web, `Authorization: Bearer` for machines) and the
`requires` decorator that enforces `hub.permissions` on every API view."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Flask, g, request
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from hub.errors import Forbidden, Unauthorized
from hub.extensions import db, login_manager
from hub.models.base import utcnow
from hub.models.users import ApiToken, User, hash_token
from hub.permissions import POLICY, allowed

F = TypeVar("F", bound=Callable[..., Any])
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def _as_actor(user: User | None, via: str) -> User | None:
    if user is not None and user.active:
        g.actor = (user.id, user.email)
        g.auth_via = via
        return user
    return None


@login_manager.user_loader
def _load_session_user(user_id: str) -> User | None:
    if request.headers.get("Authorization"):
        return None  # an explicit credential wins over a cookie
    return _as_actor(db.session.get(User, int(user_id)), "session")


@login_manager.request_loader
def _load_token_user(req) -> User | None:
    header = req.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential:
        return None
    token = db.session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_token(credential.strip()))
        .options(joinedload(ApiToken.user))  # one query per request for token and user
    )
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_TOUCH_INTERVAL:
        # Its own short transaction, outside the request's (a GET never commits, a refused POST rolls
        # back) and outside the audit log; throttled so that reads do not each become a write.
        with db.engine.begin() as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    return _as_actor(token.user, "token")


def authenticated_user() -> User:
    if not current_user.is_authenticated:
        raise Unauthorized("Log in, or send an API token as 'Authorization: Bearer <token>'.")
    return current_user._get_current_object()


def authenticated(view: F) -> F:
    """Refuse with 401 when nobody is logged in, before the input is read (views for every role)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        authenticated_user()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def requires(resource: str, action: str) -> Callable[[F], F]:
    """Refuse with 401 when nobody is logged in and 403 when the role may not."""
    if resource not in POLICY or action not in POLICY[resource]:
        raise KeyError(f"no permission {resource}.{action}")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = authenticated_user()
            if not allowed(user.role, resource, action):
                raise Forbidden(f"The {user.role.value} role may not {action} {resource}.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    login_manager.session_protection = "strong"
