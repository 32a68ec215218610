"""Seed sweeps that survive a stop, and the provenance every run records."""
import hashlib
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

import train
from conftest import ROOT, ChildOutput, copy_of_the_code
from trainer import provenance

SWEEP = ["--model", "model3", "--seeds", "1,2", "--batch-size", "64", "--device", "cpu", "--no-download"]


def sweep(cwd, data, out, *extra, timeout=180):
    return subprocess.run([sys.executable, "train.py", *SWEEP, "--data-dir", str(data), "--out", str(out), *extra],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def summary_without_times(out):
    summary = json.loads((out / "model3-summary.json").read_text())
    summary["seeds"] = [{k: v for k, v in row.items() if k != "seconds"} for row in summary["seeds"]]
    return summary


@pytest.mark.slow
def test_a_sweep_stopped_by_ctrl_c_in_its_second_seed_goes_on_where_it_stopped(tiny_mnist, tmp_path):
    epochs = ["--epochs", "40"]
    whole = sweep(ROOT, tiny_mnist, tmp_path / "whole", *epochs)
    assert whole.returncode == 0, whole.stderr

    out = tmp_path / "broken"
    proc = subprocess.Popen([sys.executable, "train.py", *SWEEP, *epochs, "--data-dir", str(tiny_mnist),
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    second = out / "model3-seed2" / "checkpoint.pt"
    output = ChildOutput(proc)
    output.until("EPOCH: 2", seconds=120, after="== seed 2 (2/2) ==")  # seed 2's epoch 1 is saved
    proc.send_signal(signal.SIGINT)
    stdout, stderr = output.end(seconds=60)
    assert proc.returncode == 130, stderr
    assert "== seed 1 (1/2) ==" in stdout and "== seed 2 (2/2) ==" in stdout
    assert "The sweep goes on from there when the same command is run again." in stdout
    stopped_at = torch.load(second, weights_only=True)["epoch"]
    assert 1 <= stopped_at < 40, "the stop came during the second seed"
    assert not (out / "model3-summary.json").exists()

    again = sweep(ROOT, tiny_mnist, out, *epochs)
    assert again.returncode == 0, again.stderr
    assert f"== seed 1 (1/2): reused, finished in {out / 'model3-seed1'} ==" in again.stdout
    assert f"== seed 2 (2/2): continued from {second} ==" in again.stdout
    assert f"Resuming model3 seed 2 after epoch {stopped_at} of 40" in again.stdout
    assert again.stdout.count("EPOCH:") == 40 - stopped_at, "seed 1 was not trained again"
    assert summary_without_times(out) == summary_without_times(tmp_path / "whole")


@pytest.mark.slow
def test_a_changed_model_file_is_trained_again_and_fresh_retrains_all(tiny_mnist, tmp_path):
    repo = copy_of_the_code(tmp_path / "repo", "model3")
    assert sweep(repo, tiny_mnist, tmp_path / "runs", "--epochs", "1").returncode == 0

    same = sweep(repo, tiny_mnist, tmp_path / "runs", "--epochs", "1")
    assert same.stdout.count(": reused, finished in") == 2 and "EPOCH:" not in same.stdout

    (repo / "model3.py").write_text((repo / "model3.py").read_text().replace("Result (", "Result (rewritten, ", 1))
    docstring = sweep(repo, tiny_mnist, tmp_path / "runs", "--epochs", "1")
    assert docstring.stdout.count(": reused, finished in") == 2, "a docstring is no change of the experiment"

    old_hash = provenance.model_sha256(repo / "model3.py")
    with open(repo / "model3.py", "a") as model_file:
        model_file.write("# changed\n")
    new_hash = provenance.model_sha256(repo / "model3.py")
    changed = sweep(repo, tiny_mnist, tmp_path / "runs", "--epochs", "1")
    assert changed.returncode == 0, changed.stderr
    for seed, position in ((1, "1/2"), (2, "2/2")):
        assert (f"== seed {seed} ({position}): trained again, since in {tmp_path / 'runs' / f'model3-seed{seed}'} "
                f"the model file changed (sha256 {old_hash[:12]}, now {new_hash[:12]}) ==") in changed.stdout
    assert changed.stdout.count("EPOCH: 1") == 2
    record = json.loads((tmp_path / "runs" / "model3-seed1" / "metrics.json").read_text())
    assert record["provenance"]["model_sha256"] == new_hash

    other_recipe = sweep(repo, tiny_mnist, tmp_path / "runs", "--epochs", "1", "--lr", "0.05")
    assert other_recipe.stdout.count("its recipe differs ==") == 2
    fresh = sweep(repo, tiny_mnist, tmp_path / "runs", "--epochs", "1", "--lr", "0.05", "--fresh")
    assert "reused" not in fresh.stdout and fresh.stdout.count("EPOCH: 1") == 2


@pytest.mark.slow
def test_runs_checkpoints_and_summaries_record_where_they_came_from(tiny_mnist, tmp_path, capsys):
    code = train.main([*SWEEP, "--epochs", "1", "--data-dir", str(tiny_mnist), "--out", str(tmp_path)])
    assert code == 0
    record = json.loads((tmp_path / "model3-seed1" / "metrics.json").read_text())
    checkpoint = torch.load(tmp_path / "model3-seed1" / "checkpoint.pt", weights_only=True)
    summary = json.loads((tmp_path / "model3-summary.json").read_text())
    where = record["provenance"]
    assert checkpoint["provenance"] == where
    assert where["model_sha256"] == provenance.model_sha256(ROOT / "model3.py") != \
        hashlib.sha256((ROOT / "model3.py").read_bytes()).hexdigest()
    assert len(where["code_sha256"]) == 64
    assert where["torch"] == torch.__version__ and where["threads"] == torch.get_num_threads()
    assert where["device"] == "cpu" and where["device_name"]
    git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if git.returncode == 0:
        assert where["git_commit"] == git.stdout.strip() and isinstance(where["git_dirty"], bool)
    else:
        assert where["git_commit"] is None and where["git_dirty"] is None
    assert summary["provenance"] == {k: v for k, v in where.items() if k not in ("git_commit", "git_dirty")}
    assert [row["git_commit"] for row in summary["seeds"]] == [where["git_commit"]] * 2
    assert f"model3.py sha256 {where['model_sha256'][:12]}" in capsys.readouterr().out


def test_fresh_needs_a_sweep(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args(["--model", "model3", "--fresh"])
    assert exit_info.value.code == 2
    assert "--fresh goes with --seeds" in capsys.readouterr().err


def test_requirements_never_cap_torch():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    for package in ("torch", "torchvision"):
        spec = next(line for line in lines if line.startswith(package) and line[len(package)] in "<>=!~ ")
        assert ">=" in spec and "<" not in spec and "==" not in spec, spec


def test_a_cluster_job_takes_the_teachers_but_leaves_runs_and_data_behind():
    """Ray's excludes are gitignore patterns: no pattern may catch teachers/*.pt, which a distilled run reads on
    its worker, while run outputs, data and results stay behind."""
    import fnmatch

    from trainer import sweeps

    def left_behind(path):
        parts = path.split("/")
        return any(fnmatch.fnmatch(parts[-1], pattern) if "/" not in pattern.rstrip("/") and not pattern.endswith("/")
                   else pattern.rstrip("/") in parts[:-1] for pattern in sweeps.LEFT_BEHIND)
    teachers = [str(path.relative_to(ROOT)) for path in (ROOT / "teachers").glob("*.pt")]
    assert teachers and not any(left_behind(path) for path in teachers)
    assert all(left_behind(path) for path in ("runs/model3-seed1/model.pt", "data/MNIST/raw/x", "results/a.json"))
