import ast
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
    assert imported == {"torch"}


@pytest.mark.parametrize("name", [b[0] for b in BUDGETS])
def test_model_file_runs_alone(name, tmp_path):
    """Copied into an empty folder, with no other project file importable, as into a notebook.

    -E -s: no PYTHONPATH, no user site; the script's own folder is the only project path."""
    (tmp_path / f"{name}.py").write_text((ROOT / f"{name}.py").read_text())
    (tmp_path / "notebook.py").write_text(
        f"import importlib.util, torch, {name}\n"
        f"assert not any(importlib.util.find_spec(m) for m in ('data', 'train', 'report')), 'project leaked'\n"
        f"out = {name}.Net().eval()(torch.zeros(2, 1, 28, 28))\n"
        f"assert out.shape == (2, 10)\n"
        f"print(sorted({name}.RECIPE))\n")
    result = subprocess.run([sys.executable, "-E", "-s", "notebook.py"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "epochs" in result.stdout
