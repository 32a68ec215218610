"""A run's records: atomic files, checkpoints read as data, provenance, sweep summaries, and whether a
saved run (or a line of search.py's trials) may be reused by a sweep.

Every record says where it came from (`provenance`): the model file's and the training code's hashes,
the git commit, torch, the device and, on a CPU, its type, and the thread count. The same seed gives
the same numbers only when all of these but the commit are the same, so a sweep reuses a saved run
only then.
"""
import ast
import functools
import hashlib
import json
import os
import platform
import socket
import statistics
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from trainer.engine import UserError
from trainer.paths import ROOT
from trainer.recipe import RecipeError, complete
from trainer.types import MachineLoad, Provenance, RunRecord, TrialLine
from trainer.verdict import LAST_EPOCHS, min_last

# The files whose code decides a run's numbers, beside the model file.
TRAINING_CODE = ("trainer/engine.py", "data.py", "trainer/recipe.py")
# The committed evidence, which report.py renders: a run or trial goes there only when --record asks.
RESULTS = ROOT / "results"


class CheckpointError(UserError):
    """A checkpoint that cannot be used: unreadable, finished, or written for another model."""


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> None:
    """write(temporary path), then os.replace: a crash mid-write leaves the old file whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_atomic(obj: object, path: str | Path) -> None:
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


def write_json(obj: object, path: str | Path) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))


def load_checkpoint(path: str | Path, model_name: str | None = None) -> dict[str, Any]:
    """Read a file written by train.py (weights only: a checkpoint is data, never code)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as err:  # torch's own text would suggest weights_only=False: never for a file we are handed
        raise CheckpointError(f"{path}: not a readable checkpoint written by train.py "
                              f"({type(err).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_state" not in ckpt:
        raise CheckpointError(f"{path}: not a checkpoint written by train.py (no model name and weights)")
    if model_name and ckpt["model"] != model_name:
        raise CheckpointError(f"{path} holds {ckpt['model']} weights, not {model_name}")
    return ckpt


def sha256(*paths: str | Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def model_sha256(path: str | Path) -> str:
    """A model file's hash without its module docstring: report.py rewrites the docstring's Result after a
    sweep, which changes no number, so a sweep run again still reuses its finished runs."""
    text = Path(path).read_text()
    try:
        body = ast.parse(text).body
    except SyntaxError:
        body = []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
            isinstance(body[0].value.value, str):
        text = "".join(text.splitlines(keepends=True)[body[0].end_lineno:])
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout holding the code; (None, None) outside one or without git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        # Untracked files (a run's own outputs, say) leave the code as committed: only changes to tracked files count.
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None, None
    if commit.returncode or status.returncode:
        return None, None
    return commit.stdout.strip(), bool(status.stdout.strip())


@functools.cache
def cpu_model() -> str:
    """The CPU's model as the OS tells it: name, family and model ('AMD EPYC, family 25, model 17'). Two
    CPUs sold under one name (a Zen 3 and a Zen 4 'AMD EPYC') differ in family or model."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    return f"{fields.get('model name', platform.machine())}, family {fields.get('cpu family', '?')}, " \
           f"model {fields.get('model', '?')}"


@functools.cache
def device_name(device: torch.device) -> str:
    """The GPU's or CPU's model, not just its type: runs on other hardware give other numbers."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()


@functools.cache
def code_sha256() -> str:
    """The hash of the training code, read once: the code this process runs, even if the files change."""
    return sha256(*(ROOT / name for name in TRAINING_CODE))


def provenance(model_file: str | Path | None, device: torch.device) -> Provenance:
    """Where a run comes from, recorded in its metrics, checkpoints and sweep summary. A net without a
    model file (the search's) has no file hash; a model file's leaves out its docstring. cpu_capability:
    the vector instructions torch's CPU kernels use (AVX2, AVX512, ...), which change a CPU run's last
    bits. node: the machine's name, since a cluster's machines may differ."""
    commit, dirty = git_state()
    return {"node": socket.gethostname(), "model_sha256": model_sha256(model_file) if model_file else None,
            "code_sha256": code_sha256(),
            "git_commit": commit, "git_dirty": dirty, "torch": str(torch.__version__),  # plain str: weights_only
            "device": device.type, "device_name": device_name(device),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


# What a saved run must share with the one asked for to be reused (beside its seed and recipe), and
# what the console says when it does not.
SAME_EXPERIMENT = (("model_sha256", "the model file changed"),
                   ("code_sha256", f"the training code ({', '.join(TRAINING_CODE)}) changed"),
                   ("torch", "torch changed"), ("device", "the device changed"),
                   ("device_name", "the device changed"), ("cpu_capability", "the CPU's vector instructions changed"),
                   ("threads", "the thread count changed"))


def saved_run_differs(saved: Mapping[str, Any], recipe: Mapping[str, Any], seed: int,
                      expected: Mapping[str, Any]) -> str | None:
    """Why a saved run (metrics.json or checkpoint.pt) is not the experiment asked for; None if it is."""
    if saved.get("dry_run"):
        return "it was a dry run"
    if "provenance" not in saved:
        return "it records no provenance (written by an older train.py)"
    try:
        same_recipe = complete(saved.get("recipe", {})) == complete(recipe)
    except RecipeError:  # written under another schema
        same_recipe = False
    if saved.get("seed") != seed or not same_recipe:
        return "its recipe differs"
    for key, what in SAME_EXPERIMENT:
        old, new = saved["provenance"].get(key), expected[key]
        if old != new:
            return f"{what} (sha256 {(old or '')[:12]}, now {(new or '')[:12]})" if key.endswith("sha256") else \
                f"{what} ({old}, now {new})"
    return None


def trial_differs(line: TrialLine, spec: str, recipe: Mapping[str, Any], seed: int,
                  expected: Mapping[str, Any]) -> str | None:
    """Why a line of search.py's results is not the trial asked for, by the rules of saved_run_differs; the
    spec and the code that builds it (specnets.py, whose hash is the line's model_sha256) stand for a model
    file. None if it is the same trial."""
    missing = [key for key, _ in SAME_EXPERIMENT if key not in line]
    if missing:
        return f"it records no {', '.join(missing)} (an older search.py wrote it)"
    if line.get("spec") != spec:
        return f"its net differs ({line.get('spec')}, now {spec})"
    if line["model_sha256"] != expected["model_sha256"]:
        return f"specnets.py changed (sha256 {(line['model_sha256'] or '')[:12]}, " \
               f"now {expected['model_sha256'][:12]})"
    return saved_run_differs({"seed": line.get("seed"), "recipe": line.get("recipe", {}), "provenance": line},
                             recipe, seed, expected)


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


def machine_load() -> MachineLoad | None:
    """The 1-, 5- and 15-minute load averages and the core count: what else ran beside a run, whose
    seconds it shares; None where the OS does not tell."""
    try:
        return {"load": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count()}
    except (AttributeError, OSError):
        return None


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


def load_trials(path: str | Path) -> list[dict[str, Any]]:
    """search.py's results, one dict per run; none if the file is absent. A line cut short (a crash while
    it was written) is skipped with a line saying so: that run is simply run again."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            rows.append(json.loads(line)) if line.strip() else None
        except ValueError:
            print(f"{path}, line {number}: not a whole result, skipped")
    return rows
