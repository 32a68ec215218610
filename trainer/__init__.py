"""The trainer: a model file's recipe turned into a training, and what a run leaves behind.

    from trainer.engine import fit       # the training itself: schedule, weight average, epochs, verdict
    from trainer.recipe import complete  # the recipe's schema: every key, its default and meaning

What trains, and travels with a model file into a notebook's folder (TRAVEL, below; the README's "Use it in a
notebook"): engine (fit, the epochs, the optimizer's step), recipe (the schema) and verdict (the target), with
data.py. What keeps and shows a run, beside them: checkpoints (atomic files, read as data), provenance (where a
run comes from, and the one rule of when a saved run is the same experiment), records (a run's metrics.json
and a sweep's summary), runs (one seed into its folder, a sweep of seeds), experiments (model files by name),
sweeps (runs on Ray, imported only by a sweep that asks for it), flags (the command-line flags train.py and
the lab share), plots (a run's own pictures, imported when it draws), specnets (the nets written as spec
strings: the search's trial nets and the teachers, imported only when a recipe names a teacher), paths (the
project's root) and types (the shapes of the dicts they pass, for the type checker).

Imports: data.py, torch and other third-party packages, and this package's own modules; never train.py,
the lab or the reports.
"""

# The files a student copies beside a model file to train it as train.py does, keeping the folder: what `fit`
# imports, and so the training code whose hash every record keeps (provenance.TRAINING_CODE).
TRAVEL = ("data.py", "trainer/__init__.py", "trainer/engine.py", "trainer/recipe.py", "trainer/verdict.py")
