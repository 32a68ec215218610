"""docs/frontier.md's and docs/trials.md's blocks, from the committed runs and the search's trials: the chance of
holding the target by net size, the levers against their yardsticks, tuning seeds against fresh ones, and every
trial and model file's sweep."""
import difflib
import json
import statistics
from pathlib import Path

from reports.evidence import (
    MODELS,
    SHARED_LOAD,
    command,
    cpu_type,
    current_sweep,
    describe_recipe,
    fitted,
    held,
    is_fresh,
    margins,
    net_name,
    passes,
    relative,
    runs_todays_code,
    seed_text,
    shared_machine,
    shown_run,
    spread,
    sweeps_of,
    teacher_text,
    todays_net,
)
from trainer.provenance import model_sha256
from trainer.recipe import SCHEMA, complete
from trainer.records import describe_commit, summary_lines, summary_of
from trainer.verdict import accuracy_holds, min_last

# The nets the pushes screened levers on, the first (the yardstick of the fourth and fifth pushes) first, the
# sixth push's (the 3,918 net with test-time shifts) last: a lever is one of them changed, and is measured
# against it.
LEVER_NETS = ("p3918-settled-fade-b64", "p3932-settled-fade-b64", "p3424-settled-fade-b64",
              "p3157-settled-fade-b64", "p4820-settled-fade-b64", "p3918-tta-settled-fade-b64")
NEAR_PARAMS = 100  # a net of other layers is a lever of a net within this many parameters, on the same recipe
LEVER_BAR = 0.05  # helps or hurts: a mean this far from the yardstick's (5 test images), the fifth push's bar


# --- docs/frontier.md's blocks -----------------------------------------------------------------

def model_sweeps(runs):
    """{(name, params): {seed: lowest of the last 5}} of every model file's net swept on fresh CPU seeds
    (a model file may change its net between sweeps: model4 did)."""
    sweeps = {}
    for (model, device), records in runs.items():
        for r in records if device == "cpu" and model in MODELS else ():
            if is_fresh(r):
                name = net_name(runs, model, r)
                sweeps.setdefault((name, r["params"]), {})[r["seed"]] = min_last(r["epochs"])
    return {key: dict(sorted(seeds.items())) for key, seeds in sorted(sweeps.items()) if len(seeds) > 1}


def trial_sweeps(trials):
    """{(variant, params): {seed: lowest of the last 5}} of the trials on fresh seeds: two or more, as a model
    file's (one seed has no spread to fit)."""
    sweeps = {}
    for row in trials:
        if is_fresh(row):
            sweeps.setdefault((row["variant"], row["params"]), {})[row["seed"]] = row["min_last"]
    return {key: dict(sorted(seeds.items())) for key, seeds in sorted(sweeps.items()) if len(seeds) > 1}


def all_sweeps(runs, trials):
    """Every fresh-seed sweep on the CPU: the model files' (train.py) and the trial nets' (the search's). A
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


def sweep_passes(runs, trials):
    """{net name: forward passes per test image} of every net all_sweeps names."""
    named = {net_name(runs, model, r): passes(r) for (model, device), records in runs.items() if model in MODELS
             for r in records}
    return {**named, **{row["variant"]: passes(row) for row in trials}}


def frontier_table(sweeps, passes_of):
    """Markdown: the chance of holding the target against the parameter count, one row per fresh-seed
    sweep, smallest net first: its forward passes per test image, K/N and the hold rate the seeds' margins
    give; the seeds themselves in a folded table after it."""
    lines = [("| net | params | passes per test image | fresh seeds | target met (95% interval) | hold rate from the "
              "margins (95% interval) | margin in images: mean ± std | lowest of last 5: mean ± std | worst seed |"),
             "| --- | ---: | ---: | --- | --- | --- | --- | --- | --- |"]
    by_seed = ["<details><summary>Seed by seed: each fresh seed's lowest of the last 5 epochs</summary>", "",
               "| net | params | fresh seeds | lowest of last 5, in seed order |", "| --- | ---: | --- | --- |"]
    for (name, params), lowest in sorted(sweeps.items(), key=lambda item: (item[0][1], item[0][0])):
        values = list(lowest.values())
        worst = min(lowest, key=lowest.get)
        lines.append(f"| {name} | {params:,} | {passes_of.get(name, 1)} | {seed_text(list(lowest))} | {held(values)} | "
                     f"{fitted(values)} | "
                     f"{margins(values)} | {spread(values)} | {worst}: {lowest[worst]:.2f} |")
        by_seed.append(f"| {name} | {params:,} | {seed_text(list(lowest))} | {' '.join(f'{v:.2f}' for v in values)} |")
    return "\n".join(lines + [""] + by_seed + ["", "</details>"])


def cross_cpu_table(runs, others):
    """Markdown: a seed run again on another CPU type (with the same code and thread count) beside the
    committed run of its sweep: how far the machine alone moves a run."""
    lines = ["| experiment | seed | threads | CPU of the sweep: lowest of last 5 | another CPU: lowest of last 5 |",
             "| --- | ---: | ---: | --- | --- |"]
    for other in sorted(others, key=lambda r: (r["model"], r["seed"])):
        swept = next((r for r in runs.get((other["model"], "cpu"), []) if r["seed"] == other["seed"]
                      and r["params"] == other["params"]), None)
        if swept is not None:
            lines.append(f"| {net_name(runs, other['model'], swept)} | {other['seed']} | "
                         f"{other['provenance']['threads']} | "
                         f"{swept['provenance']['device_name']}: {min_last(swept['epochs']):.2f} | "
                         f"{other['provenance']['device_name']}, {other['provenance']['cpu_capability']}: "
                         f"{min_last(other['epochs']):.2f} |")
    return "\n".join(lines)


def expect_table(runs, model="model4"):
    """Markdown: an experiment's fresh seeds by CPU type, then all of them: K/N and the fitted hold rate,
    which is what a seed of one's own can expect on a machine like one of these."""
    shown = shown_run(runs, model)
    swept = current_sweep(runs, model, shown) if shown else None
    if not swept:
        return ""
    lines = [("| CPU type | threads | fresh seeds | target met (95% interval) | hold rate from the margins (95% "
             "interval) | margin in images: mean ± std |"), "| --- | --- | --- | --- | --- | --- |"]
    by_cpu = {}
    for r in swept[0]:
        by_cpu.setdefault(cpu_type(r), []).append(r)
    for name, group in [*by_cpu.items(), ("all of them", swept[0])]:
        lowest = [min_last(r["epochs"]) for r in group]
        threads = ", ".join(map(str, sorted({r["provenance"]["threads"] for r in group})))
        lines.append(f"| {name} | {threads} | {seed_text(sorted(r['seed'] for r in group))} | {held(lowest)} | "
                     f"{fitted(lowest)} | {margins(lowest)} |")
    return "\n".join(lines)


def group_trials(trials):
    """{variant: [runs sorted by seed]}, variants in order of parameters."""
    groups = {}
    for row in trials:
        groups.setdefault(row["variant"], []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: r["seed"])
    return dict(sorted(groups.items(), key=lambda item: (item[1][0]["params"], item[0])))


def trial_cpu(row):
    """The CPU type a trial ran on, named as a run's is (evidence.cpu_type): the earliest lines name none."""
    return cpu_type({"provenance": row}) if row.get("device_name") else "not recorded"


def tuning_and_fresh_table(*trial_files):
    """Markdown: each trial net swept on fresh seeds, its mean on the tuning seeds that chose it (those of
    its own results file, whatever CPU type ran them) beside its mean on the fresh seeds: how much being
    chosen on tuning seeds flattered it."""
    lines = ["| net | params | tuning seeds | their mean | fresh seeds | their mean | fresh minus tuning |",
             "| --- | ---: | --- | ---: | --- | ---: | ---: |"]
    for trials in trial_files:
        for name, rows in group_trials(trials).items():
            tuning = [r for r in rows if not is_fresh(r)]
            fresh = [r for r in rows if is_fresh(r)]
            if tuning and fresh:
                before, after = (statistics.fmean(r["min_last"] for r in group) for group in (tuning, fresh))
                lines.append(f"| {name} | {rows[0]['params']:,} | {seed_text([r['seed'] for r in tuning])} | "
                             f"{before:.3f} | {seed_text([r['seed'] for r in fresh])} | {after:.3f} | "
                             f"{after - before:+.3f} |")
    return "\n".join(lines)


def layers_of(spec):
    """A spec's layers without its prefix: 'deskew:8k,P,10' -> ['8k', 'P', '10']."""
    return spec.rpartition(":")[2].split(",")


def prefixes_of(spec):
    """A spec's prefixes: 'deskew+tta:8k,P,10' -> {'deskew', 'tta'}."""
    return set(filter(None, spec.rpartition(":")[0].split("+")))


def parent_net(row, nets):
    """The name of the lever net (`nets`: name -> a tuning row of it) that `row`'s variant changes, or None:
    one with the same layers (its prefixes or recipe changed; the fewest prefixes and keys changed), else one with
    the same recipe and about the same parameters (its layers changed; the most alike layers). A lever net
    is a lever only of a net listed before it."""
    names = list(nets)
    candidates = names[:names.index(row["variant"])] if row["variant"] in nets else names
    recipe, layers = complete(row["recipe"]), layers_of(row["spec"])
    scored = []
    for name in candidates:
        base = nets[name]
        if layers_of(base["spec"]) == layers:
            changed = len(prefixes_of(base["spec"]) ^ prefixes_of(row["spec"]))
            scored.append(((0, changed + len(recipe_changes(base["recipe"], row["recipe"]))), name))
        elif complete(base["recipe"]) == recipe and abs(base["params"] - row["params"]) <= NEAR_PARAMS:
            likeness = difflib.SequenceMatcher(None, layers_of(base["spec"]), layers).ratio()
            scored.append(((1, -likeness), name))
    return min(scored, key=lambda item: (item[0], names.index(item[1])))[1] if scored else None


def recipe_changes(base, recipe):
    """`key=value` for each recipe key whose value differs from the base recipe's."""
    base, recipe = complete(base), complete(recipe)
    return [f"{key}={json.dumps(recipe[key], separators=(',', ':'))}" for key in SCHEMA if recipe[key] != base[key]]


def lever_rows(trials):
    """Each lever against its yardstick, on the tuning seeds both ran on one CPU type: a dict per (lever,
    CPU type) with the lever, the net, the seeds, both means and the lever's fresh seeds; and the levers
    that ran on no seed and CPU type of their yardstick."""
    tuning = [r for r in trials if not is_fresh(r)]
    nets = {name: next(r for r in tuning if r["variant"] == name) for name in LEVER_NETS
            if any(r["variant"] == name for r in tuning)}
    lowest, seconds = {}, {}
    for r in tuning:
        lowest.setdefault((r["variant"], trial_cpu(r)), {})[r["seed"]] = r["min_last"]
        seconds.setdefault((r["variant"], trial_cpu(r)), {})[r["seed"]] = r.get("seconds_per_epoch")
    rows, apart = [], []
    for (variant, cpu), seeds in lowest.items():
        first = next(r for r in tuning if r["variant"] == variant)
        parent = parent_net(first, nets)
        if parent is None:
            continue
        base = lowest.get((parent, cpu), {}) if cpu != "not recorded" else {}
        common = sorted(set(seeds) & set(base))
        if not common:
            apart.append(variant)
            continue
        changes = ([f"layers `{first['spec']}`"] if first["spec"] != nets[parent]["spec"] else []) + \
            [teacher_text(first["recipe"]["teacher"]) if change.startswith("teacher=") else f"`{change}`"
             for change in recipe_changes(nets[parent]["recipe"], first["recipe"])]
        fresh = dict(sorted((r["seed"], r["min_last"]) for r in trials if r["variant"] == variant and is_fresh(r)))
        rows.append({"lever": variant, "changes": changes, "net": parent, "params": nets[parent]["params"],
                     "cpu": cpu, "seeds": common, "mean": statistics.fmean(seeds[s] for s in common),
                     "yardstick": statistics.fmean(base[s] for s in common), "fresh": fresh,
                     "seconds": mean_seconds(seconds[variant, cpu], common),
                     "yardstick_seconds": mean_seconds(seconds[parent, cpu], common)})
    rows.sort(key=lambda row: (LEVER_NETS.index(row["net"]), row["yardstick"] - row["mean"], row["lever"]))
    return rows, sorted(set(apart) - {row["lever"] for row in rows})


def mean_seconds(by_seed, seeds):
    """The mean seconds an epoch over `seeds`, or None where a line does not record them."""
    values = [by_seed.get(seed) for seed in seeds]
    return statistics.fmean(values) if values and None not in values else None


def lever_verdict(row):
    """'helps', 'hurts' or 'no clear change' by LEVER_BAR, and the lever's fresh seeds where it earned them."""
    gap = round(row["mean"] - row["yardstick"], 3)
    verdict = "helps" if gap >= LEVER_BAR else "hurts" if gap <= -LEVER_BAR else "no clear change"
    if row["fresh"]:
        verdict += f"; fresh seeds {seed_text(list(row['fresh']))}: {held(list(row['fresh'].values()))}"
    return verdict


def levers_table(trials):
    """Markdown: one row per lever and CPU type, what it changes in which net, on which seeds, its mean
    lowest-of-last-5 against its yardstick's on the same seeds and CPU type, and the verdict; then the
    levers that could not be set against their yardstick."""
    rows, apart = lever_rows(trials)
    lines = [("| lever: what it changes | net (its yardstick) | seeds, CPU type | mean against the yardstick | "
             "seconds an epoch (the yardstick's) | verdict |"), "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        time = "not recorded" if None in (row["seconds"], row["yardstick_seconds"]) else \
            f"{row['seconds']:.1f} ({row['yardstick_seconds']:.1f})"
        lines.append(f"| {row['lever']}: {', '.join(row['changes'])} | {row['net']} ({row['params']:,}) | "
                     f"{seed_text(row['seeds'])}, {row['cpu']} | {row['mean'] - row['yardstick']:+.3f} "
                     f"({row['mean']:.3f} against {row['yardstick']:.3f}) | {time} | {lever_verdict(row)} |")
    if apart:
        lines += ["", (f"Not set against their yardstick (it ran on none of their seeds on their CPU type, or "
                      f"their CPU type is not recorded): {', '.join(apart)}.")]
    return "\n".join(lines)


def frontier_blocks(runs, trial_files, again, others):
    """docs/frontier.md's blocks. trial_files: the rows of each results file of the search (each chose its
    own finalists); again: trials run again on another CPU type, which the lever table sets side by side."""
    trials = [row for rows in trial_files for row in rows]
    return {"frontier": frontier_table(all_sweeps(runs, trials), sweep_passes(runs, trials)),
            "cross-cpu": cross_cpu_table(runs, others), "expect": expect_table(runs),
            "levers": levers_table(trials + list(again)), "tuning-and-fresh": tuning_and_fresh_table(*trial_files)}


# --- docs/trials.md's blocks -------------------------------------------------------------------

def sweep_blocks(model, groups, relative_of):
    """Each sweep's summary as train.py prints it, rendered from its runs, folded, with its command; its last
    line names the commit, not the model file's hash (records older than the hash that leaves out the
    docstring hashed the whole file, so one net's code stood under several hashes)."""
    blocks = []
    for group in groups:
        seeds = [r["seed"] for r in group]
        summary = summary_of(model, group)
        shared = [shared_machine(r) for r in group]
        load = ("# the machine's load was not recorded for these runs: other work may have shared the machine"
                if None in shared else f"# {sum(shared)} of {len(group)} runs shared the machine with other work "
                                       f"(a load at their end of their threads + {SHARED_LOAD:g} or more): their "
                                       f"seconds are longer than alone")
        lines = [f"$ {command(model, seeds, group[0])}", load, *summary_lines(summary)[1:-1], where_ran(summary)]
        blocks += [(f"<details><summary>Sweep {seed_text(seeds)}: target met on {summary['target_met']}/"
                   f"{summary['runs']} seeds</summary>"), "",
                   f"From the runs' records in [`{relative_of(group[0])}`]({relative_of(group[0])}):", "",
                   "```text", *lines, "```", "", "</details>", ""]
    return "\n".join(blocks).rstrip("\n")


def where_ran(summary):
    """A sweep's device, threads, torch and commits: summary_lines' last line less the model file's hash."""
    where = summary["provenance"]
    commits = sorted({describe_commit(row["git_commit"], row["git_dirty"]) for row in summary["seeds"]})
    return (f"{where['device']} ({where['device_name']}), {where['threads']} thread{'s' * (where['threads'] != 1)}, "
            f"torch {where['torch']}; commit {', '.join(commits)}")


def net_code_line(model, groups, records, root):
    """One hash for the net the sweeps ran: today's model file's code, its docstring aside, where a record of
    the net (`records`) ran it, which a test checks against the file at each sweep's commit; where none did,
    the file has changed since and the commits say what ran. None where the file is absent."""
    path = Path(root) / f"{model}.py"
    if not path.is_file():
        return None
    commits = ", ".join(dict.fromkeys(r["provenance"]["git_commit"][:7] for group in groups for r in group))
    if not runs_todays_code(model, records, root):
        return (f"`{model}.py` has changed since these sweeps: each ran the file at the commit its last line names "
                f"({commits}; `git show COMMIT:{model}.py`).")
    return (f"Every sweep above ran the net of today's `{model}.py`: its code, the docstring aside (report.py "
            f"rewrites the docstring's Result), has sha256 `{model_sha256(path)[:12]}` today and at each sweep's "
            f"commit ({commits}; `git show COMMIT:{model}.py`).")


def sweep_summaries(runs, root):
    """docs/trials.md's blocks: each model's fresh-seed sweeps as train.py summarized them."""
    blocks = {}
    for model in MODELS:
        shown = shown_run(runs, model)
        groups = sweeps_of(runs, model) if shown else []
        if groups:
            today = todays_net(runs, model)
            code = net_code_line(model, groups, [r for r in runs[(model, "cpu")] if today(r)], root)
            blocks[f"{model}-sweeps"] = sweep_blocks(model, groups, lambda r: relative(
                r["path"].parent, "docs/trials.md", root)) + (f"\n\n{code}" if code else "")
    return blocks


def trials_table(trials, question):
    """Markdown: a row per variant that answers `question` and CPU type it ran on (a CPU type takes its own
    paths from a seed), every tuning seed's lowest of the last 5."""
    lines = ["| variant | layers | params | recipe | CPU | s/epoch | lowest of last 5, by seed | mean | met |",
             "| --- | --- | ---: | --- | --- | ---: | --- | ---: | ---: |"]
    for name, rows in group_trials([r for r in trials if not is_fresh(r) and r["question"] == question]).items():
        for cpu in dict.fromkeys(map(trial_cpu, rows)):
            group = [r for r in rows if trial_cpu(r) == cpu]
            lowest = [r["min_last"] for r in group]
            by_seed = ", ".join(f"{r['seed']}: {r['min_last']:.2f}" for r in group)
            lines.append(f"| {name} | `{group[0]['spec']}` | {group[0]['params']:,} | "
                         f"{describe_recipe(group[0]['recipe'])} | {cpu} | "
                         f"{statistics.fmean(r['seconds_per_epoch'] for r in group):.1f} | {by_seed} | "
                         f"{statistics.fmean(lowest):.3f} | {sum(map(accuracy_holds, lowest))}/{len(group)} |")
    return "\n".join(lines)


def trial_log_table(rows):
    """Markdown: one row per variant of a console log of the search, every seed's lowest of the last 5 epochs."""
    lines = ["| variant | params | lowest of last 5, by seed | mean | met |", "| --- | ---: | --- | ---: | ---: |"]
    for name, group in group_trials(rows).items():
        lowest = [r["min_last"] for r in group]
        by_seed = ", ".join(f"{r['seed']}: {r['min_last']:.2f}" for r in group)
        lines.append(f"| {name} | {group[0]['params']:,} | {by_seed} | {statistics.fmean(lowest):.3f} | "
                     f"{sum(map(accuracy_holds, lowest))}/{len(lowest)} |")
    return "\n".join(lines)


def trials_blocks(runs, trials, logged, root):
    """docs/trials.md's blocks: the model files' sweeps and every trial (trials: every results file's rows)."""
    return {**sweep_summaries(runs, root), "trials-margin": trials_table(trials, "margin"),
            "trials-frontier": trials_table(trials, "frontier"), "trials-frontier-cuda": trial_log_table(logged)}
