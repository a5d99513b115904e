"""A service as the integration tests want it: only the servers the settings name (no discovery, no
embedded servers, no health monitor, no history database), its settings file in the test's folder,
API keys in the FAKE in-memory keyring."""

from __future__ import annotations

from pathlib import Path

from steward.config import SecretStore, Settings
from steward.runtime import RuntimeOptions
from tests.support.fake_keyring import FakeKeyring


def quiet_options(settings: Settings, folder: Path) -> RuntimeOptions:
    return RuntimeOptions(
        settings=settings,
        settings_path=folder / "settings.toml",
        store=False,
        embedded=False,
        discover=False,
        health_monitor=False,
        secrets=SecretStore(FakeKeyring()),
    )
