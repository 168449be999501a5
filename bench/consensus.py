"""Consensus models at volume: wall time and peak memory of each fit, on synthetic data with a
known truth (so the table also says how well each recovers it).

Each model runs in a child process of its own (this script again, with --one), so its peak
RSS (kernel accounting via wait4) is its own: the interpreter, numpy and the arrays. "fit s" is
the wall time of the fit alone (building the data is not counted), "CPU s" its CPU time, which
a busy shared machine inflates less.

- bradley_terry: --comparisons comparisons (default 1,000,000) among --entities entities
  (100,000), pairs drawn at random, outcomes from true scores ~ N(0, 1); one random graph, the
  hard case (per-item pairs, as exports fit them, converge at once).
- bradley_terry_bootstrap: the same with 20 bootstrap refits.
- plackett_luce: 250,000 rankings of 4 among the entities.
- dawid_skene / majority_vote: --labels labels (1,000,000): 200,000 items x 5 workers drawn
  from 1,000 workers whose accuracies run from 0.55 to 0.95, 5 classes.

    .venv/bin/python bench/consensus.py
    .venv/bin/python bench/consensus.py --comparisons 200000 --entities 20000
    .venv/bin/python bench/consensus.py --models bradley_terry,dawid_skene
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _common import PYTHON, conditions, log, run_measured, table

MODELS = (
    "bradley_terry",
    "bradley_terry_bootstrap",
    "plackett_luce",
    "dawid_skene",
    "majority_vote",
)


def pairs(n: int, m: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n)
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n
    a_wins = rng.random(m) < 1 / (1 + np.exp(truth[b] - truth[a]))
    return np.where(a_wins, a, b), np.where(a_wins, b, a), truth


def crowd(n_labels: int, seed: int = 2) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n_items, per_item, n_workers, k = n_labels // 5, 5, 1000, 5
    skill = np.linspace(0.55, 0.95, n_workers)
    truth = rng.integers(0, k, n_items)
    items = np.repeat(np.arange(n_items), per_item)
    workers = rng.integers(0, n_workers, items.size)
    right = rng.random(items.size) < skill[workers]
    wrong = (truth[items] + rng.integers(1, k, items.size)) % k
    return items, workers, np.where(right, truth[items], wrong), truth, skill


def one(name: str, args: argparse.Namespace) -> dict[str, object]:
    from inlier.datasets import consensus as c

    if name.startswith("bradley_terry") or name == "plackett_luce":
        n = args.entities
        if name == "plackett_luce":
            rng = np.random.default_rng(3)
            truth = rng.normal(size=n)
            m = args.comparisons // 4
            sets = rng.integers(0, n, (m, 4))
            # Gumbel trick: sorting scores + Gumbel noise draws a Plackett-Luce ranking.
            order = np.argsort(-(truth[sets] + rng.gumbel(size=sets.shape)), axis=1)
            ranked = np.take_along_axis(sets, order, axis=1)
            start, cpu = time.perf_counter(), time.process_time()
            ch = c.Choices.rankings(n, [[[int(e)] for e in r] for r in ranked])
            fit = c.plackett_luce(ch)
            size = m
        else:
            w, lo, truth = pairs(n, args.comparisons)
            boot = 20 if name.endswith("bootstrap") else 0
            start, cpu = time.perf_counter(), time.process_time()
            fit = c.bradley_terry(n, w, lo, bootstrap=boot, seed=0)
            size = args.comparisons
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        quality = float(np.corrcoef(fit.log_score, truth)[0, 1])
        return {"size": size, "wall": wall, "cpu": cpu, "iterations": fit.iterations,
                "quality": f"corr {quality:.3f}"}  # fmt: skip
    items, workers, labels, truth, skill = crowd(args.labels)
    n_items = int(items.max()) + 1
    start, cpu = time.perf_counter(), time.process_time()
    model = c.dawid_skene if name == "dawid_skene" else c.majority_vote
    fit = model(items, workers, labels, n_items, 1000, 5)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    acc = float((fit.label == truth).mean())
    err = float(np.nanmean(np.abs(fit.accuracy - skill))) if name == "dawid_skene" else None
    quality = f"acc {acc:.3f}" + (f", skill err {err:.3f}" if err is not None else "")
    iterations = getattr(fit, "iterations", 0)
    return {"size": labels.size, "wall": wall, "cpu": cpu, "iterations": iterations,
            "quality": quality}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--comparisons", type=int, default=1_000_000)
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--labels", type=int, default=1_000_000)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    ap.add_argument("--one", choices=MODELS, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args)), file=sys.stderr)
        return 0
    rows = []
    for name in args.models.split(","):
        cmd = [PYTHON, __file__, "--one", name, "--comparisons", str(args.comparisons),
               "--entities", str(args.entities), "--labels", str(args.labels)]  # fmt: skip
        code, _, rss_kib, tail = run_measured(cmd, timeout=1800)
        if code != 0:
            raise RuntimeError(f"{name} failed ({code}):\n{tail}")
        got = json.loads(tail.strip().splitlines()[-1])
        rows.append([name, f"{got['size']:,}", f"{got['wall']:.2f}", f"{got['cpu']:.2f}",
                     got["iterations"],
                     rss_kib // 1024, got["quality"]])  # fmt: skip
        log(f"{name}: {got['wall']:.2f}s, peak {rss_kib // 1024} MiB, {got['quality']}")
    print(conditions())
    print(f"{args.entities:,} entities for comparisons and rankings\n")
    headers = ["model", "observations", "fit s", "CPU s", "iterations", "peak RSS MiB",
               "recovery"]  # fmt: skip
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
