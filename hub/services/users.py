"""Users and their access (admins, through the API and the users page), and API tokens (each user
their own). Each change is committed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, select

from hub.errors import Conflict, NotFound
from hub.extensions import db
from hub.models import ApiToken, Role, User
from hub.services.queries import get_or_404, serialise_writes


def create_user(data: Mapping[str, Any]) -> User:
    """A new user from validated input; the e-mail is kept lower-case and unique."""
    email = data["email"].strip().lower()
    serialise_writes(User)  # the same e-mail sent twice at once: the second is refused by name
    _ensure_email_free(email)
    user = User(email=email, name=data["name"], role=data["role"], active=data["active"])
    user.set_password(data["password"])
    db.session.add(user)
    db.session.commit()
    return user


def update_user(user_id: int, data: Mapping[str, Any], actor: User) -> User:
    """Apply validated changes by `actor`, who may not lock themselves out."""
    user = get_or_404(User, user_id)
    _refuse_self_lockout(user, actor, role=data.get("role", user.role), active=data.get("active", user.active))
    changes = dict(data)
    if "email" in changes:
        changes["email"] = changes["email"].strip().lower()
        serialise_writes(User)
        _ensure_email_free(changes["email"], user.id)
    for name in ("email", "name"):
        if name in changes:
            setattr(user, name, changes[name])
    user.set_access(changes.get("role", user.role), changes.get("active", user.active))
    if "password" in changes:
        user.set_password(changes["password"])
    db.session.commit()
    return user


def set_access(user_id: int, actor: User, *, role: Role, active: bool) -> User:
    """A user's role and whether they may log in, set by `actor` (never for themselves)."""
    user = get_or_404(User, user_id)
    _refuse_self_lockout(user, actor, role=role, active=active)
    user.set_access(role, active)
    db.session.commit()
    return user


def delete_user(user_id: int, actor: User) -> None:
    """Delete a user; what they owned keeps existing without an owner."""
    user = get_or_404(User, user_id)
    if user.id == actor.id:
        raise Conflict("You cannot delete yourself.")
    db.session.delete(user)
    db.session.commit()


def issue_token(user: User, name: str) -> tuple[ApiToken, str]:
    """A new API token for `user`, and its clear text (never stored: it is shown once)."""
    token, clear = ApiToken.issue(user, name)
    db.session.add(token)
    db.session.commit()
    return token, clear


def revoke_token(token_id: int, user: User) -> None:
    """Revoke one of `user`'s tokens (an admin, anyone's); 404 for a token they may not see."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and user.role != Role.ADMIN):
        raise NotFound(gettext("No token with id %(id)s.", id=token_id))
    if token.revoked_at is None:
        token.revoke()
    db.session.commit()


def _refuse_self_lockout(user: User, actor: User, *, role: Role, active: bool) -> None:
    """Nobody deactivates themselves or changes their own role: the last admin could lock all out."""
    if user.id == actor.id and (not active or role != actor.role):
        raise Conflict("You cannot deactivate yourself or change your own role.")


def _ensure_email_free(email: str, user_id: int | None = None) -> None:
    query = select(User.id).where(func.lower(User.email) == email.lower())
    if user_id is not None:
        query = query.where(User.id != user_id)
    if db.session.scalar(query) is not None:
        raise Conflict(
            gettext("A user with e-mail %(email)s exists already.", email=email), {"email": [gettext("Already used.")]}
        )
