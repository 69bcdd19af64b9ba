"""The languages of the product and which one a request is answered in.

Pages: the user's own setting (users.locale), else the choice made on this browser before logging in
(the session), else the best match of the browser's `Accept-Language`, else HUB_DEFAULT_LOCALE.
The API keeps English, its documented language, unless the client asks for another one with
`Accept-Language`: scripts compare messages, people read them.

Texts are marked with gettext/ngettext (Flask-Babel) where they are written; the catalogues are in
hub/translations (docs/languages.md says how to add a language). Messages that services raise and
schemas return are English sentences; `translated()` looks each one up at display time, so a
message with a catalogue entry is shown translated and any other one as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask, Response, current_app, has_request_context, request, session
from flask_babel import get_locale, gettext
from flask_login import current_user

from hub.extensions import babel
from hub.languages import LANGUAGES

TRANSLATIONS = Path(__file__).parent / "translations"
# The anonymous visitor's choice (the log-in page's switcher), kept in the signed session cookie.
SESSION_KEY = "locale"


class UnknownLocale(ValueError):
    """A locale the product has no catalogue for."""


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Marks a text for the catalogue where it is written; it is translated where it is shown."""
    return message


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
    """A message made elsewhere in English, in the request's language if the catalogue has it."""
    return gettext(message) if message else message


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
