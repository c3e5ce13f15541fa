"""Settings from the environment and callqa.toml, and the caller-hash key's life cycle."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipeline.config import CALLER_HASH_KEY_FILE, Settings, caller_hash_key


def test_defaults_work_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.whisper_model == "tiny.en"
    assert settings.timezone == "Europe/London"
    assert settings.repeat_window_days == 7


def test_environment_beats_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "callqa.toml").write_text(
        'out_dir = "/srv/callqa"\nrepeat_window_days = 14\ncpu_threads = 1\n'
    )
    monkeypatch.setenv("CALLQA_CPU_THREADS", "2")
    settings = Settings()
    assert settings.out_dir == Path("/srv/callqa")
    assert settings.repeat_window_days == 14
    assert settings.cpu_threads == 2


def test_invalid_setting_names_the_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALLQA_CHANNEL_LAYOUT", "stereo")
    with pytest.raises(ValueError, match="channel_layout"):
        Settings()


def test_generated_key_is_private_stable_and_announced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLQA_CALLER_HASH_KEY", raising=False)
    settings = Settings(out_dir=tmp_path / "out")
    key, message = caller_hash_key(settings)
    path = tmp_path / "out" / CALLER_HASH_KEY_FILE
    assert message is not None and str(path) in message
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key.decode() not in message
    again, second_message = caller_hash_key(settings)
    assert again == key and second_message is None


def test_key_from_environment_is_used_and_not_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CALLQA_CALLER_HASH_KEY", "council-secret")
    settings = Settings(out_dir=tmp_path / "out")
    assert caller_hash_key(settings) == (b"council-secret", None)
    assert not (tmp_path / "out").exists()
    assert "council-secret" not in repr(settings)
