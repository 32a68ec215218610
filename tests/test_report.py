"""Seed sweeps, plots and the README table generated from runs."""
import json
import statistics

import pytest
import torch

import train
from reports import charts, cli, evidence, hold_rates, report, research_pages, run_log, speed_page
from trainer import plots, provenance, records, runs, verdict

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_nets_file(tmp_path_factory, monkeypatch):
    """The made-up results of these tests come with no results/nets.json unless a test writes one (the audits
    of the committed results, in test_audit.py, take the committed one)."""
    monkeypatch.setattr(evidence, "NETS", tmp_path_factory.mktemp("no-nets") / "nets.json")


@pytest.mark.slow
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
    runs.save_pictures({}, torch.zeros(1, 28, 28), tmp_path)
    assert capsys.readouterr().out == "Plots skipped (RuntimeError: no fonts)\n"


def overlap(a, b):
    """Whether two boxes (x0, y0, x1, y1) share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def drawn_text_boxes(fig, ax):
    """The drawn extent of each text on `ax`, the text alone (an annotation's leader line left out)."""
    from matplotlib.text import Text
    fig.canvas.draw()
    return [tuple(Text.get_window_extent(t, fig.canvas.get_renderer()).extents) for t in ax.texts]


def test_labels_pushed_apart_cover_neither_each_other_nor_a_marker():
    heap = [(0, 0, 30, 10), (5, 2, 35, 12), (10, -3, 40, 7), (2, -1, 32, 9)]
    alone = (100, 0, 130, 10)
    marker = (12, -14, 20, -6)  # just below the heap: the labels pushed down must skip it
    shifts = charts.push_apart(heap + [alone], [marker], pad=1)
    moved = [(x0, y0 + dy, x1, y1 + dy) for (x0, y0, x1, y1), dy in zip(heap + [alone], shifts)]
    for i, box in enumerate(moved):
        assert not any(overlap(box, other) for other in moved[i + 1:] + [marker]), box
    assert shifts[1] == 0 and shifts[4] == 0  # the highest of the heap, and a label with room, keep their place


def seed_run(seed, lowest, cpu, threads=2):
    """A fresh seed's record as the seeds chart reads it: the lowest of its last 5 epochs as given."""
    last = [lowest + 0.05, lowest, lowest + 0.1, lowest + 0.02, lowest + 0.04]
    epochs = [{"epoch": e + 1, "test_accuracy": a} for e, a in enumerate([99.0] * 10 + last)]
    return {"seed": seed, "target_met": verdict.accuracy_holds(lowest), "epochs": epochs,
            "provenance": {"device": "cpu", "device_name": cpu, "threads": threads}}


def test_the_seeds_chart_names_every_miss_apart_and_says_what_it_pools():
    misses = {6004: 99.38, 6026: 99.31, 6034: 99.39, 6036: 99.37, 6037: 99.37}  # two side by side, level
    where = {**{s: ("CPU A", 1) for s in range(6001, 6011)}, **{s: ("CPU B", 1) for s in range(6011, 6021)},
             **{s: ("CPU B", 2) for s in range(6021, 6031)}, **{s: ("CPU C", 2) for s in range(6031, 6041)}}
    runs = [seed_run(s, misses.get(s, 99.42 + s % 7 / 100), *where[s]) for s in sorted(where, reverse=True)]
    fig = charts.seeds_figure("net, 4,820 params, seeds 6001–6040", runs)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == [str(s) for s in sorted(misses)]
    boxes = drawn_text_boxes(fig, ax)
    assert not any(overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert ax.get_title() == "net, 4,820 params, seeds 6001–6040, pooled over 3 CPU types: target met on 35/40"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["CPU A: 9/10 held", "CPU B: 19/20 held", "CPU C: 7/10 held"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["6001–6010\n1 CPU thread", "6011–6020\n1 CPU thread",
                                                           "6021–6030\n2 CPU threads", "6031–6040\n2 CPU threads"]
    plots.pyplot().close(fig)
    fig = charts.seeds_figure("net, seeds 1001–1010", [seed_run(s, 99.45, "CPU A") for s in range(1001, 1011)])
    assert fig.axes[0].get_title() == "net, seeds 1001–1010, on CPU A: target met on 10/10"
    assert not fig.axes[0].texts and "missed" not in " ".join(t.get_text() for t in fig.legends[0].get_texts())
    plots.pyplot().close(fig)


def test_the_frontier_keeps_crowded_labels_apart_and_draws_the_goal_where_it_is():
    def sweep(held):
        return {seed: 99.45 if seed - 5000 < held else 99.35 - seed % 3 / 100 for seed in range(5000, 5010)}
    sweeps = {("a", 3918): sweep(5), ("b", 3932): sweep(5), ("c", 3932): sweep(3), ("model4", 4820): sweep(9)}
    fig = charts.frontier_figure([{"params": 3918, "min_last": 99.3}], sweeps, {"model4"})
    chance = fig.axes[0]
    assert sorted(t.get_text() for t in chance.texts) == ["3/10", "5/10", "5/10", "9/10"]
    boxes = drawn_text_boxes(fig, chance)
    assert not any(overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    levels = [list(line.get_ydata()) for line in chance.get_lines()]
    assert [85, 85] in levels and [90, 90] not in levels
    goal = next(t.get_text() for t in fig.legends[0].get_texts() if t.get_text().startswith("the goal"))
    assert "at most 4,000 params" in goal and "85% or more" in goal and "18 of 20" in goal
    plots.pyplot().close(fig)


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


README_BLOCKS = ("results", "run-times", "alone-words", "machines", "int8")
DOCUMENTS = {"README.md": (*README_BLOCKS, "model3-result", "model3-log"),
             "docs/frontier.md": ("frontier", "cross-cpu", "expect", "levers", "tuning-and-fresh", "single-pass",
                                  "reference"),
             "docs/trials.md": ("model3-sweeps", "alone", "trials-margin", "trials-frontier", "trials-frontier-cuda"),
             "docs/history.md": ("seventh-tuning",),
             "docs/speed.md": ("gpu-sweeps",)}


def a_repo(tmp_path, sections=DOCUMENTS):
    """A root with the three documents, each its hand-written text around stale marked blocks."""
    for name, names in sections.items():
        path = tmp_path / "root" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        stale = "".join(f"{a}\nstale\n{b}\ntext between\n" for a, b in map(report.marks, names))
        path.write_text("# hand-written\n" + stale)
    return tmp_path / "root"


def test_report_rewrites_only_the_marked_blocks_and_renders_logs_from_the_records(tmp_path):
    results = tmp_path / "results"
    shown = fake_run(results / "runs", "model3", 1, [98.0] * 10 + [99.41, 99.42, 99.45, 99.40, 99.44])
    fake_run(results / "runs", "model3", 1001, [99.0] * 10 + [99.5] * 5)
    fake_run(results / "runs", "model3", 1002, [99.0] * 10 + [99.5, 99.38, 99.5, 99.5, 99.5])
    fake_run(results / "runs", "model3", 1003, [99.0] * 10 + [99.6] * 5, threads=1)  # another command: its own block
    root = a_repo(tmp_path)
    assert cli.main(["--results", str(results), "--root", str(root)]) == 0
    text = (root / "README.md").read_text()
    assert text.startswith("# hand-written\n") and "stale" not in text
    assert text.count("text between") == len(DOCUMENTS["README.md"])
    assert "| [model3](#model3) | 5,000 | 1 | 2/3 (21–94%) | 81% (0–100%) | 99.38 (seed 1002) |" in text
    assert "Fresh seeds 1001–1003: target met on 2/3 (21–94%)" in " ".join(text.split())  # wrapped prose
    assert all(len(line) <= 120 for line in text.split("- **Result**")[1].split("<!--")[0].splitlines())
    lines = text.split("```text\n")[1].split("```")[0].splitlines()
    assert lines[0] == "$ python train.py --model model3"
    assert lines[1] == "# model3, seed 1, 5,000 params; CPU AMD EPYC, family 25, model 17, AVX512; 2 threads; " \
                       "torch 2.14.1; commit 1234567; its load not recorded (other work may have shared the machine)"
    assert lines[2].startswith("# recipe: ")
    assert [line.split(" | ")[3] for line in lines[3:18]] == [
        f"Test set: Average loss: 0.0200, Accuracy: {m['test_correct']}/10000 ({m['test_accuracy']:.2f}%)"
        for m in shown["epochs"]]
    assert lines[-1] == verdict.target_met(5000, shown["epochs"])[1]
    text = (root / "docs" / "trials.md").read_text()  # the sweeps' summaries, one click away
    assert "$ python train.py --model model3 --seeds 1001-1002" in text
    assert "$ python train.py --model model3 --seed 1003 --threads 1" in text
    assert "target met on 1/2 seeds; lowest of the last 5 epochs 99.440 +- 0.085, worst seed 1002 (99.38)" in text
    assert "cpu (AMD EPYC, family 25, model 17), 2 threads, torch 2.14.1; commit 1234567890ab\n" in text
    assert "sha256" not in text  # no model file here: no hash to show
    pooled = json.loads((results / "runs" / "model3-summary.json").read_text())  # what the README claims
    assert (pooled["target_met"], pooled["runs"]) == (2, 3) and [row["threads"] for row in pooled["seeds"]] == [2, 2, 1]
    assert cli.main(["--results", str(results), "--root", str(root), "--check"]) == 0


def test_check_names_a_block_edited_by_hand(tmp_path, capsys):
    results = tmp_path / "results"
    fake_run(results / "runs", "model3", 1, [99.5] * 15)
    root = a_repo(tmp_path)
    assert cli.main(["--results", str(results), "--root", str(root)]) == 0
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("9950/10000 (99.50%)", "9960/10000 (99.60%)", 1))
    assert cli.main(["--results", str(results), "--root", str(root), "--check"]) == 1
    assert "differs from results/: README.md: model3-log" in capsys.readouterr().out


def test_report_refuses_a_document_without_its_markers(tmp_path, capsys):
    results = tmp_path / "results"
    fake_run(results / "runs", "model3", 1, [99.5] * 15)
    root = a_repo(tmp_path, {**DOCUMENTS, "README.md": README_BLOCKS})
    before = (root / "README.md").read_text()
    assert cli.main(["--results", str(results), "--root", str(root)]) == 1
    assert (root / "README.md").read_text() == before
    assert "model3-result:start" in capsys.readouterr().err


def test_a_run_of_ones_own_is_rendered_alone_and_no_document_is_touched(tiny_mnist, tmp_path, monkeypatch, capsys):
    root = a_repo(tmp_path)
    for model in evidence.MODELS:
        (root / f"{model}.py").write_text(f'"""{model}.\n\nResult (stale).\n\nend\n"""\n')
    fake_run(root / "results" / "runs", "model3", 1, [99.5] * 15)  # what a rewrite would render
    monkeypatch.setattr(cli, "ROOT", root)  # the default results/ and documents
    before = {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}
    run_dir = tmp_path / "runs" / "model5-seed1"
    run = fake_run(run_dir.parent, "model5", 1, [99.0] * 10 + [99.41, 99.38, 99.5, 99.5, 99.5],
                   confusion=[[6] * 10] * 10, mistakes=[[3, 3, 5], [7, 7, 1]])
    assert cli.main(["--run", str(run_dir), "--data-dir", str(tiny_mnist)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# model5, seed 1, 5,000 params; CPU AMD EPYC")
    assert [line for line in lines if line.startswith("EPOCH:")][-1].endswith("(99.50%) | 2.0 s")
    assert lines[-2] == verdict.target_met(5000, run["epochs"])[1] and lines[-2].startswith("TARGET MISSED")
    assert all((run_dir / name).read_bytes().startswith(PNG_MAGIC) for name in plots.PICTURES)
    assert {path: path.read_bytes() for path in root.rglob("*") if path.is_file()} == before
    (tmp_path / "runs" / "broken").mkdir()
    assert cli.main(["--run", str(tmp_path / "runs" / "broken")]) == 1
    assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'runs' / 'broken'}: no finished run")
    help_text = " ".join(cli.build_parser().format_help().split())
    assert all(part in help_text for part in ("README.md", "docs/frontier.md", "docs/speed.md",
                                              "model1-4.py's docstrings", "assets/", "--run"))


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
    fifth = [fake_trial("deskewed", "frontier", seed, 3000, [lowest] * 5, cpu="CPU X")  # a push's own file
             for seed, lowest in ((1, 99.5), (9601, 99.45), (9602, 99.45))]
    (results / "fifth-push.jsonl").write_text("".join(json.dumps(r) + "\n" for r in fifth))
    (results / "search-cuda.log").write_text(
        "2 runs to do\nsome warning\n"
        "tiny                 seed    1   2,832 params  last 5: 99.29 99.29 99.29 99.29 99.30  lowest 99.29  "
        "9.2 s/epoch\n"
        "tiny                 seed    2   2,832 params  last 5: 99.41 99.42 99.44 99.44 99.41  lowest 99.41  "
        "5.8 s/epoch\n")
    root = a_repo(tmp_path, {**DOCUMENTS, "README.md": (*README_BLOCKS,
                                                        "model4-result", "model4-log"),
                             "docs/trials.md": ("model4-sweeps", *DOCUMENTS["docs/trials.md"][1:])})
    assert cli.main(["--results", str(results), "--root", str(root)]) == 0
    text = (root / "docs" / "trials.md").read_text()
    margin = text.split(report.marks("trials-margin")[0])[1].split(report.marks("trials-margin")[1])[0]
    frontier = text.split(report.marks("trials-frontier")[0])[1].split(report.marks("trials-frontier")[1])[0]
    cuda = text.split(report.marks("trials-frontier-cuda")[0])[1]
    assert "| big | `8k,P,8` | 7,000 | steps after 7,10; lr 0.1; batch 128; weight decay 0.0005; rotate 7°, " \
           "shift 0.05 | CPU A | 10.0 | 1: 99.50 | 99.500 | 1/1 |" in margin and "small" not in margin
    assert "| small | `8k,P,8` | 3,000 |" in frontier  # a row per CPU type, its tuning seeds only
    assert "| CPU A | 10.0 | 1: 99.41, 2: 99.30 | 99.355 | 1/2 |" in frontier
    assert "| CPU B | 10.0 | 1: 99.40, 2: 99.35, 3: 99.30 | 99.350 | 1/3 |" in frontier
    assert "| CPU X | 10.0 | 1: 99.50 | 99.500 | 1/1 |" in frontier
    assert "5001" not in frontier and "9601" not in frontier  # the fresh seeds are the sweep's, not the tuning table's
    assert "| tiny | 2,832 | 1: 99.29, 2: 99.41 | 99.350 | 1/2 |" in cuda
    text = (root / "docs" / "frontier.md").read_text()
    sweeps = text.split(report.marks("frontier")[0])[1].split(report.marks("frontier")[1])[0]
    chosen = text.split(report.marks("tuning-and-fresh")[0])[1].split(report.marks("tuning-and-fresh")[1])[0]
    assert "| small | 3,000 | 1–2 | 99.355 | 5001–5002 | 99.415 | +0.060 |" in chosen and "big" not in chosen
    assert "| deskewed | 3,000 | 1 | 99.500 | 9601–9602 | 99.450 | -0.050 |" in chosen  # chosen within its own file
    assert "| small | 3,000 | 1 | 5001–5002 | 1/2 (9–91%) | 71% (0–100%) | +1.5 ± 3.5 | 99.415 ± 0.035 | " \
           "5002: 99.39 |" in sweeps
    assert "| model4 | 4,000 | 1 | 2001–2002 | 1/2 (9–91%) | 36% (0–100%) | -1.0 ± 1.4 | 99.390 ± 0.014 | " \
           "2002: 99.38 |" in sweeps
    assert "| deskewed | 3,000 | 1 | 9601–9602 | 2/2 (34–100%) |" in sweeps
    folded = sweeps.split("<details>")[1]  # the seeds themselves, folded under the table
    assert "| small | 3,000 | 5001–5002 | 99.44 99.39 |" in folded and "| model4 | 4,000 | 2001–2002 | 99.40 99.38 |" \
        in folded and folded.rstrip().endswith("</details>")
    for name in ("model4-seeds.png", "model4-curves.png", "frontier.png"):
        assert (root / "assets" / name).read_bytes().startswith(PNG_MAGIC), name


def lever_trial(variant, seed, lowest, cpu="A", spec="8k,P,10", params=3918, seconds=10.0, **recipe):
    """A tuning trial of the frontier with its own spec and recipe changes."""
    row = fake_trial(variant, "frontier", seed, params, [lowest] * 5, cpu=cpu)
    return {**row, "spec": spec, "recipe": {**row["recipe"], **recipe}, "seconds_per_epoch": seconds}


def test_a_lever_on_the_shifted_net_stands_against_the_shifted_net():
    """The sixth push's yardstick is the 3,918 net with test-time shifts: a lever on it (shifts and a recipe
    key) is set against it, not against the same layers without the shifts; the shifts themselves still
    stand against the net without them."""
    plain, shifted = research_pages.LEVER_NETS[0], "p3918-tta-settled-fade-b64"
    trials = [lever_trial(plain, seed, 99.38) for seed in (1, 2)]
    trials += [lever_trial(shifted, seed, 99.44, spec="tta:8k,P,10") for seed in (1, 2)]
    trials += [lever_trial("tta-floor", seed, 99.50, spec="tta:8k,P,10", floor=0.01) for seed in (1, 2)]
    rows = {row["lever"]: row for row in research_pages.lever_rows(trials)[0]}
    assert rows["tta-floor"]["net"] == shifted and round(rows["tta-floor"]["yardstick"], 3) == 99.44
    assert rows[shifted]["net"] == plain


def test_each_lever_stands_against_its_yardstick_on_the_same_seeds_and_cpu_type():
    """A lever is a lever net changed (a recipe key, a prefix, or other layers of about its size), set against
    that net on the seeds and CPU type both ran, and called by the bar; a far net is no lever, and one that
    ran only where its yardstick did not is named apart."""
    yard, padded = research_pages.LEVER_NETS[:2]
    trials = [lever_trial(yard, seed, 99.40) for seed in (1, 2, 3)] + [lever_trial(yard, 1, 99.30, cpu="B")]
    trials += [lever_trial("decay", seed, 99.46, seconds=18 + seed, weight_decay=1e-4) for seed in (1, 2, 3)]
    trials += [lever_trial("decay", seed, 99.20, cpu="B", weight_decay=1e-4) for seed in (1, 2)]  # B ran seed 1 only
    trials += [lever_trial("deskewed", seed, 99.42, spec="deskew:8k,P,10") for seed in (1, 2, 9601)]
    trials += [lever_trial(padded, seed, 99.33, spec="8k,P,8p,8", params=3932) for seed in (1, 2, 3)]
    trials += [lever_trial("shortcut", seed, 99.35, spec="8k,P,8a,8", params=3932) for seed in (1, 2, 3)]
    trials += [lever_trial("far", 1, 99.50, spec="16k,P,32", params=9000),
               lever_trial("elsewhere", 1, 99.50, cpu="C", lr=0.2)]
    lines = research_pages.levers_table(trials).splitlines()
    assert lines[2:7] == [
        (f"| decay: `weight_decay=0.0001` | {yard} (3,918) | 1–3, A | +0.060 (99.460 against 99.400) | "
         f"20.0 (10.0) | helps |"),  # +0.06 on A, at twice the time an epoch
        (f"| deskewed: layers `deskew:8k,P,10` | {yard} (3,918) | 1–2, A | +0.020 (99.420 against 99.400) | "
         f"10.0 (10.0) | no clear change; fresh seeds 9601: 1/1 (21–100%) |"),
        (f"| {padded}: layers `8k,P,8p,8` | {yard} (3,918) | 1–3, A | -0.070 (99.330 against 99.400) | "
         f"10.0 (10.0) | hurts |"),
        (f"| decay: `weight_decay=0.0001` | {yard} (3,918) | 1, B | -0.100 (99.200 against 99.300) | "
         f"10.0 (10.0) | hurts |"),
        (f"| shortcut: layers `8k,P,8a,8` | {padded} (3,932) | 1–3, A | +0.020 (99.350 against 99.330) | "
         f"10.0 (10.0) | no clear change |")]  # the shortcuts change the padded net, whose layers they share most
    assert lines[7:] == ["", ("Not set against their yardstick (it ran on none of their seeds on their CPU type, or "
                             "their CPU type is not recorded): elsewhere.")]


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
    assert research_pages.model_sweeps(evidence.load_runs(runs, copies, tmp_path / "gpu")) == {
        ("model4, an earlier net", 5964): {2001: 99.58, 2002: 99.39}, ("model4", 6908): {3001: 99.45, 3002: 99.41}}


def test_a_model_sweep_that_repeats_a_trial_sweep_stands_once(tmp_path):
    """model4.py rerun through train.py on the seeds its trial net was swept on: one net, one point."""
    for seed, last in ((5001, 99.44), (5002, 99.39)):
        fake_run(tmp_path / "runs", "model4", seed, [last + 0.1, last], params=3000)
    trials = [fake_trial("small", "frontier", 5001, 3000, [99.45, 99.44, 99.5, 99.5, 99.5]),
              fake_trial("small", "frontier", 5002, 3000, [99.45, 99.39, 99.5, 99.5, 99.5]),
              fake_trial("small", "frontier", 5003, 3000, [99.45, 99.42, 99.5, 99.5, 99.5]),  # beyond the model's
              fake_trial("small", "frontier", 5004, 3000, [99.45, 99.43, 99.5, 99.5, 99.5]),
              fake_trial("other", "frontier", 5001, 3000, [99.3] * 5),
              fake_trial("other", "frontier", 5002, 3000, [99.2] * 5),
              fake_trial("lone", "frontier", 5001, 3000, [99.3] * 5),  # one fresh seed: no spread, no sweep yet
              fake_trial("small", "frontier", 1, 3000, [99.3] * 5)]  # a tuning seed: no sweep
    assert research_pages.all_sweeps(evidence.load_runs(tmp_path / "runs"), trials) == {
        ("model4", 3000): {5001: 99.44, 5002: 99.39}, ("small", 3000): {5003: 99.42, 5004: 99.43},
        ("other", 3000): {5001: 99.3, 5002: 99.2}}


def test_hold_rates_carry_their_95_percent_interval():
    assert [round(x, 3) for x in hold_rates.wilson(9, 10)] == [0.596, 0.982]
    assert [round(x, 3) for x in hold_rates.wilson(10, 10)] == [0.722, 1.0]
    assert [round(x, 3) for x in hold_rates.wilson(0, 10)] == [0.0, 0.278]
    assert evidence.held([99.40, 99.39, 99.45]) == "2/3 (21–94%)"


def test_a_log_says_whether_its_run_had_the_machine_to_itself():
    def run(threads, start, end):
        return {"provenance": {"threads": threads}, "machine": {"start": {"load": [start, 0, 0], "cores": 2},
                                                                "end": {"load": [end, 0, 0], "cores": 2}}}
    assert evidence.shared_machine(run(2, 0.1, 2.1)) is False  # its own two threads
    assert evidence.shared_machine(run(1, 0.1, 2.0)) is True  # another run beside it
    assert evidence.shared_machine({"provenance": {"threads": 2}}) is None
    assert run_log.load_clause(run(2, 0.12, 3.4)) == ("load 0.12 to 3.40 on 2 cores (at or over 2 threads + 0.75: "
                                                     "other work shared the machine)")
    assert run_log.load_clause(run(1, 1.97, 1.2)).endswith(  # the rule, where the logs show it
        "on 2 cores (under 1 thread + 0.75: the machine to itself)")


def test_a_sweeps_hold_rate_from_its_margins_goes_beside_k_of_n():
    assert evidence.fitted([99.43, 99.46, 99.40]) == "88% (76–100%)"  # margins +3, +6, 0: all held, by a little
    assert evidence.margins([99.43, 99.46, 99.40]) == "+3.0 ± 3.0"
    assert evidence.fitted([99.52, 99.52]) == "100% (100–100%)" and evidence.fitted([99.52]) == "n/a"
    model3 = [99.50, 99.45, 99.51, 99.45, 99.51, 99.50, 99.49, 99.46, 99.48, 99.46]
    assert evidence.fitted(model3) == ">99.9% (at least 99.8%)"  # never "(99.8–>99.9%)"
    assert evidence.interval(0.9996, 0.99999) == "over 99.9%" and evidence.interval(0.00001, 0.009) == "at most 0.9%"
    assert evidence.interval(0.00001, 0.0002) == "under 0.1%" and evidence.interval(0.72, 0.92) == "72–92%"


def test_a_model_docstrings_result_is_the_records_and_report_keeps_it_so(tmp_path):
    results, root = tmp_path / "results", a_repo(tmp_path, {**DOCUMENTS, "README.md": (
        *README_BLOCKS, "model4-result", "model4-log")})
    (root / "model4.py").write_text('"""Model.\n\nResult (old numbers\n99.99%).\n\nAnalysis.\n"""\n')
    run = fake_run(results / "runs", "model4", 1, [99.0] * 10 + [99.41, 99.42, 99.45, 99.40, 99.44], params=4000)
    run["provenance"]["model_sha256"] = provenance.model_sha256(root / "model4.py")  # a run of today's code
    (results / "runs" / "model4-seed1" / "metrics.json").write_text(json.dumps(run))
    assert cli.main(["--results", str(results), "--root", str(root), "--check"]) == 1
    assert cli.main(["--results", str(results), "--root", str(root)]) == 0
    text = (root / "model4.py").read_text()
    assert "99.99" not in text and text.endswith("target met.\n\nAnalysis.\n\"\"\"\n")
    assert "Result (results/runs/model4-seed1/metrics.json, written into this docstring by report.py): 4,000" in text
    (root / "model4.py").write_text(text + "WIDER = True\n")  # another net in the file: its run is not on record
    assert cli.main(["--results", str(results), "--root", str(root)]) == 0
    assert "report.py): not yet\nmeasured.\n\nAnalysis." in (root / "model4.py").read_text()
    assert "- **Result**: not yet measured." in (root / "README.md").read_text()
    (root / "model4.py").write_text('"""Model without its paragraph."""\n')
    assert cli.main(["--results", str(results), "--root", str(root)]) == 1


@pytest.mark.slow
def test_a_model_files_summary_pools_every_fresh_seed_of_its_net(tmp_path, capsys):
    """train.py leaves one sweep's summary; report.py rewrites it as what the documents claim, every fresh seed
    of today's net pooled over its sweeps with where each ran, and an earlier net keeps a file of its own."""
    results, runs = tmp_path / "results", tmp_path / "results" / "runs"
    fake_run(runs, "model4", 1, [99.5] * 15, params=4000)
    for seed, lowest, threads in ((6001, 99.43, 1), (6002, 99.38, 1), (6031, 99.45, 2), (6032, 99.41, 2)):
        fake_run(runs, "model4", seed, [99.0] * 10 + [lowest] + [99.5] * 4, params=4000, threads=threads)
    for seed in (3001, 3002):
        fake_run(runs, "model4", seed, [99.0] * 10 + [99.46] * 5, params=6908, folder=f"model4-6908-seed{seed}")
    (runs / "model4-summary.json").write_text('{"runs": 2}\n')  # the last sweep's, as train.py wrote it
    root = a_repo(tmp_path, {**DOCUMENTS, "README.md": (*README_BLOCKS,
                                                        "model4-result", "model4-log"),
                             "docs/trials.md": ("model4-sweeps", *DOCUMENTS["docs/trials.md"][1:])})
    assert cli.main(["--results", str(results), "--root", str(root), "--check"]) == 1
    assert f"differs from results/: {runs / 'model4-summary.json'}" in capsys.readouterr().out
    assert cli.main(["--results", str(results), "--root", str(root)]) == 0
    pooled = json.loads((runs / "model4-summary.json").read_text())
    assert (pooled["params"], pooled["runs"], pooled["target_met"]) == (4000, 4, 3)
    assert [row["threads"] for row in pooled["seeds"]] == [1, 1, 2, 2] and "threads" not in pooled["provenance"]
    fit = pooled["hold_rate_from_margins"]
    assert fit["low"] <= fit["rate"] <= fit["high"] and pooled["target_met_interval"] == list(hold_rates.wilson(3, 4))
    assert "Fresh seeds 6001–6002, 6031–6032: target met on 3/4" in (root / "README.md").read_text()
    assert json.loads((runs / "model4-6908-summary.json").read_text())["runs"] == 2
    assert cli.main(["--results", str(results), "--root", str(root), "--check"]) == 0


def test_a_nets_sweeps_show_one_hash_for_its_code(tmp_path):
    """The hash under a model file's sweeps is its code's, the docstring aside, as the model file holds it."""
    (tmp_path / "model4.py").write_text('"""Result (one sweep).\n"""\nimport torch\n')
    groups = [[{"provenance": {"git_commit": "9c2368f02dcc"}}], [{"provenance": {"git_commit": "245c344aaaaa"}}]]
    default_run = {"provenance": {"model_sha256": provenance.model_sha256(tmp_path / "model4.py")}}
    line = research_pages.net_code_line("model4", groups, [default_run], tmp_path)
    (tmp_path / "model4.py").write_text('"""Result (two sweeps, rewritten by report.py).\n"""\nimport torch\n')
    assert research_pages.net_code_line("model4", groups, [default_run], tmp_path) == line
    assert f"sha256 `{provenance.model_sha256(tmp_path / 'model4.py')[:12]}`" in line and "(9c2368f, 245c344;" in line
    (tmp_path / "model4.py").write_text('"""Another net."""\nimport torch.nn\n')  # no record ran this code
    assert research_pages.net_code_line("model4", groups, [default_run], tmp_path) == (
        "`model4.py` has changed since these sweeps: each ran the file at the commit its last line names "
        "(9c2368f, 245c344; `git show COMMIT:model4.py`).")
    assert research_pages.net_code_line("model5", groups, [default_run], tmp_path) is None


def test_each_gpu_goal_says_met_or_missed_and_an_earlier_net_is_named(tmp_path):
    log = tmp_path / "device-check.log"
    log.write_text("== machine\ntorch 2.11.0 | CUDA 13.0 | GPU X\nwhole process: 18.9 s\n"
                   "model4                                  6,908  tensors on cuda, batch 128     0.31    194073\n"
                   "training epoch speed-up of model3's tensor pipeline over the classic one: 4.35x\n")
    assert speed_page.gpu_goals_table([(log, "log.txt")]).splitlines()[2:] == [
        "| a whole default model3 run, start to end: under 15 s | GPU X ([log](log.txt)) | 18.9 s | missed by 3.9 s |",
        ("| a training epoch of model3: the tensor pipeline's speed-up over the classic one: at least 5x | GPU X "
        "([log](log.txt)) | 4.35x | missed by 0.65x |")]
    runs = {("model4", "cpu"): [{"seed": 1, "params": 4820}]}
    lines = log.read_text().splitlines()
    assert speed_page.earlier_nets(lines, runs) == [
        "model4 in these lines is an earlier net of `model4.py`, of 6,908 parameters; today's has 4,820."]
    assert speed_page.earlier_nets(lines, {("model4", "cpu"): [{"seed": 1, "params": 6908}]}) == []


def test_the_graph_check_says_which_runs_stopped_and_that_the_rest_repeat_the_eager_runs(tmp_path):
    graph, eager = tmp_path / "graph", tmp_path / "eager"
    for seed in (1001, 1002, 1003):
        fake_run(eager, "model3", seed, [99.5] * 15, device="cuda", recipe={"epochs": 15})
    fake_run(graph, "model3", 1001, [99.5] * 15, device="cuda", recipe={"epochs": 15})
    fake_run(graph, "model3", 1002, [99.5] * 14 + [99.6], device="cuda", recipe={"epochs": 15})  # one epoch apart
    cut = fake_run(graph, "model3", 1003, [99.5] * 13, device="cuda", recipe={"epochs": 15})
    del cut["target_met"]  # cut off: no verdict
    (graph / "model3-seed1003" / "metrics.json").write_text(json.dumps(cut))
    (graph / "device-sweeps.log").write_text("== seed 1001 (1/3): continued from x ==\nTARGET MET: ...\n"
                                             "== seed 1003 (3/3): continued from y ==\n")
    text = speed_page.graph_check_text(graph, eager, "graph")
    assert "2 runs reached their last epoch; 1 stop before it, with no verdict in their records (1003 at epoch 13)" \
        in text
    assert "continuing 1001, 1003 from their checkpoints, and it ends in 1003" in text
    assert "In 42 of the 43 epochs that ran" in text


def test_the_reference_is_cited_by_its_title_and_its_own_figures():
    fresh = [fake_trial(report.REFERENCE["variant"], "frontier", seed, 6136, [lowest] * 5)
             for seed, lowest in ((8001, 99.40), (8002, 99.31), (1, 99.5))]  # a tuning seed is no fresh seed
    text = " ".join(report.reference_text(fresh).split())  # wrapped at 120
    assert f'"{report.REFERENCE["title"]}"' in text and "names no author, date or address" in text
    assert "its net has 6,136 parameters, and its one run held 99.40–99.43% from epoch 9 to 15" in text
    assert "(the lowest of its last 5: 99.40%, a margin of 0 images)" in text
    assert "held on 1/2 (9–91%) of its fresh seeds 8001–8002" in text
    row = report.results_table({}, fresh).splitlines()[-1]  # beside the experiments on the README's first screen
    assert row.startswith("| [the course write-up's net](docs/frontier.md#the-net-to-beat), model3's recipe | "
                          "6,136 | 1 | 1/2 (9–91%) | ") and row.endswith(" | 99.31 (seed 8002) |")


def test_how_long_a_run_takes_comes_from_runs_that_had_their_machine_to_themselves(tmp_path):
    results = tmp_path / "results"
    machine = {"start": {"load": [0.5, 0, 0], "cores": 2}, "end": {"load": [2.1, 0, 0], "cores": 2}}
    fake_run(results / "runs", "model3", 1, [99.5] * 15, machine=machine)  # 15 epochs of 2 s
    (results / "runs-cuda").mkdir()
    (results / "runs-cuda" / speed_page.GPU_LOGS[0][1]).write_text(
        "torch 2 | CUDA 13.0 | GPU X\nwhole process: 18.9 s\n")
    text = " ".join(report.run_times(evidence.load_runs(results / "runs"), results).split())  # wrapped at 120
    assert text.startswith("model3's default run trained its 15 epochs in 0.5 minutes on a CPU (AMD EPYC, family "
                           "25, model 17, AVX512, 2 threads, the machine to itself")
    assert text.endswith("; on one GPU X, alone on the device, the whole run took 18.9 s from start to end "
                         "([docs/speed.md](docs/speed.md#on-a-gpu)).")


def alone_run(model, seed, lowest):
    return {"model": model, "seed": seed, "min_last": lowest, "target_met": lowest >= 99.4, "device_name": "CPU B"}


def test_what_a_model_file_alone_reaches_stands_beside_what_fit_gives_it(tmp_path):
    results = tmp_path / "results"
    for seed, last in ((1, 99.45), (1001, 99.50), (1002, 99.44)):
        fake_run(results / "runs", "model3", seed, [99.0] * 10 + [last] * 5, params=7656)
    runs = evidence.load_runs(results / "runs")
    plain = [alone_run("model3", 1101, 99.41), alone_run("model3", 1102, 99.31), alone_run("model3", 1, 99.9)]
    table = report.alone_table(runs, plain, tmp_path).splitlines()
    assert table[2] == ("| model3 | `fit` with its RECIPE | 1001–1002 | AMD EPYC, family 25, model 17, AVX512 | "
                        "2/2 (34–100%) | 99.470 ± 0.042 | 1002: 99.44 |")
    assert table[3] == ("| model3 | the plain loop, the file alone | 1101–1102 | CPU B | 1/2 (9–91%) | "
                        "99.360 ± 0.071 | 1102: 99.31 |")  # tuning seed 1 is not evidence
    text = report.result_text("model3", runs, tmp_path, plain)
    assert text.endswith("on fresh seeds 1101–1102: target met on 1/2 (9–91%); lowest of the last 5 epochs "
                         "99.360 ± 0.071, worst seed 1102 at 99.31%.")
    assert "plain loop" not in report.result_text("model3", runs, tmp_path, [])
    assert report.alone_table(runs, [], tmp_path).startswith("No model file has run alone yet")
    (tmp_path / "model3.py").write_text('"""Docstring."""\nNET = 1\n')
    today = {"model_sha256": provenance.model_sha256(tmp_path / "model3.py")}
    plain = [{**alone_run("model3", 1101, 99.41), **today},
             {**alone_run("model3", 1102, 99.31), "model_sha256": "an older net"}]
    assert report.alone_table(runs, plain, tmp_path).splitlines()[3].startswith(
        "| model3 | the plain loop, the file alone | 1101 | CPU B | 1/1 ")  # a file whose net has changed: not shown


def test_a_distilled_recipe_names_its_teacher_and_what_training_it_cost(tmp_path, monkeypatch):
    torch.save({"variant": "teacher-x", "params": 33264, "test_accuracy": 99.62, "train_seconds": 442.2,
                "device_name": "CPU A", "spec": "8k,P,8", "model_state": {}}, tmp_path / "t.pt")
    monkeypatch.setattr(evidence, "ROOT", tmp_path)
    described = evidence.describe_recipe({"teacher": "t.pt", "distill_temperature": 2.0, "distill_weight": 0.5})
    assert ("soft labels at temperature 2, weight 0.5, from the teacher teacher-x (33,264 params, 99.62% at its "
            "last epoch, 7.4 minutes of training on one thread of CPU A)") in described
    base = lever_trial("p3918-settled-fade-b64", 1, 99.36)
    student = lever_trial("p3918-kd2", 1, 99.40, teacher="t.pt", distill_temperature=2.0)
    rows, _ = research_pages.lever_rows([base, student])
    assert rows[0]["changes"][0].startswith("teacher teacher-x (33,264 params") and \
        "`distill_temperature=2.0`" in rows[0]["changes"]


def test_two_nets_of_one_size_are_told_apart_by_the_earlier_ones_code(tmp_path, monkeypatch):
    """results/nets.json names each net by its trial variant and passes; the earlier of two nets of one size by
    its model file's code hashes."""
    nets = {"model4": [{"params": 4820, "variant": "p4820-tta-x", "passes": 5},
                       {"params": 4820, "variant": "p4820-y", "passes": 1, "model_sha256": ["ee" * 32]}]}
    (tmp_path / "nets.json").write_text(json.dumps(nets))
    monkeypatch.setattr(evidence, "NETS", tmp_path / "nets.json")
    results = tmp_path / "results" / "runs"
    for seed in (6001, 6002):  # the earlier net: its own code, the same size
        fake_run(results, "model4", seed, [99.0] * 10 + [99.3] * 5, params=4820)
        record = json.loads((results / f"model4-seed{seed}" / "metrics.json").read_text())
        record["provenance"]["model_sha256"] = "ee" * 32
        (results / f"model4-seed{seed}" / "metrics.json").write_text(json.dumps(record))
    for seed in (1, 6301, 6302):
        fake_run(results, "model4", seed, [99.0] * 10 + [99.5] * 5, params=4820)
    runs = evidence.load_runs(results)
    sweep, lowest, _ = evidence.current_sweep(runs, "model4", evidence.shown_run(runs, "model4"))
    assert [r["seed"] for r in sweep] == [6301, 6302] and lowest == [99.5, 99.5]
    assert research_pages.model_sweeps(runs) == {("model4 (p4820-tta-x)", 4820): {6301: 99.5, 6302: 99.5},
                                                 ("earlier model4 (p4820-y)", 4820): {6001: 99.3, 6002: 99.3}}
    assert [evidence.passes(r) for r in sweep] == [5, 5]
    assert {evidence.passes(r) for r in runs[("model4", "cpu")] if r["seed"] in (6001, 6002)} == {1}
    trials = [{"variant": "t", "spec": "deskew+tta:8k,P,8"}, {"variant": "u", "spec": "8k,P,8"}]
    assert research_pages.sweep_passes(runs, trials) == {"model4 (p4820-tta-x)": 5, "earlier model4 (p4820-y)": 1,
                                                         "t": 5, "u": 1}
    written = report.summary_files(runs, results)
    assert sorted(path.name for path in written) == ["model4-p4820-y-summary.json", "model4-summary.json"]


def test_beside_a_shifted_model4_the_readme_names_the_smallest_net_that_clears_the_bar_in_one_pass(tmp_path,
                                                                                                     monkeypatch):
    nets = {"model4": [{"params": 4000, "variant": "p4000-tta", "passes": 5},
                       {"params": 6000, "variant": "p6000", "passes": 1}]}
    (tmp_path / "nets.json").write_text(json.dumps(nets))
    monkeypatch.setattr(evidence, "NETS", tmp_path / "nets.json")
    runs_dir = tmp_path / "runs"
    fake_run(runs_dir, "model4", 1, [99.5] * 15, params=4000)
    for seed in range(3001, 3021):  # the earlier net: 19 of 20 held by several images, one missed
        fake_run(runs_dir, "model4", seed, [99.0] * 10 + [99.47 if seed != 3005 else 99.38] * 5, params=6000,
                 folder=f"model4-p6000-seed{seed}")
    trials = [fake_trial("small", "frontier", seed, 3000, [99.41] * 5) for seed in (9001, 9002)]
    text = " ".join(report.single_pass_text(evidence.load_runs(runs_dir), trials).split())  # wrapped at 120
    assert text.startswith("model4 takes 5 forward passes per test image. The smallest net that clears the bar in "
                           "one pass is earlier model4 (p6000), 6,000 parameters: 19/20 (76–99%)"), text
    nets["model4"][0]["passes"] = 1  # a model4 of one pass needs no such sentence
    (tmp_path / "nets.json").write_text(json.dumps(nets))
    evidence.load_nets.cache_clear()
    assert report.single_pass_text(evidence.load_runs(runs_dir), trials) == ""

