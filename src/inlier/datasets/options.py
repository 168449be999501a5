"""What an export request may ask for, checked in one place for the API, CLI and SDK, and the
small records the reading and the writing share."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from inlier.kit.clock import iso
from inlier.kit.errors import InvalidInput
from inlier.projects.models import Project

KINDS = ("raw", "sft", "preference", "kto", "ranking", "ratings", "stepwise")
FORMATS = ("jsonl", "csv", "parquet", "hf")
FORMS = ("conversational", "standard")
STATUSES = ("all", "submitted", "approved")
GOLD = ("include", "exclude")
PARTS = ("train", "test")
BOOLS = {"true": True, "1": True, "false": False, "0": False}
#: Every query parameter the export understands; any other name is a typo we refuse.
PARAMS = (
    "format",
    "kind",
    "status",
    "form",
    "submitted_from",
    "submitted_to",
    "gold",
    "split",
    "seed",
    "part",
    "neutral_as",
    "rewrites",
    "aggregate",
    "min_agreement",
)
#: Kinds with one row per item when ``aggregate=true``.
AGGREGATE_KINDS = ("raw", "ratings", "ranking", "preference")


def pseudonym(project: Project, user_id: int | None) -> str | None:
    """Stable per project, unlinkable across projects."""
    if user_id is None:
        return None
    return _pseudonym(project.pseudonym_salt, user_id)


@functools.lru_cache(maxsize=65536)
def _pseudonym(salt: str, user_id: int) -> str:
    # Exports name the same few people on every row: each is hashed once.
    return "c_" + hashlib.sha256(f"{salt}:{user_id}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ExportOptions:
    """A checked export request. Defaults depend on the kind: ``raw`` keeps everything (every
    attempt, gold items too); trainer kinds keep attempts not rejected and leave gold out."""

    kind: str = "raw"
    format: str = "jsonl"
    form: str = "conversational"
    status: str = "all"
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    gold: str = "include"
    split: float | None = None
    seed: int = 0
    part: str | None = None
    neutral_as: bool = True
    rewrites: bool = False
    aggregate: bool = False
    min_agreement: float | None = None

    def filters(self) -> dict[str, Any]:
        """What selected the rows, as the dataset card and the CLI report it."""
        out: dict[str, Any] = {"status": self.status, "gold": self.gold}
        if self.submitted_from is not None:
            out["submitted_from"] = iso(self.submitted_from)
        if self.submitted_to is not None:
            out["submitted_to"] = iso(self.submitted_to)
        if self.split is not None:
            out.update(split=self.split, seed=self.seed)
        if self.part is not None:
            out["part"] = self.part
        if self.kind == "stepwise":
            out.update(neutral_as=self.neutral_as, rewrites=self.rewrites)
        if self.aggregate:
            out["aggregate"] = True
        if self.min_agreement is not None:
            out["min_agreement"] = self.min_agreement
        return out


def parse_options(params: Mapping[str, str | None], where: str = "query") -> ExportOptions:
    """Check every parameter and report all that are wrong at once, each by name."""
    errors: list[dict[str, Any]] = []

    def fail(name: str, msg: str) -> None:
        errors.append({"loc": [where, name], "msg": msg})

    def one_of(name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = params.get(name)
        if value is None:
            return default
        if value not in allowed:
            fail(name, f"one of {list(allowed)}")
            return default
        return value

    for name in params:
        if name not in PARAMS:
            fail(name, f"unknown parameter; the export takes {list(PARAMS)}")
    kind = one_of("kind", KINDS, "raw") or "raw"
    trainer = kind != "raw"
    fmt = one_of("format", FORMATS, "jsonl") or "jsonl"
    status = one_of("status", STATUSES, "submitted" if trainer else "all") or "all"
    gold = one_of("gold", GOLD, "exclude" if trainer else "include") or "include"
    form = one_of("form", FORMS, None)
    if kind == "stepwise" and form == "conversational":
        fail("form", "stepwise exports the standard form only")
    part = one_of("part", PARTS, None)

    def flag(name: str, default: bool) -> bool:
        value = params.get(name)
        if value is None:
            return default
        if value.lower() not in BOOLS:
            fail(name, "true or false")
            return default
        return BOOLS[value.lower()]

    def moment(name: str) -> datetime | None:
        value = params.get(name)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            fail(name, "an RFC 3339 time, e.g. 2026-11-16T00:00:00Z")
            return None
        if parsed.tzinfo is not None:  # the database stores naive UTC
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed

    submitted_from, submitted_to = moment("submitted_from"), moment("submitted_to")
    if submitted_from and submitted_to and submitted_from >= submitted_to:
        fail("submitted_to", "must be later than submitted_from")
    split: float | None = None
    if params.get("split") is not None:
        try:
            split = float(params["split"] or "")
        except ValueError:
            split = None
        if split is None or not 0 < split < 1:
            fail("split", "the test fraction, a number between 0 and 1 (exclusive)")
            split = None
    seed = 0
    if params.get("seed") is not None:
        try:
            seed = int(params["seed"] or "")
        except ValueError:
            fail("seed", "an integer")
        else:
            if not 0 <= seed < 2**63:
                fail("seed", "an integer from 0 to 2**63 - 1")
    if part is not None and params.get("split") is None:
        fail("part", "needs split (the test fraction)")
    neutral_as, rewrites = flag("neutral_as", True), flag("rewrites", False)
    aggregate = flag("aggregate", False)
    if aggregate and kind not in AGGREGATE_KINDS:
        fail("aggregate", f"one row per item is for the kinds {list(AGGREGATE_KINDS)}")
    min_agreement: float | None = None
    if params.get("min_agreement") is not None:
        try:
            min_agreement = float(params["min_agreement"] or "")
        except ValueError:
            min_agreement = None
        if min_agreement is None or not 0 <= min_agreement <= 1:
            fail("min_agreement", "the least consensus confidence to keep an item, 0 to 1")
            min_agreement = None
        elif not aggregate:
            fail("min_agreement", "needs aggregate=true")
    if errors:
        names = ", ".join(dict.fromkeys(str(e["loc"][1]) for e in errors))
        raise InvalidInput(f"{names}: {errors[0]['msg']}", errors=errors)
    return ExportOptions(
        kind=kind,
        format=fmt,
        form="standard" if kind == "stepwise" else form or "conversational",
        status=status,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
        gold=gold,
        split=split,
        seed=seed,
        part=part,
        neutral_as=neutral_as,
        rewrites=rewrites,
        aggregate=aggregate,
        min_agreement=min_agreement,
    )


def split_of(item_id: int, fraction: float, seed: int) -> str:
    """``test`` for about ``fraction`` of the items, the same items for the same seed: a hash of
    (seed, item) rather than a random draw, so it needs no state and never splits an item."""
    digest = hashlib.sha256(f"{seed}:{item_id}".encode()).digest()
    return "test" if int.from_bytes(digest[:8], "big") / 2**64 < fraction else "train"


class Attempted(Protocol):
    """An attempt as exports read it: a plain row of the responses table (no ORM object, so
    a million of them cost what their values cost)."""

    id: int
    item_id: int
    user_id: int
    stage: str
    answer: dict[str, Any] | None
    status: str
    created_at: datetime
    active_seconds: int
    generation_ids: list[str] | None


@dataclass(slots=True)
class Review:
    """The review that decided an attempt, as exports read it."""

    user_id: int
    verdict: str | None
    feedback: str | None
    answer: dict[str, Any] | None


@dataclass
class Attempt:
    """One attempt as the kinds see it. ``answer`` is the one the export uses: with
    ``status=approved`` an improved attempt's answer is the reviewer's version."""

    response: Attempted
    external_id: str | None
    data: dict[str, Any]
    review: Review | None
    answer: dict[str, Any]
    split: str | None = None

    @property
    def improved(self) -> dict[str, Any] | None:
        """The reviewer's version, when the review improved the attempt."""
        rv = self.review
        return rv.answer if rv is not None and rv.verdict == "improve" else None


@dataclass
class Tally:
    """What an export read and wrote, for the dataset card and progress reports."""

    responses: int = 0
    rows: int = 0
    by_split: dict[str, int] = field(default_factory=dict)

    def count(self, row: Mapping[str, Any]) -> None:
        self.rows += 1
        if "split" in row:
            self.by_split[row["split"]] = self.by_split.get(row["split"], 0) + 1

    def count_batch(self, rows: int, split: list[str] | None) -> None:
        """``count`` for ``rows`` rows at once, ``split`` their split column if they have one."""
        self.rows += rows
        for part in split or ():
            self.by_split[part] = self.by_split.get(part, 0) + 1
