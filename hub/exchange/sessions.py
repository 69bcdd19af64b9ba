"""Who is calling: HTTP Basic against an `onec_exchange` connection's user and password at
`checkauth` (with too many wrong passwords refused for a while: hub/exchange/throttle.py), then
the session cookie (or `sessid`) on every later call."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app, request
from sqlalchemy import select

from hub.exchange import throttle
from hub.exchange.files import remove_folder
from hub.extensions import db
from hub.i18n import N_
from hub.models import Connection, ExchangeSession
from hub.models.base import utcnow
from hub.secrets_box import unseal
from hub.sentences import Stored, english, sentence

TYPE = "onec_exchange"
COOKIE = "hub_1c_exchange"
# A session lives as long as 1C keeps calling; an exchange pauses between calls only briefly.
IDLE = timedelta(hours=1)


class ExchangeDenied(Exception):
    """No (valid) credentials or session: answered 401 with `failure` and the reason (`said`, a
    sentence: 1C gets its English, the run history says it in the reader's language)."""

    status = 401

    def __init__(self, said: Stored, connection: Connection | None = None) -> None:
        self.reason = english(said)
        super().__init__(self.reason)
        self.said = said
        self.connection = connection


class LoginsLocked(ExchangeDenied):
    """Too many wrong passwords from this connection or address: answered 429 until `until`."""

    status = 429

    def __init__(self, until: datetime, connection: Connection | None = None) -> None:
        super().__init__(
            sentence(
                N_("too many wrong passwords: log-ins are refused until %(until)s UTC"),
                until=f"{until:%Y-%m-%d %H:%M:%S}",
            ),
            connection,
        )
        self.until = until


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def folder(session: ExchangeSession) -> Path:
    return Path(current_app.instance_path) / "onec_exchange" / str(session.id)


def candidates(connection_id: int | None, username: str) -> list[Connection]:
    query = select(Connection).where(Connection.type == TYPE, Connection.enabled.is_(True))
    if connection_id is not None:
        query = query.where(Connection.id == connection_id)
    return [c for c in db.session.scalars(query.order_by(Connection.id)) if c.config.get("username") == username]


def check_password(connection_id: int | None) -> Connection:
    """The connection whose user and password the request's Basic credentials are."""
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        raise ExchangeDenied(sentence(N_("send the connection's user and password (HTTP Basic)")))
    found = candidates(connection_id, auth.username)
    scopes = throttle.scopes(found, request.remote_addr)
    now = throttle.now()
    until = throttle.locked_until(scopes, now)
    if until is not None:  # the password is not even looked at
        raise LoginsLocked(until, found[0] if found else None)
    given = (auth.password or "").encode()
    for connection in found:
        stored = str(unseal(connection.secrets_sealed).get("password") or "").encode()
        if stored and hmac.compare_digest(stored, given):
            throttle.succeeded(throttle.scopes([connection], request.remote_addr))
            return connection
    throttle.failed(scopes, now)
    raise ExchangeDenied(sentence(N_("wrong user name or password")), found[0] if found else None)


# Live exchange sessions kept per connection (with the one being opened).
LIVE_SESSIONS = 3


def open_session(connection: Connection) -> tuple[ExchangeSession, str]:
    """A new session for the connection (expired ones and all but the newest live ones are
    removed, with their files); the session and the cookie value to give 1C."""
    now = utcnow()
    live = db.session.scalars(
        select(ExchangeSession)
        .where(ExchangeSession.connection_id == connection.id)
        .order_by(ExchangeSession.expires_at.desc(), ExchangeSession.id.desc())
    ).all()
    # Expired sessions go, and so do all but the newest few live ones: each may hold up to
    # max_total_bytes of files, and 1C works in one exchange at a time.
    for old in [s for s in live if s.expires_at < now] + [s for s in live if s.expires_at >= now][LIVE_SESSIONS - 1 :]:
        remove_folder(folder(old))
        db.session.delete(old)
    token = secrets.token_urlsafe(32)
    session = ExchangeSession(
        connection=connection,
        token_hash=_hash(token),
        expires_at=now + IDLE,
        sent_invoice_ids=[],
        imports={},
        uploaded_bytes=0,
    )
    db.session.add(session)
    db.session.flush()
    # A fresh start: nothing left over from a session that once had this id (a restored database).
    remove_folder(folder(session))
    return session, token


def session_key() -> str | None:
    """The session key the request came with: its cookie, else its `sessid` parameter."""
    return request.cookies.get(COOKIE) or request.args.get("sessid")


def current_session(connection_id: int | None) -> ExchangeSession:
    """The session the request's cookie (or `sessid` parameter) names; ExchangeDenied if none."""
    token = session_key()
    if not token:
        raise ExchangeDenied(
            sentence(N_("no exchange session: call mode=checkauth first and send its cookie %(cookie)s"), cookie=COOKIE)
        )
    session = db.session.scalar(select(ExchangeSession).where(ExchangeSession.token_hash == _hash(token)))
    now = utcnow()
    if session is None or session.expires_at < now:
        raise ExchangeDenied(sentence(N_("the exchange session has expired or is unknown: call mode=checkauth again")))
    connection = session.connection
    if not connection.enabled or connection.type != TYPE or connection_id not in (None, connection.id):
        raise ExchangeDenied(sentence(N_("the exchange session does not belong to this connection")), connection)
    session.expires_at = now + IDLE
    return session


SESSID = re.compile(r"(sessid=)[^&\s\"']+")


class HideSessionKeys(logging.Filter):
    """Masks `sessid=…` (an exchange session's key, which 1C may send in the query string) in the
    access log lines of the development server and of gunicorn."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = SESSID.sub(r"\1***", record.msg)
        if isinstance(record.args, dict):
            record.args = {k: SESSID.sub(r"\1***", v) if isinstance(v, str) else v for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(SESSID.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        return True


def hide_session_keys_in_access_logs() -> None:
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideSessionKeys) for f in logger.filters):
            logger.addFilter(HideSessionKeys())
