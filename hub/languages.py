"""The languages the product speaks: a leaf, so that models and schemas can name them without
importing the request-time machinery of hub/i18n.py (Flask-Babel, Flask-Login)."""

from __future__ import annotations

# code → the language's own name, as the switcher shows it. Adding a language: one line here and
# one catalogue in hub/translations (docs/languages.md).
LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "bn": "বাংলা",
}
