"""Benchmark: model3 fed from tensors on the device vs the classic DataLoader + PIL pipeline.

Both pipelines train the same model file with the same optimizer through the same
train_epoch(); only the data path differs. Measured in one run on one device:

1. seconds per training epoch (median; the pipelines take turns), images per second, and
   their ratio (in this process); beside them, in the same turns, the other nets of
   --models through the tensor pipeline, each with its own recipe (by default model3's net
   before the search, search.py's m3-base, and model4), and on CUDA model3 with its training
   step eager instead of a CUDA graph (train.py --eager), for that ratio too;
2. the whole-process time of `train.py --model model3 --epochs 2` against a classic
   script training the same model for 2 epochs with its test passes (subprocesses).

Usage:
    python bench.py --data-dir ../shared/data            # CUDA when present, else CPU
    python bench.py --data-dir ../shared/data --skip-whole
    python bench.py --data-dir ../shared/data --profile  # where one epoch's time goes
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from types import SimpleNamespace

import torch

import model3
import search
import train
from data import MNIST_MEAN, MNIST_STD, DataError, load_mnist, resolve_data_dir

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


def epoch_trainer(loader, module, device, epochs, eager=False):
    """A function that trains `module`'s net (its recipe, weight average included) for one epoch of
    `loader` and returns when the device is done; on CUDA its step is a CUDA graph, as in train.py,
    unless `eager`."""
    torch.manual_seed(0)
    model = module.Net().to(device)
    recipe = {**module.RECIPE, "epochs": epochs}
    optimizer = train.make_optimizer(model, recipe)
    scheduler = train.make_scheduler(optimizer, recipe, len(loader))
    average = train.WeightAverage(model, recipe["ema"]) if recipe.get("ema") else None
    step = train.make_step(model, recipe, device, eager)

    def epoch():
        train.train_epoch(model, loader, optimizer, scheduler, recipe.get("label_smoothing", 0.0), progress=False,
                          average=average, step=step)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return epoch


def time_epochs(pipelines, device, epochs):
    """Median seconds of a training epoch for each (loader, model module, eager) triple, after one
    untimed warm-up epoch each.

    The pipelines take turns epoch by epoch, so a slow spell of the machine hits all alike.
    """
    trainers = [epoch_trainer(loader, module, device, epochs + 1, eager) for loader, module, eager in pipelines]
    times = [[] for _ in pipelines]
    for _ in range(epochs + 1):
        for i, epoch in enumerate(trainers):
            began = time.perf_counter()
            epoch()
            times[i].append(time.perf_counter() - began)
    return [statistics.median(t[1:]) for t in times]


def profile_epoch(loader, module, device, rows=15):
    """Where a training epoch's time goes: one epoch under torch.profiler, after a warm-up epoch; the
    operators that cost the host most, and how much of the epoch the device spent computing."""
    from torch.profiler import ProfilerActivity, profile

    epoch = epoch_trainer(loader, module, device, epochs=2)
    epoch()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        began = time.perf_counter()
        epoch()
        wall = time.perf_counter() - began
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=rows))
    line = f"one profiled training epoch of model3: {wall:.2f} s wall for {len(loader)} batches"
    if device.type == "cuda":
        computing = sum(e.self_device_time_total for e in events  # as the table's total: kernels, not
                        if e.device_type.name == "CUDA" and not e.is_user_annotation) / 1e6  # the spans around them
        launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cuLaunchKernelEx"))
        graphs = sum(e.count for e in events if e.key == "cudaGraphLaunch")
        line += (f"; the GPU computed for {computing:.2f} s of it; {launches / len(loader):.0f} kernel launches "
                 f"and {graphs / len(loader):.0f} CUDA-graph launch(es) a batch")
    print(line)


def bench_nets(names):
    """Model modules by name; `m3-base` is model3's net and recipe before the search (search.py)."""
    nets = []
    for name in names:
        if name == "m3-base":
            module = SimpleNamespace(Net=lambda spec=search.VARIANTS[name][1]: search.SpecNet(spec),
                                     RECIPE=search.variant_recipe(name))
            nets.append((f"{name} (model3 before the search)", module))
        else:
            nets.append((name, train.load_model_module(name)))
    return nets


def classic_run(root, device, epochs):
    """What a classic script does: train and test through DataLoaders, every epoch."""
    train_loader, test_loader = classic_loaders(root, device)
    torch.manual_seed(1)
    model = model3.Net().to(device)
    recipe = {**model3.RECIPE, "epochs": epochs}
    optimizer = train.make_optimizer(model, recipe)
    scheduler = train.make_scheduler(optimizer, recipe, len(train_loader))
    for _ in range(epochs):
        train.train_epoch(model, train_loader, optimizer, scheduler)  # with its bar, as train.py
        result = train.test(model, test_loader)
        print(train.test_line(result))


def wall_seconds(command, repeats):
    """Best of `repeats` whole-process runs: the least disturbed by whatever else the machine does."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - began)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", help="folder holding MNIST/raw (default: $MNIST_DATA_DIR or ./data)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per pipeline, after a warm-up")
    parser.add_argument("--models", default="m3-base,model4", help="other nets timed beside model3 (tensor "
                        "pipeline, their own recipes); '' for none")
    parser.add_argument("--skip-whole", action="store_true", help="skip the whole-process comparison")
    parser.add_argument("--repeats", type=int, default=2, help="whole-process runs of each; the best counts")
    parser.add_argument("--profile", action="store_true", help="only profile one training epoch of model3 "
                        "(tensor pipeline) and print where its time goes")
    parser.add_argument("--classic-run", type=int, metavar="EPOCHS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = resolve_data_dir(args.data_dir)
    device = train.pick_device(args.device)
    if args.classic_run:  # only ever started below, after the data was checked
        classic_run(root, device, args.classic_run)
        return 0
    try:
        (train_x, train_y), _ = load_mnist(root, download=False)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1

    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {name}")
    if args.profile:
        profile_epoch(train.make_train_loader(train_x, train_y, model3.RECIPE, device, seed=0), model3, device)
        return 0
    others = bench_nets([n for n in args.models.split(",") if n])
    tensors = lambda module: train.make_train_loader(train_x, train_y, module.RECIPE, device, seed=0)  # noqa: E731
    rows = [("model3", model3, False, f"tensors on {device.type}, batch {model3.RECIPE['batch_size']}")]
    rows += [(label, module, False, f"tensors on {device.type}, batch {module.RECIPE['batch_size']}")
             for label, module in others]
    if device.type == "cuda":
        rows += [("model3", model3, True, f"tensors on cuda, batch {model3.RECIPE['batch_size']}, eager step")]
    classic_train, _ = classic_loaders(root, device)
    pipelines = [(tensors(module), module, eager) for _, module, eager, _ in rows] + [(classic_train, model3, False)]
    rows += [("model3", model3, False, f"DataLoader + PIL, batch {CLASSIC_BATCH_SIZE}, {CLASSIC_WORKERS} workers")]
    times = time_epochs(pipelines, device, args.epochs)
    n = len(train_y)
    print(f"{'net':<38} {'params':>6}  {'pipeline':<40} {'s/epoch':>8} {'images/s':>9}")
    for (label, module, _, pipeline), seconds in zip(rows, times):
        print(f"{label:<38} {train.count_params(module.Net()):>6,}  {pipeline:<40} {seconds:>8.2f} "
              f"{n / seconds:>9.0f}")
    print(f"training epoch speed-up of model3's tensor pipeline over the classic one: {times[-1] / times[0]:.2f}x")
    if device.type == "cuda":
        print(f"training epoch speed-up of model3's CUDA-graph step over its eager step: {times[-2] / times[0]:.2f}x")

    if not args.skip_whole:
        here = os.path.dirname(os.path.abspath(__file__))
        ours = wall_seconds([sys.executable, os.path.join(here, "train.py"), "--model", "model3", "--epochs", "2",
                             "--data-dir", root, "--device", device.type, "--no-download",
                             "--out", os.path.join(here, "runs", "bench")], args.repeats)
        classic = wall_seconds([sys.executable, os.path.abspath(__file__), "--classic-run", "2",
                                "--data-dir", root, "--device", device.type], args.repeats)
        print(f"whole process, 2 epochs with test passes (best of {args.repeats}): train.py {ours:.1f} s, "
              f"classic {classic:.1f} s, speed-up {classic / ours:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
