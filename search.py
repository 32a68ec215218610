"""The trials behind the README's choices: named net variants trained over seeds.

A variant is a net written as a spec (layers in order, separated by commas) plus its changes
to BASE_RECIPE. Every run appends one JSON line to the results file (default
results/search.jsonl); a sweep that breaks loses at most the runs in flight, and running the
same command again skips the (variant, seed) pairs already there. `python report.py` turns
the results into the README's trial tables and the frontier picture.

Spec layers: N a 3x3 conv to N channels; Np the same, padded; Nk a 5x5 conv; Nt a 1x1 conv;
Ns a depthwise-separable 3x3 conv (a 3x3 conv per channel, then a 1x1 conv to N); Nd a 3x3 conv
of stride 2, padded (it halves the size, in place of a pool); Nr the padded 3x3 conv before it
again, its weights shared (depth for the price of a BatchNorm; N must be that conv's width, in and
out, and nothing but repeats may stand between them); Na a padded 3x3 conv with an identity shortcut
(its BatchNorm's output added to its input before the activation; N must be the width before it);
Ng a channel gate (squeeze-and-excitation through N hidden units: each channel scaled by a sigmoid
of the channels' means); P a 2x2 max-pool. Each conv is followed by BatchNorm and ReLU, or the
activation a prefix names (`silu:` or `gelu:`, e.g. `silu:8k,P,10,10`); the prefix `bare` (alone or
with others: `bare+gelu:`) makes every BatchNorm plain normalization, without its learned
scale and shift; `deskew` straightens each digit before the first layer (a shear by its intensity
moments, and its centre of mass moved to the image's centre: no parameters); `tta` averages the
net's probabilities at test time over the image and its four one-pixel shifts. Every net ends in global average pooling and a 1x1 conv to the 10 classes
(model2/3/4's head).

Trials on CUDA (each a CUDA-graph step, as train.py's) give other numbers than the CPU's, so they go
to their own results file, results/search-cuda.jsonl.

Usage:
    python search.py --list                                         # variants, parameters, spec
    python search.py --variants m3-base,p7656-onecycle-ema --seeds 1-3 --data-dir PATH
    python search.py --variants p4820-settled-fade-b64 --seeds 1-3 --jobs 2 --threads 1    # two at a time (local Ray)
    python search.py --variants p4820-settled-fade-b64 --seeds 1-20 --jobs 20 --gpus-per-run 0.05 --device cuda
    python search.py --variants p4820-settled-fade-b64 --seeds 1-20 --address auto         # on a running Ray cluster
"""
import argparse
import json
import math
import re
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

import train
from data import DataError, load_mnist, resolve_data_dir
from engine import Options, UserError, count_params, pick_device, set_determinism
from recipe import complete
from records import load_trials
from sweeps import Run, Where, run_all
from verdict import LAST_EPOCHS, min_last

# model3's recipe when the search began: every variant states what it changes.
BASE_RECIPE = {"epochs": 15, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
               "schedule": "multistep", "milestones": [5, 10], "gamma": 0.1, "rotate": 7.0, "translate": 0.05}
STEPS_7_10 = {"milestones": [7, 10]}
ONE_CYCLE = {"schedule": "cosine", "warmup": 2}
ONE_CYCLE_EMA = {**ONE_CYCLE, "ema": 0.999}
ONE_CYCLE_EMA_B64 = {**ONE_CYCLE_EMA, "batch_size": 64}
# The anneal ends with epoch 10 and a small rate trains through the window of the last 5 epochs.
SETTLED_B64 = {**ONE_CYCLE_EMA_B64, "anneal_end": 10, "floor": 0.02}
SETTLED_FADE_B64 = {**SETTLED_B64, "augment_fade": [7, 10]}  # and the window trains on unaugmented images
TONE = {"brightness": 0.1, "contrast": 0.1}
# The public 3,762-parameter net's recipe: plain SGD, a rate up to its peak at epoch 2 and down to 0 at
# epoch 15 through 10% at epoch 8, batch 32, shifts, zoom and rotations with brightness and contrast.
PUBLIC = {"momentum": 0.0, "weight_decay": 0.0, "schedule": "piecewise", "batch_size": 32, "lr": 0.1,
          "points": [[0, 0.5], [2, 1.0], [8, 0.1], [15, 0.0]], "scale": 0.05, **TONE}

# name -> (question it answers, spec, recipe changes). "margin": model3's net and recipe;
# "frontier": how few parameters still hold the target (model4).
VARIANTS = {
    "m3-base": ("margin", "8,12,P,8t,10,12,12,14", {}),  # model3 before the search; bench.py times it
    "p7656-steps": ("margin", "12k,P,14,14,14,16", STEPS_7_10),
    "p7656-onecycle": ("margin", "12k,P,14,14,14,16", ONE_CYCLE),
    "p7656-steps-ema": ("margin", "12k,P,14,14,14,16", {**STEPS_7_10, "ema": 0.999}),
    "p7656-onecycle-ema": ("margin", "12k,P,14,14,14,16", ONE_CYCLE_EMA),
    "p7656-steps-ls": ("margin", "12k,P,14,14,14,16", {**STEPS_7_10, "label_smoothing": 0.1}),
    "p4020-steps": ("frontier", "8k,P,10,10,10,12", STEPS_7_10),
    "p3364-steps": ("frontier", "8k,P,8,8,10,12", STEPS_7_10),
    "p5964-onecycle-ema": ("frontier", "12k,P,12,12,12,14", ONE_CYCLE_EMA),
    "p5964-onecycle-ema-b64": ("frontier", "12k,P,12,12,12,14", ONE_CYCLE_EMA_B64),
    "p6436-onecycle-ema-b64": ("frontier", "12k,P,12,12,14,14", ONE_CYCLE_EMA_B64),
    "p6712-onecycle-ema": ("frontier", "12k,P,12,12,14,16", ONE_CYCLE_EMA),
    "p6908-onecycle-ema": ("frontier", "12k,P,12,14,14,14", ONE_CYCLE_EMA),
    "p5932-onecycle-ema": ("frontier", "8,12,P,8t,10,12,12,14", ONE_CYCLE_EMA),
    "p4632-onecycle-ema": ("frontier", "8,10,P,6t,8,10,12,12", ONE_CYCLE_EMA),
    "p3918-onecycle-ema": ("frontier", "8k,P,10,10,10,11", ONE_CYCLE_EMA),
    "p3650-onecycle-ema": ("frontier", "6p,P,10,12,P,16", ONE_CYCLE_EMA),
    "p3918-onecycle-ema-wd1e4": ("frontier", "8k,P,10,10,10,11", {**ONE_CYCLE_EMA, "weight_decay": 1e-4}),
    "s3912-onecycle-ema": ("frontier", "16k,P,24s,24s,24s,28s", ONE_CYCLE_EMA),
    "p3918-onecycle-ema-b64": ("frontier", "8k,P,10,10,10,11", ONE_CYCLE_EMA_B64),
    "p3918-onecycle-ema-wd1e3": ("frontier", "8k,P,10,10,10,11", {**ONE_CYCLE_EMA, "weight_decay": 1e-3}),
    "p3918-onecycle-ema-b32": ("frontier", "8k,P,10,10,10,11", {**ONE_CYCLE_EMA, "batch_size": 32}),
    "p3918-onecycle-ema-b64-lr005": ("frontier", "8k,P,10,10,10,11", {**ONE_CYCLE_EMA_B64, "lr": 0.05}),
    "p3918-steps-ema-b64": ("frontier", "8k,P,10,10,10,11", {**STEPS_7_10, "ema": 0.999, "batch_size": 64}),
    "p3992-onecycle-ema-b64": ("frontier", "8k,P,9,10,10,10,20t", ONE_CYCLE_EMA_B64),
    "p4420-onecycle-ema-b64": ("frontier", "8k,P,10,10,12,12", ONE_CYCLE_EMA_B64),
    "p4820-onecycle-ema-b64": ("frontier", "8k,P,10,12,12,12", ONE_CYCLE_EMA_B64),
    "p3364-onecycle-ema-b64": ("frontier", "8k,P,8,8,10,12", ONE_CYCLE_EMA_B64),
    "p3918-settled-b64": ("frontier", "8k,P,10,10,10,11", SETTLED_B64),
    "p3918-settled-fade-b64": ("frontier", "8k,P,10,10,10,11", SETTLED_FADE_B64),
    "p3918-settled11-b64": ("frontier", "8k,P,10,10,10,11", {**SETTLED_B64, "anneal_end": 11, "floor": 0.05}),
    "p3918-silu-settled-b64": ("frontier", "silu:8k,P,10,10,10,11", SETTLED_B64),
    "p4050-settled-b64": ("frontier", "10k,P,10,10,10,10", SETTLED_B64),
    "p3424-settled-b64": ("frontier", "8k,P,8p,8,8,8,10", SETTLED_B64),
    "p2832-settled-b64": ("frontier", "8k,P,8,8,8,10", SETTLED_B64),
    "p2832-settled-fade-b64": ("frontier", "8k,P,8,8,8,10", SETTLED_FADE_B64),
    "p3030-settled-b64": ("frontier", "10k,P,8,8,8,10", SETTLED_B64),
    "p4820-settled-b64": ("frontier", "8k,P,10,12,12,12", SETTLED_B64),
    "p4820-settled-fade-b64": ("frontier", "8k,P,10,12,12,12", SETTLED_FADE_B64),
    "p3918-strided-settled-fade-b64": ("frontier", "8k,10d,10,10,11", SETTLED_FADE_B64),
    "p3918-gelu-settled-fade-b64": ("frontier", "gelu:8k,P,10,10,10,11", SETTLED_FADE_B64),
    # Depth at 12x12: padded 3x3 convs before the unpadded ones, at about 3,000, 3,500 and 4,000.
    "p3157-settled-fade-b64": ("frontier", "7k,P,8p,8,8,8,8", SETTLED_FADE_B64),
    "p3424-settled-fade-b64": ("frontier", "8k,P,8p,8,8,8,10", SETTLED_FADE_B64),
    "p3932-settled-fade-b64": ("frontier", "8k,P,8p,8p,8,8,8,9", SETTLED_FADE_B64),
    "p3918-settled-fade-b32": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "batch_size": 32}),
    "p3918-settled-fade-b64-ls": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "label_smoothing": 0.1}),
    # Third push, levers on the best net near 4,000 so far (p3932) and near 3,500 (p3424): BatchNorm momentum,
    # brightness and contrast, batch 32; and the public 3,762 net's full-resolution shape with its own recipe.
    "p3932-settled-fade-b64-bn05": ("frontier", "8k,P,8p,8p,8,8,8,9", {**SETTLED_FADE_B64, "bn_momentum": 0.05}),
    "p3932-settled-fade-b64-tone": ("frontier", "8k,P,8p,8p,8,8,8,9", {**SETTLED_FADE_B64, **TONE}),
    "p3932-settled-fade-b32": ("frontier", "8k,P,8p,8p,8,8,8,9", {**SETTLED_FADE_B64, "batch_size": 32}),
    "p3424-settled-fade-b32": ("frontier", "8k,P,8p,8,8,8,10", {**SETTLED_FADE_B64, "batch_size": 32}),
    "p3424-settled-fade-b64-tone": ("frontier", "8k,P,8p,8,8,8,10", {**SETTLED_FADE_B64, **TONE}),
    "p3030-settled-fade-b64": ("frontier", "10k,P,8,8,8,10", SETTLED_FADE_B64),
    "p3692-public": ("frontier", "4p,4p,4p,P,8p,8p,8p,P,8p,8p,8p", PUBLIC),
    # Weight tying: the two finalists above with their first padded conv twice more, its weights shared
    # (depth at 12x12 for 16 parameters a layer).
    "p3456-tied-settled-fade-b64": ("frontier", "8k,P,8p,8r,8r,8,8,8,10", SETTLED_FADE_B64),
    "p3964-tied-settled-fade-b64": ("frontier", "8k,P,8p,8p,8r,8r,8,8,8,9", SETTLED_FADE_B64),
    # Fourth push, at about 4,000: the recipe's levers on the 3,918 net (weight decay, the weight average's decay,
    # the peak rate, Nesterov, elastic distortion), identity shortcuts at 12x12, a channel gate, BatchNorm without
    # its scale and shift (the parameters spent on width), and the 5x5 conv's width.
    "p3918-settled-fade-b64-wd1e4": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "weight_decay": 1e-4}),
    "p3918-settled-fade-b64-wd2e4": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "weight_decay": 2e-4}),
    "p3918-settled-fade-b64-ema998": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "ema": 0.998}),
    "p3918-settled-fade-b64-ema9995": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "ema": 0.9995}),
    "p3918-settled-fade-b64-lr005": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "lr": 0.05}),
    "p3918-settled-fade-b64-lr02": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "lr": 0.2}),
    "p3918-settled-fade-b64-nesterov": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "nesterov": True}),
    "p3918-settled-fade-b64-elastic": ("frontier", "8k,P,10,10,10,11", {**SETTLED_FADE_B64, "elastic": 2.0}),
    "p3932-res-settled-fade-b64": ("frontier", "8k,P,8a,8a,8,8,8,9", SETTLED_FADE_B64),
    "p3975-gate-settled-fade-b64": ("frontier", "8k,P,10,10,10,11,2g", SETTLED_FADE_B64),
    "p3920-bare-settled-fade-b64": ("frontier", "bare:8k,P,10,10,10,12", SETTLED_FADE_B64),
    "p3875-k6-settled-fade-b64": ("frontier", "6k,P,10,10,11,11", SETTLED_FADE_B64),
    "p3948-k10-settled-fade-b64": ("frontier", "10k,P,10,10,10,9", SETTLED_FADE_B64),
    # Fifth push, levers of a new kind on the 3,918 net: a digit straightened before the convs, and its
    # probabilities averaged over one-pixel shifts at test time.
    "p3918-deskew-settled-fade-b64": ("frontier", "deskew:8k,P,10,10,10,11", SETTLED_FADE_B64),
    "p3918-tta-settled-fade-b64": ("frontier", "tta:8k,P,10,10,10,11", SETTLED_FADE_B64),
    # The reference write-up's net (6,136 parameters), with model3's recipe: does it hold under this protocol?
    "ref6136-onecycle-ema": ("frontier", "8,16,P,8t,8,12,12,16", ONE_CYCLE_EMA),
}

LAYER = re.compile(r"(\d+)([pktsdrag]?)|P")
ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}


class Residual(nn.Module):
    """A padded 3x3 conv with an identity shortcut: the activation of x + BatchNorm(conv(x))."""

    def __init__(self, channels, activation, affine):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels, affine=affine)
        self.activation = activation()

    def forward(self, x):
        return self.activation(x + self.norm(self.conv(x)))


class Gate(nn.Module):
    """Squeeze-and-excitation: each channel scaled by a sigmoid of a small net of every channel's mean."""

    def __init__(self, channels, hidden):
        super().__init__()
        self.squeeze, self.excite = nn.Conv2d(channels, hidden, 1), nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.excite(F.relu(self.squeeze(F.adaptive_avg_pool2d(x, 1)))))


class Deskew(nn.Module):
    """Each digit straightened and centred before the convs see it, with no parameters: its intensity
    moments give its centre of mass and its slant (the x-y covariance over the y variance), and one
    affine warp shears it upright and moves its centre to the image's. The classic MNIST preprocessing,
    done on the batch inside the net, so that training, testing and a copied model file all have it."""

    def forward(self, x):
        n, _, h, w = x.shape
        ink = (x - x.amin(dim=(2, 3), keepdim=True))[:, 0]  # the background is the image's lowest value
        mass = ink.sum((1, 2)).clamp_min(1e-6)
        # pixel centres in affine_grid's coordinates (align_corners=False): -1 to 1 across the image
        ys = (torch.arange(h, device=x.device, dtype=x.dtype) * 2 + 1) / h - 1
        xs = (torch.arange(w, device=x.device, dtype=x.dtype) * 2 + 1) / w - 1
        cy = (ink.sum(2) * ys).sum(1) / mass
        cx = (ink.sum(1) * xs).sum(1) / mass
        dy, dx = ys.view(1, h, 1) - cy.view(n, 1, 1), xs.view(1, 1, w) - cx.view(n, 1, 1)
        slant = (ink * dx * dy).sum((1, 2)) / (ink * dy * dy).sum((1, 2)).clamp_min(1e-6)
        # an output pixel (u, v) reads the input at (u + slant * v + cx, v + cy)
        one, zero = torch.ones_like(cx), torch.zeros_like(cx)
        theta = torch.stack([torch.stack([one, slant, cx], 1), torch.stack([zero, one, cy], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


# Test-time shifts: the net's probabilities averaged over the image and its copies moved by a pixel
# each way (an evaluation-only ensemble of the same weights; training sees one copy).
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def shifted_copies(x):
    """x and its copies shifted by one pixel up, down, left and right (edges padded with the border)."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    h, w = x.shape[-2:]
    return torch.cat([padded[..., 1 - dy:1 - dy + h, 1 - dx:1 - dx + w] for dy, dx in SHIFTS])


PREFIX_WORDS = {"bare": "BatchNorm without its scale and shift", "deskew": "each digit straightened first",
                "tta": "test-time shifts"}


def spec_options(spec):
    """(activation class, the prefix's other words, the layers) of a spec: its prefix's words, then its body."""
    prefix, _, body = spec.rpartition(":")
    words = prefix.split("+") if prefix else []
    for word in words:
        if word not in ACTIVATIONS and word not in PREFIX_WORDS:
            raise ValueError(f"unknown prefix {word!r} in spec {spec!r}; valid: {', '.join(ACTIVATIONS)} "
                             f"(activations), " + ", ".join(f"{w} ({what})" for w, what in PREFIX_WORDS.items()))
    activation = next((word for word in words if word in ACTIVATIONS), "relu")
    return ACTIVATIONS[activation], {word for word in words if word in PREFIX_WORDS}, body


class SpecNet(nn.Module):
    """A net built from a spec string, with model3's blocks and head."""

    def __init__(self, spec):
        super().__init__()
        layers, channels, padded = [], 1, None
        activation, words, body = spec_options(spec)
        affine, self.tta = "bare" not in words, "tta" in words
        if "deskew" in words:
            layers.append(Deskew())
        for token in body.split(","):
            match = LAYER.fullmatch(token.strip())
            if not match:
                raise ValueError(f"bad layer {token!r} in spec {spec!r}")
            if token.strip() == "P":
                layers.append(nn.MaxPool2d(2))
                padded = None  # a repeat stays at the scale of the conv it repeats
                continue
            width, kind = int(match[1]), match[2]
            if kind == "g":
                layers.append(Gate(channels, width))
                continue
            if kind == "a":
                if width != channels:
                    raise ValueError(f"{token.strip()!r} in spec {spec!r}: a shortcut keeps the width ({channels})")
                layers.append(Residual(width, activation, affine))
                padded = None
                continue
            if kind == "s":
                layers += [nn.Conv2d(channels, channels, 3, groups=channels, bias=False),
                           nn.Conv2d(channels, width, 1, bias=False)]
                padded = None
            elif kind == "r":
                if padded is None or padded.in_channels != width or padded.out_channels != width:
                    raise ValueError(f"{token.strip()!r} in spec {spec!r} repeats no padded {width}-to-{width} conv")
                layers.append(padded)  # the same module: one set of weights, counted once
            else:
                kernel, padding, stride = {"": (3, 0, 1), "p": (3, 1, 1), "k": (5, 0, 1), "t": (1, 0, 1),
                                           "d": (3, 1, 2)}[kind]
                layers.append(nn.Conv2d(channels, width, kernel, stride, padding, bias=False))
                padded = layers[-1] if kind == "p" else None
            layers += [nn.BatchNorm2d(width, affine=affine), activation()]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, 10, 1, bias=False)

    def forward(self, x):
        if self.tta and not self.training:
            n = len(x)
            logp = self.logits(shifted_copies(x)).log_softmax(1).view(len(SHIFTS), n, 10)
            return torch.logsumexp(logp, 0) - math.log(len(SHIFTS))  # the copies' mean probability
        return F.log_softmax(self.logits(x), dim=1)

    def logits(self, x):
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1)).flatten(1)


def variant_recipe(name):
    """The variant's complete recipe (recipe.SCHEMA's every key)."""
    recipe = {**BASE_RECIPE, **VARIANTS[name][2]}
    if recipe["schedule"] != "multistep":  # the base's steps mean nothing to another schedule
        del recipe["milestones"], recipe["gamma"]
    return complete(recipe, source=f"variant {name}")


def variant_params(name):
    return count_params(SpecNet(VARIANTS[name][1]))


def pending(variants, seeds, results):
    """The (variant, seed) runs not yet in the results file, seed by seed: every variant gets a
    first result early on."""
    done = {(r["variant"], r["seed"]) for r in load_trials(results)}
    return [(name, seed) for seed in seeds for name in variants if (name, seed) not in done]


# What a trial line records of where it ran (records.provenance); the net's spec stands for a model file.
PROVENANCE_KEYS = ("threads", "device", "device_name", "cpu_capability", "torch", "git_commit", "git_dirty",
                   "code_sha256", "node")


def run_trial(name, seed, device="cpu", *, folder, data):
    """Train one variant on one seed in `folder` (in this process or a Ray worker); returns its results line."""
    question, spec, _ = VARIANTS[name]
    recipe = variant_recipe(name)
    began = time.perf_counter()
    set_determinism(torch.device(device))
    experiment = train.Experiment(name, lambda: SpecNet(spec), recipe)
    record = train.train_seed(experiment, seed, data, folder, Options(torch.device(device), progress=False))
    epochs = record["epochs"]
    return {"variant": name, "question": question, "spec": spec, "recipe": recipe, "seed": seed,
            "params": record["params"], **{key: record["provenance"][key] for key in PROVENANCE_KEYS},
            "test_accuracy": [m["test_accuracy"] for m in epochs],
            "best": max(m["test_accuracy"] for m in epochs), "min_last": min_last(epochs),
            "target_met": record["target_met"],
            "seconds_per_epoch": round(statistics.fmean(m["seconds"] for m in epochs), 2),
            "wall_seconds": round(time.perf_counter() - began, 1), "machine": record["machine"]}


def variant_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        given = ", ".join(unknown) if unknown else repr(text)
        raise argparse.ArgumentTypeError(f"unknown variant(s) {given}; valid: {', '.join(VARIANTS)}")
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=variant_list, help="comma-separated variant names (see --list)")
    parser.add_argument("--seeds", type=train.seed_list, default="1-3", help="seeds and ranges: 1-3, 1,4,7-9 "
                        "(default: 1-3, the tuning seeds)")
    train.add_sweep_flags(parser)
    parser.add_argument("--data-dir", help="folder holding MNIST/raw (default: $MNIST_DATA_DIR, else ./data)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the runs train (default: cpu)")
    parser.add_argument("--results", help="JSON lines, one per finished run (default: results/search.jsonl, "
                        "on CUDA results/search-cuda.jsonl)")
    parser.add_argument("--out", help="folder for each run's checkpoints and log (default: runs/search, on CUDA "
                        "runs/search-cuda)")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, (question, spec, changes) in VARIANTS.items():
            print(f"{name:<20} {question:<9} {variant_params(name):>6,}  {spec}  {json.dumps(changes)}")
        return 0
    if not args.variants:
        parser.error("give --variants (or --list)")
    suffix = "-cuda" if args.device == "cuda" else ""
    args.results = args.results or f"results/search{suffix}.jsonl"
    args.out = args.out or f"runs/search{suffix}"
    try:
        pick_device(args.device)
    except UserError as err:
        parser.error(str(err))

    data_dir = resolve_data_dir(args.data_dir)
    try:
        data = load_mnist(data_dir, download=False)  # one clear message before any run starts
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    todo = pending(args.variants, args.seeds, args.results)
    where = Where.from_args(args)
    at_a_time = f"{where.jobs} at a time" if where.jobs else "as many at a time as the cluster takes" \
        if where.address else "one at a time"
    print(f"{len(todo)} runs to do ({len(args.variants) * len(args.seeds) - len(todo)} already in {args.results}), "
          f"{at_a_time}, {where.threads_per_run()} thread(s) each" +
          (f", on the Ray cluster at {where.address}" if where.address else ""))
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    runs = [Run(f"{name} seed {seed}", run_trial, (name, seed, args.device), Path(args.out) / f"{name}-seed{seed}",
                quiet=True) for name, seed in todo]
    try:
        where.check_device(torch.device(args.device))
        failures = run_all(runs, data, where, done=lambda run, row: record(row, args.results))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("The search goes on from there when the same command is run again.")
        return 130
    return 1 if failures else 0


def record(row, results):
    """Append a finished trial to the results file (one line, so a crash loses at most that line) and say it."""
    with open(results, "a") as file:
        file.write(json.dumps(row) + "\n")
    tqdm.write(f"{row['variant']:<20} seed {row['seed']:>4}  {row['params']:>6,} params  "
               f"last 5: {' '.join(f'{a:.2f}' for a in row['test_accuracy'][-LAST_EPOCHS:])}  "
               f"lowest {row['min_last']:.2f}  {row['seconds_per_epoch']:.1f} s/epoch")


if __name__ == "__main__":
    sys.exit(main())
