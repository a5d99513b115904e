"""Every package under app/steward is listed in pyproject's explicit package list, so the wheel
ships it (steward.lab was once missing: the installed app could not start)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_is_in_the_wheel() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    app = ROOT / "app"
    found = {
        ".".join(init.parent.relative_to(app).parts)
        for init in (app / "steward").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found <= listed, f"missing from [tool.setuptools] packages: {sorted(found - listed)}"
