"""The settings object: defaults, range checks with Chinese messages naming the variable, replace()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for key in list(os.environ):
        if key.startswith("DONGXUN_"):
            monkeypatch.delenv(key)


def test_defaults_by_group():
    s = Settings.load(env_file=None)
    assert s.store.chunk_size == 300 and s.store.kb_dir == Path("var/kb")
    assert s.retrieval.retriever == "hybrid" and s.answering.mode == "extractive"
    assert s.web.port == 7860 and s.llm.base_url is None


@pytest.mark.parametrize("value", ["0", "49", "5001", "-3"])
def test_chunk_size_out_of_range_names_variable_and_range(monkeypatch, value):
    monkeypatch.setenv("DONGXUN_CHUNK_SIZE", value)
    with pytest.raises(SettingsError) as err:
        Settings.load(env_file=None)
    msg = str(err.value)
    assert "DONGXUN_CHUNK_SIZE" in msg and "50–5000" in msg and value in msg
    assert "允许范围" in msg and "请修改" in msg


def test_chunk_size_from_environment(monkeypatch):
    monkeypatch.setenv("DONGXUN_CHUNK_SIZE", "400")
    assert Settings.load(env_file=None).store.chunk_size == 400


def test_bad_enum_lists_the_choices(monkeypatch):
    monkeypatch.setenv("DONGXUN_RETRIEVER", "keyword")
    with pytest.raises(SettingsError) as err:
        Settings.load(env_file=None)
    msg = str(err.value)
    assert "DONGXUN_RETRIEVER" in msg and "可选值为" in msg
    for choice in ("hybrid", "dense", "bm25"):
        assert choice in msg


def test_llm_group_uses_its_prefix(monkeypatch):
    monkeypatch.setenv("DONGXUN_LLM_TIMEOUT", "0")
    with pytest.raises(SettingsError) as err:
        Settings.load(env_file=None)
    assert "DONGXUN_LLM_TIMEOUT" in str(err.value)


def test_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("DONGXUN_CHUNK_SIZE=120\nDONGXUN_PORT=8080\n", encoding="utf-8")
    s = Settings.load(env_file=env)
    assert (s.store.chunk_size, s.web.port) == (120, 8080)


def test_overrides_are_validated():
    assert Settings.load(env_file=None, chunk_size=80).store.chunk_size == 80
    with pytest.raises(SettingsError) as err:
        Settings.load(env_file=None, chunk_size=0)
    assert "DONGXUN_CHUNK_SIZE" in str(err.value)
    with pytest.raises(SettingsError) as err:
        Settings.load(env_file=None, no_such_setting=1)
    assert "no_such_setting" in str(err.value)


def test_replace_copies_and_validates():
    base = Settings.load(env_file=None)
    changed = base.replace(kb_dir=Path("/tmp/kb"), base_url="http://127.0.0.1:11434/v1", chunk_size=500)
    assert changed.store.kb_dir == Path("/tmp/kb") and changed.store.chunk_size == 500
    assert changed.llm.base_url == "http://127.0.0.1:11434/v1"
    assert base.store.kb_dir == Path("var/kb") and base.llm.base_url is None  # the original is unchanged
    assert changed.retrieval is base.retrieval  # untouched groups are shared, not re-read
    with pytest.raises(SettingsError) as err:
        base.replace(chunk_size=0)
    assert "DONGXUN_CHUNK_SIZE" in str(err.value) and "50–5000" in str(err.value)
    with pytest.raises(SettingsError):
        base.replace(mode="generative")
    with pytest.raises(SettingsError):
        base.replace(unknown=1)


def test_flat_and_env_names():
    s = Settings.load(env_file=None)
    assert s.flat()["chunk_size"] == 300 and s.flat()["timeout"] == 60.0
    names = s.env_names()
    assert names["chunk_size"] == "DONGXUN_CHUNK_SIZE" and names["timeout"] == "DONGXUN_LLM_TIMEOUT"
