"""The documents regenerated: every generated block of README.md and docs/, the Result paragraph of each
model file's docstring, each model file's pooled sweep summary and the pictures in assets/, from results/.

It reads results/: each run's metrics.json (results/runs/ on the CPU, results/runs-cuda/ on a GPU;
results/refactor-check/*/new, seeds run again), the search's trials (results/search.jsonl and each push's
file; results/search-again.jsonl, trials run again on another CPU type; results/search-cuda.log, the
console output of a GPU tuning pass), the benchmarks' output and the GPU device logs. It rewrites only
the marked blocks (the text between <!-- NAME:start ... --> and <!-- NAME:end -->). Each block names the
run it came from; logs are rendered from each run's record (run_log.py).

This module writes the README's blocks and the model files' Results; docs/frontier.md's and
docs/trials.md's blocks come from research_pages.py, docs/speed.md's from speed_page.py, and the runs
they all read, with the words they share, from evidence.py. The command: `python -m reports` (cli.py).
A run gets into results/ by `train.py --record`.
"""
import json
import re
import sys
import textwrap
from pathlib import Path

from lab.trials import load_trials
from reports import charts
from reports.evidence import (
    MODELS,
    cpu_type,
    current_sweep,
    fitted,
    held,
    is_fresh,
    load_runs,
    load_trial_log,
    meets_bar,
    net_name,
    net_of,
    passes,
    relative,
    runs_todays_code,
    seed_text,
    shared_machine,
    shown_run,
    spread,
    todays_net,
)
from reports.hold_rates import fitted_hold_rate, margin, wilson
from reports.research_pages import all_sweeps, frontier_blocks, sweep_passes, trials_blocks, trials_table
from reports.run_log import log_block
from reports.speed_page import GPU_GOALS, GPU_LOGS, device_of_log, speed_blocks
from trainer import plots
from trainer.provenance import model_sha256
from trainer.records import summary_of
from trainer.verdict import LAST_EPOCHS, accuracy_holds, min_last

# The search's results files in results/, each with the screens and fresh sweeps of its own rule (a fifth push
# file apart, since its rule fixed its own CPU type); results/search-again.jsonl holds trials run again elsewhere.
TRIAL_FILES = ("search.jsonl", "fifth-push.jsonl", "sixth-push.jsonl", "seventh-push.jsonl")
TUNING_FILE = "seventh-push-tuning.jsonl"  # the seventh push's tuning (seeds 11-13): trial tables, not levers
# The write-up this project grew from, as far as it identifies itself (its title; it names no author, date or
# address): its best net's parameter count and the test accuracy of each of its 15 epochs, from its section
# "Model3" (its log counts epochs from 0) and its "Best Model Architecture".
REFERENCE = {"title": "MNIST Model Experiments", "params": 6136,
             "variant": "ref6136-onecycle-ema",
             "test_accuracy": [98.08, 98.59, 98.96, 98.96, 99.23, 99.24, 99.37, 99.37, 99.41, 99.43, 99.42, 99.40,
                               99.42, 99.40, 99.40]}


def marks(section):
    return (f"<!-- {section}:start (written by report.py; do not edit by hand) -->", f"<!-- {section}:end -->")


def replace_marked(text, body, section):
    """Replace what stands between a section's markers; everything else stays byte for byte."""
    start_mark, end_mark = marks(section)
    start, end = text.find(start_mark), text.find(end_mark)
    if start < 0 or end < start:
        raise ValueError(f"the markers {start_mark!r} ... {end_mark!r} are missing")
    return text[:start + len(start_mark)] + "\n" + body + "\n" + text[end:]


# --- the README's blocks -----------------------------------------------------------------------

def prose(text, indent=""):
    """A generated paragraph wrapped at 120 characters, a list item's later lines indented by `indent`."""
    return textwrap.fill(text, 120, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def reference_fresh(trials):
    """The reference write-up's net's runs on its fresh seeds under this protocol, in seed order."""
    return sorted((r for r in trials if r["variant"] == REFERENCE["variant"] and is_fresh(r)), key=lambda r: r["seed"])


def results_table(runs, trials=()):
    """Markdown, six columns: one row per experiment's current net (the net of its default run), from its fresh
    seeds on the CPU, or from its one run where it has no sweep; then the reference write-up's net, from its
    fresh seeds under this protocol (`trials`), where it has run."""
    lines = [("| experiment | params | passes per test image | fresh seeds held | hold rate, fitted | worst seed's "
              "lowest of last 5 |"),
             "| --- | ---: | ---: | --- | --- | --- |"]
    for model in MODELS:
        shown = shown_run(runs, model)
        if shown is None:
            continue
        swept = current_sweep(runs, model, shown)
        if swept:
            _, lowest, worst = swept
            lines.append(f"| [{model}](#{model}) | {shown['params']:,} | {passes(shown)} | {held(lowest)} | "
                         f"{fitted(lowest)} | {min_last(worst['epochs']):.2f} (seed {worst['seed']}) |")
        else:
            lines.append(f"| [{model}](#{model}) | {shown['params']:,} | {passes(shown)} | no sweep: seed "
                         f"{shown['seed']} {'held' if shown['target_met'] else 'missed'} | n/a | "
                         f"{min_last(shown['epochs']):.2f} (seed {shown['seed']}) |")
    fresh = reference_fresh(trials)
    if fresh:
        lowest, worst = [r["min_last"] for r in fresh], min(fresh, key=lambda r: r["min_last"])
        lines.append(f"| [the course write-up's net](docs/frontier.md#the-net-to-beat), model3's recipe | "
                     f"{REFERENCE['params']:,} | 1 | {held(lowest)} | {fitted(lowest)} | "
                     f"{worst['min_last']:.2f} (seed {worst['seed']}) |")
    return "\n".join(lines)


def machines_text(runs):
    """Under the results table: the CPU types and thread counts its sweeps ran on, each type named once."""
    parts = []
    for model in MODELS:
        shown = shown_run(runs, model)
        swept = shown and current_sweep(runs, model, shown)
        if not swept:
            continue
        kinds = {}
        for r in swept[0]:
            kinds.setdefault((cpu_type(r), r["provenance"]["threads"]), []).append(r["seed"])
        parts.append(f"{model}'s on " + " and on ".join(
            f"{name}{'' if ',' in name else ' (the records name no family or instruction set)'}, "
            f"{threads} thread{'s' * (threads != 1)} ({len(seeds)} seeds)" for (name, threads), seeds in kinds.items()))
    return prose("The sweeps behind the table ran on CPUs: " + ". ".join(parts) + ".") if parts else ""


# The published anchor for tiny MNIST nets on microcontrollers, by its own figures: one run each (its README).
ANCHOR = ("| [cpldcpu/BitNetMCU](https://github.com/cpldcpu/BitNetMCU) (published: 16x16 inputs, 60–90 epochs, one "
          "run each) | one run | n/a | 99.44% in 2-, 4- and 8-bit weights (99.28% with 7.3 KB, 99.55% with 11.0 KB) | "
          "n/a | 9.3 KB |")


def int8_table(runs):
    """Markdown: each model file's sweeps whose runs were also tested in int8 (--int8), float and int8 side by
    side, what int8 cost in test images, and the int8 weights' bytes, then the published anchor; empty without
    such runs."""
    lines = [("| experiment | fresh seeds, CPU | float: held, fitted | int8: held, fitted | int8's cost, images a "
              "window epoch | int8 weights |"),
             "| --- | --- | --- | --- | --- | ---: |"]
    for model in MODELS:
        tested = [r for r in runs.get((model, "cpu"), []) if "int8" in r and is_fresh(r)]
        if not tested:
            continue
        floats = [min_last(r["epochs"]) for r in tested]
        ints = [min(row["test_accuracy"] for row in r["int8"]["epochs"]) for r in tested]
        cost = [row["test_correct"] - float_row["test_correct"] for r in tested
                for row, float_row in zip(r["int8"]["epochs"], r["epochs"][-LAST_EPOCHS:])]
        cpu = tested[0]["int8"]["cpu"]
        shifts = f" ({passes(tested[0])} passes a test image: test-time shifts)" if passes(tested[0]) > 1 else ""
        seeds = seed_text(sorted(r["seed"] for r in tested))
        lines.append(f"| [{model}](#{model}){shifts} | {seeds}, {cpu_type(tested[0])}"
                     f" ({'with' if cpu['vnni'] else 'no'} VNNI), {tested[0]['provenance']['threads']} thread | "
                     f"{held(floats)}, {fitted(floats)} | {held(ints)}, {fitted(ints)} | "
                     f"{sum(cost) / len(cost):+.1f} (from {min(cost):+d} to {max(cost):+d}) | "
                     f"{tested[0]['int8']['int8_tensors']['weights']:,} bytes |")
    return "\n".join([*lines, ANCHOR]) if len(lines) > 2 else "No sweep has been tested in int8 yet."


def result_line(model, runs, root, plain=()):
    """The Result bullet of an experiment: parameters, its default run's numbers, its sweeps' K/N and fit, and
    what its file reaches alone."""
    # The file alone: the README's notebook section; each CPU type's share: a link, the first screen names them.
    return prose(f"- **Result**: {result_text(model, runs, root, by_cpu=False)}", "  ")


def result_text(model, runs, root, plain=(), by_cpu=True):
    """An experiment's measured result in a few sentences: the README's Result and its model file's docstring
    (`plain`: the runs of model files alone, plain_loop.py's; `by_cpu`: each CPU type's K/N and fit, else a link
    to them)."""
    shown = shown_run(runs, model)
    if not runs_todays_code(model, [shown], root):
        return "not yet measured."
    last = " ".join(f"{m['test_accuracy']:.2f}" for m in shown["epochs"][-LAST_EPOCHS:])
    best = max(shown["epochs"], key=lambda m: m["test_accuracy"])
    text = (f"{shown['params']:,} parameters{shifted_words(shown)}. Seed {shown['seed']}: best test accuracy "
            f"{best['test_accuracy']:.2f}% (epoch {best['epoch']}), last {LAST_EPOCHS} epochs {last}: target "
            f"{'met' if shown['target_met'] else 'missed'}.")
    swept = current_sweep(runs, model, shown)
    if swept:
        sweep, lowest, worst = swept
        text += (f" Fresh seeds {seed_text(sorted(r['seed'] for r in sweep))}: target met on {held(lowest)}; hold "
                 f"rate from the margins {fitted(lowest)}; lowest of the last {LAST_EPOCHS} epochs {spread(lowest)}, "
                 f"worst seed {worst['seed']} at {min_last(worst['epochs']):.2f}%.")
        cpus = {}
        for r in sweep:
            cpus.setdefault(cpu_type(r), []).append(min_last(r["epochs"]))
        if len(cpus) > 1:
            text += " By CPU type: " + ("; ".join(f"{name}: {held(values)}, from the margins {fitted(values)}"
                                                  for name, values in cpus.items()) if by_cpu else
                                        "[docs/trials.md](docs/trials.md#the-model-files-sweeps)") + "."
    return text + alone_text(model, plain, root)


def alone_rows(plain, model, root):
    """The runs of a model file alone (plain_loop.py) on its fresh seeds, in seed order: those of today's file
    (its code by its hash; all of them where the file is absent), since a file that changed its net has not
    run alone yet."""
    path = Path(root) / f"{model}.py"
    today = model_sha256(path) if path.is_file() else None
    return sorted((r for r in plain if r["model"] == model and is_fresh(r) and today in (None, r.get("model_sha256"))),
                  key=lambda r: r["seed"])


def alone_text(model, plain, root):
    """What the model file alone reaches, by the write-up's plain loop: a sentence, or '' where it has not run."""
    rows = alone_rows(plain, model, root)
    if not rows:
        return ""
    lowest = [r["min_last"] for r in rows]
    worst = min(rows, key=lambda r: r["min_last"])
    return (f" The file alone, trained by the write-up's plain loop (plain_loop.py: SGD 0.01, the rate cut tenfold "
            f"every 6 epochs, rotations only, no weight average), on fresh seeds "
            f"{seed_text([r['seed'] for r in rows])}: target met on {held(lowest)}; lowest of the last "
            f"{LAST_EPOCHS} epochs {spread(lowest)}, worst seed {worst['seed']} at {worst['min_last']:.2f}%.")


def alone_words(plain, root):
    """The README's sentence on what the model files alone reach, by the plain loop, beside the table."""
    held_by = [f"{model} on {sum(r['target_met'] for r in rows)}/{len(rows)}" for model in MODELS
               if (rows := alone_rows(plain, model, root))]
    return prose(f"Copied alone and trained by a plain loop that ignores its RECIPE, a model file held on far fewer "
                 f"fresh seeds: {', '.join(held_by)} ([the table](docs/trials.md#what-the-file-alone-gives)).") \
        if held_by else ""


def alone_table(runs, plain, root):
    """Markdown: each model file that ran alone, by the plain loop, beside the same file with its RECIPE
    through fit, on their fresh seeds."""
    lines = [("| model | trained by | fresh seeds | CPU type | target met (95% interval) | "
             "lowest of last 5: mean ± std | worst seed |"), "| --- | --- | --- | --- | --- | --- | --- |"]
    for model in MODELS:
        rows, shown = alone_rows(plain, model, root), shown_run(runs, model)
        if not rows or shown is None:
            continue
        swept = current_sweep(runs, model, shown)
        if swept:
            sweep, lowest, worst = swept
            cpus = "; ".join(sorted({cpu_type(r) for r in sweep}))
            lines.append(f"| {model} | `fit` with its RECIPE | {seed_text(sorted(r['seed'] for r in sweep))} | "
                         f"{cpus} | {held(lowest)} | {spread(lowest)} | "
                         f"{worst['seed']}: {min_last(worst['epochs']):.2f} |")
        lowest = [r["min_last"] for r in rows]
        worst = min(rows, key=lambda r: r["min_last"])
        cpus = "; ".join(sorted({cpu_type({"provenance": r}) for r in rows}))
        lines.append(f"| {model} | the plain loop, the file alone | {seed_text([r['seed'] for r in rows])} | "
                     f"{cpus} | {held(lowest)} | {spread(lowest)} | {worst['seed']}: {worst['min_last']:.2f} |")
    return "\n".join(lines) if len(lines) > 2 else "No model file has run alone yet (plain_loop.py)."


def run_times(runs, results):
    """The README's line on how long a run takes: model3's default run on the CPU, and the device check's whole
    model3 run on a GPU (its steps run one after another, each alone on the device)."""
    shown = shown_run(runs, "model3")
    if shown is None:
        return ""
    where, shared = shown["provenance"], shared_machine(shown)
    alone = {None: "its load not recorded", True: "sharing the machine", False: "the machine to itself"}[shared]
    text = (f"model3's default run trained its {len(shown['epochs'])} epochs in "
            f"{sum(m['seconds'] for m in shown['epochs']) / 60:.1f} minutes on a CPU ({cpu_type(shown)}, "
            f"{where['threads']} threads, {alone}: [its log](#model3))")
    log = results / "runs-cuda" / GPU_LOGS[0][1]
    lines = log.read_text().splitlines() if log.is_file() else []
    whole = next(filter(None, map(GPU_GOALS[0][1].fullmatch, lines)), None)
    if whole:
        text += (f"; on one {device_of_log(lines)}, alone on the device, the whole run took {whole['value']} s from "
                 f"start to end ([docs/speed.md](docs/speed.md#on-a-gpu))")
    return prose(text + ".")


def reference_text(trials):
    """frontier.md's sentences on the write-up this project grew from: what it is, its net's figures by its own
    log, and that net here on its fresh seeds."""
    accuracy, last = REFERENCE["test_accuracy"], REFERENCE["test_accuracy"][-LAST_EPOCHS:]
    since = next(i for i in range(1, len(accuracy) + 1) if all(map(accuracy_holds, accuracy[i - 1:])))
    lowest = margin(min(last))
    text = (f"The net to beat is that of the write-up this project grew from, \"{REFERENCE['title']}\": a course "
            f"assignment's write-up, which names no author, date or address and is not part of this repository. By "
            f"its sections \"Model3\" and \"Best Model Architecture\", its net has {REFERENCE['params']:,} "
            f"parameters, and its one run held {min(accuracy[since - 1:]):.2f}–{max(accuracy[since - 1:]):.2f}% "
            f"from epoch {since} to {len(accuracy)} (the lowest of its last {LAST_EPOCHS}: {min(last):.2f}%, a margin "
            f"of {f'{lowest:+d}' if lowest else 0} images).")
    fresh = reference_fresh(trials)
    if fresh:
        values = [r["min_last"] for r in fresh]
        text += (f" Here that net with model3's recipe (`{REFERENCE['variant']}`) held on {held(values)} of its "
                 f"fresh seeds {seed_text([r['seed'] for r in fresh])}, and its hold rate from the margins is "
                 f"{fitted(values)} ([by net size](#the-chance-of-holding-the-target-by-net-size)).")
    return prose(text)


def single_pass_text(runs, trials):
    """The smallest net that clears model4's bar in one forward pass per test image, beside model4 when model4
    takes more: a reader compares like with like."""
    sweeps, passes_of = all_sweeps(runs, trials), sweep_passes(runs, trials)
    shown = shown_run(runs, "model4")
    if shown is None or passes(shown) == 1:
        return ""
    single = sorted((params, name, list(lowest.values())) for (name, params), lowest in sweeps.items()
                    if passes_of.get(name, 1) == 1)
    best = next(((params, name, lowest) for params, name, lowest in single if meets_bar(lowest)), None)
    if best is None:
        return "No net of one forward pass per test image has cleared the bar yet."
    params, name, lowest = best
    text = (f"model4 takes {passes(shown)} forward passes per test image. The smallest net that clears the bar "
            f"in one pass is {name}, {params:,} parameters: {held(lowest)} of its fresh seeds held, a hold rate "
            f"of {fitted(lowest)} from the margins.")
    same = [(name, lowest) for size, name, lowest in single if size == shown["params"]]
    if same:
        name, lowest = same[0]
        text += (f" model4's own layers in one pass ({name}) held on {held(lowest)}, {fitted(lowest)} from the "
                 f"margins{'' if meets_bar(lowest) else ', short of the bar'}.")
    return prose(text)


def readme_blocks(runs, root, results, trials, plain):
    blocks = {"results": results_table(runs, trials), "machines": machines_text(runs), "int8": int8_table(runs),
              "run-times": run_times(runs, results), "alone-words": alone_words(plain, root)}
    for model in MODELS:
        shown = shown_run(runs, model)
        if shown is None:
            continue
        blocks[f"{model}-result"] = result_line(model, runs, root, plain)
        blocks[f"{model}-log"] = log_block(shown, relative(shown["path"] / "metrics.json", "README.md", root))
    return blocks


# --- the model files' Result paragraphs ----------------------------------------------------------

def docstring_result(model, runs, root, plain=()):
    """The Result paragraph of a model file's docstring: the README's Result, with where it comes from."""
    shown = shown_run(runs, model)
    sources = " and its fresh seeds' runs beside it" if current_sweep(runs, model, shown) else ""
    sources += "; results/plain-loop.jsonl" if alone_rows(plain, model, root) else ""
    text = (f"Result (results/runs/{shown['path'].name}/metrics.json{sources}, written into this docstring by "
            f"report.py): {result_text(model, runs, root, plain)}")
    return textwrap.fill(text.replace("–", "-"), width=100, break_on_hyphens=False)


RESULT_PARAGRAPH = re.compile(r"^Result \(.*?(?=\n\n)", re.MULTILINE | re.DOTALL)


def replace_result(text, paragraph, name):
    """A model file's source with its docstring's Result paragraph (up to the next blank line) replaced."""
    if len(RESULT_PARAGRAPH.findall(text)) != 1:
        raise ValueError(f"{name}: its docstring needs one paragraph that begins 'Result ('")
    return RESULT_PARAGRAPH.sub(lambda _: paragraph, text)


# --- the documents, the pooled summaries and the pictures ----------------------------------------

def pooled_summary(model, records):
    """What the documents claim of one net of a model file, in train.py's summary form: every fresh seed of it
    on the CPU, pooled over its sweeps, with K/N's 95% interval, the hold rate from the margins and, per
    seed, where it ran where that differs from seed to seed."""
    summary = summary_of(model, records)
    values = {key: [r["provenance"].get(key) for r in records]
              for key in ("torch", "device", "device_name", "cpu_capability", "threads")}
    shared = {key: seen[0] for key, seen in values.items() if len(set(seen)) == 1}
    for i, row in enumerate(summary["seeds"]):
        row.update({key: seen[i] for key, seen in values.items() if key not in shared})
    rate, low, high = fitted_hold_rate([margin(row["min_last"]) for row in summary["seeds"]])
    summary.update(recipe=records[-1]["recipe"], provenance=shared,
                   target_met_interval=list(wilson(summary["target_met"], summary["runs"])),
                   hold_rate_from_margins={"rate": rate, "low": low, "high": high})
    return summary


def summary_files(runs, runs_dir):
    """{path: text, or None to remove}: each model file's net with fresh CPU seeds (and a record of where
    they ran), its pooled summary: <model>-summary.json for today's net, which train.py writes for a single
    sweep, and <model>-<variant>-summary.json for an earlier one, named by its trial variant in
    results/nets.json (<model>-<params>-summary.json where it lists none); any other such file goes."""
    files = {}
    for model in MODELS:
        today = todays_net(runs, model)
        groups = {}  # None: today's net; else an earlier net's name
        for r in runs.get((model, "cpu"), []):
            if is_fresh(r) and "provenance" in r:
                groups.setdefault(None if today(r) else (net_of(r) or {}).get("variant", r["params"]), []).append(r)
        for name, group in groups.items():
            path = Path(runs_dir) / (f"{model}-summary.json" if name is None else f"{model}-{name}-summary.json")
            files[path] = json.dumps(pooled_summary(model, group), indent=2) + "\n" if len(group) > 1 else None
        for stale in Path(runs_dir).glob(f"{model}-*-summary.json"):
            files.setdefault(stale, None)
    return {path: text for path, text in files.items() if text is not None or path.is_file()}


def shifted_words(record):
    """What a picture's title adds for a net shifted at test time: its passes per test image."""
    return f", shifted at test time ({passes(record)} passes a test image)" if passes(record) > 1 else ""


def picture_title(record):
    return plots.run_title(record) + shifted_words(record)


def write_pictures(runs, trials, assets, images):
    """Each experiment's pictures from its shown run's record (its mistakes drawn from `images`, the test
    set, when given), a seeds chart of each sweep, the frontier; any other picture in assets/ is removed."""
    assets.mkdir(exist_ok=True)
    made = set()
    for model in MODELS:
        shown = shown_run(runs, model)
        if shown is None:
            continue
        title = picture_title(shown)
        plots.plot_curves(shown, assets / f"{model}-curves.png", title)
        made.add(f"{model}-curves.png")
        if "mistakes" in shown:
            plots.plot_confusion(shown["confusion"], assets / f"{model}-confusion.png", title)
            made.add(f"{model}-confusion.png")
            if images is not None:
                plots.plot_misclassified(images, shown["mistakes"], assets / f"{model}-misclassified.png", title)
            made.add(f"{model}-misclassified.png")
        today = todays_net(runs, model)
        for device, suffix in (("cpu", ""), ("cuda", "-cuda")):
            group = [r for r in runs.get((model, device), []) if today(r) and is_fresh(r)]
            if len(group) > 1:
                seeds = seed_text(sorted(r["seed"] for r in group))
                charts.plot_seeds(f"{model}, {shown['params']:,} params{shifted_words(shown)}, seeds {seeds}", group,
                                 assets / f"{model}{suffix}-seeds.png")
                made.add(f"{model}{suffix}-seeds.png")
    named = {net_name(runs, model, shown_run(runs, model)): model for model in MODELS if shown_run(runs, model)}
    sweeps = all_sweeps(runs, trials)
    if sweeps:
        charts.plot_frontier([r for r in trials if not is_fresh(r)], sweeps, named, assets / "frontier.png",
                            sweep_passes(runs, trials))
        made.add("frontier.png")
    for stale in set(p.name for p in assets.glob("*.png")) - made:
        (assets / stale).unlink()


def regenerate(results, root, data_dir=None, check=False):
    """Rewrite every generated block, summary and picture from `results` into the documents under `root`
    (with `check`, write nothing and name what differs). Returns the exit status."""
    try:
        runs = load_runs(results / "runs", results / "runs-cuda")
    except (ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    trial_files = [load_trials(results / name) for name in TRIAL_FILES]
    trials, logged = [row for rows in trial_files for row in rows], load_trial_log(results / "search-cuda.log")
    again = load_trials(results / "search-again.jsonl")
    others = [r for records in load_runs(results / "refactor-check" / "new").values() for r in records]
    plain = load_trials(results / "plain-loop.jsonl")
    tuning = load_trials(results / TUNING_FILE)
    documents = {"README.md": readme_blocks(runs, root, results, trials, plain),
                 "docs/frontier.md": {**frontier_blocks(runs, trial_files, again, others),
                                      "single-pass": single_pass_text(runs, trials),
                                      "reference": reference_text(trials)},
                 "docs/history.md": {"seventh-tuning": trials_table(tuning, "frontier") if tuning else
                                     "Not run yet."},
                 "docs/trials.md": {**trials_blocks(runs, trials + again + tuning, logged, root),
                                    "alone": alone_table(runs, plain, root)},
                 "docs/speed.md": speed_blocks(runs, results, root)}
    documents.update({f"{model}.py": {"Result": docstring_result(model, runs, root, plain)} for model in MODELS
                      if shown_run(runs, model) and (root / f"{model}.py").is_file()})
    stale, written = [], {}
    for name, blocks in documents.items():  # every document checked before any is written
        path = root / name
        try:
            text = path.read_text()
            new = text
            replace = (lambda text, body, _, name=name: replace_result(text, body, name)) \
                if name.endswith(".py") else replace_marked
            for section, body in blocks.items():
                new = replace(new, body, section)
        except (OSError, ValueError) as err:
            print(f"error: {path}: {err}", file=sys.stderr)
            return 1
        stale += [f"{name}: {section}" for section, body in blocks.items() if replace(text, body, section) != text]
        written[path] = new
    for path, text in summary_files(runs, results / "runs").items():  # the pooled summaries the documents claim
        if text is None or not path.is_file() or path.read_text() != text:
            stale.append(str(path))
            written[path] = text
    for path, new in written.items() if not check else ():
        path.write_text(new) if new is not None else path.unlink()
    if check:
        print("\n".join(f"differs from results/: {where}" for where in stale) or "every block is as results/ give it")
        return 1 if stale else 0
    write_pictures(runs, trials, root / "assets", test_images(data_dir))
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

