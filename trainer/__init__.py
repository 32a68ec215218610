"""The trainer: a model file's recipe turned into a training, and what a run leaves behind.

    from trainer.engine import fit       # the training itself: schedule, weight average, epochs, verdict
    from trainer.recipe import complete  # the recipe's schema: every key, its default and meaning

engine (fit), recipe (the schema), verdict (the target), specnets (the nets written as spec strings:
the trial nets and a teacher's) decide a run's numbers; records (a run's record, its provenance,
checkpoints), experiments (model files by name), runs (one seed, a sweep), sweeps (runs on Ray, imported
only by a sweep that asks for it), flags (the command-line flags train.py and the lab share), plots (a
run's pictures) and paths (the project's root) keep and show it. types holds the shapes of the dicts
they pass (a recipe, a provenance, an epoch's metrics, a run's record, a trial's line), for the type
checker (`mypy`): the files that travel import it only when type-checked.

Imports: data.py, torch and other third-party packages, and this package's own modules; never train.py,
the lab or the reports. So this package's __init__, engine, paths, plots, recipe, specnets and verdict,
with data.py and a model file, train in any folder (the README's "Take the trainer with you").
"""
