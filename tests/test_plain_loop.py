"""plain_loop.py: a model file trained alone by the write-up's loop, and its runs reused only on the same machine."""
import json

import pytest

from lab import plain_loop


def test_a_model_file_is_imported_alone(tmp_path):
    module = plain_loop.import_alone(plain_loop.model_path("model4"), tmp_path)
    assert module.__file__ == str(tmp_path / "model4.py")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model4.py"]
    (tmp_path / "needs.py").write_text("import train\n")
    other = tmp_path / "other"
    other.mkdir()
    assert plain_loop.import_alone(tmp_path / "needs.py", other)  # this repository is on the path here...
    (tmp_path / "needs_sibling.py").write_text("import helper_beside_it\n")
    (tmp_path / "helper_beside_it.py").write_text("")
    with pytest.raises(ModuleNotFoundError):  # ...but nothing that sat beside the file in its own folder
        plain_loop.import_alone(tmp_path / "needs_sibling.py", other)


def test_runs_train_once_per_machine_and_are_written_where_asked(tiny_mnist, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # each run's folder goes under runs/ where it runs: not in this checkout
    results = tmp_path / "plain.jsonl"
    argv = ["--models", "model4", "--seeds", "5", "--data-dir", str(tiny_mnist), "--results", str(results),
            "--threads", "1"]
    assert plain_loop.main(argv) in (0, 1)
    row = json.loads(results.read_text())
    assert row["model"] == "model4" and row["seed"] == 5 and row["recipe"] == plain_loop.PLAIN
    assert len(row["test_accuracy"]) == 15 and row["threads"] == 1
    assert row["params"] == plain_loop.count_params(plain_loop.load_experiment("model4").make_net())
    plain_loop.main(argv)
    assert "0 runs to do (1 already in" in capsys.readouterr().out
    assert plain_loop.pending(["model4"], [5], results, threads=2) == [("model4", 5)]  # another thread count
    results.write_text(json.dumps({**row, "device_name": "another CPU"}) + "\n")
    assert plain_loop.pending(["model4"], [5], results, threads=1) == [("model4", 5)]
    # Another training code, or another device, trains again: the plain loop reuses by the trainer's one rule
    # (its own list lacked both, and reused its old lines after the training code changed).
    for other in ({"code_sha256": "0" * 64}, {"device": "cuda"}):
        results.write_text(json.dumps({**row, **other}) + "\n")
        assert plain_loop.pending(["model4"], [5], results, threads=1) == [("model4", 5)], other


def test_an_unknown_model_is_refused_with_the_valid_names(capsys):
    with pytest.raises(SystemExit):
        plain_loop.main(["--models", "model9"])
    assert "unknown model(s) model9; valid: model1" in capsys.readouterr().err
