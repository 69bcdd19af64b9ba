"""Authentication (session cookie for the web, `Authorization: Bearer` for machines) and the
`requires` decorator that enforces `hub.permissions` on every API view."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import Flask, Response, g, request, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from hub.errors import Forbidden, Unauthorized
from hub.extensions import db, login_manager
from hub.kept_answers import TOKENS, Cache
from hub.models.base import utcnow
from hub.models.users import ApiToken, Role, User, hash_token
from hub.permissions import POLICY, RESOURCE_NAMES, allowed
from hub.plain_paths import plain

F = TypeVar("F", bound=Callable[..., Any])
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def _as_actor(user: User | None, via: str) -> User | None:
    if user is not None and user.active:
        g.actor = (user.id, user.email)
        g.auth_via = via
        return user
    return None


# The user's session generation when the login session began (see User.session_generation).
SESSION_GENERATION = "session_generation"


def begin_session(user: User) -> None:
    """Log the user in on this browser, in their current session generation."""
    login_user(user)
    session[SESSION_GENERATION] = user.session_generation


def end_sessions(user: User) -> None:
    """Log the user out here and on every browser their session cookie reached."""
    user.end_sessions()
    db.session.commit()
    logout_user()


@login_manager.user_loader
def _load_session_user(user_id: str) -> User | None:
    if request.headers.get("Authorization"):
        return None  # an explicit credential wins over a cookie
    user = db.session.get(User, int(user_id))
    if user is None or session.get(SESSION_GENERATION) != user.session_generation:
        return None  # logged out, a new password or role since the session began
    return _as_actor(user, "session")


@dataclass
class _Bearer:
    """What a request needs of a live API token: its id, when it was last used, and its user as a
    snapshot that no session holds."""

    token_id: int
    last_used_at: datetime | None
    user: User


# Live tokens by digest, kept by each worker under the tokens epoch (hub/kept_answers.py), for 10 s at
# most; HUB_PLAIN_PATHS=tokens looks every one up.
_BEARERS: Cache[_Bearer | None] = Cache(TOKENS, max_age_s=10.0, max_entries=1024)


@login_manager.request_loader
def _load_token_user(req) -> User | None:
    header = req.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential:
        return None
    digest = hash_token(credential.strip())
    looked_up: list[User] = []

    def look_up() -> _Bearer | None:
        token = db.session.scalar(
            select(ApiToken)
            .where(ApiToken.token_hash == digest)
            .options(joinedload(ApiToken.user))  # one query for token and user
        )
        if token is None or token.revoked_at is not None:
            return None
        looked_up.append(token.user)
        return _Bearer(token.id, token.last_used_at, _snapshot(token.user))

    bearer = _BEARERS.get(digest, look_up, max_entries=0 if plain("tokens") else None)
    if bearer is None:
        return None
    now = utcnow()
    if bearer.last_used_at is None or now - bearer.last_used_at > TOKEN_TOUCH_INTERVAL:
        # Its own short transaction, outside the request's (a GET never commits, a refused POST rolls
        # back) and outside the audit log; throttled so that reads do not each become a write.
        with db.engine.begin() as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == bearer.token_id).values(last_used_at=now))
        bearer.last_used_at = now
    # A kept user joins this request's session as it was read, without a query.
    user = looked_up[0] if looked_up else db.session.merge(bearer.user, load=False)
    return _as_actor(user, "token")


def _snapshot(user: User) -> User:
    copy = User()
    for column in sa_inspect(User).column_attrs:
        set_committed_value(copy, column.key, getattr(user, column.key))
    make_transient_to_detached(copy)
    return copy


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


def refusal(role: Role, resource: str, action: str) -> str:
    """Why `role` may not `action` `resource`, in the request's language."""
    names = {"role": gettext(role.value), "resource": gettext(RESOURCE_NAMES[resource])}
    if action == "read":
        return gettext("The %(role)s role may not read %(resource)s.", **names)
    return gettext("The %(role)s role may not write %(resource)s.", **names)


def requires(resource: str, action: str) -> Callable[[F], F]:
    """Refuse with 401 when nobody is logged in and 403 when the role may not."""
    if resource not in POLICY or action not in POLICY[resource]:
        raise KeyError(f"no permission {resource}.{action}")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = authenticated_user()
            if not allowed(user.role, resource, action):
                raise Forbidden(refusal(user.role, resource, action))
            return view(*args, **kwargs)

        wrapper.permission = (resource, action)  # type: ignore[attr-defined]  # read by the permission tests
        return wrapper  # type: ignore[return-value]

    return decorator


class _NoSessionForTokens(SecureCookieSessionInterface):
    """A request made with an API token gets no session cookie. The token is its credential; a
    cookie it was handed (a page's CSRF token, say) would come back on its client's next request
    as a session that never logged in, which strong session protection refuses before the token
    is read: a machine reading two pages with one cookie jar was sent to the log-in page."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if g.get("auth_via") != "token":
            super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = _NoSessionForTokens()
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
