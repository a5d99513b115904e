"""Every GGUF model on this disk with what it is and how much context it can run with here.

`scan_disk` walks the roots (`model_roots`, `disk_walk`), reads each new or changed file's GGUF
metadata once (`gguf_meta.spec_from_gguf`, all in one batch; remembered in a `SpecCache`) and
asks the fit estimate
for the largest context per target: the CPU's RAM, and each GPU's VRAM (full offload), or the
unified memory of an Apple GPU (`context_fit.max_fitting_context`). Blocking: run it in a thread.

Files that are not models on their own are left out: by name (see `disk_walk.skip_reason`) and,
when the name does not tell, by metadata: a vision projector declares the ``clip``
architecture, a vocabulary-only file has no tensors. A file that cannot be read is listed with
the reason; one bad file never stops the scan.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from steward.hardware.budget import BudgetAssumptions, budget_for
from steward.hardware.context_fit import context_words, max_fitting_context
from steward.hardware.detect import HardwareInfo
from steward.hardware.disk_cache import CachedRead, SpecCache
from steward.hardware.disk_walk import Candidate, RootReport, walk_root
from steward.hardware.fit import MemoryBudget
from steward.hardware.gguf_header import read_header
from steward.hardware.gguf_meta import spec_from_gguf
from steward.hardware.gpu import format_bytes
from steward.hardware.model_roots import ModelRoot
from steward.hardware.spec import ModelSpec
from steward.hardware.tiers import classify

ReadSpec = Callable[[Path], ModelSpec]
NOT_A_MODEL_ARCHITECTURES = {"clip": "a vision projector (clip), an add-on to a model"}


CPU, GPU, UNIFIED = "cpu", "gpu", "unified"


@dataclass(frozen=True)
class FitTarget:
    """Memory a model may use: the CPU's RAM, one GPU's VRAM (only a full offload counts) or the
    unified memory of an Apple GPU (`kind`: CPU, GPU or UNIFIED)."""

    label: str
    budget: MemoryBudget
    kind: str = CPU

    @property
    def full_gpu(self) -> bool:
        return self.kind == GPU


@dataclass(frozen=True)
class ContextFit:
    """The largest context (tokens, 0 = does not fit) of one model on one target."""

    target: str
    context: int
    kind: str = CPU

    @property
    def full_gpu(self) -> bool:
        return self.kind == GPU


@dataclass(frozen=True)
class DiskModel:
    """One model file found on disk: what its metadata says and how it fits here (or `error`)."""

    name: str
    source: str
    path: str
    size_bytes: int
    architecture: str | None = None
    parameters: int | None = None
    quant: str | None = None
    trained_context: int | None = None
    fits: tuple[ContextFit, ...] = ()
    error: str | None = None
    parts: int = 1
    also_named: tuple[str, ...] = ()

    @property
    def best(self) -> ContextFit | None:
        """The target with the largest context (a GPU wins a tie); None when nothing fits."""
        fitting = [f for f in self.fits if f.context > 0]
        return max(fitting, key=lambda f: (f.context, f.full_gpu)) if fitting else None

    @property
    def fit_text(self) -> str:
        """ "fits with 8k context", "fits with 32k context on GPU 0 …", "won't fit" or "unreadable"."""
        if self.error is not None:
            return "unreadable"
        best = self.best
        if best is None:
            return "won't fit"
        where = f" on {best.target}" if best.full_gpu else ""
        return f"fits with {context_words(best.context)} context{where}"


@dataclass(frozen=True)
class DiskScan:
    """A scan's models, what each root gave, and how many files had to be read this time."""

    models: tuple[DiskModel, ...]
    roots: tuple[RootReport, ...]
    read: int
    cached: int
    notes: tuple[str, ...] = ()


def params_text(count: int | None) -> str:
    """135_000_000 -> "135M", 7_600_000_000 -> "7.6B" (as model names say it)."""
    if not count:
        return "—"
    if count >= 1e9:
        return f"{count / 1e9:.1f}B"
    return f"{count / 1e6:.0f}M" if count >= 1e6 else f"{count / 1e3:.0f}K"


def fit_targets(hardware: HardwareInfo) -> list[FitTarget]:
    """The CPU's RAM (planning budget: total minus headroom) and each discrete GPU's usable VRAM,
    or, on Apple Silicon, the unified memory the GPU may use."""
    budget = budget_for(hardware, classify(hardware))
    if budget.unified:
        return [FitTarget(budget.gpu_label, budget, UNIFIED)]
    cpu = MemoryBudget(gpu_bytes=0, ram_bytes=budget.ram_bytes, cpu_bandwidth_gbs=budget.cpu_bandwidth_gbs)
    targets = [FitTarget(f"CPU RAM ({format_bytes(budget.ram_bytes)})", cpu)]
    usable = BudgetAssumptions().vram_usable_fraction
    for gpu in hardware.discrete_gpus:
        vram = int((gpu.memory_total or 0) * usable)
        one = dataclasses.replace(budget, gpu_bytes=vram, gpu_label=gpu.name)
        targets.append(FitTarget(f"GPU {gpu.index} ({gpu.name}, {format_bytes(gpu.memory_total)})", one, GPU))
    return targets


def read_entry(path: Path, mtime_ns: int, size: int, read_spec: ReadSpec) -> CachedRead:
    """Read one file's metadata: its spec, why it is no model, or why it cannot be read."""
    try:
        spec = read_spec(path)
    except Exception as exc:
        architecture = _architecture(path)
        if architecture in NOT_A_MODEL_ARCHITECTURES:
            return CachedRead(mtime_ns, size, skip=NOT_A_MODEL_ARCHITECTURES[architecture])
        reason = str(exc) or type(exc).__name__
        if not isinstance(exc, ValueError):  # the reader's own words come as ValueError
            reason = f"{path}: not a readable GGUF file ({type(exc).__name__}: {reason})"
        return CachedRead(mtime_ns, size, error=reason)
    if spec.architecture in NOT_A_MODEL_ARCHITECTURES:
        return CachedRead(mtime_ns, size, skip=NOT_A_MODEL_ARCHITECTURES[spec.architecture])
    if spec.parameter_count == 0:
        return CachedRead(mtime_ns, size, skip="a vocabulary-only file (no weights)")
    return CachedRead(mtime_ns, size, spec=spec)


def _architecture(path: Path) -> str | None:
    try:
        architecture = read_header(path).fields.get("general.architecture")
    except Exception:
        return None
    return str(architecture) if architecture is not None else None


def _whole_model(spec: ModelSpec, first_size: int, total_size: int) -> ModelSpec:
    """A split model's spec from its first part: weights are the parts' total size, parameters
    scaled alike (the other parts' metadata is not read; GGUF headers are a tiny share)."""
    if total_size <= first_size or first_size <= 0:
        return spec
    scale = total_size / first_size
    return dataclasses.replace(
        spec, weights_bytes=total_size, parameter_count=int(spec.parameter_count * scale)
    )


def _row(candidate: Candidate, entry: CachedRead, size: int, targets: Sequence[FitTarget]) -> DiskModel:
    base = DiskModel(
        name=candidate.name,
        source=str(candidate.root.source),
        path=str(candidate.path),
        size_bytes=size,
        parts=max(1, len(candidate.parts)),
        error=entry.error,
    )
    if entry.spec is None:
        return base
    spec = _whole_model(entry.spec, entry.size, size)
    fits = tuple(
        ContextFit(t.label, max_fitting_context(spec, t.budget, full_gpu=t.full_gpu), t.kind) for t in targets
    )
    return dataclasses.replace(
        base,
        architecture=spec.architecture,
        parameters=spec.parameter_count,
        quant=spec.quantization,
        trained_context=spec.trained_context,
        fits=fits,
    )


@dataclass(frozen=True)
class ReadJob:
    """A file whose metadata must be read: its real path and the mtime/size the reading is for."""

    path: Path
    mtime_ns: int
    size: int


ReadMany = Callable[[Sequence[ReadJob]], list[CachedRead]]
"""Reads a batch of files (a seam for another way of reading, e.g. in a child process)."""


def read_here(read_spec: ReadSpec = spec_from_gguf) -> ReadMany:
    """A batch reader that reads in this process, one file after another."""
    return lambda jobs: [read_entry(j.path, j.mtime_ns, j.size, read_spec) for j in jobs]


@dataclass
class _Found:
    candidate: Candidate
    report: RootReport
    mtime_ns: int
    size: int
    total: int
    names: list[str]


def scan_disk(
    roots: Iterable[ModelRoot],
    cache: SpecCache,
    targets: Sequence[FitTarget],
    *,
    read_spec: ReadSpec = spec_from_gguf,
    read_many: ReadMany | None = None,
    max_files: int | None = None,
) -> DiskScan:
    """Walk every root, read new or changed files (all in one batch, by `read_many` or else
    `read_spec` here), save the cache and return the rows (blocking)."""
    reports: list[RootReport] = []
    found: dict[str, _Found] = {}  # by real path: a file under two names is one model
    for root in roots:
        candidates, report = walk_root(root) if max_files is None else walk_root(root, max_files)
        reports.append(report)
        for candidate in candidates:
            real = str(candidate.real)
            if real in found:  # a second Ollama tag of one blob, or a file under two roots
                if candidate.name not in found[real].names:
                    found[real].names.append(candidate.name)
                continue
            try:
                stat = os.stat(real)
                sizes = [os.path.getsize(p) for p in candidate.parts] if candidate.parts else [stat.st_size]
            except OSError as exc:
                report.notes.append(f"{candidate.path}: {exc.strerror or exc}")
                continue
            found[real] = _Found(
                candidate, report, stat.st_mtime_ns, stat.st_size, sum(sizes), [candidate.name]
            )
    entries = {real: cache.get(real, f.mtime_ns, f.size) for real, f in found.items()}
    jobs = [
        ReadJob(Path(real), found[real].mtime_ns, found[real].size)
        for real, e in entries.items()
        if e is None
    ]
    if jobs:
        for job, entry in zip(jobs, (read_many or read_here(read_spec))(jobs), strict=True):
            entries[str(job.path)] = entry
            cache.put(str(job.path), entry)
    models = []
    for real, f in found.items():
        known = entries[real]
        if known is not None and known.skip is None:
            row = _row(f.candidate, known, f.total, targets)
            models.append(dataclasses.replace(row, also_named=tuple(f.names[1:])))
    notes = []
    if cache.backup is not None:
        notes.append(f"the scan cache was corrupt: moved to {cache.backup} and rebuilt")
    try:
        cache.save(set(found))
    except OSError as exc:
        notes.append(f"the scan cache was not saved ({exc}): the next scan reads every file again")
    return DiskScan(tuple(models), tuple(reports), len(jobs), len(found) - len(jobs), tuple(notes))
