"""Nets written as spec strings: the trial nets of the search (lab/search.py), and the teachers whose soft
labels a distilled run learns from (load_teacher, which the trainer imports only for a recipe that names one).

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
net's probabilities at test time over the image and its four one-pixel shifts. Every net ends in
global average pooling and a 1x1 conv to the 10 classes (model2/3/4's head).

    from trainer.specnets import SpecNet
    net = SpecNet("deskew:8k,P,10,10,10,11")   # 3,918 parameters: model4's layout, thinner
"""
import math
import re
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from trainer.engine import UserError, load_weights
from trainer.paths import ROOT

LAYER = re.compile(r"(\d+)([pktsdrag]?)|P")
ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}


class Residual(nn.Module):
    """A padded 3x3 conv with an identity shortcut: the activation of x + BatchNorm(conv(x))."""

    def __init__(self, channels: int, activation: Callable[[], nn.Module], affine: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels, affine=affine)
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x + self.norm(self.conv(x)))


class Gate(nn.Module):
    """Squeeze-and-excitation: each channel scaled by a sigmoid of a small net of every channel's mean."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.squeeze, self.excite = nn.Conv2d(channels, hidden, 1), nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.excite(F.relu(self.squeeze(F.adaptive_avg_pool2d(x, 1)))))


class Deskew(nn.Module):
    """Each digit straightened and centred before the convs see it, with no parameters: its intensity
    moments give its centre of mass and its slant (the x-y covariance over the y variance), and one
    affine warp shears it upright and moves its centre to the image's. The classic MNIST preprocessing,
    done on the batch inside the net, so that training, testing and a copied model file all have it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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


def shifted_copies(x: torch.Tensor) -> torch.Tensor:
    """x and its copies shifted by one pixel up, down, left and right (edges padded with the border)."""
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    h, w = x.shape[-2:]
    return torch.cat([padded[..., 1 - dy:1 - dy + h, 1 - dx:1 - dx + w] for dy, dx in SHIFTS])


PREFIX_WORDS = {"bare": "BatchNorm without its scale and shift", "deskew": "each digit straightened first",
                "tta": "test-time shifts"}


def spec_options(spec: str) -> tuple[type[nn.Module], set[str], str]:
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

    def __init__(self, spec: str) -> None:  # noqa: C901 (a branch per kind of layer: the spec's grammar in one place)
        super().__init__()
        layers: list[nn.Module]
        padded: nn.Module | None  # the last padded conv, which a repeat shares
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tta and not self.training:
            n = len(x)
            logp = self.logits(shifted_copies(x)).log_softmax(1).view(len(SHIFTS), n, 10)
            return torch.logsumexp(logp, 0) - math.log(len(SHIFTS))  # the copies' mean probability
        return F.log_softmax(self.logits(x), dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1)).flatten(1)


def load_teacher(path: str | Path, device: torch.device, dtype: torch.dtype = torch.float32) -> SpecNet:
    """A teacher's weights file (plain data: its spec and weights, read with weights_only=True) as a
    frozen net in evaluation mode. A relative path is taken from the project's root, so that a sweep's workers
    find the teachers/ that travel with the code."""
    full = Path(path) if Path(path).is_absolute() else ROOT / path
    try:
        saved = torch.load(full, map_location=device, weights_only=True)
        net = SpecNet(saved["spec"])
    except FileNotFoundError:
        raise UserError(f"the recipe's teacher {path} does not exist") from None
    except Exception as err:  # not a teacher file: unpickling, a missing key, a bad spec
        raise UserError(f"the recipe's teacher {path} is not a teacher's weights file ({type(err).__name__}: "
                        f"{str(err).strip().splitlines()[0] if str(err).strip() else ''})") from None
    load_weights(net, saved["model_state"], f"the teacher's net ({saved['spec']})")
    return net.to(device, dtype).eval().requires_grad_(False)
