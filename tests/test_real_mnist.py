"""On the real data, where ../shared/data holds it: one epoch of model3's recipe learns MNIST."""
import torch

import train
from data import load_mnist


def test_one_epoch_of_model3_reaches_97_percent(real_mnist, tmp_path, capsys):
    data = load_mnist(real_mnist, download=False)
    assert len(data[0][1]) == 60_000 and len(data[1][1]) == 10_000
    from torchvision import datasets
    for training, (images, labels) in zip((True, False), data):  # the same tensors as torchvision's
        theirs = datasets.MNIST(real_mnist, train=training, download=False)
        assert torch.equal(images, theirs.data) and torch.equal(labels, theirs.targets)
    # Without the weight average: after one epoch it is still mostly the initial weights.
    recipe = {**train.load_model_module("model3").RECIPE, "epochs": 1, "ema": None}
    record = train.train_run("model3", recipe, 1, data, torch.device("cpu"), tmp_path / "run")
    epoch = record["epochs"][0]
    assert epoch["test_total"] == 10_000
    assert epoch["test_accuracy"] >= 97.0, capsys.readouterr().out
