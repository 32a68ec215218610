"""Shared fixtures: tiny MNIST-format IDX files written by the tests themselves (no network)."""
import queue
import shutil
import threading
import time
from pathlib import Path

import pytest
import torch

import trainer

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "data"
# The files a student copies beside a model file into a notebook's folder to get `fit` and the model's own
# recipe: the trainer's one constant, which the README's "Use it in a notebook" and the notebook name too.
TRAVEL = list(trainer.TRAVEL)


def copy_of_the_code(repo, *models):
    """train.py, data.py and the trainer package copied into `repo` (no tests, results or research), with
    the named model files: a checkout of what a run needs."""
    repo.mkdir(parents=True, exist_ok=True)
    for name in ("train.py", "data.py", *(f"{model}.py" for model in models)):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "trainer", repo / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    return repo


def copy_of_the_travel_files(folder, *names):
    """TRAVEL and the named files (model4.py, notebook.ipynb), alone in `folder`, as a student copies them."""
    for name in (*TRAVEL, *names):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes((ROOT / name).read_bytes())
    return folder


def without_seconds(epochs):
    """A run's epoch rows less their seconds: what two runs of the same numbers share to the bit."""
    return [{key: value for key, value in row.items() if key != "seconds"} for row in epochs]


class ChildOutput:
    """A child's stdout, read line by line by a thread of its own, so that waiting for a line fails a test
    instead of hanging it."""

    def __init__(self, proc):
        self.proc, self.lines, self.seen = proc, queue.Queue(), []
        threading.Thread(target=lambda: [self.lines.put(line) for line in proc.stdout] + [self.lines.put(None)],
                         daemon=True).start()

    def until(self, text, seconds, after=None):
        """The output so far, once a line holds `text` (and, with `after`, comes after a line holding that);
        the child is killed and the test fails if none does within `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.proc.kill()
                raise AssertionError(f"no line with {text!r} within {seconds} s; the child said:\n{''.join(self.seen)}")
            self.seen.append(line)
            if after is not None and after in line:
                after = None
            elif after is None and text in line:
                return "".join(self.seen)

    def end(self, seconds):
        """(all of stdout, all of stderr) once the child has ended, within `seconds`."""
        self.proc.wait(timeout=seconds)
        while (line := self.lines.get(timeout=seconds)) is not None:
            self.seen.append(line)
        return "".join(self.seen), self.proc.stderr.read()


def write_idx(path, tensor):
    """Write a uint8 tensor in IDX format: magic 0x0000 08 <ndim>, big-endian dims, raw bytes."""
    header = bytes([0, 0, 8, tensor.dim()]) + b"".join(d.to_bytes(4, "big") for d in tensor.shape)
    path.write_bytes(header + tensor.to(torch.uint8).numpy().tobytes())


def label_coded_images(labels):
    """Each image: a flat square whose brightness encodes its label, so tests can check alignment."""
    images = torch.zeros(len(labels), 28, 28, dtype=torch.uint8)
    for i, label in enumerate(labels.tolist()):
        images[i, 4:24, 4:24] = 20 * (label + 1)
    return images


def make_tiny_mnist(root, n_train=256, n_test=64):
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = torch.arange(n) % 10
        write_idx(raw / f"{prefix}-images-idx3-ubyte", label_coded_images(labels))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return Path(root)


@pytest.fixture
def tiny_mnist(tmp_path):
    """A data root holding MNIST/raw/ with 256 training and 64 test images."""
    return make_tiny_mnist(tmp_path / "data")


@pytest.fixture(scope="module")
def tiny_mnist_module(tmp_path_factory):
    """tiny_mnist, shared by a module's tests."""
    return make_tiny_mnist(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture
def real_mnist():
    if not (SHARED_MNIST / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"real MNIST not found at {SHARED_MNIST} (needed for this accuracy check)")
    return SHARED_MNIST
