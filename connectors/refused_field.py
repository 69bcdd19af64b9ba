"""Which field of a payload a target's refusal is about, read from its message.

Hosted accounting APIs answer a refused document with prose ("Invalid value passed for
customer_id", "Account code '999' is not a valid code"), not with a field path. The failed queue
should still say where to look: a value of the payload quoted in the message names its field and
line (`line_items[1].item_id`); else a field name written in the message, with or without spaces
(`customer_id`, "Account code" for `AccountCode`), names the field (`LineItems[].AccountCode` when
it is a line field).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Values shorter than this appear in messages by chance ("1", "EUR" in "EURO").
MIN_VALUE_CHARS = 4


def field_in_message(message: str, payload: Any) -> str | None:
    """The payload path the message names, or None."""
    leaves = list(_leaves(payload, ""))
    quoted = [
        (path, text)
        for path, value in leaves
        if (text := _text(value)) is not None and len(text) >= MIN_VALUE_CHARS and text in message
    ]
    if quoted:
        return max(quoted, key=lambda found: len(found[1]))[0]
    words = re.findall(r"[a-z0-9]+", message.lower())
    spans = {"".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
    named = [
        re.sub(r"\[\d+\]", "[]", path)
        for path, _ in leaves
        if re.sub(r"[^a-z0-9]", "", path.rsplit(".", 1)[-1].split("[")[0].lower()) in spans
    ]
    # The longest name wins: "DueDate" over "Date" in "Due Date must be after Date".
    return max(named, key=lambda path: len(path.rsplit(".", 1)[-1]), default=None)


def _leaves(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    return str(value)
