"""Train and evaluate one of the MNIST experiments: any model*.py file beside this script.

Each model file carries its recipe (recipe.py lists every key); flags override it. Every epoch
writes an atomic checkpoint, so a run that breaks costs at most one epoch.

Usage:
    python train.py --model model3                                       # the recipe, seed 1
    python train.py --model model3 --seeds 1001-1010                     # a seed sweep + summary; run
                                          # again, it reuses the finished seeds and continues a broken one
    python train.py --model model4 --seeds 1-20 --jobs 2 --threads 1     # two seeds at a time (local Ray)
    python train.py --model model4 --seeds 1-20 --address auto           # on a running Ray cluster
    python train.py --model model3 --epochs 2 --lr 0.05 --set ema=null   # override the recipe
    python train.py --model model3 --dry-run                             # a few batches, smoke test
    python train.py --model model4 --seeds 6001-6010 --record            # into results/: the evidence
    python train.py --resume runs/model3-seed1/checkpoint.pt             # continue a broken run
    python train.py --eval runs/model3-seed1/best.pt                     # test saved weights
    python train.py --recipe-help                                        # every recipe key

Outputs go to <out>/<model>-seed<seed>/ (default runs/, which git ignores): metrics.json, checkpoint.pt
(after every epoch), best.pt (best test epoch), model.pt (final weights) and plots.
"""
import argparse
import dataclasses
import json
import math
import re
import sys
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import torch
from tqdm.auto import tqdm

import recipe as recipes
from data import DATA_DIR_ENV, DataError, TensorLoader, load_mnist, resolve_data_dir
from engine import (EVAL_BATCH_SIZE, Options, TrainingError, UserError, count_params, fit, load_weights, pick_device,
                    set_determinism, test, test_line)
from experiments import load_experiment, model_names, model_path
from sweeps import Run, Where, run_all
from records import (CheckpointError, confusion_matrix, evidence_path, finished_record, load_checkpoint, machine_load,
                     mistakes, provenance, read_saved_run, save_atomic, saved_run_differs, summary_lines, summary_of,
                     write_json)
from verdict import target_met


class Experiment(NamedTuple):
    """What a run trains: a name, a way to build the net, the complete recipe, the model file (if any)."""
    name: str
    make_net: Callable
    recipe: dict
    model_file: Optional[Path] = None


def positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0 or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be above zero, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def seed_list(text):
    """'1001-1010' or '1,2,7-9': seeds listed, ranges inclusive; each seed once."""
    seeds = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match[2] and int(match[2]) < int(match[1])):
            raise argparse.ArgumentTypeError(f"{text!r}: give seeds and ranges, e.g. 1001-1010 or 1,2,7-9")
        seeds += range(int(match[1]), int(match[2] or match[1]) + 1)
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is given twice")
    return seeds


def recipe_setting(text):
    """KEY=VALUE, the value in JSON (10, 0.02, [7, 10], null); a bare word is taken as a string."""
    key, sep, value = text.partition("=")
    if not sep or key not in recipes.SCHEMA:
        raise argparse.ArgumentTypeError(f"{text!r}: give KEY=VALUE with a recipe key; valid keys: "
                                         f"{', '.join(recipes.SCHEMA)}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train an MNIST experiment under the 8k-parameter, 15-epoch, 99.40% target.")
    parser.add_argument("--model", choices=model_names(), help="experiment to run (required unless --resume/--eval)")
    parser.add_argument("--epochs", type=positive(int), help="epochs (default: the model's recipe)")
    parser.add_argument("--batch-size", type=positive(int), help="batch size (default: the model's recipe)")
    parser.add_argument("--lr", type=positive(float), help="peak learning rate (default: the model's recipe)")
    parser.add_argument("--set", type=recipe_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="set any recipe key, the value in JSON (--set anneal_end=10); see --recipe-help")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, help="random seed (default: 1)")
    seeds.add_argument("--seeds", type=seed_list, help="seeds and ranges (1001-1010, 1,2,7-9): one run each, "
                       "then a summary")
    parser.add_argument("--fresh", action="store_true", help="with --seeds: train every seed from scratch, "
                        "even those whose runs in --out finished or can be continued")
    add_sweep_flags(parser)
    parser.add_argument("--data-dir", help=f"folder holding MNIST/raw (default: ${DATA_DIR_ENV}, else ./data)")
    parser.add_argument("--no-download", action="store_true", help="never download MNIST")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="auto (the default) picks cuda, then mps, then cpu")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--out", default="runs", help="folder for run outputs (default: runs, which git ignores)")
    out.add_argument("--record", action="store_true", help="write into results/runs (on CUDA results/runs-cuda), "
                     "the committed evidence report.py renders, instead of --out: for a run meant to change it")
    parser.add_argument("--no-cuda-graph", "--eager", dest="eager", action="store_true",
                        help="on CUDA, run each training step operation by operation instead of replaying it as "
                             "a captured CUDA graph (the same numbers, slower; for debugging a changed model)")
    parser.add_argument("--dry-run", action="store_true", help="3 batches of training and of testing, one epoch: "
                        "a fast smoke run")
    parser.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint.pt")
    parser.add_argument("--eval", metavar="PATH", help="test the weights in this file and exit")
    parser.add_argument("--recipe-help", action="store_true", help="list every recipe key, its default and "
                        "meaning, and exit")
    return parser


def gpu_share_of(text):
    """A share of a GPU as Ray takes it: above 0, and a whole number of GPUs above 1."""
    share = positive(float)(text)
    if share > 1 and not share.is_integer():
        raise argparse.ArgumentTypeError(f"a share above 1 must be a whole number of GPUs, not {text}")
    return share


def add_sweep_flags(parser):
    """--jobs, --threads, --address, --no-auth, --gpus-per-run: how a sweep's runs are spread (train.py and
    search.py)."""
    parser.add_argument("--jobs", type=positive(int), help="runs at a time on a local Ray instance (default: one "
                        "after another in this process, no Ray)")
    parser.add_argument("--threads", type=positive(int), help="torch threads per run (default: the cores, "
                        "divided by --jobs)")
    parser.add_argument("--address", help="run on the Ray cluster at this address (auto, or HOST:PORT; default: "
                        "$RAY_ADDRESS if set); only on one that demands a token (RAY_AUTH_MODE=token)")
    parser.add_argument("--no-auth", action="store_true", help="with --address: use a cluster that lets in clients "
                        "without a token all the same (anyone who reaches it can run code on its machines)")
    parser.add_argument("--gpus-per-run", type=gpu_share_of, default=0.0, metavar="F",
                        help="the share of a GPU each run takes on Ray (0.05: twenty runs to a GPU)")


TRAINING_FLAGS = (("--epochs", "epochs"), ("--batch-size", "batch_size"), ("--lr", "lr"), ("--set", "set"),
                  ("--seed", "seed"), ("--seeds", "seeds"), ("--fresh", "fresh"), ("--dry-run", "dry_run"),
                  ("--record", "record"))


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    given = [flag for flag, key in TRAINING_FLAGS if getattr(args, key) not in (None, False, [])]
    if args.recipe_help:
        return args
    if args.resume and args.eval:
        parser.error("--resume and --eval do not go together")
    if args.eval and given:
        parser.error(f"--eval only tests saved weights; drop {', '.join(given)}")
    if args.resume and given:
        parser.error(f"--resume continues the run as it was saved; drop {', '.join(given)}")
    if args.fresh and not args.seeds:
        parser.error("--fresh goes with --seeds (a single run always trains from scratch)")
    if args.record and args.dry_run:
        parser.error("--record keeps evidence, and a --dry-run is none")
    ray_flags = [flag for flag, key in (("--jobs", "jobs"), ("--address", "address"), ("--no-auth", "no_auth"),
                                        ("--gpus-per-run", "gpus_per_run")) if getattr(args, key)]
    if ray_flags and not args.seeds:
        parser.error(f"{', '.join(ray_flags)}: for the runs of a sweep (--seeds); a single run never starts Ray")
    if not (args.model or args.resume or args.eval):
        parser.error(f"--model is required; choose from {', '.join(model_names())}")
    if args.seed is None:
        args.seed = 1
    return args


def print_summary(make_net, device):
    from torchsummary import summary
    # torchsummary runs a forward pass in train mode: give it a throwaway net, off the seeded RNG.
    # torchsummary knows only "cuda" and "cpu": an MPS run shows the summary on the CPU.
    where = device.type if device.type in ("cpu", "cuda") else "cpu"
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        summary(make_net().to(where), (1, 28, 28), device=where)


def save_plots(record, test_x, run_dir):
    """Plots are a bonus: if they fail, say so in one line and keep the metrics."""
    try:
        import plots
        plots.save_run_plots(record, test_x, run_dir)
    except Exception as err:
        print(f"Plots skipped ({type(err).__name__}: {err})")


def train_seed(experiment, seed, data, run_dir, options, resume=None, again=None, run_args=None):
    """Train one seed of one experiment into run_dir (metrics.json and checkpoint.pt after every epoch,
    best.pt, model.pt and plots at the end); returns the run's record. `again` is what a Ctrl-C's line
    adds on how to go on (default: the --resume command of this run)."""
    name, run_dir = experiment.name, Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / "checkpoint.pt"
    # The same seed gives the same numbers only on the same device type, CPU type and thread count.
    record = {"model": name, "seed": seed, "params": None, "recipe": experiment.recipe, "dry_run": options.dry_run,
              "provenance": provenance(experiment.model_file, options.device), "epochs": [],
              "machine": {"start": machine_load()}}
    best = max((m["test_accuracy"] for m in resume["metrics"]), default=-1.0) if resume else -1.0

    def weights(training):
        return {"model": name, "params": training.params, "epoch": len(training.metrics),
                "test_accuracy": training.metrics[-1]["test_accuracy"], "model_state": training.weights()}

    def after_epoch(training):
        nonlocal best
        record.update(params=training.params, epochs=training.metrics)
        if training.metrics[-1]["test_accuracy"] > best:
            best = training.metrics[-1]["test_accuracy"]
            save_atomic(weights(training), run_dir / "best.pt")
        save_atomic({**weights(training), **training.state_dict(), "seed": seed, "recipe": experiment.recipe,
                     "args": run_args or {}, "dry_run": options.dry_run, "provenance": record["provenance"]},
                    checkpoint_path)
        write_json(record, run_dir / "metrics.json")

    if resume:
        print(f"Resuming {name} seed {seed} after epoch {resume['epoch']} of "
              f"{1 if options.dry_run else experiment.recipe['epochs']}")
    try:
        training = fit(experiment.make_net, experiment.recipe, data, seed, options, resume, after_epoch)
    except TrainingError as err:
        where = f"the last good checkpoint is {checkpoint_path}" if record["epochs"] or resume else \
            "no checkpoint was written"
        raise TrainingError(f"{name} seed {seed}, {err}; stopped, {where}") from None
    except KeyboardInterrupt:
        if record["epochs"] or resume:
            advice = f"; continue with: python train.py --resume {checkpoint_path}" if again is None else again
            print(f"\nInterrupted. The checkpoint of epoch {len(record['epochs'] or resume['metrics'])} is "
                  f"{checkpoint_path}{advice}")
        else:
            print("\nInterrupted before the first epoch ended: no checkpoint was written.")
        raise
    (_, _), (test_x, test_y) = data
    labels = test_y[:len(training.predictions)]
    # The last epoch's errors, so that its pictures can be drawn again from the record and MNIST alone.
    record.update(params=training.params, epochs=training.metrics,
                  confusion=confusion_matrix(labels, training.predictions),
                  mistakes=mistakes(labels, training.predictions))
    record["machine"]["end"] = machine_load()
    save_atomic(weights(training), run_dir / "model.pt")  # the last epoch's weights
    if training.target_met is not None:
        record["target_met"] = training.target_met
    write_json(record, run_dir / "metrics.json")
    save_plots(record, test_x, run_dir)
    return record


def sweep_seed(experiment, seed, position, data, run_dir, options, fresh=False, run_args=None, saved=None):
    """One seed of a --seeds sweep: its finished run reused, its broken run continued from checkpoint.pt,
    or (if neither is there, or what is there is another experiment, or `fresh`) trained from scratch.
    `saved`: the finished record the driver holds, for a worker whose disk has none (a cluster's)."""
    header, state, found = f"== seed {seed} ({position})", None, None
    again = ""  # the sweep says how to go on
    if not fresh and not options.dry_run:
        expected = provenance(experiment.model_file, options.device)
        state, found = read_saved_run(run_dir, experiment.name, experiment.recipe, seed, expected)
        if state is None and saved and saved_run_differs(saved, experiment.recipe, seed, expected) is None:
            state, found = "finished", saved
    if state == "finished":
        print(f"{header}: reused, finished in {run_dir} ==")
        print(target_met(found["params"], found["epochs"])[1])
        return found
    if state == "broken":
        print(f"{header}: continued from {run_dir / 'checkpoint.pt'} ==")
        return train_seed(experiment, seed, data, run_dir, options, resume=found, again=again, run_args=run_args)
    print(f"{header}: trained again, since in {run_dir} {found} ==" if found else f"{header} ==")
    return train_seed(experiment, seed, data, run_dir, options, again=again, run_args=run_args)


def sweep_task(name, recipe, seed, position, options, fresh, run_args, saved=None, *, folder, data):
    """A sweep's run wherever it goes (this process or a Ray worker), in `folder`: the experiment built
    from its model file there, then sweep_seed."""
    set_determinism(options.device)
    module, _ = load_experiment(name)
    experiment = Experiment(name, module.Net, recipe, model_path(name))
    return sweep_seed(experiment, seed, position, data, Path(folder), options, fresh, run_args, saved)


def sweep(experiment, runs, data, options, args, run_args):
    """A --seeds sweep: its runs one after another here, or on Ray (--jobs, --address), each record written
    by this process; then the summary. Returns the number of runs that failed (the rest go on)."""
    where = Where.from_args(args)
    where.check_device(options.device)
    if where.on_ray:
        options = dataclasses.replace(options, progress=False)  # a bar per run would garble its log
    tasks = [Run(f"{experiment.name} seed {seed}", sweep_task,
                 (experiment.name, experiment.recipe, seed, f"{i}/{len(runs)}", options, args.fresh, run_args,
                  None if args.fresh or not where.address else finished_record(run_dir)), run_dir)
             for i, (seed, run_dir) in enumerate(runs, 1)]
    records = {}

    def done(task, record):
        records[task.args[2]] = record
        if where.address:  # a cluster's worker wrote in its scratch folder: the record comes home here
            task.folder.mkdir(parents=True, exist_ok=True)
            write_json(record, task.folder / "metrics.json")
        if where.on_ray:
            verdict = target_met(record["params"], record["epochs"])[1] if not options.dry_run else "dry run"
            tqdm.write(f"seed {task.args[2]} on {record['provenance'].get('node', '?')}: {verdict}")

    try:
        failures = run_all(tasks, data, where, done)
    except KeyboardInterrupt:
        print("The sweep goes on from there when the same command is run again.")
        raise
    finished = [records[seed] for seed, _ in runs if seed in records]
    if finished and not options.dry_run:
        summary = summary_of(experiment.name, finished)
        print("\n".join(summary_lines(summary)))
        if not failures:  # a summary of some seeds would pass for the sweep's
            write_json(summary, Path(args.out) / f"{experiment.name}-summary.json")
    return failures


def evaluate_file(path, args, device):
    ckpt = load_checkpoint(path, args.model)
    module, _ = load_experiment(ckpt["model"])
    model = module.Net()
    load_weights(model, ckpt["model_state"], f"{ckpt['model']}.Net")
    _, (test_x, test_y) = load_mnist(resolve_data_dir(args.data_dir), download=not args.no_download)
    result = test(model.to(device), TensorLoader(test_x, test_y, EVAL_BATCH_SIZE, device))
    print(f"{ckpt['model']} ({count_params(model):,} params) from {path}")
    print(test_line(result))


def resumed_run(args, device):
    """(experiment, checkpoint, data folder, dry run) of the run that --resume continues: only the same
    experiment (model file, training code, torch, device, CPU type, threads), or its numbers would mix."""
    resume = load_checkpoint(args.resume, args.model)
    if "optimizer" not in resume:
        raise CheckpointError(f"{args.resume} holds weights only; --resume needs a checkpoint.pt")
    dry_run = resume.get("dry_run", False)
    module, _ = load_experiment(resume["model"])
    recipe = recipes.complete(resume["recipe"], source=f"{args.resume}: its recipe")
    if resume["epoch"] >= (1 if dry_run else recipe["epochs"]) and finished_record(Path(args.resume).parent):
        raise CheckpointError(f"{args.resume}: the run already finished its epochs; test it with --eval")
    why = saved_run_differs({**resume, "dry_run": False}, recipe, resume["seed"],
                            provenance(model_path(resume["model"]), device))
    if why:
        raise CheckpointError(f"{args.resume} cannot go on here: {why}; train it again instead")
    experiment = Experiment(resume["model"], module.Net, recipe, model_path(resume["model"]))
    return experiment, resume, resolve_data_dir(args.data_dir or resume["args"].get("data_dir")), dry_run


def new_experiment(args):
    """The experiment --model names, its recipe with the flags' overrides, checked."""
    module, recipe = load_experiment(args.model)
    flags = {key: getattr(args, key) for key in ("epochs", "batch_size", "lr") if getattr(args, key) is not None}
    recipe = recipes.complete({**recipe, **dict(args.set), **flags}, source="the flags")
    return Experiment(args.model, module.Net, recipe, model_path(args.model))


def run(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    set_determinism(device)
    if args.eval:
        return evaluate_file(args.eval, args, device)
    if args.resume:
        experiment, resume, data_dir, dry_run = resumed_run(args, device)
        runs = [(resume["seed"], Path(args.resume).parent)]  # continue in place
    else:
        experiment, resume, data_dir, dry_run = new_experiment(args), None, resolve_data_dir(args.data_dir), \
            args.dry_run
        args.out = str(evidence_path("runs", device)) if args.record else args.out
        dry = "-dry" if args.dry_run else ""  # a smoke run never overwrites a real run's files
        runs = [(seed, Path(args.out) / f"{args.model}-seed{seed}{dry}") for seed in args.seeds or [args.seed]]
    options = Options(device=device, cuda_graph=not args.eager, dry_run=dry_run)
    data = load_mnist(data_dir, download=not args.no_download)  # a data error before anything long is printed

    print(f"{experiment.name} on {device}; recipe: {json.dumps(experiment.recipe)}")
    print_summary(experiment.make_net, device)
    run_args = {**vars(args), "data_dir": str(data_dir)}
    if not args.seeds:
        return train_seed(experiment, runs[0][0], data, runs[0][1], options, resume=resume, run_args=run_args)
    failures = sweep(experiment, runs, data, options, args, run_args)
    if failures:
        raise UserError(f"{failures} of {len(runs)} runs failed (each said why above); the same command runs "
                        f"them again and reuses the rest")


def main(argv=None):
    args = parse_args(argv)
    if args.recipe_help:
        print(recipes.help_text())
        return 0
    try:
        run(args)
    except (DataError, UserError, recipes.RecipeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
