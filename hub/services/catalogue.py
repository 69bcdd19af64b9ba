"""The product catalogue and the pipelines deals move through (admins and sales managers, through
the API); each change is committed."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from flask_babel import gettext
from sqlalchemy import exists, func, select

from hub.errors import Conflict, ValidationFailed
from hub.extensions import db
from hub.models import DealLine, Pipeline, Product, Stage, StageKind
from hub.services.queries import apply, get_for_change, serialise_writes
from hub.services.versions import for_change, require_version

PRODUCT_FIELDS = ("sku", "name", "description", "unit", "list_price", "currency", "tax_rate", "active")


def create_product(data: Mapping[str, Any]) -> Product:
    serialise_writes(Product)  # PUMP-100 and pump-100 sent at once: one is refused
    _ensure_sku_free(data["sku"])
    product = Product()
    apply(product, data, PRODUCT_FIELDS)
    db.session.add(product)
    db.session.commit()
    return product


def update_product(product_id: int, data: Mapping[str, Any], expected: Collection[str] | None = None) -> Product:
    """Apply validated changes, to the version `expected` (If-Match) names if given. Committed."""
    if "sku" in data:
        serialise_writes(Product)
    product = for_change(Product, product_id, expected)
    if "sku" in data:
        _ensure_sku_free(data["sku"], product.id)
    apply(product, data, PRODUCT_FIELDS)
    db.session.commit()
    return product


def delete_product(product_id: int, expected: Collection[str] | None = None) -> None:
    """Delete a product no deal uses; 409 otherwise (it is deactivated instead), also for a deal
    line that a request saving it holds the product for; 412 when it is no longer the version
    `expected` (If-Match) names."""
    product = get_for_change(Product, product_id)
    require_version(product, expected)
    if db.session.scalar(select(exists().where(DealLine.product_id == product.id))):
        raise Conflict(
            gettext("Product %(sku)s is on deal lines; set active=false instead of deleting it.", sku=product.sku)
        )
    db.session.delete(product)
    db.session.commit()


def _closing_stages_repeated(stages: list[Mapping[str, Any]]) -> dict[str, str]:
    """Each won or lost stage after the first of its kind, by index. A deal is won or lost by moving
    it to its pipeline's stage of that kind (`Pipeline.stage_of_kind`, the first one): with two,
    a won deal in the second, won again (a double click), would move to the first and push its
    invoice again; a lost one would move without a new reason."""
    first: dict[StageKind, str] = {}
    errors: dict[str, str] = {}
    for i, stage in enumerate(stages):
        kind = stage["kind"]
        if kind == StageKind.OPEN:
            continue
        if kind not in first:
            first[kind] = stage["name"]
        elif kind == StageKind.WON:
            errors[f"stages[{i}].kind"] = gettext("A pipeline has one won stage: '%(stage)s'.", stage=first[kind])
        else:
            errors[f"stages[{i}].kind"] = gettext("A pipeline has one lost stage: '%(stage)s'.", stage=first[kind])
    return errors


def _ensure_sku_free(sku: str, product_id: int | None = None) -> None:
    """SKUs are compared regardless of case: PUMP-100 and pump-100 are one article to the people
    and systems (1C, ERPs) that read them."""
    query = select(Product.sku).where(func.lower(Product.sku) == sku.lower())
    if product_id is not None:
        query = query.where(Product.id != product_id)
    taken = db.session.scalar(query)
    if taken is not None:
        raise Conflict(
            gettext("SKU '%(sku)s' is already used by another product ('%(taken)s').", sku=sku, taken=taken),
            {"sku": [gettext("Already used.")]},
        )


def create_pipeline(data: Mapping[str, Any]) -> Pipeline:
    """A pipeline with its stages in order: at least one open, exactly one won and one lost, no name twice.
    Made the default, it takes that over from the one that was."""
    kinds = [s["kind"] for s in data["stages"]]
    missing = [k.value for k in StageKind if k not in kinds]
    if missing:
        raise ValidationFailed(
            {"stages": gettext("Needs at least one stage of kind: %(kinds)s.", kinds=", ".join(missing))}
        )
    repeated = _closing_stages_repeated(data["stages"])
    if repeated:
        raise ValidationFailed(repeated)
    # Two pipelines made the default at once: the later waits, and takes the default over.
    serialise_writes(Pipeline)
    names = [s["name"].lower() for s in data["stages"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValidationFailed({"stages": gettext("Stage names repeat: %(names)s.", names=", ".join(dupes))})
    if db.session.scalar(select(Pipeline.id).where(Pipeline.name == data["name"])) is not None:
        raise Conflict(
            gettext("A pipeline named '%(name)s' exists already.", name=data["name"]),
            {"name": [gettext("Already used.")]},
        )
    if data["is_default"]:
        for other in db.session.scalars(select(Pipeline).where(Pipeline.is_default.is_(True))):
            other.is_default = False
    pipeline = Pipeline(name=data["name"], is_default=data["is_default"])
    pipeline.stages = [Stage(position=i + 1, **s) for i, s in enumerate(data["stages"])]
    db.session.add(pipeline)
    db.session.commit()
    return pipeline
