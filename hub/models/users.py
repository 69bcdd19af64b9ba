"""People who log in, their roles, and the API tokens machines use on their behalf."""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    SALES = "sales"
    FINANCE = "finance"
    OPERATIONS = "operations"


class User(UserMixin, Timestamps, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A login session remembers the generation it began in; bumping it ends every session of the
    # user (log-out, a new password, a new role, deactivation), wherever its cookie was copied to.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The language of the user's pages (hub.i18n.LANGUAGES); None: the browser's, else the instance's.
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    __audit_redact__ = ("password_hash",)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def set_access(self, role: Role, active: bool) -> None:
        """A new role or state; sessions begun under the old one end."""
        if (role, active) != (self.role, self.active):
            self.role, self.active = role, active
            self.end_sessions()

    def end_sessions(self) -> None:
        self.session_generation = (self.session_generation or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


TOKEN_PREFIX = "crm_"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(Timestamps, db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")

    __audit_redact__ = ("token_hash",)

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """Create a token for `user`; the clear text is returned once and never stored."""
        clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls(user=user, name=name, token_hash=hash_token(clear), hint=clear[:10])
        return token, clear

    def revoke(self) -> None:
        self.revoked_at = utcnow()
