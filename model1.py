"""Experiment 1: get the set-up right with a plain CNN.

Target: a working pipeline (loaders, training, testing, logs) and a plain CNN of about
10k parameters: no normalization, no regularization, no augmentation.

Parameters: 9,206.

Result (results/runs/model1-seed1/metrics.json, written into this docstring by report.py): 9,206
parameters. Seed 1: best test accuracy 98.91% (epoch 15), last 5 epochs 98.63 98.66 98.86 98.81
98.91: target missed.

Analysis: the pipeline works, but without normalization the first epoch crawls, and the 6x6
classifier spends 4,330 of the 9,206 parameters on the last layer.

Input: (N, 1, 28, 28) images normalized with MNIST's mean 0.1307 and std 0.3081; output: (N, 10)
log-probabilities. In a notebook inside this repository, `fit(Net, RECIPE, load_mnist("./data"))`
(from trainer.engine and data) trains it with this recipe and prints the verdict (notebook.ipynb).
"""
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    """Conv stack 28 -> 26 -> 24 -> pool 12 -> 1x1 -> 10 -> 8 -> 6, then a 6x6 conv as classifier."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3), nn.ReLU(),     # 26x26, receptive field 3
            nn.Conv2d(8, 16, 3), nn.ReLU(),    # 24x24, rf 5
            nn.MaxPool2d(2),                   # 12x12, rf 6
            nn.Conv2d(16, 8, 1), nn.ReLU(),    # 1x1 transition: fewer channels, cheaper convs
            nn.Conv2d(8, 12, 3), nn.ReLU(),    # 10x10, rf 10
            nn.Conv2d(12, 12, 3), nn.ReLU(),   # 8x8, rf 14
            nn.Conv2d(12, 12, 3), nn.ReLU(),   # 6x6, rf 18
        )
        self.classifier = nn.Conv2d(12, 10, 6)  # a full-size kernel: 4,330 of the 9,206 parameters

    def forward(self, x):
        x = self.classifier(self.features(x))
        return F.log_softmax(x.flatten(1), dim=1)


RECIPE = {"epochs": 15, "batch_size": 128, "lr": 0.01, "momentum": 0.9, "schedule": "constant"}
