"""The target every headline model is judged by, and its judgement of a run: no torch, so that
training, the trials and the report all use this one copy.

    from trainer.verdict import target_met
    met, line = target_met(params=4820, epochs=record["epochs"])   # epochs: train.py's metrics rows
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the type checker only: trainer/types.py is not among the files that travel with a model file
    from trainer.types import EpochMetrics

MAX_PARAMS = 8000
MAX_EPOCHS = 15
TARGET = 99.40  # test accuracy (%) on each of the last LAST_EPOCHS epochs
LAST_EPOCHS = 5
# 99.40% as a fraction with an integer numerator: 99.4 * 10000 is 994000.0000000001 in floats.
TARGET_PER_10000 = 9940


def epoch_holds(correct: int, total: int) -> bool:
    """Whether `correct` of `total` test images is at least the target, in exact integers."""
    return correct * 10_000 >= TARGET_PER_10000 * total


def accuracy_holds(accuracy: float) -> bool:
    """The same judgement from a percentage, for records that keep only that (the search's trials, and the
    two decimals of a console log, which are exact for a 10,000-image test set)."""
    return round(accuracy * 100) >= TARGET_PER_10000


def min_last(epochs: Sequence[EpochMetrics]) -> float:
    """The lowest test accuracy (%) of the last LAST_EPOCHS epochs: how far a run held above the line."""
    return min(m["test_accuracy"] for m in epochs[-LAST_EPOCHS:])


def target_met(params: int, epochs: Sequence[EpochMetrics]) -> tuple[bool, str]:
    """Judge a run (its parameter count and its per-epoch rows, each with test_correct and test_total)
    against the three constraints; returns (met, verdict line)."""
    last = epochs[-LAST_EPOCHS:]
    accurate = len(last) == LAST_EPOCHS and all(epoch_holds(m["test_correct"], m["test_total"]) for m in last)
    small, short = params <= MAX_PARAMS, len(epochs) <= MAX_EPOCHS
    accuracies = " ".join(f"{m['test_accuracy']:.2f}" for m in last)
    met = small and short and accurate
    line = (f"TARGET {'MET' if met else 'MISSED'}: "
            f"{params:,} params {'<=' if small else '>'} {MAX_PARAMS:,}; "
            f"{len(epochs)} epochs {'<=' if short else '>'} {MAX_EPOCHS}; "
            f"last {LAST_EPOCHS} epochs {accuracies} {'>=' if accurate else '<'} {TARGET:.2f}")
    return met, line


def out_of_reach(params: int, epochs: int) -> str | None:
    """The warning a run gets before it trains when its size or length alone rules the target out (it
    trains all the same: a bigger net is a fair experiment, just not one that can meet the target);
    None when the target is within reach."""
    over = ([f"{params:,} params > {MAX_PARAMS:,}"] if params > MAX_PARAMS else []) + \
        ([f"{epochs} epochs > {MAX_EPOCHS}"] if epochs > MAX_EPOCHS else [])
    return f"warning: {' and '.join(over)}: this run trains, but cannot meet the target" if over else None
