"""Pictures of a run, and the README's results table generated from real runs.

train.py calls save_run_plots() after each run. From the command line, this script
reads runs/*/metrics.json and runs/*-summary.json, rewrites the README between the
results markers, and copies each experiment's pictures into assets/:

    python report.py                                   # runs/ -> README.md, assets/
    python report.py --runs runs --readme README.md --assets assets
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

START_MARK = "<!-- results:start (written by report.py; do not edit by hand) -->"
END_MARK = "<!-- results:end -->"
TARGET_ACCURACY = 99.40  # the same bar as train.py's; kept here so plotting needs no torch import
LAST_EPOCHS = 5
PICTURES = ("curves.png", "misclassified.png", "confusion.png")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only: never open a window, work without a display
    import matplotlib.pyplot as plt
    return plt


def confusion_matrix(labels, predictions, classes=10):
    """counts[true][predicted] as nested lists."""
    counts = [[0] * classes for _ in range(classes)]
    for true, predicted in zip(labels.tolist(), predictions.tolist()):
        counts[true][predicted] += 1
    return counts


def plot_curves(record, path):
    plt = _pyplot()
    epochs = [m["epoch"] for m in record["epochs"]]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    for split in ("train", "test"):
        loss_ax.plot(epochs, [m[f"{split}_loss"] for m in record["epochs"]], marker=".", label=split)
        acc_ax.plot(epochs, [m[f"{split}_accuracy"] for m in record["epochs"]], marker=".", label=split)
    acc_ax.axhline(TARGET_ACCURACY, color="crimson", linestyle="--", linewidth=1,
                   label=f"target {TARGET_ACCURACY:.2f}%")
    acc_ax.set_ylim(max(95.0, min(m["test_accuracy"] for m in record["epochs"]) - 0.5), 100)
    loss_ax.set(title="loss", xlabel="epoch", yscale="log")
    acc_ax.set(title="accuracy (%)", xlabel="epoch")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{record['model']}, seed {record['seed']}, {record['params']:,} params")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_misclassified(images, labels, predictions, path, limit=40):
    plt = _pyplot()
    wrong = (predictions != labels).nonzero().flatten()[:limit].tolist()
    cols = 10
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 1.05), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i].cpu().numpy(), cmap="gray_r")
        ax.set_title(f"{labels[i].item()}→{predictions[i].item()}", fontsize=8)
    fig.suptitle(f"{int((predictions != labels).sum())} misclassified test digits "
                 f"(first {len(wrong)}; true→predicted)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_confusion(counts, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    off_diagonal = [[0 if i == j else c for j, c in enumerate(row)] for i, row in enumerate(counts)]
    ax.imshow(off_diagonal, cmap="Reds")
    for i, row in enumerate(counts):
        for j, c in enumerate(row):
            ax.text(j, i, str(c), ha="center", va="center", fontsize=6 if i == j else 7)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true",
           title="confusion matrix (errors shaded)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def save_run_plots(record, images, labels, predictions, run_dir):
    run_dir = Path(run_dir)
    plot_curves(record, run_dir / "curves.png")
    plot_misclassified(images, labels, predictions, run_dir / "misclassified.png")
    plot_confusion(confusion_matrix(labels, predictions), run_dir / "confusion.png")


def load_runs(runs_dir):
    """Completed, full runs grouped by model: {model: [metrics record, ...]} sorted by seed."""
    runs = {}
    for path in sorted(Path(runs_dir).glob("*/metrics.json")):
        record = json.loads(path.read_text())
        if record.get("dry_run") or "target_met" not in record:
            continue  # smoke runs and unfinished runs are no results
        runs.setdefault(record["model"], []).append(record)
    for records in runs.values():
        records.sort(key=lambda r: r["seed"])
    return runs


def results_table(runs):
    """Markdown: one row per experiment, then one per seed."""
    lines = ["| experiment | params | epochs | seeds | best test acc | lowest of last 5 | target met |",
             "| --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for model, records in sorted(runs.items()):
        best = max(max(m["test_accuracy"] for m in r["epochs"]) for r in records)
        lowest = min(min(m["test_accuracy"] for m in r["epochs"][-LAST_EPOCHS:]) for r in records)
        met = sum(r["target_met"] for r in records)
        lines.append(f"| {model} | {records[0]['params']:,} | {len(records[0]['epochs'])} | "
                     f"{', '.join(str(r['seed']) for r in records)} | {best:.2f}% | {lowest:.2f}% | "
                     f"{met}/{len(records)} |")
    lines += ["", "| experiment | seed | best test acc | last 5 epochs | target | seconds |",
              "| --- | ---: | ---: | --- | --- | ---: |"]
    for model, records in sorted(runs.items()):
        for r in records:
            last = " ".join(f"{m['test_accuracy']:.2f}" for m in r["epochs"][-LAST_EPOCHS:])
            lines.append(f"| {model} | {r['seed']} | {max(m['test_accuracy'] for m in r['epochs']):.2f}% | "
                         f"{last} | {'met' if r['target_met'] else 'missed'} | "
                         f"{sum(m['seconds'] for m in r['epochs']):.0f} |")
    return "\n".join(lines)


def replace_marked(text, body):
    """Replace what stands between the markers; everything else stays byte for byte."""
    start, end = text.find(START_MARK), text.find(END_MARK)
    if start < 0 or end < start:
        raise ValueError(f"the README lacks the markers {START_MARK!r} ... {END_MARK!r}")
    return text[:start + len(START_MARK)] + "\n" + body + "\n" + text[end:]


def copy_pictures(runs, runs_dir, assets):
    """Each experiment's pictures, from its lowest seed, as assets/<model>-<picture>."""
    assets = Path(assets)
    assets.mkdir(exist_ok=True)
    for model, records in runs.items():
        run_dir = Path(runs_dir) / f"{model}-seed{records[0]['seed']}"
        for picture in PICTURES:
            if (run_dir / picture).is_file():
                shutil.copyfile(run_dir / picture, assets / f"{model}-{picture}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", default="runs", help="folder of train.py outputs")
    parser.add_argument("--readme", default="README.md", help="file whose marked section is rewritten")
    parser.add_argument("--assets", default="assets", help="folder for the README's pictures ('' to skip)")
    args = parser.parse_args(argv)
    runs = load_runs(args.runs)
    if not runs:
        print(f"error: no finished runs under {args.runs}/", file=sys.stderr)
        return 1
    readme = Path(args.readme)
    try:
        readme.write_text(replace_marked(readme.read_text(), results_table(runs)))
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.assets:
        copy_pictures(runs, args.runs, args.assets)
    print(f"{readme}: results of {sum(len(r) for r in runs.values())} runs of {', '.join(sorted(runs))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
