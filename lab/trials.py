"""The search's and the plain loop's results files: one JSON line per finished run, read back, and whether a
line is the very trial asked for (the trainer's one rule, provenance.differs)."""
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainer.provenance import SAME_EXPERIMENT, saved_run_differs
from trainer.types import TrialLine


def load_trials(path: str | Path) -> list[dict[str, Any]]:
    """A results file's runs (the search's, the plain loop's), one dict per run; none if the file is absent.
    A line cut short (a crash while it was written) is skipped with a line saying so: that run is simply run again."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            rows.append(json.loads(line)) if line.strip() else None
        except ValueError:
            print(f"{path}, line {number}: not a whole result, skipped")
    return rows

def trial_differs(line: TrialLine, spec: str, recipe: Mapping[str, Any], seed: int,
                  expected: Mapping[str, Any]) -> str | None:
    """Why a line of the search's results is not the trial asked for, by the rules of saved_run_differs; the
    spec and the code that builds it (specnets.py, whose hash is the line's model_sha256) stand for a model
    file. None if it is the same trial."""
    missing = [key for key, _ in SAME_EXPERIMENT if key not in line]
    if missing:
        return f"it records no {', '.join(missing)} (an older search wrote it)"
    if line.get("spec") != spec:
        return f"its net differs ({line.get('spec')}, now {spec})"
    if line["model_sha256"] != expected["model_sha256"]:
        return f"specnets.py changed (sha256 {(line['model_sha256'] or '')[:12]}, " \
               f"now {expected['model_sha256'][:12]})"
    return saved_run_differs({"seed": line.get("seed"), "recipe": line.get("recipe", {}), "provenance": line},
                             recipe, seed, expected)
