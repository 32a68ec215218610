"""The experiments: the model*.py files beside train.py, found by name, imported and checked before
anything trains.

A model file's contract (README, Adding an experiment): it imports, it defines `Net` and `RECIPE`,
`RECIPE` uses only the recipe's keys (recipe.SCHEMA), and `Net()` maps a (2, 1, 28, 28) batch to
(2, 10) log-probabilities. A file that breaks it is refused in one line that names the file.
"""
import importlib.util
import re
import traceback
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import cast

from trainer.engine import UserError, check_net
from trainer.paths import ROOT
from trainer.recipe import RecipeError, complete
from trainer.types import Recipe

MODEL_NAME = re.compile(r"model\w*")  # model1, model4, model_wide: names, never paths


class ModelFileError(UserError):
    """A model file that breaks the contract (engine.check_net reports a Net that does)."""


def model_names() -> list[str]:
    """The experiments: the model*.py files beside train.py, by name (model10 after model9)."""
    names = [path.stem for path in ROOT.glob("model*.py") if MODEL_NAME.fullmatch(path.stem)]
    return sorted(names, key=lambda name: [int(part) if part.isdigit() else part
                                           for part in re.split(r"(\d+)", name)])


def model_path(name: str) -> Path:
    return ROOT / f"{name}.py"


def import_model_file(name: str) -> ModuleType:
    """Import the model file `name` from beside train.py; anything not listed is refused unimported, and
    a file that fails to import is reported by its own file and line, not by a traceback through ours."""
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
    return module


def load_experiment(name: str) -> tuple[ModuleType, Recipe]:
    """The model file `name`, imported and checked: returns (module, its complete recipe)."""
    module = import_model_file(name)
    path = model_path(name)
    missing = [attr for attr in ("Net", "RECIPE") if not hasattr(module, attr)]
    if missing:
        raise ModelFileError(f"{path}: defines no {' and no '.join(missing)} (a model file needs both)")
    if not isinstance(module.RECIPE, dict):
        raise ModelFileError(f"{path}: RECIPE is a {type(module.RECIPE).__name__}, not a dict")
    try:
        recipe = complete(module.RECIPE, source=f"{path}: RECIPE")
    except RecipeError as err:
        raise ModelFileError(str(err)) from None
    check_net(module.Net, f"{path}: Net()")
    return module, recipe
