"""Garbage in the settings file never makes `SettingsFile.load()` or `check()` raise.

Whatever is on disk, load returns settings; `check()` never changes the directory; the app's
load keeps the original bytes in the backup it names (a copy when it recovered part of the
file, the moved file when it could use nothing); and whatever it accepts survives a save/load
cycle without a new complaint. Partial recovery keeps what the corruption did not touch.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steward.config import Settings, SettingsFile
from steward.config.settings_file import FILE_NAME, dumps, to_toml_data

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never fails on a newly drawn case by luck
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _leaf_paths(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in data.items():
        paths.append((*prefix, key))
        if isinstance(value, dict):
            paths += _leaf_paths(value, (*prefix, key))
    return paths


DEFAULT_DATA = to_toml_data(Settings())
EXTRA_PATHS = [("endpoints", "0"), ("servers", "0"), ("routing", "capabilities", "a/b")]
KNOWN_PATHS = [*_leaf_paths(DEFAULT_DATA), *EXTRA_PATHS]
KNOWN_NAMES = sorted({part for path in KNOWN_PATHS for part in path})

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.dates(),
    st.times(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
)
toml_keys = st.one_of(st.sampled_from(KNOWN_NAMES), st.text(min_size=1, max_size=8))
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(toml_keys, inner, max_size=4),
    max_leaves=12,
)

TOML_FRAGMENTS = [
    "\n",
    " = ",
    "=",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    ",",
    '"',
    "'",
    '"""',
    "#",
    ".",
    "[breaker]",
    "[[endpoints]]",
    "[[servers]]",
    "[routing.capabilities]",
    "schema_version",
    "failure_threshold",
    "base_url",
    "ports",
    "1",
    "0",
    "-1",
    "99999999999999999999",
    "1e400",
    "inf",
    "nan",
    "true",
    "1979-05-27T07:32:00Z",
    '"http://127.0.0.1:1"',
    '"\\u0000"',
]
tomlish_text = st.lists(st.one_of(st.sampled_from(TOML_FRAGMENTS), st.text(max_size=4)), max_size=40).map(
    "".join
)


def _listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def _load_bytes(raw: bytes) -> Settings:
    """Write `raw` as the settings file, check and load it, and verify the no-raise/no-loss contract."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / FILE_NAME
        path.write_bytes(raw)
        checked = SettingsFile(path).check()
        assert _listing(Path(tmp)) == {FILE_NAME: raw}  # read-only, whatever the content
        assert checked.backup_path is None
        assert checked.valid == (not checked.invalid and checked.unusable is None)
        assert all(len(w) < 2000 for w in checked.warnings)

        result = SettingsFile(path).load()
        assert isinstance(result.settings, Settings)
        assert dumps(result.settings) == dumps(checked.settings)
        assert [str(b) for b in result.invalid] == [str(b) for b in checked.invalid]
        if result.unusable is not None:
            assert result.settings == Settings()
            assert result.warnings
            if result.backup_path is not None:
                assert result.backup_path.read_bytes() == raw
                assert not path.exists()
            return result.settings
        assert path.read_bytes() == raw  # loading never rewrites the file
        newer = any("written by a newer Steward" in w for w in result.warnings)
        if result.invalid and not newer:  # a newer Steward's file is never copied or moved (by design)
            assert result.backup_path is not None and result.backup_path.read_bytes() == raw
        # Whatever was accepted (unknown keys included) can be saved and reads back the same.
        SettingsFile(path).save(result.settings, overwrite_newer=True)
        again = SettingsFile(path).load()
        assert again.valid and again.backup_path is None
        assert dumps(again.settings) == dumps(result.settings)
        return result.settings


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_never_make_load_raise(raw: bytes) -> None:
    _load_bytes(raw)


@FUZZ
@given(tomlish_text)
def test_random_tomlish_text_never_makes_load_raise(text: str) -> None:
    _load_bytes(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.dictionaries(toml_keys, toml_values, max_size=6))
def test_random_nested_tables_never_make_load_raise(data: dict[str, Any]) -> None:
    _load_bytes(tomli_w.dumps(data).encode("utf-8"))


@FUZZ
@given(st.sampled_from(KNOWN_PATHS), toml_values)
def test_one_wrong_value_in_a_valid_file_never_makes_load_raise(path: tuple[str, ...], value: Any) -> None:
    _load_bytes(tomli_w.dumps(_with(to_toml_data(Settings()), path, value)).encode("utf-8"))


ENDPOINTS = [
    {"id": "lms", "kind": "openai", "base_url": "http://127.0.0.1:1234/v1"},
    {"id": "box", "kind": "ollama", "base_url": "http://10.0.0.9:11434", "api_key_ref": "box-key"},
    {"id": "far", "kind": "llamacpp", "base_url": "https://example.org:8443"},
]
OUTSIDE_ENDPOINTS = [p for p in KNOWN_PATHS if p[0] != "endpoints"]
ENDPOINT_FIELDS = ["id", "kind", "base_url", "api_key_ref", "enabled", "bse_url"]


def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = data
    for key in path[:-1]:
        existing = target.get(key)
        target[key] = existing if isinstance(existing, dict) else {}
        target = target[key]
    target[path[-1]] = value
    return data


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(OUTSIDE_ENDPOINTS), toml_values), min_size=1, max_size=4))
def test_corruption_outside_the_endpoints_never_costs_an_endpoint(changes: list[tuple[Any, Any]]) -> None:
    data: dict[str, Any] = {**to_toml_data(Settings()), "endpoints": [dict(e) for e in ENDPOINTS]}
    for path, value in changes:
        _with(data, path, value)
    settings = _load_bytes(tomli_w.dumps(data).encode("utf-8"))
    assert [e.id for e in settings.endpoints] == [e["id"] for e in ENDPOINTS]


@FUZZ
@given(st.integers(0, len(ENDPOINTS) - 1), st.sampled_from(ENDPOINT_FIELDS), toml_values)
def test_one_bad_endpoint_field_costs_at_most_one_endpoint(index: int, name: str, value: Any) -> None:
    endpoints = [dict(e) for e in ENDPOINTS]
    endpoints[index][name] = value
    settings = _load_bytes(tomli_w.dumps({"endpoints": endpoints}).encode("utf-8"))
    kept = [e.id for e in settings.endpoints]
    assert len(kept) >= len(ENDPOINTS) - 1
    if name != "id":  # a changed id may clash with a later endpoint's, which then yields
        assert all(e["id"] in kept for i, e in enumerate(ENDPOINTS) if i != index)
