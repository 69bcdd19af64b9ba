"""The languages of the product and which one a request is answered in.

Pages: the user's own setting (users.locale), else the choice made on this browser before logging in
(the session), else the best match of the browser's `Accept-Language`, else HUB_DEFAULT_LOCALE.
The API keeps English, its documented language, unless the client asks for another one with
`Accept-Language`: scripts compare messages, people read them.

Texts are marked with gettext/ngettext (Flask-Babel) where they are written; the catalogues are in
hub/translations (docs/languages.md says how to add a language). Messages that services raise and
schemas return are English sentences; `translated()` looks each one up at display time, so a
message with a catalogue entry is shown translated, one of FILLED_IN (a sentence with values)
said again from its template, and any other one as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from flask import Flask, Response, current_app, has_request_context, request, session
from flask_babel import get_locale, get_translations, gettext
from flask_login import current_user

from connectors import base as config_messages
from hub.extensions import babel
from hub.languages import LANGUAGES
from hub.locale_numbers import quantity_text

TRANSLATIONS = Path(__file__).parent / "translations"
# The anonymous visitor's choice (the log-in page's switcher), kept in the signed session cookie.
SESSION_KEY = "locale"


class UnknownLocale(ValueError):
    """A locale the product has no catalogue for."""


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Marks a text for the catalogue where it is written; it is translated where it is shown."""
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - extracted as N_plural:1,2
    """Marks a text with a counted number, in its two English forms, for the catalogue."""
    return singular, plural


def english_form(forms: tuple[str, str], count: int) -> str:
    """The English form of `forms` (from N_plural) for `count`."""
    return forms[0] if count == 1 else forms[1]


# What marshmallow and the API's own fields say about bad input, in the catalogue so that a form shows
# it translated (`translated()`); the API answers them in English unless asked otherwise.
SCHEMA_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid email address."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Not a valid URL."),
    N_("Unknown field."),
    N_("Not a valid number: digits 0-9 with a point for decimals, such as 1234.50."),
    N_("Too large."),
    N_("Must not be blank."),
    N_("At least 10 characters."),
    N_("An ISO 3166 alpha-2 code, e.g. DE."),
    N_("The input is not valid."),
    N_("The change conflicts with existing data (a duplicate?)."),
)


# Messages made with values in them, by marshmallow's validators (its English, as its source writes
# it with `{min}`) and by the API's own fields: `translated()` recognises the English sentence, takes
# its values out and says it again from the catalogue. Values named in NUMBERS are written as the
# reader's locale writes numbers; the others (choices, codes, what was typed) as they are.
OUT_OF_RANGE = N_plural(
    "Out of range: at most %(digits)s digit and powers of ten up to %(exponent)s.",
    "Out of range: at most %(digits)s digits and powers of ten up to %(exponent)s.",
)
NESTED = N_("Nested more than %(depth)s deep.")
BETWEEN = N_("Must be between %(min)s and %(max)s.")
NOT_A_CURRENCY = N_("'%(value)s' is not an ISO 4217 currency code.")
NOT_TENDER = N_("'%(value)s' is not legal tender anywhere today: no invoice can be made in it.")
AT_LEAST = N_("Must be at least %(min)s.")
AT_MOST = N_("Must be at most %(max)s.")
GREATER = N_("Must be greater than %(min)s.")  # marshmallow's Range says it too
PLACES = N_plural("At most %(num)s decimal place.", "At most %(num)s decimal places.")
FILLED_IN: tuple[str | tuple[str, str, str], ...] = (
    N_("Must be greater than or equal to %(min)s."),
    GREATER,
    N_("Must be less than or equal to %(max)s."),
    N_("Must be less than %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("Must be one of: %(choices)s."),
    AT_LEAST,
    AT_MOST,
    BETWEEN,
    NESTED,
    NOT_A_CURRENCY,
    NOT_TENDER,
    # a connector's settings (connectors.base.validate_config)
    config_messages.AT_LEAST,
    config_messages.MUST_BE_TYPE,
    config_messages.ONE_OF,
    # (singular, plural, the value that counts)
    (*OUT_OF_RANGE, "digits"),
    (*PLACES, "num"),
)
NUMBERS = frozenset({"min", "max", "equal", "digits", "exponent", "depth", "num"})
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
PLAIN = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


@dataclass(frozen=True)
class FilledIn:
    regex: re.Pattern[str]
    singular: str
    plural: str | None = None
    count: str | None = None

    def say(self, values: dict[str, str]) -> str:
        locale = get_locale()
        shown = {
            name: quantity_text(Decimal(value), locale) if name in NUMBERS else value for name, value in values.items()
        }
        if self.plural and self.count:
            return counted_text(self.singular, self.plural, int(Decimal(values[self.count])), **shown)
        return gettext(self.singular, **shown)


def counted_text(singular: str, plural: str, count: int, **values: str) -> str:
    """ngettext with the number already written as the locale writes it (flask_babel's ngettext
    would put the bare count in `%(num)s`)."""
    return get_translations().ungettext(singular, plural, count) % values


def _regex(template: str) -> str:
    out, at = [], 0
    for placeholder in PLACEHOLDER.finditer(template):
        out.append(re.escape(template[at : placeholder.start()]))
        name = placeholder.group(1)
        # A number where a number stands: "greater than %(min)s" must not read "or equal to 0" as one.
        out.append(f"(?P<{name}>{PLAIN.pattern if name in NUMBERS else '.+?'})")
        at = placeholder.end()
    return "".join(out) + re.escape(template[at:])


@cache
def _patterns() -> tuple[FilledIn, ...]:
    patterns = []
    for entry in FILLED_IN:
        if isinstance(entry, str):
            patterns.append(FilledIn(re.compile(_regex(entry)), entry))
            continue
        singular, plural, count = entry
        patterns += [FilledIn(re.compile(_regex(form)), singular, plural, count) for form in (singular, plural)]
    return tuple(patterns)


def supported(code: str | None) -> str | None:
    """`code` if the product speaks it (also "ru-RU" or "ru_RU" → "ru"), else None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-", 1)[0].strip().lower()
    return base if base in LANGUAGES else None


def from_header() -> str | None:
    """The best of our languages for the request's Accept-Language, None when it names none of them."""
    if not request.headers.get("Accept-Language"):
        return None
    return request.accept_languages.best_match(list(LANGUAGES))


def select_locale() -> str:
    if not has_request_context():
        return current_app.config["HUB_DEFAULT_LOCALE"]
    if request.path.startswith("/api"):
        return from_header() or "en"
    user_choice = getattr(current_user, "locale", None) if current_user.is_authenticated else None
    return (
        supported(user_choice)
        or supported(session.get(SESSION_KEY))
        or from_header()
        or current_app.config["HUB_DEFAULT_LOCALE"]
    )


def translated(message: str) -> str:
    """A message made elsewhere in English, in the request's language if the catalogue has it,
    or if it is one of `FILLED_IN` (its numbers then written as the locale writes them)."""
    if not message:
        return message
    said = gettext(message)
    if said != message or _english():
        return said
    for pattern in _patterns():
        if match := pattern.regex.fullmatch(message):
            return pattern.say(match.groupdict())
    return message


def _english() -> bool:
    locale = get_locale()
    return locale is None or locale.language == "en"


def translated_errors(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {field: [translated(m) for m in messages] for field, messages in errors.items()}


def _vary(response: Response) -> Response:
    # The same address answers in the language Accept-Language asks for: a shared cache must not
    # hand one visitor's Russian page to the next.
    response.vary.add("Accept-Language")
    return response


def init_app(app: Flask) -> None:
    default = supported(app.config.get("HUB_DEFAULT_LOCALE") or "en")
    if default is None:
        raise UnknownLocale(
            f"HUB_DEFAULT_LOCALE must be one of {', '.join(LANGUAGES)}, not {app.config.get('HUB_DEFAULT_LOCALE')!r}."
        )
    app.config["HUB_DEFAULT_LOCALE"] = default
    babel.init_app(
        app,
        default_locale="en",
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=select_locale,
    )
    # {% trans %} blocks are read as one line, as babel.cfg extracts them: indenting a template
    # changes no msgid.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, get_locale=get_locale)
    app.after_request(_vary)
    app.jinja_env.filters.update(t=translated)
