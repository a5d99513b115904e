"""Partial recovery of settings data: leave out only what is invalid, keep and report the rest.

One typo must not cost the user their endpoints. `salvage` validates the data and, for every
error, leaves out the smallest enclosing value that can be left out — the field itself when it
has a default, otherwise its list item or table entry (an endpoint without a valid URL is
dropped as a whole, its neighbours stay) — then validates again, until the rest is valid.
A rule about a whole group or list ("max must not be below base", "ids must be unique") is
pinned to the members that break it: taken in file order, each member that breaks the rule
together with the ones before it is left out (the second of two clashing ids, the later of
two contradicting limits).

Every left-out part becomes a `BadField` naming the field as numbered in the file, a bounded
excerpt of its value, the reason, and what happens instead. The data passed in is not changed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from steward.config.display import ROOT_PATH, format_path, show_value
from steward.config.patch import strip_annotation
from steward.config.settings import Settings
from steward.config.unknown import UnknownKey, find_unknown
from steward.config.validation import describe

Loc = tuple[int | str, ...]

FINE_ROUNDS = 8
"""Rounds in which a broken group or list rule costs only the members breaking it; later rounds
drop the whole group or list, so odd rules still converge quickly."""
MAX_ROUNDS = 24
"""Validation rounds before giving up (each round leaves out at least one part)."""
MAX_CULPRIT_TRIALS = 256
"""Largest group or list searched member by member for the ones breaking its rule."""

_GONE = object()


@dataclass(frozen=True)
class BadField:
    """One invalid setting that was left out: where, what it was, why, and what is used instead."""

    path: str
    value: str | None
    reason: str
    action: str

    def __str__(self) -> str:
        head = self.path if self.value is None else f"{self.path} = {self.value}"
        return f"{head}: {self.reason}; {self.action}"


@dataclass(frozen=True)
class Salvage:
    """What `salvage` kept (`settings`), what it left out, and the unknown keys it kept."""

    settings: Settings
    invalid: list[BadField] = field(default_factory=list)
    unknown: list[UnknownKey] = field(default_factory=list)


def salvage(data: Mapping[str, Any]) -> Salvage:
    """Valid `Settings` from `data`, leaving out (and reporting) only the invalid parts.

    Never raises a validation error; a validator crashing on odd input still propagates (the
    caller treats that as an unreadable file).
    """
    work = _Work(copy.deepcopy(dict(data)))
    invalid: list[BadField] = []
    for round_number in range(MAX_ROUNDS):
        try:
            settings = Settings.model_validate(work.root)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        else:
            return Salvage(settings, invalid, find_unknown(work.root, work.original_index))
        plans = [plan for err in errors for plan in _plan(work, err, fine=round_number < FINE_ROUNDS)]
        targets = {target for target, _ in plans}
        for target, report in plans:
            # Another error of this round may take the whole enclosing item: say so.
            outer = next((target[:n] for n in range(len(target)) if target[:n] in targets), None)
            if outer is not None:
                report = replace(report, action=_fate(outer, target, work.path(outer)))
            invalid.append(report)
        if not work.drop(list(targets)):
            break
    invalid.append(BadField(ROOT_PATH, None, "could not be repaired field by field", "defaults are used"))
    return Salvage(Settings(), invalid)


def _plan(work: _Work, err: ErrorDetails, *, fine: bool) -> list[tuple[Loc, BadField]]:
    """What to leave out for one error (with `fine`, only the members breaking a group rule)."""
    loc: Loc = tuple(err["loc"])
    reason, shown = describe(err)
    entry = loc[:-1] if loc and loc[-1] == "[key]" else loc  # a bad key: the whole entry goes
    start = entry[:-1] if err["type"] == "missing" else entry
    if fine and err["type"] == "value_error" and entry == loc and isinstance(work.get(loc), dict | list):
        culprits = _culprits(work, loc)
        if culprits:
            return [
                (c, BadField(work.path(c), show_value(work.get(c)), why, _fate(c, c))) for c, why in culprits
            ]
    target = start
    while target and not _droppable(target):
        target = target[:-1]
    return [(target, BadField(work.path(loc), shown, reason, _fate(target, entry, work.path(target))))]


def _culprits(work: _Work, container: Loc) -> list[tuple[Loc, str]]:
    """The members of `container` breaking the rule reported there, each with its own reason.

    Empty when no such members are found.

    Members are added back in file order; one whose addition makes the rule fail is a culprit
    and stays out. Members that cannot be left out (required fields, unknown keys) stay in.
    """
    value = work.get(container)
    if isinstance(value, list):
        members: list[int | str] = list(range(len(value)))
    elif isinstance(value, dict):
        members = list(value)
    else:
        return []
    candidates = [m for m in members if _droppable((*container, m)) and _slot((*container, m))[0] != "extra"]
    if not candidates or len(candidates) > MAX_CULPRIT_TRIALS:
        return []
    kept = [m for m in members if m not in candidates]
    culprits: list[tuple[Loc, str]] = []
    if _breaks(work, container, value, kept) is not None:
        return []  # the rule fails even without any candidate: not a matter of one member
    for member in candidates:
        reason = _breaks(work, container, value, [*kept, member])
        if reason is not None:
            culprits.append(((*container, member), reason))
        else:
            kept.append(member)
    return culprits


def _breaks(
    work: _Work, container: Loc, value: list[Any] | dict[str, Any], members: list[int | str]
) -> str | None:
    """Why the rule at `container` fails with only `members` of it present (None: it holds)."""
    chosen = set(members)
    subset: object
    if isinstance(value, list):
        subset = [item for index, item in enumerate(value) if index in chosen]
    else:
        subset = {key: item for key, item in value.items() if key in chosen}
    try:
        Settings.model_validate(work.replaced(container, subset))
    except ValidationError as exc:
        failed = [e for e in exc.errors(include_url=False) if tuple(e["loc"]) == container]
        return describe(failed[0])[0] if failed else None
    return None


def _fate(target: Loc, reported: Loc, target_path: str = "") -> str:
    """What happens instead of the left-out part, in words."""
    if not target:
        return "the whole file is ignored, defaults are used"
    what = "ignored" if target == reported else f"{target_path} is ignored"
    kind, default = _slot(target)
    if kind != "field":
        return what
    if isinstance(default, BaseModel):
        return f"{what}, its defaults are used"
    if isinstance(default, Enum):
        default = default.value
    return f"{what}, the default ({show_value(default, 40)}) is used"


def _droppable(loc: Loc) -> bool:
    """True when leaving out `loc` keeps its container valid (a default exists, or it is an item)."""
    kind, default = _slot(loc)
    return kind in ("item", "entry", "extra") or (kind == "field" and default is not _GONE)


def _slot(loc: Loc) -> tuple[str, object]:
    """What `loc` is in the model ("field", "item", "entry", "extra" or "other") and its default.

    The default is `_GONE` for required fields and for anything that is not a model field.
    """
    annotation: Any = Settings
    kind = "other"
    default: object = _GONE
    for token in loc:
        plain = strip_annotation(annotation)
        origin = get_origin(plain)
        default = _GONE
        if isinstance(plain, type) and issubclass(plain, BaseModel) and isinstance(token, str):
            info = plain.model_fields.get(token)
            if info is None:
                return "extra", _GONE
            kind, annotation = "field", info.annotation
            if not info.is_required():
                default = info.get_default(call_default_factory=True)
        elif origin is list and isinstance(token, int):
            kind, annotation = "item", get_args(plain)[0]
        elif origin is dict and isinstance(token, str):
            kind, annotation = "entry", get_args(plain)[1]
        else:
            return "other", _GONE
    return kind, default


class _Work:
    """The data being repaired, remembering where each list item sat in the file."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self._origins: dict[int, tuple[list[Any], list[int]]] = {}

    def original_index(self, items: list[Any], index: int) -> int:
        entry = self._origins.get(id(items))
        return entry[1][index] if entry is not None and entry[0] is items else index

    def get(self, loc: Sequence[int | str]) -> object:
        node: object = self.root
        for token in loc:
            node = _child(node, token)
            if node is _GONE:
                break
        return node

    def path(self, loc: Sequence[int | str]) -> str:
        """`loc` (current numbering) as a path in the file's numbering."""
        node: object = self.root
        parts: list[int | str] = []
        for token in loc:
            if isinstance(token, int) and isinstance(node, list) and 0 <= token < len(node):
                parts.append(self.original_index(node, token))
            else:
                parts.append(token)
            node = _child(node, token)
        return format_path(parts)

    def replaced(self, loc: Loc, value: object) -> dict[str, Any]:
        """A root with `value` at `loc`, copying only the containers on the way (for trials)."""
        root = dict(self.root)
        node: Any = root
        for token in loc[:-1]:
            child = node[token]
            copied = list(child) if isinstance(child, list) else dict(child)
            node[token] = copied
            node = copied
        if loc:
            node[loc[-1]] = value
            return root
        assert isinstance(value, dict)
        return value

    def drop(self, targets: Sequence[Loc]) -> bool:
        """Remove every target (an ancestor covers its descendants); False if nothing could go."""
        unique = set(targets)
        if () in unique:
            return False
        chosen = [t for t in unique if not any(t[:n] in unique for n in range(1, len(t)))]
        resolved: list[tuple[Any, int | str]] = []
        for target in chosen:
            parent = self.get(target[:-1])
            if _child(parent, target[-1]) is not _GONE:
                resolved.append((parent, target[-1]))
        # Delete list items from the highest index down so the others keep their positions.
        resolved.sort(key=lambda pair: pair[1] if isinstance(pair[1], int) else -1, reverse=True)
        for parent, key in resolved:
            if isinstance(parent, list):
                assert isinstance(key, int)
                _, origins = self._origins.setdefault(id(parent), (parent, list(range(len(parent)))))
                del parent[key]
                del origins[key]
            else:
                del parent[key]
        return bool(resolved)


def _child(node: object, token: int | str) -> object:
    if isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node):
        return node[token]
    if isinstance(node, dict) and token in node:
        return node[token]
    return _GONE
