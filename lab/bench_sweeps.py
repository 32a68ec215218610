"""Benchmark: one seed sweep, run the ways this project has run sweeps, one after another on one machine.

The sweep is model4 (its net and recipe) on seeds 1-4 for 5 epochs, each way a whole process timed from
its start (Python, torch, Ray's start-up, MNIST) to its end:

1. one after another in one process: `train.py --seeds 1-4` with the default threads, then with one thread;
2. two at a time on a local Ray instance, one thread each: `train.py --seeds 1-4 --jobs 2 --threads 1`;
3. two at a time on the process pool search.py had before the sweeps moved to Ray (search.py at
   POOL_COMMIT, exported from git, with model4's net and recipe for 5 epochs added as a variant).

It prints each wall time, Ray's against the pool's, and whether every run's numbers (test accuracy at
every epoch) are the same each way that runs one thread per seed.

Usage:
    python -m lab.bench_sweeps --data-dir ../shared/data | tee results/bench-sweeps.txt
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from data import DataError, load_mnist, resolve_data_dir
from trainer.paths import ROOT
from trainer.provenance import cpu_model

POOL_COMMIT = "1e5e500"  # the last commit whose search.py ran its trials on a ProcessPoolExecutor
SEEDS, EPOCHS = [1, 2, 3, 4], 5
# model4's net and recipe as a search.py variant, for the old search.py (the same as p4820-settled-fade-b64).
POOL_VARIANT = f'    "bench-model4": ("frontier", "8k,P,10,12,12,12", {{**SETTLED_FADE_B64, "epochs": {EPOCHS}}}),\n'


def timed(command, cwd):
    began = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - began


def train_sweep(data_dir, out, *flags):
    command = [sys.executable, "train.py", "--model", "model4", "--seeds", "1-4", "--epochs", str(EPOCHS),
               "--data-dir", str(data_dir), "--no-download", "--device", "cpu", "--out", str(out), *flags]
    seconds = timed(command, ROOT)
    return seconds, {seed: [m["test_accuracy"] for m in json.loads((out / f"model4-seed{seed}" / "metrics.json")
                                                                     .read_text())["epochs"]] for seed in SEEDS}


def pool_sweep(data_dir, work):
    """search.py at POOL_COMMIT, two runs at a time on its process pool."""
    code = work / "pool-code"
    code.mkdir()
    archive = subprocess.run(["git", "archive", POOL_COMMIT], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    search = (code / "search.py").read_text()
    (code / "search.py").write_text(search.replace("\n}\n\nLAYER = ", f"\n{POOL_VARIANT}}}\n\nLAYER = ", 1))
    results = work / "pool.jsonl"
    seconds = timed([sys.executable, "search.py", "--variants", "bench-model4", "--seeds", "1-4", "--jobs", "2",
                     "--threads", "1", "--data-dir", str(data_dir), "--results", str(results),
                     "--out", str(work / "pool-runs")], code)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    return seconds, {row["seed"]: row["test_accuracy"] for row in rows}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab.bench_sweeps", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding MNIST/raw (default: $MNIST_DATA_DIR, else ./data)")
    args = parser.parse_args(argv)
    data_dir = Path(resolve_data_dir(args.data_dir)).resolve()
    try:
        load_mnist(data_dir, download=False)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"model4 on seeds 1-4, {EPOCHS} epochs each; CPU {cpu_model()}, {os.cpu_count()} cores; "
          f"torch {torch.__version__}; each way a whole process, one after another")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ways = [(f"one after another, {torch.get_num_threads()} threads (train.py --seeds)",
                 train_sweep(data_dir, work / "serial")),
                ("one after another, 1 thread (train.py --seeds --threads 1)",
                 train_sweep(data_dir, work / "serial1", "--threads", "1")),
                ("local Ray, 2 at a time, 1 thread each (train.py --seeds --jobs 2 --threads 1)",
                 train_sweep(data_dir, work / "ray", "--jobs", "2", "--threads", "1")),
                (f"process pool, 2 at a time, 1 thread each (search.py at {POOL_COMMIT})", pool_sweep(data_dir, work))]
    for name, (seconds, _) in ways:
        print(f"{name:<82} {seconds:7.1f} s")
    ray, pool = ways[2][1][0], ways[3][1][0]
    print(f"local Ray against the process pool: {ray / pool:.2f}x its wall time")
    one_thread = [numbers for _, (_, numbers) in ways[1:]]
    same = all(numbers == one_thread[0] for numbers in one_thread)
    print(f"every run's numbers the same with 1 thread, one after another, on Ray and on the pool: "
          f"{'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
