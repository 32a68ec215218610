"""Command-line flags shared by train.py and the lab's scripts: numbers, seed lists, how a sweep spreads."""
import argparse
import math
import re
from collections.abc import Callable


def positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a number of `kind` above zero and finite."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0 or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be above zero, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def seed_list(text: str) -> list[int]:
    """'1001-1010' or '1,2,7-9': seeds listed, ranges inclusive; each seed once."""
    seeds: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match[2] and int(match[2]) < int(match[1])):
            raise argparse.ArgumentTypeError(f"{text!r}: give seeds and ranges, e.g. 1001-1010 or 1,2,7-9")
        seeds += range(int(match[1]), int(match[2] or match[1]) + 1)
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is given twice")
    return seeds


def gpu_share_of(text: str) -> float:
    """A share of a GPU as Ray takes it: above 0, and a whole number of GPUs above 1."""
    share = positive(float)(text)
    if share > 1 and not share.is_integer():
        raise argparse.ArgumentTypeError(f"a share above 1 must be a whole number of GPUs, not {text}")
    return share


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    """--jobs, --threads, --address, --no-auth, --gpus-per-run: how a sweep's runs are spread (train.py, the
    search and the plain loop)."""
    parser.add_argument("--jobs", type=positive(int), help="runs at a time on a local Ray instance (default: one "
                        "after another in this process, no Ray)")
    parser.add_argument("--threads", type=positive(int), help="torch threads per run (default: the cores, "
                        "divided by --jobs)")
    parser.add_argument("--address", help="run on the Ray cluster at this address (auto, or HOST:PORT; default: "
                        "$RAY_ADDRESS if set); only on one that demands a token (RAY_AUTH_MODE=token)")
    parser.add_argument("--no-auth", action="store_true", help="with --address: use a cluster that lets in clients "
                        "without a token all the same (anyone who reaches it can run code on its machines)")
    parser.add_argument("--gpus-per-run", type=gpu_share_of, default=0.0, metavar="F",
                        help="the share of a GPU each run takes on Ray (0.05: twenty runs to a GPU)")
