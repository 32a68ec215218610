import ast
import re
import subprocess
import sys

import pytest
import torch

from conftest import ROOT

# (model, lowest, highest parameter count): model1 is the ~10k plain CNN, the others are judged by the target.
BUDGETS = [("model1", 8_000, 12_000), ("model2", 0, 8_000), ("model3", 0, 8_000), ("model4", 0, 8_000)]


@pytest.mark.parametrize("name,low,high", BUDGETS)
def test_parameter_budget_and_output(name, low, high):
    module = __import__(name)
    model = module.Net().eval()
    params = sum(p.numel() for p in model.parameters())
    assert low < params <= high
    with torch.no_grad():
        out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10)
    assert torch.allclose(out.exp().sum(1), torch.ones(5), atol=1e-5), "output must be log-probabilities"


@pytest.mark.parametrize("name", [b[0] for b in BUDGETS])
def test_model_file_imports_only_torch(name):
    tree = ast.parse((ROOT / f"{name}.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "torch" in imported and imported <= {"torch", "math"}  # Python's own math at most: nothing a notebook lacks


@pytest.mark.slow
@pytest.mark.parametrize("name", [b[0] for b in BUDGETS])
def test_model_file_runs_alone(name, tmp_path):
    """Copied into an empty folder, with no other project file importable, as into a notebook.

    -E -s: no PYTHONPATH, no user site; the script's own folder is the only project path, and the finder
    of an editable install of this project (pip install -e .) is dropped, as in a notebook without it."""
    (tmp_path / f"{name}.py").write_text((ROOT / f"{name}.py").read_text())
    (tmp_path / "notebook.py").write_text(
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '')]\n"
        f"import importlib.util, torch, {name}\n"
        "assert not any(importlib.util.find_spec(m) for m in ('data', 'train', 'trainer', 'lab', 'reports')), "
        "'project leaked'\n"
        f"out = {name}.Net().eval()(torch.zeros(2, 1, 28, 28))\n"
        f"assert out.shape == (2, 10)\n"
        f"print(sorted({name}.RECIPE))\n")
    result = subprocess.run([sys.executable, "-E", "-s", "notebook.py"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "epochs" in result.stdout


@pytest.mark.parametrize("name", [b[0] for b in BUDGETS])
def test_a_model_docstring_states_measured_numbers_only_in_its_generated_result(name):
    """Its Result paragraph is written by report.py from the records it names (and checked against them by
    report.py --check); nowhere else does it state an accuracy or a K/N that could go stale."""
    module = __import__(name)
    paragraphs = module.__doc__.split("\n\n")
    assert sum(p.startswith("Result (results/runs/") for p in paragraphs) == 1
    rest = "\n\n".join(p for p in paragraphs if not p.startswith("Result (")).replace("99.40%", "the target")
    assert not re.search(r"\d+\.\d\d%|\b\d+/\d+\b|\b9\d\.\d\d\b", rest), rest
    stated = re.search(r"^Parameters: ([\d,]+)\.", module.__doc__, re.MULTILINE)[1]
    assert int(stated.replace(",", "")) == sum(p.numel() for p in module.Net().parameters())
