"""How a target system computes an invoice line's amount from what it is sent, and the terms
(quantity, unit price, discount) that make it compute the hub's.

The hub's line net is quantity × unit price less the discount, rounded half-up to the currency's
minor unit; that is what the customer was quoted and what finance keeps. A target that has no
discount field, or keeps fewer decimals of a price, or rounds another way, computes its own amount
from the price it is sent: sending the discounted price rounded to the target's places can land a
cent off (3 × 96.90 at 5 % is 276.165: the hub says 276.17, Tryton's half-even 276.16). So the
connector sends the unit price, of the target's places, whose product with the quantity the target
rounds to the hub's net. When no such price exists (a large quantity makes each step of the last
decimal worth more than a cent), the line cannot be invoiced there as the hub computed it: the hub
refuses the deal when it is won, naming the line, rather than park the invoice afterwards.

Two models of a target:
- `LineArithmetic`: the line carries a net unit price, amount = quantity × price, rounded;
- `DiscountArithmetic`: the line carries the hub's price and discount where the target keeps them
  as they are and its amount is the hub's net; otherwise a net price, as `LineArithmetic`.
Either may round amounts to fixed places whatever the currency (`amount_places`: ERPNext and Xero
keep every amount to 2 decimals, so a currency of 3 cannot go there at all), keep prices to the
currency's decimals (`price_places` None: Zoho Books), round quantities (`quantity_places`), and
round ties in a way the hub cannot know (`rounding` None: a site setting, or not documented): then
only a price whose product is no tie is sent, so that half-up and half-even agree.

`unfit_lines` is the one check: the hub runs it when a deal is won (hub.invoicing), the connectors
run `fit` when they build the payload, and the tests ask it what the hub refuses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from connectors.errors import PermanentError
from connectors.texts import N_, TranslatableError

HUNDRED = Decimal(100)


class Unfit(TranslatableError, ValueError):
    """No terms the target can keep give the hub's amount for this line; `field` is what to
    change: the line's `unit_price` or `quantity`, or the deal's `currency`."""

    def __init__(self, template: str, field: str = "unit_price", **values: Decimal | int | str) -> None:
        super().__init__(template, **values)
        self.field = field

    def path(self, index: int) -> str:
        """The field to name for the line at `index` (`lines[2].unit_price`, or `currency`)."""
        return self.field if self.field == "currency" else f"lines[{index}].{self.field}"


@dataclass(frozen=True)
class LineTerms:
    """What a line is sent as: the target computes quantity × price × (1 − discount / 100)."""

    quantity: Decimal
    price: Decimal
    discount: Decimal = Decimal(0)


@dataclass(frozen=True)
class LineArithmetic:
    """A target's arithmetic for an invoice line that carries a net unit price: the amount is
    quantity × price, rounded (`rounding`, a decimal module mode; None: half-up or half-even, the
    hub cannot tell) to the currency's minor unit, or to `amount_places` decimals whatever the
    currency, and a price keeps `price_places` decimals (None: the currency's, as Zoho Books)."""

    system: str
    price_places: int | None
    rounding: str | None = ROUND_HALF_EVEN
    amount_places: int | None = None
    # Decimals of a quantity the target keeps (None: as sent); it rounds what it is given to them.
    quantity_places: int | None = None

    def check(self, quantity: Decimal, unit: Decimal) -> None:
        """Unfit when the target keeps fewer decimals of an amount than the currency has (the
        line's net and tax would lose the last), or would round the quantity (naming it)."""
        places = self.amount_unit(unit)
        if places > unit:
            raise Unfit(
                N_("%(system)s keeps amounts to %(kept)s decimals, fewer than the currency's %(currency)s"),
                field="currency",
                system=self.system,
                kept=_places(places),
                currency=_places(unit),
            )
        if self.quantity_places is not None and quantity != _kept(quantity, self.quantity_places):
            raise Unfit(
                N_("%(system)s keeps quantities to %(kept)s decimals, so it would change %(quantity)s"),
                field="quantity",
                system=self.system,
                kept=self.quantity_places,
                quantity=quantity.normalize(),
            )

    def amount_unit(self, unit: Decimal) -> Decimal:
        """What amounts are rounded to, for a currency whose minor unit is `unit`."""
        return unit if self.amount_places is None else Decimal(1).scaleb(-self.amount_places)

    def price_step(self, unit: Decimal) -> Decimal:
        """The last decimal of a price this target keeps, for a currency whose minor unit is `unit`."""
        return unit if self.price_places is None else Decimal(1).scaleb(-self.price_places)

    def amount(self, quantity: Decimal, price: Decimal, unit: Decimal) -> Decimal | None:
        """quantity × price rounded to a multiple of `unit` (the currency's rounding there); None
        when the rounding is unknown and the product a tie (half-up and half-even differ)."""
        return _rounded(quantity * price, self.amount_unit(unit), self.rounding)

    def net_price(self, quantity: Decimal, net: Decimal, unit: Decimal) -> Decimal:
        """The unit price (of `price_places` decimals) nearest to net / quantity for which this
        target computes `net`; Unfit when there is none."""
        step = self.price_step(unit)
        if quantity <= 0:
            raise Unfit(
                N_("%(system)s cannot invoice a quantity of %(quantity)s"),
                field="quantity",
                system=self.system,
                quantity=quantity,
            )
        nearest = (net / quantity).quantize(step, rounding=ROUND_HALF_EVEN)
        # The prices that round to `net` lie in a window `unit` / quantity wide around
        # net / quantity: if one is on the price grid, the nearest grid point or a neighbour is
        # (the neighbours for the window's edges, where the rounding's tie rule decides).
        for offset in (0, 1, -1, 2, -2):
            price = nearest + offset * step
            if price >= 0 and self.amount(quantity, price, unit) == net:
                return price
        raise Unfit(
            N_(
                "%(system)s keeps unit prices to %(kept)s decimals and computes a line as quantity × price: "
                "no such price gives %(quantity)s × price = %(net)s"
            ),
            system=self.system,
            kept=_places(step),
            quantity=quantity.normalize(),
            net=net,
        )

    def fit(self, quantity: Decimal, price: Decimal, discount: Decimal, net: Decimal, unit: Decimal) -> LineTerms:
        """The terms to send for a hub line (the hub's quantity, price, discount and net)."""
        self.check(quantity, unit)
        return LineTerms(quantity, self.net_price(quantity, net, unit))


@dataclass(frozen=True)
class DiscountArithmetic(LineArithmetic):
    """A target whose line has a discount field: amount = quantity × price × (1 − discount / 100),
    rounded as `LineArithmetic`, with the discount kept to `discount_places` decimals (the target
    rounds what it is given to them)."""

    discount_places: int = 2

    def amount_with_discount(self, terms: LineTerms, unit: Decimal) -> Decimal | None:
        gross = terms.quantity * terms.price * (HUNDRED - terms.discount) / HUNDRED
        return _rounded(gross, self.amount_unit(unit), self.rounding)

    def fit(self, quantity: Decimal, price: Decimal, discount: Decimal, net: Decimal, unit: Decimal) -> LineTerms:
        """The hub's own terms when the target keeps them and computes the hub's net from them;
        else the quantity and a net price (no discount); Unfit when neither gives the net, or
        the target would round the quantity."""
        self.check(quantity, unit)
        terms = LineTerms(quantity, price, discount)
        step = self.price_step(unit)
        kept = price == price.quantize(step, rounding=ROUND_HALF_UP) and discount == _kept(
            discount, self.discount_places
        )
        if kept and self.amount_with_discount(terms, unit) == net:
            return terms
        return LineTerms(quantity, self.net_price(quantity, net, unit))


def _kept(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _places(unit: Decimal) -> int:
    return max(0, -unit.as_tuple().exponent)


def _rounded(value: Decimal, unit: Decimal, rounding: str | None) -> Decimal | None:
    steps = value / unit
    if rounding is not None:
        return steps.quantize(Decimal(1), rounding=rounding) * unit
    up, even = (steps.quantize(Decimal(1), rounding=mode) for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN))
    return up * unit if up == even else None


def unfit_lines(
    arithmetic: LineArithmetic, lines: Iterable[tuple[Decimal, Decimal, Decimal, Decimal]], unit: Decimal
) -> dict[int, Unfit]:
    """Why the target cannot carry a line at the hub's net, by the line's index, for lines given
    as (quantity, unit price, discount percent, net): what the hub refuses a won deal for
    (hub.invoicing), and what the tests expect it to refuse."""
    unfit = {}
    for i, (quantity, price, discount, net) in enumerate(lines):
        try:
            arithmetic.fit(quantity, price, discount, net, unit)
        except Unfit as exc:
            unfit[i] = exc
    return unfit


def fitted(arithmetic: LineArithmetic, index: int, quantity, price, discount, net, unit) -> LineTerms:
    """`arithmetic.fit` for line `index` of a push: a line the target cannot carry is refused as a
    PermanentError naming the line's field (the won-time check refuses it before that, normally)."""
    try:
        return arithmetic.fit(quantity, price, discount, net, unit)
    except Unfit as exc:
        raise PermanentError(str(exc), field=exc.path(index)) from exc


def noting_discount(description: str, discount: Decimal) -> str:
    """A line's description that says its discount, where the discount went into a net price."""
    return f"{description} ({discount.normalize():f} % discount)".strip()
