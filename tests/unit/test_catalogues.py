"""The catalogues are complete: messages.pot holds every text the sources mark for translation, and
every language has a translation of each one, with all its plural forms, none fuzzy, with the same
placeholders as the English. A text added without a translation fails here, not in front of a user.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from hub.i18n import LANGUAGES, TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = sorted(set(LANGUAGES) - {"en"})


def _ids(catalog: Catalog) -> set[tuple[str | tuple[str, ...], str | None]]:
    """Each text with its context (the CSV headers have one)."""
    return {(m.id, m.context) for m in catalog if m.id}


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _keywords() -> list[str]:
    """The extraction keywords the Makefile's `messages` target uses, so that both agree."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    line = next(x for x in text.splitlines() if x.startswith("BABEL_KEYWORDS"))
    return line.split(":=", 1)[1].split()


def test_the_template_holds_exactly_the_texts_of_the_sources(tmp_path):
    fresh = tmp_path / "messages.pot"
    options = ["--no-location", "--omit-header", "--sort-output", "-o", str(fresh)]
    extract = [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", *_keywords()]
    subprocess.run([*extract, *options, "."], cwd=ROOT, check=True)
    committed, extracted = _ids(_read(TRANSLATIONS / "messages.pot")), _ids(_read(fresh))
    assert extracted, "the sources mark texts for translation"
    assert not extracted - committed, "new texts: run `make messages` and translate them"
    assert not committed - extracted, "texts no source uses any more: run `make messages`"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_text_is_translated(code):
    template = _read(TRANSLATIONS / "messages.pot")
    catalog = _read(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", locale=code)
    # Russian has three forms (1, 2–4, 5+), Bengali two: the catalogue's header says what Babel's rules say.
    assert catalog.num_plurals == get_plural(code).num_plurals
    missing = sorted(str(m.id) for m in template if m.id and catalog.get(m.id, context=m.context) is None)
    assert not missing, f"{code}: no entry for {missing[:10]}"
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(("fuzzy", message.id))
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if message.pluralizable and len(strings) != catalog.num_plurals:
            problems.append(("plural forms", message.id))
        if not all(s and s.strip() for s in strings):
            problems.append(("empty", message.id))
        # Templates put translations into attributes (aria-label, placeholder, data-confirm) as markup:
        # a quote or angle bracket the English does not have would break the page.
        if any(c in s and c not in str(message.id) for s in strings for c in '"<>'):
            problems.append(("markup characters", message.id))
        errors = message.check(catalog)  # the same %(name)s placeholders as the English
        if errors:
            problems.append(("placeholders: " + "; ".join(map(str, errors)), message.id))
    assert not problems, f"{code}: {problems[:10]}"
    obsolete = sorted(str(m) for m in catalog.obsolete)
    assert not obsolete, f"{code}: texts no source uses any more: {obsolete[:10]}"
