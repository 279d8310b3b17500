"""The API's settings: DONGXUN_API_KEYS is a comma-separated list, and a key short enough to guess stops
the start with a Chinese message (the API is never left open by a key that was meant to close it)."""

from __future__ import annotations

import pytest

from core.settings import API_KEY_MIN_CHARS, Settings, SettingsError

pytestmark = pytest.mark.unit

KEY_A = "a" * API_KEY_MIN_CHARS
KEY_B = "b" * (API_KEY_MIN_CHARS + 4)


def test_no_keys_by_default(monkeypatch):
    monkeypatch.delenv("DONGXUN_API_KEYS", raising=False)
    assert Settings.load(env_file=None).web.api_keys == ()


def test_keys_are_read_comma_separated_from_the_environment(monkeypatch):
    monkeypatch.setenv("DONGXUN_API_KEYS", f" {KEY_A} ,{KEY_B},, ")
    assert Settings.load(env_file=None).web.api_keys == (KEY_A, KEY_B)


def test_keys_can_be_given_as_a_list_or_a_string():
    settings = Settings.load(env_file=None)
    assert settings.replace(api_keys=[KEY_A]).web.api_keys == (KEY_A,)
    assert settings.replace(api_keys=f"{KEY_A},{KEY_B}").web.api_keys == (KEY_A, KEY_B)


def test_a_short_key_stops_the_start_with_a_chinese_message(monkeypatch):
    monkeypatch.setenv("DONGXUN_API_KEYS", f"{KEY_A},short")
    with pytest.raises(SettingsError, match=f"DONGXUN_API_KEYS.*至少要有 {API_KEY_MIN_CHARS} 个字符"):
        Settings.load(env_file=None)


@pytest.mark.parametrize("field, value", [("api_max_request_kb", 0), ("api_concurrency_limit", 0)])
def test_limits_are_checked(field, value):
    with pytest.raises(SettingsError, match="允许范围"):
        Settings.load(env_file=None, **{field: value})
