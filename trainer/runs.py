"""One seed of an experiment trained into its folder, and a sweep of seeds (here, or on Ray through sweeps).

A run's folder holds metrics.json and checkpoint.pt after every epoch, best.pt at its best test epoch yet,
then model.pt and the pictures; a sweep reuses a finished run and continues a broken one, each only when it
is the very same experiment (provenance.saved_run_differs).
"""
import argparse
import dataclasses
from pathlib import Path
from typing import Any, NamedTuple, cast

import torch
from tqdm.auto import tqdm

from data import Splits
from trainer.checkpoints import save_atomic, write_json
from trainer.engine import Options, Training, TrainingError, set_determinism
from trainer.experiments import Experiment, import_model_file, model_path
from trainer.provenance import busy_machine, machine_load, provenance, saved_run_differs
from trainer.records import (
    SavedRun,
    confusion_matrix,
    finished_record,
    mistakes,
    read_saved_run,
    summary_lines,
    summary_of,
)
from trainer.sweeps import Run, Spread, run_all
from trainer.types import Recipe, RunRecord
from trainer.verdict import LAST_EPOCHS, target_met


class RunFolder:
    """Where one run keeps itself: after every epoch checkpoint.pt (all a resume needs), best.pt when the test
    accuracy is the run's best yet, and metrics.json (its record so far); at the end model.pt and the pictures.
    Every file is written whole or not at all, and each .pt is the run's own `Training.saved`."""

    def __init__(self, folder: Path, record: RunRecord, best: float, int8: bool = False) -> None:
        self.folder, self.record, self.best, self.int8 = folder, record, best, int8
        self.checkpoint = folder / "checkpoint.pt"

    def after_epoch(self, training: Training) -> None:
        self.record.update({"params": training.params, "epochs": training.metrics})
        if self.int8 and len(training.metrics) > training.epochs - LAST_EPOCHS:  # --int8 tests the window's weights
            from trainer.export import window_file
            save_atomic(training.saved(), self.folder / window_file(len(training.metrics)))
        if training.metrics[-1]["test_accuracy"] > self.best:
            self.best = training.metrics[-1]["test_accuracy"]
            save_atomic(training.saved(), self.folder / "best.pt")
        save_atomic(training.saved(state=True), self.checkpoint)
        write_json(self.record, self.folder / "metrics.json")

    def finish(self, training: Training, data: Splits) -> RunRecord:
        """The last epoch's errors (so that its pictures can be drawn again from the record and MNIST alone), the
        verdict and the end's machine load into the record; with --int8 the window's int8 accuracies; model.pt
        (the last epoch's weights); the pictures."""
        test_x, test_y = data.test
        predictions = cast(torch.Tensor, training.predictions)  # run returns with the last epoch's
        labels = test_y[:len(predictions)]
        self.record.update({"params": training.params, "epochs": training.metrics,
                            "confusion": confusion_matrix(labels, predictions),
                            "mistakes": mistakes(labels, predictions)})
        self.record["machine"]["end"] = machine_load()
        if training.target_met is not None:
            self.record["target_met"] = training.target_met
        if self.int8 and not training.options.dry_run:
            from trainer.export import int8_window
            self.record["int8"] = int8_window(self.folder, training.params, training.metrics, data)
            print(f"int8 ({self.record['int8']['onnxruntime']} on this CPU): {self.record['int8']['verdict']}")
        save_atomic(training.saved(), self.folder / "model.pt")
        write_json(self.record, self.folder / "metrics.json")
        save_pictures(self.record, test_x, self.folder)
        return self.record


def save_pictures(record: RunRecord, test_x: torch.Tensor, folder: Path) -> None:
    """A run's pictures are a bonus: if they fail, say so in one line and keep the metrics."""
    try:
        from trainer import plots
        plots.save_run_plots(record, test_x, folder)
    except Exception as err:
        print(f"Plots skipped ({type(err).__name__}: {err})")


def train_seed(experiment: Experiment, seed: int, data: Splits, run_dir: str | Path, options: Options,
               resume: dict[str, Any] | None = None, again: str | None = None,
               run_args: dict[str, Any] | None = None) -> RunRecord:
    """Train one seed of one experiment into run_dir (a RunFolder); returns the run's record. `again` is what
    a Ctrl-C's line adds on how to go on (default: the --resume command of this run)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # The same seed gives the same numbers only on the same device type, CPU type and thread count.
    where = provenance(experiment.model_file, options.device)
    record = cast(RunRecord, {"model": experiment.name, "seed": seed, "params": None, "recipe": experiment.recipe,
                              "dry_run": options.dry_run, "provenance": where, "epochs": [],
                              "machine": {"start": machine_load()}})
    best = max((m["test_accuracy"] for m in (resume or {}).get("metrics", [])), default=-1.0)
    folder = RunFolder(run_dir, record, best, int8=bool((run_args or {}).get("int8")))
    about = {"model": experiment.name, "seed": seed, "recipe": experiment.recipe, "args": run_args or {},
             "dry_run": options.dry_run, "provenance": where}
    busy = busy_machine(torch.get_num_threads()) if options.device.type == "cpu" else None
    if busy:
        print(busy)
    training = Training(experiment.make_net, experiment.recipe, data, seed, options, about)
    if resume:
        print(f"Resuming {experiment.name} seed {seed} after epoch {resume['epoch']} of {training.epochs}")
    try:
        training.run(resume, folder.after_epoch)
    except TrainingError as err:
        written = f"the last good checkpoint is {folder.checkpoint}" if record["epochs"] or resume else \
            "no checkpoint was written"
        raise TrainingError(f"{experiment.name} seed {seed}, {err}; stopped, {written}") from None
    except KeyboardInterrupt:
        if record["epochs"] or resume:  # where no epoch ended here, resume is set
            advice = f"; continue with: python train.py --resume {folder.checkpoint}" if again is None else again
            print(f"\nInterrupted. The checkpoint of epoch {len(training.metrics)} is {folder.checkpoint}{advice}")
        else:
            print("\nInterrupted before the first epoch ended: no checkpoint was written.")
        raise
    return folder.finish(training, data)


class SeedTask(NamedTuple):
    """A sweep's run of one seed, as it travels to wherever it runs: the experiment by name and complete
    recipe, the seed and its place in the sweep, how it trains, whether to train afresh, the command's
    arguments, and the finished record the driver holds (for a worker whose disk has none: a cluster's)."""
    name: str
    recipe: Recipe
    seed: int
    position: str
    options: Options
    fresh: bool = False
    run_args: dict[str, Any] | None = None
    saved: RunRecord | None = None


def sweep_task(task: SeedTask, *, folder: str | Path, data: Splits) -> RunRecord:
    """One seed of a --seeds sweep, in `folder`, wherever it runs (this process or a Ray worker): its finished
    run reused, its broken run continued from checkpoint.pt, or (if neither is there, or what is there is
    another experiment, or task.fresh) trained from scratch."""
    set_determinism(task.options.device)
    experiment = Experiment(task.name, import_model_file(task.name).Net, task.recipe, model_path(task.name))
    header, found, run_dir = f"== seed {task.seed} ({task.position})", SavedRun("none"), Path(folder)
    if not task.fresh and not task.options.dry_run:
        expected = provenance(experiment.model_file, task.options.device)
        found = read_saved_run(run_dir, task.name, task.recipe, task.seed, expected)
        if found.state == "none" and task.saved and \
                saved_run_differs(task.saved, task.recipe, task.seed, expected) is None:
            found = SavedRun("finished", record=task.saved)
        if (task.run_args or {}).get("int8") and found.record is not None and "int8" not in found.record:
            found = SavedRun("none", why="it has no int8 accuracies (--int8)")
    if found.record is not None:
        print(f"{header}: reused, finished in {run_dir} ==")
        print(target_met(found.record["params"], found.record["epochs"])[1])
        return found.record
    if found.checkpoint is not None:
        print(f"{header}: continued from {run_dir / 'checkpoint.pt'} ==")
    else:
        print(f"{header}: trained again, since in {run_dir} {found.why} ==" if found.why else f"{header} ==")
    # again="": the sweep itself says how to go on after a Ctrl-C
    return train_seed(experiment, task.seed, data, run_dir, task.options, resume=found.checkpoint, again="",
                      run_args=task.run_args)


def sweep(experiment: Experiment, runs: list[tuple[int, Path]], data: Splits, options: Options,
          args: argparse.Namespace, run_args: dict[str, Any]) -> int:
    """A --seeds sweep: its runs one after another here, or on Ray (--jobs, --address), each record written
    by this process; then the summary. Returns the number of runs that failed (the rest go on)."""
    spread = Spread.from_args(args)
    spread.check_device(options.device)
    if spread.on_ray:
        options = dataclasses.replace(options, progress=False)  # a bar per run would garble its log
    tasks = [Run(f"{experiment.name} seed {seed}", sweep_task,
                 (SeedTask(experiment.name, experiment.recipe, seed, f"{i}/{len(runs)}", options, args.fresh, run_args,
                           None if args.fresh or not spread.address else finished_record(run_dir)),), run_dir)
             for i, (seed, run_dir) in enumerate(runs, 1)]
    records: dict[int, RunRecord] = {}

    def done(task: Run, record: RunRecord) -> None:
        records[record["seed"]] = record
        if spread.address:  # a cluster's worker wrote in its scratch folder: the record comes home here
            task.folder.mkdir(parents=True, exist_ok=True)
            write_json(record, task.folder / "metrics.json")
        if spread.on_ray:
            verdict = target_met(record["params"], record["epochs"])[1] if not options.dry_run else "dry run"
            tqdm.write(f"seed {record['seed']} on {record['provenance'].get('node', '?')}: {verdict}")

    try:
        failures = run_all(tasks, data, spread, done)
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
