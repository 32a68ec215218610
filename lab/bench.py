"""Benchmark: model3 fed from tensors on the device vs the classic DataLoader + PIL pipeline.

Both pipelines train the same model file with the same optimizer through the same
train_epoch(); only the data path differs. Measured in one run on one device:

1. seconds per training epoch (median; the pipelines take turns), images per second, and
   their ratio (in this process); beside them, in the same turns, the other nets of
   --models through the tensor pipeline, each with its own recipe (by default model4), and
   on CUDA model3 with its training step eager instead of a CUDA graph (train.py
   --no-cuda-graph), for that ratio too; and a distilled trial net (--distill, a variant of
   the search) with and without its teacher, for what the teacher's soft labels cost an epoch;
2. the whole-process time of `train.py --model model3 --epochs 2` against a classic
   script training the same model for 2 epochs with its test passes (subprocesses).

Usage:
    python -m lab.bench --data-dir ../shared/data            # CUDA when present, else CPU
    python -m lab.bench --data-dir ../shared/data --skip-whole
    python -m lab.bench --data-dir ../shared/data --profile  # where one epoch's time goes
"""
import argparse
import statistics
import subprocess
import sys
import time
from types import SimpleNamespace

import torch

from data import MNIST_MEAN, MNIST_STD, DataError, load_mnist, resolve_data_dir
from trainer.engine import Options, Training, UserError, count_params, pick_device
from trainer.experiments import load_experiment
from trainer.flags import positive
from trainer.paths import ROOT
from trainer.provenance import cpu_model
from trainer.recipe import complete
from trainer.specnets import load_teacher

DISTILLED = "p3918-kd2-settled-fade-b64"  # the fifth push's distilled student
CLASSIC_BATCH_SIZE = 128
CLASSIC_WORKERS = 2
CLASSIC_ROTATION = 7


def classic_loaders(root, device, batch_size=CLASSIC_BATCH_SIZE, workers=CLASSIC_WORKERS):
    """The pipeline of pytorch/examples and the reference write-up: PIL transforms per image."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    normalize = [transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]
    train_set = datasets.MNIST(root, train=True, transform=transforms.Compose(
        [transforms.RandomRotation(CLASSIC_ROTATION), *normalize]))
    test_set = datasets.MNIST(root, train=False, transform=transforms.Compose(normalize))
    return (DataLoader(train_set, batch_size, shuffle=True, num_workers=workers,
                       pin_memory=device.type == "cuda", persistent_workers=True),
            DataLoader(test_set, 1000, shuffle=False, num_workers=workers, persistent_workers=True))


class ClassicBatches:
    """A DataLoader as a training loader of the trainer's: its length and an epoch's `batches` (the classic
    pipeline draws its own rotations, so the recipe's augmentation strength goes unused)."""

    def __init__(self, loader):
        self.loader = loader

    def __len__(self):
        return len(self.loader)

    def batches(self, strength):
        return iter(self.loader)


def classic_training(loaders):
    """A Training subclass whose loaders (trainer.engine.Training.make_loaders, the hook) are `loaders`."""
    class ClassicTraining(Training):
        def make_loaders(self, data, seed):
            return ClassicBatches(loaders[0]), loaders[1]
    return ClassicTraining


def epoch_trainer(data, module, device, epochs, eager=False, train_loader=None):
    """A function that trains `module`'s net (its recipe, weight average included, set up as train.py
    sets up a run) for one epoch and returns when the device is done: on the recipe's tensor pipeline,
    or on `train_loader`; on CUDA its step is a CUDA graph, as in train.py, unless `eager`."""
    recipe = complete({**module.RECIPE, "epochs": epochs})
    options = Options(device=device, cuda_graph=not eager, progress=False)
    kind = Training if train_loader is None else classic_training((train_loader, None))
    training = kind(module.Net, recipe, data, 0, options)
    count = iter(range(1, epochs + 1))

    def epoch():
        training.train_epoch(next(count))
        if device.type == "cuda":
            torch.cuda.synchronize()
    return epoch


def time_epochs(data, pipelines, device, epochs):
    """Median seconds of a training epoch for each (model module, eager, loader or None for the tensor
    pipeline) triple, after one untimed warm-up epoch each.

    The pipelines take turns epoch by epoch, so a slow spell of the machine hits all alike.
    """
    trainers = [epoch_trainer(data, module, device, epochs + 1, eager, loader) for module, eager, loader in pipelines]
    times = [[] for _ in pipelines]
    for _ in range(epochs + 1):
        for i, epoch in enumerate(trainers):
            began = time.perf_counter()
            epoch()
            times[i].append(time.perf_counter() - began)
    return [statistics.median(t[1:]) for t in times]


def profile_epoch(data, module, device, rows=15):
    """Where a training epoch's time goes: one epoch under torch.profiler, after a warm-up epoch; the
    operators that cost the host most, and how much of the epoch the device spent computing."""
    from torch.profiler import ProfilerActivity, profile

    epoch = epoch_trainer(data, module, device, epochs=2)
    batches = -(-len(data[0][1]) // module.RECIPE["batch_size"])
    epoch()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        began = time.perf_counter()
        epoch()
        wall = time.perf_counter() - began
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=rows))
    line = f"one profiled training epoch of {module.name}: {wall:.2f} s wall for {batches} batches"
    if device.type == "cuda":
        computing = sum(e.self_device_time_total for e in events  # as the table's total: kernels, not
                        if e.device_type.name == "CUDA" and not e.is_user_annotation) / 1e6  # the spans around them
        launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cuLaunchKernelEx"))
        graphs = sum(e.count for e in events if e.key == "cudaGraphLaunch")
        line += (f"; the GPU computed for {computing:.2f} s of it; {launches / batches:.0f} kernel launches "
                 f"and {graphs / batches:.0f} CUDA-graph launch(es) a batch")
    print(line)


def experiment(name):
    """A model file as its Net and its complete recipe."""
    loaded = load_experiment(name)
    return SimpleNamespace(name=name, Net=loaded.make_net, RECIPE=loaded.recipe)


def distilled_pair(variant, device):
    """A distilled variant of the search as two experiments: its net and recipe without the teacher, and with it."""
    from lab import search  # only this row needs the trial nets

    recipe = search.variant_recipe(variant)
    spec = search.VARIANTS[variant][1]
    if not recipe["teacher"]:
        raise UserError(f"--distill {variant}: its recipe names no teacher")
    teacher_params = count_params(load_teacher(recipe["teacher"], device))
    return [SimpleNamespace(name=f"{variant}{suffix}", Net=lambda: search.SpecNet(spec),
                            RECIPE={**recipe, "teacher": teacher}, teacher_params=teacher_params)
            for suffix, teacher in (("", None), (", distilled", recipe["teacher"]))]


def classic_run(root, device, epochs):
    """What a classic script does: train and test model3 through DataLoaders, every epoch."""
    model3 = experiment("model3")
    recipe = complete({**model3.RECIPE, "epochs": epochs})
    classic_training(classic_loaders(root, device))(model3.Net, recipe, None, 1, Options(device=device)).run()


def wall_seconds(command, repeats):
    """Best of `repeats` whole-process runs: the least disturbed by whatever else the machine does."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - began)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding MNIST/raw (default: $MNIST_DATA_DIR, else ./data)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="auto (the default): cuda where present, else cpu")
    parser.add_argument("--epochs", type=positive(int), default=3, help="timed epochs per pipeline, after a "
                        "warm-up (default: 3)")
    parser.add_argument("--models", default="model4", help="other model files timed beside model3 (tensor "
                        "pipeline, their own recipes; default: model4); '' for none")
    parser.add_argument("--distill", default=DISTILLED, help="a distilled variant of the search, timed with and "
                        f"without its teacher (default: {DISTILLED}); '' for none")
    parser.add_argument("--skip-whole", action="store_true", help="skip the whole-process comparison")
    parser.add_argument("--repeats", type=positive(int), default=2, help="whole-process runs of each; the best "
                        "counts (default: 2)")
    parser.add_argument("--profile", action="store_true", help="only profile one training epoch of model3 "
                        "(tensor pipeline) and print where its time goes")
    parser.add_argument("--classic-run", type=int, metavar="EPOCHS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = resolve_data_dir(args.data_dir)
    try:
        device = pick_device(args.device)
        if args.classic_run:  # only ever started below, after the data was checked
            classic_run(root, device, args.classic_run)
            return 0
        data = load_mnist(root, download=False)
        model3 = experiment("model3")
        others = [(name, experiment(name)) for name in args.models.split(",") if name]
        distilled = distilled_pair(args.distill, device) if args.distill else []
    except (DataError, UserError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1

    name = torch.cuda.get_device_name() if device.type == "cuda" else \
        f"CPU {cpu_model()}, {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {name}")
    if args.profile:
        profile_epoch(data, model3, device)
        return 0
    rows = [(label, module, False, None, f"tensors on {device.type}, batch {module.RECIPE['batch_size']}")
            for label, module in [("model3", model3), *others]]
    rows += [(student.name.split("-")[0], student, False, None, (f"tensors on {device.type}, batch "
              f"{student.RECIPE['batch_size']}{', with its teacher' if student.RECIPE['teacher'] else ''}"))
             for student in distilled]
    if device.type == "cuda":
        rows += [("model3", model3, True, None, f"tensors on cuda, batch {model3.RECIPE['batch_size']}, eager step")]
    rows += [("model3", model3, False, classic_loaders(root, device)[0],
              f"DataLoader + PIL, batch {CLASSIC_BATCH_SIZE}, {CLASSIC_WORKERS} workers")]
    times = time_epochs(data, [(module, eager, loader) for _, module, eager, loader, _ in rows], device, args.epochs)
    print_times(rows, times, len(data[0][1]), device)
    if distilled:
        alone, taught = times[1 + len(others):3 + len(others)]
        print(f"a distilled epoch of {args.distill} (its teacher: {distilled[1].teacher_params:,} params) against "
              f"the same net and recipe without it: {taught / alone:.2f}x")
    if not args.skip_whole:
        whole_process(root, device, args.repeats)
    return 0


def print_times(rows, times, images, device):
    print(f"{'net':<10} {'params':>6}  {'pipeline':<44} {'s/epoch':>8} {'images/s':>9}")
    for (label, module, _, _, pipeline), seconds in zip(rows, times):
        print(f"{label:<10} {count_params(module.Net()):>6,}  {pipeline:<44} {seconds:>8.2f} {images / seconds:>9.0f}")
    print(f"training epoch speed-up of model3's tensor pipeline over the classic one: {times[-1] / times[0]:.2f}x")
    if device.type == "cuda":
        print(f"training epoch speed-up of model3's CUDA-graph step over its eager step: {times[-2] / times[0]:.2f}x")


def whole_process(root, device, repeats):
    ours = wall_seconds([sys.executable, str(ROOT / "train.py"), "--model", "model3", "--epochs", "2",
                         "--data-dir", root, "--device", device.type, "--no-download",
                         "--out", str(ROOT / "runs" / "bench")], repeats)
    classic = wall_seconds([sys.executable, "-m", "lab.bench", "--classic-run", "2",
                            "--data-dir", root, "--device", device.type], repeats)
    print(f"whole process, 2 epochs with test passes (best of {repeats}): train.py {ours:.1f} s, "
          f"classic {classic:.1f} s, speed-up {classic / ours:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
