"""Building deals from API input and moving them through their pipeline.

The rules live here, not in the views: lines take their defaults from the product, a won deal's
invoiced content is frozen, a stage must belong to the deal's pipeline, a deal needs lines to be
won and a reason to be lost, and every stage move is written to the deal's history.

Every change of an existing deal (a stage move, won, lost, its lines, currency or customer, its
deletion) first takes the deal's row lock (`lock_deal`) and decides from the deal as it is read
after the lock: two requests for one deal run one after the other, and the later one sees what the
earlier committed. So a double click, two tabs or a client's retry win a deal once, and a won
deal's invoice is made of the lines as committed when it was won.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload, selectinload

from hub import invoicing
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.extensions import db
from hub.inventory import availability
from hub.locale_numbers import number_text, whole_number
from hub.models import (
    Contact,
    Customer,
    Deal,
    DealLine,
    DealStageChange,
    Pipeline,
    Product,
    Stage,
    StageKind,
    User,
)
from hub.models.base import utcnow
from hub.money import MAX_AMOUNT, ZERO
from hub.services.queries import get_held, hold_products
from hub.services.versions import require_version
from hub.sync import outbox

FROZEN_WHEN_WON = ("lines", "currency", "customer_id")
# The longest reason a lost deal keeps, however it is lost: POST /lost, a move to a lost stage
# (POST /stage, the board) or the deal's page.
LOST_REASON_LENGTH = 2000


def default_pipeline() -> Pipeline:
    pipeline = db.session.scalar(select(Pipeline).order_by(Pipeline.is_default.desc(), Pipeline.id).limit(1))
    if pipeline is None:
        raise Conflict("No pipeline is set up; run 'crmhub db upgrade' (it creates the default pipeline).")
    return pipeline


def build_lines(deal: Deal, lines: Sequence[Mapping[str, Any]]) -> None:
    """Replace the deal's lines, naming `lines[i].field` for every problem found (all of them)."""
    errors: dict[str, list[str]] = {}
    new_lines: list[DealLine] = []
    # Held against deletion until the deal is committed: a product deleted meanwhile is named here.
    ids = {ln["product_id"] for ln in lines if ln.get("product_id") is not None}
    held = hold_products(ids, {ln["sku"] for ln in lines if ln.get("sku")})
    by_id = {p.id: p for p in held}
    by_sku = {p.sku: p for p in held}
    for i, data in enumerate(lines):
        path = f"lines[{i}]"
        product: Product | None = None
        referenced = data.get("product_id") is not None or bool(data.get("sku"))
        if data.get("product_id") is not None:
            product = by_id.get(data["product_id"])
            if product is None:
                errors.setdefault(f"{path}.product_id", []).append(
                    gettext("No product with id %(id)s.", id=data["product_id"])
                )
        elif data.get("sku"):
            product = by_sku.get(data["sku"])
            if product is None:
                errors.setdefault(f"{path}.sku", []).append(gettext("No product with SKU '%(sku)s'.", sku=data["sku"]))
        if product is not None and product.sku != data.get("sku", product.sku):
            errors.setdefault(f"{path}.sku", []).append(
                gettext("Product %(id)s has SKU '%(sku)s'.", id=product.id, sku=product.sku)
            )
        unit_price = data.get("unit_price")
        if referenced and product is None:
            pass  # the unknown product is the one error worth naming on this line
        elif unit_price is None:
            if product is None:
                errors.setdefault(f"{path}.unit_price", []).append(gettext("Required when the line has no product."))
            elif product.currency != deal.currency:
                errors.setdefault(f"{path}.unit_price", []).append(
                    gettext(
                        "The product's list price is in %(product)s and the deal in %(deal)s; "
                        "give the unit price in the deal's currency.",
                        product=product.currency,
                        deal=deal.currency,
                    )
                )
            else:
                unit_price = product.list_price
        description = data.get("description") or (product.name if product else None)
        if not description and not (referenced and product is None):
            errors.setdefault(f"{path}.description", []).append(gettext("Required when the line has no product."))
        tax_rate = data.get("tax_rate")
        if tax_rate is None:
            tax_rate = product.tax_rate if product else ZERO
        if unit_price is not None and data["quantity"] * unit_price > MAX_AMOUNT:
            errors.setdefault(f"{path}.quantity", []).append(
                gettext(
                    "Quantity × unit price is %(amount)s; a line may be at most %(most)s.",
                    amount=number_text(data["quantity"] * unit_price, 2),
                    most=number_text(MAX_AMOUNT, 0),
                )
            )
        new_lines.append(
            DealLine(
                position=i + 1,
                product=product,
                description=description or "",
                quantity=data["quantity"],
                unit_price=unit_price if unit_price is not None else ZERO,
                discount_percent=data.get("discount_percent") or ZERO,
                tax_rate=tax_rate,
            )
        )
    if not errors and sum(ln.quantity * ln.unit_price for ln in new_lines) > MAX_AMOUNT:
        errors["lines"] = [
            gettext("The lines add up to more than %(most)s, the most a deal may be.", most=number_text(MAX_AMOUNT, 0))
        ]
    if errors:
        raise ValidationFailed(errors)
    deal.lines = new_lines
    deal.recompute_totals()


def apply_fields(deal: Deal, data: Mapping[str, Any], *, creating: bool, user: User) -> None:
    """Set the deal's plain fields and references from validated input."""
    if not creating and deal.stage.kind == StageKind.WON:
        frozen = [f for f in FROZEN_WHEN_WON if f in data]
        if frozen:
            raise Conflict(
                gettext(
                    "Deal %(number)s is won and invoiced; its %(fields)s can no longer change.",
                    number=deal.number,
                    fields=", ".join(frozen),
                ),
                {f: [gettext("Frozen on a won deal.")] for f in frozen},
            )
    errors: dict[str, list[str]] = {}
    # What the deal will refer to is held until it is committed (hub.services.queries): one deleted
    # meanwhile is named here, instead of failing the commit.
    if "customer_id" in data:
        customer = get_held(Customer, data["customer_id"])
        if customer is None:
            errors["customer_id"] = [gettext("No customer with id %(id)s.", id=data["customer_id"])]
        else:
            deal.customer = customer
    if "owner_id" in data:
        owner = None if data["owner_id"] is None else get_held(User, data["owner_id"])
        if data["owner_id"] is not None and owner is None:
            errors["owner_id"] = [gettext("No user with id %(id)s.", id=data["owner_id"])]
        deal.owner = owner
    elif creating:
        deal.owner = user
    if "contact_id" in data or ("customer_id" in data and deal.contact is not None):
        contact_id = data.get("contact_id", deal.contact_id)
        contact = None if contact_id is None else get_held(Contact, contact_id)
        if contact_id is not None and contact is None:
            errors["contact_id"] = [gettext("No contact with id %(id)s.", id=contact_id)]
        elif contact is not None and deal.customer is not None and contact.customer_id != deal.customer.id:
            errors["contact_id"] = [gettext("Contact %(id)s works for another customer.", id=contact.id)]
        deal.contact = contact
    for name in ("title", "expected_close_date", "probability", "notes"):
        if name in data:
            setattr(deal, name, data[name])
    if "currency" in data:
        deal.currency = data["currency"]
    elif creating and deal.customer is not None:
        deal.currency = deal.customer.default_currency
    if creating:
        try:
            pipeline = _pipeline_for(data)
            deal.pipeline = pipeline
            deal.stage = _initial_stage(pipeline, data)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)


def _pipeline_for(data: Mapping[str, Any]) -> Pipeline:
    if data.get("pipeline_id") is None:
        return default_pipeline()
    pipeline = db.session.get(Pipeline, data["pipeline_id"])
    if pipeline is None:
        raise ValidationFailed({"pipeline_id": gettext("No pipeline with id %(id)s.", id=data["pipeline_id"])})
    return pipeline


def _initial_stage(pipeline: Pipeline, data: Mapping[str, Any]) -> Stage:
    if data.get("stage") is None:
        return next(s for s in pipeline.stages if s.kind == StageKind.OPEN)
    stage = find_stage(pipeline, data["stage"])
    if stage.kind != StageKind.OPEN:
        raise ValidationFailed({"stage": "A deal starts in an open stage; mark it won or lost afterwards."})
    return stage


def find_stage(pipeline: Pipeline, ref: Any) -> Stage:
    """A stage of `pipeline` by id or by name (case-insensitive); refused by name when `ref` is
    neither (true is no stage 1, nor 1.0)."""
    number = ref if type(ref) is int else whole_number(ref) if isinstance(ref, str) else None
    name = ref.strip().lower() if isinstance(ref, str) else None
    for stage in pipeline.stages:
        if stage.id == number or stage.name.lower() == name:
            return stage
    names = ", ".join(s.name for s in pipeline.stages)
    raise ValidationFailed(
        {
            "stage": gettext(
                "No stage '%(stage)s' in pipeline '%(pipeline)s'; stages: %(names)s.",
                stage=ref,
                pipeline=pipeline.name,
                names=names,
            )
        }
    )


def assign_number(deal: Deal) -> None:
    """Give a new deal its human number; needs the id, so it runs after the first flush."""
    db.session.flush()
    deal.number = f"D-{deal.id:06d}"


def create_deal(data: Mapping[str, Any], user: User) -> Deal:
    """A new deal from validated input (`DealIn`), numbered and committed."""
    deal = Deal()
    apply_fields(deal, data, creating=True, user=user)
    build_lines(deal, data["lines"])
    db.session.add(deal)
    assign_number(deal)
    db.session.commit()
    return deal


def load_deal(deal_id: int) -> Deal:
    """The deal with its lines (and their products), stage and pipeline, to show; 404 if none."""
    deal = db.session.scalar(
        select(Deal)
        .where(Deal.id == deal_id)
        .options(
            selectinload(Deal.lines).joinedload(DealLine.product), joinedload(Deal.stage), joinedload(Deal.pipeline)
        )
    )
    if deal is None:
        raise NotFound(gettext("No deal with id %(id)s.", id=deal_id))
    return deal


def lock_deal(deal_id: int) -> Deal:
    """The deal with what its changes need (customer, owner, stage, pipeline with its stages, lines
    with their products), read after taking its row lock, which is held until the transaction
    ends. Whatever this session had loaded of it before is read again."""
    deals = Deal.__table__
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: the transaction's first write takes the database's write lock
        # (waiting for the writer that holds it), and everything read after it is current.
        db.session.execute(update(deals).where(deals.c.id == deal_id).values(updated_at=deals.c.updated_at))
    else:
        # The lock alone, then the deal read in full: PostgreSQL re-reads a row it waited for, but
        # not the rows joined to it, so a customer or stage joined by an old id would come back empty.
        db.session.execute(select(deals.c.id).where(deals.c.id == deal_id).with_for_update())
    deal = (
        db.session.scalars(
            select(Deal)
            .where(Deal.id == deal_id)
            .options(
                joinedload(Deal.customer),
                joinedload(Deal.owner),
                joinedload(Deal.pipeline).joinedload(Pipeline.stages),  # deal.stage is one of them
                selectinload(Deal.lines).joinedload(DealLine.product),
            )
            .execution_options(populate_existing=True)
        )
        .unique()
        .one_or_none()
    )
    if deal is None:
        raise NotFound(gettext("No deal with id %(id)s.", id=deal_id))
    return deal


def update_deal(deal_id: int, data: Mapping[str, Any], user: User, expected: Collection[str] | None = None) -> Deal:
    """Apply validated changes (`DealPatch`), to the version `expected` (If-Match) names if
    given; `lines`, when given, replace all lines. Committed."""
    deal = lock_deal(deal_id)
    require_version(deal, expected)
    apply_fields(deal, data, creating=False, user=user)
    if "lines" in data:
        build_lines(deal, data["lines"])
    elif "currency" in data:
        deal.recompute_totals()
    db.session.commit()
    return deal


def delete_deal(deal_id: int, expected: Collection[str] | None = None) -> None:
    deal = lock_deal(deal_id)
    require_version(deal, expected)
    if deal.stage.kind == StageKind.WON:
        raise Conflict(
            gettext("Deal %(number)s is won and invoiced; mark it lost instead of deleting it.", number=deal.number)
        )
    db.session.delete(deal)
    db.session.commit()


@dataclass(frozen=True)
class StageChange:
    deal: Deal
    moved: bool  # False: the deal was in that stage already (a repeated won or lost changes nothing)
    # The outbox events the move wrote: a won deal's pushes, a lost one's cancels.
    events: tuple[outbox.Written, ...] = ()


def change_stage(
    deal_id: int,
    user: User | None,
    *,
    kind: StageKind | None = None,
    stage: str | int | None = None,
    reason: str | None = None,
    note: str | None = None,
) -> StageChange:
    """Move the deal to the pipeline's stage of `kind`, or to the stage named or numbered `stage`,
    under the deal's lock; committed, and the outbox events it wrote handed to the queue.

    One short transaction: the lock, the deal and its lines read once, the stock check, then the
    deal, the invoice, the stage history, the outbox events and their audit entries written in a
    few statements. What can follow later does: board totals are kept by the database, alerts are
    evaluated by the scheduler's sweep, and the events reach the queue in one Redis round trip
    after the commit."""
    deal = lock_deal(deal_id)
    target = stage_of_kind(deal, kind) if kind is not None else find_stage(deal.pipeline, stage)
    change = move_to_stage(deal, target, user, reason=reason, note=note, enqueue_after_commit=True)
    # The answer shows the deal as written: reading it back after the commit would cost as many
    # statements as the change itself.
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    outbox.hand_over(change.events)
    return change


def move_to_stage(
    deal: Deal,
    stage: Stage,
    user: User | None,
    *,
    reason: str | None = None,
    note: str | None = None,
    enqueue_after_commit: bool = False,
) -> StageChange:
    """Move `deal` to `stage`, applying the won/lost rules; the caller commits. A won deal gets
    its invoice and a push per connection, a lost one cancels its invoice. With
    `enqueue_after_commit`, the events are written as dispatched and the caller hands them to the
    queue after its commit (`outbox.hand_over`); else they wait for the dispatcher."""
    if stage.pipeline_id != deal.pipeline_id:
        raise ValidationFailed(
            {"stage": gettext("Stage '%(stage)s' is not in this deal's pipeline.", stage=stage.name)}
        )
    current = deal.stage
    if stage.id == current.id and not (stage.kind == StageKind.LOST and reason and reason != deal.lost_reason):
        return StageChange(deal, moved=False)
    if current.kind == StageKind.WON and stage.kind == StageKind.OPEN:
        raise Conflict(
            gettext(
                "Deal %(number)s is won and invoiced; it cannot be reopened. Mark it lost to cancel it.",
                number=deal.number,
            )
        )
    first_win = deal.won_at is None
    if stage.kind == StageKind.WON:
        if not deal.lines:
            raise ValidationFailed({"lines": gettext("A deal needs at least one line to be won.")})
        if deal.total < Decimal(0):
            raise ValidationFailed({"lines": gettext("A won deal cannot have a negative total.")})
        invoicing.refuse_lines_targets_cannot_take(deal)
        _check_stock(deal)
        deal.won_at = utcnow()
        deal.lost_at = None
        deal.lost_reason = None
    elif stage.kind == StageKind.LOST:
        if not reason or not reason.strip():
            raise ValidationFailed({"reason": gettext("Say why the deal was lost.")})
        if len(reason.strip()) > LOST_REASON_LENGTH:
            raise ValidationFailed({"reason": f"Longer than maximum length {LOST_REASON_LENGTH}."})
        deal.lost_at = utcnow()
        deal.lost_reason = reason.strip()
    else:
        deal.lost_at = None
        deal.lost_reason = None
    deal.stage = stage
    # Added by ids: appending to deal.stage_changes would read the deal's whole history first.
    db.session.add(
        DealStageChange(
            deal_id=deal.id,
            from_stage_id=current.id,
            to_stage_id=stage.id,
            changed_by_id=user.id if user else None,
            changed_at=utcnow(),
            note=note,
        )
    )
    events: list[outbox.Written] = []
    if stage.kind == StageKind.WON:
        invoice = invoicing.create_for_won_deal(deal, first_win=first_win)
        db.session.flush()
        events = invoicing.queue_pushes(invoice, dispatched=enqueue_after_commit)
    elif current.kind == StageKind.WON and stage.kind == StageKind.LOST:
        events = invoicing.cancel_for_lost_deal(deal, dispatched=enqueue_after_commit)
    return StageChange(deal, moved=True, events=tuple(events))


def _check_stock(deal: Deal) -> None:
    """Per HUB_STOCK_CHECK_ON_WON: refuse, or note on the deal, lines that stock cannot cover."""
    mode = current_app.config.get("HUB_STOCK_CHECK_ON_WON", "warn")
    if mode == "off":
        return
    problems = availability.shortages(deal)  # keeps what it read on the deal, for the answer
    if problems and mode == "refuse":
        raise Conflict(gettext("Deal %(number)s asks for more than the stock can cover.", number=deal.number), problems)
    deal.stock_warnings = [f"{path}: {message}" for path, message in problems.items()]


def stage_of_kind(deal: Deal, kind: StageKind) -> Stage:
    stage = deal.pipeline.stage_of_kind(kind)
    if stage is None:
        raise Conflict(
            gettext("Pipeline '%(pipeline)s' has no %(kind)s stage.", pipeline=deal.pipeline.name, kind=kind.value)
        )
    return stage
