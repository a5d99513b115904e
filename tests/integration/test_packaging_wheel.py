"""The built wheel, installed non-editable into a clean venv, runs the app with all its resources.

Runs packaging/wheel_check.py for real (build, fresh venv, pip install, then `steward --version`,
`doctor --json` and `--self-test` offscreen). About 25 s here, most of it pip installing PySide6.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import steward

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "wheel_check.py"
EXPECTED_CHECKS = [
    "build wheel",
    "create venv",
    "pip install wheel",
    "steward --version",
    "steward doctor --json",
    "steward --self-test",
    "resources shipped",
    "steward-gui entry point",
]


def load_wheel_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("steward_wheel_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(600)
def test_wheel_installed_in_a_clean_venv_runs_version_doctor_and_self_test() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--json"], capture_output=True, text=True, timeout=590, check=False
    )
    report = json.loads(proc.stdout)
    failed = [
        (c["name"], c["problem"], c["stderr"][-1500:]) for c in report["checks"] if c["returncode"] != 0
    ]
    assert proc.returncode == 0 and report["ok"], failed or [c["problem"] for c in report["checks"]]
    assert [c["name"] for c in report["checks"]] == EXPECTED_CHECKS
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["steward --version"]["stdout"].strip() == f"steward {steward.__version__}"
    assert json.loads(by_name["steward doctor --json"]["stdout"])["tier"]["name"]
    assert "self-test: rendered" in by_name["steward --self-test"]["stdout"]
    shipped = json.loads(by_name["resources shipped"]["stdout"])
    assert "/venv/" in shipped["steward_file"]
    assert {"catalog.json", "default_config.toml"} <= set(shipped["resources"])
    assert Path(report["wheel"]).name.startswith(f"steward-{steward.__version__}-py3-none-any")


def test_resources_check_names_a_file_the_wheel_left_out(tmp_path: Path) -> None:
    wheel_check = load_wheel_check()
    expected = wheel_check.source_resources()
    assert "catalog.json" in expected
    venv = tmp_path / "venv"
    shipped = {"steward_file": str(venv / "steward" / "__init__.py"), "resources": expected[1:]}
    check = wheel_check.Check("resources shipped", [], 0, 0.0, json.dumps(shipped), "")
    wheel_check._expect_resources(check, venv)
    assert not check.ok
    assert expected[0] in check.problem


def test_resources_check_refuses_a_steward_imported_from_outside_the_venv(tmp_path: Path) -> None:
    wheel_check = load_wheel_check()
    shipped = {"steward_file": steward.__file__, "resources": wheel_check.source_resources()}
    check = wheel_check.Check("resources shipped", [], 0, 0.0, json.dumps(shipped), "")
    wheel_check._expect_resources(check, tmp_path / "venv")
    assert not check.ok
    assert "not from the clean venv" in check.problem
