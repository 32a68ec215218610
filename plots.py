"""The pictures: of a run (its curves, its mistakes, its confusion matrix), of a seed sweep (every seed
on one chart) and of the frontier (the chance of holding the target against the parameter count).

train.py saves a run's pictures beside its metrics; report.py draws the README's and docs' pictures
from results/. matplotlib is imported only when a picture is drawn.
"""
import itertools
import statistics
from pathlib import Path

from verdict import LAST_EPOCHS, TARGET, accuracy_holds, fitted_hold_rate, margin, wilson

REFERENCE_PARAMS = 6136  # the write-up this project grew from
PUBLIC_SINGLE_RUN = 3762  # a public repo of the same course: 99.52% at epoch 15, one run
FRONTIER_FLOOR = 99.1  # the frontier picture's lowest accuracy: far misses would squash the rest
FULL_SWEEP = 10  # seeds; a sweep stopped short is drawn hollow, off the line
MISS_DASHES = ("-", "--", ":", "-.")  # the seeds that missed, told apart in black
CROWDED = 300  # parameters; sweeps closer than this are labelled beside their points
FIT_OFFSET = 40  # parameters: the fitted hold rate is drawn this far right of K/N
PICTURES = ("curves.png", "misclassified.png", "confusion.png")


def _pyplot():
    import sys

    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:  # a notebook keeps its own (inline) backend
        matplotlib.use("Agg")  # files only: never open a window, work without a display
    import matplotlib.pyplot as plt
    return plt


def curves_figure(epochs, title):
    """Loss and accuracy per epoch, train and test (epochs: train.py's metrics rows), the window of the
    last epochs shaded; returns the figure, which a notebook shows inline. The accuracy panel's range is
    the window's, so that 99.38 and 99.43 look apart; earlier epochs may fall below it."""
    plt = _pyplot()
    numbers = [m["epoch"] for m in epochs]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    for split in ("train", "test"):
        loss_ax.plot(numbers, [m[f"{split}_loss"] for m in epochs], marker=".", label=split)
        acc_ax.plot(numbers, [m[f"{split}_accuracy"] for m in epochs], marker=".", label=split)
    window = epochs[-LAST_EPOCHS:]
    acc_ax.axvspan(window[0]["epoch"] - 0.5, window[-1]["epoch"] + 0.5, color="gold", alpha=0.25,
                   label=f"last {LAST_EPOCHS} epochs")
    acc_ax.axhline(TARGET, color="crimson", linestyle="--", linewidth=1, label=f"target {TARGET:.2f}%")
    shown = [m[f"{split}_accuracy"] for m in window for split in ("train", "test")] + [TARGET]
    acc_ax.set_ylim(min(shown) - 0.25, min(100.0, max(shown) + 0.25))
    loss_ax.set(title="loss", xlabel="epoch", yscale="log")
    acc_ax.set(title="accuracy (%), at the window's range", xlabel="epoch")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.84, wspace=0.22)
    return fig


def run_title(record):
    return f"{record['model']}, seed {record['seed']}, {record['params']:,} params"


def plot_curves(record, path):
    fig = curves_figure(record["epochs"], run_title(record))
    fig.savefig(path, dpi=80)
    _pyplot().close(fig)


def plot_misclassified(images, mistakes, path, title, limit=40):
    """The first `limit` of a run's mistakes ([test index, true, predicted], as records.mistakes gives
    them) drawn from the test images: one mosaic on one axes, which draws in a fraction of the time of
    an axes per digit."""
    import numpy as np

    plt = _pyplot()
    shown = mistakes[:limit]
    cols, size, gap = 10, 28, 14  # the gap above each digit holds its label
    rows = max(1, -(-len(shown) // cols))
    mosaic = np.zeros((rows * (size + gap), cols * size))
    fig, ax = plt.subplots(figsize=(cols * 0.75, rows * 1.0 + 0.5))
    for k, (i, true, predicted) in enumerate(shown):
        top, left = (k // cols) * (size + gap) + gap, (k % cols) * size
        mosaic[top:top + size, left:left + size] = images[i].cpu().numpy()
        ax.text(left + size / 2, top - 2, f"{true}→{predicted}", ha="center", va="bottom", fontsize=8)
    ax.imshow(mosaic, cmap="gray_r")
    ax.axis("off")
    ax.set_title(f"{title}: {len(mistakes)} misclassified test digits (first {len(shown)}; true→predicted)",
                 fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_confusion(counts, path, title):
    """The counts, errors shaded; each number in black or white, whichever reads on its cell."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 5.4))
    off_diagonal = [[0 if i == j else c for j, c in enumerate(row)] for i, row in enumerate(counts)]
    worst = max(max(row) for row in off_diagonal) or 1
    ax.imshow(off_diagonal, cmap="Reds", vmin=0, vmax=worst)
    for i, row in enumerate(counts):
        for j, c in enumerate(row):
            dark = i != j and c > 0.55 * worst  # "Reds" is dark from about half its range
            ax.text(j, i, str(c), ha="center", va="center", fontsize=9 if i == j else 11,
                    color="white" if dark else "black", fontweight="normal" if i == j else "bold")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true")
    ax.set_title(f"{title}\nconfusion matrix (errors shaded)", fontsize=10)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.1, top=0.9)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_run_plots(record, images, run_dir):
    """A run's curves, its mistakes (drawn from the test images) and its confusion matrix, from its record."""
    curves, misclassified, confusion = (Path(run_dir) / name for name in PICTURES)
    plot_curves(record, curves)
    plot_misclassified(images, record["mistakes"], misclassified, run_title(record))
    plot_confusion(record["confusion"], confusion, run_title(record))


SEEDS_YRANGE = (98.8, 99.8)  # one range for every seeds chart, so that charts compare at a glance


def plot_seeds(title, records, path):
    """Every seed's test accuracy per epoch on one chart: the last-5 window shaded, the 99.40% line drawn.
    `title` names the net (model and parameters) and where it ran."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    epochs = len(records[0]["epochs"])
    ax.axvspan(epochs - LAST_EPOCHS + 0.5, epochs + 0.5, color="gold", alpha=0.25,
               label=f"last {LAST_EPOCHS} epochs")
    named = len(records) <= 10  # a legend of more seeds would cover the window: then only misses are named
    colours = plt.get_cmap("tab10" if named else "tab20").colors
    misses = 0
    for r, colour in zip(records, itertools.cycle(colours)):
        missed = not r["target_met"]  # drawn black and thick, a dash apiece: a miss stands out from any colour
        ax.plot([m["epoch"] for m in r["epochs"]], [m["test_accuracy"] for m in r["epochs"]], marker=".",
                linewidth=2.2 if missed else 1, color="black" if missed else colour, zorder=3 if missed else 2,
                linestyle=MISS_DASHES[misses % len(MISS_DASHES)] if missed else "-",
                label=f"seed {r['seed']} (missed)" if missed else f"seed {r['seed']}" if named else None)
        misses += missed
    met = sum(r["target_met"] for r in records)
    if not named and met:
        ax.plot([], [], color="grey", linewidth=1, label=f"the {met} seeds that held, a colour each")
    ax.axhline(TARGET, color="crimson", linestyle="--", linewidth=1, label=f"{TARGET:.2f}%")
    ax.set(ylim=SEEDS_YRANGE, xlim=(2.5, epochs + 0.5), xlabel="epoch (1-2 off the chart, below its range)",
           ylabel="test accuracy (%)", xticks=range(3, epochs + 1))
    ax.set_title(f"{title}: target met on {met}/{len(records)} seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if named else 1, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_frontier(trials, sweeps, named, path):
    """The frontier in two panels over one parameter axis. Above, the headline: the share of each
    fresh-seed sweep's seeds that held the target, with its 95% interval and K/N beside it. Below, the
    lowest of the last 5 epochs: tuning trials faint (a dot per seed), each sweep's seeds as dots and its
    mean as a marker, a line through the sweeps' means. Sweeps stopped short of FULL_SWEEP seeds are
    hollow and off the lines; the reference write-up's net's mean is grey and off them too, since it
    is the net to beat, not a point of the search. `named`: {params: model} of the nets to name at their
    points."""
    plt = _pyplot()
    fig, (chance, ax) = plt.subplots(2, 1, figsize=(8, 6.8), sharex=True, gridspec_kw={"height_ratios": [2, 3]})
    nets = sorted(sweeps.items(), key=lambda item: (item[0][1], -len(item[1])))
    params = [p for (_, p), _ in nets]
    short = [len(lowest) < FULL_SWEEP for _, lowest in nets]
    reference = [p == REFERENCE_PARAMS and not s for p, s in zip(params, short)]
    on_line = [not (s or r) for s, r in zip(short, reference)]

    def draw(panel, values, **label):
        """The full sweeps as a line of diamonds, the short ones hollow, the reference's net grey."""
        def pick(keep):
            return [x for x, k in zip(params, keep) if k], [v for v, k in zip(values, keep) if k]
        panel.plot(*pick(on_line), color="tab:red", marker="D", markersize=6, linewidth=1, zorder=4, **label)
        panel.scatter(*pick(short), marker="D", s=36, facecolors="white", edgecolors="tab:red", zorder=4)
        panel.scatter(*pick(reference), marker="D", s=36, color="dimgrey", zorder=4)
    _chance_panel(chance, nets, draw)
    _accuracy_panel(ax, trials, nets, named, draw)
    for x, style, text in ((REFERENCE_PARAMS, ":", f"the reference write-up's net ({REFERENCE_PARAMS:,}): "
                                                   "the write-up's claim, one run"),
                           (PUBLIC_SINGLE_RUN, "-.", f"a public claim ({PUBLIC_SINGLE_RUN:,}): one run")):
        for panel in (chance, ax):
            panel.axvline(x, color="grey", linestyle=style, linewidth=1, label=text if panel is ax else None)
    for panel in (chance, ax):
        panel.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _chance_panel(panel, nets, draw):
    """The share of each sweep's seeds that held, its 95% interval as a bar, K/N beside it."""
    params = [p for (_, p), _ in nets]
    met = [sum(map(accuracy_holds, lowest.values())) for _, lowest in nets]
    held = [100 * k / len(lowest) for k, (_, lowest) in zip(met, nets)]
    intervals = [wilson(k, len(lowest)) for k, (_, lowest) in zip(met, nets)]
    panel.errorbar(params, held, yerr=[[y - 100 * lo for y, (lo, _) in zip(held, intervals)],
                                       [100 * hi - y for y, (_, hi) in zip(held, intervals)]],
                   fmt="none", ecolor="tab:red", alpha=0.35, capsize=3, zorder=3)
    draw(panel, held, label="share of the fresh seeds that held (K/N beside it)")
    fits = [fitted_hold_rate([margin(v) for v in lowest.values()]) for _, lowest in nets]
    shifted = [x + FIT_OFFSET for x in params]  # beside K/N's point, so that the two bars stay apart
    panel.errorbar(shifted, [100 * rate for rate, _, _ in fits],
                   yerr=[[100 * (rate - lo) for rate, lo, _ in fits], [100 * (hi - rate) for rate, _, hi in fits]],
                   fmt="s", markersize=4, color="tab:blue", ecolor="tab:blue", alpha=0.8, capsize=2, zorder=4,
                   label="hold rate from a normal fit of the seeds' margins in images")
    panel.legend(fontsize=7, loc="lower right")
    for i, (x, y, k, (_, lowest)) in enumerate(zip(params, held, met, nets)):
        # K/N below its point; beside it, away from a sweep too close to share the space below; above it
        # when sweeps crowd it on both sides
        after = i > 0 and x - params[i - 1] < CROWDED
        before = i + 1 < len(params) and params[i + 1] - x < CROWDED
        offset, align = (((0, 7), "center") if after and before else ((7, -3), "left") if after
                         else ((-7, -3), "right") if before else ((0, -14), "center"))
        panel.annotate(f"{k}/{len(lowest)}", (x, y), textcoords="offset points", xytext=offset, ha=align,
                       fontsize=8, color="tab:red")
    panel.axhline(90, color="grey", linestyle="--", linewidth=1)
    panel.set(ylim=(-18, 108), ylabel="fresh seeds that held (%)",
              title=f"How few parameters hold {TARGET:.2f}% on each of the last {LAST_EPOCHS} epochs "
                    f"(bars: 95% intervals; dashed: 9 in 10)")
    panel.title.set_fontsize(10)


def _accuracy_panel(ax, trials, nets, named, draw):
    """Every tuning trial faint, each sweep's seeds and mean, model3 and model4 named at their points."""
    params = [p for (_, p), _ in nets]
    means = [statistics.fmean(lowest.values()) for _, lowest in nets]
    ax.scatter([r["params"] for r in trials], [r["min_last"] for r in trials], s=10, color="grey", alpha=0.3,
               label="tuning trials, CPU and GPU (a dot per seed)")
    for (_, x), lowest in nets:
        ax.scatter([x] * len(lowest), list(lowest.values()), s=14, color="tab:red", alpha=0.45, zorder=3)
    draw(ax, means, label=f"fresh-seed sweeps: mean (dots: seeds; hollow: stopped before {FULL_SWEEP}; "
                          "grey: the reference's net)")
    ax.axhline(TARGET, color="crimson", linestyle="--", linewidth=1)
    shown = [r["min_last"] for r in trials] + [v for _, lowest in nets for v in lowest.values()]
    low = max(min(shown), FRONTIER_FLOOR) - 0.03
    ax.set_ylim(low, max(shown) + 0.08)
    below = sum(v < low for v in shown)
    if below:
        ax.annotate(f"{below} below {low:.2f}, not shown", (0.01, 0.95), xycoords="axes fraction", fontsize=7,
                    color="grey")
    for x, model in named.items():
        if x in params:
            ax.annotate(model, (x, means[params.index(x)]), textcoords="offset points", xytext=(-8, -4),
                        ha="right", va="top", fontsize=9, fontweight="bold", color="black", zorder=5)
    ax.set(xlabel="parameters", ylabel=f"lowest of the last {LAST_EPOCHS} epochs (%)")
    ax.set_xlim(min(params + [PUBLIC_SINGLE_RUN]) - 300, max(params) + 300)
