"""train.py end to end on tiny IDX files: dry run, errors, checkpoints, resume, eval, determinism."""
import copy
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest
import torch

import train
from conftest import ROOT, ChildOutput, copy_of_the_code, copy_of_the_travel_files, without_seconds
from data import TensorLoader, load_mnist
from trainer import checkpoints, engine, experiments, records, runs
from trainer.recipe import complete

FAST = ["--batch-size", "64", "--device", "cpu", "--no-download"]
# The tests that hold on any device run on CUDA too where it is present (the device check script runs them).
NEEDS_CUDA = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")]
DEVICES = ["cpu", pytest.param("cuda", marks=NEEDS_CUDA)]


def run_main(capsys, *argv):
    code = train.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_cli(*argv, timeout=120):
    return subprocess.run([sys.executable, "train.py", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_dry_run_end_to_end(device, tiny_mnist, tmp_path, capsys):
    code, out, _ = run_main(capsys, "--model", "model3", "--data-dir", str(tiny_mnist), "--out", str(tmp_path),
                            "--dry-run", *FAST, "--device", device)
    assert code == 0
    assert f"model3 on {device}" in out
    assert "Total params:" in out  # the torchsummary table
    assert "Test set: Average loss:" in out and "/64 (" in out  # 3 test batches cover all 64 images
    run_dir = tmp_path / "model3-seed1-dry"  # a smoke run never overwrites a real run's files
    assert not (tmp_path / "model3-seed1").exists()
    record = metrics(run_dir)
    assert record["dry_run"] and len(record["epochs"]) == 1
    where = record["provenance"]
    assert where["device"] == device and where["threads"] == torch.get_num_threads() and where["device_name"]
    assert set(record["epochs"][0]) >= {"train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr",
                                        "seconds"}
    for name in ("checkpoint.pt", "best.pt", "model.pt", "curves.png", "misclassified.png", "confusion.png"):
        assert (run_dir / name).is_file(), name


@pytest.mark.parametrize("argv,message", [
    (["--model", "os"], "argument --model: invalid choice: 'os'"),
    (["--model", "../model3"], "invalid choice: '../model3'"),
    (["--model", "model3", "--epochs", "0"], "argument --epochs: must be above zero, got 0"),
    (["--model", "model3", "--batch-size", "-4"], "argument --batch-size: must be above zero, got -4"),
    (["--model", "model3", "--lr", "nan"], "argument --lr: must be above zero, got nan"),
    (["--model", "model3", "--lr", "fast"], "argument --lr: 'fast' is not a number"),
    ([], "--model is required; choose from model1, model2, model3, model4"),
    (["--model", "model3", "--record", "--dry-run"], "--record keeps evidence, and a --dry-run is none"),
    (["--model", "model3", "--record", "--out", "elsewhere"], "argument --out: not allowed with argument --record"),
    (["--eval", "runs/model3-seed1/best.pt", "--record"], "--eval only reads saved weights; drop --record"),
])
def test_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "train.py: error:" in err and all(name in err for name in experiments.model_names())


@pytest.mark.slow
def test_unknown_model_from_the_command_line_imports_nothing():
    result = run_cli("--model", "os")
    assert result.returncode == 2
    assert "invalid choice: 'os' (choose from" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_data_is_one_clear_message_before_anything_else(tmp_path):
    result = run_cli("--model", "model3", "--data-dir", str(tmp_path / "nowhere"), "--no-download")
    assert result.returncode == 1
    assert result.stdout == "" and result.stderr.count("\n") == 1  # no recipe, no summary before it
    assert f"MNIST not found: {tmp_path / 'nowhere' / 'MNIST' / 'raw'} lacks" in result.stderr
    assert "--data-dir" in result.stderr and "MNIST_DATA_DIR" in result.stderr


def wide_net():
    """9,960 parameters, over the limit."""
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10), torch.nn.Linear(10, 100),
                               torch.nn.Linear(100, 10), torch.nn.LogSoftmax(1))


@pytest.mark.slow
def test_a_run_that_cannot_meet_the_target_is_warned_before_it_trains(tiny_mnist, tmp_path, capsys):
    common = ["--model", "model4", "--data-dir", str(tiny_mnist), "--out", str(tmp_path), "--dry-run", *FAST]
    code, out, _ = run_main(capsys, *common, "--epochs", "16")
    warning = "warning: 16 epochs > 15: this run trains, but cannot meet the target\n"
    assert code == 0 and warning in out and out.index(warning) < out.index("EPOCH: 1")
    code, out, _ = run_main(capsys, *common)
    assert code == 0 and "cannot meet the target" not in out
    data = load_mnist(tiny_mnist, download=False)
    engine.fit(wide_net, {"epochs": 20}, data, options=engine.Options(dry_run=True, progress=False))
    out = capsys.readouterr().out
    warning = "warning: 9,960 params > 8,000 and 20 epochs > 15: this run trains, but cannot meet the target\n"
    assert out.startswith(warning) and "EPOCH: 1" in out


@pytest.mark.slow
def test_runs_go_to_runs_which_git_ignores_and_only_record_writes_results(tiny_mnist, tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(records, "RESULTS", tmp_path / "results")  # where --record writes, here
    common = ["--model", "model4", "--epochs", "1", "--data-dir", str(tiny_mnist), *FAST]
    assert run_main(capsys, *common)[0] == 0
    assert metrics(tmp_path / "runs" / "model4-seed1")["epochs"] and not (tmp_path / "results").exists()
    assert run_main(capsys, *common, "--record")[0] == 0
    assert metrics(tmp_path / "results" / "runs" / "model4-seed1")["epochs"]
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout: what git ignores cannot be asked")
    ignored = subprocess.run(["git", "check-ignore", "runs/model4-seed1/metrics.json", "runs/search/trials.jsonl"],
                             cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == ["runs/model4-seed1/metrics.json", "runs/search/trials.jsonl"]


def test_failed_download_is_one_clear_message(tmp_path, monkeypatch, capsys):
    from torchvision import datasets

    def no_network(self):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")
    monkeypatch.setattr(datasets.MNIST, "download", no_network)
    code, _, err = run_main(capsys, "--model", "model3", "--data-dir", str(tmp_path), "--device", "cpu")
    assert code == 1
    assert "and the download failed (Error downloading train-images-idx3-ubyte.gz: no network)" in err


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    checkpoints.save_atomic({"epoch": 1}, path)

    def broken_save(obj, f):
        with open(f, "wb") as handle:
            handle.write(b"half a checkpo")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoints.save_atomic({"epoch": 2}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert list(tmp_path.iterdir()) == [path], "no temporary file left behind"


def short_run(capsys, tiny_mnist, out, *extra, device="cpu"):
    return run_main(capsys, "--model", "model3", "--data-dir", str(tiny_mnist), "--out", str(out),
                    "--epochs", "3", *FAST, "--device", device, *extra)


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_same_seed_same_numbers_and_other_seed_differs(device, tiny_mnist, tmp_path, capsys):
    for out, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert short_run(capsys, tiny_mnist, tmp_path / out, "--seed", seed, device=device)[0] == 0
    strip = lambda rec: [{k: v for k, v in m.items() if k != "seconds"} for m in rec["epochs"]]
    a, b, c = (strip(metrics(tmp_path / out / f"model3-seed{s}")) for out, s in (("a", 7), ("b", 7), ("c", 8)))
    assert a == b
    assert a != c


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_resume_equals_uninterrupted(device, tiny_mnist, tmp_path, capsys, monkeypatch):
    assert short_run(capsys, tiny_mnist, tmp_path / "whole", device=device)[0] == 0
    whole = metrics(tmp_path / "whole" / "model3-seed1")

    # Break the second run during epoch 2, as a Ctrl-C would.
    real_test, calls = engine.evaluate, []

    def interrupted_test(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_test(*args, **kwargs)
    monkeypatch.setattr(engine, "evaluate", interrupted_test)
    code, out, _ = short_run(capsys, tiny_mnist, tmp_path / "broken", device=device)
    checkpoint = tmp_path / "broken" / "model3-seed1" / "checkpoint.pt"
    assert code == 130
    assert f"The checkpoint of epoch 1 is {checkpoint}; continue with: python train.py --resume {checkpoint}" in out
    monkeypatch.setattr(engine, "evaluate", real_test)

    code, out, _ = run_main(capsys, "--resume", str(checkpoint), "--device", device, "--no-download")
    assert code == 0 and "Resuming model3 seed 1 after epoch 1 of 3" in out
    resumed = metrics(tmp_path / "broken" / "model3-seed1")
    assert without_seconds(resumed["epochs"]) == without_seconds(whole["epochs"])


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_eval_matches_the_last_epoch(device, tiny_mnist, tmp_path, capsys):
    assert short_run(capsys, tiny_mnist, tmp_path, device=device)[0] == 0
    run_dir = tmp_path / "model3-seed1"
    last = metrics(run_dir)["epochs"][-1]
    code, out, _ = run_main(capsys, "--eval", str(run_dir / "model.pt"), "--data-dir", str(tiny_mnist),
                            "--device", device, "--no-download")
    assert code == 0
    assert (f"Test set: Average loss: {last['test_loss']:.4f}, Accuracy: {last['test_correct']}/64 "
            f"({last['test_accuracy']:.2f}%)") in out
    best = torch.load(run_dir / "best.pt", weights_only=True)
    assert best["test_accuracy"] == max(m["test_accuracy"] for m in metrics(run_dir)["epochs"])


@pytest.mark.slow
def test_checkpoint_of_another_model_or_garbage(tiny_mnist, tmp_path, capsys):
    assert short_run(capsys, tiny_mnist, tmp_path, "--dry-run")[0] == 0
    checkpoint = tmp_path / "model3-seed1-dry" / "checkpoint.pt"
    code, _, err = run_main(capsys, "--resume", str(checkpoint), "--model", "model2", "--device", "cpu")
    assert code == 1 and f"error: {checkpoint} holds model3 weights, not model2" in err
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    code, _, err = run_main(capsys, "--eval", str(garbage), "--device", "cpu")
    assert code == 1 and f"error: {garbage}: not a readable checkpoint" in err
    code, _, err = run_main(capsys, "--resume", str(tmp_path / "model3-seed1-dry" / "model.pt"), "--device", "cpu")
    assert code == 1 and "holds weights only; --resume needs a checkpoint.pt" in err


def test_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(tiny_mnist, tmp_path, capsys, monkeypatch):
    real_loss, calls = engine.F.cross_entropy, []

    def loss_turns_nan(output, target, **kwargs):
        loss = real_loss(output, target, **kwargs)
        calls.append(1)
        return loss * float("nan") if len(calls) > 6 else loss  # 4 batches an epoch, so during epoch 2
    monkeypatch.setattr(engine.F, "cross_entropy", loss_turns_nan)
    code, _, err = short_run(capsys, tiny_mnist, tmp_path)
    checkpoint = tmp_path / "model3-seed1" / "checkpoint.pt"
    assert code == 1
    assert "model3 seed 1, epoch 2: the loss became nan" in err
    assert f"the last good checkpoint is {checkpoint}" in err
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1


def test_a_serial_sweep_reports_a_failed_run_once_and_finishes_the_rest(tiny_mnist, tmp_path, capsys, monkeypatch):
    real_loss, calls = engine.F.cross_entropy, []

    def one_nan(output, target, **kwargs):  # seed 1's first batch of epoch 2 only
        calls.append(1)
        loss = real_loss(output, target, **kwargs)
        return loss * float("nan") if len(calls) == 5 else loss
    monkeypatch.setattr(engine.F, "cross_entropy", one_nan)
    code, out, err = short_run(capsys, tiny_mnist, tmp_path, "--seeds", "1,2")
    assert code == 1 and (out + err).count("the loss became nan") == 1, out + err
    assert "1 of 2 runs failed (each said why above)" in err
    assert records.finished_record(tmp_path / "model3-seed2") is not None
    assert records.finished_record(tmp_path / "model3-seed1") is None
    assert torch.load(tmp_path / "model3-seed1" / "checkpoint.pt", weights_only=True)["epoch"] == 1


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_a_device_that_is_not_there_is_refused_in_one_line(name, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(engine.UserError, match=f"^--device {name}: no {name.upper()} device is available here$"):
        engine.pick_device(name)
    assert engine.pick_device("auto") == torch.device("cpu")


@pytest.mark.slow
def test_sigint_stops_a_real_run_with_a_usable_checkpoint(tiny_mnist, tmp_path):
    run_dir = tmp_path / "model3-seed1"
    proc = subprocess.Popen([sys.executable, "train.py", "--model", "model3", "--data-dir", str(tiny_mnist),
                             "--out", str(tmp_path), "--epochs", "200", "--batch-size", "16", "--device", "cpu",
                             "--no-download"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    output = ChildOutput(proc)
    output.until("EPOCH: 2", seconds=120)  # epoch 1 ended: its checkpoint is written
    proc.send_signal(signal.SIGINT)
    out, err = output.end(seconds=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Traceback" not in out
    assert f"continue with: python train.py --resume {run_dir / 'checkpoint.pt'}" in out
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] >= 1 and len(checkpoint["metrics"]) == checkpoint["epoch"]


@pytest.mark.parametrize("text,seeds", [("1001-1010", list(range(1001, 1011))), ("1,2,7-9", [1, 2, 7, 8, 9]),
                                        ("5", [5]), ("3, 1", [3, 1])])
def test_seeds_take_lists_and_ranges(text, seeds):
    assert train.parse_args(["--model", "model3", "--seeds", text]).seeds == seeds


@pytest.mark.parametrize("text", ["1-", "9-3", "a", "1,1", "1-3,2", ""])
def test_bad_seed_lists_are_refused(text, capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--model", "model3", "--seeds", text])
    assert "argument --seeds:" in capsys.readouterr().err


def test_schedules_by_epoch():
    factor = lambda recipe, e: engine.lr_factor(complete(recipe), e)
    steps = {"schedule": "multistep", "milestones": [7, 10], "gamma": 0.1}
    assert [factor(steps, e) for e in (0, 6.99, 7, 9.5, 10, 14.9)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    cosine = {"schedule": "cosine", "warmup": 2, "epochs": 15}
    assert factor(cosine, 0) == pytest.approx(0.04)
    assert factor(cosine, 1) == pytest.approx(0.52)
    assert factor(cosine, 2) == pytest.approx(1.0)
    assert factor(cosine, 8.5) == pytest.approx(0.5)
    assert factor(cosine, 15) == pytest.approx(0.0, abs=1e-12)
    assert factor({"schedule": "constant"}, 9) == 1.0
    short = {**cosine, "epochs": 2}  # --epochs 2: the warm-up shrinks to half of the run
    assert [factor(short, e) for e in (0.5, 1, 2)] == pytest.approx([0.52, 1.0, 0.0], abs=1e-12)
    settled = {**cosine, "anneal_end": 11, "floor": 0.05}  # down by epoch 11, then a small rate to the end
    assert [factor(settled, e) for e in (2, 6.5, 11, 13, 15)] == pytest.approx([1.0, 0.525, 0.05, 0.05, 0.05])
    plain = lambda e: 0.5 * (1 + math.cos(math.pi * (e - 2) / (15 - 2)))  # the schedule before them
    assert all(factor(recipe, e) == plain(e) for recipe in (cosine, {**cosine, "anneal_end": 15, "floor": 0.0})
               for e in (2, 3.7, 7.3, 9.123, 14.99, 15)), "without them, the plain cosine to the last bit"
    piecewise = {"schedule": "piecewise", "points": [[0, 0.5], [2, 1.0], [8, 0.1], [15, 0.0]]}
    assert [factor(piecewise, e) for e in (0, 1, 2, 5, 8, 11.5, 15, 16)] == pytest.approx(
        [0.5, 0.75, 1.0, 0.55, 0.1, 0.05, 0.0, 0.0])


def test_augmentation_fades_by_epoch():
    recipe = complete({"augment_fade": [12, 15]})
    assert [engine.augment_strength(recipe, e) for e in (1, 11, 12, 13, 14, 15)] == pytest.approx(
        [1, 1, 1, 2 / 3, 1 / 3, 0])
    assert engine.augment_strength(complete({}), 15) == 1.0


def test_the_schedule_steps_every_batch(tiny_mnist):
    recipe = complete({"lr": 0.1, "momentum": 0.9, "schedule": "cosine", "warmup": 0, "epochs": 2, "batch_size": 64})
    net = lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10), torch.nn.LogSoftmax(1))
    training = engine.Training(net, recipe, load_mnist(tiny_mnist, download=False), 1, QUIET)
    assert len(training.train_loader) == 4
    training.train_epoch(1)
    assert training.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)  # half way: half of the peak


@pytest.mark.slow
def test_a_model_file_dropped_beside_train_runs_by_name(tmp_path, tiny_mnist):
    repo = copy_of_the_code(tmp_path / "repo", "model3")
    own = (ROOT / "model3.py").read_text().replace("class Net(nn.Module):", "class Net(nn.Module):  # mine")
    (repo / "model5.py").write_text(own)
    result = subprocess.run([sys.executable, "train.py", "--model", "model5", "--data-dir", str(tiny_mnist),
                             "--dry-run", *FAST], cwd=repo, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "model5 on cpu" in result.stdout and "Dry run:" in result.stdout
    assert (repo / "runs" / "model5-seed1-dry" / "model.pt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["os", "../model3", "model3.py", "notmodel", "PATH/model3", "model3 "])
def test_names_that_are_not_model_files_beside_train_are_refused_unimported(name, tmp_path):
    """Each refused name points at a file that would leave a mark if it were ever imported."""
    repo = copy_of_the_code(tmp_path / "repo", "model3")
    mark = tmp_path / "imported"
    trap = f"open({str(mark)!r}, 'w').write('imported')\n"
    for trap_file in (tmp_path / "model3.py", repo / "notmodel.py", repo / "os.py", tmp_path / "sub" / "model3.py"):
        trap_file.parent.mkdir(exist_ok=True)
        trap_file.write_text(trap)
    name = name.replace("PATH", str(tmp_path / "sub"))
    result = subprocess.run([sys.executable, "train.py", "--model", name, "--dry-run", *FAST], cwd=repo,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"invalid choice: {name!r} (choose from" in result.stderr and "model3" in result.stderr
    assert "Traceback" not in result.stderr
    assert not mark.exists(), "a refused name was imported"


def test_models_are_listed_in_natural_order(tmp_path, monkeypatch):
    for name in ("model10", "model2", "model1", "model_wide", "helper", "model-x"):
        (tmp_path / f"{name}.py").write_text("")
    monkeypatch.setattr(experiments, "ROOT", tmp_path)
    assert experiments.model_names() == ["model1", "model2", "model10", "model_wide"]


def test_weight_average_follows_the_weights_at_its_decay():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    average = engine.WeightAverage(model, decay=0.75)
    start = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.add_(4)
    average.update()
    for key, tensor in average.model.state_dict().items():
        expected = start[key] + 4 if not tensor.is_floating_point() else start[key] + 1  # a quarter of the way
        assert torch.allclose(tensor, expected.to(tensor.dtype), atol=1e-6), key


def test_weight_average_moves_a_shared_weight_once_a_step():
    linear = torch.nn.Linear(2, 2, bias=False)
    model = torch.nn.Sequential(linear, torch.nn.ReLU(), linear)  # one weight, two layers (search.py's `r`)
    average = engine.WeightAverage(model, decay=0.75)
    start = linear.weight.detach().clone()
    with torch.no_grad():
        linear.weight.add_(4)
    average.update()
    assert average.model[0].weight is average.model[2].weight
    assert torch.allclose(average.model[0].weight, start + 1, atol=1e-6)  # a quarter of the way, not 7/16


def model3_experiment(**changes):
    return experiments.load_experiment("model3", changes)


QUIET = engine.Options(progress=False)


@pytest.mark.slow
def test_resume_with_a_weight_average_equals_uninterrupted(tiny_mnist, tmp_path, monkeypatch):
    from data import load_mnist
    data = load_mnist(tiny_mnist, download=False)
    experiment = model3_experiment(epochs=3, batch_size=64, ema=0.9)
    whole = runs.train_seed(experiment, 4, data, tmp_path / "whole", QUIET)

    real_test = engine.evaluate
    monkeypatch.setattr(engine, "evaluate", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt)
                        if (tmp_path / "broken" / "checkpoint.pt").exists() else real_test(*a, **k))
    with pytest.raises(KeyboardInterrupt):
        runs.train_seed(experiment, 4, data, tmp_path / "broken", QUIET)
    monkeypatch.setattr(engine, "evaluate", real_test)
    checkpoint = checkpoints.load_checkpoint(tmp_path / "broken" / "checkpoint.pt")
    assert checkpoint["epoch"] == 1 and "train_state" in checkpoint
    resumed = runs.train_seed(experiment, 4, data, tmp_path / "broken", QUIET, resume=checkpoint)
    assert without_seconds(resumed["epochs"]) == without_seconds(whole["epochs"])
    # What is tested and saved is the average, not the weights being trained.
    saved = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["model_state"]
    last = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    assert torch.equal(saved["head.weight"], last["model_state"]["head.weight"])
    assert not torch.equal(saved["head.weight"], last["train_state"]["head.weight"])


def test_a_fading_recipe_sets_each_epochs_augmentation(tiny_mnist, tmp_path, monkeypatch):
    from data import load_mnist
    strengths, real_batches = [], TensorLoader.batches

    def spy(loader, strength=1.0):
        if loader.shuffle:  # the training loader's epochs, not the test passes
            strengths.append(strength)
        return real_batches(loader, strength)
    monkeypatch.setattr(TensorLoader, "batches", spy)
    experiment = model3_experiment(epochs=4, batch_size=64, augment_fade=[2, 4])
    runs.train_seed(experiment, 1, load_mnist(tiny_mnist, download=False), tmp_path, QUIET)
    assert strengths == [1.0, 1.0, 0.5, 0.0]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("model,batch", [
    ("model3", 48),  # 5 full batches and one of 16 an epoch: warm-up, capture, replay, an eager last batch
    ("model3", 80),  # 80, 80, 80, 16: the batch after warm-up is short, so the capture waits for epoch 2
    ("model2", 48),  # dropout: its random masks drawn inside the graph as in the eager step
])
def test_the_cuda_graph_step_gives_the_eager_numbers(model, batch, tiny_mnist, tmp_path, capsys, monkeypatch,
                                                     recwarn):
    captured = []
    real_capture = engine.GraphedStep.capture
    monkeypatch.setattr(engine.GraphedStep, "capture",
                        lambda step, x, y: captured.append(len(x)) or real_capture(step, x, y))
    for out, extra in (("graph", []), ("eager", ["--no-cuda-graph"])):
        code = run_main(capsys, "--model", model, "--data-dir", str(tiny_mnist), "--out", str(tmp_path / out),
                        "--epochs", "3", *FAST, "--batch-size", str(batch), "--device", "cuda", *extra)[0]
        assert code == 0
    assert captured == [batch], "captured once, on a full batch, in the graphed run; never in the eager one"
    # The eager last batch ran on the step's stream, where the graph's autograd nodes live (on another
    # stream autograd warns of a needless wait).
    assert not [w for w in recwarn if "AccumulateGrad node's stream" in str(w.message)]
    graph, eager = (metrics(tmp_path / out / f"{model}-seed1") for out in ("graph", "eager"))
    assert without_seconds(graph["epochs"]) == without_seconds(eager["epochs"])
    graph, eager = (torch.load(tmp_path / out / f"{model}-seed1" / "model.pt", weights_only=True)["model_state"]
                    for out in ("graph", "eager"))
    assert all(torch.equal(graph[key], eager[key]) for key in eager)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_a_net_that_cannot_be_captured_trains_eagerly_on_cuda(tiny_mnist, tmp_path, capsys):
    class ReadsBack(experiments.load_experiment("model3")[0].Net):
        def forward(self, x):
            self.spread = float(x.std())  # a number read back from the GPU: no CUDA graph can hold that
            return super().forward(x)
    recipe = {**experiments.load_experiment("model3")[1], "epochs": 2, "batch_size": 48}
    data = load_mnist(tiny_mnist, download=False)
    run = engine.fit(ReadsBack, recipe, data, 1, engine.Options(torch.device("cuda"), progress=False))
    out = capsys.readouterr().out
    assert out.count("The training step cannot be captured as a CUDA graph") == 1
    assert len(run.metrics) == 2 and all(math.isfinite(m["train_loss"]) for m in run.metrics)


@pytest.mark.slow
def test_resume_refuses_a_run_of_another_experiment(tiny_mnist, tmp_path, capsys, monkeypatch):
    """A checkpoint continued under another thread count (or model file, device, CPU type) would mix two
    experiments' numbers in one record: refused in one line."""
    assert short_run(capsys, tiny_mnist, tmp_path, "--epochs", "2")[0] == 0
    checkpoint = tmp_path / "model3-seed1" / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    state["epoch"], state["metrics"] = 1, state["metrics"][:1]
    torch.save(state, checkpoint)
    (tmp_path / "model3-seed1" / "metrics.json").unlink()  # as if cut off after epoch 1
    threads = torch.get_num_threads()
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads + 1)
    code, _, err = run_main(capsys, "--resume", str(checkpoint), "--device", "cpu", "--no-download")
    assert code == 1 and err.count("\n") == 1
    assert f"cannot go on here: the thread count changed ({threads}, now {threads + 1})" in err


@pytest.mark.slow
def test_the_readmes_notebook_snippet_and_hub_line_run_as_written(tiny_mnist, tmp_path):
    """README's "Use it in a notebook": its snippet, in a folder of the travel files and model4.py alone (one
    epoch, on tiny data as ./data), trains, saves and reloads; then its torch.hub line, in that folder with
    hubconf.py and the saved weights as weights/model4.pt (a clone's layout), loads the net and predicts."""
    text = (ROOT / "README.md").read_text().split("## Use it in a notebook")[1].split("## Experiments")[0]
    snippet = text.split("```python\n")[1].split("```")[0]
    call = 'fit(Net, RECIPE, load_mnist("./data"), seed=1)'
    assert call in snippet
    folder = copy_of_the_travel_files(tmp_path / "notebook", "model4.py")
    (folder / "data").symlink_to(tiny_mnist, target_is_directory=True)
    quick = snippet.replace(call, call.replace("RECIPE,", '{**RECIPE, "epochs": 1},'))
    trained = subprocess.run([sys.executable, "-E", "-s", "-c", quick], cwd=folder, capture_output=True, text=True,
                             timeout=300)
    assert trained.returncode == 0, trained.stderr[-2000:]
    hub = re.search(r'`(torch\.hub\.load\("\.", "model4", source="local",\s+pretrained=True\))`', text)
    assert hub, "the README's torch.hub line"
    shutil.copy(ROOT / "hubconf.py", folder)
    (folder / "weights").mkdir()
    shutil.move(folder / "model4.pt", folder / "weights" / "model4.pt")
    script = f"import torch\nnet = {' '.join(hub[1].split())}\nprint(net(torch.zeros(3, 1, 28, 28)).argmax(1).tolist())"
    loaded = subprocess.run([sys.executable, "-E", "-s", "-c", script], cwd=folder, capture_output=True, text=True,
                            timeout=120)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert len(json.loads(loaded.stdout.strip().splitlines()[-1])) == 3


@pytest.mark.slow
def test_a_single_run_never_imports_ray(tiny_mnist, tmp_path):
    script = ("import sys, train\n"
              f"code = train.main(['--model', 'model4', '--dry-run', '--data-dir', {str(tiny_mnist)!r}, '--out', "
              f"{str(tmp_path)!r}, '--no-download', '--device', 'cpu'])\n"
              "assert 'ray' not in sys.modules, 'a single run imported Ray'\n"
              "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
