"""torch.hub entry points: model1 to model4, each with the committed weights of its default run (seed 1).

    import torch
    net = torch.hub.load("path/to/a/clone", "model4", source="local", pretrained=True)  # no network
    print(torch.hub.help("<owner>/<repo>", "model4"))  # from GitHub: its size, passes and score

From GitHub, torch.hub.load("<owner>/<repo>", "model4", pretrained=True) asks first whether to trust the
repository's code (trust_repo=True answers yes). An entry builds the model file's Net (kwargs go to it; today's
nets take none); pretrained=True loads weights/<model>.pt, plain data read with weights_only=True, from beside
this file. Inputs: (N, 1, 28, 28) images normalized with MNIST's mean 0.1307 and std 0.3081; outputs: (N, 10)
log-probabilities.
"""
import importlib.util
import json
from pathlib import Path

import torch

dependencies = ["torch"]
HERE = Path(__file__).resolve().parent


def _net(name, pretrained, **kwargs):
    spec = importlib.util.spec_from_file_location(f"hub_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.Net(**kwargs)
    if pretrained:
        saved = torch.load(HERE / "weights" / f"{name}.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(saved["model_state"])
    return net.eval()


def _doc(name):
    """What torch.hub.help shows: the net's size and passes, and what its weights scored (weights/<name>.json)."""
    try:
        about = json.loads((HERE / "weights" / f"{name}.json").read_text())
    except OSError:
        return f"{name}: the model file's Net (no committed weights here)."
    passes = "1 forward pass" if about["passes"] == 1 else f"{about['passes']} forward passes (test-time shifts)"
    return (f"{name}: {about['params']:,} parameters, {passes} per test image. pretrained=True: the weights of its "
            f"default run, seed 1 ({about['record']}), epoch {about['epoch']}: {about['test_correct']:,}/10,000 "
            f"test images on {about['device_name']}, {about['cpu_capability']}; {about['verdict']}")


def model1(pretrained=False, **kwargs):
    return _net("model1", pretrained, **kwargs)


def model2(pretrained=False, **kwargs):
    return _net("model2", pretrained, **kwargs)


def model3(pretrained=False, **kwargs):
    return _net("model3", pretrained, **kwargs)


def model4(pretrained=False, **kwargs):
    return _net("model4", pretrained, **kwargs)


for _entry in (model1, model2, model3, model4):
    _entry.__doc__ = _doc(_entry.__name__)
