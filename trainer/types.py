"""The shapes of the dicts that cross the trainer's modules and its files: a recipe, a run's provenance, an
epoch's metrics, a run's record, a trial's line. Definitions only, importing only typing: any layer may import it."""
from typing import Any, Literal, TypedDict


class Recipe(TypedDict):
    """A complete recipe, as recipe.complete returns it: every key of recipe.SCHEMA (whose text says what
    each means). A model file's RECIPE names only what it changes: a plain dict, until complete fills it."""
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: Literal["constant", "multistep", "cosine", "piecewise"]
    milestones: list[float]
    gamma: float
    warmup: float
    anneal_end: float | None
    floor: float
    points: list[list[float]]  # [[epoch, fraction of lr], ...]
    ema: float | None
    label_smoothing: float
    bn_momentum: float | None
    rotate: float
    translate: float
    scale: float
    brightness: float
    contrast: float
    elastic: float
    augment_fade: list[float] | None  # [first, last]
    teacher: str | None
    distill_temperature: float
    distill_weight: float
    optimizer: Literal["sgd", "muon"]
    muon_lr: float
    muon_momentum: float
    sam_rho: float


class Provenance(TypedDict):
    """Where a run comes from (provenance.provenance): the model file's (None without one) and the training
    code's hashes, the git commit (None outside a checkout), torch, the device, the CPU's vector
    instructions, the thread count and the machine's name."""
    node: str
    model_sha256: str | None
    code_sha256: str
    git_commit: str | None
    git_dirty: bool | None
    torch: str
    device: str
    device_name: str
    cpu_capability: str
    threads: int


class EpochMetrics(TypedDict):
    """An epoch's row of metrics (engine.Training.run): its training loss and accuracy (%), the tested
    net's test loss, correct count and accuracy (%), the learning rate it began with and its seconds."""
    epoch: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_correct: int
    test_total: int
    test_accuracy: float
    lr: float
    seconds: float


class MachineLoad(TypedDict):
    """records.machine_load: the 1-, 5- and 15-minute load averages and the core count (None if unknown)."""
    load: list[float]
    cores: int | None


class Machine(TypedDict, total=False):
    """The machine's load when a run started and when it ended (no end: it has not); None where the OS
    does not tell."""
    start: MachineLoad | None
    end: MachineLoad | None


class _RunRecordKeys(TypedDict):  # the keys every record has, from its first writing on
    model: str
    seed: int
    params: int
    recipe: Recipe
    dry_run: bool
    provenance: Provenance
    epochs: list[EpochMetrics]
    machine: Machine


class RunRecord(_RunRecordKeys, total=False):
    """A run's metrics.json (runs.train_seed), rewritten after every epoch; a finished run adds its last
    epoch's confusion matrix and mistakes, and its verdict unless it was a dry run."""
    confusion: list[list[int]]  # counts[true][predicted]
    mistakes: list[list[int]]  # [test index, true, predicted] of each wrong prediction
    target_met: bool
    int8: dict[str, Any]  # with --int8: the window's accuracies through the int8 file (trainer/export.py)


class TrialLine(Provenance):
    """A line of the search's results (lab/search.py's run_trial): the variant, the question it answers, its
    spec and complete recipe, the seed, where it ran (a Provenance, the spec's code standing for a model
    file) and how it went, test accuracy (%) per epoch first."""
    variant: str
    question: str
    spec: str
    recipe: Recipe
    seed: int
    params: int
    test_accuracy: list[float]
    best: float
    min_last: float
    target_met: bool
    int8: dict[str, Any]  # with --int8: the window's accuracies through the int8 file (trainer/export.py)
    seconds_per_epoch: float
    wall_seconds: float
    machine: Machine
