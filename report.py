"""The README's tables and pictures, generated from real runs.

This script reads the
committed copies of the runs the README reports (results/runs/ on the CPU, results/runs-cuda/
on a GPU: each run's metrics.json in its own folder) and search.py's trials
(results/search.jsonl, and the console log of a GPU tuning pass, results/search-cuda.log),
rewrites the README between its marked sections (results, trials-margin, trials-frontier,
frontier, trials-frontier-cuda), and writes the pictures into assets/: each experiment's run
pictures (copied from runs/ when they are there), every seed of a sweep on one chart
(<model>-seeds.png), and the frontier of parameters against accuracy (frontier.png):

    python report.py                                   # results/ (+ pictures from runs/) -> README.md, assets/
    python report.py --runs results/runs runs --readme README.md --assets assets

To add a run to the README, copy its folder's metrics.json into results/runs/<model>-seed<seed>/.
"""
import argparse
import json
import re
import shutil
import statistics
import sys
from pathlib import Path

from plots import PICTURES, plot_frontier, plot_seeds
from records import load_trials
from recipe import describe as describe_recipe
from verdict import LAST_EPOCHS, accuracy_holds, min_last

FRESH_SEEDS_FROM = 1000  # trials use the tuning seeds 1, 2, 3, ...; the fresh seeds the README fixes start here
# A line of search.py's console output: what is left of a GPU tuning pass whose results file was lost.
TRIAL_LINE = re.compile(r"(?P<variant>\S+)\s+seed\s+(?P<seed>\d+)\s+(?P<params>[\d,]+) params\s+last 5: (?P<last>[\d. ]+?)"
                        r"\s+lowest (?P<lowest>[\d.]+)\s+(?P<seconds>[\d.]+) s/epoch")


def marks(section):
    return (f"<!-- {section}:start (written by report.py; do not edit by hand) -->", f"<!-- {section}:end -->")


START_MARK, END_MARK = marks("results")


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


def trial_sweeps(trials):
    """{(variant, params): {seed: lowest of the last 5 epochs}} of the trials on fresh seeds."""
    sweeps = {}
    for row in trials:
        if is_fresh(row):
            sweeps.setdefault((row["variant"], row["params"]), {})[row["seed"]] = row["min_last"]
    return {key: dict(sorted(seeds.items())) for key, seeds in sorted(sweeps.items())}



def group_trials(trials):
    """{variant: [runs sorted by seed]}, variants in order of parameters."""
    groups = {}
    for row in trials:
        groups.setdefault(row["variant"], []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: r["seed"])
    return dict(sorted(groups.items(), key=lambda item: (item[1][0]["params"], item[0])))


def trials_table(trials, question):
    """Markdown: one row per variant that answers `question`, every tuning seed's lowest of the last 5
    epochs."""
    lines = ["| variant | layers | params | recipe | s/epoch | lowest of last 5, by seed | mean | met |",
             "| --- | --- | ---: | --- | ---: | --- | ---: | ---: |"]
    for name, rows in group_trials([r for r in trials if not is_fresh(r)]).items():
        if rows[0]["question"] != question:
            continue
        lowest = [r["min_last"] for r in rows]
        by_seed = ", ".join(f"{r['seed']}: {r['min_last']:.2f}" for r in rows)
        lines.append(f"| {name} | `{rows[0]['spec']}` | {rows[0]['params']:,} | {describe_recipe(rows[0]['recipe'])} | "
                     f"{sum(r['seconds_per_epoch'] for r in rows) / len(rows):.1f} | "
                     f"{by_seed} | "
                     f"{sum(lowest) / len(lowest):.3f} | {sum(r['target_met'] for r in rows)}/{len(rows)} |")
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


def frontier_table(sweeps):
    """Markdown: the chance of holding the target against the parameter count: one row per fresh-seed
    sweep, smallest net first."""
    lines = ["| net | params | fresh seeds | target met | lowest of last 5: mean ± std | worst seed | seed by seed |",
             "| --- | ---: | --- | ---: | --- | --- | --- |"]
    for (name, params), lowest in sorted(sweeps.items(), key=lambda item: (item[0][1], item[0][0])):
        seeds, values = list(lowest), list(lowest.values())
        worst = min(lowest, key=lowest.get)
        spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
        lines.append(f"| {name} | {params:,} | {seeds[0]}–{seeds[-1]} | "
                     f"{sum(map(accuracy_holds, values))}/{len(values)} | "
                     f"{statistics.fmean(values):.3f}{spread} | {worst}: {lowest[worst]:.2f} | "
                     f"{' '.join(f'{v:.2f}' for v in values)} |")
    return "\n".join(lines)


def device_of(record):
    """'cpu' or 'cuda': from the provenance, or the top-level field of runs older than it."""
    return record.get("provenance", {}).get("device") or record.get("device", "cpu")


def load_runs(*dirs):
    """Completed, full runs grouped by experiment and device: {(model, device): [record, ...]} sorted by
    seed. A run found in several folders (same model, device, net size and seed) counts once: the first."""
    runs, seen = {}, set()
    for runs_dir in dirs:
        for path in sorted(Path(runs_dir).glob("*/metrics.json")):
            record = json.loads(path.read_text())
            key = (record["model"], device_of(record), record["params"], record["seed"])
            if record.get("dry_run") or "target_met" not in record or key in seen:
                continue  # smoke runs and unfinished runs are no results
            seen.add(key)
            runs.setdefault(key[:2], []).append(record)
    for records in runs.values():
        records.sort(key=lambda r: (r["params"], r["seed"]))
    return dict(sorted(runs.items()))


def fresh_sweeps(runs):
    """{(model, params): {seed: lowest of the last 5 epochs}} of every seed sweep (more than one seed) on
    the CPU in a load_runs() result; one net is one (model, params) pair, since a model file may change
    its net between sweeps (model4 did)."""
    sweeps = {}
    for (model, device), records in runs.items():
        for r in records if device == "cpu" else ():
            sweeps.setdefault((model, r["params"]), {})[r["seed"]] = min_last(r["epochs"])
    return {key: dict(sorted(seeds.items())) for key, seeds in sorted(sweeps.items()) if len(seeds) > 1}



def where_from(records):
    """The commits and model-file hashes the runs record, short, each once ('not recorded' before
    train.py recorded them)."""
    commits, hashes = [], []
    for r in records:
        where = r.get("provenance")
        commit = (f"{where['git_commit'][:7]}{'+dirty' if where['git_dirty'] else ''}" if where and
                  where["git_commit"] else "not recorded")
        digest = where["model_sha256"][:8] if where and where["model_sha256"] else "not recorded"
        commits += [commit] if commit not in commits else []
        hashes += [digest] if digest not in hashes else []
    return ", ".join(commits), ", ".join(hashes)


def by_net(records):
    """(params, records of that net) for each net size among the records, smallest first."""
    for params in sorted({r["params"] for r in records}):
        yield params, [r for r in records if r["params"] == params]


def results_table(runs):
    """Markdown: one row per experiment and device (and net size), then every run, folded."""
    lines = ["| experiment | device | params | seeds | target met | lowest of last 5: mean ± std (worst) | "
             "best | commit | model sha256 |",
             "| --- | --- | ---: | --- | ---: | --- | ---: | --- | --- |"]
    for (model, device), records in runs.items():
        for params, group in by_net(records):
            lowest = [min_last(r["epochs"]) for r in group]
            spread = f" ± {statistics.stdev(lowest):.3f}" if len(lowest) > 1 else ""
            seeds = [r["seed"] for r in group]
            seed_text = (f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1))
                         else ", ".join(map(str, seeds)))
            lines.append(f"| {model} | {device} | {params:,} | {seed_text} | {sum(r['target_met'] for r in group)}/"
                         f"{len(group)} | {statistics.fmean(lowest):.3f}{spread} ({min(lowest):.2f}) | "
                         f"{max(max(m['test_accuracy'] for m in r['epochs']) for r in group):.2f} | "
                         f"{' | '.join(where_from(group))} |")
    lines += ["", "<details><summary>Every run, seed by seed</summary>", "",
              "| experiment | device | params | seed | best | last 5 epochs | target | seconds |",
              "| --- | --- | ---: | ---: | ---: | --- | --- | ---: |"]
    for (model, device), records in runs.items():
        for r in records:
            last = " ".join(f"{m['test_accuracy']:.2f}" for m in r["epochs"][-LAST_EPOCHS:])
            lines.append(f"| {model} | {device} | {r['params']:,} | {r['seed']} | "
                         f"{max(m['test_accuracy'] for m in r['epochs']):.2f} | {last} | "
                         f"{'met' if r['target_met'] else 'missed'} | {sum(m['seconds'] for m in r['epochs']):.0f} |")
    lines += ["", "</details>"]
    return "\n".join(lines)


def replace_marked(text, body, section="results"):
    """Replace what stands between a section's markers; everything else stays byte for byte."""
    start_mark, end_mark = marks(section)
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        raise ValueError(f"the README lacks the markers {start_mark!r} ... {end_mark!r}")
    return text[:start + len(start_mark)] + "\n" + body + "\n" + text[end:]


def all_sweeps(runs, trials):
    """Every fresh-seed sweep on the CPU: the model files' (train.py) and the trial nets' (search.py); a
    trial net's sweep that a model file's repeats to the last digit (the same net, seeds and numbers)
    stands once, under the model's name."""
    models = fresh_sweeps(runs)
    repeated = {(params, tuple(lowest.items())) for (_, params), lowest in models.items()}
    return {**models, **{(name, params): lowest for (name, params), lowest in trial_sweeps(trials).items()
                         if (params, tuple(lowest.items())) not in repeated}}


def write_pictures(runs, pictures_dir, trials, assets):
    """Each experiment's run pictures (copied from the first of its runs found in pictures_dir, the
    largest net first), a seeds chart per sweep, and the frontier."""
    assets = Path(assets)
    assets.mkdir(exist_ok=True)
    for (model, device), records in runs.items():
        nets = list(by_net(records))
        if device == "cpu":
            found = (Path(pictures_dir) / f"{model}-seed{r['seed']}" for _, group in reversed(nets) for r in group)
            run_dir = next((d for d in found if (d / PICTURES[0]).is_file()), None)
            for picture in PICTURES if run_dir else ():
                shutil.copyfile(run_dir / picture, assets / f"{model}-{picture}")
        for params, group in nets:
            name = model + ("" if device == "cpu" else f"-{device}") + (f"-{params}" if len(nets) > 1 else "")
            if len(group) > 1:
                where = "CPU" if device == "cpu" else group[0]["provenance"]["device_name"]
                plot_seeds(f"{model}, {params:,} params, {where}", group, assets / f"{name}-seeds.png")
    if trials:
        plot_frontier([r for r in trials if not is_fresh(r)], all_sweeps(runs, trials), assets / "frontier.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", nargs="+", default=["results/runs", "results/runs-cuda"],
                        help="folders of runs (each run's metrics.json in its own folder): the committed copies of "
                             "every run the README reports")
    parser.add_argument("--pictures", default="runs", help="train.py's output folder, where the run pictures "
                        "of the README's experiments are copied from when present")
    parser.add_argument("--results", default="results/search.jsonl", help="search.py's trials")
    parser.add_argument("--trial-log", default="results/search-cuda.log", help="search.py's console output of the "
                        "GPU tuning pass (its own results file was lost; the frontier picture shows its trials too)")
    parser.add_argument("--readme", default="README.md", help="file whose marked sections are rewritten")
    parser.add_argument("--assets", default="assets", help="folder for the README's pictures ('' to skip)")
    args = parser.parse_args(argv)
    runs = load_runs(*args.runs)
    if not runs:
        print(f"error: no finished runs under {', '.join(args.runs)}", file=sys.stderr)
        return 1
    trials, logged = load_trials(args.results), load_trial_log(args.trial_log)
    readme = Path(args.readme)
    try:
        text = replace_marked(readme.read_text(), results_table(runs))
        for question in ("margin", "frontier") if trials else ():
            text = replace_marked(text, trials_table(trials, question), f"trials-{question}")
        if trials:
            text = replace_marked(text, frontier_table(all_sweeps(runs, trials)), "frontier")
        if logged:
            text = replace_marked(text, trial_log_table(logged), "trials-frontier-cuda")
        readme.write_text(text)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.assets:
        write_pictures(runs, args.pictures, trials + logged, args.assets)
    print(f"{readme}: results of {sum(len(r) for r in runs.values())} runs of "
          f"{', '.join(f'{model} ({device})' for model, device in runs)}, {len(trials)} trials, "
          f"{len(logged)} logged trials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
