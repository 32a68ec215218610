"""The contracts a user meets first: a model file is checked before anything trains, a recipe knows
its keys, and the command line refuses what it would otherwise ignore."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import train
from conftest import ROOT, copy_of_the_code, without_seconds
from trainer import engine, provenance
from trainer.recipe import SCHEMA, RecipeError, complete

GOOD = (ROOT / "model3.py").read_text()  # a plain forward pass: each case below edits one line of it
BROKEN_FILES = {
    "misspelled key": (GOOD.replace('"warmup": 2', '"warmups": 2'),
                       "model5.py: RECIPE: unknown key 'warmups'; valid keys: epochs, batch_size"),
    "nine classes": (re.sub(r"nn\.Conv2d\((\d+), 10, 1, bias=False\)", r"nn.Conv2d(\1, 9, 1, bias=False)", GOOD),
                     "model5.py: Net() maps a (2, 1, 28, 28) batch to (2, 9), not (2, 10)"),
    "syntax error": (GOOD.replace("class Net(nn.Module):", "class Net(nn.Module)"), "model5.py, line "),
    "no recipe": (GOOD.split("RECIPE = ")[0], "model5.py: defines no RECIPE (a model file needs both)"),
    "import fails": ("import torch\nimport notapackage\n", ("model5.py, line 2: importing it raised "
                                                           "ModuleNotFoundError")),
    "raw scores": (GOOD.replace("return F.log_softmax(self.head(x).flatten(1), dim=1)",
                                "return self.head(x).flatten(1)"),
                   ("model5.py: Net() returns scores that are not log-probabilities (their exp does not sum to 1 "
                   "per image); end forward with `return F.log_softmax(x, dim=1)`")),
    "net that fails": (GOOD.replace("x = F.adaptive_avg_pool2d(self.features(x), 1)", "x = x.view(2, -1, 7)"),
                       "model5.py: Net() fails on a (2, 1, 28, 28) batch (RuntimeError"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BROKEN_FILES)
def test_a_broken_model_file_is_refused_in_one_line_before_training(case, tmp_path, tiny_mnist):
    repo = copy_of_the_code(tmp_path / "repo")
    text, message = BROKEN_FILES[case]
    (repo / "model5.py").write_text(text)
    result = subprocess.run([sys.executable, "train.py", "--model", "model5", "--data-dir", str(tiny_mnist),
                             "--device", "cpu", "--no-download"], cwd=repo, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith(f"error: {repo / 'model5.py'}") and message in result.stderr, result.stderr
    assert "EPOCH" not in result.stdout and not (repo / "runs").exists()


def test_an_unknown_recipe_key_from_a_flag_is_refused_with_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args(["--model", "model4", "--set", "augment_fad=[7, 10]"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --set: 'augment_fad=[7, 10]': give KEY=VALUE with a recipe key; valid keys: epochs" in err


def test_recipe_flags_reach_the_recipe(tiny_mnist, tmp_path, capsys):
    code = train.main(["--model", "model4", "--set", "augment_fade=[1, 2]", "--set", "ema=null", "--lr", "0.05",
                       "--data-dir", str(tiny_mnist), "--out", str(tmp_path), "--dry-run", "--device", "cpu",
                       "--no-download"])
    assert code == 0
    saved = torch.load(tmp_path / "model4-seed1-dry" / "checkpoint.pt", weights_only=True)["recipe"]
    assert saved["augment_fade"] == [1, 2] and saved["ema"] is None and saved["lr"] == 0.05
    assert saved["warmup"] == 2 and set(saved) == set(SCHEMA)  # the file's own keys, under the flags


@pytest.mark.parametrize("setting,message", [
    ("lr=O.1", "RECIPE with the flags' lr: lr must be a number of zero or more, not 'O.1'"),
    ("augment_fade=7",
     "RECIPE with the flags' augment_fade: augment_fade must be [first, last] epochs, or null, not 7"),
    ("epochs=0", "RECIPE with the flags' epochs: epochs must be a whole number above zero, not 0"),
])
def test_a_recipe_value_of_the_wrong_kind_is_refused_in_one_line(setting, message, tiny_mnist, capsys):
    code = train.main(["--model", "model4", "--set", setting, "--data-dir", str(tiny_mnist), "--dry-run",
                       "--device", "cpu", "--no-download"])
    err = capsys.readouterr().err
    assert code == 1 and err == f"error: {ROOT / 'model4.py'}: {message}\n"


def test_the_schema_refuses_unknown_keys_and_fills_defaults():
    with pytest.raises(RecipeError, match="unknown key 'anneal_ends'; valid keys: epochs, batch_size"):
        complete({"anneal_ends": 10})
    with pytest.raises(RecipeError, match="unknown schedule 'linear'"):
        complete({"schedule": "linear"})
    assert complete({"lr": 0.2}) == {**{key: default for key, (default, _) in SCHEMA.items()}, "lr": 0.2}


def test_help_shows_each_default_once_and_never_none():
    text = train.build_parser().format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
    for entry in text.split("\n  -")[1:]:
        assert entry.count("default") <= 1, entry


@pytest.mark.parametrize("argv,message", [
    (["--model", "model3", "--seed", "1", "--seeds", "2,3"], "argument --seeds: not allowed with argument --seed"),
    (["--eval", "model.pt", "--epochs", "3"], "--eval only reads saved weights; drop --epochs"),
    (["--eval", "model.pt", "--seeds", "1-3"], "--eval only reads saved weights; drop --seeds"),
    (["--resume", "checkpoint.pt", "--lr", "0.1"], "--resume continues the run as it was saved; drop --lr"),
])
def test_flags_that_would_be_ignored_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_recipe_help_lists_every_key(capsys):
    assert train.main(["--recipe-help"]) == 0
    out = capsys.readouterr().out
    assert all(f"\n{key} " in f"\n{out}" for key in SCHEMA)


def test_the_cpu_type_is_part_of_a_runs_identity():
    where = provenance.provenance(ROOT / "model3.py", torch.device("cpu"))
    assert where["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    info = Path("/proc/cpuinfo")
    if info.is_file():  # the CPU's name, family and model, as the OS tells them (Linux)
        fields = dict(line.split(":", 1) for line in info.read_text().splitlines()[:30] if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        assert where["device_name"] == (f"{fields['model name']}, family {fields['cpu family']}, "
                                        f"model {fields['model']}")
    else:
        assert where["device_name"]
    # The "other" machine is built from this one's own name and instruction set, so that it differs here,
    # whatever CPU runs the test.
    other_capability = f"NOT-{where['cpu_capability']}"
    saved = {"seed": 1, "recipe": {"lr": 0.1}, "provenance": {**where, "cpu_capability": other_capability}}
    why = provenance.saved_run_differs(saved, {"lr": 0.1}, 1, where)
    assert why == f"the CPU's vector instructions changed ({other_capability}, now {where['cpu_capability']})"
    other_model = {**saved, "provenance": {**where, "device_name": f"{where['device_name']}, another stepping"}}
    assert provenance.saved_run_differs(other_model, {"lr": 0.1}, 1, where).startswith("the device changed")
    assert provenance.saved_run_differs({**saved, "provenance": where}, {"lr": 0.1}, 1, where) is None


def test_batchnorm_momentum_from_the_recipe(tiny_mnist):
    import model4
    from data import load_mnist
    training = engine.Training(model4.Net, complete({**model4.RECIPE, "bn_momentum": 0.05}),
                               load_mnist(tiny_mnist, download=False), 1)
    norms = [m for m in training.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(m.momentum == 0.05 for m in norms)
    assert all(m.momentum == 0.05 for m in training.tested.modules() if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.slow
def test_checking_a_net_before_training_changes_nothing_of_the_run(tiny_mnist, monkeypatch):
    """check_net runs a batch through the net off the seeded stream: the run's initial weights, dropout
    masks and numbers are those of a run without the check (model2: dropout draws from torch's RNG)."""
    import model2
    from data import load_mnist
    data, recipe = load_mnist(tiny_mnist, download=False), {**model2.RECIPE, "epochs": 2, "batch_size": 64}
    checked = engine.fit(model2.Net, recipe, data, 3, engine.Options(progress=False))
    monkeypatch.setattr(engine, "check_net", lambda *args, **kwargs: None)
    unchecked = engine.fit(model2.Net, recipe, data, 3, engine.Options(progress=False))
    assert without_seconds(checked.metrics) == without_seconds(unchecked.metrics)
    assert all(torch.equal(a, b) for a, b in zip(checked.saved()["model_state"].values(),
                                                 unchecked.saved()["model_state"].values()))


def test_fit_refuses_a_net_of_raw_scores_before_it_trains(tiny_mnist, capsys):
    from data import load_mnist
    from model4 import RECIPE, Net

    class RawScores(Net):
        def forward(self, x):
            return super().forward(x).exp() * 3  # scores, not log-probabilities

    with pytest.raises(engine.UserError, match="end forward with `return F.log_softmax"):
        engine.fit(RawScores, RECIPE, load_mnist(tiny_mnist, download=False), options=engine.Options(progress=False))
    assert "EPOCH" not in capsys.readouterr().out


@pytest.mark.parametrize("recipe,message", [({"nesterov": True, "momentum": 0.0}, "nesterov needs a momentum"),
                                            ({"nesterov": "yes"}, "nesterov must be true or false"),
                                            ({"elastic": -1}, "elastic must be a number of zero or more")])
def test_the_fourth_pushs_recipe_keys_are_checked(recipe, message):
    with pytest.raises(RecipeError, match=message):
        complete(recipe)


def test_a_comment_or_a_docstring_leaves_the_training_codes_hash_alone(tmp_path, monkeypatch):
    """The hash that decides whether a saved run is today's experiment is taken over the code's tokens: a
    comment or a docstring costs no rerun, while a changed number of the code changes the hash."""
    from trainer import provenance
    code = (ROOT / "trainer" / "recipe.py").read_text()
    edits = {"a comment": code.replace("\nSCHEDULES = ", "\n# a comment\nSCHEDULES = ", 1),
             "a docstring": code.replace('    """Each value of the kind', '    """Checked: each value of the kind', 1),
             "a number": code.replace('"epochs": (15,', '"epochs": (16,', 1)}
    hashes = {}
    for what, text in {"as it is": code, **edits}.items():
        assert what == "as it is" or text != code, what
        (tmp_path / "recipe.py").write_text(text)
        hashes[what] = provenance.code_tokens(tmp_path / "recipe.py")
    assert hashes["a comment"] == hashes["a docstring"] == hashes["as it is"] != hashes["a number"]


def test_a_busy_machine_is_said_before_a_run_trains(monkeypatch):
    """Two threads of another run on two cores: a run of two threads is warned, one of a single thread beside
    another single-threaded run is not (a sweep's --jobs 2 --threads 1)."""
    from trainer import provenance
    monkeypatch.setattr(provenance.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(provenance, "runnable_now", lambda: 2)
    line = provenance.busy_machine(2)
    assert line.startswith("warning: this machine is busy (2 other threads running on 2 cores)") and \
        "--threads 1" in line
    monkeypatch.setattr(provenance, "runnable_now", lambda: 1)
    assert provenance.busy_machine(1) is None
    monkeypatch.setattr(provenance, "runnable_now", lambda: None)
    assert provenance.busy_machine(2) is None


def test_a_run_of_code_a_refactor_check_showed_equal_is_todays_experiment():
    """A record or checkpoint whose training code EQUAL_NUMBERS maps to today's is reused and resumed; any other
    code is not."""
    from trainer import provenance
    where = provenance.provenance(ROOT / "model3.py", torch.device("cpu"))
    before = next(iter(provenance.EQUAL_NUMBERS))  # the earliest code: today's by a chain of checks
    after = provenance.code_sha256()
    saved = {"seed": 1, "recipe": {}, "provenance": {**where, "code_sha256": before}}
    assert provenance.saved_run_differs(saved, {}, 1, {**where, "code_sha256": after}) is None
    assert provenance.saved_run_differs(saved, {}, 1, {**where, "code_sha256": "1" * 64}).startswith(
        "the training code")
    assert provenance.saved_run_differs({**saved, "provenance": {**where, "code_sha256": after}}, {}, 1,
                                        {**where, "code_sha256": before}).startswith("the training code")
