"""The experiments: the model*.py files beside train.py, found by name, imported and checked before
anything trains, and their recipes completed, once, where they are loaded.

A model file's contract (README, Adding an experiment): it imports, it defines `Net` and `RECIPE`,
`RECIPE` uses only the recipe's keys (recipe.SCHEMA), and `Net()` maps a (2, 1, 28, 28) batch to
(2, 10) log-probabilities (engine.check_net, which train.py runs on the net it summarizes). A file that
breaks it is refused in one line that names the file.
"""
import importlib.util
import re
import traceback
from collections.abc import Callable, Mapping
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, cast

import torch.nn as nn

from trainer.engine import UserError
from trainer.paths import ROOT
from trainer.recipe import RecipeError, complete
from trainer.types import Recipe

MODEL_NAME = re.compile(r"model\w*")  # model1, model4, model_wide: names, never paths


class ModelFileError(UserError):
    """A model file that breaks the contract."""


class Experiment(NamedTuple):
    """What a run trains: a name, a way to build the net, the complete recipe, the model file (if any)."""
    name: str
    make_net: Callable[[], nn.Module]
    recipe: Recipe
    model_file: Path | None = None


def model_names() -> list[str]:
    """The experiments: the model*.py files beside train.py, by name (model10 after model9)."""
    names = [path.stem for path in ROOT.glob("model*.py") if MODEL_NAME.fullmatch(path.stem)]
    return sorted(names, key=lambda name: [int(part) if part.isdigit() else part
                                           for part in re.split(r"(\d+)", name)])


def model_path(name: str) -> Path:
    return ROOT / f"{name}.py"


def import_model_file(name: str) -> ModuleType:
    """Import the model file `name` from beside train.py, and check that it defines a Net and a RECIPE dict;
    anything not listed is refused unimported, and a file that fails to import is reported by its own file
    and line, not by a traceback through ours."""
    names = model_names()
    if name not in names:
        raise UserError(f"unknown model {name!r}; valid models: {', '.join(names)}")
    path = model_path(name)
    # A .py file always has a spec, its loader Python's own: neither is None here.
    spec = cast(ModuleSpec, importlib.util.spec_from_file_location(name, path))
    module = importlib.util.module_from_spec(spec)
    try:
        cast(Loader, spec.loader).exec_module(module)
    except SyntaxError as err:
        raise ModelFileError(f"{path}, line {err.lineno}: {err.msg}") from None
    except Exception as err:
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == str(path)]
        where = f", line {frames[-1].lineno}" if frames else ""
        raise ModelFileError(f"{path}{where}: importing it raised {type(err).__name__}: {err}") from None
    missing = [attr for attr in ("Net", "RECIPE") if not hasattr(module, attr)]
    if missing:
        raise ModelFileError(f"{path}: defines no {' and no '.join(missing)} (a model file needs both)")
    if not isinstance(module.RECIPE, dict):
        raise ModelFileError(f"{path}: RECIPE is a {type(module.RECIPE).__name__}, not a dict")
    return module


def load_experiment(name: str, overrides: Mapping[str, Any] | None = None) -> Experiment:
    """The model file `name` as an Experiment: its Net, and its RECIPE with `overrides` (train.py's flags) on
    top, completed here, once; a recipe that cannot train is refused in one line naming the file (and flags)."""
    module, path = import_model_file(name), model_path(name)
    source = f"{path}: RECIPE" + (f" with the flags' {', '.join(overrides)}" if overrides else "")
    try:
        recipe = complete({**module.RECIPE, **(overrides or {})}, source=source)
    except RecipeError as err:
        raise ModelFileError(str(err)) from None
    return Experiment(name, module.Net, recipe, path)
