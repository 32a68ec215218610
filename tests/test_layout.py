"""The repository's shape: imports run one way (the reports -> the lab -> the trainer -> data.py), the
trainer travels with a model file into an empty folder, and a single run imports only what it uses."""
import ast
import io
import json
import pathlib
import re
import subprocess
import sys
import tokenize

import pytest

from conftest import ROOT, TRAVEL, copy_of_the_travel_files

# What may import what, by layer: a module may import its own layer's modules and those its layer lists.
MAY_IMPORT = {
    "data": set(),
    "trainer": {"data"},
    "train": {"data", "trainer"},  # the CLI: nothing imports it
    "lab": {"data", "trainer"},
    "reports": {"data", "trainer", "lab"},  # the reports render the lab's results, read by the lab's reader
    "tests": {"data", "trainer", "train", "lab", "reports", "conftest"},
}


def layer(module):
    return module.split(".")[0]


def project_imports(path):
    """The project's modules that a file imports, anywhere in it (a lazy import counts too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return {name for name in names if layer(name) in MAY_IMPORT or layer(name) == "conftest"}


def wrong_arrows(files):
    """(file, module) for each import that runs against MAY_IMPORT."""
    wrong = []
    for path in files:
        own = layer(".".join(path.relative_to(ROOT).with_suffix("").parts))
        wrong += [(str(path.relative_to(ROOT)), name) for name in sorted(project_imports(path))
                  if layer(name) != own and layer(name) not in MAY_IMPORT[own]]
    return wrong


def project_files():
    return [ROOT / "data.py", ROOT / "train.py",
            *(path for package in ("trainer", "lab", "reports", "tests") for path in (ROOT / package).glob("*.py"))]


def test_imports_run_one_way():
    assert wrong_arrows(project_files()) == []


def test_an_arrow_the_wrong_way_is_caught(tmp_path, monkeypatch):
    """The check itself: a trainer module that imports the CLI, a lab module that imports the reports."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    for package, text in (("trainer", "import train\n"), ("lab", "def f():\n    from reports import cli\n"),
                          ("reports", "from trainer import engine\n")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "x.py").write_text(text)
    assert wrong_arrows(sorted(tmp_path.glob("*/x.py"))) == [("lab/x.py", "reports"), ("trainer/x.py", "train")]


def test_the_top_level_is_the_experiment():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    top = {line.split("/")[0] for line in tracked.splitlines()}
    modules = sorted(name for name in top if name.endswith(".py"))
    assert modules == ["data.py", "hubconf.py", "model1.py", "model2.py", "model3.py", "model4.py", "train.py"]
    assert {"trainer", "lab", "reports", "tests", "docs", "results", "assets", "teachers"} <= top


def test_each_package_says_what_it_does_and_may_import():
    for package in ("trainer", "lab", "reports"):
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
        assert doc and "Imports:" in doc, package


def code_lines(path):
    """How many lines of a file hold code: blank lines, comments and docstrings left out."""
    from trainer.provenance import docstring_starts
    text = path.read_text()
    docstrings = docstring_starts(text)
    layout = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
              tokenize.ENDMARKER)
    return len({row for token in tokenize.generate_tokens(io.StringIO(text).readline)
                if token.type not in layout and not (token.type == tokenize.STRING and token.start in docstrings)
                for row in range(token.start[0], token.end[0] + 1)})


def test_the_files_that_travel_are_few_and_hold_only_what_trains():
    """At most 5 files and 700 lines of code, and none of the reports' statistics, charts of many seeds or
    trial reuse (the reports and the lab hold those)."""
    assert len(TRAVEL) <= 5
    lines = {name: code_lines(ROOT / name) for name in TRAVEL}
    assert sum(lines.values()) <= 700, lines
    defined = {node.name for name in TRAVEL for node in ast.walk(ast.parse((ROOT / name).read_text()))
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    assert not defined & {"wilson", "fitted_hold_rate", "margin", "seeds_figure", "frontier_figure",
                          "trial_differs", "load_trials"}


def test_the_files_that_travel_are_what_fit_imports():
    """trainer.TRAVEL is both the travel set and the training code every record hashes: a fit (with the
    weight average, the augmentation, but no teacher) imports exactly those of the project's files."""
    script = """import json, sys
from trainer.engine import fit
ours = sorted(module.__file__ for name, module in sys.modules.items()
              if name.split(".")[0] in ("data", "trainer", "train", "lab", "reports"))
print(json.dumps(ours))"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    imported = sorted(str(pathlib.Path(path).relative_to(ROOT)) for path in json.loads(result.stdout))
    assert imported == sorted(TRAVEL), result.stderr


def test_no_function_is_over_60_lines():
    long = [(str(path.relative_to(ROOT)), node.name, node.end_lineno - node.lineno + 1)
            for path in project_files() + sorted(ROOT.glob("model*.py"))
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60
            and not path.name.startswith("test_")]
    assert long == []


def test_the_readme_names_the_files_that_travel():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use it in a notebook")[1].split("\n## ")[0]
    assert all(f"`{name}`" in section for name in TRAVEL), section


@pytest.mark.slow
def test_the_trainer_travels_with_a_model_file_into_an_empty_folder(tmp_path, tiny_mnist):
    """Exactly the travel files and model3.py, copied into an empty folder: fit trains the model's Net by
    its own RECIPE there (a dry run), every module of the project imported from that folder."""
    copy_of_the_travel_files(tmp_path, "model3.py")
    script = f"""import json, sys
from data import load_mnist
from model3 import Net, RECIPE
from trainer.engine import Options, fit
run = fit(Net, RECIPE, load_mnist({str(tiny_mnist)!r}, download=False), seed=1,
          options=Options(progress=False, dry_run=True))
ours = {{name: module.__file__ for name, module in sys.modules.items()
        if name.split(".")[0] in ("data", "model3", "trainer", "train", "lab", "reports")}}
print(json.dumps({{"epochs": len(run.metrics), "modules": ours}}))"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["epochs"] == 1
    assert seen["modules"] and all(path.startswith(str(tmp_path)) for path in seen["modules"].values()), seen


BLOCK_RAY = """import importlib.abc, sys
class NoRay(importlib.abc.MetaPathFinder):  # as if Ray were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ray":
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NoRay())
"""


@pytest.mark.slow
@pytest.mark.parametrize("flags, status", [((), 0), (("--seeds", "1,2", "--jobs", "2"), 1)])
def test_a_single_run_needs_neither_ray_nor_the_documents(flags, status, tiny_mnist, tmp_path):
    """A dry run of model3 where Ray cannot be imported: it trains, and imports neither Ray, the lab nor the
    document generator; a sweep on Ray (--jobs) says in one line how to install it."""
    script = BLOCK_RAY + f"""import json, train
code = train.main(["--model", "model3", "--data-dir", {str(tiny_mnist)!r}, "--no-download", "--dry-run",
                   "--out", {str(tmp_path / 'runs')!r}, *{list(flags)!r}])
print(json.dumps({{"code": code, "imported": sorted({{name.split(".")[0] for name in sys.modules}}
                                                  & {{"ray", "lab", "reports"}})}}))"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"code": status, "imported": []}, result.stderr
    if status:
        assert result.stderr.count("\n") == 1 and "pip install -e '.[sweeps]'" in result.stderr, result.stderr


def test_every_command_in_the_readme_and_the_docs_names_a_file_or_module_that_exists():
    """`python X.py` and `python -m package.module` in README.md and docs/*.md name what exists today, or carry
    `(at <commit>)` on their line, and exist at that commit (docs/history.md quotes commands as they ran)."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            files = re.findall(r"python ([\w/]+\.py)\b", line)
            modules = set(re.findall(r"python -m ([\w.]+)", line)) - {"pytest", "venv", "pip"}
            files += [f"{module.replace('.', '/')}.py" for module in modules
                      if not (ROOT / module.replace(".", "/") / "__main__.py").is_file()]
            commit = re.search(r"\(at ([0-9a-f]{7,40})\)", line)
            for name in files:
                if commit:
                    shown = subprocess.run(["git", "cat-file", "-e", f"{commit[1]}:{name}"], cwd=ROOT)
                    assert shown.returncode == 0, f"{where}: {name} at {commit[1]}"
                else:
                    assert (ROOT / name).is_file(), f"{where}: python {name}"


def test_the_readme_is_a_students_front_page():
    """Under 320 lines; above Quick start at most 45, with a results table of at most 6 columns."""
    lines = (ROOT / "README.md").read_text().splitlines()
    first_screen = lines[:lines.index("## Quick start")]
    header = next(line for line in first_screen if line.startswith("| experiment |"))
    assert len(lines) < 320 and len(first_screen) <= 45 and header.count("|") - 1 <= 6


def test_no_prose_line_of_the_readme_is_over_120_characters():
    """Prose, the generated paragraphs included; code blocks, table rows, pictures and HTML lines may run longer."""
    long, in_code = [], False
    for number, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and len(line) > 120 and not line.startswith(("|", "![", "<")):
            long.append(number)
    assert long == []
