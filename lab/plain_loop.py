"""What a model file alone gives: its Net trained by the course write-up's plain loop, none of its RECIPE.

A student who copies model3.py or model4.py into a notebook gets the layers, not the recipe that
`fit` runs: the weight average, a one-cycle rate (for model4 settled before the window, with the
augmentation faded out), shifts beside the rotations. This script measures what the layers alone
reach: each run copies the model file, alone, into a fresh folder, imports it from there, and trains
its Net with the loop of the write-up this project grew from: SGD at 0.01 with momentum 0.9, the
rate cut tenfold every 6 epochs (StepLR), batch 128, random rotations of up to 7 degrees as the only
augmentation, no weight decay, no weight average, 15 epochs, the full test set after every epoch.
The loop is written as a recipe (PLAIN) so that the batches, the rotations and the judgement are
train.py's, and only the recipe differs.

    python -m lab.plain_loop --models model3,model4 --seeds 1-2                      # runs/plain-loop.jsonl
    python -m lab.plain_loop --models model3 --seeds 1101-1110 --jobs 2 --threads 1 --results results/plain-loop.jsonl

A line per finished run; a (model, seed) already in the results file with the same model code, torch,
CPU type and thread count is not run again.
"""
import argparse
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import torch

from data import DataError, load_mnist, resolve_data_dir
from lab.trials import load_trials
from trainer.engine import Options, UserError, count_params, fit
from trainer.experiments import load_experiment, model_names, model_path
from trainer.flags import add_sweep_flags, seed_list
from trainer.provenance import differs, provenance
from trainer.sweeps import Run, Spread, run_all
from trainer.verdict import min_last

# The write-up's loop: SGD(lr=0.01, momentum=0.9), StepLR(step_size=6, gamma=0.1) stepped after each
# epoch, RandomRotation of +-7 degrees.
PLAIN = {"epochs": 15, "batch_size": 128, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0,
         "schedule": "multistep", "milestones": [6, 12], "gamma": 0.1, "rotate": 7.0}


def import_alone(model_file, folder):
    """The model file copied alone into `folder` and imported from there: nothing of this repository
    beside it, so that it trains only if it needs nothing but torch."""
    copy = Path(folder) / Path(model_file).name
    shutil.copy(model_file, copy)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"alone_{copy.stem}", copy)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def plain_run(name, seed, *, folder, data):
    """One seed of one model file alone, by the plain loop; returns its results line."""
    with tempfile.TemporaryDirectory() as alone:
        module = import_alone(model_path(name), alone)
        run = fit(module.Net, PLAIN, data, seed, Options(progress=False))
    where = provenance(model_path(name), torch.device("cpu"))
    epochs = run.metrics
    return {"model": name, "seed": seed, "params": count_params(run.model), "recipe": PLAIN,
            **where,
            "test_accuracy": [m["test_accuracy"] for m in epochs], "test_correct": [m["test_correct"] for m in epochs],
            "min_last": min_last(epochs), "target_met": run.target_met,
            "seconds": round(sum(m["seconds"] for m in epochs), 1)}


def pending(models, seeds, results, threads):
    """The (model, seed) runs the results file lacks as the very same experiment (provenance.differs: the model
    file, the training code, torch, the device, the CPU type and the thread count)."""
    here = {name: {**provenance(model_path(name), torch.device("cpu")), "threads": threads} for name in models}
    have = {(row["model"], row["seed"]) for row in load_trials(results)
            if row.get("model") in here and differs(row, here[row["model"]]) is None}
    return [(name, seed) for name in models for seed in seeds if (name, seed) not in have]


def model_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in model_names()]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown model(s) {', '.join(unknown) or repr(text)}; valid: "
                                         f"{', '.join(model_names())}")
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab.plain_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=model_list, required=True, help="comma-separated model files: model3,model4")
    parser.add_argument("--seeds", type=seed_list, default="1-2", help="seeds and ranges (default: 1-2)")
    add_sweep_flags(parser)
    parser.add_argument("--data-dir", help="folder holding MNIST/raw (default: $MNIST_DATA_DIR, else ./data); "
                        "never downloads")
    parser.add_argument("--results", default="runs/plain-loop.jsonl", help="JSON lines, one per finished run "
                        "(default: runs/plain-loop.jsonl; the committed evidence is results/plain-loop.jsonl)")
    args = parser.parse_args(argv)
    try:
        for name in args.models:
            load_experiment(name)  # a broken model file: one line before anything trains
        data = load_mnist(resolve_data_dir(args.data_dir), download=False)
    except (UserError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    spread = Spread.from_args(args)
    todo = pending(args.models, args.seeds, args.results, spread.threads_per_run())
    print(f"{len(todo)} runs to do ({len(args.models) * len(args.seeds) - len(todo)} already in {args.results})")
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    runs = [Run(f"{name} seed {seed}", plain_run, (name, seed), Path("runs/plain-loop") / f"{name}-seed{seed}",
                quiet=True) for name, seed in todo]

    def record(run, row):
        with open(args.results, "a") as file:
            file.write(json.dumps(row) + "\n")
        print(f"{row['model']} seed {row['seed']}: last 5 {' '.join(f'{a:.2f}' for a in row['test_accuracy'][-5:])}"
              f"  lowest {row['min_last']:.2f}  {'met' if row['target_met'] else 'MISSED'}", flush=True)

    try:
        failures = run_all(runs, data, spread, done=record)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    rows = [row for row in load_trials(args.results) if row["model"] in args.models and row["seed"] in args.seeds]
    for name in args.models:
        mine = [row for row in rows if row["model"] == name]
        mins = [row["min_last"] for row in mine]
        if mine:
            held = sum(row["target_met"] for row in mine)
            print(f"{name} alone: target met on {held}/{len(mine)}; lowest of the last 5 "
                  f"{statistics.fmean(mins):.3f} mean, worst {min(mins):.2f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
