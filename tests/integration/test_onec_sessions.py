"""Who may call 1C's exchange (hub/exchange/sessions.py), function by function in a request as 1C
makes it: the Basic credentials matched against the right connections only, sessions that expire,
are renewed and belong to one connection, and the session key kept out of the access logs.
Real database. Written against the mutants `make mutate` left of the module (docs/testing.md)."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.exchange import sessions
from hub.exchange.sessions import (
    COOKIE,
    IDLE,
    ExchangeDenied,
    HideSessionKeys,
    LoginsLocked,
    check_password,
    current_session,
    folder,
    open_session,
)
from hub.extensions import db
from hub.models import Connection, ExchangeSession
from hub.models.base import utcnow
from hub.secrets_box import seal
from tests.conftest import make_connection

URL = "/exchange/1c"


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _one_c(app, name: str, user: str, password: str, **fields) -> int:
    return make_connection(app, name, "onec_exchange", {"username": user, "password": password}, **fields)


def test_the_password_is_checked_against_enabled_exchange_connections_of_that_user_only(app):
    """Kills the candidates' filters (type, enabled, the connection's id) and the loop over them
    stopping at the first (two connections share the user; the second's password is given)."""
    first = _one_c(app, "1C a", "shop", "first-pass")
    second = _one_c(app, "1C b", "shop", "second-pass")
    _one_c(app, "1C off", "shop", "off-pass", enabled=False)
    make_connection(app, "Ledger", "mini_ledger", {"base_url": "http://ledger.example", "api_key": "k-1234"})
    # Another kind of connection with the same user: not the exchange's.
    odata = {"base_url": "http://1c.example/base", "username": "shop", "password": "second-pass"}
    make_connection(app, "1C OData", "onec_odata", odata)
    with app.test_request_context(URL, headers=_basic("shop", "second-pass")):
        assert check_password(None).id == second
        assert [c.id for c in sessions.candidates(None, "shop")] == [first, second]
        assert [c.id for c in sessions.candidates(first, "shop")] == [first]
        assert sessions.candidates(None, "nobody") == []
    with app.test_request_context(URL, headers=_basic("shop", "off-pass")), pytest.raises(ExchangeDenied) as off:
        check_password(None)
    assert (off.value.reason, off.value.status, off.value.connection.id) == ("wrong user name or password", 401, first)
    with app.test_request_context(f"{URL}/{first}", headers=_basic("shop", "second-pass")):
        with pytest.raises(ExchangeDenied):
            check_password(first)
        assert check_password(second).id == second


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer abc"}, _basic("", "x")],
    ids=["none", "bearer", "no-user"],
)
def test_a_request_without_basic_credentials_is_told_to_send_them(app, headers):
    _one_c(app, "1C", "shop", "x-pass")
    with app.test_request_context(URL, headers=headers), pytest.raises(ExchangeDenied) as denied:
        check_password(None)
    assert (denied.value.reason, denied.value.connection) == (
        "send the connection's user and password (HTTP Basic)",
        None,
    )


def test_a_connection_without_a_stored_password_opens_to_no_password(app):
    connection_id = _one_c(app, "1C", "shop", "set-pass")
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        connection.secrets_sealed = seal({})
        db.session.commit()
    with app.test_request_context(URL, headers=_basic("shop", "")), pytest.raises(ExchangeDenied):
        check_password(None)


def test_connections_sharing_a_user_are_tried_in_the_order_they_were_made(app):
    """Which of two connections with the same user a wrong password is held against (its
    attention, its lockout) does not depend on which was edited last. Kills the candidates'
    order left to the database (PostgreSQL returns an updated row after the others)."""
    first = _one_c(app, "1C a", "shop", "first-pass")
    second = _one_c(app, "1C b", "shop", "second-pass")
    with app.app_context():
        db.session.get(Connection, first).name = "1C a (renamed)"
        db.session.commit()
    with app.test_request_context(URL, headers=_basic("shop", "wrong")):
        assert [c.id for c in sessions.candidates(None, "shop")] == [first, second]
        with pytest.raises(ExchangeDenied) as wrong:
            check_password(None)
        assert wrong.value.connection.id == first


def test_a_lockout_names_the_connection_and_when_it_ends(app, monkeypatch):
    connection_id = _one_c(app, "1C", "shop", "right-pass")
    monkeypatch.setitem(app.config, "HUB_EXCHANGE_LOGIN_FAILURES", 1)
    with app.test_request_context(URL, headers=_basic("shop", "wrong")):
        with pytest.raises(ExchangeDenied):
            check_password(None)
        db.session.commit()  # as the endpoint does: the wrong password is counted
    with app.test_request_context(URL, headers=_basic("shop", "right-pass")), pytest.raises(LoginsLocked) as locked:
        check_password(None)
    assert (locked.value.status, locked.value.connection.id) == (429, connection_id)
    assert locked.value.reason.startswith("too many wrong passwords: log-ins are refused until ")
    assert locked.value.reason.endswith(f"{locked.value.until:%Y-%m-%d %H:%M:%S} UTC")


def test_a_locked_out_address_is_refused_for_a_user_name_no_connection_has(app, monkeypatch):
    """An address guessing user names is locked out whatever name it tries next: 429 naming no
    connection (there is none to set the attention of), not a fault of the hub's. Kills the
    lockout's connection taken from an empty list of candidates."""
    _one_c(app, "1C", "shop", "right-pass")
    monkeypatch.setitem(app.config, "HUB_EXCHANGE_LOGIN_FAILURES", 1)
    address = {"REMOTE_ADDR": "198.51.100.7"}
    with app.test_request_context(URL, headers=_basic("admin", "x"), environ_base=address):
        with pytest.raises(ExchangeDenied) as wrong:
            check_password(None)
        db.session.commit()
    assert wrong.value.connection is None
    with (
        app.test_request_context(URL, headers=_basic("guest", "y"), environ_base=address),
        pytest.raises(LoginsLocked) as locked,
    ):
        check_password(None)
    assert (locked.value.status, locked.value.connection) == (429, None)


def _log_in(app, user: str, password: str, address: str) -> int | None:
    """check_password as the endpoint calls it (the counts committed); the connection's id, or
    None when refused."""
    with app.test_request_context(URL, headers=_basic(user, password), environ_base={"REMOTE_ADDR": address}):
        try:
            return check_password(None).id
        except ExchangeDenied:
            return None
        finally:
            db.session.commit()


def test_a_good_log_in_clears_the_wrong_passwords_counted_against_its_address(app, monkeypatch):
    """1C's own slips do not add up to a lockout of its address once it logged in. Kills the
    address the count is cleared for (the calling one, not an unknown one)."""
    connection_id = _one_c(app, "1C", "shop", "right-pass")
    monkeypatch.setitem(app.config, "HUB_EXCHANGE_LOGIN_FAILURES", 3)
    address = "198.51.100.7"
    assert [_log_in(app, user, "x", address) for user in ("shoq", "sh0p")] == [None, None]  # the address's count
    assert _log_in(app, "shop", "right-pass", address) == connection_id
    assert [_log_in(app, user, "x", address) for user in ("shoq", "sh0p")] == [None, None]
    assert _log_in(app, "shop", "right-pass", address) == connection_id  # 2 since the last good one: not locked


def _stored_password(app, connection_id: int, password: str | None) -> None:
    with app.app_context():
        db.session.get(Connection, connection_id).secrets_sealed = seal({"password": password} if password else {})
        db.session.commit()


def test_only_the_stored_password_opens_not_an_empty_or_placeholder_one(app):
    """A connection opens to its password exactly: one whose password is a placeholder word
    (XXXX) to it but not to an empty password, one without a stored password to no password at
    all. Kills the given or the stored password defaulting to a word."""
    connection_id = _one_c(app, "1C", "shop", "right-pass")
    _stored_password(app, connection_id, "XXXX")
    assert [_log_in(app, "shop", given, "198.51.100.7") for given in ("", "XXXX")] == [None, connection_id]
    _stored_password(app, connection_id, None)
    assert [_log_in(app, "shop", given, "198.51.100.7") for given in ("", "XXXX")] == [None, None]


def test_a_session_lasts_an_idle_hour_from_each_call_and_expired_ones_go(app, monkeypatch):
    """Kills IDLE's use (expiry at open and renewal), the expiry check's `<`, and expired sessions
    kept (with their folders) when 1C logs in again."""
    connection_id = _one_c(app, "1C", "shop", "right-pass")
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        old, old_token = open_session(connection)
        folder(old).mkdir(parents=True)
        old.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        old_id = old.id
    with app.test_request_context(URL, headers={"Cookie": f"{COOKIE}={old_token}"}):
        with pytest.raises(ExchangeDenied) as expired:
            current_session(None)
        assert expired.value.reason == "the exchange session has expired or is unknown: call mode=checkauth again"
    assert str(expired.value) == expired.value.reason
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        before = utcnow()
        fresh, token = open_session(connection)
        assert before + IDLE <= fresh.expires_at <= utcnow() + IDLE
        assert (fresh.sent_invoice_ids, fresh.imports, fresh.uploaded_bytes) == ([], {}, 0)
        db.session.commit()
        assert db.session.get(ExchangeSession, old_id) is None
        assert not folder(old).exists()
        fresh.expires_at = utcnow() + timedelta(seconds=5)
        db.session.commit()
    with app.test_request_context(URL, query_string={"sessid": token}):
        before = utcnow()
        session = current_session(connection_id)
        assert session.expires_at >= before + IDLE  # renewed by the call
        assert sessions.session_key() == token
        assert folder(session) == Path(app.instance_path) / "onec_exchange" / str(session.id)
        # Up to the instant it expires, it is good.
        moment = session.expires_at
        monkeypatch.setattr(sessions, "utcnow", lambda: moment)
        assert current_session(connection_id).expires_at == moment + IDLE


def test_a_session_of_a_disabled_connection_is_refused_naming_it(app):
    connection_id = _one_c(app, "1C", "shop", "right-pass")
    with app.app_context():
        _, token = open_session(db.session.get(Connection, connection_id))
        db.session.get(Connection, connection_id).enabled = False
        db.session.commit()
    with (
        app.test_request_context(URL, headers={"Cookie": f"{COOKIE}={token}"}),
        pytest.raises(ExchangeDenied) as denied,
    ):
        current_session(None)
    assert (denied.value.reason, denied.value.connection.id) == (
        "the exchange session does not belong to this connection",
        connection_id,
    )
    with app.test_request_context(URL), pytest.raises(ExchangeDenied) as none:
        current_session(None)
    assert none.value.reason == f"no exchange session: call mode=checkauth first and send its cookie {COOKIE}"


def test_only_the_newest_live_sessions_are_kept(app):
    connection_id = _one_c(app, "1C", "shop", "right-pass")
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        opened = [open_session(connection)[0].id for _ in range(sessions.LIVE_SESSIONS + 1)]
        db.session.commit()
        kept = db.session.scalars(select(ExchangeSession.id).order_by(ExchangeSession.id)).all()
        assert kept == opened[-sessions.LIVE_SESSIONS :]
        # The newest by their last call, not by when they were opened: the oldest, still in use, stays.
        oldest = db.session.get(ExchangeSession, kept[0])
        oldest.expires_at = utcnow() + IDLE + timedelta(minutes=5)
        db.session.commit()
        newest = open_session(connection)[0].id
        db.session.commit()
        remaining = db.session.scalars(select(ExchangeSession.id).order_by(ExchangeSession.id)).all()
        assert remaining == [kept[0], *kept[2:], newest]


def test_sessions_opened_in_the_same_instant_keep_the_newest(app, monkeypatch):
    """Kills the tie-break by id dropped from the order of the live sessions."""
    connection_id = _one_c(app, "1C", "shop", "right-pass")
    moment = utcnow()
    monkeypatch.setattr(sessions, "utcnow", lambda: moment)
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        opened = [open_session(connection)[0].id for _ in range(sessions.LIVE_SESSIONS + 2)]
        db.session.commit()
        kept = db.session.scalars(select(ExchangeSession.id).order_by(ExchangeSession.id)).all()
        assert kept == opened[-sessions.LIVE_SESSIONS :]


def test_a_session_expiring_this_instant_is_still_live(app, monkeypatch):
    """Kills `<` turned `<=` for the expired sessions and `>=` turned `>` for the live ones, and
    the key's length (32 random bytes: 43 characters)."""
    connection_id = _one_c(app, "1C", "shop", "right-pass")
    moment = utcnow()
    monkeypatch.setattr(sessions, "utcnow", lambda: moment)
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        alone, token = open_session(connection)
        assert len(token) == 43
        alone.expires_at = moment
        newer = open_session(connection)[0]
        db.session.commit()
        assert db.session.scalars(select(ExchangeSession.id).order_by(ExchangeSession.id)).all() == [alone.id, newer.id]
        # With two newer ones, it is the oldest of the live: it goes.
        second = open_session(connection)[0]
        newest = open_session(connection)[0]
        db.session.commit()
        remaining = db.session.scalars(select(ExchangeSession.id).order_by(ExchangeSession.id)).all()
        assert remaining == [newer.id, second.id, newest.id]


def test_the_session_key_is_masked_in_a_message_and_other_arguments_stay(app, monkeypatch):
    record = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "GET /exchange/1c?sessid=k3y&mode=init", None, None
    )
    assert HideSessionKeys().filter(record) is True
    assert record.getMessage() == "GET /exchange/1c?sessid=***&mode=init"
    mixed = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s %d %s", ("sessid=abc", 200, "x"), None)
    HideSessionKeys().filter(mixed)
    assert mixed.args == ("sessid=***", 200, "x")
    named = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s %(s)s", None, None)
    named.args = {"r": "GET /?sessid=abc HTTP/1.1", "s": 200}
    HideSessionKeys().filter(named)
    assert named.args == {"r": "GET /?sessid=*** HTTP/1.1", "s": 200}
    for name in ("werkzeug", "gunicorn.access"):  # as a fresh process has them: the app added one already
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    sessions.hide_session_keys_in_access_logs()
    sessions.hide_session_keys_in_access_logs()
    for name in ("werkzeug", "gunicorn.access"):
        assert sum(isinstance(f, HideSessionKeys) for f in logging.getLogger(name).filters) == 1
