"""weights/: the committed weights of each model file's default run (seed 1), which hubconf.py loads and
`train.py --eval weights/<model>.pt` tests, each beside a JSON file of where it came from.

`python -m reports --weights` copies results/runs/<model>-seed1/model.pt (written by `python train.py --model
<model> --record`, never committed itself) into weights/<model>.pt with weights/<model>.json: the file's own
sha256, the run's record, the model file's hash, torch, the CPU type, and the last epoch's score and verdict.
`python -m reports --check` holds each pair to the record it names.
"""
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from trainer.experiments import import_model_file
from trainer.provenance import model_sha256
from trainer.verdict import target_met

MODELS = ("model1", "model2", "model3", "model4")


def about(record: dict[str, Any], weights: Path) -> dict[str, Any]:
    """A weights file's JSON companion, from its run's record."""
    where, last = record["provenance"], record["epochs"][-1]
    saved = torch.load(weights, map_location="cpu", weights_only=True)
    return {"model": record["model"], "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
            "record": f"results/runs/{record['model']}-seed{record['seed']}/metrics.json",
            "params": record["params"], "passes": len(getattr(import_model_file(record["model"]), "SHIFTS", ())) or 1,
            "epoch": saved["epoch"], "test_correct": last["test_correct"],
            "verdict": target_met(record["params"], record["epochs"])[1], "model_sha256": where["model_sha256"],
            "torch": where["torch"], "device_name": where["device_name"], "cpu_capability": where["cpu_capability"],
            "threads": where["threads"], "git_commit": where["git_commit"]}


def write_weights(results: Path, root: Path) -> None:
    """Each model's seed-1 model.pt from results/runs into weights/, with its JSON."""
    (root / "weights").mkdir(exist_ok=True)
    for model in MODELS:
        run = results / "runs" / f"{model}-seed1"
        if not (run / "model.pt").is_file():
            raise SystemExit(f"error: {run / 'model.pt'} is missing: run `python train.py --model {model} --record` "
                             f"on this machine first")
        record = json.loads((run / "metrics.json").read_text())
        if record["provenance"]["model_sha256"] != model_sha256(root / f"{model}.py"):
            raise SystemExit(f"error: {run} ran another {model}.py than today's: record it again")
        shutil.copy(run / "model.pt", root / "weights" / f"{model}.pt")
        (root / "weights" / f"{model}.json").write_text(
            json.dumps(about(record, root / "weights" / f"{model}.pt"), indent=2) + "\n")
        print(f"weights/{model}.pt from {run}")


def stale_weights(results: Path, root: Path) -> list[str]:
    """What in weights/ no longer matches: a file whose sha256, record or model file moved (nothing, for a root
    with no weights/: a document tree of the tests)."""
    stale: list[str] = []
    if not (root / "weights").is_dir():
        return stale
    for model in MODELS:
        weights, companion = root / "weights" / f"{model}.pt", root / "weights" / f"{model}.json"
        if not weights.is_file() or not companion.is_file():
            stale.append(f"weights/{model}.pt or .json is missing")
            continue
        said = json.loads(companion.read_text())
        record = json.loads((root / said["record"]).read_text())
        if said != about(record, weights):
            stale.append(f"weights/{model}.json does not match its weights file and {said['record']}")
        elif said["model_sha256"] != model_sha256(root / f"{model}.py"):
            stale.append(f"weights/{model}.pt was trained from another {model}.py than today's")
    return stale
