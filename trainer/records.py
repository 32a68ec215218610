"""A run's record: its metrics.json, read back; whether a seed's folder holds a run a sweep may reuse or
continue; the last epoch's errors; and a sweep's summary.

    from trainer.records import finished_record, summary_of
    record = finished_record("runs/model3-seed1")     # None unless the run finished
"""
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from trainer.checkpoints import CheckpointError, load_checkpoint
from trainer.paths import ROOT
from trainer.provenance import saved_run_differs
from trainer.types import Provenance, RunRecord
from trainer.verdict import LAST_EPOCHS, min_last

# The committed evidence, which the reports render: a run or trial goes there only when --record asks.
RESULTS = ROOT / "results"


def evidence_path(name: str, device: torch.device, suffix: str = "") -> Path:
    """Where --record keeps a device's runs (results/runs) or trials (results/search.jsonl): a GPU's
    apart from the CPU's (results/runs-cuda), since their numbers differ."""
    return RESULTS / f"{name}{'' if device.type == 'cpu' else '-' + device.type}{suffix}"



def finished_record(run_dir: str | Path) -> RunRecord | None:
    """A run's metrics.json if it finished (its verdict written), else None."""
    try:
        record = json.loads((Path(run_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    return record if "target_met" in record else None



@dataclass(frozen=True)
class SavedRun:
    """What a sweep finds in a seed's folder: a finished run of the same experiment, a broken one it can
    continue, or none that it may use."""
    state: Literal["finished", "broken", "none"]
    record: RunRecord | None = None  # "finished": its metrics.json
    checkpoint: dict[str, Any] | None = None  # "broken": its checkpoint.pt, read
    why: str | None = None  # "none": why what is there must train again (None: nothing was there)


def read_saved_run(run_dir: str | Path, name: str, recipe: Mapping[str, Any], seed: int,
                   expected: Provenance) -> SavedRun:
    """What a sweep finds in a seed's folder (see SavedRun)."""
    checkpoint_path = Path(run_dir) / "checkpoint.pt"
    saved = finished_record(run_dir)
    if saved is not None:
        why = saved_run_differs(saved, recipe, seed, expected)
        return SavedRun("finished", record=saved) if why is None else SavedRun("none", why=why)
    if not checkpoint_path.is_file():
        return SavedRun("none")
    try:
        checkpoint = load_checkpoint(checkpoint_path, name)
    except CheckpointError as err:
        return SavedRun("none", why=str(err))
    why = saved_run_differs(checkpoint, recipe, seed, expected)
    return SavedRun("broken", checkpoint=checkpoint) if why is None else SavedRun("none", why=why)



def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, classes: int = 10) -> list[list[int]]:
    """counts[true][predicted] as nested lists."""
    counts = [[0] * classes for _ in range(classes)]
    for true, predicted in zip(labels.tolist(), predictions.tolist()):
        counts[true][predicted] += 1
    return counts



def mistakes(labels: torch.Tensor, predictions: torch.Tensor) -> list[list[int]]:
    """[test index, true, predicted] of every wrong prediction: enough to draw them again from MNIST."""
    wrong = (predictions != labels).nonzero().flatten().tolist()
    return [[i, int(labels[i]), int(predictions[i])] for i in wrong]



def describe_commit(commit: str | None, dirty: bool | None) -> str:
    """'1a2b3c4d5e6f', '1a2b3c4d5e6f+dirty' (uncommitted changes), or 'none' (not a git checkout)."""
    return f"{commit[:12]}{'+dirty' if dirty else ''}" if commit else "none"



def summary_of(name: str, records: Sequence[RunRecord]) -> dict[str, Any]:
    """K/N met, mean +- std of the best and of the lowest of the last epochs, the worst seed, a row per seed."""
    rows: list[dict[str, Any]] = [
        {"seed": r["seed"], "best": max(m["test_accuracy"] for m in r["epochs"]), "min_last": min_last(r["epochs"]),
         "target_met": r["target_met"], "seconds": round(sum(m["seconds"] for m in r["epochs"]), 1),
         "git_commit": r["provenance"]["git_commit"], "git_dirty": r["provenance"]["git_dirty"]}
        for r in records]
    stats = {}
    for key in ("best", "min_last"):
        values = [row[key] for row in rows]
        stats[key] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    worst = min(rows, key=lambda row: row["min_last"])
    # A sweep's runs share all of this (SAME_EXPERIMENT); only the commit may differ from seed to seed.
    where = {k: v for k, v in records[0]["provenance"].items() if k not in ("git_commit", "git_dirty")}
    return {"model": name, "params": records[0]["params"], "recipe": records[0]["recipe"], "provenance": where,
            "seeds": rows, "best": stats["best"], "min_last": stats["min_last"], "worst_seed": worst["seed"],
            "target_met": sum(row["target_met"] for row in rows), "runs": len(rows)}



def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The console's sweep table: a row per seed, mean and std, K/N, the worst seed, where it ran."""
    rows, best, low, where = summary["seeds"], summary["best"], summary["min_last"], summary["provenance"]
    worst = next(row for row in rows if row["seed"] == summary["worst_seed"])
    lines = [f"\n{summary['model']}: {len(rows)} seeds",
             f"{'seed':>6} {'best %':>8} {f'min last {LAST_EPOCHS} %':>14} {'target':>7} {'seconds':>8}"]
    lines += [f"{row['seed']:>6} {row['best']:>8.2f} {row['min_last']:>14.2f} "
              f"{'met' if row['target_met'] else 'MISSED':>7} {row['seconds']:>8.1f}" for row in rows]
    commits = sorted({describe_commit(row["git_commit"], row["git_dirty"]) for row in rows})
    model_hash = (where["model_sha256"] or "none")[:12]
    lines += [f"{'mean':>6} {best['mean']:>8.2f} {low['mean']:>14.2f}",
              f"{'std':>6} {best['std']:>8.2f} {low['std']:>14.2f}",
              (f"target met on {summary['target_met']}/{len(rows)} seeds; lowest of the last {LAST_EPOCHS} epochs "
              f"{low['mean']:.3f} +- {low['std']:.3f}, worst seed {worst['seed']} ({worst['min_last']:.2f})"),
              (f"{where['device']} ({where['device_name']}), {where['threads']} thread{'s' * (where['threads'] != 1)}, "
              f"torch {where['torch']}; "
              f"{summary['model']}.py sha256 {model_hash}; commit {', '.join(commits)}")]
    return lines
