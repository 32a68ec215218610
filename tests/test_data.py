import subprocess
import sys

import pytest
import torch

import data
from conftest import ROOT, label_coded_images, write_idx
from data import (
    MNIST_MEAN,
    MNIST_STD,
    DataError,
    TensorLoader,
    affine_thetas,
    load_mnist,
    resolve_data_dir,
    warp,
)


def denormalize(x):
    return x * MNIST_STD + MNIST_MEAN


def test_load_mnist_reads_idx_files(tiny_mnist):
    (train_x, train_y), (test_x, test_y) = load_mnist(tiny_mnist, download=False)
    assert train_x.shape == (256, 28, 28) and train_x.dtype == torch.uint8
    assert test_x.shape == (64, 28, 28)
    assert torch.equal(train_y, torch.arange(256) % 10)
    assert torch.equal(test_x, label_coded_images(torch.arange(64) % 10))


def test_data_dir_flag_beats_environment(monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", "/from/env")
    assert resolve_data_dir("/from/flag") == "/from/flag"
    assert resolve_data_dir(None) == "/from/env"
    monkeypatch.delenv("MNIST_DATA_DIR")
    assert resolve_data_dir(None) == "./data"


def test_missing_data_names_the_folder(tmp_path):
    with pytest.raises(DataError, match=r"MNIST not found: .*MNIST/raw lacks train-images-idx3-ubyte.*--data-dir"):
        load_mnist(tmp_path, download=False)


def test_truncated_file(tiny_mnist):
    path = tiny_mnist / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: \d+ bytes, expected \d+ .*truncated"):
        load_mnist(tiny_mnist, download=False)


def test_a_file_shorter_than_its_header(tiny_mnist):
    path = tiny_mnist / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:5])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: only 5 bytes, shorter than an IDX header"):
        load_mnist(tiny_mnist, download=False)


def test_images_of_another_shape(tiny_mnist):
    path = tiny_mnist / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    write_idx(path, torch.zeros(64, 32, 32, dtype=torch.uint8))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: items of shape \(32, 32\), expected \(28, 28\)"):
        load_mnist(tiny_mnist, download=False)


def test_labels_outside_0_to_9(tiny_mnist):
    path = tiny_mnist / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    write_idx(path, torch.full((256,), 10, dtype=torch.uint8))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: labels outside 0-9: the file is corrupt"):
        load_mnist(tiny_mnist, download=False)


def test_wrong_magic_number(tiny_mnist):
    path = tiny_mnist / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x1f\x8b\x08\x00" + path.read_bytes()[4:])  # what a gzip file starts with
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: wrong magic number 0x1f8b0800 .*fresh copy"):
        load_mnist(tiny_mnist, download=False)
    assert path.exists(), "a corrupt file is reported, never deleted"


def test_images_and_labels_must_match(tiny_mnist):
    write_idx(tiny_mnist / "MNIST" / "raw" / "train-labels-idx1-ubyte", torch.zeros(10, dtype=torch.uint8))
    with pytest.raises(DataError, match="256 train images but 10 labels"):
        load_mnist(tiny_mnist, download=False)


def ids_loader(n=50, batch_size=8, **kwargs):
    """A loader whose labels are the image indices, so every batch says which images it holds."""
    return TensorLoader(torch.zeros(n, 28, 28, dtype=torch.uint8), torch.arange(n), batch_size, **kwargs)


def test_every_image_once_per_epoch_in_a_new_order():
    loader = ids_loader(shuffle=True, seed=3)
    epochs = [torch.cat([y for _, y in loader]) for _ in range(3)]
    assert len(loader) == 7  # 50 images in batches of 8: the last batch is partial, not dropped
    for order in epochs:
        assert torch.equal(order.sort().values, torch.arange(50))
    assert not torch.equal(epochs[0], epochs[1]) and not torch.equal(epochs[1], epochs[2])


def test_test_loader_keeps_order_and_never_augments():
    labels = torch.arange(30) % 10
    images = label_coded_images(labels)
    loader = TensorLoader(images, labels, 7)  # the defaults: no shuffle, no augmentation
    x = torch.cat([x for x, _ in loader])
    assert torch.equal(torch.cat([y for _, y in loader]), labels)
    assert torch.allclose(denormalize(x).squeeze(1), images.float() / 255, atol=1e-6)


def test_augmentation_keeps_shapes_and_labels_aligned():
    labels = torch.arange(64) % 10
    loader = TensorLoader(label_coded_images(labels), labels, 16, shuffle=True, rotate=15.0,
                          translate=0.05, scale=0.05, seed=0)
    for x, y in loader:
        assert x.shape == (len(y), 1, 28, 28) and x.dtype == torch.float32
        # The centre of each flat square survives a small rotation and shift: it still encodes the label.
        centre = denormalize(x[:, 0, 12:16, 12:16]).mean((1, 2)) * 255
        assert torch.allclose(centre, 20.0 * (y + 1), atol=0.5)


def test_augmentation_changes_images_with_per_image_parameters():
    x = label_coded_images(torch.zeros(8, dtype=torch.long)).unsqueeze(1).float() / 255
    out = warp(x, affine_thetas(len(x), torch.Generator().manual_seed(0), rotate=10.0))
    assert not torch.allclose(out, x)
    assert len({round(float((o - x[0]).abs().sum()), 3) for o in out}) == 8, "each image its own angle"
    same = warp(x, affine_thetas(len(x), torch.Generator().manual_seed(0)))
    assert torch.allclose(same, x, atol=1e-5), "no augmentation asked, none done"


def test_same_seed_same_batches():
    def first_batch(seed):
        labels = torch.arange(40) % 10
        loader = TensorLoader(label_coded_images(labels), labels, 8, shuffle=True, rotate=7.0, seed=seed)
        return next(iter(loader))
    (x1, y1), (x2, y2), (x3, _) = first_batch(5), first_batch(5), first_batch(6)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_an_epoch_draws_all_its_randomness_when_it_starts():
    """Order and transforms are drawn at once (one copy to the device per epoch): after the first
    batch the generator has already moved as far as a whole epoch moves it."""
    labels = torch.arange(40) % 10
    loader = TensorLoader(label_coded_images(labels), labels, 8, shuffle=True, rotate=7.0, translate=0.05, seed=2)
    batches = iter(loader)
    next(batches)
    after_first = loader.generator.get_state()
    list(batches)
    assert torch.equal(loader.generator.get_state(), after_first)
    next(iter(loader))
    assert not torch.equal(loader.generator.get_state(), after_first), "the next epoch draws anew"


def test_augmentation_strength_scales_it_and_zero_turns_it_off():
    labels = torch.arange(40) % 10
    images = label_coded_images(labels)

    def epoch(strength, **augment):
        loader = TensorLoader(images, labels, 8, shuffle=True, seed=4, **augment)
        xs, ys = zip(*loader.batches(strength))
        return torch.cat(xs), torch.cat(ys)
    plain, order = epoch(1.0)
    full, full_order = epoch(1.0, rotate=12.0, translate=0.1)
    half, _ = epoch(0.5, rotate=12.0, translate=0.1)
    off, off_order = epoch(0.0, rotate=12.0, translate=0.1)
    assert torch.equal(order, full_order) and torch.equal(order, off_order)
    assert torch.equal(off, plain), "strength 0: the images as they are"
    moved = lambda x: float((x - plain).abs().sum())
    assert 0 < moved(half) < moved(full)


@pytest.mark.slow
def test_mnist_is_read_as_torchvision_reads_it_without_importing_it(tiny_mnist):
    from torchvision import datasets
    ours = load_mnist(tiny_mnist, download=False)
    for training, (images, labels) in zip((True, False), ours):
        theirs = datasets.MNIST(tiny_mnist, train=training, download=False)
        assert torch.equal(images, theirs.data) and torch.equal(labels, theirs.targets)
        assert images.dtype == theirs.data.dtype and labels.dtype == theirs.targets.dtype
    # Reading files that are there never pays for torchvision's import (seconds at every start).
    check = subprocess.run([sys.executable, "-c", (f"import sys, data; data.load_mnist({str(tiny_mnist)!r}, "
                            "download=False); print('torchvision' in sys.modules)")], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
    assert check.stdout.strip() == "False", check.stderr


def test_elastic_distortion_moves_pixels_smoothly_and_leaves_other_draws_alone():
    images, labels = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8), torch.arange(64) % 10
    plain = TensorLoader(images, labels, 64, shuffle=True, rotate=7, translate=0.05, seed=5)
    elastic = TensorLoader(images, labels, 64, shuffle=True, rotate=7, translate=0.05, elastic=2.0, seed=5)
    (x_plain, y_plain), (x_elastic, y_elastic) = next(iter(plain)), next(iter(elastic))
    assert torch.equal(y_plain, y_elastic) and not torch.allclose(x_plain, x_elastic)
    fields = data.elastic_fields(1000, torch.Generator().manual_seed(0), 2.0)
    assert fields.abs().max() <= 2 * 2.0 / 28 and fields.abs().max() > 0.9 * 2 * 2.0 / 28
    faded = TensorLoader(images, labels, 64, shuffle=True, elastic=2.0, seed=5)
    # faded out: the images as they are, in the order an unaugmented loader draws
    unaugmented = TensorLoader(images, labels, 64, shuffle=True, seed=5)
    assert torch.equal(next(faded.batches(0.0))[0], next(iter(unaugmented))[0])
