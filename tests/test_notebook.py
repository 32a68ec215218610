"""notebook.ipynb, executed in a fresh kernel as a student would run it: tiny MNIST, one epoch each."""
import json
import re

import pytest

from conftest import ROOT, TRAVEL, copy_of_the_travel_files

pytestmark = [pytest.mark.slow, pytest.mark.notebook]

nbformat = pytest.importorskip("nbformat", reason="nbformat is a test requirement (requirements-dev.txt)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is a test requirement (requirements-dev.txt)")


def execute(tiny_mnist, replace=None, folder=ROOT):
    """The notebook in `folder` run top to bottom in a new kernel, its parameters cell set for a short run;
    `replace` maps a cell's first line to a new source for that cell."""
    notebook = nbformat.read(folder / "notebook.ipynb", as_version=4)
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = f"DATA_DIR = {str(tiny_mnist)!r}\nDOWNLOAD = False\nEPOCHS = 1\nSEED = 1"
        for first, source in (replace or {}).items():
            if cell.source.startswith(first):
                cell.source = source
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


def outputs(cell):
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    images = [o for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    return text, images


def test_the_notebook_trains_model4_and_a_pasted_net_with_their_recipes(tiny_mnist):
    notebook = execute(tiny_mnist)
    trained = [cell for cell in notebook.cells if cell.cell_type == "code" and "fit(" in cell.source]
    assert len(trained) == 2
    for cell in trained:
        text, images = outputs(cell)
        assert "EPOCH: 1" in text and "Test set: Average loss:" in text
        assert text.count("TARGET MISSED:") == 1, text  # the verdict once (1 epoch is not 5)
        assert len(images) == 1, "the curves, drawn inline"
    assert "model4: 4,820 parameters" in outputs(trained[0])[0]
    times = outputs([cell for cell in notebook.cells if "recorded_time(" in cell.source][0])[0]
    assert "How long a run takes:" in times and "minutes for model4's 15 epochs on " in times, times
    used = outputs([cell for cell in notebook.cells if cell.source.startswith("net = model4.Net()")][0])[0]
    assert used.startswith("predicted: [") and "true:      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" in used, used


def test_beside_the_trainers_files_alone_the_notebook_trains_model4(tiny_mnist, tmp_path):
    """The notebook, model4.py and the files the README says to copy, alone in a folder: no clone, no
    records (the time of a committed run is pointed to, not read)."""
    folder = copy_of_the_travel_files(tmp_path, "model4.py", "notebook.ipynb")
    notebook = execute(tiny_mnist, folder=folder)
    assert outputs(notebook.cells[1])[0].strip() == f"working in {folder}"
    trained = next(cell for cell in notebook.cells if cell.source.startswith("import model4"))
    assert "model4: 4,820 parameters" in outputs(trained)[0] and len(outputs(trained)[1]) == 1
    assert (folder / "runs" / "notebook" / "model4.pt").is_file() and not (folder / "train.py").exists()


def test_a_students_own_net_and_recipe_train_in_the_notebook(tiny_mnist):
    own = """class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 10, 28)

    def forward(self, x):
        return F.log_softmax(self.conv(x).flatten(1), dim=1)


MY_RECIPE = {"lr": 0.05, "schedule": "piecewise", "points": [[0, 1.0], [1, 0.0]], "brightness": 0.1}
mine = fit(Net, shortened(MY_RECIPE), data, seed=SEED, options=Options(device=device))
print(mine.metrics[-1]["test_total"], mine.params)"""
    notebook = execute(tiny_mnist, {"class Net(nn.Module):": own})
    text, _ = outputs([cell for cell in notebook.cells if cell.source.startswith("class Net")][0])
    assert "64 7850" in text and "TARGET MISSED: 7,850 params" in text


def test_outside_the_repository_the_first_cell_clones_it(tmp_path):
    """As on Colab: the notebook alone in an empty folder, REPOSITORY set, its first cell clones the code."""
    notebook = nbformat.read(ROOT / "notebook.ipynb", as_version=4)
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    first.source = first.source.replace('REPOSITORY = ""', f"REPOSITORY = {str(ROOT)!r}")
    probe = nbformat.v4.new_code_cell("import train; print(train.__file__)")
    notebook.cells = [first, probe]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    clone = tmp_path / ROOT.name
    assert (clone / "train.py").is_file()
    assert str(clone / "train.py") in outputs(probe)[0].splitlines()


def test_the_notebooks_first_cell_names_the_files_that_travel():
    """The files named there are trainer.TRAVEL, no more and no fewer."""
    first = "".join(json.loads((ROOT / "notebook.ipynb").read_text())["cells"][0]["source"])
    named = set(re.findall(r"`((?:trainer/)?\w+\.py)`", first))
    assert named == set(TRAVEL), named
