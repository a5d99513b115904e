"""An edit made outside Steward is never overwritten silently (the settings file remembers what it
last read or wrote)."""

from __future__ import annotations

from pathlib import Path

import pytest

from steward.config import ExternalEditError, Settings, SettingsFile


def test_a_file_edited_after_loading_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[timeouts]\nconnect_s = 4.0\n")
    settings_file = SettingsFile(path)
    settings_file.load()
    assert not settings_file.changed_outside()
    path.write_text("[timeouts]\nconnect_s = 9.0\n")  # another editor
    assert settings_file.changed_outside()
    with pytest.raises(ExternalEditError, match="changed outside Steward"):
        settings_file.save(Settings())
    assert path.read_text() == "[timeouts]\nconnect_s = 9.0\n", "the outside edit is still there"
    settings_file.save(Settings(), overwrite_external=True)
    assert "connect_s = 3.0" in path.read_text()


def test_our_own_saves_are_not_outside_edits(tmp_path: Path) -> None:
    settings_file = SettingsFile(tmp_path / "settings.toml")
    settings_file.load()  # missing: defaults
    settings_file.save(Settings())
    assert not settings_file.changed_outside()
    settings_file.save(Settings())  # again: no refusal


def test_checking_does_not_take_an_outside_edit_as_seen_but_mark_seen_does(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    settings_file = SettingsFile(path)
    settings_file.load()
    path.write_text("[timeouts]\nconnect_s = 5.0\n")
    assert settings_file.check().settings.timeouts.connect_s == 5.0
    assert settings_file.changed_outside(), "validating it is not accepting it"
    settings_file.mark_seen()
    assert not settings_file.changed_outside()


def test_a_file_never_read_is_written_as_before(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("# hand-written\n")
    SettingsFile(path).save(Settings())
    assert "schema_version" in path.read_text()
