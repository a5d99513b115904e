"""SettingsFile: defaults, round trip, unusable files moved aside, partial recovery with a backup copy,
migrations, newer schemas, atomic save."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from steward.config import NewerSettingsFileError, Settings, SettingsFile, default_config_dir
from steward.config.settings_file import FILE_NAME
from steward.config.validation import validate_settings

STAMP = datetime(2024, 5, 1, 12, 30, 45)


def _file(path: Path, **kwargs: Any) -> SettingsFile:
    return SettingsFile(path, now=lambda: STAMP, **kwargs)


def test_missing_file_gives_defaults_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / FILE_NAME
    result = _file(path).load()
    assert result.settings == Settings()
    assert result.warnings == []
    assert result.backup_path is None
    assert not path.exists()


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / FILE_NAME
    settings = validate_settings(
        {
            "strategy": "weighted",
            "breaker": {"failure_threshold": 7},
            "endpoints": [{"id": "lms", "kind": "openai", "base_url": "https://10.0.0.2:1234/v1"}],
            "servers": [{"name": "big", "env": {"CUDA_VISIBLE_DEVICES": "0"}, "extra_args": ["--mlock"]}],
            "routing": {"capabilities": {"lms/qwen2.5:1.5b": ["code"]}},
        }
    )
    _file(path).save(settings)
    result = _file(path).load()
    assert result.settings == settings
    assert result.warnings == []
    text = path.read_text(encoding="utf-8")
    assert "api_key_ref =" not in text  # None values are omitted, not written as empty strings


def test_corrupt_toml_is_moved_aside_with_original_bytes(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    original = b"[breaker\nfailure_threshold = = 3\n\xff"
    path.write_bytes(original)
    result = _file(path).load()
    backup = tmp_path / f"{FILE_NAME}.corrupt-20240501-123045"
    assert result.backup_path == backup
    assert backup.read_bytes() == original
    assert not path.exists()
    assert result.settings == Settings()
    assert len(result.warnings) == 1
    assert str(backup) in result.warnings[0]
    assert "UTF-8" in result.warnings[0] or "TOML" in result.warnings[0]


PARTLY_BAD = (
    b"[breaker]\nfailure_threshold = 0\nreset_timeout_s = 45.0\n[ui]\ntheme = 3\n\n"
    b'[[endpoints]]\nid = "lms"\nkind = "openai"\nbase_url = "http://127.0.0.1:1234/v1"\n\n'
    b'[[endpoints]]\nid = "broken"\nkind = "ollama"\nbase_url = "ftp://nowhere"\n\n'
    b'[[endpoints]]\nid = "box"\nkind = "ollama"\nbase_url = "http://10.0.0.9:11434"\n'
)


def test_app_load_keeps_valid_parts_copies_the_original_once_and_reports_every_time(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(PARTLY_BAD)
    first = _file(path).load()
    assert [e.id for e in first.settings.endpoints] == ["lms", "box"]
    assert first.settings.breaker.reset_timeout_s == 45.0
    assert first.settings.breaker.failure_threshold == 3
    assert first.settings.ui.theme == "system"
    assert [(b.path, b.value) for b in first.invalid] == [
        ("breaker.failure_threshold", "0"),
        ("endpoints[1].base_url", "'ftp://nowhere'"),
        ("ui.theme", "3"),
    ]
    assert not first.valid
    backup = tmp_path / f"{FILE_NAME}.corrupt-20240501-123045"
    assert first.backup_path == backup and backup.read_bytes() == PARTLY_BAD
    assert path.read_bytes() == PARTLY_BAD  # copied, not moved: the file stays until it is fixed
    assert str(backup) in first.warnings[0]
    assert (
        "invalid setting breaker.failure_threshold = 0: must be at least 1; ignored, the default (3) is used"
        in (first.warnings)
    )
    assert any(
        "endpoints[1].base_url = 'ftp://nowhere'" in w and "endpoints[1] is ignored" in w
        for w in first.warnings
    )

    later = SettingsFile(path, now=lambda: datetime(2024, 5, 2, 8, 0, 0)).load()
    assert later.invalid == first.invalid
    assert later.warnings == first.warnings  # reported again, and the same copy is named
    assert [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name] == [backup.name]


def test_save_after_partial_recovery_writes_only_the_valid_settings(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(PARTLY_BAD)
    settings_file = _file(path)
    settings_file.save(settings_file.load().settings)
    again = settings_file.load()
    assert again.valid and again.warnings == []
    assert [e.id for e in again.settings.endpoints] == ["lms", "box"]
    assert (tmp_path / f"{FILE_NAME}.corrupt-20240501-123045").read_bytes() == PARTLY_BAD


def test_changed_bad_file_gets_its_own_backup(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b"[ui]\ntheme = 3\n")
    first = _file(path).load().backup_path
    path.write_bytes(b"[ui]\ntheme = 4\n")
    second = _file(path).load().backup_path
    assert first is not None and second is not None and first != second
    assert first.read_bytes() == b"[ui]\ntheme = 3\n" and second.read_bytes() == b"[ui]\ntheme = 4\n"


def test_check_reads_and_reports_but_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(PARTLY_BAD)
    for _ in range(2):
        result = _file(path).check()
        assert [e.id for e in result.settings.endpoints] == ["lms", "box"]
        assert len(result.invalid) == 3 and not result.valid
        assert result.backup_path is None
        assert "left unchanged" in result.warnings[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME]
    assert path.read_bytes() == PARTLY_BAD


@pytest.mark.parametrize("raw", [b"= broken", b"\xff\xfe", b"schema_version = 1\n"])
def test_check_of_an_unusable_or_unmigratable_file_leaves_it_alone(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(raw)
    result = _file(path, migrations={}, schema_version=3).check()
    assert result.unusable is not None and not result.valid
    assert result.settings == Settings() and result.backup_path is None
    assert "left unchanged" in result.warnings[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME] and path.read_bytes() == raw


def test_check_migrates_in_memory_only(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    original = b"schema_version = 1\n[breaker]\nfailures = 6\n"
    path.write_bytes(original)
    result = _file(path, migrations={1: _rename_threshold}, schema_version=2).check()
    assert result.settings.breaker.failure_threshold == 6 and result.valid
    assert result.backup_path is None and "in memory" in result.warnings[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME] and path.read_bytes() == original


def test_invalid_schema_version_is_one_bad_field_not_a_lost_file(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b'schema_version = "two"\n[breaker]\nfailure_threshold = 5\n')
    result = _file(path).check()
    assert result.settings.breaker.failure_threshold == 5
    assert [(b.path, b.value) for b in result.invalid] == [("schema_version", "'two'")]


def test_unreadable_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.mkdir()  # reading a directory fails even as root, unlike chmod 000
    result = _file(path).load()
    assert result.settings == Settings()
    assert result.backup_path is not None and result.backup_path.is_dir()
    assert "could not be read" in result.warnings[0]


def test_existing_backup_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    taken = tmp_path / f"{FILE_NAME}.corrupt-20240501-123045"
    taken.write_bytes(b"older backup")
    path.write_bytes(b"not = = toml")
    result = _file(path).load()
    assert taken.read_bytes() == b"older backup"
    assert result.backup_path == tmp_path / f"{FILE_NAME}.corrupt-20240501-123045-1"
    assert result.backup_path.read_bytes() == b"not = = toml"


def test_file_that_cannot_be_moved_aside_still_loads_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b"= broken")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "link", refuse)
    monkeypatch.setattr(os, "rename", refuse)
    result = _file(path).load()
    assert result.settings == Settings()
    assert result.backup_path is None
    assert path.read_bytes() == b"= broken"
    assert "could not be moved aside" in result.warnings[0]


def test_unknown_keys_warn_and_survive_a_save(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_text("[breaker]\nfailure_threshold = 4\nflux = 2\n[future]\nx = [1, 2]\n", encoding="utf-8")
    result = _file(path).load()
    assert result.settings.breaker.failure_threshold == 4
    assert result.backup_path is None
    assert result.valid  # unknown keys are warnings, not errors
    assert sorted(w.split("'")[1] for w in result.warnings) == ["breaker.flux", "future"]
    _file(path).save(result.settings.with_changes("breaker.failure_threshold", 5))
    again = _file(path).load()
    assert again.settings.breaker.failure_threshold == 5
    assert again.settings.breaker.model_extra == {"flux": 2}
    assert again.settings.model_extra == {"future": {"x": [1, 2]}}


def _rename_threshold(data: dict[str, Any]) -> dict[str, Any]:
    """A v1 -> v2 migration for tests: `breaker.failures` became `breaker.failure_threshold`."""
    breaker = data.get("breaker", {})
    if "failures" in breaker:
        breaker["failure_threshold"] = breaker.pop("failures")
    return data


def test_migration_is_applied_on_load_and_original_kept(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    original = b"schema_version = 1\n[breaker]\nfailures = 6\n"
    path.write_bytes(original)
    settings_file = _file(path, migrations={1: _rename_threshold}, schema_version=2)
    result = settings_file.load()
    assert result.settings.breaker.failure_threshold == 6
    assert result.settings.schema_version == 2
    assert result.backup_path == tmp_path / f"{FILE_NAME}.v1-20240501-123045"
    assert result.backup_path.read_bytes() == original
    assert path.read_bytes() == original  # load itself never rewrites the file
    assert "upgraded from schema v1 to v2" in result.warnings[0]
    settings_file.save(result.settings)
    assert "schema_version = 2" in path.read_text(encoding="utf-8")
    assert settings_file.load().warnings == []


def test_missing_migration_step_moves_file_aside(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b"schema_version = 1\n")
    result = _file(path, migrations={}, schema_version=3).load()
    assert result.settings == Settings()
    assert result.backup_path is not None
    assert "no migration from schema v1 to v2" in result.warnings[0]


def test_newer_schema_loads_best_effort_and_is_not_overwritten_by_default(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    original = b"schema_version = 9\nnew_thing = true\n[breaker]\nfailure_threshold = 8\n"
    path.write_bytes(original)
    settings_file = _file(path)
    result = settings_file.load()
    assert result.settings.breaker.failure_threshold == 8
    assert result.backup_path is None
    assert "newer Steward (schema v9" in result.warnings[0]
    with pytest.raises(NewerSettingsFileError):
        settings_file.save(result.settings)
    assert path.read_bytes() == original
    settings_file.save(result.settings, overwrite_newer=True)
    assert "schema_version = 1" in path.read_text(encoding="utf-8")


def test_partly_invalid_newer_schema_keeps_valid_parts_and_leaves_file(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    original = b'schema_version = 9\n[breaker]\nfailure_threshold = "many"\nsuccess_threshold = 4\n'
    path.write_bytes(original)
    result = _file(path).load()
    assert result.settings.breaker.failure_threshold == 3
    assert result.settings.breaker.success_threshold == 4
    assert result.backup_path is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILE_NAME] and path.read_bytes() == original
    assert "newer Steward" in result.warnings[0]
    assert any("breaker.failure_threshold = 'many'" in w for w in result.warnings)


def test_config_dir_comes_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_CONFIG_DIR", str(tmp_path / "elsewhere"))
    assert default_config_dir() == tmp_path / "elsewhere"
    assert SettingsFile.default().path == tmp_path / "elsewhere" / FILE_NAME
    monkeypatch.delenv("STEWARD_CONFIG_DIR")
    assert default_config_dir().name == "steward"


def test_save_through_symlink_updates_target_and_keeps_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "steward.toml"
    real.parent.mkdir()
    real.write_bytes(b"")
    link = tmp_path / FILE_NAME
    link.symlink_to(real)
    _file(link).save(Settings().with_changes("ui.theme", "dark"))
    assert link.is_symlink()
    assert _file(real).load().settings.ui.theme == "dark"


def test_save_syncs_data_before_rename_and_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    _file(tmp_path / FILE_NAME).save(Settings())
    assert calls == ["fsync-file", "replace", "fsync-dir"]


_KILLED_DURING_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from steward.config import Settings, SettingsFile

    target, marker = Path(sys.argv[1]), Path(sys.argv[2])

    def die_before_rename(src, dst):
        marker.write_text(str(src))
        os.kill(os.getpid(), signal.SIGKILL)

    os.replace = die_before_rename
    SettingsFile(target).save(Settings().with_changes("breaker.failure_threshold", 9))
    """
)


def test_kill_between_write_and_rename_leaves_old_file_intact(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    _file(path).save(Settings().with_changes("breaker.failure_threshold", 5))
    before = path.read_bytes()
    marker = tmp_path / "temp-name"
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_DURING_SAVE, str(path), str(marker)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    temp = Path(marker.read_text())
    # The child really got as far as a complete, synced temp file next to the target...
    assert temp.parent == tmp_path
    assert "failure_threshold = 9" in temp.read_text(encoding="utf-8")
    # ...and still the old file is untouched and loads cleanly.
    assert path.read_bytes() == before
    result = _file(path).load()
    assert result.settings.breaker.failure_threshold == 5
    assert result.warnings == []
    # A later save works despite the leftover temp file.
    _file(path).save(Settings().with_changes("breaker.failure_threshold", 6))
    assert _file(path).load().settings.breaker.failure_threshold == 6
