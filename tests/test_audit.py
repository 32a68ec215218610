"""Audits of the committed evidence: each checks results/ and the documents made from it, not the code
(the code's own tests build their results). A failure here means a record, a document or a claim went
stale, not that the trainer broke."""
import json
import re
import subprocess

import pytest

from conftest import ROOT, without_seconds
from lab import trials
from reports import cli, evidence, report
from trainer import provenance

pytestmark = pytest.mark.slow


@pytest.fixture
def committed_nets(monkeypatch):
    monkeypatch.setattr(evidence, "NETS", ROOT / "results" / "nets.json")


def test_the_documents_are_what_report_makes_of_the_committed_results(committed_nets):
    """No number, table or log in README.md or docs/ is edited by hand: regenerating them from results/
    changes nothing, and every relative link and picture in them resolves to a file."""
    assert cli.main(["--check"]) == 0
    for name in ("README.md", "docs/frontier.md", "docs/trials.md", "docs/history.md", "docs/speed.md"):
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


def assert_model_file_repeats_its_trial_net(results_file, variant, seeds):
    """model4.py's runs through train.py (results/runs) against `variant`'s through search.py (`results_file`),
    one thread each, on `seeds`: the same test accuracy at every epoch. Returns the model file's runs."""
    trials = {r["seed"]: r for r in report.load_trials(ROOT / "results" / results_file)
              if r["variant"] == variant and evidence.is_fresh(r)}
    runs = [r for r in evidence.load_runs(ROOT / "results" / "runs")[("model4", "cpu")]
            if r["params"] == 4820 and r["seed"] in seeds]
    assert sorted(r["seed"] for r in runs) == sorted(trials) == list(seeds)
    for run in runs:
        assert run["provenance"]["threads"] == trials[run["seed"]]["threads"] == 1
        assert [m["test_accuracy"] for m in run["epochs"]] == trials[run["seed"]]["test_accuracy"], run["seed"]
    return runs


def test_model4_repeats_the_sweep_of_its_trial_net_epoch_by_epoch():
    """The 4,820 net without test-time shifts against p4820-settled-fade-b64 (results/search.jsonl), seeds
    6001-6010."""
    assert_model_file_repeats_its_trial_net("search.jsonl", "p4820-settled-fade-b64", range(6001, 6011))


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
        assert without_seconds(old["epochs"]) == without_seconds(new["epochs"]), run


def test_each_model_files_sweeps_ran_the_code_its_documents_name(tmp_path, committed_nets):
    """What docs/trials.md says under each model file's sweeps: the model file's code, its docstring aside, is
    the same at every commit its net's fresh seeds ran at, and for today's net it is today's file's."""
    runs = evidence.load_runs(ROOT / "results" / "runs")
    for model in ("model3", "model4"):
        today = evidence.todays_net(runs, model)
        swept = [r for r in runs[(model, "cpu")] if evidence.is_fresh(r) and "provenance" in r]
        for net in {(r["params"], today(r)) for r in swept}:  # two nets of one size are two nets
            codes = set()
            for commit in {r["provenance"]["git_commit"] for r in swept if (r["params"], today(r)) == net}:
                shown = subprocess.run(["git", "show", f"{commit}:{model}.py"], cwd=ROOT, capture_output=True,
                                       text=True)
                if shown.returncode:
                    pytest.skip(f"commit {commit[:7]} is not in this clone")
                (tmp_path / "then.py").write_text(shown.stdout)
                codes.add(provenance.model_sha256(tmp_path / "then.py"))
            assert len(codes) == 1, (model, net)
            if evidence.runs_todays_code(model, [r for r in runs[(model, "cpu")] if (r["params"], today(r)) == net],
                                         ROOT):
                assert codes == {provenance.model_sha256(ROOT / f"{model}.py")}, model


def test_model4_repeats_the_sweep_of_its_trial_net_with_test_time_shifts_epoch_by_epoch():
    """model4.py (the 4,820 net with test-time shifts) against p4820-tta-settled-fade-b64
    (results/fifth-push.jsonl), seeds 6301-6320, so the model file's sweep is the trial net's."""
    runs = assert_model_file_repeats_its_trial_net("fifth-push.jsonl", "p4820-tta-settled-fade-b64",
                                                   range(6301, 6321))
    for run in runs:
        assert run["provenance"]["model_sha256"] == provenance.model_sha256(ROOT / "model4.py")  # today's net


def test_the_move_into_packages_changed_no_number():
    """model3 seed 1001, model4 seed 6601, a trial net with test-time shifts and a distilled trial net on
    seed 1, each run before the trainer moved into trainer/ (commit 3fadb6c) and after it, at today's
    training code (its types included: 2da668c), on one machine with one thread: another training code's
    hash, the same numbers at every epoch (results/refactor-check/layout)."""
    check = ROOT / "results" / "refactor-check" / "layout"
    for run in ("model3-seed1001", "model4-seed6601"):
        old, new = (json.loads((check / side / run / "metrics.json").read_text()) for side in ("old", "new"))
        assert old["provenance"]["git_commit"].startswith("3fadb6c")
        assert old["provenance"]["code_sha256"] != new["provenance"]["code_sha256"], "the same code twice"
        for key in ("threads", "device_name", "torch"):
            assert old["provenance"][key] == new["provenance"][key], key
        assert len(new["epochs"]) == 15 and without_seconds(old["epochs"]) == without_seconds(new["epochs"]), run
    old, new = ({row["variant"]: row for row in trials.load_trials(check / side / "trials.jsonl")}
                for side in ("old", "new"))
    assert sorted(old) == sorted(new) == ["p3918-kd2-settled-fade-b64", "p3918-tta-settled-fade-b64"]
    for variant in old:
        assert old[variant]["code_sha256"] != new[variant]["code_sha256"]
        assert old[variant]["test_accuracy"] == new[variant]["test_accuracy"] and \
            len(new[variant]["test_accuracy"]) == 15, variant


def test_the_trainers_refactor_changed_no_number():
    """model3 seed 1001, model4 seed 6601, a trial net with test-time shifts and a distilled trial net on seed 1,
    each run before the trainer's refactor into one straight path (commit 50e0fff) and after it, on one machine
    with one thread: another training code's hash, the same numbers at every epoch; and the one pair of
    provenance.EQUAL_NUMBERS, which lets the earlier code's records stand for the later code's, is this check's
    (results/refactor-check/trainer)."""
    check = ROOT / "results" / "refactor-check" / "trainer"
    hashes = set()
    for run in ("model3-seed1001", "model4-seed6601"):
        old, new = (json.loads((check / side / run / "metrics.json").read_text()) for side in ("old", "new"))
        assert old["provenance"]["git_commit"].startswith("50e0fff") and not new["provenance"]["git_dirty"]
        for key in ("threads", "device_name", "cpu_capability", "torch"):
            assert old["provenance"][key] == new["provenance"][key], key
        assert len(new["epochs"]) == 15 and without_seconds(old["epochs"]) == without_seconds(new["epochs"]), run
        hashes.add((old["provenance"]["code_sha256"], new["provenance"]["code_sha256"]))
    old, new = ({row["variant"]: row for row in trials.load_trials(check / side / "trials.jsonl")}
                for side in ("old", "new"))
    assert sorted(old) == sorted(new) == ["p3918-kd2-settled-fade-b64", "p3918-tta-settled-fade-b64"]
    for variant in old:
        assert old[variant]["test_accuracy"] == new[variant]["test_accuracy"] and \
            len(new[variant]["test_accuracy"]) == 15, variant
        hashes.add((old[variant]["code_sha256"], new[variant]["code_sha256"]))
    (before, after), = hashes  # one code on each side
    assert before != after and provenance.EQUAL_NUMBERS[before] == after


def test_the_levers_keys_left_a_whole_run_as_it_was():
    """results/refactor-check/levers: model4 seed 6601 on one thread, by the code before the seventh push's recipe
    keys (the trainer check's new side) and after them, on one CPU type: every epoch equal, and the pair of hashes
    is EQUAL_NUMBERS's second."""
    check = ROOT / "results" / "refactor-check"
    old, new = (json.loads((check / side / "model4-seed6601" / "metrics.json").read_text())
                for side in ("trainer/new", "levers/new"))
    assert new["provenance"]["git_commit"].startswith("02e980b") and not new["provenance"]["git_dirty"]
    for key in ("threads", "device_name", "cpu_capability", "torch"):
        assert old["provenance"][key] == new["provenance"][key], key
    assert len(new["epochs"]) == 15 and without_seconds(old["epochs"]) == without_seconds(new["epochs"])
    before, after = old["provenance"]["code_sha256"], new["provenance"]["code_sha256"]
    assert before != after and provenance.EQUAL_NUMBERS[before] == after
    assert provenance.same_code(next(iter(provenance.EQUAL_NUMBERS)), after)  # the first code's runs, by the chain


def test_a_checkpoint_of_the_code_before_the_refactor_resumes_to_the_same_numbers():
    """results/refactor-check/trainer/resume: model1 seed 7, 3 epochs; the run left alone at 50e0fff, and the same
    run stopped after epoch 1 there and resumed by the refactored trainer."""
    check = ROOT / "results" / "refactor-check" / "trainer" / "resume"
    alone, resumed = (json.loads((check / side / "metrics.json").read_text()) for side in ("uninterrupted", "resumed"))
    assert alone["provenance"]["git_commit"].startswith("50e0fff")
    assert provenance.EQUAL_NUMBERS[alone["provenance"]["code_sha256"]] == resumed["provenance"]["code_sha256"]
    assert len(alone["epochs"]) == 3 and without_seconds(alone["epochs"]) == without_seconds(resumed["epochs"])
