"""The one recorder of what a target did with a hub invoice: pushed, failed (retried later, or
parked), cancelled or credited, or its status changed. Each outcome is a `Result`, made by one of
the functions below; `record` writes a list of them, one or a thousand, in the caller's
transaction, with a few statements per kind of row rather than an ORM object per row (which was
most of the hub's time beside Tryton's creates).

| row | what a result may write |
| --- | --- |
| outbox event | state (done, pending again after a wait, failed), attempts, last error; the lease let go |
| external link | the target's id, number, url, state, amount paid; made when the invoice has none there |
| credit note | the one a cancel made, unless the link has one already |
| hub invoice | state and amount paid, by an `InvoiceMove` on the state it has when recorded: a \
compare-and-set, so a change made meanwhile (finance cancelling it) wins |
| audit | one `update` entry per invoice moved, as the session listener writes them (hub.audit) |
| sync run | one per attempt, with what was sent and what came back |

Objects of these rows that the session holds are expired afterwards: the ORM reads what was written.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm.util import identity_key

from connectors.documents import ExternalRef, ExternalState
from connectors.errors import (
    AuthError,
    ConnectorError,
    MappingRefused,
    PermanentError,
    RetryableError,
    UncertainOutcomeError,
    UnsupportedOperation,
)
from connectors.oauth import ReauthorizationRequired
from hub.audit import updated_in_bulk
from hub.extensions import db
from hub.i18n import N_, N_plural
from hub.models import (
    PARKED_FOR_REAUTHORISATION,
    Connection,
    CreditNote,
    ExternalLink,
    HubInvoice,
    InvoiceState,
    OutboxEvent,
    OutboxState,
    RunOutcome,
    SyncRun,
)
from hub.models.base import utcnow
from hub.sentences import Stored, counted, english, number, sentence
from hub.sync import outbox
from hub.sync.backoff import retry_delay
from hub.sync.factory import secret_values
from hub.sync.history import redact, run_values
from hub.sync.oauth_tokens import MustAuthoriseAgain, reauthorise_attention, refused

STATE_OF = {
    ExternalState.DRAFT: InvoiceState.SENT,
    ExternalState.POSTED: InvoiceState.POSTED,
    ExternalState.PARTIALLY_PAID: InvoiceState.PARTIALLY_PAID,
    ExternalState.PAID: InvoiceState.PAID,
    ExternalState.CANCELLED: InvoiceState.CANCELLED,
}
# A push moves only invoices not yet further than sent.
NOT_FURTHER_THAN_SENT = frozenset({InvoiceState.PENDING, InvoiceState.FAILED, InvoiceState.SENT})
NOT_CANCELLED = frozenset(InvoiceState) - {InvoiceState.CANCELLED}


@dataclass(frozen=True)
class InvoiceMove:
    """Where a hub invoice goes: to `state` when it is in one of `from_states`; its amount paid
    becomes `amount_paid` (whatever its state) unless that is None."""

    state: InvoiceState
    from_states: frozenset[InvoiceState]
    amount_paid: Decimal | None = None


@dataclass(frozen=True)
class Result:
    """One outcome for one invoice in one target, as the rows it writes (see the module's table)."""

    connection_id: int
    invoice_id: int
    run: Mapping[str, Any]  # the sync run's columns (hub.sync.history.run_values)
    event_id: int | None = None
    event: Mapping[str, Any] = field(default_factory=dict)  # outbox columns; "state" releases it
    link: Mapping[str, Any] = field(default_factory=dict)  # link columns to set
    new_link: Mapping[str, Any] | None = None  # more columns, to make the link if missing (None: never)
    credit_note: Mapping[str, Any] | None = None
    invoice: InvoiceMove | None = None

    @property
    def outcome(self) -> RunOutcome:
        return self.run["outcome"]


def _run(connection_id: int, invoice_id: int, outcome: RunOutcome, **run: Any) -> dict[str, Any]:
    """The sync run of an attempt at an invoice (`run`: the rest of history.run_values' arguments)."""
    return run_values(connection_id=connection_id, object_type="invoice", object_id=invoice_id, outcome=outcome, **run)


def _link_values(ref: ExternalRef) -> dict[str, str | None]:
    return {
        "external_id": ref.external_id,
        "external_number": ref.external_number,
        "url": ref.url,
        "state": ref.status.value,
    }


def pushed(connection_id: int, event_id: int, invoice_id: int, ref: ExternalRef, **run: Any) -> Result:
    """Found or created in the target: the link, the invoice as far as the target says, the event done."""
    return Result(
        connection_id,
        invoice_id,
        _run(connection_id, invoice_id, RunOutcome.SUCCESS, event_id=event_id, **run),
        event_id=event_id,
        event={"state": OutboxState.DONE, "last_error": None, "last_error_message": None},
        link=_link_values(ref),
        new_link={},
        invoice=InvoiceMove(STATE_OF[ref.status], NOT_FURTHER_THAN_SENT),
    )


def failed(connection: Connection, event_id: int, invoice_id: int, attempts: int, exc: Exception, **run: Any) -> Result:
    """The target (or the hub) failed the event's `attempts + 1`-th try: retried after a wait, or
    parked when it cannot succeed as it is or is out of attempts (a pending invoice is then failed).
    Sets the connection's `attention` when an admin must act."""
    outcome, error, event = _judge(connection, attempts, exc)
    parked = event["state"] == OutboxState.FAILED
    return Result(
        connection.id,
        invoice_id,
        _run(connection.id, invoice_id, outcome, event_id=event_id, error=error, **run),
        event_id=event_id,
        event=event,
        invoice=InvoiceMove(InvoiceState.FAILED, frozenset({InvoiceState.PENDING})) if parked else None,
    )


def cancelled(
    connection_id: int,
    event_id: int,
    invoice_id: int,
    ref: ExternalRef | None,
    state: ExternalState | None,
    *,
    credit_note: ExternalRef | None = None,
    amount: Decimal | None = None,
    error: str | Stored | None = None,
    **run: Any,
) -> Result:
    """A cancel is done: the target's invoice `ref` is now `state` (None: left as it was, e.g.
    credited before), with the credit note it was credited by (of `amount`); `ref` None: the target
    had no invoice to cancel (skipped, saying so in `error`). The hub invoice was cancelled when
    its deal was lost, so it does not move."""
    outcome = RunOutcome.SKIPPED if ref is None else RunOutcome.SUCCESS
    note = None
    if credit_note is not None:
        note = {**_link_values(credit_note), "amount": amount}
        del note["state"]
    return Result(
        connection_id,
        invoice_id,
        _run(connection_id, invoice_id, outcome, event_id=event_id, error=error, **run),
        event_id=event_id,
        event={"state": OutboxState.DONE},
        link={} if state is None else {"state": state.value},
        new_link=None if ref is None else {k: v for k, v in _link_values(ref).items() if k != "state"},
        credit_note=note,
    )


def not_cancelled(connection_id: int, event_id: int, invoice_id: int, exc: UnsupportedOperation, **run: Any) -> Result:
    """The target cannot cancel it (nor credit it): parked with its words, for a person to settle."""
    return Result(
        connection_id,
        invoice_id,
        _run(connection_id, invoice_id, RunOutcome.FAILED, event_id=event_id, error=exc.message, **run),
        event_id=event_id,
        event={"state": OutboxState.FAILED, **last_error(exc.message)},
    )


def status_changed(
    connection_id: int, invoice_id: int, state: ExternalState, paid: Decimal | None, link: Mapping[str, Any], **run: Any
) -> Result:
    """What the target says became of an invoice, onto its link (with the `link` columns given) and
    the hub invoice: the target's state maps to a hub state, except that an invoice cancelled in the
    hub stays cancelled unless the target cancelled it too. `paid` None leaves the amounts paid as
    they are (1C's "posted" or "cancelled" says nothing about payments; a status pull always tells).
    No `run` (1C's exchange keeps its own): no sync run."""
    amounts = {} if paid is None else {"amount_paid": paid}
    from_states = frozenset(InvoiceState) if state == ExternalState.CANCELLED else NOT_CANCELLED
    return Result(
        connection_id,
        invoice_id,
        _run(connection_id, invoice_id, RunOutcome.SUCCESS, **run) if run else {},
        link={**link, "state": state.value, **amounts},
        invoice=InvoiceMove(STATE_OF[state], from_states, paid),
    )


def status_unknown(connection_id: int, invoice_id: int, exc: ConnectorError, **run: Any) -> Result:
    """The target could not say: only the run."""
    return Result(
        connection_id,
        invoice_id,
        _run(connection_id, invoice_id, RunOutcome.FAILED, error=exc.message, **run),
    )


# ---- writing ----------------------------------------------------------------------------------


def record(results: Sequence[Result]) -> None:
    """Write the results (see the module's table) in the session's transaction; the caller commits.
    Several results for one invoice: the last one's link and move count."""
    if not results:
        return
    session = db.session
    session.flush()  # the ORM's pending writes first: the statements below read and overwrite rows
    now = utcnow()
    _write_events(results, now)
    links = _write_links(results)
    _write_credit_notes(results, links)
    moved = _move_invoices(results)
    runs = [r.run for r in results if r.run]
    if runs:
        session.execute(insert(SyncRun.__table__), runs)
    _expire(OutboxEvent, [r.event_id for r in results if r.event])
    _expire(ExternalLink, links.values())  # new links are in no session yet
    _expire(HubInvoice, moved)


def _write_events(results: Sequence[Result], now) -> None:
    """One UPDATE per distinct set of values: a batch's pushed events are one."""
    groups: dict[tuple, list[int]] = {}
    for result in results:
        if not result.event:
            continue
        values = {**outbox.released(result.event["state"], now=now), **result.event}
        groups.setdefault(_key(values), (values, []))[1].append(result.event_id)
    table = OutboxEvent.__table__
    for values, ids in groups.values():
        db.session.execute(update(table).where(table.c.id.in_(ids)).values(values))


def _key(values: Mapping[str, Any]) -> tuple:
    """The values as a key to group by: a stored sentence (a dict) by its JSON."""
    return tuple(
        (name, json.dumps(value, sort_keys=True) if isinstance(value, dict) else value)
        for name, value in sorted(values.items())
    )


def _write_links(results: Sequence[Result]) -> dict[tuple[int, int], int]:
    """Make or update each result's link; every link written, by (connection id, invoice id)."""
    wanted = {(r.connection_id, r.invoice_id): r for r in results if r.link or r.new_link is not None}
    if not wanted:
        return {}
    ids = _link_ids(wanted)
    new = [
        {"connection_id": c, "invoice_id": i, **r.new_link, **r.link}
        for (c, i), r in wanted.items()
        if (c, i) not in ids and r.new_link is not None
    ]
    for rows in _by_keys(new):
        db.session.execute(insert(ExternalLink.__table__), rows)
    changed = [{"link_id": ids[key], **r.link} for key, r in wanted.items() if key in ids and r.link]
    table = ExternalLink.__table__
    for rows in _by_keys(changed):
        db.session.execute(update(table).where(table.c.id == bindparam("link_id")), rows)
    if new and any(r.credit_note is not None for r in wanted.values()):
        return _link_ids(wanted)  # the new ones' ids too, for their credit notes
    return ids


def _link_ids(keys) -> dict[tuple[int, int], int]:
    rows = db.session.execute(
        select(ExternalLink.connection_id, ExternalLink.invoice_id, ExternalLink.id).where(
            ExternalLink.connection_id.in_({c for c, _ in keys}), ExternalLink.invoice_id.in_({i for _, i in keys})
        )
    ).all()
    return {(c, i): link_id for c, i, link_id in rows if (c, i) in keys}


def _by_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their columns: one statement per group."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _write_credit_notes(results: Sequence[Result], links: dict[tuple[int, int], int]) -> None:
    """One credit note per link: a retried cancel finds the one recorded before."""
    notes = {links[(r.connection_id, r.invoice_id)]: r.credit_note for r in results if r.credit_note is not None}
    if not notes:
        return
    kept = set(db.session.scalars(select(CreditNote.link_id).where(CreditNote.link_id.in_(notes))))
    rows = [{"link_id": link_id, **note} for link_id, note in notes.items() if link_id not in kept]
    if rows:
        db.session.execute(insert(CreditNote.__table__), rows)


def _move_invoices(results: Sequence[Result]) -> list[int]:
    """Apply each invoice's move to the state it has now, audited; the ids of the invoices moved.
    One UPDATE per (state before, state after, amount paid): a batch of pushes is one or two."""
    moves = {r.invoice_id: r.invoice for r in results if r.invoice is not None}
    if not moves:
        return []
    table = HubInvoice.__table__
    groups: dict[tuple, list[int]] = {}
    before: dict[int, Decimal] = {}
    for invoice_id, state, paid in db.session.execute(
        select(table.c.id, table.c.state, table.c.amount_paid).where(table.c.id.in_(moves))
    ).all():
        move = moves[invoice_id]
        new_state = move.state if state in move.from_states else state
        new_paid = move.amount_paid if move.amount_paid is not None and move.amount_paid != paid else None
        if new_state != state or new_paid is not None:
            groups.setdefault((state, new_state, new_paid), []).append(invoice_id)
            before[invoice_id] = paid
    moved: list[int] = []
    for (old, new, paid), ids in groups.items():
        values: dict[str, Any] = {"state": new} if new != old else {}
        if paid is not None:
            values["amount_paid"] = paid
        # By the state read: an invoice whose state changed meanwhile is left to that change.
        done = db.session.scalars(
            update(table).where(table.c.id.in_(ids), table.c.state == old).values(values).returning(table.c.id)
        ).all()
        changes: dict[int, dict[str, tuple[Any, Any]]] = {}
        for invoice_id in done:
            change = changes[invoice_id] = {}
            if paid is not None:  # in the listener's order of columns: amount_paid, then state
                change["amount_paid"] = (before[invoice_id], paid)
            if new != old:
                change["state"] = (old, new)
        updated_in_bulk(db.session, table, changes)
        moved += done
    return moved


def _expire(model: type, ids) -> None:
    session = db.session
    for row_id in ids:
        obj = session.identity_map.get(identity_key(model, row_id))
        if obj is not None:
            session.expire(obj)


# ---- judging a failure --------------------------------------------------------------------------


def last_error(error: str | Stored) -> dict[str, Any]:
    """An event's `last_error` columns: its English text and, when the hub wrote a sentence around
    the target's words, the sentence (hub.sentences), said in the reader's language."""
    if isinstance(error, str):
        return {"last_error": error, "last_error_message": None}
    return {"last_error": english(error), "last_error_message": error}


REAUTHORISATION_NEEDED = N_(
    "%(connection)s (%(type)s): not sent, re-authorisation needed (%(message)s). "
    "Re-authorise the connection on the connections page; this push is then sent again by itself."
)
NOT_MAPPED = N_(
    "%(connection)s (%(type)s): not sent, the mapping cannot map it: %(message)s. Add the missing rows to "
    "table %(tables)s of connection '%(connection)s' "
    "(PUT /api/v1/connections/%(id)s/mapping/tables/<table>/rows/<value>), then retry."
)
NOT_MAPPED_NO_TABLE = N_(
    "%(connection)s (%(type)s): not sent, the mapping cannot map it: %(message)s. "
    "Fix the mapping of connection '%(connection)s', then retry."
)
REFUSED = N_("%(connection)s (%(type)s) refused it: %(message)s")
GAVE_UP = N_plural("gave up after %(num)s attempt: %(message)s", "gave up after %(num)s attempts: %(message)s")


def _judge(connection: Connection, attempts: int, exc: Exception) -> tuple[RunOutcome, str | Stored, dict[str, Any]]:
    """(the run's outcome, the run's error, the event's columns) of a failed try. The errors are the
    target's words (text), or sentences of the hub's around them (hub.sentences)."""
    message = exc.message if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
    message = redact(message, secret_values(connection))  # a target's answer may echo them
    parked = {"state": OutboxState.FAILED, **last_error(message)}
    named = {"connection": connection.name, "type": connection.type}
    if isinstance(exc, ReauthorizationRequired):
        # Not lost: parked until an admin authorises the connection again, then requeued by itself.
        # The hub's words for the refusal as their sentence, unless redacting changed them.
        words = exc.said if isinstance(exc, MustAuthoriseAgain) else refused(exc)
        if words is None or english(words) != message:
            words = None
        said = sentence(REAUTHORISATION_NEEDED, **named, message=words or message)
        connection.needs_attention(reauthorise_attention(words or exc.message))
        return RunOutcome.FAILED, said, {**parked, **last_error(said), "parked_for": PARKED_FOR_REAUTHORISATION}
    if isinstance(exc, AuthError):
        connection.needs_attention(sentence(N_("The target refused the credentials: %(message)s"), message=message))
        return RunOutcome.FAILED, message, parked
    if isinstance(exc, MappingRefused):
        # Nothing was sent: the mapping has no row for a value. Name the connection, the tables and
        # the values, so that whoever reads the failed queue knows which row to add before retrying.
        tables = sorted({p.table for p in exc.problems if getattr(p, "table", None)})
        if tables:
            said = sentence(NOT_MAPPED, **named, message=message, tables=", ".join(tables), id=str(connection.id))
        else:
            said = sentence(NOT_MAPPED_NO_TABLE, **named, message=message)
        return RunOutcome.FAILED, said, {**parked, **last_error(said)}
    if isinstance(exc, PermanentError):
        # Parked until someone fixes the data: say where, so the failed queue reads on its own.
        said = sentence(REFUSED, **named, message=message)
        return RunOutcome.FAILED, said, {**parked, **last_error(said)}
    event_error = message
    if not isinstance(exc, ConnectorError):
        message = f"{message}\n{''.join(traceback.format_exception(exc)[-3:])}"
    attempts += 1
    if attempts >= current_app.config["HUB_RETRY_MAX_ATTEMPTS"]:
        gave_up = counted(*GAVE_UP, "num", num=number(attempts), message=message)
        return RunOutcome.FAILED, gave_up, {**parked, "attempts": attempts}
    delay = retry_delay(attempts, exc.wait if isinstance(exc, RetryableError) else None)
    event = {
        "state": OutboxState.PENDING,
        "attempts": attempts,
        "available_at": utcnow() + timedelta(seconds=delay),
        **last_error(event_error),
    }
    return (RunOutcome.UNCERTAIN if isinstance(exc, UncertainOutcomeError) else RunOutcome.RETRY), message, event
