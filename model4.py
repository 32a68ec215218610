"""Experiment 4: how few parameters still hold the target on at least 18 of 20 fresh seeds? model3's
layout, its 3x3 convs thinned, with model3's recipe.

Target: at most 8,000 parameters (goal: at most 4,000), at most 15 epochs, at least 99.40% test
accuracy on each of the last 5 epochs, on at least 18 of 20 fresh seeds never used for a choice,
with a hold rate of 85% or more from the fit of their margins.

Parameters: 6,908. The smallest net found whose fresh seeds clear that bar: the thinner 4,820 net
held on most of its fresh seeds, not on 18 of 20, and no net at or under 4,000 has met the goal
(docs/frontier.md).

Result (results/runs/model4-seed1/metrics.json and its fresh seeds' runs beside it, written into
this docstring by report.py): 6,908 parameters. Seed 1: best test accuracy 99.52% (epoch 15), last 5
epochs 99.49 99.50 99.49 99.49 99.52: target met. Fresh seeds 3001-3010, 6101-6120: target met on
28/30 (79-98%); hold rate from the margins 92% (87-98%); lowest of the last 5 epochs 99.464 ± 0.048,
worst seed 6102 at 99.38%. By CPU type: AMD EPYC: 10/10 (72-100%), from the margins 99% (at least
96%); Intel(R) Xeon(R) Processor, family 6, model 167, AVX512: 18/20 (70-97%), from the margins 88%
(80-96%).

Analysis: model3's layout (one 5x5 conv at full size, pooled at once, then four 3x3 convs at 12x12
and below) with 12-14-14-14 channels in the 3x3 convs in place of 14-14-14-16: 748 parameters fewer,
the same recipe (a one-cycle rate annealed to zero, the weights' moving average as the tested net,
rotations and shifts).

Input: (N, 1, 28, 28) images normalized with MNIST's mean 0.1307 and std 0.3081; output: (N, 10)
log-probabilities. In a notebook inside this repository, `fit(Net, RECIPE, load_mnist("./data"))`
(from engine and data) trains it with this recipe and prints the verdict (notebook.ipynb).
"""
import torch.nn as nn
import torch.nn.functional as F


class ConvBlock(nn.Sequential):
    """Conv (no bias: BatchNorm follows), BatchNorm, ReLU."""

    def __init__(self, cin, cout, kernel_size=3):
        super().__init__(nn.Conv2d(cin, cout, kernel_size, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            ConvBlock(1, 12, 5),    # 24x24, rf 5: the only full-size layer
            nn.MaxPool2d(2),        # 12x12, rf 6
            ConvBlock(12, 12),      # 10x10, rf 10
            ConvBlock(12, 14),      # 8x8, rf 14
            ConvBlock(14, 14),      # 6x6, rf 18
            ConvBlock(14, 14),      # 4x4, rf 22
        )
        self.head = nn.Conv2d(14, 10, 1, bias=False)  # after global average pooling

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return F.log_softmax(self.head(x).flatten(1), dim=1)


# model3's recipe. Rate: up to 0.1 over 2 epochs, then half a cosine down to 0 at the end of epoch
# 15 (stepped every batch). ema: the tested and saved net is the weights' moving average, decay
# 0.999 per batch.
RECIPE = {"epochs": 15, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
          "schedule": "cosine", "warmup": 2, "ema": 0.999, "rotate": 7.0, "translate": 0.05}
