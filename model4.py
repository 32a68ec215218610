"""Experiment 4: how few parameters still hold the target? model3's layout, thinned.

Target: at most 8,000 parameters (goal: at most 4,000), at most 15 epochs, at least 99.40% test
accuracy on each of the last 5 epochs, on at least 9 of 10 fresh seeds never used for a choice.

Parameters: 6,908. Result (`python train.py --model model4 --seeds 3001-3010`, CPU, 2 threads): target
met on 10/10 fresh seeds; lowest of the last 5 epochs 99.478% +- 0.038 over the seeds, worst seed
3001 at 99.43%; tuning seeds 1-3 (search.py trial p6908-onecycle-ema, 1 thread): 99.47, 99.46, 99.44.
Goal of at most 4,000 parameters missed: nothing that small held on the tuning seeds.

Analysis: model3 with 12 channels in the first conv after the pool and 14 in the last, where model3
has 14 and 16 (748 parameters fewer): model3's level on fresh seeds, with a wider spread (std 0.038
against 0.024). Thinner still, the rule is lost on some seeds: at 5,964 parameters (12 channels in
every 3x3 conv but the last) the net met it on 3 of the first 5 fresh seeds (2001-2005).
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
