"""A run's own pictures: its curves, its mistakes and its confusion matrix, saved beside its metrics.json
(runs.train_seed imports this file only when it draws; the reports draw them again from the record).
matplotlib is imported only when a picture is drawn.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from trainer.verdict import LAST_EPOCHS, TARGET

if TYPE_CHECKING:  # for the type checker only: trainer/types.py is not among the files that travel with a model file
    import torch
    from matplotlib.figure import Figure

    from trainer.types import RunRecord

PICTURES = ("curves.png", "misclassified.png", "confusion.png")


def pyplot() -> ModuleType:
    import sys

    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:  # a notebook keeps its own (inline) backend
        matplotlib.use("Agg")  # files only: never open a window, work without a display
    import matplotlib.pyplot as plt
    return plt


def curves_figure(epochs: Sequence[Mapping[str, Any]], title: str) -> Figure:
    """Loss and accuracy per epoch, train and test (epochs: train.py's metrics rows), the window of the
    last epochs shaded; returns the figure, which a notebook shows inline. The accuracy panel's range is
    the window's, so that 99.38 and 99.43 look apart; earlier epochs may fall below it."""
    plt = pyplot()
    numbers = [m["epoch"] for m in epochs]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
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
    return fig


def run_title(record: RunRecord) -> str:
    return f"{record['model']}, seed {record['seed']}, {record['params']:,} params"


def plot_curves(record: RunRecord, path: str | Path, title: str | None = None) -> None:
    fig = curves_figure(record["epochs"], title or run_title(record))
    fig.savefig(path, dpi=80)
    pyplot().close(fig)


def plot_misclassified(images: torch.Tensor, mistakes: Sequence[Sequence[int]], path: str | Path, title: str,
                       limit: int = 40) -> None:
    """The first `limit` of a run's mistakes ([test index, true, predicted], as records.mistakes gives
    them) drawn from the test images: one mosaic on one axes, which draws in a fraction of the time of
    an axes per digit."""
    import numpy as np

    plt = pyplot()
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


def plot_confusion(counts: Sequence[Sequence[int]], path: str | Path, title: str) -> None:
    """The counts, errors shaded; each number in black or white, whichever reads on its cell."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 5.4), layout="constrained")
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
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_run_plots(record: RunRecord, images: torch.Tensor, run_dir: str | Path) -> None:
    """A run's curves, its mistakes (drawn from the test images) and its confusion matrix, from its record."""
    curves, misclassified, confusion = (Path(run_dir) / name for name in PICTURES)
    plot_curves(record, curves)
    plot_misclassified(images, record["mistakes"], misclassified, run_title(record))
    plot_confusion(record["confusion"], confusion, run_title(record))
