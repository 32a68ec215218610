"""The committed runs, read from results/, and the words every generated page states them in.

The runs by experiment and device, an experiment's shown run and its fresh-seed sweeps; and how a page says
them: seeds, K/N and its interval, the hold rate from the margins, a recipe, a run's command and machine, a link.
"""
import functools
import json
import os
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reports.hold_rates import fitted_hold_rate, margin, wilson
from trainer.paths import ROOT
from trainer.provenance import model_sha256
from trainer.recipe import SCHEMA, complete
from trainer.types import RunRecord, TrialLine
from trainer.verdict import accuracy_holds, min_last

MODELS = ("model1", "model2", "model3", "model4")
Runs = dict[tuple[str, str], list[RunRecord]]  # (model, device) -> its records, as load_runs groups them
# Which net each model file's records ran (its trial variant, its passes per test image): data beside the records.
NETS = ROOT / "results" / "nets.json"
TEST_VIEWS = 5  # a `tta:` net's forward passes per test image: the image and its four one-pixel shifts
# model4's bar: at least 18 of 20 fresh seeds held (nine in ten), and a hold rate of 85% or more from the fit.
BAR_SEEDS, BAR_SHARE, BAR_RATE = 20, 0.9, 0.85
FRESH_SEEDS_FROM = 1000  # trials use the tuning seeds 1, 2, 3, ...; the fresh seeds start here
SHARED_LOAD = 0.75  # a 1-minute load this far above a run's own threads at its end: other work shared the machine
# A line of search.py's console output: what is left of a GPU tuning pass whose results file was lost.
TRIAL_LINE = re.compile(r"(?P<variant>\S+)\s+seed\s+(?P<seed>\d+)\s+(?P<params>[\d,]+) params\s+"
                        r"last 5: (?P<last>[\d. ]+?)"
                        r"\s+lowest (?P<lowest>[\d.]+)\s+(?P<seconds>[\d.]+) s/epoch")


# --- reading results/ ---------------------------------------------------------------------------

def device_of(record: RunRecord) -> str:
    """'cpu' or 'cuda': from the provenance, or the top-level field of runs older than it."""
    return record.get("provenance", {}).get("device") or record.get("device", "cpu")


def load_runs(*dirs: str | Path) -> dict[tuple[str, str], list[RunRecord]]:
    """Completed, full runs grouped by experiment and device: {(model, device): [record, ...]} sorted by
    net size and seed. A run found in several folders (same model, device, net size and seed) counts
    once: the first. Each record gets its folder as "path"."""
    runs, seen = {}, set()
    for runs_dir in dirs:
        for path in sorted(Path(runs_dir).glob("*/metrics.json")):
            try:
                record = json.loads(path.read_text())
            except ValueError:
                raise ValueError(f"{path}: not a whole metrics.json (copy it again from its run)") from None
            key = (record["model"], device_of(record), record["params"], record["seed"])
            if record.get("dry_run") or "target_met" not in record or key in seen:
                continue  # smoke runs and unfinished runs are no results
            seen.add(key)
            record["path"] = path.parent
            runs.setdefault(key[:2], []).append(record)
    for records in runs.values():
        records.sort(key=lambda r: (r["params"], r["seed"]))
    return dict(sorted(runs.items()))


def load_trial_log(path):
    """The runs in a log of search.py's console output: variant, seed, params, the last 5 epochs' test
    accuracy and their lowest; none if the file is absent."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for match in map(TRIAL_LINE.fullmatch, path.read_text().splitlines()):
        if match:
            rows.append({"variant": match["variant"], "seed": int(match["seed"]),
                         "params": int(match["params"].replace(",", "")),
                         "last": [float(a) for a in match["last"].split()], "min_last": float(match["lowest"])})
    return rows


def is_fresh(row: RunRecord | TrialLine) -> bool:
    return row["seed"] >= FRESH_SEEDS_FROM


def todays_net(runs: Runs, model: str) -> Callable[[RunRecord], bool]:
    """Whether a record of a model file ran the net the file has today: a function of a record. A net is
    known by its size, except where an earlier net had the same size: then by the code hashes that
    results/nets.json lists for it."""
    earlier = earlier_codes(model)
    cpu = [r for r in runs.get((model, "cpu"), []) if code_of(r) not in earlier]
    shown = next((r for r in cpu if r["seed"] == 1), cpu[0] if cpu else None)
    return lambda r: shown is not None and r["params"] == shown["params"] and code_of(r) not in earlier


@functools.cache
def load_nets(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text()) if Path(path).is_file() else {}


def nets_of(model: str) -> list[dict[str, Any]]:
    """results/nets.json's entries for a model file's nets."""
    return load_nets(NETS).get(model, [])


def earlier_codes(model: str) -> set[str]:
    """The code hashes of a model file's earlier nets that share a size with a later one."""
    return {code for net in nets_of(model) for code in net.get("model_sha256", ())}


def net_of(record: RunRecord) -> dict[str, Any] | None:
    """results/nets.json's entry for the net a model file's record ran (None where it lists none)."""
    same_size = [net for net in nets_of(record["model"]) if net["params"] == record["params"]]
    by_code = [net for net in same_size if code_of(record) in net.get("model_sha256", ())]
    return (by_code or [net for net in same_size if "model_sha256" not in net] or [None])[0]


def passes(row: RunRecord | TrialLine) -> int:
    """Forward passes per test image: 5 for a net shifted at test time (a trial's `tta:` spec, or a model
    file's net that results/nets.json says is), else 1."""
    if "spec" in row:
        prefix = row["spec"].split(":")[0] if ":" in row["spec"] else ""
        return TEST_VIEWS if "tta" in prefix.split("+") else 1
    return (net_of(row) or {}).get("passes", 1)


def code_of(record: RunRecord) -> str | None:
    return record.get("provenance", {}).get("model_sha256")


def shown_run(runs: Runs, model: str) -> RunRecord | None:
    """The run an experiment's section shows: its default command's (seed 1, CPU) of today's net, else the
    first of today's net."""
    records = [r for r in runs.get((model, "cpu"), []) if todays_net(runs, model)(r)]
    return next((r for r in records if r["seed"] == 1), records[0] if records else None)


def net_name(runs: Runs, model: str, record: RunRecord) -> str:
    """A model file's net by a name no other net shares: 'model4 (p4820-tta-settled-fade-b64)', its trial
    variant beside it, or 'earlier model4 (p6908-onecycle-ema)' for a net the file no longer has; without a
    variant in results/nets.json, 'model4' or 'model4, an earlier net'."""
    today = todays_net(runs, model)(record)
    variant = (net_of(record) or {}).get("variant")
    if variant is None:
        return model if today else f"{model}, an earlier net"
    return f"{model} ({variant})" if today else f"earlier {model} ({variant})"


def sweeps_of(runs: Runs, model: str) -> list[list[RunRecord]]:
    """The CPU sweeps of a model's net today: its fresh-seed runs, one group per command (the same CPU, CPU
    type and thread count, consecutive seeds)."""
    groups = []
    today = todays_net(runs, model)
    for r in runs.get((model, "cpu"), []):
        if not today(r) or not is_fresh(r):
            continue
        where = hardware(r)
        if groups and hardware(groups[-1][-1]) == where and r["seed"] == groups[-1][-1]["seed"] + 1:
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def current_sweep(runs, model, shown):
    """(runs, their lowest of the last 5, the worst run) over every CPU sweep of the net `shown` (an
    experiment's default run) has; None where it has none."""
    sweep = [r for group in sweeps_of(runs, model) for r in group]
    if not sweep:
        return None
    return sweep, [min_last(r["epochs"]) for r in sweep], min(sweep, key=lambda r: min_last(r["epochs"]))


def hardware(record):
    where = record.get("provenance", {})
    return where.get("device_name"), where.get("cpu_capability"), where.get("threads")


def runs_todays_code(model, records, root):
    """Whether any of a model file's records ran today's file, its code (the docstring aside) by its hash;
    True where the file is absent. A model file changed since its runs has no result of its own yet."""
    path = Path(root) / f"{model}.py"
    return not path.is_file() or model_sha256(path) in {r.get("provenance", {}).get("model_sha256") for r in records}


# --- numbers -------------------------------------------------------------------------------------

def seed_text(seeds):
    runs, start = [], seeds[0]
    for previous, seed in zip(seeds, seeds[1:] + [None]):
        if seed != previous + 1:
            runs.append(f"{start}–{previous}" if previous > start else str(start))
            start = seed
    return ", ".join(runs)


def held(lowest: Sequence[float]) -> str:
    """'K/N (lo–hi%)' of a list of lowest-of-last-5 values: the share that held, with its 95% interval."""
    met = sum(map(accuracy_holds, lowest))
    lo, hi = wilson(met, len(lowest))
    return f"{met}/{len(lowest)} ({max(0.0, 100 * lo):.0f}–{min(100.0, 100 * hi):.0f}%)"


def meets_bar(lowest: Sequence[float]) -> bool:
    """Whether a net's fresh seeds clear model4's bar: at least BAR_SEEDS of them, nine in ten held, and a
    fitted hold rate of at least BAR_RATE."""
    held_seeds = sum(map(accuracy_holds, lowest))
    return len(lowest) >= BAR_SEEDS and held_seeds >= BAR_SHARE * len(lowest) and \
        fitted_hold_rate([margin(v) for v in lowest])[0] >= BAR_RATE


def fitted(lowest: Sequence[float]) -> str:
    """'82% (71–92%)': the hold rate that a normal fit of the seeds' margins gives, with its 95% interval."""
    if len(lowest) < 2:
        return "n/a"
    rate, lo, hi = fitted_hold_rate([margin(v) for v in lowest])
    return f"{percent(rate)}% ({interval(lo, hi)})"


def interval(lo, hi):
    """'72–92%'; an end that percent() can only bound is said in words: 'at least 99.8%', 'at most 0.9%'."""
    low, high = percent(lo), percent(hi)
    if high == ">99.9":
        return "over 99.9%" if low == ">99.9" else f"at least {low}%"
    if low == "<0.1":
        return "under 0.1%" if high == "<0.1" else f"at most {high}%"
    return f"{low}–{high}%"


def percent(share):
    """A share as a percentage: whole numbers, a decimal near 0 and 100, and never a rounded 0 or 100."""
    value = 100 * share
    if 99.95 <= value < 100:
        return ">99.9"
    if 0 < value < 0.05:
        return "<0.1"
    return f"{value:.1f}" if 0 < value < 1 or 99 < value < 100 else f"{value:.0f}"


def margins(lowest):
    """'+3.5 ± 4.3': the seeds' margins in test images over the line (mean ± std)."""
    values = [margin(v) for v in lowest]
    return f"{statistics.fmean(values):+.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else \
        f"{values[0]:+d}"


def spread(values):
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else \
        f"{values[0]:.2f}"


# --- a run in words --------------------------------------------------------------------------------

def teacher_text(path):
    """A distilled recipe's teacher, as every result of it names it: its net, its accuracy and what its
    training cost (a distilled student counts only its own parameters and epochs)."""
    import torch  # only a distilled recipe needs it

    saved = torch.load(ROOT / path, map_location="cpu", weights_only=True)
    return (f"teacher {saved['variant']} ({saved['params']:,} params, {saved['test_accuracy']:.2f}% at its last "
            f"epoch, {saved['train_seconds'] / 60:.1f} minutes of training on one thread of {saved['device_name']})")


def schedule_text(r):
    """A complete recipe's schedule in a few words."""
    if r["schedule"] == "multistep":
        return f"steps after {','.join(map(str, r['milestones']))}"
    if r["schedule"] == "cosine" and r["warmup"]:
        end = f" by epoch {r['anneal_end']}" if r["anneal_end"] is not None else ""
        return f"one-cycle ({r['warmup']} warm-up, cosine to {r['floor']:g}{end})"
    if r["schedule"] == "piecewise":
        return "piecewise " + " ".join(f"{f:g}@{e:g}" for e, f in r["points"])
    return r["schedule"]


def describe_recipe(recipe):
    """One line a reader can take in: schedule, rate, batch, regularization, augmentation, a teacher."""
    r = complete(recipe)
    parts = [schedule_text(r), f"lr {r['lr']}", f"batch {r['batch_size']}", f"weight decay {r['weight_decay']:g}"]
    if r["momentum"] != SCHEMA["momentum"][0]:
        parts.append(f"momentum {r['momentum']:g}")
    if r["optimizer"] == "muon":
        parts.append(f"Muon for the inner convs (rate {r['muon_lr']:g}, momentum {r['muon_momentum']:g})")
    if r["sam_rho"]:
        parts.append(f"SAM (rho {r['sam_rho']:g}, two passes a step)")
    if r["label_smoothing"]:
        parts.append(f"smoothing {r['label_smoothing']}")
    if r["ema"]:
        parts.append(f"weight average {r['ema']}")
    if r["bn_momentum"] is not None:
        parts.append(f"BatchNorm momentum {r['bn_momentum']:g}")
    if r["teacher"]:
        parts.append(f"soft labels at temperature {r['distill_temperature']:g}, weight {r['distill_weight']:g}, "
                     f"from the {teacher_text(r['teacher'])}")
    if not any(r[key] for key in ("rotate", "translate", "scale", "brightness", "contrast")):
        return "; ".join(parts + ["no augmentation"])
    augment = f"rotate {r['rotate']:g}°, shift {r['translate']:g}"
    augment += f", zoom {r['scale']:g}" if r["scale"] else ""
    augment += f", brightness {r['brightness']:g}, contrast {r['contrast']:g}" if r["brightness"] or r["contrast"] \
        else ""
    augment += " fading out over epochs {}–{}".format(*r["augment_fade"]) if r["augment_fade"] else ""
    return "; ".join(parts + [augment])


def cpu_type(record: RunRecord) -> str:
    where = record["provenance"]
    return where["device_name"] + (f", {where['cpu_capability']}" if where.get("cpu_capability") else "")


def command(model: str, seeds: list[int], record: RunRecord) -> str:
    # One thread is not the default (the cores are), so the command says so; OMP_NUM_THREADS would not.
    threads = " --threads 1" if record.get("provenance", {}).get("threads") == 1 else ""
    device = " --device cuda" if device_of(record) == "cuda" else ""
    if len(seeds) == 1:
        return f"python train.py --model {model}{'' if seeds[0] == 1 else f' --seed {seeds[0]}'}{threads}{device}"
    return f"python train.py --model {model} --seeds {seed_text(seeds).replace('–', '-')}{threads}{device}"


def shared_machine(record: RunRecord) -> bool | None:
    """Whether other work ran beside a run, by the 1-minute load at its end (its own threads count towards it);
    None where its record kept no load."""
    machine = record.get("machine") or {}
    if not machine.get("end"):
        return None
    return machine["end"]["load"][0] >= record["provenance"]["threads"] + SHARED_LOAD


def relative(path, document, root):
    """`path` as a link from `document` (a path under `root`)."""
    return Path(os.path.relpath(Path(path).resolve(), (Path(root) / document).parent.resolve())).as_posix()
