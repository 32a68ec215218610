"""The committed weights leave through torch.hub: each entry of hubconf.py builds its model file's Net, loads
weights/<model>.pt from the clone with no network, and scores what that run scored (to the image on the CPU
type that recorded it, within one image elsewhere); `train.py --eval` says the same."""
import importlib
import json

import pytest
import torch

import train
from conftest import ROOT, SHARED_MNIST
from trainer.engine import EVAL_BATCH_SIZE, evaluate
from trainer.provenance import cpu_model

pytestmark = pytest.mark.slow
MODELS = ("model1", "model2", "model3", "model4")


def allowed_gap(about):
    """0 images on the CPU type, instruction set and torch that recorded the weights; 1 elsewhere."""
    here = (cpu_model(), torch.backends.cpu.get_cpu_capability(), str(torch.__version__))
    return 0 if here == (about["device_name"], about["cpu_capability"], about["torch"]) else 1


@pytest.mark.parametrize("name", MODELS)
def test_each_entry_loads_its_committed_weights_and_scores_their_run(name, real_mnist):
    from data import TensorLoader, load_mnist
    about = json.loads((ROOT / "weights" / f"{name}.json").read_text())
    net = torch.hub.load(str(ROOT), name, source="local", pretrained=True)
    assert not net.training and sum(p.numel() for p in net.parameters()) == about["params"]
    _, (test_x, test_y) = load_mnist(SHARED_MNIST, download=False)
    correct = evaluate(net, TensorLoader(test_x, test_y, EVAL_BATCH_SIZE))["test_correct"]
    assert abs(correct - about["test_correct"]) <= allowed_gap(about), (correct, about["test_correct"])
    hubconf = importlib.import_module("hubconf")  # what torch.hub.help shows is the entry's docstring
    assert f"{about['params']:,} parameters" in getattr(hubconf, name).__doc__


def test_eval_of_the_committed_weights_prints_their_runs_last_epoch(real_mnist, capsys):
    about = json.loads((ROOT / "weights" / "model4.json").read_text())
    assert train.main(["--eval", str(ROOT / "weights" / "model4.pt"), "--data-dir", str(SHARED_MNIST),
                       "--no-download", "--device", "cpu"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    correct = int(line.split("Accuracy: ")[1].split("/")[0])
    assert abs(correct - about["test_correct"]) <= allowed_gap(about), line
