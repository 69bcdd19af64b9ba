"""Values in and out of zeep for a 1C web service: an answer read by a dotted path (`return.Ид`),
an empty answer told apart, and arguments wrapped the way 1C declares its arrays.
"""

from __future__ import annotations

from typing import Any


def at(answer: Any, path: str) -> Any:
    """The value at a dotted path of an answer (plain dicts); the answer itself for an empty path.
    A list met on the way stands for its first item (a find that answers every match)."""
    value = answer
    for name in path.split(".") if path else ():
        if isinstance(value, list):
            value = value[0] if value else None
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def is_empty(answer: Any) -> bool:
    if isinstance(answer, dict):
        return all(is_empty(v) for v in answer.values())
    return answer in (None, "", [])


def wrapped(element: Any, value: Any) -> Any:
    """A value as zeep takes it for this WSDL element: a list given for an array type (a complex type
    whose only child repeats) becomes `{child: [...]}`, the way 1C declares its arrays."""
    if isinstance(value, list) and element.accepts_multiple:
        return [_wrapped_type(element.type, item) for item in value]
    return _wrapped_type(element.type, value)


def _wrapped_type(xsd_type: Any, value: Any) -> Any:
    children = list(getattr(xsd_type, "elements", None) or [])
    if isinstance(value, list) and len(children) == 1 and children[0][1].accepts_multiple:
        name, child = children[0]
        return {name: [_wrapped_type(child.type, item) for item in value]}
    if isinstance(value, dict):
        known = dict(children)
        return {k: wrapped(known[k], v) if k in known else v for k, v in value.items() if v is not None}
    return value
