"""Seed sweeps, plots and the README table generated from runs."""
import json
import re
import statistics

import pytest
import torch

import plots
import records
import report
import train
import verdict
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


def fake_run(runs, model, seed, accuracies, params=5000, folder=None, device="cpu", threads=2, **extra):
    """A finished run's metrics.json: its test accuracy per epoch as given (of 10,000 images)."""
    run_dir = runs / (folder or f"{model}-seed{seed}")
    run_dir.mkdir(parents=True)
    epochs = [{"epoch": i + 1, "train_loss": 0.1, "train_accuracy": 98.0, "test_loss": 0.02,
               "test_correct": round(a * 100), "test_total": 10_000, "test_accuracy": a, "lr": 0.01, "seconds": 2.0}
              for i, a in enumerate(accuracies)]
    where = {"device": device, "device_name": "H100" if device == "cuda" else "AMD EPYC, family 25, model 17",
             "cpu_capability": "AVX512", "threads": threads, "torch": "2.14.1", "git_commit": "1234567890ab",
             "git_dirty": False, "model_sha256": "ab" * 32, "code_sha256": "cd" * 32}
    record = {"model": model, "seed": seed, "params": params, "dry_run": False, "recipe": {"lr": 0.1},
              "provenance": where, "epochs": epochs, "target_met": verdict.target_met(params, epochs)[0], **extra}
    (run_dir / "metrics.json").write_text(json.dumps(record))
    return record


def fake_trial(variant, question, seed, params, last5, cpu="CPU A"):
    return {"variant": variant, "question": question, "spec": "8k,P,8", "seed": seed, "params": params,
            "device_name": cpu,
            "recipe": {"schedule": "multistep", "milestones": [7, 10], "lr": 0.1, "batch_size": 128,
                       "weight_decay": 5e-4, "rotate": 7.0, "translate": 0.05},
            "test_accuracy": [99.0] * 10 + last5, "min_last": min(last5), "target_met": min(last5) >= 99.4,
            "seconds_per_epoch": 10.0}


DOCUMENTS = {"README.md": ("results", "model3-result", "model3-log"),
             "docs/frontier.md": ("model3-sweeps", "frontier", "cross-cpu", "expect", "trials-again", "trials-margin", "trials-frontier", "tuning-and-fresh",
                                  "trials-frontier-cuda"),
             "docs/speed.md": ("gpu-sweeps",)}


def a_repo(tmp_path, sections=DOCUMENTS):
    """A root with the three documents, each its hand-written text around stale marked blocks."""
    for name, names in sections.items():
        path = tmp_path / "root" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# hand-written\n" + "".join(f"{a}\nstale\n{b}\ntext between\n" for a, b in map(report.marks, names)))
    return tmp_path / "root"


def test_report_rewrites_only_the_marked_blocks_and_renders_logs_from_the_records(tmp_path):
    results = tmp_path / "results"
    shown = fake_run(results / "runs", "model3", 1, [98.0] * 10 + [99.41, 99.42, 99.45, 99.40, 99.44])
    fake_run(results / "runs", "model3", 1001, [99.0] * 10 + [99.5] * 5)
    fake_run(results / "runs", "model3", 1002, [99.0] * 10 + [99.5, 99.38, 99.5, 99.5, 99.5])
    fake_run(results / "runs", "model3", 1003, [99.0] * 10 + [99.6] * 5, threads=1)  # another command: its own block
    root = a_repo(tmp_path)
    assert report.main(["--results", str(results), "--root", str(root)]) == 0
    text = (root / "README.md").read_text()
    assert text.startswith("# hand-written\n") and "stale" not in text and text.count("text between") == 3
    assert "| [model3](#model3) | 5,000 | 2/3 (21–94%) | 81% (0–100%) | +9.3 ± 11.0 | 99.493 ± 0.110 | 1002: 99.38 |" \
        in text
    assert "Fresh seeds 1001–1003: target met on 2/3 (21–94%)" in text
    lines = text.split("```text\n")[1].split("```")[0].splitlines()
    assert lines[0] == "$ python train.py --model model3"
    assert lines[1] == "# model3, seed 1, 5,000 params; CPU AMD EPYC, family 25, model 17, AVX512; 2 threads; " \
                       "torch 2.14.1; commit 1234567"
    assert lines[3] == "# the machine's load was not recorded for this run: other work may have shared the machine"
    assert [line.split(" | ")[3] for line in lines[5:20]] == [
        f"Test set: Average loss: 0.0200, Accuracy: {m['test_correct']}/10000 ({m['test_accuracy']:.2f}%)"
        for m in shown["epochs"]]
    assert lines[-1] == verdict.target_met(5000, shown["epochs"])[1]
    text = (root / "docs" / "frontier.md").read_text()  # the sweeps' summaries, one click away
    assert "$ python train.py --model model3 --seeds 1001-1002" in text
    assert "$ OMP_NUM_THREADS=1 python train.py --model model3 --seed 1003" in text
    assert "target met on 1/2 seeds; lowest of the last 5 epochs 99.440 +- 0.085, worst seed 1002 (99.38)" in text
    assert report.main(["--results", str(results), "--root", str(root), "--check"]) == 0


def test_check_names_a_block_edited_by_hand(tmp_path, capsys):
    results = tmp_path / "results"
    fake_run(results / "runs", "model3", 1, [99.5] * 15)
    root = a_repo(tmp_path)
    assert report.main(["--results", str(results), "--root", str(root)]) == 0
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("9950/10000 (99.50%)", "9960/10000 (99.60%)", 1))
    assert report.main(["--results", str(results), "--root", str(root), "--check"]) == 1
    assert "differs from results/: README.md: model3-log" in capsys.readouterr().out


def test_report_refuses_a_document_without_its_markers(tmp_path, capsys):
    results = tmp_path / "results"
    fake_run(results / "runs", "model3", 1, [99.5] * 15)
    root = a_repo(tmp_path, {**DOCUMENTS, "README.md": ("results",)})
    before = (root / "README.md").read_text()
    assert report.main(["--results", str(results), "--root", str(root)]) == 1
    assert (root / "README.md").read_text() == before
    assert "model3-result:start" in capsys.readouterr().err


def test_trial_tables_and_the_frontier(tmp_path):
    results = tmp_path / "results"
    fake_run(results / "runs", "model4", 1, [99.0] * 15, params=4000)
    fake_run(results / "runs", "model4", 2001, [99.0] * 10 + [99.41, 99.42, 99.45, 99.40, 99.44], params=4000)
    fake_run(results / "runs", "model4", 2002, [99.0] * 10 + [99.41, 99.38, 99.45, 99.40, 99.44], params=4000)
    rows = [fake_trial("big", "margin", 1, 7000, [99.5] * 5), fake_trial("small", "frontier", 2, 3000, [99.3] * 5),
            fake_trial("small", "frontier", 1, 3000, [99.45, 99.41, 99.5, 99.5, 99.5]),
            fake_trial("small", "frontier", 5002, 3000, [99.45, 99.39, 99.5, 99.5, 99.5]),  # fresh seeds: a sweep
            fake_trial("small", "frontier", 5001, 3000, [99.45, 99.44, 99.5, 99.5, 99.5])]
    (results / "search.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = [fake_trial("small", "frontier", seed, 3000, [lowest] * 5, cpu="CPU B")
             for seed, lowest in ((1, 99.40), (2, 99.35), (3, 99.30), (5001, 99.0))]
    (results / "search-again.jsonl").write_text("".join(json.dumps(r) + "\n" for r in again))
    (results / "search-cuda.log").write_text(
        "2 runs to do\nsome warning\n"
        "tiny                 seed    1   2,832 params  last 5: 99.29 99.29 99.29 99.29 99.30  lowest 99.29  9.2 s/epoch\n"
        "tiny                 seed    2   2,832 params  last 5: 99.41 99.42 99.44 99.44 99.41  lowest 99.41  5.8 s/epoch\n")
    root = a_repo(tmp_path, {**DOCUMENTS, "README.md": ("results", "model4-result", "model4-log"),
                             "docs/frontier.md": ("model4-sweeps", *DOCUMENTS["docs/frontier.md"][1:])})
    assert report.main(["--results", str(results), "--root", str(root)]) == 0
    text = (root / "docs" / "frontier.md").read_text()
    margin = text.split(report.marks("trials-margin")[0])[1].split(report.marks("trials-margin")[1])[0]
    frontier = text.split(report.marks("trials-frontier")[0])[1].split(report.marks("trials-frontier")[1])[0]
    sweeps = text.split(report.marks("frontier")[0])[1].split(report.marks("frontier")[1])[0]
    cuda = text.split(report.marks("trials-frontier-cuda")[0])[1]
    assert "| big | `8k,P,8` | 7,000 | steps after 7,10; lr 0.1; batch 128; weight decay 0.0005; rotate 7°, shift 0.05 " \
           "| 10.0 | 1: 99.50 | 99.500 | 1/1 |" in margin and "small" not in margin
    assert "| small | `8k,P,8` | 3,000 |" in frontier and "1: 99.41, 2: 99.30 | 99.355 | 1/2 |" in frontier
    assert "5001" not in frontier  # the fresh seeds are the sweep's, not the tuning table's
    elsewhere = text.split(report.marks("trials-again")[0])[1].split(report.marks("trials-again")[1])[0]
    assert "| small | CPU A | 1: 99.41, 2: 99.30 | – | – |" in elsewhere  # its tuning seeds only, not all 1-3
    assert "| small | CPU B | 1: 99.40, 2: 99.35, 3: 99.30 | 99.350 | – |" in elsewhere
    assert "big" not in elsewhere
    chosen = text.split(report.marks("tuning-and-fresh")[0])[1].split(report.marks("tuning-and-fresh")[1])[0]
    assert "| small | 3,000 | 1–2 | 99.355 | 5001–5002 | 99.415 | +0.060 |" in chosen and "big" not in chosen
    assert "| small | 3,000 | 5001–5002 | 1/2 (9–91%) | 71% (0–100%) | +1.5 ± 3.5 | 99.415 ± 0.035 | 5002: 99.39 | " \
           "99.44 99.39 |" in sweeps
    assert "| model4 | 4,000 | 2001–2002 | 1/2 (9–91%) | 36% (0–100%) | -1.0 ± 1.4 | 99.390 ± 0.014 | 2002: 99.38 | " \
           "99.40 99.38 |" in sweeps
    assert "| tiny | 2,832 | 1: 99.29, 2: 99.41 | 99.350 | 1/2 |" in cuda
    for name in ("model4-seeds.png", "model4-curves.png", "frontier.png"):
        assert (root / "assets" / name).read_bytes().startswith(PNG_MAGIC), name


def test_a_trial_run_again_elsewhere_stands_a_row_per_cpu_type():
    """The yardstick's seeds 1-3 on one CPU type and 4-5 on another, then 1-5 again on a third: each CPU
    type its own row and its own means; a variant not run again and a fresh seed stay out."""
    trials = [fake_trial("yard", "frontier", seed, 3918, [99.40 + seed / 100] * 5, cpu="A") for seed in (1, 2, 3)]
    trials += [fake_trial("yard", "frontier", seed, 3918, [99.30] * 5, cpu="B") for seed in (4, 5)]
    trials += [fake_trial("lever", "frontier", 1, 3932, [99.50] * 5, cpu="C")]
    again = [fake_trial("yard", "frontier", seed, 3918, [99.45] * 5, cpu="C") for seed in (1, 2, 3, 4, 5, 9501)]
    assert report.again_table(trials, again).splitlines()[2:] == [
        "| yard | A | 1: 99.41, 2: 99.42, 3: 99.43 | 99.420 | – |",
        "| yard | B | 4: 99.30, 5: 99.30 | – | – |",
        "| yard | C | 1: 99.45, 2: 99.45, 3: 99.45, 4: 99.45, 5: 99.45 | 99.450 | 99.450 |"]


def test_sweeps_keep_apart_the_nets_a_model_file_has_had(tmp_path):
    """model4 changed its net between sweeps: each net keeps its own point; a seed in two folders counts
    once; a single run is no sweep; a GPU sweep is not among the CPU's points."""
    runs, copies = tmp_path / "runs", tmp_path / "sweeps"
    for seed, last in ((3001, 99.45), (3002, 99.41)):
        fake_run(runs, "model4", seed, [last + 0.1, last], params=6908)
    fake_run(copies, "model4", 3001, [99.55, 99.45], params=6908)
    for seed, last in ((2001, 99.58), (2002, 99.39)):
        fake_run(copies, "model4", seed, [last + 0.1, last], params=5964, folder=f"model4-5964-seed{seed}")
    fake_run(runs, "model1", 1, [98.0, 98.9])
    fake_run(runs, "model4", 1, [99.0, 99.5], params=6908)  # its default run: the net it has now
    for seed in (3001, 3002):
        fake_run(tmp_path / "gpu", "model4", seed, [99.0, 99.0], params=6908, device="cuda")
    assert report.model_sweeps(report.load_runs(runs, copies, tmp_path / "gpu")) == {
        ("model4, an earlier net", 5964): {2001: 99.58, 2002: 99.39}, ("model4", 6908): {3001: 99.45, 3002: 99.41}}


def test_a_model_sweep_that_repeats_a_trial_sweep_stands_once(tmp_path):
    """model4.py rerun through train.py on the seeds its trial net was swept on: one net, one point."""
    for seed, last in ((5001, 99.44), (5002, 99.39)):
        fake_run(tmp_path / "runs", "model4", seed, [last + 0.1, last], params=3000)
    trials = [fake_trial("small", "frontier", 5001, 3000, [99.45, 99.44, 99.5, 99.5, 99.5]),
              fake_trial("small", "frontier", 5002, 3000, [99.45, 99.39, 99.5, 99.5, 99.5]),
              fake_trial("small", "frontier", 5003, 3000, [99.45, 99.42, 99.5, 99.5, 99.5]),  # beyond the model's
              fake_trial("other", "frontier", 5001, 3000, [99.3] * 5),
              fake_trial("small", "frontier", 1, 3000, [99.3] * 5)]  # a tuning seed: no sweep
    assert report.all_sweeps(report.load_runs(tmp_path / "runs"), trials) == {
        ("model4", 3000): {5001: 99.44, 5002: 99.39}, ("small", 3000): {5003: 99.42}, ("other", 3000): {5001: 99.3}}


def test_hold_rates_carry_their_95_percent_interval():
    assert [round(x, 3) for x in verdict.wilson(9, 10)] == [0.596, 0.982]
    assert [round(x, 3) for x in verdict.wilson(10, 10)] == [0.722, 1.0]
    assert [round(x, 3) for x in verdict.wilson(0, 10)] == [0.0, 0.278]
    assert report.held([99.40, 99.39, 99.45]) == "2/3 (21–94%)"


def test_a_log_says_whether_its_run_had_the_machine_to_itself():
    def run(threads, start, end):
        return {"provenance": {"threads": threads}, "machine": {"start": {"load": [start, 0, 0], "cores": 2},
                                                                "end": {"load": [end, 0, 0], "cores": 2}}}
    assert report.shared_machine(run(2, 0.1, 2.1)) is False  # its own two threads
    assert report.shared_machine(run(1, 0.1, 2.0)) is True  # another run beside it
    assert report.shared_machine({"provenance": {"threads": 2}}) is None
    assert report.load_line(run(2, 0.12, 3.4)) == ("# the machine's load (1-minute average): 0.12 at the start, 3.40 "
                                                   "at the end, on 2 cores: other work shared the machine, so these "
                                                   "seconds are longer than a run alone takes")


def test_a_sweeps_hold_rate_from_its_margins_goes_beside_k_of_n():
    assert report.fitted([99.43, 99.46, 99.40]) == "88% (76–100%)"  # margins +3, +6, 0: all held, by a little
    assert report.margins([99.43, 99.46, 99.40]) == "+3.0 ± 3.0"
    assert report.fitted([99.52, 99.52]) == "100% (100–100%)" and report.fitted([99.52]) == "n/a"


def test_a_model_docstrings_result_is_the_records_and_report_keeps_it_so(tmp_path):
    results, root = tmp_path / "results", a_repo(tmp_path, {**DOCUMENTS, "README.md": ("results", "model4-result",
                                                                                         "model4-log")})
    fake_run(results / "runs", "model4", 1, [99.0] * 10 + [99.41, 99.42, 99.45, 99.40, 99.44], params=4000)
    (root / "model4.py").write_text('"""Model.\n\nResult (old numbers\n99.99%).\n\nAnalysis.\n"""\n')
    assert report.main(["--results", str(results), "--root", str(root), "--check"]) == 1
    assert report.main(["--results", str(results), "--root", str(root)]) == 0
    text = (root / "model4.py").read_text()
    assert "99.99" not in text and text.endswith("target met.\n\nAnalysis.\n\"\"\"\n")
    assert "Result (results/runs/model4-seed1/metrics.json, written into this docstring by report.py): 4,000" in text
    (root / "model4.py").write_text('"""Model without its paragraph."""\n')
    assert report.main(["--results", str(results), "--root", str(root)]) == 1


def test_the_documents_are_what_report_makes_of_the_committed_results():
    """No number, table or log in README.md or docs/ is edited by hand: regenerating them from results/
    changes nothing, and every relative link and picture in them resolves to a file."""
    assert report.main(["--check"]) == 0
    for name in ("README.md", "docs/frontier.md", "docs/speed.md"):
        path = ROOT / name
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if not target.startswith("http"):
                assert (path.parent / target).exists(), f"{name}: {target}"
    linked = "".join((ROOT / name).read_text() for name in ("README.md", "docs/frontier.md", "docs/speed.md"))
    for picture in (ROOT / "assets").glob("*.png"):
        assert f"assets/{picture.name}" in linked, f"{picture.name} is linked from no document"


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


def test_model4_repeats_the_sweep_of_its_trial_net_epoch_by_epoch():
    """model4.py through train.py (results/runs) against p4820-settled-fade-b64 through search.py
    (results/search.jsonl), one thread each, seeds 6001-6010: the same test accuracy at every epoch."""
    trials = {r["seed"]: r for r in report.load_trials(ROOT / "results" / "search.jsonl")
              if r["variant"] == "p4820-settled-fade-b64" and report.is_fresh(r)}
    runs = [r for r in report.load_runs(ROOT / "results" / "runs")[("model4", "cpu")]
            if r["params"] == 4820 and 6001 <= r["seed"] <= 6010]
    assert sorted(r["seed"] for r in runs) == sorted(trials) == list(range(6001, 6011))
    for run in runs:
        assert run["provenance"]["threads"] == trials[run["seed"]]["threads"] == 1
        assert [m["test_accuracy"] for m in run["epochs"]] == trials[run["seed"]]["test_accuracy"], run["seed"]


def test_the_split_of_train_py_changed_no_number():
    """model3 seed 1001 (2 threads) and model4 seed 6001 (1 thread), each run by train.py before the split
    into engine/records/... (commit 42344d2) and after it (901a887), on one machine: the same numbers at
    every epoch (results/refactor-check)."""
    check = ROOT / "results" / "refactor-check"
    for run in ("model3-seed1001", "model4-seed6001"):
        old, new = (json.loads((check / side / run / "metrics.json").read_text()) for side in ("old", "new"))
        assert old["provenance"]["git_commit"].startswith("42344d2") and new["provenance"]["git_commit"].startswith(
            "901a887")
        assert old["provenance"]["threads"] == new["provenance"]["threads"]
        assert len(new["epochs"]) == 15
        drop_time = lambda rec: [{k: v for k, v in m.items() if k != "seconds"} for m in rec["epochs"]]  # noqa: E731
        assert drop_time(old) == drop_time(new), run
