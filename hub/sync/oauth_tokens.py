"""A connection's OAuth tokens, sealed on its row and shared by every worker.

Rows are read and written on their own short transactions, outside the job's session: a refreshed
token must be committed at once (the provider has already invalidated the old refresh token, and
the next worker needs the new one), whatever the job later commits or rolls back.

State transitions of `Connection.oauth_state`
- None (never authorised) → authorised: the admin completed the authorization (`authorise`).
- authorised → reauthorize: the provider refused the refresh token (`revoked`); every request then
  fails at once with ReauthorizationRequired, without calling the provider.
- reauthorize → authorised: the admin authorised again (oauth_flow.authorise); the pushes parked
  meanwhile are requeued.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import timedelta

import redis
from sqlalchemy import select, update

from connectors.errors import RetryableError
from connectors.oauth import ReauthorizationRequired, Tokens, TokenStore
from hub.extensions import db
from hub.i18n import N_
from hub.models import Authorisation, Connection
from hub.models.base import utcnow
from hub.secrets_box import SecretsUnreadable, seal, unseal
from hub.sentences import Stored, english, sentence

# Longer than a token request may take (its timeout is 15 s), so a lock is never lost mid-refresh;
# short enough that a worker killed while holding it blocks the others for less than a minute.
LOCK_SECONDS = 45
# How long a worker waits for another's refresh before it gives up and retries the job later.
WAIT_SECONDS = 30
# How long before the refresh token expires the connection asks to be authorised again.
REAUTHORISE_WARNING = timedelta(days=14)


def seal_tokens(tokens: Tokens) -> str:
    return seal(tokens.as_json())


def unseal_tokens(sealed: str | None) -> Tokens | None:
    return Tokens.from_json(unseal(sealed)) if sealed else None


class ConnectionTokenStore(TokenStore):
    """The TokenStore of one connection: tokens on its row, refreshes serialised by a Redis lock."""

    def __init__(self, connection_id: int, redis_client: redis.Redis, *, key_prefix: str = "hub:oauth") -> None:
        self.connection_id = connection_id
        self.redis = redis_client
        self.lock_name = f"{key_prefix}:{connection_id}:refresh"

    def _row(self) -> tuple[str | None, Authorisation | None, str | Stored | None]:
        with db.engine.connect() as conn:
            row = conn.execute(
                select(
                    Connection.oauth_sealed,
                    Connection.oauth_state,
                    Connection.oauth_reason,
                    Connection.oauth_reason_message,
                ).where(Connection.id == self.connection_id)
            ).one()
        # The reason as its sentence when it has one, for the error that names it.
        reason = row.oauth_reason
        if row.oauth_reason_message and english(row.oauth_reason_message) == reason:
            reason = row.oauth_reason_message
        return row.oauth_sealed, row.oauth_state, reason

    def load(self) -> Tokens | None:
        sealed, state, reason = self._row()
        if state == Authorisation.REAUTHORIZE:
            # Asking the provider again with a refused token would only be refused again.
            raise must_authorise_again(reason)
        return unseal_tokens(sealed)

    def replace(self, stale: Tokens, renew: Callable[[Tokens], Tokens]) -> Tokens:
        lock = self.redis.lock(self.lock_name, timeout=LOCK_SECONDS, blocking_timeout=WAIT_SECONDS)
        if not lock.acquire():
            raise RetryableError("another worker is still refreshing this connection's OAuth token", wait=5)
        try:
            sealed, state, reason = self._row()
            if state == Authorisation.REAUTHORIZE:
                # Another worker's refresh was refused while this one waited: do not ask again.
                raise must_authorise_again(reason)
            current = unseal_tokens(sealed)
            if current is not None and current.access_token != stale.access_token:
                return current  # another worker refreshed while this one waited
            try:
                fresh = renew(current or stale)
            except ReauthorizationRequired as exc:
                # Marked before the lock is released, so that no waiting worker asks again.
                self.revoked(exc.message, refused(exc))
                raise
            with db.engine.begin() as conn:
                conn.execute(
                    update(Connection)
                    .where(Connection.id == self.connection_id)
                    .values(oauth_sealed=seal_tokens(fresh))
                )
            return fresh
        finally:
            with contextlib.suppress(redis.exceptions.LockError):  # it expired: nothing to release
                lock.release()

    def revoked(self, reason: str, said: Stored | None = None) -> None:
        """`said`: the reason as a sentence (hub.sentences), when the hub knows its words."""
        with db.engine.begin() as conn:
            conn.execute(
                update(Connection)
                .where(Connection.id == self.connection_id)
                .values(
                    oauth_state=Authorisation.REAUTHORIZE,
                    oauth_reason=reason,
                    oauth_reason_message=said,
                    oauth_changed_at=utcnow(),
                    attention=english(reauthorise_attention(said or reason)),
                    attention_message=reauthorise_attention(said or reason),
                )
            )


def refused(exc: ReauthorizationRequired) -> Stored | None:
    """The connector's words of a refused refresh token as the hub's sentence, the provider's own
    words in it as they are; None when the provider said nothing the hub can frame."""
    if exc.refusal is None:
        return None
    return sentence(N_("the provider refused the refresh token: %(refusal)s"), refusal=exc.refusal)


class MustAuthoriseAgain(ReauthorizationRequired):
    """A request made while the connection waits to be authorised again: refused by the hub, which
    keeps its words as a sentence (`said`, hub.sentences) for the failed queue."""

    def __init__(self, said: Stored) -> None:
        super().__init__(english(said))
        self.said = said


def must_authorise_again(reason: str | Stored | None) -> MustAuthoriseAgain:
    return MustAuthoriseAgain(sentence(N_("the connection must be authorised again: %(reason)s"), reason=reason))


def reauthorise_attention(reason: str | Stored) -> Stored:
    return sentence(
        N_(
            "Re-authorisation needed: %(reason)s. Authorise the connection again on the connections page; "
            "the pushes parked meanwhile are then sent again by themselves."
        ),
        reason=reason,
    )


def authorisation_of(connection: Connection) -> Mapping[str, object]:
    """What the API and the pages show of an OAuth connection: the state, never the tokens, and
    `reauthorise_before` when the refresh token expires within REAUTHORISE_WARNING (an idle Xero
    connection, QuickBooks' 100 days): an admin authorises again before the pushes stop."""
    reauthorise_before = None
    if connection.oauth_state == Authorisation.AUTHORISED:
        try:
            tokens = unseal_tokens(connection.oauth_sealed)
        except SecretsUnreadable:
            tokens = None  # the pushes say so; the list of connections still shows
        ends = tokens.refresh_expires_at if tokens else None
        if ends is not None and ends - utcnow() < REAUTHORISE_WARNING:
            reauthorise_before = ends
    return {
        "state": connection.oauth_state.value if connection.oauth_state else "never_authorised",
        "reason": connection.oauth_reason_text,
        "since": connection.oauth_changed_at,
        "reauthorise_before": reauthorise_before,
    }
