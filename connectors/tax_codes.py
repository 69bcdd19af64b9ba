"""A line's mapped tax as the target's own tax code (Xero's TaxType, Zoho's tax id).

The mapping's table `taxes` may name the code for a rate; without a row the hub's rate passes
through, and the target's one tax of that percentage is taken. Two taxes of one percentage (a
reduced and a reverse-charge 0 %, two regions' 7 %) cannot be told apart: that is refused, asking
for the row, rather than guessed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from connectors.errors import PermanentError

HUNDRED = Decimal(100)


def tax_code(
    tax: Any, path: str, *, system: str, code: str, rates: Callable[[], Iterable[tuple[Decimal, str]]]
) -> str | None:
    """The tax code for a mapped tax: None for none, text as the code it is, a rate (0.19) as the
    code of the one tax `rates()` lists as (percentage, code) with that percentage (19). `code`
    names the kind of code in messages ("Xero TaxType"); PermanentError naming `path` otherwise."""
    if tax is None or tax == "":
        return None
    if isinstance(tax, str):
        return tax
    if not isinstance(tax, Decimal | int) or isinstance(tax, bool):
        raise PermanentError(f"{path}: a {code} or a rate, not {tax!r}", field=path)
    percent = Decimal(tax) * HUNDRED
    matches = [found for rate, found in rates() if rate == percent]
    if len(matches) != 1:
        several = f"{len(matches)} ({', '.join(matches)})" if matches else "no"
        raise PermanentError(
            f"{path}: {system} has {several} taxes of {percent.normalize():f} %; "
            f"name the {code} in the mapping's table taxes",
            field=path,
        )
    return matches[0]
