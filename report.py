"""Every table, log and picture of README.md and docs/, generated from the committed results.

It reads results/: each run's metrics.json (results/runs/ on the CPU, results/runs-cuda/ on a
GPU; results/refactor-check/new, seeds run again on another CPU type), search.py's trials
(results/search.jsonl; results/search-again.jsonl, trials run again on another CPU type; results/search-cuda.log, the console output of a GPU tuning pass), the
benchmark's output (results/bench-cpu.txt) and the GPU device logs. It
rewrites the marked blocks of README.md, docs/frontier.md and docs/speed.md (the text between
<!-- NAME:start ... --> and <!-- NAME:end -->; nothing else is touched), the Result paragraph of each
model file's docstring, and draws the pictures in assets/. Each block names the run it came from; logs are the console's lines for each epoch,
rendered from the run's record.

Usage:
    python report.py                        # results/ -> README.md, docs/*.md, assets/
    python report.py --check                # say which blocks differ from what results/ give; exit 1 if any
    python report.py --data-dir ../shared/data   # MNIST for the pictures of mistakes (default: as train.py)

To add a run, copy its folder's metrics.json into results/runs/<model>-seed<seed>/.
"""
import argparse
import json
import os
import re
import statistics
import sys
import textwrap
from pathlib import Path

import plots
from recipe import SCHEMA, complete
from records import load_trials, summary_lines, summary_of
from verdict import LAST_EPOCHS, accuracy_holds, fitted_hold_rate, margin, min_last, target_met, wilson

HERE = Path(__file__).resolve().parent
MODELS = ("model1", "model2", "model3", "model4")
FRESH_SEEDS_FROM = 1000  # trials use the tuning seeds 1, 2, 3, ...; the fresh seeds start here
SHARED_LOAD = 0.75  # a 1-minute load this far above a run's own threads at its end: other work shared the machine
# A line of search.py's console output: what is left of a GPU tuning pass whose results file was lost.
TRIAL_LINE = re.compile(r"(?P<variant>\S+)\s+seed\s+(?P<seed>\d+)\s+(?P<params>[\d,]+) params\s+last 5: (?P<last>[\d. ]+?)"
                        r"\s+lowest (?P<lowest>[\d.]+)\s+(?P<seconds>[\d.]+) s/epoch")
# The lines of a device log that carry its numbers.
DEVICE_NUMBERS = re.compile(r"^(== |torch |whole process|training epoch speed-up|net\s+params|model\d\s|"
                            r"one profiled|\d+ passed|TARGET|target met)")


def marks(section):
    return (f"<!-- {section}:start (written by report.py; do not edit by hand) -->", f"<!-- {section}:end -->")


def replace_marked(text, body, section):
    """Replace what stands between a section's markers; everything else stays byte for byte."""
    start_mark, end_mark = marks(section)
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        raise ValueError(f"the markers {start_mark!r} ... {end_mark!r} are missing")
    return text[:start + len(start_mark)] + "\n" + body + "\n" + text[end:]


# --- reading results/ ---------------------------------------------------------------------------

def device_of(record):
    """'cpu' or 'cuda': from the provenance, or the top-level field of runs older than it."""
    return record.get("provenance", {}).get("device") or record.get("device", "cpu")


def load_runs(*dirs):
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


def is_fresh(row):
    return row["seed"] >= FRESH_SEEDS_FROM


def shown_run(runs, model):
    """The run an experiment's section shows: its default command's (seed 1, CPU), else its first."""
    records = runs.get((model, "cpu"), [])
    return next((r for r in records if r["seed"] == 1), records[0] if records else None)


def sweeps_of(runs, model, params):
    """The CPU sweeps of a model's net: its fresh-seed runs, one group per command (the same CPU, CPU
    type and thread count, consecutive seeds)."""
    groups = []
    for r in runs.get((model, "cpu"), []):
        if r["params"] != params or not is_fresh(r):
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
    sweep = [r for group in sweeps_of(runs, model, shown["params"]) for r in group]
    if not sweep:
        return None
    return sweep, [min_last(r["epochs"]) for r in sweep], min(sweep, key=lambda r: min_last(r["epochs"]))


def hardware(record):
    where = record.get("provenance", {})
    return where.get("device_name"), where.get("cpu_capability"), where.get("threads")


# --- numbers -------------------------------------------------------------------------------------

def seed_text(seeds):
    runs, start = [], seeds[0]
    for previous, seed in zip(seeds, seeds[1:] + [None]):
        if seed != previous + 1:
            runs.append(f"{start}–{previous}" if previous > start else str(start))
            start = seed
    return ", ".join(runs)


def held(lowest):
    """'K/N (lo–hi%)' of a list of lowest-of-last-5 values: the share that held, with its 95% interval."""
    met = sum(map(accuracy_holds, lowest))
    lo, hi = wilson(met, len(lowest))
    return f"{met}/{len(lowest)} ({max(0.0, 100 * lo):.0f}–{min(100.0, 100 * hi):.0f}%)"


def fitted(lowest):
    """'82% (71–92%)': the hold rate that a normal fit of the seeds' margins gives, with its 95% interval."""
    if len(lowest) < 2:
        return "n/a"
    rate, lo, hi = fitted_hold_rate([margin(v) for v in lowest])
    return f"{percent(rate)}% ({percent(lo)}–{percent(hi)}%)"


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


def describe_recipe(recipe):
    """One line a reader can take in: schedule, rate, batch, regularization, augmentation."""
    r = complete(recipe)
    if r["schedule"] == "multistep":
        schedule = f"steps after {','.join(map(str, r['milestones']))}"
    elif r["schedule"] == "cosine" and r["warmup"]:
        end = f" by epoch {r['anneal_end']}" if r["anneal_end"] is not None else ""
        schedule = f"one-cycle ({r['warmup']} warm-up, cosine to {r['floor']:g}{end})"
    elif r["schedule"] == "piecewise":
        schedule = "piecewise " + " ".join(f"{f:g}@{e:g}" for e, f in r["points"])
    else:
        schedule = r["schedule"]
    parts = [schedule, f"lr {r['lr']}", f"batch {r['batch_size']}", f"weight decay {r['weight_decay']:g}"]
    if r["momentum"] != SCHEMA["momentum"][0]:
        parts.append(f"momentum {r['momentum']:g}")
    if r["label_smoothing"]:
        parts.append(f"smoothing {r['label_smoothing']}")
    if r["ema"]:
        parts.append(f"weight average {r['ema']}")
    if r["bn_momentum"] is not None:
        parts.append(f"BatchNorm momentum {r['bn_momentum']:g}")
    if not any(r[key] for key in ("rotate", "translate", "scale", "brightness", "contrast")):
        return "; ".join(parts + ["no augmentation"])
    augment = f"rotate {r['rotate']:g}°, shift {r['translate']:g}"
    augment += f", zoom {r['scale']:g}" if r["scale"] else ""
    augment += f", brightness {r['brightness']:g}, contrast {r['contrast']:g}" if r["brightness"] or r["contrast"] \
        else ""
    augment += " fading out over epochs {}–{}".format(*r["augment_fade"]) if r["augment_fade"] else ""
    return "; ".join(parts + [augment])


# --- the README's blocks -----------------------------------------------------------------------

def results_table(runs):
    """Markdown: one row per experiment's current net (the net of its default run): its fresh seeds on
    the CPU, or its one run where it has no sweep."""
    lines = ["| experiment | params | fresh seeds: target met (95% interval) | hold rate from the margins (95% "
             "interval) | margin in images: mean ± std | lowest of last 5: mean ± std | worst seed |",
             "| --- | ---: | --- | --- | --- | --- | --- |"]
    for model in MODELS:
        shown = shown_run(runs, model)
        if shown is None:
            continue
        swept = current_sweep(runs, model, shown)
        if swept:
            _, lowest, worst = swept
            lines.append(f"| [{model}](#{model}) | {shown['params']:,} | {held(lowest)} | {fitted(lowest)} | "
                         f"{margins(lowest)} | {spread(lowest)} | {worst['seed']}: {min_last(worst['epochs']):.2f} |")
        else:
            lines.append(f"| [{model}](#{model}) | {shown['params']:,} | none; its one run (seed {shown['seed']}) "
                         f"{'met' if shown['target_met'] else 'missed'} the target | n/a | "
                         f"{margin(min_last(shown['epochs'])):+d} (that run) | "
                         f"{min_last(shown['epochs']):.2f} (that run) | n/a |")
    return "\n".join(lines)


def expect_table(runs, model="model4"):
    """Markdown: an experiment's fresh seeds by CPU type, then all of them: K/N and the fitted hold rate,
    which is what a seed of one's own can expect on a machine like one of these."""
    shown = shown_run(runs, model)
    swept = current_sweep(runs, model, shown) if shown else None
    if not swept:
        return ""
    lines = ["| CPU type | threads | fresh seeds | target met (95% interval) | hold rate from the margins (95% "
             "interval) | margin in images: mean ± std |", "| --- | --- | --- | --- | --- | --- |"]
    by_cpu = {}
    for r in swept[0]:
        by_cpu.setdefault(cpu_type(r), []).append(r)
    for name, group in [*by_cpu.items(), ("all of them", swept[0])]:
        lowest = [min_last(r["epochs"]) for r in group]
        threads = ", ".join(map(str, sorted({r["provenance"]["threads"] for r in group})))
        lines.append(f"| {name} | {threads} | {seed_text(sorted(r['seed'] for r in group))} | {held(lowest)} | "
                     f"{fitted(lowest)} | {margins(lowest)} |")
    return "\n".join(lines)


def cpu_type(record):
    where = record["provenance"]
    return where["device_name"] + (f", {where['cpu_capability']}" if where.get("cpu_capability") else "")


def machine(record):
    where = record.get("provenance", {})
    if not where:
        return "not recorded"
    device = where["device_name"] if where["device"] == "cuda" else \
        f"CPU {where['device_name']}{', ' + where['cpu_capability'] if where.get('cpu_capability') else ''}"
    commit = where["git_commit"][:7] + ("+dirty" if where["git_dirty"] else "") if where.get("git_commit") else \
        "not recorded"
    threads = f"{where['threads']} thread{'s' if where['threads'] != 1 else ''}"
    return f"{device}; {threads}; torch {where['torch']}; commit {commit}"


def command(model, seeds, record):
    threads = "OMP_NUM_THREADS=1 " if record.get("provenance", {}).get("threads") == 1 else ""
    device = " --device cuda" if device_of(record) == "cuda" else ""
    if len(seeds) == 1:
        return f"{threads}python train.py --model {model}{'' if seeds[0] == 1 else f' --seed {seeds[0]}'}{device}"
    return f"{threads}python train.py --model {model} --seeds {seed_text(seeds).replace('–', '-')}{device}"


def log_block(record, relative):
    """A run's console lines for each epoch and its verdict, rendered from its record, folded."""
    epochs = record["epochs"]
    verdict = target_met(record["params"], epochs)[1]
    lines = [f"$ {command(record['model'], [record['seed']], record)}",
             f"# {record['model']}, seed {record['seed']}, {record['params']:,} params; {machine(record)}",
             f"# recipe: {describe_recipe(record['recipe'])}"]
    lines.append(load_line(record))
    lines.append("# each epoch: its rate at the start | training loss (epoch mean) and accuracy | the test pass | seconds")
    for m in epochs:
        lines.append(f"EPOCH: {m['epoch']:<2} | lr {m['lr']:<7.4g}| train: loss {m['train_loss']:.4f}, accuracy "
                     f"{m['train_accuracy']:.2f}% | Test set: Average loss: {m['test_loss']:.4f}, Accuracy: "
                     f"{m['test_correct']}/{m['test_total']} ({m['test_accuracy']:.2f}%) | {m['seconds']:.1f} s")
    lines.append(verdict)
    return "\n".join([f"<details><summary>Log: <code>{escape(verdict)}</code></summary>", "",
                      f"From [`{relative}`]({relative}), every epoch as train.py recorded it:", "", "```text",
                      *lines, "```", "", "</details>"])


def shared_machine(record):
    """Whether other work ran beside a run, by the 1-minute load at its end (its own threads count towards it);
    None where its record kept no load."""
    machine = record.get("machine") or {}
    if not machine.get("end"):
        return None
    return machine["end"]["load"][0] >= record["provenance"]["threads"] + SHARED_LOAD


def load_line(record):
    """A log's line on how busy the machine was, which its seconds depend on."""
    shared = shared_machine(record)
    if shared is None:
        return "# the machine's load was not recorded for this run: other work may have shared the machine"
    machine = record["machine"]
    return (f"# the machine's load (1-minute average): {machine['start']['load'][0]:.2f} at the start, "
            f"{machine['end']['load'][0]:.2f} at the end, on {machine['end']['cores']} cores: " +
            ("other work shared the machine, so these seconds are longer than a run alone takes" if shared else
             "the run had the machine to itself"))


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sweep_blocks(model, groups, relative_of):
    """Each sweep's summary as train.py prints it, rendered from its runs, folded, with its command."""
    blocks = []
    for group in groups:
        seeds = [r["seed"] for r in group]
        summary = summary_of(model, group)
        shared = [shared_machine(r) for r in group]
        load = ("# the machine's load was not recorded for these runs: other work may have shared the machine"
                if None in shared else f"# {sum(shared)} of {len(group)} runs shared the machine with other work "
                                       f"(by the load at their end): their seconds are longer than alone")
        lines = [f"$ {command(model, seeds, group[0])}", load, *summary_lines(summary)[1:]]
        blocks += [f"<details><summary>Sweep {seed_text(seeds)}: target met on {summary['target_met']}/"
                   f"{summary['runs']} seeds</summary>", "",
                   f"From the runs' records in [`{relative_of(group[0])}`]({relative_of(group[0])}):", "",
                   "```text", *lines, "```", "", "</details>", ""]
    return "\n".join(blocks).rstrip("\n")


def result_line(model, runs):
    """The Result bullet of an experiment: parameters, its default run's numbers, its sweeps' K/N and fit."""
    return f"- **Result**: {result_text(model, runs)}"


def result_text(model, runs):
    """An experiment's measured result in a few sentences: the README's Result and its model file's docstring."""
    shown = shown_run(runs, model)
    last = " ".join(f"{m['test_accuracy']:.2f}" for m in shown["epochs"][-LAST_EPOCHS:])
    best = max(shown["epochs"], key=lambda m: m["test_accuracy"])
    text = (f"{shown['params']:,} parameters. Seed {shown['seed']}: best test accuracy "
            f"{best['test_accuracy']:.2f}% (epoch {best['epoch']}), last {LAST_EPOCHS} epochs {last}: target "
            f"{'met' if shown['target_met'] else 'missed'}.")
    swept = current_sweep(runs, model, shown)
    if swept:
        sweep, lowest, worst = swept
        text += (f" Fresh seeds {seed_text(sorted(r['seed'] for r in sweep))}: target met on {held(lowest)}; hold "
                 f"rate from the margins {fitted(lowest)}; lowest of the last {LAST_EPOCHS} epochs {spread(lowest)}, "
                 f"worst seed {worst['seed']} at {min_last(worst['epochs']):.2f}%.")
        by_cpu = {}
        for r in sweep:
            by_cpu.setdefault(cpu_type(r), []).append(min_last(r["epochs"]))
        if len(by_cpu) > 1:
            text += " By CPU type: " + "; ".join(f"{name}: {held(values)}, from the margins {fitted(values)}"
                                                 for name, values in by_cpu.items()) + "."
    return text


def docstring_result(model, runs):
    """The Result paragraph of a model file's docstring: the README's Result, with where it comes from."""
    shown = shown_run(runs, model)
    sources = " and its fresh seeds' runs beside it" if current_sweep(runs, model, shown) else ""
    text = (f"Result (results/runs/{shown['path'].name}/metrics.json{sources}, written into this docstring by "
            f"report.py): {result_text(model, runs)}")
    return textwrap.fill(text.replace("–", "-"), width=100, break_on_hyphens=False)


RESULT_PARAGRAPH = re.compile(r"^Result \(.*?(?=\n\n)", re.MULTILINE | re.DOTALL)


def replace_result(text, paragraph, name):
    """A model file's source with its docstring's Result paragraph (up to the next blank line) replaced."""
    if len(RESULT_PARAGRAPH.findall(text)) != 1:
        raise ValueError(f"{name}: its docstring needs one paragraph that begins 'Result ('")
    return RESULT_PARAGRAPH.sub(lambda _: paragraph, text)


# --- docs/frontier.md's blocks -----------------------------------------------------------------

def group_trials(trials):
    """{variant: [runs sorted by seed]}, variants in order of parameters."""
    groups = {}
    for row in trials:
        groups.setdefault(row["variant"], []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: r["seed"])
    return dict(sorted(groups.items(), key=lambda item: (item[1][0]["params"], item[0])))


def trials_table(trials, question):
    """Markdown: one row per variant that answers `question`, every tuning seed's lowest of the last 5."""
    lines = ["| variant | layers | params | recipe | s/epoch | lowest of last 5, by seed | mean | met |",
             "| --- | --- | ---: | --- | ---: | --- | ---: | ---: |"]
    for name, rows in group_trials([r for r in trials if not is_fresh(r)]).items():
        if rows[0]["question"] != question:
            continue
        lowest = [r["min_last"] for r in rows]
        by_seed = ", ".join(f"{r['seed']}: {r['min_last']:.2f}" for r in rows)
        lines.append(f"| {name} | `{rows[0]['spec']}` | {rows[0]['params']:,} | {describe_recipe(rows[0]['recipe'])} | "
                     f"{statistics.fmean(r['seconds_per_epoch'] for r in rows):.1f} | {by_seed} | "
                     f"{statistics.fmean(lowest):.3f} | {sum(map(accuracy_holds, lowest))}/{len(rows)} |")
    return "\n".join(lines)


def tuning_and_fresh_table(trials):
    """Markdown: each trial net swept on fresh seeds, its mean on every tuning seed it ran on the CPU
    beside its mean on the fresh seeds: how much being chosen on tuning seeds flattered it."""
    lines = ["| net | params | tuning seeds | their mean | fresh seeds | their mean | fresh minus tuning |",
             "| --- | ---: | --- | ---: | --- | ---: | ---: |"]
    for name, rows in group_trials(trials).items():
        tuning = [r for r in rows if not is_fresh(r)]
        fresh = [r for r in rows if is_fresh(r)]
        if tuning and fresh:
            before, after = (statistics.fmean(r["min_last"] for r in group) for group in (tuning, fresh))
            lines.append(f"| {name} | {rows[0]['params']:,} | {seed_text([r['seed'] for r in tuning])} | "
                         f"{before:.3f} | {seed_text([r['seed'] for r in fresh])} | {after:.3f} | "
                         f"{after - before:+.3f} |")
    return "\n".join(lines)


def trial_log_table(rows):
    """Markdown: one row per variant of a search.py console log, every seed's lowest of the last 5 epochs."""
    lines = ["| variant | params | lowest of last 5, by seed | mean | met |", "| --- | ---: | --- | ---: | ---: |"]
    for name, group in group_trials(rows).items():
        lowest = [r["min_last"] for r in group]
        by_seed = ", ".join(f"{r['seed']}: {r['min_last']:.2f}" for r in group)
        lines.append(f"| {name} | {group[0]['params']:,} | {by_seed} | {statistics.fmean(lowest):.3f} | "
                     f"{sum(map(accuracy_holds, lowest))}/{len(lowest)} |")
    return "\n".join(lines)


def net_name(runs, model, params):
    """'model4', or 'model4, an earlier net' for a net the model file no longer has (model4 had three)."""
    shown = shown_run(runs, model)
    return model if shown is None or shown["params"] == params else f"{model}, an earlier net"


def model_sweeps(runs):
    """{(name, params): {seed: lowest of the last 5}} of every model file's net swept on fresh CPU seeds
    (a model file may change its net between sweeps: model4 did)."""
    sweeps = {}
    for (model, device), records in runs.items():
        for r in records if device == "cpu" and model in MODELS else ():
            if is_fresh(r):
                name = net_name(runs, model, r["params"])
                sweeps.setdefault((name, r["params"]), {})[r["seed"]] = min_last(r["epochs"])
    return {key: dict(sorted(seeds.items())) for key, seeds in sorted(sweeps.items()) if len(seeds) > 1}


def trial_sweeps(trials):
    """{(variant, params): {seed: lowest of the last 5}} of the trials on fresh seeds."""
    sweeps = {}
    for row in trials:
        if is_fresh(row):
            sweeps.setdefault((row["variant"], row["params"]), {})[row["seed"]] = row["min_last"]
    return {key: dict(sorted(seeds.items())) for key, seeds in sorted(sweeps.items())}


def all_sweeps(runs, trials):
    """Every fresh-seed sweep on the CPU: the model files' (train.py) and the trial nets' (search.py). A
    trial net's seeds that a model file's sweep repeats to the last digit (the same net, seeds and
    numbers) stand once, under the model's name."""
    models = model_sweeps(runs)
    repeated = {(params, seed, value) for (_, params), lowest in models.items() for seed, value in lowest.items()}
    others = {}
    for (name, params), lowest in trial_sweeps(trials).items():
        rest = {seed: value for seed, value in lowest.items() if (params, seed, value) not in repeated}
        if rest:
            others[(name, params)] = rest
    return {**models, **others}


def frontier_table(sweeps):
    """Markdown: the chance of holding the target against the parameter count, one row per fresh-seed
    sweep, smallest net first: K/N, the hold rate the seeds' margins give, and the seeds themselves."""
    lines = ["| net | params | fresh seeds | target met (95% interval) | hold rate from the margins (95% interval) "
             "| margin in images: mean ± std | lowest of last 5: mean ± std | worst seed | seed by seed |",
             "| --- | ---: | --- | --- | --- | --- | --- | --- | --- |"]
    for (name, params), lowest in sorted(sweeps.items(), key=lambda item: (item[0][1], item[0][0])):
        values = list(lowest.values())
        worst = min(lowest, key=lowest.get)
        lines.append(f"| {name} | {params:,} | {seed_text(list(lowest))} | {held(values)} | {fitted(values)} | "
                     f"{margins(values)} | {spread(values)} | {worst}: {lowest[worst]:.2f} | "
                     f"{' '.join(f'{v:.2f}' for v in values)} |")
    return "\n".join(lines)


# --- docs/speed.md's blocks --------------------------------------------------------------------

def file_block(path, relative, keep=None):
    """A committed output file in a text block, all of it or its lines that `keep` matches."""
    lines = Path(path).read_text().splitlines()
    if keep is not None:
        lines = [line for line in lines if keep.match(line)]
    return "\n".join([f"From [`{relative}`]({relative}):", "", "```text", *lines, "```"])


def gpu_sweeps_table(runs):
    """Markdown: every seed sweep on a GPU: its device, net, K/N, lowest of the last 5 and worst seed."""
    lines = ["| experiment | params | device | seeds | target met (95% interval) | lowest of last 5: mean ± std | "
             "worst seed |", "| --- | ---: | --- | --- | --- | --- | --- |"]
    for (model, device), records in runs.items():
        if device != "cuda":
            continue
        for params in sorted({r["params"] for r in records}):
            group = [r for r in records if r["params"] == params]
            lowest = [min_last(r["epochs"]) for r in group]
            worst = min(group, key=lambda r: min_last(r["epochs"]))
            lines.append(f"| {net_name(runs, model, params)} | {params:,} | {group[0]['provenance']['device_name']} | "
                         f"{seed_text([r['seed'] for r in group])} | {held(lowest)} | {spread(lowest)} | "
                         f"{worst['seed']}: {min_last(worst['epochs']):.2f} |")
    return "\n".join(lines)


# --- the documents and pictures ----------------------------------------------------------------

def relative(path, document, root):
    """`path` as a link from `document` (a path under `root`)."""
    return Path(os.path.relpath(Path(path).resolve(), (Path(root) / document).parent.resolve())).as_posix()


def readme_blocks(runs, root):
    blocks = {"results": results_table(runs)}
    for model in MODELS:
        shown = shown_run(runs, model)
        if shown is None:
            continue
        blocks[f"{model}-result"] = result_line(model, runs)
        blocks[f"{model}-log"] = log_block(shown, relative(shown["path"] / "metrics.json", "README.md", root))
    return blocks


def sweep_summaries(runs, root):
    """docs/frontier.md's blocks: each model's fresh-seed sweeps as train.py summarized them."""
    blocks = {}
    for model in MODELS:
        shown = shown_run(runs, model)
        groups = sweeps_of(runs, model, shown["params"]) if shown else []
        if groups:
            blocks[f"{model}-sweeps"] = sweep_blocks(model, groups,
                                                     lambda r: relative(r["path"].parent, "docs/frontier.md", root))
    return blocks


def cross_cpu_table(runs, others):
    """Markdown: a seed run again on another CPU type (with the same code and thread count) beside the
    committed run of its sweep: how far the machine alone moves a run."""
    lines = ["| experiment | seed | threads | CPU of the sweep: lowest of last 5 | another CPU: lowest of last 5 |",
             "| --- | ---: | ---: | --- | --- |"]
    for other in sorted(others, key=lambda r: (r["model"], r["seed"])):
        swept = next((r for r in runs.get((other["model"], "cpu"), []) if r["seed"] == other["seed"]
                      and r["params"] == other["params"]), None)
        if swept is not None:
            lines.append(f"| {other['model']} | {other['seed']} | {other['provenance']['threads']} | "
                         f"{swept['provenance']['device_name']}: {min_last(swept['epochs']):.2f} | "
                         f"{other['provenance']['device_name']}, {other['provenance']['cpu_capability']}: "
                         f"{min_last(other['epochs']):.2f} |")
    return "\n".join(lines)


def again_table(trials, again):
    """Markdown: each trial net run again on another CPU type (results/search-again.jsonl), a row per CPU
    type its tuning seeds ran on, with the mean over seeds 1-3 and 1-5 where that CPU type ran them all:
    levers screened on one CPU type are compared with a yardstick from the same one."""
    lines = ["| variant | CPU | lowest of last 5, by seed | mean of seeds 1–3 | mean of seeds 1–5 |",
             "| --- | --- | --- | ---: | ---: |"]
    names = {r["variant"] for r in again}
    by_cpu = {}
    for row in trials + list(again):
        if row["variant"] in names and not is_fresh(row):
            by_cpu.setdefault((row["variant"], row["device_name"]), {})[row["seed"]] = row["min_last"]
    for (name, cpu), lowest in sorted(by_cpu.items()):
        by_seed = ", ".join(f"{seed}: {lowest[seed]:.2f}" for seed in sorted(lowest))
        means = [f"{statistics.fmean(lowest[s] for s in seeds):.3f}" if all(s in lowest for s in seeds) else "–"
                 for seeds in (range(1, 4), range(1, 6))]
        lines.append(f"| {name} | {cpu} | {by_seed} | {' | '.join(means)} |")
    return "\n".join(lines)


def frontier_blocks(runs, trials, logged, others, root, again=()):
    return {**sweep_summaries(runs, root), "frontier": frontier_table(all_sweeps(runs, trials)), "cross-cpu": cross_cpu_table(runs, others),
            "expect": expect_table(runs),
            "trials-again": again_table(trials, again), "trials-margin": trials_table(trials, "margin"),
            "trials-frontier": trials_table(trials, "frontier"), "tuning-and-fresh": tuning_and_fresh_table(trials),
            "trials-frontier-cuda": trial_log_table(logged)}


def speed_blocks(runs, results, root):
    blocks = {"gpu-sweeps": gpu_sweeps_table(runs)}
    for name, path, keep in (("bench-cpu", results / "bench-cpu.txt", None),
                             ("bench-sweeps", results / "bench-sweeps.txt", None),
                             ("gpu-h200", results / "runs-cuda" / "device-check-h200.log", DEVICE_NUMBERS),
                             ("gpu-h100", results / "runs-cuda" / "device-check.log", DEVICE_NUMBERS)):
        if path.is_file():
            blocks[name] = file_block(path, relative(path, "docs/speed.md", root), keep)
    return blocks


def write_pictures(runs, trials, assets, images):
    """Each experiment's pictures from its shown run's record (its mistakes drawn from `images`, the test
    set, when given), a seeds chart of each sweep, the frontier; any other picture in assets/ is removed."""
    assets.mkdir(exist_ok=True)
    made = set()
    for model in MODELS:
        shown = shown_run(runs, model)
        if shown is None:
            continue
        plots.plot_curves(shown, assets / f"{model}-curves.png")
        made.add(f"{model}-curves.png")
        if "mistakes" in shown:
            plots.plot_confusion(shown["confusion"], assets / f"{model}-confusion.png", plots.run_title(shown))
            made.add(f"{model}-confusion.png")
            if images is not None:
                plots.plot_misclassified(images, shown["mistakes"], assets / f"{model}-misclassified.png",
                                         plots.run_title(shown))
            made.add(f"{model}-misclassified.png")
        for device, suffix in (("cpu", ""), ("cuda", "-cuda")):
            group = [r for r in runs.get((model, device), []) if r["params"] == shown["params"] and is_fresh(r)]
            if len(group) > 1:
                where = "CPU" if device == "cpu" else group[0]["provenance"]["device_name"]
                plots.plot_seeds(f"{model}, {shown['params']:,} params, {where}", group,
                                 assets / f"{model}{suffix}-seeds.png")
                made.add(f"{model}{suffix}-seeds.png")
    named = {params: model for model in MODELS if (shown := shown_run(runs, model))
             for params in [shown["params"]]}
    sweeps = all_sweeps(runs, trials)
    if sweeps:
        plots.plot_frontier([r for r in trials if not is_fresh(r)], sweeps, named, assets / "frontier.png")
        made.add("frontier.png")
    for stale in set(p.name for p in assets.glob("*.png")) - made:
        (assets / stale).unlink()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(HERE / "results"), help="the committed results (default: results)")
    parser.add_argument("--root", default=str(HERE), help="the folder holding README.md, docs/ and assets/ "
                        "(default: this repository)")
    parser.add_argument("--data-dir", help="MNIST, for the pictures of mistakes (default: $MNIST_DATA_DIR, else "
                        "./data; without it they keep their last drawing)")
    parser.add_argument("--check", action="store_true", help="write nothing; name each block that differs from "
                        "what results/ give, and exit 1 if any does")
    args = parser.parse_args(argv)
    results, root = Path(args.results), Path(args.root)
    try:
        runs = load_runs(results / "runs", results / "runs-cuda")
    except (ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    trials, logged = load_trials(results / "search.jsonl"), load_trial_log(results / "search-cuda.log")
    others = [r for records in load_runs(results / "refactor-check" / "new").values() for r in records]
    documents = {"README.md": readme_blocks(runs, root),
                 "docs/frontier.md": frontier_blocks(runs, trials, logged, others, root,
                                                     load_trials(results / "search-again.jsonl")),
                 "docs/speed.md": speed_blocks(runs, results, root)}
    documents.update({f"{model}.py": {"Result": docstring_result(model, runs)} for model in MODELS
                      if shown_run(runs, model) and (root / f"{model}.py").is_file()})
    stale, written = [], {}
    for name, blocks in documents.items():  # every document checked before any is written
        path = root / name
        try:
            text = path.read_text()
            new = text
            replace = (lambda text, body, _: replace_result(text, body, name)) if name.endswith(".py") else \
                replace_marked
            for section, body in blocks.items():
                new = replace(new, body, section)
        except (OSError, ValueError) as err:
            print(f"error: {path}: {err}", file=sys.stderr)
            return 1
        stale += [f"{name}: {section}" for section, body in blocks.items() if replace(text, body, section) != text]
        written[path] = new
    for path, new in written.items() if not args.check else ():
        path.write_text(new)
    if args.check:
        print("\n".join(f"differs from results/: {where}" for where in stale) or "every block is as results/ give it")
        return 1 if stale else 0
    write_pictures(runs, trials, root / "assets", test_images(args.data_dir))
    print(f"{', '.join(documents)}: {len(stale)} blocks rewritten; {sum(len(r) for r in runs.values())} runs, "
          f"{len(trials)} trials, {len(logged)} logged trials")
    return 0


def test_images(data_dir):
    """MNIST's test images, or None (and a line saying so) where they cannot be read."""
    from data import DataError, load_mnist, resolve_data_dir
    try:
        return load_mnist(resolve_data_dir(data_dir), download=False)[1][0]
    except DataError as err:
        print(f"The pictures of mistakes keep their last drawing ({err})")
        return None


if __name__ == "__main__":
    sys.exit(main())
