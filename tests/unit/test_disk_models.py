"""Every model on disk (issue 15 item 4): each known layout in a temp tree of tiny real GGUF
files, the incremental cache, symlinks out of a root, corrupt files and a corrupt cache, the
largest fitting context, and the real SmolLM2 and Gemma files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.support.gemma import gemma_path
from tests.support.gguf_files import write_gguf

from steward.config import Settings, SettingsError
from steward.hardware.context_fit import max_fitting_context
from steward.hardware.cpu import CpuInfo, MemoryInfo
from steward.hardware.detect import HardwareInfo, PlatformInfo, apple_unified_gpu
from steward.hardware.disk_cache import SpecCache
from steward.hardware.disk_models import (
    ContextFit,
    DiskModel,
    DiskScan,
    FitTarget,
    fit_targets,
    scan_disk,
)
from steward.hardware.fit import FitLabel, MemoryBudget, estimate_fit
from steward.hardware.gguf_meta import spec_from_gguf
from steward.hardware.gpu import GIB, GpuInfo, GpuVendor
from steward.hardware.model_roots import ModelRoot, Source, known_roots
from steward.hardware.spec import ModelSpec
from steward.servers.embedded import find_model
from steward.service.disk_models import serve_choice, unique_name

CPU = [FitTarget("CPU RAM (8 GiB)", MemoryBudget(gpu_bytes=0, ram_bytes=8 * GIB))]
OLLAMA_BLOB = "ab" * 32


class CountingReader:
    """spec_from_gguf, counting the files whose metadata is read."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def __call__(self, path: Path) -> ModelSpec:
        self.paths.append(path)
        return spec_from_gguf(path)


def _ollama(models: Path, name: str, tag: str, blob_hex: str, namespace: str = "library") -> None:
    blob = models / "blobs" / f"sha256-{blob_hex}"
    if not blob.exists():
        write_gguf(blob, name=name)
    manifest = models / "manifests" / "registry.ollama.ai" / namespace / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    layers = [
        {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{blob_hex}", "size": 1},
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "cd" * 32, "size": 1},
    ]
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home folder holding every known layout, with a few files that are not models."""
    h = tmp_path / "home"
    write_gguf(h / ".lmstudio/models/bartowski/Qwen-GGUF/Qwen2.5-0.5B-Q4_K_M.gguf", name="qwen")
    write_gguf(h / ".lmstudio/models/bartowski/Qwen-GGUF/vision-f16.gguf", arch="clip")  # by metadata
    write_gguf(h / ".cache/llama.cpp/ggml-org_SmolVLM_SmolVLM-Q8_0.gguf", context=2048)
    write_gguf(h / ".cache/llama.cpp/mmproj-SmolVLM-f16.gguf", arch="clip")
    repo = h / ".cache/huggingface/hub/models--unsloth--Phi-4-GGUF"
    write_gguf(repo / "blobs" / ("ef" * 32), context=16384)
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "phi-4-Q4_K_M.gguf").symlink_to(Path("../../blobs") / ("ef" * 32))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    jan = h / ".local/share/Jan/data/llamacpp/models/gemma-3-1b"
    write_gguf(jan / "model.gguf", arch="gemma3")
    write_gguf(jan / "mmproj.gguf", arch="clip")
    _ollama(h / ".ollama/models", "qwen2.5", "7b", OLLAMA_BLOB)
    _ollama(h / ".ollama/models", "qwen2.5", "latest", OLLAMA_BLOB)
    _ollama(h / ".ollama/models", "mymodel", "v1", "12" * 32, namespace="someone")
    write_gguf(h / "steward/models/own-model.gguf")
    mine = tmp_path / "mine"
    write_gguf(mine / "big-00001-of-00002.gguf", elements=4096)
    write_gguf(mine / "big-00002-of-00002.gguf", elements=8192)
    write_gguf(mine / "ggml-vocab-llama-bpe.gguf", tensors=False)
    write_gguf(mine / "tokenizer-only.gguf", tensors=False)  # vocabulary only, by metadata
    return h


def _roots(home: Path, *folders: Path) -> list[ModelRoot]:
    env = {"HOME": str(home)}
    return known_roots([home / "steward/models"], None, [str(f) for f in folders], env)


def _scan(roots: list[ModelRoot], cache: Path, reader: CountingReader | None = None) -> DiskScan:
    return scan_disk(roots, SpecCache(cache).load(), CPU, read_spec=reader or CountingReader())


def test_every_known_layout_is_found_with_its_metadata_and_not_models_are_left_out(
    home: Path, tmp_path: Path
) -> None:
    scan = _scan(_roots(home, tmp_path / "mine"), tmp_path / "cache.json")
    found = {m.name: m for m in scan.models}
    assert {name: m.source for name, m in found.items()} == {
        "own-model": Source.STEWARD,
        "qwen2.5:7b": Source.OLLAMA,
        "someone/mymodel:v1": Source.OLLAMA,
        "phi-4-Q4_K_M": Source.HUGGING_FACE,
        "ggml-org_SmolVLM_SmolVLM-Q8_0": Source.LLAMA_CPP,
        "Qwen2.5-0.5B-Q4_K_M": Source.LM_STUDIO,
        "gemma-3-1b": Source.JAN,  # "model.gguf" takes its folder's name
        "big": Source.USER,  # the split model once, by its first part
    }
    assert found["qwen2.5:7b"].also_named == ("qwen2.5:latest",)  # one blob, two tags
    assert found["qwen2.5:7b"].path.endswith(f"blobs/sha256-{OLLAMA_BLOB}")
    phi = found["phi-4-Q4_K_M"]
    assert phi.path.endswith("snapshots/0123abcd/phi-4-Q4_K_M.gguf")  # served through the snapshot link
    assert (phi.architecture, phi.trained_context, phi.quant) == ("llama", 16384, "F16")
    assert found["gemma-3-1b"].architecture == "gemma3"
    big = found["big"]
    parts = sorted((tmp_path / "mine").glob("big-*"))
    assert big.parts == 2 and big.size_bytes == sum(p.stat().st_size for p in parts)
    assert big.parameters == int(4096 * big.size_bytes / parts[0].stat().st_size)  # scaled by size
    # Both fit a 8 GiB CPU budget with their whole (small) trained context.
    assert found["own-model"].fits == (ContextFit("CPU RAM (8 GiB)", 4096, "cpu"),)
    assert found["own-model"].fit_text == "fits with 4k context"


def test_a_rescan_reads_only_new_or_changed_files(home: Path, tmp_path: Path) -> None:
    roots, cache = _roots(home), tmp_path / "cache.json"
    first = CountingReader()
    scan = _scan(roots, cache, first)
    assert scan.read == len(first.paths) == 8 and scan.cached == 0  # 7 models + the unnamed projector
    again = CountingReader()
    scan = _scan(roots, cache, again)
    assert again.paths == [] and scan.read == 0 and scan.cached == 8
    assert len(scan.models) == 7
    changed = home / ".lmstudio/models/bartowski/Qwen-GGUF/Qwen2.5-0.5B-Q4_K_M.gguf"
    write_gguf(changed, context=32768)
    os.utime(changed, ns=(1, 1))
    write_gguf(home / "steward/models/new.gguf")
    third = CountingReader()
    scan = _scan(roots, cache, third)
    assert sorted(p.name for p in third.paths) == ["Qwen2.5-0.5B-Q4_K_M.gguf", "new.gguf"]
    assert {m.name: m.trained_context for m in scan.models}["Qwen2.5-0.5B-Q4_K_M"] == 32768


def test_symlinks_out_of_a_root_are_skipped_and_said(tmp_path: Path) -> None:
    outside = write_gguf(tmp_path / "elsewhere/secret.gguf")
    write_gguf(tmp_path / "elsewhere/dir/deep.gguf")
    root = tmp_path / "root"
    write_gguf(root / "inside.gguf")
    (root / "link-to-file.gguf").symlink_to(outside)
    (root / "link-to-dir").symlink_to(tmp_path / "elsewhere/dir")
    (root / "sub").mkdir()
    (root / "sub/link-inside.gguf").symlink_to(root / "inside.gguf")  # inside: followed, same file
    reader = CountingReader()
    scan = _scan([ModelRoot(Source.USER, root)], tmp_path / "cache.json", reader)
    assert [m.name for m in scan.models] == ["inside"]
    assert [p.name for p in reader.paths] == ["inside.gguf"]
    notes = scan.roots[0].notes
    assert any("link-to-file.gguf: skipped, a link out of" in n for n in notes)
    assert any("link-to-dir: skipped, a link out of" in n for n in notes)


def test_the_walk_is_bounded_by_depth_and_file_count(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_gguf(root / "a/b/c/deep.gguf")
    for number in range(3):
        write_gguf(root / f"m{number}.gguf")
    shallow = scan_disk([ModelRoot(Source.USER, root, max_depth=2)], SpecCache(tmp_path / "c").load(), CPU)
    assert sorted(m.name for m in shallow.models) == ["m0", "m1", "m2"]
    capped = scan_disk([ModelRoot(Source.USER, root)], SpecCache(tmp_path / "c").load(), CPU, max_files=2)
    assert len(capped.models) == 2 and "stopped after 2 model files" in capped.roots[0].notes


def test_a_corrupt_file_is_listed_with_its_error_and_the_scan_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_gguf(root / "good.gguf")
    (root / "broken.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    (root / "empty.gguf").write_bytes(b"")
    scan = _scan([ModelRoot(Source.USER, root)], tmp_path / "cache.json")
    by_name = {m.name: m for m in scan.models}
    assert by_name["good"].error is None and by_name["good"].fits[0].context == 4096
    for name in ("broken", "empty"):
        assert by_name[name].error and "not a readable GGUF file" in by_name[name].error
        assert by_name[name].fit_text == "unreadable" and by_name[name].fits == ()


def test_a_corrupt_cache_is_backed_up_and_rebuilt(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_gguf(root / "good.gguf")
    cache = tmp_path / "data" / "disk_models.json"
    cache.parent.mkdir()
    cache.write_text('{"version": 1, "entries": {"/x": {"mtime_ns": "not a number"')
    scan = _scan([ModelRoot(Source.USER, root)], cache)
    assert [m.name for m in scan.models] == ["good"] and scan.read == 1
    backups = list(cache.parent.glob("disk_models.json.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text().startswith('{"version": 1, "entries": {"/x"')
    assert any("corrupt" in note for note in scan.notes)
    assert json.loads(cache.read_text())["version"] == 1  # rebuilt, and used by the next scan
    assert _scan([ModelRoot(Source.USER, root)], cache).cached == 1


def test_the_largest_context_on_a_gpu_counts_full_offloads_only() -> None:
    spec = ModelSpec("m", 7_000_000_000, layers=32, kv_heads=8, head_dim=128, trained_context=131072)
    gpu = MemoryBudget(gpu_bytes=6 * GIB, ram_bytes=64 * GIB)
    on_gpu = max_fitting_context(spec, gpu, full_gpu=True)
    assert 0 < on_gpu < max_fitting_context(spec, gpu)  # partial offload and the RAM hold more
    assert estimate_fit(spec, on_gpu, gpu).label is FitLabel.FULL_GPU
    assert estimate_fit(spec, on_gpu + 256, gpu).label is not FitLabel.FULL_GPU


def test_the_real_smollm2_and_gemma_files(tmp_path: Path) -> None:
    smollm2, gemma = find_model(), gemma_path()
    assert smollm2 is not None
    roots = [ModelRoot(Source.STEWARD, gemma.parent, 0), ModelRoot(Source.STEWARD, smollm2.parent, 0)]
    scan = _scan(roots, tmp_path / "cache.json")
    by_arch = {m.architecture: m for m in scan.models}
    small, base = by_arch["llama"], by_arch["gemma3"]
    assert (small.trained_context, small.quant, small.size_bytes) == (8192, "Q4_1", smollm2.stat().st_size)
    assert (base.trained_context, base.quant) == (32768, "Q4_K_M")
    assert 130e6 < (small.parameters or 0) < 140e6 and 260e6 < (base.parameters or 0) < 280e6
    assert small.fit_text == "fits with 8k context" and base.fit_text == "fits with 32k context"
    again = _scan(roots, tmp_path / "cache.json")
    assert again.read == 0 and again.models == scan.models  # the cache gives back the same specs


def test_an_unfitting_model_says_wont_fit() -> None:
    row = DiskModel("huge", "Ollama", "/x", 1, fits=(ContextFit("CPU RAM", 0),))
    assert row.best is None and row.fit_text == "won't fit"
    gpu = DiskModel("m", "Ollama", "/x", 1, fits=(ContextFit("CPU", 8192), ContextFit("GPU 0", 8192, "gpu")))
    assert gpu.best is not None and gpu.best.target == "GPU 0" and gpu.fit_text.endswith("on GPU 0")


def test_model_folders_setting_is_validated() -> None:
    assert Settings().with_changes({"discovery.model_folders": ["~/models", "/data"]}).discovery.model_folders
    with pytest.raises(SettingsError, match="absolute folder path"):
        Settings().with_changes({"discovery.model_folders": ["relative/models"]})
    with pytest.raises(SettingsError, match="more than once"):
        Settings().with_changes({"discovery.model_folders": ["/data", "/data/"]})


def test_steward_models_disk_lists_them_headless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from steward.cli import main

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "home/.ollama/models"))
    monkeypatch.setenv("STEWARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("STEWARD_EMBEDDED_MODEL", str(write_gguf(tmp_path / "bundled/bundled.gguf")))
    for variable in (
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "LLAMA_CACHE",
        "HF_HOME",
        "HF_HUB_CACHE",
    ):
        monkeypatch.delenv(variable, raising=False)
    write_gguf(tmp_path / "home/.lmstudio/models/pub/m/lm-Q8_0.gguf", context=2048)
    assert main(["models", "--disk", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {(m["name"], m["source"], m["fit"]) for m in data["models"]} == {
        ("bundled", "Steward", "fits with 4k context"),
        ("lm-Q8_0", "LM Studio", "fits with 2k context"),
    }
    assert main(["models", "--disk"]) == 0
    text = capsys.readouterr().out
    assert "lm-Q8_0" in text and "LM Studio" in text and "0 file(s) read, 2 from the cache" in text


def _machine(*gpus: GpuInfo, system: str = "Linux", machine: str = "x86_64") -> HardwareInfo:
    memory = MemoryInfo(32 * GIB, 30 * GIB, 0, 0)
    return HardwareInfo(PlatformInfo(system, machine), CpuInfo("cpu", 8, 16, ()), memory, gpus)


def test_fit_targets_are_the_ram_and_each_gpu_or_the_unified_memory() -> None:
    small = GpuInfo(GpuVendor.NVIDIA, "RTX 3060", index=0, memory_total=12 * GIB)
    big = GpuInfo(GpuVendor.NVIDIA, "RTX 4090", index=1, memory_total=24 * GIB)
    targets = fit_targets(_machine(small, big))
    assert [(t.label, t.kind) for t in targets] == [
        ("CPU RAM (27.2 GiB)", "cpu"),
        ("GPU 0 (RTX 3060, 12.0 GiB)", "gpu"),
        ("GPU 1 (RTX 4090, 24.0 GiB)", "gpu"),
    ]
    assert targets[0].budget.gpu_bytes == 0 and targets[2].budget.gpu_bytes == int(24 * GIB * 0.95)
    spec = ModelSpec("m", 14_000_000_000, layers=48, kv_heads=8, head_dim=128, trained_context=131072)
    cpu, gpu0, gpu1 = (max_fitting_context(spec, t.budget, full_gpu=t.full_gpu) for t in targets)
    assert 0 < gpu0 < gpu1 < cpu  # a bigger card holds a longer context whole; the RAM the longest
    apple = fit_targets(_machine(apple_unified_gpu(MemoryInfo(32 * GIB, 30 * GIB, 0, 0)), system="Darwin"))
    assert [t.kind for t in apple] == ["unified"] and apple[0].budget.unified


def test_serve_takes_the_largest_fitting_context_capped_at_32k_and_says_why() -> None:
    def row(trained: int, *fits: ContextFit) -> DiskModel:
        return DiskModel("m", "LM Studio", "/m.gguf", 1, trained_context=trained, fits=fits)

    assert serve_choice(row(8192, ContextFit("CPU RAM (20 GiB)", 8192))) == (
        8192,
        0,
        "context 8,192 tokens in CPU RAM (20 GiB): its whole trained context fits",
    )
    context, layers, why = serve_choice(
        row(131072, ContextFit("CPU RAM", 50_000), ContextFit("GPU 0", 20_480, "gpu"))
    )  # type: ignore[misc]
    assert (context, layers) == (32768, 0) and why.endswith(
        "capped at 32k (more fits, but few chats need it)"
    )
    assert serve_choice(row(131072, ContextFit("CPU RAM", 2048), ContextFit("GPU 0", 12_288, "gpu")))[:2] == (
        12288,
        999,
    )
    assert (
        serve_choice(row(4096, ContextFit("CPU RAM", 0)))
        == "m won't fit this machine, not even with a 256-token context"
    )
    broken = DiskModel("b", "Steward", "/b.gguf", 1, error="not a readable GGUF file")
    assert serve_choice(broken) == "b cannot be read: not a readable GGUF file"


def test_served_servers_get_a_valid_unused_name() -> None:
    assert unique_name("qwen2.5:7b", set()) == "qwen2.5-7b"
    assert unique_name("hf.co/bartowski/Llama 3 8B:Q4_K_M", set()) == "hf.co-bartowski-Llama-3-8B-Q4_K_M"
    assert unique_name("qwen2.5:7b", {"qwen2.5-7b", "qwen2.5-7b-2"}) == "qwen2.5-7b-3"
    assert unique_name("::", set()) == "model"
    long = unique_name("x" * 200, set())
    assert len(long) == 48
    Settings().with_changes({"servers": [{"name": long}]})  # accepted as a profile name
