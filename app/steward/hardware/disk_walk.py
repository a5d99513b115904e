"""Find GGUF model files under one `ModelRoot`, bounded and without leaving it.

- Symlinks are followed only while their target stays inside the root's real directory (the
  Hugging Face cache's snapshot links point at its own ``blobs/``); a link pointing anywhere else
  is skipped and reported, so a scan never wanders into the rest of the disk.
- The walk is bounded: at most `root.max_depth` levels, MAX_ENTRIES directory entries and
  `max_files` model files per root; hidden folders (``.locks``, ``.git``) are not entered.
- Skipped by name, because llama-server cannot serve them on their own: split parts other than
  the first (``…-00002-of-00003.gguf``: the first part names the others and llama-server loads
  them from it), vision projectors (``mmproj…gguf``: an add-on for a model, not a model) and
  llama.cpp's vocabulary test files (``ggml-vocab-….gguf``: a tokenizer without weights).
  Files whose names do not give them away are recognised by their metadata later
  (`disk_models`).
- Ollama roots are read through their manifests (see `model_roots`): only blobs a manifest names
  as its model layer count, named like Ollama names them ("qwen2.5:7b", "user/model:tag").
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from steward.hardware.model_roots import ModelRoot

MAX_ENTRIES = 50_000
"""Directory entries looked at per root before the walk stops (a user folder may be huge)."""
MAX_FILES = 1_000
"""Model files taken per root."""
MAX_MANIFEST_BYTES = 1 << 20
OLLAMA_MODEL_MEDIA = "application/vnd.ollama.image.model"
OLLAMA_REGISTRY = "registry.ollama.ai"

_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<part>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
_DIGEST = re.compile(r"^sha256[:-](?P<hex>[0-9a-f]{64})$")
_GENERIC_STEMS = {"model", "ggml-model", "weights"}


@dataclass(frozen=True)
class Candidate:
    """A model file found under a root: `path` as found (what llama-server is given), `real` its
    resolved path inside the root, and every part's real path for a split model."""

    root: ModelRoot
    path: Path
    real: Path
    name: str
    parts: tuple[Path, ...] = ()


@dataclass
class RootReport:
    """What the walk of one root found and left out, in words."""

    root: ModelRoot
    present: bool = False
    candidates: int = 0
    notes: list[str] = field(default_factory=list)


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def skip_reason(name: str) -> str | None:
    """Why a file is not a model of its own, by its name alone (None: it may be one)."""
    lower = name.lower()
    split = _SPLIT.match(name)
    if split and int(split["part"]) != 1:
        return "a later part of a split model (its first part is listed)"
    if "mmproj" in lower:
        return "a vision projector (mmproj), an add-on to a model"
    if lower.startswith("ggml-vocab-"):
        return "a vocabulary-only file (no weights)"
    return None


def display_name(path: Path) -> str:
    """ "Qwen2.5-7B-Instruct-Q4_K_M" from the file name; a generic "model.gguf" takes its folder's name."""
    split = _SPLIT.match(path.name)
    stem = split["stem"] if split else path.stem
    return path.parent.name if stem.lower() in _GENERIC_STEMS and path.parent.name else stem


def _split_parts(path: Path, real_root: str) -> tuple[tuple[Path, ...], str | None]:
    """Every part's real path for a first split part, or the problem (a part missing or outside)."""
    split = _SPLIT.match(path.name)
    if not split:
        return (), None
    count = int(split["count"])
    parts = []
    for number in range(1, count + 1):
        sibling = path.with_name(f"{split['stem']}-{number:05d}-of-{count:05d}.gguf")
        real = os.path.realpath(sibling)
        if not os.path.isfile(real) or not _inside(real, real_root):
            return (), f"part {number} of {count} is missing"
        parts.append(Path(real))
    return tuple(parts), None


class _Walk:
    def __init__(self, root: ModelRoot, report: RootReport, max_files: int) -> None:
        self.root = root
        self.report = report
        self.max_files = max_files
        self.real_root = os.path.realpath(root.path)
        self.entries = 0

    def files(self, start: Path, max_depth: int) -> Iterator[tuple[Path, str, int]]:
        """(path as found, real path, depth) of every regular file within `max_depth`, links only
        while they stay inside the root."""
        stack = [(start, 0)]
        visited = {os.path.realpath(start)}
        while stack:
            directory, depth = stack.pop()
            try:
                with os.scandir(directory) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                self.report.notes.append(f"{directory}: cannot list ({exc.strerror or exc})")
                continue
            subdirs = []
            for entry in entries:
                self.entries += 1
                if self.entries > MAX_ENTRIES:
                    self.report.notes.append(f"stopped after {MAX_ENTRIES} entries")
                    return
                if entry.name.startswith("."):
                    continue
                real = os.path.realpath(entry.path)
                if entry.is_symlink() and not _inside(real, self.real_root):
                    self.report.notes.append(f"{entry.path}: skipped, a link out of {self.root.path}")
                    continue
                if os.path.isdir(real):
                    if depth < max_depth and real not in visited:
                        visited.add(real)
                        subdirs.append((Path(entry.path), depth + 1))
                elif os.path.isfile(real):
                    yield Path(entry.path), real, depth
            stack.extend(reversed(subdirs))

    def gguf_files(self) -> Iterator[Candidate]:
        for path, real, _ in self.files(Path(self.root.path), self.root.max_depth):
            if not path.name.lower().endswith(".gguf") or skip_reason(path.name):
                continue
            parts, problem = _split_parts(path, self.real_root)
            if problem:
                self.report.notes.append(f"{path}: {problem}")
                continue
            yield Candidate(self.root, path, Path(real), display_name(path), parts)

    def ollama_models(self) -> Iterator[Candidate]:
        manifests = Path(self.root.path) / "manifests"
        if not manifests.is_dir():
            return  # nothing pulled yet
        for path, real, depth in self.files(manifests, 3):
            relative = path.relative_to(manifests).parts
            if depth != 3 or len(relative) != 4:
                continue
            blob = self._ollama_blob(path, real)
            if blob is not None:
                yield Candidate(self.root, blob, Path(os.path.realpath(blob)), ollama_name(*relative))

    def _ollama_blob(self, manifest: Path, real: str) -> Path | None:
        try:
            if os.path.getsize(real) > MAX_MANIFEST_BYTES:
                raise ValueError("too large for a manifest")
            with open(real, encoding="utf-8") as handle:
                layers = json.load(handle).get("layers") or []
            digest = next(
                (
                    str(layer.get("digest", ""))
                    for layer in layers
                    if layer.get("mediaType") == OLLAMA_MODEL_MEDIA
                ),
                None,
            )
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            self.report.notes.append(f"{manifest}: not a readable Ollama manifest ({exc})")
            return None
        if digest is None:
            return None  # an adapter, a safetensors import or a cloud model: no GGUF blob
        match = _DIGEST.match(digest)
        if match is None:
            self.report.notes.append(f"{manifest}: model layer has no sha256 digest")
            return None
        blob = Path(self.root.path) / "blobs" / f"sha256-{match['hex']}"
        blob_real = os.path.realpath(blob)
        if not _inside(blob_real, self.real_root):
            self.report.notes.append(f"{blob}: skipped, a link out of {self.root.path}")
            return None
        if not os.path.isfile(blob_real):
            self.report.notes.append(f"{manifest}: its model blob is missing")
            return None
        return blob


def ollama_name(registry: str, namespace: str, model: str, tag: str) -> str:
    """The name `ollama list` shows: "qwen2.5:7b" for the library, "user/model:tag", or with the host."""
    if registry == OLLAMA_REGISTRY:
        return f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
    return f"{registry}/{namespace}/{model}:{tag}"


def walk_root(root: ModelRoot, max_files: int = MAX_FILES) -> tuple[list[Candidate], RootReport]:
    """The model files under `root` (bounded, never leaving it) and a report of what was left out."""
    report = RootReport(root)
    if not os.path.isdir(root.path):
        return [], report
    report.present = True
    walk = _Walk(root, report, max_files)
    found: list[Candidate] = []
    for candidate in walk.ollama_models() if root.ollama else walk.gguf_files():
        if len(found) >= max_files:
            report.notes.append(f"stopped after {max_files} model files")
            break
        found.append(candidate)
    report.candidates = len(found)
    return found, report
