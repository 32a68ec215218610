"""The numbers guard's training: a short, fixed piece of work through `fit` that exercises every feature on the
path from a recipe to the optimizer's step, on real digits (tests/fixtures/mnist-slice.npz: the first 512 training
and 256 test images of MNIST, under MNIST's terms, CC BY-SA 3.0; see DATA_NOTICE.md).

Each feature matters on these images: the rate warms up, anneals and settles on its floor; the weight average
is the net tested; every augmentation is drawn, and fades over the epochs; the net straightens each (slanted)
digit before its convs and shifts the test images; a teacher's soft labels are half the loss. With --levers, the
same with Muon and SAM (LEVERS), whose numbers are kept apart ("levers" in the values file).

    python tests/numbers_guard.py float64            # the epochs' numbers as JSON, to compare by eye
    python tests/numbers_guard.py float64 --levers   # the same, with Muon and SAM
    python tests/numbers_guard.py --write            # record float64 and this machine's float32 values
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from trainer.engine import Options, fit
from trainer.specnets import SpecNet

HERE = Path(__file__).resolve().parent
SLICE = HERE / "fixtures" / "mnist-slice.npz"
VALUES = HERE / "fixtures" / "numbers-guard.json"
NET = "deskew+tta:6k,P,8,8"  # the deskew layer and the test-time shifts, in a net that trains in seconds
TEACHER = "8k,P,10"
RECIPE = {"epochs": 3, "batch_size": 32, "lr": 0.2, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
          "schedule": "cosine", "warmup": 1, "anneal_end": 2, "floor": 0.1, "ema": 0.8, "label_smoothing": 0.1,
          "bn_momentum": 0.2, "rotate": 10.0, "translate": 0.1, "scale": 0.1, "brightness": 0.1, "contrast": 0.1,
          "elastic": 1.0, "augment_fade": [1, 3], "distill_temperature": 3.0, "distill_weight": 0.5}
# The seventh push's levers (docs/history.md), pinned apart so that RECIPE's numbers stay those recorded before
# they existed: Muon on the filters between the first conv and the head, SAM's second pass on every step. At
# Muon's rate of 0.1 or more this short run is chaotic: instruction sets' 1e-9 grow to a few test images within
# an epoch; at 0.05 they stay about 1e-9, as RECIPE's do.
LEVERS = {**RECIPE, "optimizer": "muon", "muon_lr": 0.05, "sam_rho": 0.05}
KEPT = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_correct", "lr")  # every number but the time


def guard_data():
    """((train_x, train_y), (test_x, test_y)) of the committed slice, as data.load_mnist returns them."""
    saved = np.load(SLICE)
    return tuple((torch.from_numpy(saved[f"{split}_images"]), torch.from_numpy(saved[f"{split}_labels"]).long())
                 for split in ("train", "test"))


def guard_numbers(dtype, recipe=RECIPE):
    """The guard's epochs (KEPT of each), trained in `dtype` on one thread, the teacher written afresh."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as folder:
            torch.manual_seed(0)
            teacher = Path(folder) / "teacher.pt"
            torch.save({"spec": TEACHER, "model_state": SpecNet(TEACHER).state_dict()}, teacher)
            run = fit(lambda: SpecNet(NET), {**recipe, "teacher": str(teacher)}, guard_data(), 1,
                      Options(progress=False, dtype=dtype))
    finally:
        torch.set_num_threads(threads)
    return [{key: row[key] for key in KEPT} for row in run.metrics]


def fingerprint_key():
    """float32's numbers hold to the bit for one torch build and one instruction set of the CPU's."""
    return f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python tests/numbers_guard.py", description=__doc__.splitlines()[0])
    parser.add_argument("dtype", nargs="?", choices=("float64", "float32"), default="float64")
    parser.add_argument("--levers", action="store_true", help="train LEVERS (Muon and SAM), not RECIPE")
    parser.add_argument("--write", action="store_true", help=f"record float64's and this machine's float32 "
                        f"numbers of both recipes in {VALUES.relative_to(HERE.parent)}")
    args = parser.parse_args(argv)
    if not args.write:
        print(json.dumps(guard_numbers(getattr(torch, args.dtype), LEVERS if args.levers else RECIPE)))
        return
    values = json.loads(VALUES.read_text()) if VALUES.exists() else {"float32": {}}
    for place, recipe in ((values, RECIPE), (values.setdefault("levers", {"float32": {}}), LEVERS)):
        place["float64"] = guard_numbers(torch.float64, recipe)
        place["float32"][fingerprint_key()] = guard_numbers(torch.float32, recipe)
    VALUES.write_text(json.dumps(values, indent=1) + "\n")
    print(f"wrote {VALUES}: float64, and float32 for {fingerprint_key()}, of RECIPE and of LEVERS")


if __name__ == "__main__":
    sys.exit(main())
