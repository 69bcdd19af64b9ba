"""The sales board in a page: a deal's card and a stage's column."""

from __future__ import annotations

import re


def card(page, deal_number: str):
    return page.locator(".deal-card", has_text=deal_number)


def column(page, stage: str):
    return page.locator("section.column", has=page.get_by_role("heading", name=re.compile(f"^{stage}")))
