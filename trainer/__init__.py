"""The trainer: a model file's recipe turned into a training, and what a run leaves behind.

    from trainer.engine import fit       # the training itself: schedule, weight average, epochs, verdict
    from trainer.recipe import complete  # the recipe's schema: every key, its default and meaning

engine (fit), recipe (the schema), verdict (the target), specnets (the layers a teacher's net is built
from) decide a run's numbers; records (a run's record, its provenance, checkpoints), experiments (model
files by name), runs (one seed, a sweep), sweeps (runs on Ray, imported only by a sweep that asks for
it), plots (a run's pictures) and paths (the project's root) keep and show it. types holds the shapes of
the dicts they pass (a recipe, a provenance, an epoch's metrics, a run's record, a trial's line), for the
type checker (`mypy`): the files that travel import it only when type-checked.

Imports: data.py, torch and other third-party packages, and this package's own modules; never train.py,
the lab or the reports. So engine, recipe, verdict and specnets, with data.py and a model file, train in
any folder (the README's "Take the trainer with you").
"""
