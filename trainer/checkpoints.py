"""A run's files, written so that a crash never leaves half a file, and read back as data, never code.

    from trainer.checkpoints import load_checkpoint, save_atomic
    save_atomic(training.saved(state=True), "runs/model3-seed1/checkpoint.pt")
"""
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from trainer.engine import UserError


class CheckpointError(UserError):
    """A checkpoint that cannot be used: unreadable, finished, or written for another model."""



def write_atomic(path: str | Path, write: Callable[[Path], object]) -> None:
    """write(temporary path), then os.replace: a crash mid-write leaves the old file whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)



def save_atomic(obj: object, path: str | Path) -> None:
    write_atomic(path, lambda tmp: torch.save(obj, tmp))



def write_json(obj: object, path: str | Path) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))



def load_checkpoint(path: str | Path, model_name: str | None = None) -> dict[str, Any]:
    """Read a file written by train.py (weights only: a checkpoint is data, never code)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as err:  # torch's own text would suggest weights_only=False: never for a file we are handed
        raise CheckpointError(f"{path}: not a readable checkpoint written by train.py "
                              f"({type(err).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_state" not in ckpt:
        raise CheckpointError(f"{path}: not a checkpoint written by train.py (no model name and weights)")
    if model_name and ckpt["model"] != model_name:
        raise CheckpointError(f"{path} holds {ckpt['model']} weights, not {model_name}")
    return ckpt
