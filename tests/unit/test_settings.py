"""Settings: every one is documented, and a bad value is named, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SETTINGS, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented():
    page = (ROOT / "docs" / "operations.md").read_text()
    missing = [s.env for s in SETTINGS if f"| `{s.env}` |" not in page]
    assert missing == []


def test_defaults_and_overrides():
    defaults = Settings.from_env({})
    assert (defaults.DATABASE_URL, defaults.REDIS_URL, defaults.LOG_LEVEL, defaults.HUB_BATCH_SIZE) == (
        None,
        None,
        "INFO",
        50,
    )
    custom = Settings.from_env({"REDIS_URL": "redis://r:6379/1", "HUB_RETRY_BASE_SECONDS": "0.5"})
    assert (custom.REDIS_URL, custom.HUB_RETRY_BASE_SECONDS) == ("redis://r:6379/1", 0.5)


def test_a_bad_number_names_the_variable():
    with pytest.raises(SettingsError, match="HUB_BATCH_SIZE"):
        Settings.from_env({"HUB_BATCH_SIZE": "fifty"})


def test_a_negative_number_of_kept_answers_is_refused_by_name():
    assert Settings.from_env({"HUB_CACHED_ANSWERS": "0"}).HUB_CACHED_ANSWERS == 0
    with pytest.raises(SettingsError, match="HUB_CACHED_ANSWERS must be 0 or more"):
        Settings.from_env({"HUB_CACHED_ANSWERS": "-1"})
