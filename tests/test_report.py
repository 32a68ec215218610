"""Seed sweeps, plots and the README table generated from runs."""
import json
import statistics

import pytest
import torch

import plots
import records
import report
import train
from conftest import ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_seed_sweep_makes_one_folder_per_seed_and_a_true_summary(tiny_mnist, tmp_path, capsys):
    code = train.main(["--model", "model2", "--data-dir", str(tiny_mnist), "--out", str(tmp_path), "--epochs", "2",
                       "--batch-size", "64", "--seeds", "3,1,2", "--device", "cpu", "--no-download"])
    out = capsys.readouterr().out
    assert code == 0
    records = {seed: json.loads((tmp_path / f"model2-seed{seed}" / "metrics.json").read_text())
               for seed in (1, 2, 3)}
    summary = json.loads((tmp_path / "model2-summary.json").read_text())
    assert [row["seed"] for row in summary["seeds"]] == [3, 1, 2]
    best = [max(m["test_accuracy"] for m in records[s]["epochs"]) for s in (3, 1, 2)]
    lowest = [min(m["test_accuracy"] for m in records[s]["epochs"][-5:]) for s in (3, 1, 2)]
    assert summary["best"]["mean"] == pytest.approx(statistics.fmean(best))
    assert summary["best"]["std"] == pytest.approx(statistics.stdev(best))
    assert summary["min_last"]["mean"] == pytest.approx(sum(lowest) / 3)
    assert summary["target_met"] == 0 and summary["runs"] == 3  # 2 epochs of 256 images: nowhere near
    assert "target met on 0/3 seeds" in out
    assert out.count("TARGET MISSED:") == 3


def test_plots_are_real_pngs(tmp_path):
    labels = torch.arange(30) % 10
    predictions = labels.clone()
    predictions[[2, 5, 7]] = 0
    record = {"model": "model3", "seed": 1, "params": 1234, "epochs": [
        {"epoch": e, "train_loss": 1 / e, "test_loss": 0.8 / e, "train_accuracy": 97 + e / 2,
         "test_accuracy": 98 + e / 3} for e in (1, 2, 3)],
        "confusion": records.confusion_matrix(labels, predictions), "mistakes": records.mistakes(labels, predictions)}
    plots.save_run_plots(record, torch.rand(30, 28, 28), tmp_path)
    for name in plots.PICTURES:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, name


def test_confusion_matrix_and_mistakes():
    labels, predictions = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 1])
    counts = records.confusion_matrix(labels, predictions)
    assert counts[0][:3] == [1, 1, 0] and counts[1][1] == 1 and counts[2][1] == 1
    assert sum(map(sum, counts)) == 4
    assert records.mistakes(labels, predictions) == [[1, 0, 1], [3, 2, 1]]


def test_a_failing_plot_never_breaks_a_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plots, "save_run_plots", lambda *a: (_ for _ in ()).throw(RuntimeError("no fonts")))
    train.save_plots({}, torch.zeros(1, 28, 28), tmp_path)
    assert capsys.readouterr().out == "Plots skipped (RuntimeError: no fonts)\n"


def fake_run(runs, model, seed, accuracies, met, params=5000, folder=None, device="cpu", commit=None):
    run_dir = runs / (folder or f"{model}-seed{seed}")
    run_dir.mkdir(parents=True)
    epochs = [{"epoch": i + 1, "test_accuracy": a, "seconds": 2.0} for i, a in enumerate(accuracies)]
    where = {"provenance": {"device": device, "git_commit": commit, "git_dirty": False, "model_sha256": "ab" * 32}}
    (run_dir / "metrics.json").write_text(json.dumps(
        {"model": model, "seed": seed, "params": params, "dry_run": False, "target_met": met, "epochs": epochs,
         **(where if commit else {})}))


def test_report_rewrites_only_the_marked_section(tmp_path):
    runs, gpu = tmp_path / "runs", tmp_path / "runs-cuda"
    fake_run(runs, "model3", 1, [99.0, 99.41, 99.42, 99.45, 99.40, 99.44], True, commit="1234567890ab")
    fake_run(runs, "model3", 2, [99.1, 99.50, 99.38, 99.45, 99.41, 99.42], False)
    for seed in (1, 2, 3):
        fake_run(gpu, "model3", seed, [99.5, 99.6], True, device="cuda", commit="fedcba987654")
    before, after = "# Title\n\nhand-written text\n", "\n## Later section\nmore text\n"
    readme = tmp_path / "README.md"
    readme.write_text(before + report.START_MARK + "\nstale table\n" + report.END_MARK + after)
    assert report.main(["--runs", str(runs), str(gpu), "--results", str(tmp_path / "no-trials.jsonl"),
                        "--trial-log", str(tmp_path / "no-log.txt"), "--readme", str(readme), "--assets", ""]) == 0
    text = readme.read_text()
    assert text.startswith(before + report.START_MARK) and text.endswith(report.END_MARK + after)
    assert "stale table" not in text
    assert ("| model3 | cpu | 5,000 | 1, 2 | 1/2 | 99.390 ± 0.014 (99.38) | 99.50 | 1234567, not recorded | "
            "abababab, not recorded |") in text
    assert "| model3 | cuda | 5,000 | 1–3 | 3/3 | 99.500 ± 0.000 (99.50) | 99.60 | fedcba9 | abababab |" in text
    assert "| model3 | cpu | 5,000 | 2 | 99.50 | 99.38 99.45 99.41 99.42 99.00 | missed | 12 |" not in text
    assert "| model3 | cpu | 5,000 | 2 | 99.50 | 99.50 99.38 99.45 99.41 99.42 | missed | 12 |" in text


def test_report_refuses_a_readme_without_markers(tmp_path, capsys):
    fake_run(tmp_path / "runs", "model3", 1, [99.5] * 5, True)
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    assert report.main(["--runs", str(tmp_path / "runs"), "--trial-log", str(tmp_path / "no-log.txt"),
                        "--readme", str(readme), "--assets", ""]) == 1
    assert readme.read_text() == "no markers here\n"
    assert "lacks the markers" in capsys.readouterr().err


def fake_trial(variant, question, seed, params, last5):
    return {"variant": variant, "question": question, "spec": "8k,P,8", "seed": seed, "params": params,
            "recipe": {"schedule": "multistep", "milestones": [7, 10], "lr": 0.1, "batch_size": 128,
                       "weight_decay": 5e-4, "rotate": 7.0, "translate": 0.05},
            "test_accuracy": [99.0] * 10 + last5, "min_last": min(last5), "target_met": min(last5) >= 99.4,
            "seconds_per_epoch": 10.0}


def test_trial_tables_seeds_chart_and_frontier(tmp_path):
    runs = tmp_path / "runs"
    fake_run(runs, "model4", 2001, [99.0] * 10 + [99.41, 99.42, 99.45, 99.40, 99.44], True)
    fake_run(runs, "model4", 2002, [99.0] * 10 + [99.41, 99.38, 99.45, 99.40, 99.44], False)
    trials = tmp_path / "search.jsonl"
    rows = [fake_trial("big", "margin", 1, 7000, [99.5] * 5), fake_trial("small", "frontier", 2, 3000, [99.3] * 5),
            fake_trial("small", "frontier", 1, 3000, [99.45, 99.41, 99.5, 99.5, 99.5]),
            fake_trial("small", "frontier", 5002, 3000, [99.45, 99.39, 99.5, 99.5, 99.5]),  # fresh seeds: a sweep
            fake_trial("small", "frontier", 5001, 3000, [99.45, 99.44, 99.5, 99.5, 99.5])]
    trials.write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = tmp_path / "search-cuda.log"
    log.write_text("2 runs to do\nsome warning\n"
                   "tiny                 seed    1   2,832 params  last 5: 99.29 99.29 99.29 99.29 99.30  lowest 99.29  9.2 s/epoch\n"
                   "tiny                 seed    2   2,832 params  last 5: 99.41 99.42 99.44 99.44 99.41  lowest 99.41  5.8 s/epoch\n")
    readme = tmp_path / "README.md"
    readme.write_text("".join(f"{a}\nstale\n{b}\n" for a, b in map(report.marks, (
        "results", "trials-margin", "trials-frontier", "frontier", "trials-frontier-cuda"))))
    assets = tmp_path / "assets"
    assert report.main(["--runs", str(runs), "--results", str(trials), "--trial-log", str(log), "--readme", str(readme),
                        "--pictures", str(tmp_path / "no-runs"), "--assets", str(assets)]) == 0
    text = readme.read_text()
    assert "stale" not in text
    margin, frontier = text.split(report.marks("trials-frontier")[0])
    frontier, sweeps = frontier.split(report.marks("frontier")[0])
    assert "| big | `8k,P,8` | 7,000 | steps after 7,10; lr 0.1; batch 128; weight decay 0.0005; rotate 7°, shift 0.05 | 10.0 | " \
           "1: 99.50 | 99.500 | 1/1 |" in margin and "small" not in margin
    assert "| small | `8k,P,8` | 3,000 |" in frontier and "1: 99.41, 2: 99.30 | 99.355 | 1/2 |" in frontier
    assert "5001" not in frontier  # the fresh seeds are the sweep's, not the tuning table's
    assert "| small | 3,000 | 5001–5002 | 1/2 | 99.415 ± 0.035 | 5002: 99.39 | 99.44 99.39 |" in sweeps
    assert "| model4 | 5,000 | 2001–2002 | 1/2 | 99.390 ± 0.014 | 2002: 99.38 | 99.40 99.38 |" in sweeps
    assert "| tiny | 2,832 | 1: 99.29, 2: 99.41 | 99.350 | 1/2 |" in sweeps
    for name in ("model4-seeds.png", "frontier.png"):
        assert (assets / name).read_bytes().startswith(PNG_MAGIC), name


def test_fresh_sweeps_keep_apart_the_nets_a_model_file_has_had(tmp_path):
    """model4 changed its net between sweeps: each net keeps its own stars; a seed in two folders
    counts once; a single run is no sweep; a GPU sweep is not among the CPU's stars."""
    runs, copies = tmp_path / "runs", tmp_path / "sweeps"
    for seed, last in ((3001, 99.45), (3002, 99.41)):
        fake_run(runs, "model4", seed, [last + 0.1, last], True, params=6908)
    fake_run(copies, "model4", 3001, [99.55, 99.45], True, params=6908)
    for seed, last in ((2001, 99.58), (2002, 99.39)):
        fake_run(copies, "model4", seed, [last + 0.1, last], last >= 99.4, params=5964,
                 folder=f"model4-5964-seed{seed}")
    fake_run(runs, "model1", 1, [98.0, 98.9], False)
    for seed in (3001, 3002):
        fake_run(tmp_path / "gpu", "model4", seed, [99.0, 99.0], False, params=6908, device="cuda", commit="abc")
    assert report.fresh_sweeps(report.load_runs(runs, copies, tmp_path / "gpu")) == {
        ("model4", 5964): {2001: 99.58, 2002: 99.39}, ("model4", 6908): {3001: 99.45, 3002: 99.41}}



def test_the_readme_tables_are_what_report_makes_of_the_committed_results(tmp_path):
    """No number in the README's generated tables is edited by hand: regenerating them from results/
    changes nothing."""
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    results = ROOT / "results"
    assert report.main(["--runs", str(results / "runs"), str(results / "runs-cuda"), "--results",
                        str(results / "search.jsonl"), "--trial-log", str(results / "search-cuda.log"),
                        "--readme", str(readme), "--assets", ""]) == 0
    assert readme.read_text() == (ROOT / "README.md").read_text()


def test_the_cuda_graph_runs_repeat_the_eager_runs_epoch_by_epoch():
    """The H200 runs with the CUDA-graph step (results/graph-check-h200, some cut off by the call's time)
    against the H100 sweep with the eager step (results/runs-cuda): the same seeds, the same numbers."""
    graph_runs = sorted((ROOT / "results" / "graph-check-h200").glob("model3-seed*/metrics.json"))
    assert len(graph_runs) == 10
    for path in graph_runs:
        graph = json.loads(path.read_text())
        eager = json.loads((ROOT / "results" / "runs-cuda" / path.parent.name / "metrics.json").read_text())
        assert graph["provenance"]["device_name"] != eager["provenance"]["device_name"]
        assert len(graph["epochs"]) >= 13
        for ours, theirs in zip(graph["epochs"], eager["epochs"]):
            assert {k: ours[k] for k in ("test_accuracy", "test_loss", "train_loss", "train_accuracy", "lr")} == \
                   {k: theirs[k] for k in ("test_accuracy", "test_loss", "train_loss", "train_accuracy", "lr")}


def test_a_model_sweep_that_repeats_a_trial_sweep_stands_once(tmp_path):
    """model4.py rerun through train.py on the seeds its trial net was swept on: one net, one marker."""
    for seed, last in ((5001, 99.44), (5002, 99.39)):
        fake_run(tmp_path / "runs", "model4", seed, [last + 0.1, last], last >= 99.4, params=3000)
    trials = [fake_trial("small", "frontier", 5001, 3000, [99.45, 99.44, 99.5, 99.5, 99.5]),
              fake_trial("small", "frontier", 5002, 3000, [99.45, 99.39, 99.5, 99.5, 99.5]),
              fake_trial("other", "frontier", 5001, 3000, [99.3] * 5),
              fake_trial("small", "frontier", 1, 3000, [99.3] * 5)]  # a tuning seed: no sweep
    assert report.all_sweeps(report.load_runs(tmp_path / "runs"), trials) == {
        ("model4", 3000): {5001: 99.44, 5002: 99.39}, ("other", 3000): {5001: 99.3}}


def test_model4_repeats_the_sweep_of_its_trial_net_epoch_by_epoch():
    """model4.py through train.py (results/runs) against p4820-settled-fade-b64 through search.py
    (results/search.jsonl), one thread each, seeds 6001-6010: the same test accuracy at every epoch."""
    trials = {r["seed"]: r for r in report.load_trials(ROOT / "results" / "search.jsonl")
              if r["variant"] == "p4820-settled-fade-b64" and report.is_fresh(r)}
    runs = [r for r in report.load_runs(ROOT / "results" / "runs")[("model4", "cpu")] if r["params"] == 4820]
    assert sorted(r["seed"] for r in runs) == sorted(trials) == list(range(6001, 6011))
    for run in runs:
        assert run["provenance"]["threads"] == trials[run["seed"]]["threads"] == 1
        assert [m["test_accuracy"] for m in run["epochs"]] == trials[run["seed"]]["test_accuracy"], run["seed"]
