"""Why an invoice did not reach a target, in words a salesperson understands, and who can fix it.

When a push is parked (hub.sync.push), the connector's typed error becomes one short sentence for
the deal page and the API, the target's own words are kept for finance and admins, and the deal's
owner gets an in-app notice: one per parked push, so the attempts before it was parked send none.

Who to ask (the decision, written down in docs/using.md):
- finance, when the target refused the document (an unknown product, a line's price or tax, the
  customer, the currency, the total): they keep the target's books, fix it there, then retry;
- admin, when the connection failed (credentials, the mapping, its settings, the target not
  reachable, a fault in the hub): they own the connection and the failed queue.
When nobody active holds the role, the admins are named instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from connectors.errors import AuthError, ConnectorError, MappingRefused, PermanentError
from hub.extensions import db
from hub.i18n import N_
from hub.models import Connection, HubInvoice, InvoiceState, OutboxEvent, OutboxState, Role, User
from hub.models.notices import InvoiceNotice
from hub.money import round_money
from hub.sentences import Stored, english, money, number, percent, said, sentence

LINE_FIELD = re.compile(r"^lines\[(\d+)\](?:\.(\w+))?")
CUSTOMER_FIELDS = ("customer", "party", "contact", "contact_name")


@dataclass(frozen=True)
class Explanation:
    reason: Stored  # a sentence (hub.sentences): said in the reader's language where it is shown
    ask: Role

    @property
    def english(self) -> str:
        return english(self.reason)


@dataclass(frozen=True)
class Problem:
    """One target that does not hold a deal's invoice, and why (what the deal page and API show)."""

    invoice_id: int
    connection: str
    reason: str  # in the reader's language
    ask: Role
    ask_people: list[str]
    detail: str | None  # None unless the reader may see the target's own words
    since: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "reason": self.reason,
            "ask": self.ask.value,
            "ask_people": self.ask_people,
            "detail": self.detail,
            "since": self.since.isoformat() if self.since else None,
        }


def explain(exc: Exception, target: str, snapshot: dict[str, Any], *, gave_up: bool = False) -> Explanation:
    """The plain sentence for a parked push of the invoice `snapshot` to `target`.
    `gave_up`: the push was parked after its last retry, not refused."""
    if isinstance(exc, AuthError):
        return Explanation(
            sentence(
                N_(
                    "%(target)s did not accept the hub's log-in, so the invoice was not sent. "
                    "An admin must renew the connection's access; the invoice can then be sent again."
                ),
                target=target,
            ),
            Role.ADMIN,
        )
    if isinstance(exc, MappingRefused):
        values = sorted({p.value for p in exc.problems if getattr(p, "value", None)})
        if values:
            reason = sentence(
                N_("The hub's settings for %(target)s have no match for %(values)s, so the invoice was not sent."),
                target=target,
                values=", ".join(values),
            )
        else:
            reason = sentence(
                N_(
                    "The hub's settings for %(target)s have no way to fill in every field, so the invoice was not sent."
                ),
                target=target,
            )
        return Explanation(reason, Role.ADMIN)
    if isinstance(exc, PermanentError):
        return _refused(exc.field, target, snapshot)
    if gave_up and isinstance(exc, ConnectorError):
        return Explanation(
            sentence(N_("%(target)s could not be reached, so the invoice was not sent."), target=target), Role.ADMIN
        )
    return Explanation(
        sentence(N_("Sending the invoice to %(target)s failed because of a fault in the hub."), target=target),
        Role.ADMIN,
    )


def _refused(field: str | None, target: str, snapshot: dict[str, Any]) -> Explanation:
    """The target refused the document; `field` names what it refused."""
    currency = snapshot.get("currency", "")
    if field and (match := LINE_FIELD.match(field)):
        return Explanation(_line_refused(int(match.group(1)), match.group(2) or "", target, snapshot), Role.FINANCE)
    if field == "total":
        return Explanation(
            sentence(
                N_(
                    "%(target)s works out a different total than the hub's %(total)s, "
                    "so the invoice was not booked there."
                ),
                target=target,
                total=_amount(snapshot.get("total"), currency),
            ),
            Role.FINANCE,
        )
    if field and field.split(".")[0] in CUSTOMER_FIELDS:
        name = (snapshot.get("customer") or {}).get("name")
        if name:
            reason = sentence(
                N_("%(target)s could not find or create the customer %(name)s."), target=target, name=name
            )
        else:
            reason = sentence(N_("%(target)s could not find or create the customer."), target=target)
        return Explanation(reason, Role.FINANCE)
    if field == "currency":
        return Explanation(
            sentence(N_("%(target)s does not take invoices in %(currency)s."), target=target, currency=currency),
            Role.FINANCE,
        )
    if field == "lines":
        return Explanation(sentence(N_("%(target)s could not take the invoice's lines."), target=target), Role.FINANCE)
    if field:
        return Explanation(
            sentence(
                N_("The connection to %(target)s is not set up to take invoices (its setting '%(field)s')."),
                target=target,
                field=field,
            ),
            Role.ADMIN,
        )
    return Explanation(sentence(N_("%(target)s refused the invoice."), target=target), Role.FINANCE)


# What a target refused on one line, with the line's SKU or description (`label`) and without.
LINE_REFUSED = {
    "sku": (
        N_("%(target)s does not know the product of line %(line)s (%(label)s)."),
        N_("%(target)s does not know the product of line %(line)s."),
    ),
    "tax": (
        N_("%(target)s has no tax for the rate of %(rate)s on line %(line)s (%(label)s)."),
        N_("%(target)s has no tax for the rate of %(rate)s on line %(line)s."),
    ),
    "amount": (
        N_("%(target)s cannot invoice line %(line)s (%(label)s) at the hub's amount of %(amount)s."),
        N_("%(target)s cannot invoice line %(line)s at the hub's amount of %(amount)s."),
    ),
    "other": (
        N_("%(target)s refused line %(line)s (%(label)s)."),
        N_("%(target)s refused line %(line)s."),
    ),
}


def _line_refused(index: int, part: str, target: str, snapshot: dict[str, Any]) -> Stored:
    lines = snapshot.get("lines") or []
    line = lines[index] if index < len(lines) else {}
    label = line.get("sku") or line.get("description") or ""
    # The line's number is a position, not a quantity: written as it is in every language.
    values: dict[str, Any] = {"target": target, "line": str(index + 1)}
    if part == "sku" and line.get("sku"):
        return sentence(N_("%(target)s does not know the product %(sku)s (line %(line)s)."), sku=line["sku"], **values)
    if part in ("tax", "tax_rate"):
        kind = "tax"
        values["rate"] = percent(Decimal(str(line.get("tax_rate", "0"))))
    elif part in ("unit_price", "quantity", "discount_percent"):
        kind = "amount"
        values["amount"] = _amount(line.get("net"), snapshot.get("currency", ""))
    else:
        kind = "sku" if part == "sku" else "other"
    with_label, without = LINE_REFUSED[kind]
    return sentence(with_label, label=label, **values) if label else sentence(without, **values)


def _amount(value: Any, currency: str) -> Stored | str:
    if value is None:
        return ""
    if not currency:
        return number(Decimal(str(value)))
    return money(round_money(Decimal(str(value)), currency), currency)


# ---- writing: when a push is parked -------------------------------------------------------------


def notify_parked(connection: Connection, event: OutboxEvent, exc: Exception, *, gave_up: bool) -> InvoiceNotice | None:
    """The notice of a parked push, added to the session (the parking transaction commits it)."""
    invoice: HubInvoice | None = event.invoice
    if invoice is None:
        return None
    explanation = explain(exc, connection.name, invoice.snapshot or {}, gave_up=gave_up)
    notice = InvoiceNotice(
        user_id=invoice.deal.owner_id,
        deal_id=invoice.deal_id,
        invoice_id=invoice.id,
        connection_id=connection.id,
        event_id=event.id,
        reason=explanation.english,
        reason_message=explanation.reason,
        detail=event.last_error,
        detail_message=event.last_error_message,
        ask=explanation.ask,
    )
    db.session.add(notice)
    return notice


# ---- reading: what the deal page and the API show ----------------------------------------------


def problems_for(invoices: Sequence[HubInvoice], *, with_detail: bool) -> dict[int, list[Problem]]:
    """Per invoice id, each target whose push is parked now, with the newest explanation of it.
    `with_detail`: include the target's own words (finance and admins)."""
    # A push that is parked turns a pending invoice failed, and a cancelled one is no longer sent:
    # neither has a problem to show, and a deal just won (the won answer) is not read again.
    ids = [inv.id for inv in invoices if inv.state not in (InvoiceState.PENDING, InvoiceState.CANCELLED)]
    if not ids:
        return {}
    parked = db.session.execute(
        select(
            OutboxEvent.id,
            OutboxEvent.invoice_id,
            OutboxEvent.last_error,
            OutboxEvent.last_error_message,
            OutboxEvent.finished_at,
            Connection.name,
        )
        .join(Connection, Connection.id == OutboxEvent.connection_id)
        .where(
            OutboxEvent.invoice_id.in_(ids),
            OutboxEvent.operation == "push_invoice",
            OutboxEvent.state == OutboxState.FAILED,
        )
        .order_by(OutboxEvent.id)
    ).all()
    if not parked:
        return {}
    notices: dict[int, InvoiceNotice] = {}
    for notice in db.session.scalars(
        select(InvoiceNotice).where(InvoiceNotice.event_id.in_([row.id for row in parked])).order_by(InvoiceNotice.id)
    ):
        notices[notice.event_id] = notice  # the newest per event wins
    people = _people_by_role()
    out: dict[int, list[Problem]] = {}
    for event_id, invoice_id, last_error, last_error_message, finished_at, name in parked:
        notice = notices.get(event_id)
        # A push parked before notices existed: its words are all there is.
        reason = notice.reason_text if notice else gettext("%(target)s did not take the invoice.", target=name)
        ask = notice.ask if notice else Role.FINANCE
        out.setdefault(invoice_id, []).append(
            Problem(
                invoice_id=invoice_id,
                connection=name,
                reason=reason,
                ask=ask,
                ask_people=people.get(ask) or people.get(Role.ADMIN, []),
                detail=(notice.detail_text if notice else said(last_error_message, last_error))
                if with_detail
                else None,
                since=notice.created_at if notice else finished_at,
            )
        )
    return out


def _people_by_role() -> dict[Role, list[str]]:
    """Active finance and admin users as "Name <email>", by role."""
    users = db.session.scalars(
        select(User).where(User.active.is_(True), User.role.in_([Role.FINANCE, Role.ADMIN])).order_by(User.name)
    )
    out: dict[Role, list[str]] = {}
    for user in users:
        out.setdefault(user.role, []).append(f"{user.name} <{user.email}>")
    return out
