"""The trials behind the README's choices: named net variants trained over seeds.

A variant is a net written as a spec (layers in order, separated by commas) plus its changes
to BASE_RECIPE. Every run appends one JSON line to the results file: by default
runs/search/trials.jsonl, which git ignores; with --record results/search.jsonl, the committed
trials that `python -m reports` turns into the docs' trial tables and the frontier picture. A sweep
that breaks loses at most the runs in flight. Run again, a (variant, seed) reuses a line of the
results file only if it is the same trial, by train.py's rules for a run (the spec and trainer/specnets.py
for a model file; the recipe, training code, torch, device, CPU type and threads), judged where the
run would go; otherwise it trains again and says why.

Spec layers and prefixes: trainer/specnets.py. MNIST is never downloaded here: its four files must be in
MNIST/raw/ under --data-dir ($MNIST_DATA_DIR, else ./data), where train.py downloads them.

Trials on CUDA (each a CUDA-graph step, as train.py's) give other numbers than the CPU's, so they go
to their own files: runs/search-cuda/, and with --record results/search-cuda.jsonl.

Usage:
    python -m lab.search --list                                         # variants, parameters, spec
    python -m lab.search --variants m3-base,p7656-onecycle-ema --seeds 1-3 --data-dir PATH
    python -m lab.search --variants p4820-settled-fade-b64 --seeds 1-3 --jobs 2 --threads 1   # two at a time (Ray)
    python -m lab.search --variants p4820-settled-fade-b64 --seeds 1-20 --jobs 20 --gpus-per-run 0.05 --device cuda
    python -m lab.search --variants p4820-settled-fade-b64 --seeds 1-20 --address auto        # on a Ray cluster
    python -m lab.search --variants p4820-settled-fade-b64 --seeds 1-3 --record               # into results/
"""
import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from data import DataError, Splits, load_mnist, resolve_data_dir
from lab.trials import load_trials, trial_differs
from trainer.engine import (
    Options,
    UserError,
    count_params,
    pick_device,
    set_determinism,
)
from trainer.experiments import Experiment
from trainer.flags import add_sweep_flags, seed_list
from trainer.paths import ROOT
from trainer.provenance import provenance
from trainer.recipe import complete
from trainer.records import evidence_path
from trainer.runs import train_seed
from trainer.specnets import SpecNet
from trainer.sweeps import Run, Spread, run_all
from trainer.types import TrialLine
from trainer.verdict import LAST_EPOCHS, min_last

# model3's recipe when the search began: every variant states what it changes.
BASE_RECIPE = {"epochs": 15, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
               "schedule": "multistep", "milestones": [5, 10], "gamma": 0.1, "rotate": 7.0, "translate": 0.05}
STEPS_7_10 = {"milestones": [7, 10]}
ONE_CYCLE = {"schedule": "cosine", "warmup": 2}
ONE_CYCLE_EMA = {**ONE_CYCLE, "ema": 0.999}
ONE_CYCLE_EMA_B64 = {**ONE_CYCLE_EMA, "batch_size": 64}
# The anneal ends with epoch 10 and a small rate trains through the window of the last 5 epochs.
SETTLED_B64 = {**ONE_CYCLE_EMA_B64, "anneal_end": 10, "floor": 0.02}
SETTLED_FADE_B64 = {**SETTLED_B64, "augment_fade": [7, 10]}  # and the window trains on unaugmented images
TONE = {"brightness": 0.1, "contrast": 0.1}
# The seventh push's yardsticks and its levers' settings, tag -> value (docs/history.md): Muon's rate, SAM's radius.
SEVENTH_YARDSTICKS = {"p3918-tta-settled-fade-b64": "tta:8k,P,10,10,10,11",
                      "p4820-settled-fade-b64": "8k,P,10,12,12,12"}
MUON_RATES = {"024": 0.24, "006": 0.06, "0015": 0.015}
SAM_RADII = {"005": 0.05, "002": 0.02, "01": 0.1}
# The public 3,762-parameter net's recipe: plain SGD, a rate up to its peak at epoch 2 and down to 0 at
# epoch 15 through 10% at epoch 8, batch 32, shifts, zoom and rotations with brightness and contrast.
PUBLIC = {"momentum": 0.0, "weight_decay": 0.0, "schedule": "piecewise", "batch_size": 32, "lr": 0.1,
          "points": [[0, 0.5], [2, 1.0], [8, 0.1], [15, 0.0]], "scale": 0.05, **TONE}

# The fifth push's teacher: --save-teacher writes it from its run on tuning seed 1.
TEACHER = "teachers/teacher-p33264-onecycle-ema-e20-seed1.pt"

# name -> (question it answers, spec, recipe changes). "margin": model3's net and recipe;
# "frontier": how few parameters still hold the target (model4); "teacher": a net
# whose soft labels distilled runs learn from (beyond the budget: it is never a candidate).
VARIANTS = {
    "m3-base": ("margin", "8,12,P,8t,10,12,12,14", {}),  # model3 before the search; bench.py times it
    "p7656-steps": ("margin", "12k,P,14,14,14,16", STEPS_7_10),
    "p7656-onecycle": ("margin", "12k,P,14,14,14,16", ONE_CYCLE),
    "p7656-steps-ema": ("margin", "12k,P,14,14,14,16", {**STEPS_7_10, "ema": 0.999}),
    "p7656-onecycle-ema": ("margin", "12k,P,14,14,14,16", ONE_CYCLE_EMA),
    "p7656-steps-ls": ("margin", "12k,P,14,14,14,16", {**STEPS_7_10, "label_smoothing": 0.1}),
    "p4020-steps": ("frontier", "8k,P,10,10,10,12", STEPS_7_10),
    "p3364-steps": ("frontier", "8k,P,8,8,10,12", STEPS_7_10),
    "p5964-onecycle-ema": ("frontier", "12k,P,12,12,12,14", ONE_CYCLE_EMA),
    "p5964-onecycle-ema-b64": ("frontier", "12k,P,12,12,12,14", ONE_CYCLE_EMA_B64),
    "p6436-onecycle-ema-b64": ("frontier", "12k,P,12,12,14,14", ONE_CYCLE_EMA_B64),
    "p6712-onecycle-ema": ("frontier", "12k,P,12,12,14,16", ONE_CYCLE_EMA),
    "p6908-onecycle-ema": ("frontier", "12k,P,12,14,14,14", ONE_CYCLE_EMA),
    "p5932-onecycle-ema": ("frontier", "8,12,P,8t,10,12,12,14", ONE_CYCLE_EMA),
    "p4632-onecycle-ema": ("frontier", "8,10,P,6t,8,10,12,12", ONE_CYCLE_EMA),
    "p3918-onecycle-ema": ("frontier", "8k,P,10,10,10,11", ONE_CYCLE_EMA),
    "p3650-onecycle-ema": ("frontier", "6p,P,10,12,P,16", ONE_CYCLE_EMA),
    "p3918-onecycle-ema-wd1e4": ("frontier", "8k,P,10,10,10,11", {**ONE_CYCLE_EMA, "weight_decay": 1e-4}),
    "s3912-onecycle-ema": ("frontier", "16k,P,24s,24s,24s,28s", ONE_CYCLE_EMA),
    "p3918-onecycle-ema-b64": ("frontier", "8k,P,10,10,10,11", ONE_CYCLE_EMA_B64),
    "p3918-onecycle-ema-wd1e3": ("frontier", "8k,P,10,10,10,11", {**ONE_CYCLE_EMA, "weight_decay": 1e-3}),
    "p3918-onecycle-ema-b32": ("frontier", "8k,P,10,10,10,11", {**ONE_CYCLE_EMA, "batch_size": 32}),
    "p3918-onecycle-ema-b64-lr005": ("frontier", "8k,P,10,10,10,11", {**ONE_CYCLE_EMA_B64, "lr": 0.05}),
    "p3918-steps-ema-b64": ("frontier", "8k,P,10,10,10,11", {**STEPS_7_10, "ema": 0.999, "batch_size": 64}),
    "p3992-onecycle-ema-b64": ("frontier", "8k,P,9,10,10,10,20t", ONE_CYCLE_EMA_B64),
    "p4420-onecycle-ema-b64": ("frontier", "8k,P,10,10,12,12", ONE_CYCLE_EMA_B64),
    "p4820-onecycle-ema-b64": ("frontier", "8k,P,10,12,12,12", ONE_CYCLE_EMA_B64),
    "p3364-onecycle-ema-b64": ("frontier", "8k,P,8,8,10,12", ONE_CYCLE_EMA_B64),
    "p3918-settled-b64": ("frontier", "8k,P,10,10,10,11", SETTLED_B64),
    "p3918-settled-fade-b64": ("frontier", "8k,P,10,10,10,11", SETTLED_FADE_B64),
    "p3918-settled11-b64": ("frontier", "8k,P,10,10,10,11", {**SETTLED_B64, "anneal_end": 11, "floor": 0.05}),
    "p3918-silu-settled-b64": ("frontier", "silu:8k,P,10,10,10,11", SETTLED_B64),
    "p4050-settled-b64": ("frontier", "10k,P,10,10,10,10", SETTLED_B64),
    "p3424-settled-b64": ("frontier", "8k,P,8p,8,8,8,10", SETTLED_B64),
    "p2832-settled-b64": ("frontier", "8k,P,8,8,8,10", SETTLED_B64),
    "p2832-settled-fade-b64": ("frontier", "8k,P,8,8,8,10", SETTLED_FADE_B64),
    "p3030-settled-b64": ("frontier", "10k,P,8,8,8,10", SETTLED_B64),
    "p4820-settled-b64": ("frontier", "8k,P,10,12,12,12", SETTLED_B64),
    "p4820-settled-fade-b64": ("frontier", "8k,P,10,12,12,12", SETTLED_FADE_B64),
    "p3918-strided-settled-fade-b64": ("frontier", "8k,10d,10,10,11", SETTLED_FADE_B64),
    "p3918-gelu-settled-fade-b64": ("frontier", "gelu:8k,P,10,10,10,11", SETTLED_FADE_B64),
    # Depth at 12x12: padded 3x3 convs before the unpadded ones, at about 3,000, 3,500 and 4,000.
    "p3157-settled-fade-b64": ("frontier", "7k,P,8p,8,8,8,8", SETTLED_FADE_B64),
    "p3424-settled-fade-b64": ("frontier", "8k,P,8p,8,8,8,10", SETTLED_FADE_B64),
    "p3932-settled-fade-b64": ("frontier", "8k,P,8p,8p,8,8,8,9", SETTLED_FADE_B64),
    "p3918-settled-fade-b32": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "batch_size": 32}),
    "p3918-settled-fade-b64-ls": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "label_smoothing": 0.1}),
    # Third push, levers on the best net near 4,000 so far (p3932) and near 3,500 (p3424): BatchNorm momentum,
    # brightness and contrast, batch 32; and the public 3,762 net's full-resolution shape with its own recipe.
    "p3932-settled-fade-b64-bn05": ("frontier", "8k,P,8p,8p,8,8,8,9", {**SETTLED_FADE_B64, "bn_momentum": 0.05}),
    "p3932-settled-fade-b64-tone": ("frontier", "8k,P,8p,8p,8,8,8,9", {**SETTLED_FADE_B64, **TONE}),
    "p3932-settled-fade-b32": ("frontier", "8k,P,8p,8p,8,8,8,9", {**SETTLED_FADE_B64, "batch_size": 32}),
    "p3424-settled-fade-b32": ("frontier", "8k,P,8p,8,8,8,10", {**SETTLED_FADE_B64, "batch_size": 32}),
    "p3424-settled-fade-b64-tone": ("frontier", "8k,P,8p,8,8,8,10", {**SETTLED_FADE_B64, **TONE}),
    "p3030-settled-fade-b64": ("frontier", "10k,P,8,8,8,10", SETTLED_FADE_B64),
    "p3692-public": ("frontier", "4p,4p,4p,P,8p,8p,8p,P,8p,8p,8p", PUBLIC),
    # Weight tying: the two finalists above with their first padded conv twice more, its weights shared
    # (depth at 12x12 for 16 parameters a layer).
    "p3456-tied-settled-fade-b64": ("frontier", "8k,P,8p,8r,8r,8,8,8,10", SETTLED_FADE_B64),
    "p3964-tied-settled-fade-b64": ("frontier", "8k,P,8p,8p,8r,8r,8,8,8,9", SETTLED_FADE_B64),
    # Fourth push, at about 4,000: the recipe's levers on the 3,918 net (weight decay, the weight average's decay,
    # the peak rate, Nesterov, elastic distortion), identity shortcuts at 12x12, a channel gate, BatchNorm without
    # its scale and shift (the parameters spent on width), and the 5x5 conv's width.
    "p3918-settled-fade-b64-wd1e4": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "weight_decay": 1e-4}),
    "p3918-settled-fade-b64-wd2e4": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "weight_decay": 2e-4}),
    "p3918-settled-fade-b64-ema998": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "ema": 0.998}),
    "p3918-settled-fade-b64-ema9995": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "ema": 0.9995}),
    "p3918-settled-fade-b64-lr005": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "lr": 0.05}),
    "p3918-settled-fade-b64-lr02": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "lr": 0.2}),
    "p3918-settled-fade-b64-nesterov": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "nesterov": True}),
    "p3918-settled-fade-b64-elastic": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "elastic": 2.0}),
    "p3932-res-settled-fade-b64": ("frontier", "8k,P,8a,8a,8,8,8,9", SETTLED_FADE_B64),
    "p3975-gate-settled-fade-b64": ("frontier", "8k,P,10,10,10,11,2g", SETTLED_FADE_B64),
    "p3920-bare-settled-fade-b64": ("frontier", "bare:8k,P,10,10,10,12", SETTLED_FADE_B64),
    "p3875-k6-settled-fade-b64": ("frontier", "6k,P,10,10,11,11", SETTLED_FADE_B64),
    "p3948-k10-settled-fade-b64": ("frontier", "10k,P,10,10,10,9", SETTLED_FADE_B64),
    # Fifth push, levers of a new kind on the 3,918 net: a digit straightened before the convs, and its
    # probabilities averaged over one-pixel shifts at test time.
    "p3918-deskew-settled-fade-b64": ("frontier", "deskew:8k,P,10,10,10,11", SETTLED_FADE_B64),
    "p3918-tta-settled-fade-b64": ("frontier", "tta:8k,P,10,10,10,11", SETTLED_FADE_B64),
    # The levers that pass the rule, combined (docs/frontier.md).
    "p3918-deskew-tta-settled-fade-b64": ("frontier", "deskew+tta:8k,P,10,10,10,11", SETTLED_FADE_B64),
    # The winning lever elsewhere: test-time shifts on the 4,820 and 3,157 nets, each against itself without them.
    "p4820-tta-settled-fade-b64": ("frontier", "tta:8k,P,10,12,12,12", SETTLED_FADE_B64),
    "p3157-tta-settled-fade-b64": ("frontier", "tta:7k,P,8p,8,8,8,8", SETTLED_FADE_B64),
    # Sixth push (docs/history.md), on the 3,918 net with test-time shifts: the window's augmentation faded an
    # epoch earlier, and the rate's floor halved.
    "p3918-tta-settled-fade69-b64": ("frontier", "tta:8k,P,10,10,10,11", {**SETTLED_FADE_B64, "augment_fade": [6, 9]}),
    "p3918-tta-settled-fade-b64-floor01": ("frontier", "tta:8k,P,10,10,10,11", {**SETTLED_FADE_B64, "floor": 0.01}),
    # The sixth push's levers that pass its rule, combined (docs/history.md): each pair, and all three.
    "p3918-deskew-tta-settled-fade69-b64": ("frontier", "deskew+tta:8k,P,10,10,10,11",
                                            {**SETTLED_FADE_B64, "augment_fade": [6, 9]}),
    "p3918-deskew-tta-settled-fade-b64-floor01": ("frontier", "deskew+tta:8k,P,10,10,10,11",
                                                  {**SETTLED_FADE_B64, "floor": 0.01}),
    "p3918-tta-settled-fade69-b64-floor01": ("frontier", "tta:8k,P,10,10,10,11",
                                             {**SETTLED_FADE_B64, "augment_fade": [6, 9], "floor": 0.01}),
    "p3918-deskew-tta-settled-fade69-b64-floor01": ("frontier", "deskew+tta:8k,P,10,10,10,11",
                                                    {**SETTLED_FADE_B64, "augment_fade": [6, 9], "floor": 0.01}),
    # The fallback's reserve (docs/history.md): model4's 6,908 net with test-time shifts, model3's recipe.
    "p6908-tta-onecycle-ema": ("frontier", "tta:12k,P,12,14,14,14", ONE_CYCLE_EMA),
    # Fifth push, distillation: a wider net as the teacher (not a candidate: it is not judged by the budget),
    # and the 3,918 net learning from its soft labels at two temperatures.
    "teacher-p33264-onecycle-ema-e20": ("teacher", "16k,P,32,32,32,32", {**ONE_CYCLE_EMA, "epochs": 20}),
    "p3918-kd4-settled-fade-b64": ("frontier", "8k,P,10,10,10,11",
                                   {**SETTLED_FADE_B64, "teacher": TEACHER, "distill_temperature": 4.0,
                                    "distill_weight": 0.7}),
    "p3918-kd2-settled-fade-b64": ("frontier", "8k,P,10,10,10,11",
                                   {**SETTLED_FADE_B64, "teacher": TEACHER, "distill_temperature": 2.0,
                                    "distill_weight": 0.5}),
    # The reference write-up's net (6,136 parameters), with model3's recipe: does it hold under this protocol?
    "ref6136-onecycle-ema": ("frontier", "8,16,P,8t,8,12,12,16", ONE_CYCLE_EMA),
    # Seventh push: Muon for the 3x3 convs (the first conv, the head and the norms on SGD), and SAM, each on
    # both yardsticks at each setting its tuning may choose.
    **{f"{name}-muon{tag}": ("frontier", spec, {**SETTLED_FADE_B64, "optimizer": "muon", "muon_lr": rate})
       for name, spec in SEVENTH_YARDSTICKS.items() for tag, rate in MUON_RATES.items()},
    **{f"{name}-sam{tag}": ("frontier", spec, {**SETTLED_FADE_B64, "sam_rho": rho})
       for name, spec in SEVENTH_YARDSTICKS.items() for tag, rho in SAM_RADII.items()},
}

def variant_recipe(name):
    """The variant's complete recipe (recipe.SCHEMA's every key)."""
    recipe = {**BASE_RECIPE, **VARIANTS[name][2]}
    if recipe["schedule"] != "multistep":  # the base's steps mean nothing to another schedule
        del recipe["milestones"], recipe["gamma"]
    return complete(recipe, source=f"variant {name}")


def variant_params(name):
    return count_params(SpecNet(VARIANTS[name][1]))


def pending(variants: list[str], seeds: list[int],
            results: str | Path) -> list[tuple[str, int, list[TrialLine]]]:
    """Every (variant, seed) run asked for, seed by seed (every variant gets a first result early on), with
    the results file's lines of that variant and seed: a run reuses one only if it is the same trial."""
    saved = {}
    for line in load_trials(results):
        saved.setdefault((line.get("variant"), line.get("seed")), []).append(line)
    return [(name, seed, saved.get((name, seed), [])) for seed in seeds for name in variants]


# What a trial line records of where it ran (provenance.provenance); the spec, and the code that builds it
# (trainer/specnets.py, its hash as model_sha256), stand for a model file.
PROVENANCE_KEYS = ("threads", "device", "device_name", "cpu_capability", "torch", "git_commit", "git_dirty",
                   "model_sha256", "code_sha256", "node")
SPECNETS = ROOT / "trainer" / "specnets.py"


def run_trial(name: str, seed: int, device: str = "cpu", saved: Sequence[TrialLine] = (), *, folder: str | Path,
              data: Splits) -> tuple[TrialLine, str | None]:
    """One variant on one seed, in `folder` (in this process or a Ray worker): (a line of `saved`, None)
    where one is this very trial, judged here, on the machine and threads it would run with; else trained,
    (its new results line, why no saved line would do: "" where there was none)."""
    question, spec, _ = VARIANTS[name]
    recipe, device = variant_recipe(name), torch.device(device)
    expected = provenance(SPECNETS, device)
    whys = [trial_differs(line, spec, recipe, seed, expected) for line in saved]
    if None in whys:
        return saved[whys.index(None)], None
    began = time.perf_counter()
    set_determinism(device)
    experiment = Experiment(name, lambda: SpecNet(spec), recipe, SPECNETS)
    record = train_seed(experiment, seed, data, folder, Options(device, progress=False))
    epochs = record["epochs"]
    line = {"variant": name, "question": question, "spec": spec, "recipe": recipe, "seed": seed,
            "params": record["params"], **{key: record["provenance"][key] for key in PROVENANCE_KEYS},
            "test_accuracy": [m["test_accuracy"] for m in epochs],
            "best": max(m["test_accuracy"] for m in epochs), "min_last": min_last(epochs),
            "target_met": record["target_met"],
            "seconds_per_epoch": round(statistics.fmean(m["seconds"] for m in epochs), 2),
            "wall_seconds": round(time.perf_counter() - began, 1), "machine": record["machine"]}
    return line, whys[-1] if whys else ""


def variant_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        given = ", ".join(unknown) if unknown else repr(text)
        raise argparse.ArgumentTypeError(f"unknown variant(s) {given}; valid: {', '.join(VARIANTS)}")
    return names


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m lab.search", description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=variant_list, help="comma-separated variant names (see --list)")
    parser.add_argument("--seeds", type=seed_list, default="1-3", help="seeds and ranges: 1-3, 1,4,7-9 "
                        "(default: 1-3, the tuning seeds)")
    add_sweep_flags(parser)
    parser.add_argument("--data-dir", help="the folder holding MNIST/raw/ with its four *-ubyte files (default: "
                        "$MNIST_DATA_DIR, else ./data). the search never downloads MNIST; `python train.py --model "
                        "model1 --dry-run` does, into ./data")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="where the runs train: auto (the default) picks cuda, then mps, then cpu, as "
                             "train.py does")
    parser.add_argument("--out", help="folder for each run's checkpoints and log (default: runs/search, on CUDA "
                        "runs/search-cuda; git ignores runs/)")
    results = parser.add_mutually_exclusive_group()
    results.add_argument("--results", help="JSON lines, one per finished run (default: trials.jsonl in --out)")
    results.add_argument("--record", action="store_true", help="write to results/search.jsonl (on CUDA "
                         "results/search-cuda.jsonl) instead: the committed trials report.py renders")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--save-teacher", action="store_true", help="write each finished teacher variant's "
                        "weights to teachers/ (a distilled variant's recipe names that file)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for name, (question, spec, changes) in VARIANTS.items():
            print(f"{name:<20} {question:<9} {variant_params(name):>6,}  {spec}  {json.dumps(changes)}")
        return 0
    if not args.variants:
        parser.error("give --variants (or --list)")
    try:
        device = pick_device(args.device)
    except UserError as err:
        parser.error(str(err))
    args.out = args.out or f"runs/search{'' if device.type == 'cpu' else '-' + device.type}"
    args.results = args.results or (evidence_path("search", device, ".jsonl") if args.record else
                                    Path(args.out) / "trials.jsonl")

    data_dir = resolve_data_dir(args.data_dir)
    try:
        data = load_mnist(data_dir, download=False)  # one clear message before any run starts
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    todo = pending(args.variants, args.seeds, args.results)
    spread = Spread.from_args(args)
    at_a_time = f"{spread.jobs} at a time" if spread.jobs else "as many at a time as the cluster takes" \
        if spread.address else "one at a time"
    print(f"{len(todo)} runs on {device.type} ({sum(bool(lines) for *_, lines in todo)} with a line in "
          f"{args.results}, reused where it is the same trial), {at_a_time}, {spread.threads_per_run()} thread(s) "
          f"each" + (f", on the Ray cluster at {spread.address}" if spread.address else ""))
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    runs = [Run(f"{name} seed {seed}", run_trial, (name, seed, device.type, lines),
                Path(args.out) / f"{name}-seed{seed}", quiet=True) for name, seed, lines in todo]
    try:
        spread.check_device(device)
        failures = run_all(runs, data, spread,
                           done=lambda run, outcome: finish(run, outcome, args.results, args.save_teacher))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("The search goes on from there when the same command is run again.")
        return 130
    return 1 if failures else 0


def finish(run, outcome, results, save_teachers):
    """A finished trial: a reused line said, or a new line recorded (why it trained again said first) and a
    teacher's weights saved if asked."""
    row, why = outcome
    if why is None:
        tqdm.write(f"{run.label}: reused, as {results} has it (lowest of the last {LAST_EPOCHS}: "
                   f"{row['min_last']:.2f})")
        return
    if why:
        tqdm.write(f"{run.label}: trained again, since its line in {results}: {why}")
    record(row, results)
    if save_teachers and row["question"] == "teacher":
        save_teacher(row, run.folder)


def save_teacher(row: TrialLine, run_folder: str | Path) -> None:
    """A teacher variant's run as a teacher's weights file: its tested net's weights (the run's model.pt)
    with its spec and where it came from, as plain data, in teachers/ (engine.load_teacher reads it)."""
    saved = torch.load(Path(run_folder) / "model.pt", weights_only=True)
    path = ROOT / "teachers" / f"{row['variant']}-seed{row['seed']}.pt"
    path.parent.mkdir(exist_ok=True)
    torch.save({"spec": row["spec"], "variant": row["variant"], "seed": row["seed"], "params": row["params"],
                "test_accuracy": row["test_accuracy"][-1],
                "train_seconds": round(row["seconds_per_epoch"] * len(row["test_accuracy"]), 1),
                "device_name": row["device_name"], "threads": row["threads"], "git_commit": row["git_commit"],
                "model_state": saved["model_state"]}, path)
    tqdm.write(f"teacher {path}: {row['params']:,} params, {row['test_accuracy'][-1]:.2f}% at its last epoch")


def record(row: TrialLine, results: str | Path) -> None:
    """Append a finished trial to the results file (one line, so a crash loses at most that line) and say it."""
    with open(results, "a") as file:
        file.write(json.dumps(row) + "\n")
    tqdm.write(f"{row['variant']:<20} seed {row['seed']:>4}  {row['params']:>6,} params  "
               f"last 5: {' '.join(f'{a:.2f}' for a in row['test_accuracy'][-LAST_EPOCHS:])}  "
               f"lowest {row['min_last']:.2f}  {row['seconds_per_epoch']:.1f} s/epoch")


if __name__ == "__main__":
    sys.exit(main())
