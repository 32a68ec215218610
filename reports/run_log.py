"""One run's log as the README shows it, rendered from its record, and a run of one's own with its pictures."""
import sys

from data import DataError, load_mnist, resolve_data_dir
from reports.evidence import SHARED_LOAD, command, describe_recipe, shared_machine
from trainer import plots
from trainer.records import finished_record
from trainer.verdict import target_met


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


def log_block(record, relative):
    """A run's console lines for each epoch and its verdict, rendered from its record, folded."""
    epochs = record["epochs"]
    verdict = target_met(record["params"], epochs)[1]
    lines = [f"$ {command(record['model'], [record['seed']], record)}",
             f"# {record['model']}, seed {record['seed']}, {record['params']:,} params; {machine(record)}; "
             + load_clause(record),
             f"# recipe: {describe_recipe(record['recipe'])}"]
    for m in epochs:  # its rate at the start | training loss (epoch mean) and accuracy | the test pass | seconds
        lines.append(f"EPOCH: {m['epoch']:<2} | lr {m['lr']:<7.4g}| train: loss {m['train_loss']:.4f}, accuracy "
                     f"{m['train_accuracy']:.2f}% | Test set: Average loss: {m['test_loss']:.4f}, Accuracy: "
                     f"{m['test_correct']}/{m['test_total']} ({m['test_accuracy']:.2f}%) | {m['seconds']:.1f} s")
    lines.append(verdict)
    summary = f'<details><summary>Log (<a href="{relative}">its record</a>): <code>{escape(verdict)}</code></summary>'
    return "\n".join([summary, "", "```text", *lines, "```", "</details>"])


def load_clause(record):
    """How busy the machine was, which a log's seconds depend on: the 1-minute load average at the run's start
    and end, and whether it ended under the run's threads + SHARED_LOAD (the machine to itself)."""
    shared = shared_machine(record)
    if shared is None:
        return "its load not recorded (other work may have shared the machine)"
    machine, threads = record["machine"], record["provenance"]["threads"]
    return (f"load {machine['start']['load'][0]:.2f} to {machine['end']['load'][0]:.2f} on {machine['end']['cores']} "
            f"cores ({'at or over' if shared else 'under'} {threads} thread{'s' * (threads != 1)} + {SHARED_LOAD:g}: "
            f"{'other work shared the machine' if shared else 'the machine to itself'})")


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_run(run_dir, data_dir):
    """One run of one's own, on its own: its log and verdict as the README shows a run's (less the command,
    which a record does not keep whole), and its pictures drawn into its folder (MNIST's test images give
    the mistakes). Returns the exit status."""
    record = finished_record(run_dir)
    if record is None:
        print(f"error: {run_dir}: no finished run (train.py writes its metrics.json with the verdict after the "
              f"last epoch; a dry run has none)", file=sys.stderr)
        return 1
    log = log_block(record, run_dir / "metrics.json").split("```text\n", 1)[1].rsplit("\n```", 1)[0]
    print("\n".join(line for line in log.splitlines() if not line.startswith("$ ")))
    try:
        images = load_mnist(resolve_data_dir(data_dir), download=False)[1][0]
    except DataError as err:
        print(f"Pictures not drawn: {err}")
        return 0
    plots.save_run_plots(record, images, run_dir)
    print(f"Pictures: {', '.join(str(run_dir / name) for name in plots.PICTURES)}")
    return 0
