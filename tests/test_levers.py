"""The seventh push's levers (docs/history.md): Muon for the conv filters, SAM around the optimizer. Their
defaults change nothing (tests/test_numbers_guard.py); here, what each does and leaves alone."""
import copy

import pytest
import torch
import torch.nn as nn

from conftest import without_seconds
from data import load_mnist
from model4 import Net
from trainer import engine
from trainer.recipe import RecipeError, complete
from trainer.specnets import SpecNet

QUIET = engine.Options(progress=False)


def test_muon_trains_the_filters_between_the_first_conv_and_the_head():
    assert list(engine.muon_filters(Net())) == [f"features.{i}.0.weight" for i in (2, 3, 4, 5)]
    net = SpecNet("tta:8k,P,10,10,10,11")  # the 3,918 net: its 3x3 convs, not the 5x5 conv, not the head
    names = list(engine.muon_filters(net))
    shapes = [tuple(dict(net.named_parameters())[name].shape[2:]) for name in names]
    assert len(names) == 4 and shapes == [(3, 3)] * 4
    optimizer = engine.make_optimizer(Net(), complete({"optimizer": "muon", "lr": 0.1, "muon_lr": 0.3}))
    sgd, muon = optimizer.param_groups
    assert (sgd["muon"], sgd["lr"], len(sgd["params"])) == (False, 0.1, 12)  # what the log's rate is
    assert (muon["muon"], muon["lr"], len(muon["params"])) == (True, 0.3, 4)


@pytest.mark.parametrize("shape", [(12, 10, 3, 3), (10, 12, 1, 1), (8, 1, 5, 5)])
def test_the_update_is_orthogonalized_in_its_shape(shape):
    torch.manual_seed(0)
    update = torch.randn(shape)
    found = engine.orthogonalized(update)
    singular = torch.linalg.svdvals(found.reshape(shape[0], -1))
    # Muon's quintic iteration leaves the singular values between about 0.7 and 1.2, not at exactly 1.
    assert found.shape == update.shape and singular.min() > 0.6 and singular.max() < 1.25
    assert torch.linalg.svdvals(update.reshape(shape[0], -1)).max() > 2  # it did move them


def test_an_unknown_optimizer_is_refused_before_training():
    with pytest.raises(RecipeError, match="unknown optimizer 'adam'; valid: sgd, muon"):
        complete({"optimizer": "adam"})
    with pytest.raises(RecipeError, match="sam_rho must be a number of zero or more"):
        complete({"sam_rho": -0.1})


def batch():
    torch.manual_seed(3)
    return torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))


def test_sams_second_pass_moves_the_gradient_and_leaves_the_weights_and_the_norms_statistics():
    x, y = batch()
    torch.manual_seed(0)
    one = Net().train()
    two = copy.deepcopy(one)
    criterion = engine.TrainingLoss(complete({}))
    engine.forward_backward(one, x, y, criterion)
    engine.forward_backward(two, x, y, criterion)
    engine.sharpness_aware(two, x, y, criterion, rho=0.05)
    assert all(torch.equal(a, b) for a, b in zip(one.state_dict().values(), two.state_dict().values()))
    assert two.features[2][1].num_batches_tracked.item() == 1
    assert not torch.equal(one.features[2][0].weight.grad, two.features[2][0].weight.grad)
    assert all(m.track_running_stats for m in two.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.parametrize("rho,passes", [(0.0, 1), (0.05, 2)])
def test_rho_zero_skips_the_second_pass(tiny_mnist, rho, passes):
    calls = []
    net = Net()
    net.register_forward_pre_hook(lambda module, args: calls.append(module.training))
    recipe = complete({"epochs": 1, "batch_size": 64, "sam_rho": rho})
    training = engine.Training(net, recipe, load_mnist(tiny_mnist, download=False), 1, QUIET)
    training.train_epoch(1)
    assert calls.count(True) == passes * len(training.train_loader)


def test_a_run_with_muon_and_sam_resumes_to_the_same_numbers(tiny_mnist):
    data = load_mnist(tiny_mnist, download=False)
    recipe = complete({"epochs": 2, "batch_size": 64, "lr": 0.1, "schedule": "cosine", "optimizer": "muon",
                       "sam_rho": 0.05, "ema": 0.9})
    whole = engine.Training(Net, recipe, data, 5, QUIET).run()
    saved = []
    first = engine.Training(Net, {**recipe, "epochs": 2}, data, 5, QUIET)
    first.epochs = 1
    first.run(after_epoch=lambda training: saved.append(copy.deepcopy(training.saved(state=True))))
    resumed = engine.Training(Net, recipe, data, 5, QUIET).run(resume=saved[-1])
    assert without_seconds(resumed.metrics) == without_seconds(whole.metrics)
    assert saved[-1]["optimizer"]["param_groups"][1]["muon"] is True


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_on_cuda_sam_trains_eagerly_and_says_so(tiny_mnist, capsys):
    recipe = complete({"epochs": 1, "batch_size": 64, "sam_rho": 0.05})
    options = engine.Options(device=torch.device("cuda"), progress=False)
    training = engine.Training(Net, recipe, load_mnist(tiny_mnist, download=False), 1, options)
    assert training.step is None and "runs eagerly" in capsys.readouterr().out
    assert engine.Training(Net, complete({"epochs": 1}), load_mnist(tiny_mnist, download=False), 1,
                           options).step is not None  # without SAM, the captured step
