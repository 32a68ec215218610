"""MNIST held as one tensor on the training device, cut into batches from a randperm.

The IDX files are checked and read here (torchvision only downloads them, when they are missing,
and its import costs seconds); after that no PIL, no worker processes:
each batch is an index into the uint8 tensor, and augmentation (random rotation,
translation and scale, drawn per image) is applied to the whole batch at once with
`F.affine_grid` + `F.grid_sample`, then brightness and contrast where a recipe asks for them.

    from data import load_mnist, TensorLoader
    (x_train, y_train), (x_test, y_test) = load_mnist("../shared/data", download=False)
    train_loader = TensorLoader(x_train, y_train, 128, shuffle=True, rotate=7.0, seed=1)
    for x, y in train_loader.batches(strength=0.5): ...   # an epoch at half the augmentation
"""
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
DEFAULT_DATA_DIR = "./data"
DATA_DIR_ENV = "MNIST_DATA_DIR"

# file name -> (IDX magic number, shape after the count of items)
IDX_FILES = {
    "train-images-idx3-ubyte": (0x00000803, (28, 28)),
    "train-labels-idx1-ubyte": (0x00000801, ()),
    "t10k-images-idx3-ubyte": (0x00000803, (28, 28)),
    "t10k-labels-idx1-ubyte": (0x00000801, ()),
}
# A split as load_mnist returns it: images, uint8 (N, 28, 28), and labels, int64 (N,).
Split = tuple[torch.Tensor, torch.Tensor]


class Splits(NamedTuple):
    """MNIST as load_mnist returns it: `(train_x, train_y), (test_x, test_y) = load_mnist(...)` unpacks it."""
    train: Split
    test: Split


class DataError(Exception):
    """Missing or corrupt MNIST files: a problem the user can fix, reported in one message."""


def resolve_data_dir(data_dir: str | None = None) -> str:
    """--data-dir, else $MNIST_DATA_DIR, else ./data."""
    return data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR


def idx_header_size(path: Path) -> int:
    return 4 * (2 + len(IDX_FILES[path.name][1]))


def check_idx_file(path: Path) -> int:
    """Check an IDX file's magic number and length against what MNIST needs; return its item count."""
    magic, item_shape = IDX_FILES[path.name]
    ndim = 1 + len(item_shape)
    header_size = idx_header_size(path)
    size = path.stat().st_size
    fresh_copy = (f"Delete it and run again to download a fresh copy, or point --data-dir "
                  f"(or ${DATA_DIR_ENV}) at a good copy.")
    if size < header_size:
        raise DataError(f"{path}: only {size} bytes, shorter than an IDX header: "
                        f"the file is truncated. {fresh_copy}")
    with open(path, "rb") as f:
        header = f.read(header_size)
    found = int.from_bytes(header[:4], "big")
    if found != magic:
        raise DataError(f"{path}: wrong magic number 0x{found:08x} (expected 0x{magic:08x}): "
                        f"not an uncompressed MNIST IDX file. {fresh_copy}")
    dims = [int.from_bytes(header[4 * i:4 * i + 4], "big") for i in range(1, 1 + ndim)]
    if tuple(dims[1:]) != item_shape:
        raise DataError(f"{path}: items of shape {tuple(dims[1:])}, expected {item_shape}. {fresh_copy}")
    expected = header_size + math.prod(dims)
    if size != expected:
        raise DataError(f"{path}: {size} bytes, expected {expected} for {dims[0]} items: "
                        f"the file is truncated or padded. {fresh_copy}")
    return dims[0]


def read_idx_file(path: Path) -> torch.Tensor:
    """A checked IDX file's items as a uint8 tensor (N, *item shape), as torchvision reads it."""
    count = check_idx_file(path)
    data = bytearray(path.read_bytes()[idx_header_size(path):])
    return torch.frombuffer(data, dtype=torch.uint8).view(count, *IDX_FILES[path.name][1])


def load_mnist(root: str | Path, download: bool = True) -> Splits:
    """Return ((train_images, train_labels), (test_images, test_labels)): uint8 (N, 28, 28), int64 (N,).

    Raises DataError, never a traceback-worthy exception, for data the user can fix.
    """
    raw = Path(root) / "MNIST" / "raw"
    missing = [name for name in IDX_FILES if not (raw / name).is_file()]
    if missing and download:
        from torchvision import datasets

        try:
            datasets.MNIST(root, train=True, download=True)
        except Exception as err:  # no network, a read-only folder, a failed checksum: all say the same
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DataError(f"MNIST not found in {raw} and the download failed ({first_line}). "
                            f"Point --data-dir or ${DATA_DIR_ENV} at a folder holding "
                            f"MNIST/raw/*-ubyte.") from None
        missing = [name for name in IDX_FILES if not (raw / name).is_file()]
    if missing:
        raise DataError(f"MNIST not found: {raw} lacks {', '.join(missing)}. Point --data-dir or "
                        f"${DATA_DIR_ENV} at a folder holding MNIST/raw/*-ubyte, or allow the download.")

    splits = []
    for prefix in ("train", "t10k"):
        images = read_idx_file(raw / f"{prefix}-images-idx3-ubyte")
        labels = read_idx_file(raw / f"{prefix}-labels-idx1-ubyte").long()
        if len(images) != len(labels):
            raise DataError(f"{raw}: {len(images)} {prefix} images but {len(labels)} labels: the files "
                            f"do not belong together. Delete them and run again to download a fresh copy.")
        if int(labels.max()) > 9:
            raise DataError(f"{raw / f'{prefix}-labels-idx1-ubyte'}: labels outside 0-9: the file is corrupt.")
        splits.append((images, labels))
    return Splits(*splits)


def affine_thetas(n: int, generator: torch.Generator, rotate: float = 0.0, translate: float = 0.0,
                  scale: float = 0.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """n affine matrices (n, 2, 3): rotate by up to +-rotate degrees, shift by up to +-translate
    of the size, zoom by 1+-scale, each drawn per image from `generator` (on the CPU), computed in `dtype`."""
    def draw() -> torch.Tensor:  # uniform in [-1, 1]; the draws are float32's whatever the dtype
        return torch.rand(n, generator=generator).to(dtype) * 2 - 1

    angle = draw() * math.radians(rotate)
    zoom = 1 + draw() * scale
    shift = torch.stack([draw(), draw()], dim=1) * 2 * translate  # grid coordinates span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    return torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                        torch.stack([sin, cos, shift[:, 1]], 1)], 1)


def tone_shifts(n: int, generator: torch.Generator, brightness: float = 0.0, contrast: float = 0.0,
                dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """n per-image gains (1 +- contrast) and shifts (+- brightness) as (n, 1, 1, 1) tensors, drawn from
    `generator`: a pixel p in [0, 1] becomes p * gain + shift, clipped to [0, 1]."""
    def draw() -> torch.Tensor:  # uniform in [-1, 1]
        return torch.rand(n, 1, 1, 1, generator=generator).to(dtype) * 2 - 1

    return 1 + draw() * contrast, draw() * brightness


ELASTIC_GRID = 4  # the displacement is drawn on a 4x4 grid per image: smooth at 28x28, and cheap to draw


def elastic_fields(n: int, generator: torch.Generator, pixels: float, size: int = 28,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """n coarse displacement fields (n, 2, ELASTIC_GRID, ELASTIC_GRID) of up to +- `pixels`, in grid units
    (an image spans 2), drawn from `generator`; `warp` spreads them over the image."""
    return (torch.rand(n, 2, ELASTIC_GRID, ELASTIC_GRID, generator=generator).to(dtype) * 2 - 1) * (2 * pixels / size)


def warp(x: torch.Tensor, theta: torch.Tensor, field: torch.Tensor | None = None) -> torch.Tensor:
    """Apply one affine matrix per image, then (if given) a coarse displacement field, spread over the
    image bicubically; black (0) fills what comes in from outside, as PIL's RandomRotation does.
    x: (N, 1, H, W) in [0, 1]; theta: (N, 2, 3) and field: (N, 2, h, w) on x's device."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    if field is not None:
        grid = grid + F.interpolate(field, size=x.shape[-2:], mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class TensorLoader:
    """Batches of normalized (N, 1, 28, 28) images cut from one uint8 tensor held on `device`.

    Training loaders shuffle (a fresh randperm each epoch) and may augment, scaled by the
    `strength` an epoch's `batches` is given (0 turns augmentation off); test loaders do neither.
    All randomness comes from `self.generator` (CPU, seeded), so its state is all a
    checkpoint needs to replay the data order and augmentation exactly. An epoch's order
    and transforms are drawn when it starts and copied to the device once: a copy per
    batch would make the host wait for the GPU every batch.
    """

    def __init__(  # noqa: PLR0913 (a knob per augmentation, named as the recipe names it)
                 self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 device: str | torch.device = "cpu", shuffle: bool = False, rotate: float = 0.0,
                 translate: float = 0.0, scale: float = 0.0, brightness: float = 0.0, contrast: float = 0.0,
                 elastic: float = 0.0, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        self.images = images.to(device)
        self.dtype = dtype  # of the batches: float32, or float64 for the trainer's numbers guard
        self.labels = labels.to(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = dict(rotate=rotate, translate=translate, scale=scale)
        self.tone = dict(brightness=brightness, contrast=contrast)
        self.elastic = elastic
        self.augments = any(self.augment.values())
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.batches()

    def batches(self, strength: float = 1.0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch's batches, its augmentation scaled by `strength` (a recipe's fade sets it)."""
        n, device = len(self.labels), self.labels.device
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(device)
        else:
            order = torch.arange(n, device=device)
        augments = self.augments and strength > 0
        if augments:
            scaled = {name: value * strength for name, value in self.augment.items()}
            thetas = affine_thetas(n, self.generator, **scaled, dtype=self.dtype).to(device)
        # Drawn after the warps, and only when asked for: recipes without them draw what they always drew.
        tones = any(self.tone.values()) and strength > 0
        if tones:
            gain, shift = tone_shifts(n, self.generator, **{k: v * strength for k, v in self.tone.items()},
                                      dtype=self.dtype)
            gain, shift = gain.to(device), shift.to(device)
        elastic = self.elastic > 0 and strength > 0  # drawn last, for the same reason
        if elastic:
            fields = elastic_fields(n, self.generator, self.elastic * strength, dtype=self.dtype).to(device)
            if not augments:
                thetas = torch.eye(2, 3, dtype=self.dtype).expand(n, 2, 3).to(device)
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.images[idx].unsqueeze(1).to(self.dtype).div_(255)
            if augments or elastic:
                batch = slice(start, start + self.batch_size)
                x = warp(x, thetas[batch], fields[batch] if elastic else None)
            if tones:
                batch = slice(start, start + self.batch_size)
                x = x.mul_(gain[batch]).add_(shift[batch]).clamp_(0, 1)
            yield x.sub_(MNIST_MEAN).div_(MNIST_STD), self.labels[idx]
