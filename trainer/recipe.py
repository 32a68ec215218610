"""The recipe: every key a model file's RECIPE (or a flag) may set, its default and what it means.

One schema for training, the trials, the benchmark and the report. `complete` is called once, where a
recipe is loaded (a model file's, a checkpoint's, a trial's, or fit's argument in a notebook). A recipe
names only what it changes; `complete` fills in the rest and refuses a key the schema does not know, so that a typo
("anneal_ends") stops the run before it trains instead of being silently ignored.

    from trainer.recipe import complete
    recipe = complete({"epochs": 15, "lr": 0.1, "schedule": "cosine", "warmup": 2})
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # for the type checker only: trainer/types.py is not among the files that travel with a model file
    from trainer.types import Recipe

# key -> (default, what it means). The order is the order `complete` writes them in.
SCHEMA = {
    "epochs": (15, "epochs of training"),
    "batch_size": (128, "images per training batch"),
    "lr": (0.01, "the peak learning rate of SGD"),
    "momentum": (0.9, "SGD momentum (0: plain SGD)"),
    "nesterov": (False, "SGD with Nesterov momentum (needs momentum above zero)"),
    "weight_decay": (0.0, "SGD weight decay (L2), on every parameter"),
    "schedule": ("constant", ("how the rate moves, stepped after every batch: constant, multistep, cosine "
                             "or piecewise")),
    "milestones": ([], "multistep: the epochs after which the rate is multiplied by gamma"),
    "gamma": (0.1, "multistep: the factor at each milestone"),
    "warmup": (0, "cosine: epochs of linear warm-up from lr/25 (at most half the run)"),
    "anneal_end": (None, "cosine: the epoch by whose end the cosine reaches floor (None: the last epoch)"),
    "floor": (0.0, "cosine: the rate after anneal_end, as a fraction of lr"),
    "points": ([], "piecewise: [[epoch, fraction of lr], ...], linear between them, epochs rising from 0"),
    "ema": (None, ("decay per batch of a moving average of the weights, which is then the net tested and "
                  "saved (None: the trained weights themselves)")),
    "label_smoothing": (0.0, "label smoothing of the training loss"),
    "bn_momentum": (None, "momentum of every BatchNorm's running statistics (None: the net's own)"),
    "rotate": (0.0, "augmentation: rotate each image by up to +- this many degrees"),
    "translate": (0.0, "augmentation: shift each image by up to +- this fraction of its size"),
    "scale": (0.0, "augmentation: zoom each image by 1 +- this"),
    "brightness": (0.0, "augmentation: add up to +- this to each image's pixels (0-1 scale)"),
    "contrast": (0.0, "augmentation: multiply each image's pixels by 1 +- this"),
    "elastic": (0.0, ("augmentation: an elastic distortion, a smooth random displacement of each pixel by up to "
                     "+- this many pixels (drawn on a 4x4 grid, spread over the image bicubically)")),
    "augment_fade": (None, ("[first, last]: the augmentation fades linearly from full before epoch first "
                           "to none from epoch last on (None: full throughout)")),
    "teacher": (None, ("distillation: a teacher's weights file (python -m lab.search --save-teacher writes one, in "
                      "teachers/); the student also learns its softened outputs on the same augmented batch "
                      "(None: no teacher)")),
    "distill_temperature": (4.0, ("distillation: the temperature that softens the teacher's and the student's "
                                 "outputs in the soft loss")),
    "distill_weight": (0.5, ("distillation: the soft loss's share of the training loss (the true labels' "
                            "cross-entropy has the rest)")),
    "optimizer": ("sgd", ("sgd, or muon: Muon (Jordan et al., 2024) for the conv filters between the first conv "
                         "and the head, each flattened to out x rest; SGD (lr, momentum, ...) for the first conv, the "
                         "head and the norms")),
    "muon_lr": (0.24, "muon: Muon's peak rate, moved by the schedule as lr is (airbench94_muon's 0.24)"),
    "muon_momentum": (0.6, "muon: Muon's Nesterov momentum (airbench94_muon's 0.6)"),
    "sam_rho": (0.0, ("sharpness-aware minimization (Foret et al., 2021): the radius of its second pass, which takes "
                     "the gradient at the weights moved that far uphill and costs a step twice (0: one pass)")),
}
SCHEDULES = ("constant", "multistep", "cosine", "piecewise")
OPTIMIZERS = ("sgd", "muon")


class RecipeError(ValueError):
    """A recipe that cannot train: an unknown key, or a value of the wrong kind."""


POSITIVE_INTEGERS = ("epochs", "batch_size")
NUMBERS = ("lr", "momentum", "weight_decay", "gamma", "warmup", "floor", "label_smoothing", "rotate", "translate",
           "scale", "brightness", "contrast", "elastic", "distill_temperature", "distill_weight", "muon_lr",
           "muon_momentum", "sam_rho")
OPTIONAL_NUMBERS = ("anneal_end", "ema", "bn_momentum")


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_kinds(full: Mapping[str, Any], source: str) -> None:
    """Each value of the kind its key needs: a typo such as lr=O.1 is refused here, not mid-run."""
    for key in POSITIVE_INTEGERS:
        if not (isinstance(full[key], int) and not isinstance(full[key], bool) and full[key] > 0):
            raise RecipeError(f"{source}: {key} must be a whole number above zero, not {full[key]!r}")
    for key in NUMBERS + OPTIONAL_NUMBERS:
        if not (is_number(full[key]) or (key in OPTIONAL_NUMBERS and full[key] is None)) or \
                (is_number(full[key]) and full[key] < 0):
            raise RecipeError(f"{source}: {key} must be a number of zero or more, not {full[key]!r}")
    if full["lr"] <= 0:
        raise RecipeError(f"{source}: lr must be above zero, not {full['lr']!r}")
    lists = {"milestones": lambda v: all(map(is_number, v)),
             "points": lambda v: all(isinstance(p, list) and len(p) == 2 and all(map(is_number, p)) for p in v),
             "augment_fade": lambda v: len(v) == 2 and all(map(is_number, v))}
    for key, fits in lists.items():
        value = full[key]
        if not (value is None and key == "augment_fade") and not (isinstance(value, list) and fits(value)):
            raise RecipeError(f"{source}: {key} must be {LIST_KINDS[key]}, not {value!r}")


LIST_KINDS = {"milestones": "a list of epochs", "points": "a list of [epoch, fraction] pairs",
              "augment_fade": "[first, last] epochs, or null"}


def complete(recipe: Mapping[str, Any], source: str = "the recipe") -> Recipe:
    """`recipe` with every key the schema knows, defaults filled in; RecipeError (naming `source`) for a
    key it does not know, a value of the wrong kind, or a schedule it cannot run."""
    unknown = [key for key in recipe if key not in SCHEMA]
    if unknown:
        raise RecipeError(f"{source}: unknown key {', '.join(map(repr, unknown))}; valid keys: "
                          f"{', '.join(SCHEMA)}")
    full = {key: recipe.get(key, default) for key, (default, _) in SCHEMA.items()}
    check_kinds(full, source)
    if not isinstance(full["nesterov"], bool):
        raise RecipeError(f"{source}: nesterov must be true or false, not {full['nesterov']!r}")
    if full["nesterov"] and not full["momentum"] > 0:
        raise RecipeError(f"{source}: nesterov needs a momentum above zero")
    if full["optimizer"] not in OPTIMIZERS:
        raise RecipeError(f"{source}: unknown optimizer {full['optimizer']!r}; valid: {', '.join(OPTIMIZERS)}")
    if full["schedule"] not in SCHEDULES:
        raise RecipeError(f"{source}: unknown schedule {full['schedule']!r}; valid: {', '.join(SCHEDULES)}")
    if full["schedule"] == "piecewise" and (len(full["points"]) < 2 or full["points"][0][0] != 0):
        raise RecipeError(f"{source}: a piecewise schedule needs points [[0, f0], [epoch, f1], ...]")
    if full["augment_fade"] is not None and not full["augment_fade"][0] < full["augment_fade"][1]:
        raise RecipeError(f"{source}: augment_fade is [first, last] with first < last")
    if full["teacher"] is not None and not (isinstance(full["teacher"], str) and full["teacher"]):
        raise RecipeError(f"{source}: teacher must be a weights file's path, or null, not {full['teacher']!r}")
    if not full["distill_temperature"] > 0 or not full["distill_weight"] <= 1:
        raise RecipeError(f"{source}: distill_temperature must be above zero and distill_weight at most 1")
    return cast("Recipe", full)  # every key of the schema, each of the kind just checked


def help_text() -> str:
    """Every key, its default and its meaning: for `train.py --recipe-help`."""
    return "\n".join(f"{key:<16} default {default!r:<10} {meaning}" for key, (default, meaning) in SCHEMA.items())
