"""How a target system computes an invoice line's amount from what it is sent, and the unit price
that makes it compute the hub's.

The hub's line net is quantity × unit price less the discount, rounded half-up to the currency's
minor unit; that is what the customer was quoted and what finance keeps. A target that has no
discount field, or keeps fewer decimals of a price, or rounds another way, computes its own amount
from the price it is sent: sending the discounted price rounded to the target's places can land a
cent off (3 × 96.90 at 5 % is 276.165: the hub says 276.17, Tryton's half-even 276.16). So the
connector sends the unit price, of the target's places, whose product with the quantity the target
rounds to the hub's net. When no such price exists (a large quantity makes each step of the last
decimal worth more than a cent), the line cannot be invoiced there as the hub computed it: the hub
refuses the deal when it is won, naming the line, rather than park the invoice afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal


class Unfit(ValueError):
    """No price the target can keep gives the hub's amount for this line."""


@dataclass(frozen=True)
class LineArithmetic:
    """A target's arithmetic for an invoice line that carries a net unit price: the amount is
    quantity × price, rounded (`rounding`, a decimal module mode) to the currency's minor unit,
    and a price keeps `price_places` decimals."""

    system: str
    price_places: int
    rounding: str = ROUND_HALF_EVEN

    def amount(self, quantity: Decimal, price: Decimal, unit: Decimal) -> Decimal:
        """quantity × price rounded to a multiple of `unit` (the currency's rounding there)."""
        return (quantity * price / unit).quantize(Decimal(1), rounding=self.rounding) * unit

    def net_price(self, quantity: Decimal, net: Decimal, unit: Decimal) -> Decimal:
        """The unit price (of `price_places` decimals) nearest to net / quantity for which this
        target computes `net`; Unfit when there is none."""
        step = Decimal(1).scaleb(-self.price_places)
        if quantity <= 0:
            raise Unfit(f"{self.system} cannot invoice a quantity of {quantity}")
        nearest = (net / quantity).quantize(step, rounding=ROUND_HALF_EVEN)
        # The prices that round to `net` lie in a window `unit` / quantity wide around
        # net / quantity: if one is on the price grid, the nearest grid point or a neighbour is
        # (the neighbours for the window's edges, where the rounding's tie rule decides).
        for offset in (0, 1, -1, 2, -2):
            price = nearest + offset * step
            if price >= 0 and self.amount(quantity, price, unit) == net:
                return price
        raise Unfit(
            f"{self.system} keeps unit prices to {self.price_places} decimals and computes a line as "
            f"quantity × price: no such price gives {quantity.normalize():f} × price = {net}"
        )
