"""Experiment 3: augmentation and a learning-rate schedule built for the last-5-epochs target.

Target: at most 8,000 parameters, at most 15 epochs, at least 99.40% test accuracy on each
of the last 5 epochs, on every seed checked.

Parameters: 7,516. Result (`python train.py --model model3 --seeds 1,2,3,4,5`, CPU): target
met on 3 of 5 seeds. Lowest of the last 5 epochs: 99.46 (seed 1), 99.35 (2), 99.51 (3),
99.37 (4), 99.44 (5); best epoch 99.54%. Seeds 2 and 4 miss: the plateau is too close to 99.40.

Analysis: model2's net, without dropout, two channels wider in its late layers. Rotation of
+-7 degrees and shifts of up to 10% make the training set harder than the test set (train
accuracy ends below test accuracy), so dropout only took capacity away. With one-cycle,
the last epochs reached 99.44-99.51% but epochs 11-12 still ran at a third of the peak
rate and fell below 99.40; a step schedule that is already at its lowest rate for the
whole last-5 window holds the accuracy there instead.
"""
import torch.nn as nn
import torch.nn.functional as F


class ConvBlock(nn.Sequential):
    """3x3 (or 1x1) conv, BatchNorm, ReLU."""

    def __init__(self, cin, cout, kernel_size=3):
        super().__init__(nn.Conv2d(cin, cout, kernel_size, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            ConvBlock(1, 8),        # 26x26, rf 3
            ConvBlock(8, 12),       # 24x24, rf 5
            nn.MaxPool2d(2),        # 12x12, rf 6
            ConvBlock(12, 8, 1),    # 1x1 transition
            ConvBlock(8, 12),       # 10x10, rf 10
            ConvBlock(12, 14),      # 8x8, rf 14
            ConvBlock(14, 14),      # 6x6, rf 18
            ConvBlock(14, 16),      # 4x4, rf 22
        )
        self.head = nn.Conv2d(16, 10, 1, bias=False)  # after global average pooling

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return F.log_softmax(self.head(x).flatten(1), dim=1)


# Rates 0.1 -> 0.01 after epoch 5 -> 0.001 after epoch 10: the last 5 epochs are a plateau.
RECIPE = {"epochs": 15, "batch_size": 128, "lr": 0.1, "momentum": 0.9,
          "schedule": "multistep", "milestones": [5, 10], "gamma": 0.1,
          "rotate": 7.0, "translate": 0.1}
