"""Texts people read that connectors write (a setting's label, why a line cannot be invoiced):
connectors know no language, so they mark the English for the hub's catalogue and the hub says it
in the reader's language where it shows it."""


def N_(text: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Marks `text` for the catalogue (babel.cfg extracts connectors/); returns it as it is."""
    return text
