"""docs/speed.md's blocks: the benchmarks' output, the GPU device logs and the goals they measure, the seed
sweeps on a GPU, and the CUDA-graph check against the eager step."""
import json
import re
import subprocess
from pathlib import Path

from reports.evidence import held, net_name, relative, seed_text, shown_run, spread
from trainer.paths import ROOT
from trainer.verdict import min_last

# The lines of a device log that carry its numbers.
DEVICE_NUMBERS = re.compile(r"^(== |torch |whole process|training epoch speed-up|net\s+params|model\d\s|"
                            r"one profiled|\d+ passed|TARGET|target met|other processes on the GPU)")
# The device check's logs (device_check.sh, one step after another on a GPU), newest first: block, file.
GPU_LOGS = (("gpu-h200", "device-check-h200.log"), ("gpu-h100", "device-check.log"))
# A benchmark's row of a model file's net: its name and parameter count.
BENCH_ROW = re.compile(r"^(?P<model>model\d)\s+(?P<params>[\d,]+)\s")
# The device a device log ran on, from its torch line.
DEVICE_LINE = re.compile(r"^torch \S+ \| CUDA \S+ \| (?P<device>.+)$")
# The GPU goals docs/speed.md sets: what, the device log's line that measures it, the goal, its unit, and
# whether more is better.
GPU_GOALS = (("a whole default model3 run, start to end", re.compile(r"whole process: (?P<value>[\d.]+) s"), 15.0,
              " s", False),
             ("a training epoch of model3: the tensor pipeline's speed-up over the classic one",
              re.compile(r"training epoch speed-up of model3's tensor pipeline over the classic one: "
                         r"(?P<value>[\d.]+)x"), 5.0, "x", True))


def file_block(path, relative, keep=None):
    """A committed output file in a text block, all of it or its lines that `keep` matches."""
    lines = Path(path).read_text().splitlines()
    if keep is not None:
        lines = [line for line in lines if keep.match(line)]
    return "\n".join([f"From [`{relative}`]({relative}):", "", "```text", *(as_run_then(line, path) for line in lines),
                      "```"])


def as_run_then(line, path):
    """A log's header of a command whose script has since moved, with the commit that committed the log: the
    script as it ran is `git show <commit>:<script>`."""
    match = re.match(r"== python ([\w/]+\.py)\b", line)
    if not match or (ROOT / match[1]).is_file():
        return line
    added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "-1", "--", str(path)], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return f"{line} (at {added[:7]})" if added else line


def gpu_sweeps_table(runs):
    """Markdown: every seed sweep on a GPU: its device, net, K/N, lowest of the last 5 and worst seed."""
    lines = [("| experiment | params | device | seeds | target met (95% interval) | lowest of last 5: mean ± std | "
             "worst seed |"), "| --- | ---: | --- | --- | --- | --- | --- |"]
    for (model, device), records in runs.items():
        if device != "cuda":
            continue
        for name, params in sorted({(net_name(runs, model, r), r["params"]) for r in records}, key=lambda k: k[1]):
            group = [r for r in records if (net_name(runs, model, r), r["params"]) == (name, params)]
            lowest = [min_last(r["epochs"]) for r in group]
            worst = min(group, key=lambda r: min_last(r["epochs"]))
            lines.append(f"| {name} | {params:,} | {group[0]['provenance']['device_name']} | "
                         f"{seed_text([r['seed'] for r in group])} | {held(lowest)} | {spread(lowest)} | "
                         f"{worst['seed']}: {min_last(worst['epochs']):.2f} |")
    return "\n".join(lines)


def earlier_nets(lines, runs):
    """A note under a benchmark's output for each model file whose row there is a net it no longer has."""
    notes = []
    rows = dict.fromkeys((m["model"], int(m["params"].replace(",", ""))) for m in map(BENCH_ROW.match, lines) if m)
    for model, params in rows:
        shown = shown_run(runs, model)
        if shown and shown["params"] != params:
            notes.append(f"{model} in these lines is an earlier net of `{model}.py`, of {params:,} parameters; "
                         f"today's has {shown['params']:,}.")
    return notes


def device_of_log(lines):
    return next((m["device"] for m in map(DEVICE_LINE.match, lines) if m), "a GPU")


def gpu_goals_table(logs):
    """Markdown: each GPU goal against each device log (path, link) that measures it: met or missed."""
    lines = ["| goal | device | measured | met or missed |", "| --- | --- | ---: | --- |"]
    for what, pattern, goal, unit, more_is_better in GPU_GOALS:
        for path, link in logs:
            text = Path(path).read_text().splitlines()
            for match in filter(None, map(pattern.fullmatch, text)):
                value, decimals = float(match["value"]), len(match["value"].partition(".")[2])
                met = value >= goal if more_is_better else value < goal
                lines.append(f"| {what}: {'at least' if more_is_better else 'under'} {goal:g}{unit} | "
                             f"{device_of_log(text)} ([log]({link})) | {match['value']}{unit} | "
                             f"{'met' if met else f'missed by {abs(value - goal):.{decimals}f}{unit}'} |")
    return "\n".join(lines)


def graph_check_text(graph_dir, eager_dir, link):
    """The CUDA-graph check's runs against the eager step's runs of the same seeds: how far each ran, which
    ones its log shows a later sweep continuing, and whether every epoch that ran repeats the eager one."""
    keys = ("lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy")
    graph = [json.loads(p.read_text()) for p in sorted(Path(graph_dir).glob("*/metrics.json"))]
    eager = {(r["model"], r["seed"]): r for r in map(json.loads, (p.read_text() for p in
                                                                  Path(eager_dir).glob("*/metrics.json")))}
    short = [r for r in graph if len(r["epochs"]) < r["recipe"]["epochs"]]
    pairs = [pair for r in graph if (r["model"], r["seed"]) in eager
             for pair in zip(r["epochs"], eager[(r["model"], r["seed"])]["epochs"])]
    same = sum(all(ours[k] == theirs[k] for k in keys) for ours, theirs in pairs)
    log = Path(graph_dir) / "device-sweeps.log"
    continued = re.findall(r"^== seed (\d+) \(\d+/\d+\): continued from", log.read_text(), re.MULTILINE) \
        if log.is_file() else []
    first, where = graph[0], graph[0]["provenance"]
    text = (f"From [`{link}`]({link}): {first['model']} on seeds {seed_text([r['seed'] for r in graph])}, on one "
            f"{where['device_name']} at commit {where['git_commit'][:7]}. {len(graph) - len(short)} runs reached "
            f"their last epoch; {len(short)} stop before it, with no verdict in their records (" +
            ", ".join(f"{r['seed']} at epoch {len(r['epochs'])}" for r in short) + ").")
    if continued:
        text += (f" The log shows the sweep after them continuing {', '.join(continued)} from their checkpoints, "
                 f"and it ends in {continued[-1]}.")
    devices = sorted({theirs["provenance"]["device_name"] for theirs in eager.values()})
    text += (f" In {'all' if same == len(pairs) else f'{same} of the'} {len(pairs)} epochs that ran, the rate, "
             f"the training loss and accuracy and the test loss and accuracy equal those of the eager step's run "
             f"of the same seed on one {', '.join(devices)}.")
    return text


def speed_blocks(runs, results, root):
    blocks = {"gpu-sweeps": gpu_sweeps_table(runs)}
    logs = []
    for name, path, keep in (("bench-cpu", results / "bench-cpu.txt", None),
                             ("bench-distill", results / "bench-distill.txt", None),
                             ("bench-sweeps", results / "bench-sweeps.txt", None),
                             *((name, results / "runs-cuda" / log, DEVICE_NUMBERS) for name, log in GPU_LOGS)):
        if path.is_file():
            link = relative(path, "docs/speed.md", root)
            lines = [line for line in path.read_text().splitlines() if keep is None or keep.match(line)]
            notes = earlier_nets(lines, runs)
            blocks[name] = "\n".join([file_block(path, link, keep), *([""] + notes if notes else [])])
            if keep is DEVICE_NUMBERS:
                logs.append((path, link))
    if logs:
        blocks["gpu-goals"] = gpu_goals_table(logs)
    graph_dir = results / "graph-check-h200"
    if graph_dir.is_dir():
        blocks["graph-check"] = graph_check_text(graph_dir, results / "runs-cuda",
                                                 relative(graph_dir, "docs/speed.md", root))
    return blocks
