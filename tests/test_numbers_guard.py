"""The numbers guard (tests/numbers_guard.py): a short training whose every number is committed. In float64 it
holds on any machine (instruction sets move its numbers by about 1e-9 of themselves, a change of behaviour by far
more); in float32 it holds to the bit where a fingerprint for this torch and instruction set is committed."""
import json
import math
import os
import subprocess
import sys

import pytest
import torch

import numbers_guard
from conftest import ROOT, copy_of_the_code

# Instruction sets move the float64 guard by about 2e-9 of a number (AVX2 against DEFAULT, one machine); each
# deliberate break below moves it by 1e-4 or more.
RELATIVE = 1e-6


def committed():
    return json.loads(numbers_guard.VALUES.read_text())


def differences(found, expected):
    """The numbers that moved, as 'epoch N key: found != expected'; counts and rates compared exactly."""
    moved = [f"{len(found)} epochs != {len(expected)}"] if len(found) != len(expected) else []
    for row, want in zip(found, expected):
        for key, value in want.items():
            close = math.isclose(row[key], value, rel_tol=RELATIVE) if isinstance(value, float) and \
                key.endswith("loss") else row[key] == value
            if not close:
                moved.append(f"epoch {want['epoch']} {key}: {row[key]!r} != {value!r}")
    return moved


# The guard's two trainings: RECIPE, whose numbers were recorded before the seventh push's levers existed (so
# their defaults change nothing), and LEVERS, with Muon and SAM on.
GUARDS = {"recipe": (numbers_guard.RECIPE, lambda values: values),
          "levers": (numbers_guard.LEVERS, lambda values: values["levers"])}


@pytest.mark.parametrize("guard", GUARDS)
def test_float64_numbers_are_the_committed_ones_on_any_machine(guard):
    recipe, values = GUARDS[guard]
    assert differences(numbers_guard.guard_numbers(torch.float64, recipe), values(committed())["float64"]) == []


@pytest.mark.parametrize("guard", GUARDS)
def test_float32_numbers_are_the_committed_fingerprint_to_the_bit(guard):
    recipe, values = GUARDS[guard]
    fingerprints = values(committed())["float32"]
    key = numbers_guard.fingerprint_key()
    if key not in fingerprints:
        pytest.skip(f"no float32 fingerprint for {key} (committed for: {'; '.join(fingerprints)}); "
                    f"the float64 guard holds here")
    assert numbers_guard.guard_numbers(torch.float32, recipe) == fingerprints[key]


def test_the_tolerance_tells_a_change_from_an_instruction_set():
    expected = committed()["float64"]
    nudged = [{**row, "test_loss": row["test_loss"] * (1 + 1e-8)} for row in expected]
    assert differences(nudged, expected) == []
    moved = [{**row, "test_loss": row["test_loss"] * (1 + 1e-4)} for row in expected]
    assert len(differences(moved, expected)) == len(expected)


# Deliberate breaks: (what, the code as it is, the code broken, the guard that must see it). Each must be found
# in the code (else the break no longer tests anything) and must move that guard's float64 numbers.
BREAKS = [
    ("the order of two random draws", "    angle = draw() * math.radians(rotate)\n    zoom = 1 + draw() * scale\n",
     "    zoom = 1 + draw() * scale\n    angle = draw() * math.radians(rotate)\n", "recipe"),
    ("the fade's formula", "(last - epoch) / (last - first)", "(last - epoch + 1) / (last - first)", "recipe"),
    ("the deskew's sign", "torch.stack([one, slant, cx], 1)", "torch.stack([one, -slant, cx], 1)", "recipe"),
    ("the weight average's update", "torch._foreach_lerp_(*self.floats, 1 - self.decay)",
     "torch._foreach_lerp_(*self.floats, 0.5 * (1 - self.decay))", "recipe"),
    ("the temperature", "* self.temperature ** 2", "* self.temperature", "recipe"),
    ("Muon's iteration", "x = 3.4445 * x + (-4.7750 * a", "x = 3.4 * x + (-4.7750 * a", "levers"),
    ("SAM's radius", "p.add_(g * scale)", "p.add_(g * scale * 2)", "levers"),
    ("SAM's second update of BatchNorm's statistics",
     "module.track_running_stats = False  # in training", "module.track_running_stats = True  # in training",
     "levers"),
]


@pytest.mark.slow
@pytest.mark.parametrize("what,code,broken,guard", BREAKS, ids=[what for what, _, _, _ in BREAKS])
def test_the_guard_fails_on_a_deliberate_break(tmp_path, what, code, broken, guard):
    repo = copy_of_the_code(tmp_path / "repo")
    (repo / "tests").mkdir()
    for name in ("numbers_guard.py", "fixtures"):
        source = ROOT / "tests" / name
        if source.is_dir():
            (repo / "tests" / name).mkdir()
            for item in source.iterdir():
                (repo / "tests" / name / item.name).write_bytes(item.read_bytes())
        else:
            (repo / "tests" / name).write_bytes(source.read_bytes())
    hits = [path for path in repo.rglob("*.py") if code in path.read_text()]
    assert len(hits) == 1, f"{what}: the code to break is in {len(hits)} files"
    hits[0].write_text(hits[0].read_text().replace(code, broken))
    env = {**os.environ, "PYTHONPATH": str(repo)}  # the copy's code, ahead of the editable install's
    done = subprocess.run([sys.executable, "tests/numbers_guard.py", "float64"] + ["--levers"] * (guard == "levers"),
                          cwd=repo, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert differences(found, GUARDS[guard][1](committed())["float64"]), f"{what}: the guard did not move"
