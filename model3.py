"""Experiment 3: pool early, average the weights, anneal to zero: the target with margin.

Target: at most 8,000 parameters, at most 15 epochs, at least 99.40% test accuracy on each of the
last 5 epochs, on every seed, with margin: checked on fresh seeds never used for a choice
(docs/history.md fixes each sweep's before it ran).

Parameters: 7,656.

Result (results/runs/model3-seed1/metrics.json and its fresh seeds' runs beside it;
results/plain-loop.jsonl, written into this docstring by report.py): 7,656 parameters. Seed 1: best
test accuracy 99.51% (epoch 13), last 5 epochs 99.45 99.48 99.51 99.51 99.51: target met. Fresh
seeds 1001-1010, 1201-1210: target met on 19/20 (76-99%); hold rate from the margins 98% (at least
92%); lowest of the last 5 epochs 99.481 ± 0.043, worst seed 1202 at 99.39%. By CPU type: AMD EPYC:
10/10 (72-100%), from the margins >99.9% (at least 99.8%); AMD EPYC, family 25, model 1, AVX2: 9/10
(60-98%), from the margins 93% (at least 82%). The file alone, trained by the write-up's plain loop
(plain_loop.py: SGD 0.01, the rate cut tenfold every 6 epochs, rotations only, no weight average),
on fresh seeds 1101-1110: target met on 2/10 (6-51%); lowest of the last 5 epochs 99.335 ± 0.070,
worst seed 1102 at 99.22%.

Analysis: one 5x5 conv looks at the full-size image and is pooled at once, so the 3x3 convs that
follow run at 12x12 and below, where parameters are cheap in time. A one-cycle schedule (warm up for
2 epochs, then half a cosine down to zero) ends the run at its best weights but still moves them in
epochs 11-12; the net that is tested and saved is an exponential average of the weights (decay 0.999
per batch, about 2 epochs of memory), which smooths those epochs into a plateau.

Input: (N, 1, 28, 28) images normalized with MNIST's mean 0.1307 and std 0.3081; output: (N, 10)
log-probabilities. In a notebook inside this repository, `fit(Net, RECIPE, load_mnist("./data"))`
(from trainer.engine and data) trains it with this recipe and prints the verdict (notebook.ipynb).
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
            ConvBlock(12, 14),      # 10x10, rf 10
            ConvBlock(14, 14),      # 8x8, rf 14
            ConvBlock(14, 14),      # 6x6, rf 18
            ConvBlock(14, 16),      # 4x4, rf 22
        )
        self.head = nn.Conv2d(16, 10, 1, bias=False)  # after global average pooling

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return F.log_softmax(self.head(x).flatten(1), dim=1)


# Rate: up to 0.1 over 2 epochs, then half a cosine down to 0 at the end of epoch 15 (stepped every
# batch). ema: the tested and saved net is the weights' moving average, decay 0.999 per batch.
RECIPE = {"epochs": 15, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
          "schedule": "cosine", "warmup": 2, "ema": 0.999, "rotate": 7.0, "translate": 0.05}
