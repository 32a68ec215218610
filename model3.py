"""Experiment 3: the same net as model2, trained for the last-5-epochs target.

Target: at most 8,000 parameters, at most 15 epochs, at least 99.40% test accuracy on each
of the last 5 epochs, on every seed checked.

Parameters: 5,932. Result (`python train.py --model model3 --seeds 1,2,3,4,5`, CPU): target
met on 5 of 5 seeds; lowest of the last 5 epochs 99.48, 99.49, 99.46, 99.45, 99.43% for seeds
1-5; best epoch 99.55%.

Analysis: model2's layers without dropout; what changed is how it is trained. Rotation of
up to 7 degrees and shifts of up to 5% make training harder than testing (train accuracy
ends below test accuracy), so dropout only took capacity away. A 10% shift was too much
for a net this small. Under one-cycle the final epochs were fine but epochs 11-12 still ran
at a third of the peak rate and dipped below 99.40%; a step schedule that reaches its
lowest rate before the last 5 epochs makes them a plateau.
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
            ConvBlock(8, 10),       # 10x10, rf 10
            ConvBlock(10, 12),      # 8x8, rf 14
            ConvBlock(12, 12),      # 6x6, rf 18
            ConvBlock(12, 14),      # 4x4, rf 22
        )
        self.head = nn.Conv2d(14, 10, 1, bias=False)  # after global average pooling

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return F.log_softmax(self.head(x).flatten(1), dim=1)


# Rates 0.1, then 0.01 after epoch 5, then 0.001 after epoch 10: the last 5 epochs are a plateau.
RECIPE = {"epochs": 15, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
          "schedule": "multistep", "milestones": [5, 10], "gamma": 0.1,
          "rotate": 7.0, "translate": 0.05}
