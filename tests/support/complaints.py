"""What a fake target refused of the hub's requests, so that it fails the test.

A fake answering through `responses` checks what the hub sent (a header, the credentials, a body)
with asserts inside its callback. Raised there, an AssertionError reaches the connector as any
other exception, and the engine, which turns every failure of a push into a failed sync run, would
swallow it: the push fails, the test may well pass. A fake's callback is therefore wrapped by
`Complaints.guard`, which notes the complaint before it lets it go on, and the fake's fixture calls
`check` at teardown, which fails the test when anything was noted. A request the fake has no
handler for (a LookupError) counts too: the hub called what the test never expected.
Exceptions a handler raises on purpose (a lost answer is a requests.ConnectionError) are not noted.
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from typing import Any

import pytest

COMPLAINTS = (AssertionError, LookupError)


class Complaints:
    def __init__(self, fake: str) -> None:
        self.fake = fake
        self.noted: list[str] = []

    def guard(self, callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The `responses` callback, noting its complaints."""

        @functools.wraps(callback)
        def guarded(request: Any) -> Any:
            try:
                return callback(request)
            except COMPLAINTS as exc:
                where = "".join(traceback.format_exception(exc, limit=-2)).strip()
                self.noted.append(f"{request.method} {request.url}:\n{where}")
                raise

        return guarded

    def check(self) -> None:
        """Fail the test when the fake refused anything the hub sent; each complaint is reported once."""
        noted, self.noted = self.noted, []
        if noted:
            pytest.fail(f"{self.fake} refused what the hub sent:\n\n" + "\n\n".join(noted), pytrace=False)
