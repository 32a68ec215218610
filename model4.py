"""Experiment 4: how few parameters still hold the target on at least 18 of 20 fresh seeds? model3's
layout, thinned, with a recipe that settles the rate and fades the augmentation before the window of
the last 5 epochs opens, and test-time shifts.

Target: at most 8,000 parameters (goal: at most 4,000), at most 15 epochs, at least 99.40% test
accuracy on each of the last 5 epochs, on at least 18 of 20 fresh seeds (seeds fixed before their
runs; 6301-6320 also chose this net over the 3,918 one, docs/history.md), with a hold rate of 85% or
more from the fit of their margins.

Parameters: 4,820. The smallest net found whose fresh seeds clear that bar; no net at or under 4,000
has met the goal (docs/frontier.md).

Result (results/runs/model4-seed1/metrics.json and its fresh seeds' runs beside it;
results/plain-loop.jsonl, written into this docstring by report.py): 4,820 parameters, shifted at
test time (5 passes a test image). Seed 1: best test accuracy 99.50% (epoch 14), last 5 epochs 99.43
99.46 99.48 99.50 99.48: target met. Fresh seeds 6301-6320, 6601-6610, 6701-6710: target met on
38/40 (83-99%); hold rate from the margins 97% (92-99.5%); lowest of the last 5 epochs 99.467 ±
0.039, worst seed 6306 at 99.37%. By CPU type: Intel(R) Xeon(R) Processor, family 6, model 167,
AVX512: 19/20 (76-99%), from the margins 97% (88-99.9%); AMD EPYC, family 25, model 17, AVX512:
10/10 (72-100%), from the margins 99.8% (at least 99%); AMD EPYC, family 25, model 1, AVX2: 9/10
(60-98%), from the margins 91% (77-99.5%). The file alone, trained by the write-up's plain loop
(plain_loop.py: SGD 0.01, the rate cut tenfold every 6 epochs, rotations only, no weight average),
on fresh seeds 6201-6210: target met on 0/10 (0-28%); lowest of the last 5 epochs 99.280 ± 0.067,
worst seed 6203 at 99.16%.

Analysis: 8 channels in the 5x5 conv, pooled at once, then 10-12-12-12 in the 3x3 convs at 12x12 and
below (model3: 12, then 14-14-14-16). A thin net is still climbing when a rate that anneals to zero
at epoch 15 reaches the window, so here the anneal ends with epoch 10 and a small rate (2% of the
peak) trains through the window; the rotations and shifts fade out over epochs 7-10, so the window's
epochs train on images like the test set's; batch 64 gives a thin net twice the steps. In evaluation
the net's probabilities are averaged over the image and its four one-pixel shifts: no parameters, five
forward passes a test image, a few test images more on every net tried.

Input: (N, 1, 28, 28) images normalized with MNIST's mean 0.1307 and std 0.3081; output: (N, 10)
log-probabilities. In a notebook inside this repository, `fit(Net, RECIPE, load_mnist("./data"))`
(from trainer.engine and data) trains it with this recipe and prints the verdict (notebook.ipynb).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Test-time shifts: the image and its copies moved by a pixel down, up, right and left.
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def shifted_copies(x):
    """x and its copies shifted by one pixel each way, stacked along the batch (edges padded with the border)."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    h, w = x.shape[-2:]
    return torch.cat([padded[..., 1 - dy:1 - dy + h, 1 - dx:1 - dx + w] for dy, dx in SHIFTS])


class ConvBlock(nn.Sequential):
    """Conv (no bias: BatchNorm follows), BatchNorm, ReLU."""

    def __init__(self, cin, cout, kernel_size=3):
        super().__init__(nn.Conv2d(cin, cout, kernel_size, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            ConvBlock(1, 8, 5),     # 24x24, rf 5: the only full-size layer
            nn.MaxPool2d(2),        # 12x12, rf 6
            ConvBlock(8, 10),       # 10x10, rf 10
            ConvBlock(10, 12),      # 8x8, rf 14
            ConvBlock(12, 12),      # 6x6, rf 18
            ConvBlock(12, 12),      # 4x4, rf 22
        )
        self.head = nn.Conv2d(12, 10, 1, bias=False)  # after global average pooling

    def forward(self, x):
        if self.training:
            return F.log_softmax(self.logits(x), dim=1)
        # Evaluation: the mean of the shifted copies' probabilities, as log-probabilities.
        logp = self.logits(shifted_copies(x)).log_softmax(1).view(len(SHIFTS), len(x), 10)
        return torch.logsumexp(logp, 0) - math.log(len(SHIFTS))

    def logits(self, x):
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1)).flatten(1)


# Rate: up to 0.1 over 2 epochs, half a cosine down to 2% of it by the end of epoch 10, then 2% to the
# end (stepped every batch). Augmentation: full until epoch 7, none from epoch 10 on, linear between.
# ema: the tested and saved net is the weights' moving average, decay 0.999 per batch.
RECIPE = {"epochs": 15, "batch_size": 64, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
          "schedule": "cosine", "warmup": 2, "anneal_end": 10, "floor": 0.02, "ema": 0.999,
          "rotate": 7.0, "translate": 0.05, "augment_fade": [7, 10]}
