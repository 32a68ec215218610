"""One seed of an experiment trained into its folder, and a sweep of seeds (here, or on Ray through sweeps).

A run's folder holds metrics.json and checkpoint.pt after every epoch, then best.pt, model.pt and plots;
a sweep reuses a finished run and continues a broken one, each only when it is the very same experiment.
"""
import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from data import Split
from trainer.engine import Options, Training, TrainingError, fit, set_determinism
from trainer.experiments import load_experiment, model_path
from trainer.records import (
    SavedRun,
    confusion_matrix,
    finished_record,
    machine_load,
    mistakes,
    provenance,
    read_saved_run,
    save_atomic,
    saved_run_differs,
    summary_lines,
    summary_of,
    write_json,
)
from trainer.sweeps import Run, Where, run_all
from trainer.types import Recipe, RunRecord
from trainer.verdict import target_met


class Experiment(NamedTuple):
    """What a run trains: a name, a way to build the net, the complete recipe, the model file (if any)."""
    name: str
    make_net: Callable[[], nn.Module]
    recipe: Recipe
    model_file: Path | None = None


def save_plots(record: RunRecord, test_x: torch.Tensor, run_dir: Path) -> None:
    """Plots are a bonus: if they fail, say so in one line and keep the metrics."""
    try:
        from trainer import plots
        plots.save_run_plots(record, test_x, run_dir)
    except Exception as err:
        print(f"Plots skipped ({type(err).__name__}: {err})")


def train_seed(experiment: Experiment, seed: int, data: tuple[Split, ...], run_dir: str | Path, options: Options,
               resume: dict[str, Any] | None = None, again: str | None = None,
               run_args: dict[str, Any] | None = None) -> RunRecord:
    """Train one seed of one experiment into run_dir (metrics.json and checkpoint.pt after every epoch,
    best.pt, model.pt and plots at the end); returns the run's record. `again` is what a Ctrl-C's line
    adds on how to go on (default: the --resume command of this run)."""
    name, run_dir = experiment.name, Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / "checkpoint.pt"
    # The same seed gives the same numbers only on the same device type, CPU type and thread count.
    # A RunRecord once the first epoch has set its params, before it is first written or returned.
    record = cast(RunRecord, {"model": name, "seed": seed, "params": None, "recipe": experiment.recipe,
                              "dry_run": options.dry_run,
                              "provenance": provenance(experiment.model_file, options.device), "epochs": [],
                              "machine": {"start": machine_load()}})
    best = max((m["test_accuracy"] for m in resume["metrics"]), default=-1.0) if resume else -1.0

    def weights(training: Training) -> dict[str, Any]:
        return {"model": name, "params": training.params, "epoch": len(training.metrics),
                "test_accuracy": training.metrics[-1]["test_accuracy"], "model_state": training.weights()}

    def after_epoch(training: Training) -> None:
        nonlocal best
        record.update({"params": training.params, "epochs": training.metrics})
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
        if record["epochs"] or resume:  # where no epoch ended here, resume is set
            advice = f"; continue with: python train.py --resume {checkpoint_path}" if again is None else again
            print(f"\nInterrupted. The checkpoint of epoch {len(record['epochs'] or cast(dict, resume)['metrics'])} is "
                  f"{checkpoint_path}{advice}")
        else:
            print("\nInterrupted before the first epoch ended: no checkpoint was written.")
        raise
    (_, _), (test_x, test_y) = data
    predictions = cast(torch.Tensor, training.predictions)  # fit returns with the last epoch's
    labels = test_y[:len(predictions)]
    # The last epoch's errors, so that its pictures can be drawn again from the record and MNIST alone.
    record.update({"params": training.params, "epochs": training.metrics,
                   "confusion": confusion_matrix(labels, predictions), "mistakes": mistakes(labels, predictions)})
    record["machine"]["end"] = machine_load()
    save_atomic(weights(training), run_dir / "model.pt")  # the last epoch's weights
    if training.target_met is not None:
        record["target_met"] = training.target_met
    write_json(record, run_dir / "metrics.json")
    save_plots(record, test_x, run_dir)
    return record


def sweep_seed(experiment: Experiment, seed: int, position: str, data: tuple[Split, ...], run_dir: Path,
               options: Options, fresh: bool = False, run_args: dict[str, Any] | None = None,
               saved: RunRecord | None = None) -> RunRecord:
    """One seed of a --seeds sweep: its finished run reused, its broken run continued from checkpoint.pt,
    or (if neither is there, or what is there is another experiment, or `fresh`) trained from scratch.
    `saved`: the finished record the driver holds, for a worker whose disk has none (a cluster's)."""
    header, found = f"== seed {seed} ({position})", SavedRun("none")
    again = ""  # the sweep says how to go on
    if not fresh and not options.dry_run:
        expected = provenance(experiment.model_file, options.device)
        found = read_saved_run(run_dir, experiment.name, experiment.recipe, seed, expected)
        if found.state == "none" and saved and saved_run_differs(saved, experiment.recipe, seed, expected) is None:
            found = SavedRun("finished", record=saved)
    if found.record is not None:  # finished
        print(f"{header}: reused, finished in {run_dir} ==")
        print(target_met(found.record["params"], found.record["epochs"])[1])
        return found.record
    if found.checkpoint is not None:  # broken
        print(f"{header}: continued from {run_dir / 'checkpoint.pt'} ==")
        return train_seed(experiment, seed, data, run_dir, options, resume=found.checkpoint, again=again,
                          run_args=run_args)
    print(f"{header}: trained again, since in {run_dir} {found.why} ==" if found.why else f"{header} ==")
    return train_seed(experiment, seed, data, run_dir, options, again=again, run_args=run_args)


def sweep_task(name: str, recipe: Recipe, seed: int, position: str, options: Options, fresh: bool,
               run_args: dict[str, Any] | None, saved: RunRecord | None = None, *, folder: str | Path,
               data: tuple[Split, ...]) -> RunRecord:
    """A sweep's run wherever it goes (this process or a Ray worker), in `folder`: the experiment built
    from its model file there, then sweep_seed."""
    set_determinism(options.device)
    module, _ = load_experiment(name)
    experiment = Experiment(name, module.Net, recipe, model_path(name))
    return sweep_seed(experiment, seed, position, data, Path(folder), options, fresh, run_args, saved)


def sweep(experiment: Experiment, runs: list[tuple[int, Path]], data: tuple[Split, ...], options: Options,
          args: argparse.Namespace, run_args: dict[str, Any]) -> int:
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
    records: dict[int, RunRecord] = {}

    def done(task: Run, record: RunRecord) -> None:
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
