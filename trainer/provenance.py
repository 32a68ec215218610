"""Where a run comes from, and whether a saved run is the very experiment asked for.

Every record says where it came from (`provenance`): the model file's and the training code's hashes,
the git commit, torch, the device and, on a CPU, its type and vector instructions, and the thread count.
The same seed gives the same numbers only when all of these but the commit are the same (SAME_EXPERIMENT),
so a sweep, the search and the plain loop reuse a saved run only then, by one rule (`differs`).
"""
import ast
import functools
import hashlib
import io
import os
import platform
import socket
import subprocess
import tokenize
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from trainer import TRAVEL
from trainer.paths import ROOT
from trainer.recipe import RecipeError, complete
from trainer.types import MachineLoad, Provenance

# The files whose code decides a run's numbers, beside the model file: what fit imports (tests/test_layout.py
# keeps the two the same), which are also the files that travel with a model file.
TRAINING_CODE = TRAVEL
# Training code whose runs a refactor check showed equal, every epoch to the bit, to runs of later code: {the
# earlier code's hash: the later code's}. A run or checkpoint of the earlier code is reused and resumed as the
# later code's (tests/test_audit.py holds each pair to its check's records).
EQUAL_NUMBERS = {
    # 50e0fff (engine, data and recipe by their bytes) -> b44faa9 (trainer.TRAVEL by its tokens):
    # results/refactor-check/trainer
    "f07a440952ea453fa97259040d30d13caf1043df17d5f2859e29ca73044b6c93":
        "866a99917796aa061d039a87096b03f734f0061db8a9f673a705ff1be29f843e",
    # b44faa9 -> f3ca54b (the seventh push's recipe keys, at their defaults): results/refactor-check/levers
    "866a99917796aa061d039a87096b03f734f0061db8a9f673a705ff1be29f843e":
        "74781be92ce051f8a72552e0b8cd1fe0c8b9f43f7f2b58f6f3a0523e821b8e9a",
}


def sha256(*paths: str | Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()



def model_sha256(path: str | Path) -> str:
    """A model file's hash without its module docstring: the reports rewrite the docstring's Result after a
    sweep, which changes no number, so a sweep run again still reuses its finished runs."""
    text = Path(path).read_text()
    try:
        body = ast.parse(text).body
    except SyntaxError:
        body = []
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
            isinstance(body[0].value.value, str):
        text = "".join(text.splitlines(keepends=True)[body[0].end_lineno:])
    return hashlib.sha256(text.encode()).hexdigest()



def docstring_starts(text: str) -> set[tuple[int, int]]:
    """(line, column) where each docstring of a Python source begins: its module's, classes' and functions'."""
    return {(node.body[0].lineno, node.body[0].col_offset) for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
            and isinstance(node.body[0].value.value, str)}


def code_tokens(path: Path) -> list[str]:
    """A Python file's tokens without its comments, docstrings and blank lines: what its code does, the same
    on any Python version (ast.dump is not), unchanged by a comment or a docstring."""
    text = path.read_text()
    docstrings = docstring_starts(text)
    skipped = (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING)
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [f"{tokenize.tok_name[token.type]} {token.string}" for token in tokens
            if token.type not in skipped and not (token.type == tokenize.STRING and token.start in docstrings)]


@functools.cache
def code_sha256() -> str:
    """The hash of the training code's tokens (code_tokens), read once: the code this process runs."""
    digest = hashlib.sha256()
    for name in TRAINING_CODE:
        digest.update("\n".join([name, *code_tokens(ROOT / name)]).encode() + b"\0")
    return digest.hexdigest()


@functools.cache
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout holding the code; (None, None) outside one or without git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        # Untracked files (a run's own outputs, say) leave the code as committed: only changes to tracked files count.
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None, None
    if commit.returncode or status.returncode:
        return None, None
    return commit.stdout.strip(), bool(status.stdout.strip())



@functools.cache
def cpu_model() -> str:
    """The CPU's model as the OS tells it: name, family and model ('AMD EPYC, family 25, model 17'). Two
    CPUs sold under one name (a Zen 3 and a Zen 4 'AMD EPYC') differ in family or model."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    return f"{fields.get('model name', platform.machine())}, family {fields.get('cpu family', '?')}, " \
           f"model {fields.get('model', '?')}"



@functools.cache
def device_name(device: torch.device) -> str:
    """The GPU's or CPU's model, not just its type: runs on other hardware give other numbers."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()



def provenance(model_file: str | Path | None, device: torch.device) -> Provenance:
    """Where a run comes from, recorded in its metrics, checkpoints and sweep summary. A net without a
    model file (the search's) has no file hash; a model file's leaves out its docstring. cpu_capability:
    the vector instructions torch's CPU kernels use (AVX2, AVX512, ...), which change a CPU run's last
    bits. node: the machine's name, since a cluster's machines may differ."""
    commit, dirty = git_state()
    return {"node": socket.gethostname(), "model_sha256": model_sha256(model_file) if model_file else None,
            "code_sha256": code_sha256(),
            "git_commit": commit, "git_dirty": dirty, "torch": str(torch.__version__),  # plain str: weights_only
            "device": device.type, "device_name": device_name(device),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}



def machine_load() -> MachineLoad | None:
    """The 1-, 5- and 15-minute load averages and the core count: what else ran beside a run, whose
    seconds it shares; None where the OS does not tell."""
    try:
        return {"load": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count()}
    except (AttributeError, OSError):
        return None



def runnable_now() -> int | None:
    """How many threads of other processes are running or ready to run this moment (Linux's /proc/loadavg; the
    load averages lag a minute behind, long enough to blame a run that has just ended); None elsewhere."""
    try:
        return int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]) - 1  # less the thread that reads
    except (OSError, IndexError, ValueError):
        return None


def busy_machine(threads: int) -> str | None:
    """A line to say before a run trains when the other work running now leaves fewer cores free than the run's
    `threads`: torch's threads then spin against it, and an epoch takes 10 to 40 times as long. None when the
    run has the cores it asks for, or where the OS does not tell."""
    others, cores = runnable_now(), os.cpu_count()
    if others is None or cores is None or others + threads <= cores:
        return None
    return (f"warning: this machine is busy ({others} other thread{'s' * (others != 1)} running on {cores} cores) "
            f"and this run wants {threads} thread{'s' * (threads != 1)}: runs side by side slow each other many "
            f"times over; give each --threads 1, or run one at a time")


# What a saved run must share with the one asked for to be reused (beside its seed and recipe), and
# what the console says when it does not.
SAME_EXPERIMENT = (("model_sha256", "the model file changed"),
                   ("code_sha256", f"the training code ({', '.join(TRAINING_CODE)}) changed"),
                   ("torch", "torch changed"), ("device", "the device changed"),
                   ("device_name", "the device changed"), ("cpu_capability", "the CPU's vector instructions changed"),
                   ("threads", "the thread count changed"))


def same_code(old: str | None, new: str | None) -> bool:
    """Whether runs of training code `old` are runs of `new`: the same hash, or a chain of EQUAL_NUMBERS from it."""
    while old is not None and old != new:
        old = EQUAL_NUMBERS.get(old)
    return old == new


def differs(saved: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    """Why a saved run's provenance is not the experiment `expected` describes (SAME_EXPERIMENT); None if it is."""
    missing = [key for key, _ in SAME_EXPERIMENT if key not in saved]
    if missing:
        return f"it records no {', '.join(missing)} (an older version wrote it)"
    for key, what in SAME_EXPERIMENT:
        old, new = saved[key], expected[key]
        if old != new and not (key == "code_sha256" and same_code(old, new)):
            return f"{what} (sha256 {(old or '')[:12]}, now {(new or '')[:12]})" if key.endswith("sha256") else \
                f"{what} ({old}, now {new})"
    return None


def saved_run_differs(saved: Mapping[str, Any], recipe: Mapping[str, Any], seed: int,
                      expected: Mapping[str, Any]) -> str | None:
    """Why a saved run (metrics.json or checkpoint.pt) is not the experiment asked for; None if it is."""
    if saved.get("dry_run"):
        return "it was a dry run"
    if "provenance" not in saved:
        return "it records no provenance (written by an older train.py)"
    try:
        same_recipe = complete(saved.get("recipe", {})) == complete(recipe)
    except RecipeError:  # written under another schema
        same_recipe = False
    if saved.get("seed") != seed or not same_recipe:
        return "its recipe differs"
    return differs({key: saved["provenance"].get(key) for key, _ in SAME_EXPERIMENT}, expected)
