"""Texts people read that connectors write (a setting's label, why a line cannot be invoiced):
connectors know no language, so they mark the English for the hub's catalogue and the hub says it
in the reader's language where it shows it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal


def N_(text: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Marks `text` for the catalogue (babel.cfg extracts connectors/); returns it as it is."""
    return text


class TranslatableError(Exception):
    """An error whose message is `template` (marked with `N_`) filled with `values`: the hub says
    it again in the reader's language from those two, with the values in the locale's form."""

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(english(template, values))
        self.template, self.values = template, values


def english(template: str, values: Mapping[str, object]) -> str:
    """`template` filled as the English message writes it: a decimal in full, never in exponent
    form. A template without values is as written (a `%` in it is text, not a placeholder)."""
    if not values:
        return template
    return template % {name: f"{value:f}" if isinstance(value, Decimal) else value for name, value in values.items()}
