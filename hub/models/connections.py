"""Connections to target systems: the type, its settings, the sealed secrets and OAuth tokens, and
what the engine keeps per connection (the breaker, stock pull settings, what an admin must know)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.extensions import db
from hub.models.base import Timestamps, UTCDateTime, enum_column
from hub.sentences import english, render, said


class DocumentMode(enum.StrEnum):
    DRAFT = "draft"
    POSTED = "posted"


class Authorisation(enum.StrEnum):
    """Where an OAuth connection stands (None on the row: never authorised)."""

    AUTHORISED = "authorised"
    # The provider refused the refresh token: nothing reaches it until an admin authorises again.
    REAUTHORIZE = "reauthorize"


class Connection(Timestamps, db.Model):
    __tablename__ = "connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets_sealed: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which stage kind makes an invoice (only "won" today; a per-connection choice by design).
    trigger: Mapped[str] = mapped_column(String(20), default="won")
    document_mode: Mapped[DocumentMode] = mapped_column(enum_column(DocumentMode), default=DocumentMode.DRAFT)
    # Breaker: after consecutive failures the connection rests until this time.
    breaker_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # What an admin must know: e.g. "credentials refused: re-enter the password".
    attention: Mapped[str | None] = mapped_column(Text)  # in English; set with `needs_attention`
    # The same words as template and values (hub.sentences), said in the reader's language (0025).
    attention_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Stock pulls: how often, whether paused, and the age thresholds after which stock is stale
    # (warn) or no longer used for alerts without saying so (stop).
    stock_interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    stock_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    stale_warn_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    stale_stop_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    # When the last good pull began, and the newest `as_of` it saw (the next incremental pull's "since").
    stock_pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stock_cursor: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # OAuth types: the tokens (sealed like the secrets, written by the token store, never shown)
    # and the authorisation state with its reason and when it last changed.
    oauth_sealed: Mapped[str | None] = mapped_column(Text)
    oauth_state: Mapped[Authorisation | None] = mapped_column(enum_column(Authorisation))
    oauth_reason: Mapped[str | None] = mapped_column(Text)  # in English
    # The same words as template and values (hub.sentences), said in the reader's language (0026).
    oauth_reason_message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    oauth_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __audit_redact__ = ("secrets_sealed", "oauth_sealed")
    __audit_skip__ = (
        "breaker_open_until",
        "consecutive_failures",
        "attention",
        "attention_message",
        "oauth_reason_message",
        "stock_pulled_at",
        "stock_cursor",
    )

    def needs_attention(self, stored: dict[str, Any] | None) -> None:
        """What an admin must know, as a sentence (hub.sentences); None: nothing any more."""
        self.attention = english(stored) if stored else None
        self.attention_message = stored

    @property
    def attention_text(self) -> str | None:
        """`attention` in the reader's language: what the pages and the API show."""
        if not self.attention:
            return None
        # A sentence written with the text it says; text set without one (an older row, a writer
        # that knows no sentence) is shown as it is, never an earlier sentence.
        if self.attention_message and english(self.attention_message) == self.attention:
            return render(self.attention_message, self.attention)
        return render(None, self.attention)

    @property
    def oauth_reason_text(self) -> str | None:
        """`oauth_reason` in the reader's language, the provider's own words as it wrote them."""
        return said(self.oauth_reason_message, self.oauth_reason)
