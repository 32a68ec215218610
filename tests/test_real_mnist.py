"""On the real data, where ../shared/data holds it: one epoch of model3's recipe learns MNIST."""
import pytest
import torch

import model3
from data import load_mnist
from trainer.engine import Options, fit

pytestmark = pytest.mark.slow


def test_one_epoch_of_model3_reaches_97_percent(real_mnist, capsys):
    data = load_mnist(real_mnist, download=False)
    assert len(data[0][1]) == 60_000 and len(data[1][1]) == 10_000
    from torchvision import datasets
    for training, (images, labels) in zip((True, False), data):  # the same tensors as torchvision's
        theirs = datasets.MNIST(real_mnist, train=training, download=False)
        assert torch.equal(images, theirs.data) and torch.equal(labels, theirs.targets)
    # Without the weight average: after one epoch it is still mostly the initial weights.
    run = fit(model3.Net, {**model3.RECIPE, "epochs": 1, "ema": None}, data, 1, Options(progress=False))
    epoch = run.metrics[0]
    assert epoch["test_total"] == 10_000
    assert epoch["test_accuracy"] >= 97.0, capsys.readouterr().out
