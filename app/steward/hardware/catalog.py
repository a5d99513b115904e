"""The shipped model catalog (`steward.resources/catalog.json`): popular local models as data.

Parsed into frozen records; `validate_catalog` lists every schema or sanity problem
(duplicate ids/tags, implausible bytes per weight) so a bad edit is caught by tests,
and `load_catalog` refuses a catalog with problems. `match_installed` maps names a
server reports (Ollama tags, GGUF file names) onto catalog entries, loosely.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from steward.hardware.spec import BYTES_PER_WEIGHT, ModelSpec

CAPABILITIES = frozenset({"code", "reasoning", "long_context", "multilingual", "vision", "fast"})
LONG_CONTEXT_MIN = 32768
FAST_MAX_ACTIVE_PARAMS = 4_500_000_000
# File size ÷ (parameters × nominal bytes per weight): small models keep big embeddings at
# higher precision and vision models bundle a projector, so allow generous bounds.
SIZE_RATIO_BOUNDS = (0.7, 1.6)
QUANT_PREFERENCE = ("Q4_K_M", "Q4_0", "Q4_1", "Q5_K_M", "Q8_0", "F16")


@dataclass(frozen=True)
class CatalogModel:
    id: str
    name: str
    family: str
    parameters: int
    active_parameters: int | None
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    embedding: int
    vocab: int
    trained_context: int
    quants: Mapping[str, int]
    capabilities: frozenset[str]
    ollama: tuple[str, ...]
    aliases: tuple[str, ...]
    sliding_window: int | None = None  # Gemma 2/3: tokens their sliding-window layers attend to

    def default_quant(self) -> str:
        """The quant people usually run (Q4_K_M when listed)."""
        return next((q for q in QUANT_PREFERENCE if q in self.quants), next(iter(self.quants)))

    def spec(self, quant: str | None = None) -> ModelSpec:
        """A fit-estimate spec of this model at `quant` (default quant when None)."""
        q = quant or self.default_quant()
        return ModelSpec(
            name=self.id,
            parameter_count=self.parameters,
            layers=self.layers,
            kv_heads=self.kv_heads,
            head_dim=self.head_dim,
            quantization=q,
            heads=self.heads,
            embedding_length=self.embedding,
            trained_context=self.trained_context,
            vocab_size=self.vocab,
            weights_bytes=self.quants.get(q),
            active_parameter_count=self.active_parameters,
            architecture=self.family,
            sliding_window=self.sliding_window,
        )


def _problems_of(entry: Mapping[str, Any]) -> list[str]:
    mid = entry.get("id", "?")
    problems: list[str] = []
    for key in ("id", "name", "family"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            problems.append(f"{mid}: missing {key}")
    params = entry.get("parameters")
    if not isinstance(params, int) or not 10_000_000 <= params <= 2_000_000_000_000:
        problems.append(f"{mid}: implausible parameters {params!r}")
        return problems
    active = entry.get("active_parameters")
    if active is not None and (not isinstance(active, int) or not 0 < active < params):
        problems.append(f"{mid}: active_parameters must be below parameters")
    arch = entry.get("architecture") or {}
    for key in ("layers", "heads", "kv_heads", "head_dim", "embedding", "vocab"):
        if not isinstance(arch.get(key), int) or arch[key] <= 0:
            problems.append(f"{mid}: architecture.{key} missing")
    if not problems and (arch["heads"] % arch["kv_heads"] or arch["kv_heads"] > arch["heads"]):
        problems.append(f"{mid}: kv_heads must divide heads")
    ctx = entry.get("trained_context")
    if not isinstance(ctx, int) or not 512 <= ctx <= 10_000_000:
        problems.append(f"{mid}: implausible trained_context {ctx!r}")
    quants = entry.get("quants") or {}
    if not quants:
        problems.append(f"{mid}: no quants")
    for quant, size in quants.items():
        if quant not in BYTES_PER_WEIGHT:
            problems.append(f"{mid}: unknown quant {quant}")
            continue
        ratio = size / (params * BYTES_PER_WEIGHT[quant]) if isinstance(size, int) else -1
        if not SIZE_RATIO_BOUNDS[0] <= ratio <= SIZE_RATIO_BOUNDS[1]:
            problems.append(f"{mid}: {quant} size {size!r} implausible for {params} parameters")
    caps = set(entry.get("capabilities") or [])
    if caps - CAPABILITIES:
        problems.append(f"{mid}: unknown capabilities {sorted(caps - CAPABILITIES)}")
    if "long_context" in caps and isinstance(ctx, int) and ctx < LONG_CONTEXT_MIN:
        problems.append(f"{mid}: long_context with a {ctx}-token window")
    if "fast" in caps and (active or params) > FAST_MAX_ACTIVE_PARAMS:
        problems.append(f"{mid}: 'fast' needs at most {FAST_MAX_ACTIVE_PARAMS} active parameters")
    return problems


def validate_catalog(doc: Mapping[str, Any]) -> list[str]:
    """Every problem in a catalog document (empty list = valid)."""
    models = doc.get("models")
    if doc.get("schema_version") != 1 or not isinstance(models, list):
        return ["catalog needs schema_version 1 and a models list"]
    problems: list[str] = []
    seen_ids: set[str] = set()
    seen_tags: dict[str, str] = {}
    for entry in models:
        problems += _problems_of(entry)
        mid = entry.get("id", "?")
        if mid in seen_ids:
            problems.append(f"duplicate id {mid}")
        seen_ids.add(mid)
        for tag in [*entry.get("ollama", []), *entry.get("aliases", [])]:
            key = tag.lower()
            if key in seen_tags and seen_tags[key] != mid:
                problems.append(f"tag/alias {tag} used by {seen_tags[key]} and {mid}")
            seen_tags[key] = mid
    return problems


def parse_catalog(doc: Mapping[str, Any]) -> tuple[CatalogModel, ...]:
    """Catalog records from a document; `ValueError` listing the problems if it is invalid."""
    problems = validate_catalog(doc)
    if problems:
        raise ValueError("invalid model catalog: " + "; ".join(problems))
    models = []
    for e in doc["models"]:
        a = e["architecture"]
        models.append(
            CatalogModel(
                id=e["id"],
                name=e["name"],
                family=e["family"],
                parameters=e["parameters"],
                active_parameters=e.get("active_parameters"),
                layers=a["layers"],
                heads=a["heads"],
                kv_heads=a["kv_heads"],
                head_dim=a["head_dim"],
                embedding=a["embedding"],
                vocab=a["vocab"],
                trained_context=e["trained_context"],
                quants=dict(e["quants"]),
                capabilities=frozenset(e.get("capabilities", [])),
                ollama=tuple(e.get("ollama", [])),
                aliases=tuple(e.get("aliases", [])),
                sliding_window=a.get("sliding_window"),
            )
        )
    return tuple(models)


def load_catalog_document() -> dict[str, Any]:
    """The raw shipped catalog JSON."""
    try:
        text = resources.files("steward.resources").joinpath("catalog.json").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        # A source checkout whose install does not map `steward.resources` (see the packaging note).
        source_tree = Path(__file__).resolve().parents[3]
        text = (source_tree / "resources" / "catalog.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def load_catalog() -> tuple[CatalogModel, ...]:
    """The shipped catalog, validated."""
    return parse_catalog(load_catalog_document())


def _normalize(name: str) -> str:
    n = name.strip().lower().replace("\\", "/").rsplit("/", 1)[-1]
    n = n.removesuffix(".gguf").removesuffix(":latest")
    return n.replace("_", "-").replace(" ", "-")


def _match_length(model: CatalogModel, name: str) -> int:
    """How specifically `name` names `model` (0 = not at all); longest match wins."""
    best = 0
    for tag in model.ollama:
        t = tag.lower()
        if name == t or (":" in t and name.startswith(t + "-")):
            best = max(best, len(t) + 1000)  # an Ollama tag beats any file-name alias
    for alias in model.aliases:
        if alias.lower() in name:
            best = max(best, len(alias))
    return best


def match_installed(catalog: Iterable[CatalogModel], installed: Iterable[str]) -> dict[str, str]:
    """Catalog id -> the installed name that is that model (Ollama tag or GGUF file name)."""
    models = list(catalog)
    found: dict[str, str] = {}
    for raw in installed:
        name = _normalize(raw)
        scored = [(_match_length(m, name), m.id) for m in models]
        score, mid = max(scored, default=(0, ""))
        if score > 0:
            found.setdefault(mid, raw)
    return found
