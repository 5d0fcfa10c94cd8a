"""The console's settings, and its refusal to run its demo sign-in outside development."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cityloop_console.app import create_app
from cityloop_console.settings import ConsoleSettings
from cityloop_shared.runtime.built_in import BuiltInSettings
from cityloop_shared.settings import RunMode


def test_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = {"370212": {"casefile": "http://127.0.0.1:9102"}}
    monkeypatch.setenv("CITYLOOP_CONSOLE_DIRECTORY", json.dumps(directory))
    monkeypatch.setenv("CITYLOOP_CONSOLE_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("CITYLOOP_CONSOLE_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("CITYLOOP_CONSOLE_LANGUAGE", "en")
    monkeypatch.setenv("CITYLOOP_MODE", "development")

    settings = ConsoleSettings()

    assert settings.directory == directory
    assert settings.service_url("370212", "casefile") == "http://127.0.0.1:9102"
    assert settings.service_url("370212", "dispatch") is None
    assert settings.key_dir == tmp_path / "keys"
    assert settings.media_dir == tmp_path / "media"
    assert settings.language == "en"
    assert settings.mode is RunMode.DEVELOPMENT


def test_unset_the_directory_is_the_demo_city_as_the_run_command_serves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CITYLOOP_CONSOLE_DIRECTORY", raising=False)
    directory = ConsoleSettings().directory

    assert set(directory) == {"370212", "370202", "370200"}
    assert directory["370212"]["intake"] == "http://127.0.0.1:8101"
    assert directory["370200"]["sync"] == "http://127.0.0.1:8146"
    assert "sync" not in directory["370212"]


def test_outside_development_mode_the_console_refuses_to_start_naming_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CITYLOOP_MODE", raising=False)
    settings = ConsoleSettings()
    assert settings.mode is RunMode.PRODUCTION

    with pytest.raises(BuiltInSettings) as refused:
        create_app(settings)

    assert "CITYLOOP_MODE=development" in str(refused.value)
    assert "identity provider" in str(refused.value)


def test_a_language_other_than_chinese_or_english_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        ConsoleSettings(language="fr", mode=RunMode.DEVELOPMENT)
