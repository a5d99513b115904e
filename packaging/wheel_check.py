"""Build Steward's wheel, install it into a clean venv and prove the installed app works.

What `make wheel-check` (and the packaging integration test) runs. Steps: ``python -m build
--wheel``; a fresh venv in a temp dir; ``pip install <wheel>`` (non-editable; dependencies
from the package index, pip's cache reused); then, from inside that venv and with Steward's
dirs pointed into the temp dir: ``steward --version``, ``steward doctor --json``,
``steward --self-test`` (offscreen), and a comparison of the shipped resources with the
source tree's ``resources/``. Standard library only; prints one line per check, or a JSON
report with ``--json``. Exit status 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LIST_RESOURCES = """
import json, steward, importlib.resources as r
def walk(node, prefix=""):
    for child in node.iterdir():
        name = prefix + child.name
        if child.is_dir():
            if child.name != "__pycache__":
                yield from walk(child, name + "/")
        elif not name.endswith((".py", ".pyc")):
            yield name
print(json.dumps({"steward_file": steward.__file__, "resources": sorted(walk(r.files("steward.resources")))}))
"""


@dataclass
class Check:
    """One step: the command run, its exit code, how long it took and what it printed."""

    name: str
    argv: list[str]
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.problem


@dataclass
class Report:
    wheel: str = ""
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)


def source_resources() -> list[str]:
    """Data files under the source tree's resources/ (what the wheel must carry)."""
    base = ROOT / "resources"
    return sorted(
        str(path.relative_to(base))
        for path in base.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".py", ".pyc"}
    )


def _run(name: str, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> Check:
    started = time.perf_counter()
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return Check(name, argv, -1, time.perf_counter() - started, str(exc.stdout or ""), "", "timed out")
    return Check(name, argv, proc.returncode, time.perf_counter() - started, proc.stdout, proc.stderr)


def _isolated_env(work: Path) -> dict[str, str]:
    """The user's environment, minus any venv, with Steward's own dirs inside `work`."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for kind in ("CONFIG", "DATA", "LOG", "CACHE"):
        env[f"STEWARD_{kind}_DIR"] = str(work / "home" / kind.lower())
    return env


def _expect_version(check: Check) -> None:
    from_source = _source_version()
    if check.ok and check.stdout.strip() != f"steward {from_source}":
        check.problem = f"expected 'steward {from_source}', got {check.stdout.strip()!r}"


def _expect_doctor(check: Check) -> None:
    if not check.ok:
        return
    try:
        report = json.loads(check.stdout)
    except json.JSONDecodeError as exc:
        check.problem = f"doctor --json printed no JSON: {exc}"
        return
    missing = {"hardware", "tier"} - set(report)
    if missing:
        check.problem = f"doctor report lacks {sorted(missing)}"


def _expect_self_test(check: Check) -> None:
    if check.ok and "self-test: rendered" not in check.stdout:
        check.problem = "self-test did not report rendered pages"


def _expect_resources(check: Check, venv: Path) -> None:
    if not check.ok:
        return
    found = json.loads(check.stdout)
    if not Path(found["steward_file"]).resolve().is_relative_to(venv.resolve()):
        check.problem = f"steward imported from {found['steward_file']}, not from the clean venv"
        return
    missing = sorted(set(source_resources()) - set(found["resources"]))
    if missing:
        check.problem = f"resources missing from the wheel: {missing}"


def _source_version() -> str:
    text = (ROOT / "app" / "steward" / "__init__.py").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise ValueError("no __version__ in app/steward/__init__.py")


def run_checks(work: Path, wheel: Path | None = None, timeout: float = 600) -> Report:
    """Every step in `work`; stops at the first step the later ones depend on failing."""
    report = Report()
    env = _isolated_env(work)
    cwd = work / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    if wheel is None:
        dist = work / "dist"
        build = _run(
            "build wheel",
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
            cwd=ROOT,
            env=env,
            timeout=timeout,
        )
        report.checks.append(build)
        wheels = sorted(dist.glob("steward-*.whl"))
        if not build.ok or not wheels:
            build.problem = build.problem or "no wheel was built"
            return report
        wheel = wheels[-1]
    report.wheel = str(wheel)
    venv = work / "venv"
    python = str(venv / "bin" / "python")
    steward = str(venv / "bin" / "steward")
    for name, argv in (
        ("create venv", [sys.executable, "-m", "venv", str(venv)]),
        ("pip install wheel", [python, "-m", "pip", "install", "-q", str(wheel)]),
    ):
        step = _run(name, argv, cwd=cwd, env=env, timeout=timeout)
        report.checks.append(step)
        if not step.ok:
            return report
    version = _run("steward --version", [steward, "--version"], cwd=cwd, env=env, timeout=60)
    _expect_version(version)
    doctor = _run("steward doctor --json", [steward, "doctor", "--json"], cwd=cwd, env=env, timeout=120)
    _expect_doctor(doctor)
    self_test = _run("steward --self-test", [steward, "--self-test"], cwd=cwd, env=env, timeout=180)
    _expect_self_test(self_test)
    resources = _run("resources shipped", [python, "-c", LIST_RESOURCES], cwd=cwd, env=env, timeout=60)
    _expect_resources(resources, venv)
    gui_script = venv / "bin" / "steward-gui"
    gui = Check("steward-gui entry point", [str(gui_script)], 0 if gui_script.is_file() else 1, 0.0, "", "")
    report.checks += [version, doctor, self_test, resources, gui]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--wheel", type=Path, help="check this wheel instead of building one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (its path is printed)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="steward-wheel-check-"))
    started = time.perf_counter()
    try:
        report = run_checks(work, args.wheel.resolve() if args.wheel else None)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started
    if args.json:
        print(json.dumps({"ok": report.ok, "seconds": round(total, 1), **asdict(report)}, indent=2))
    else:
        for check in report.checks:
            status = "ok  " if check.ok else "FAIL"
            print(f"[wheel-check] {status} {check.name} ({check.seconds:.1f} s)")
            if not check.ok:
                print(check.problem or f"exit {check.returncode}")
                print(check.stdout[-3000:], check.stderr[-3000:], sep="\n")
        print(f"[wheel-check] {'passed' if report.ok else 'FAILED'} in {total:.0f} s: {report.wheel}")
        if args.keep:
            print(f"[wheel-check] kept {work}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
