"""python -m reports: every table, log and picture of README.md and docs/, generated from the committed
results; or one run of your own, rendered on its own (no document touched, none of their pages imported).

Usage:
    python -m reports                        # results/ -> README.md, docs/*.md, assets/*.png, model1-4.py's Result
    python -m reports --check                # write nothing: say which blocks differ from results/; exit 1 if any
    python -m reports --data-dir ../shared/data   # MNIST for the pictures of mistakes (default: as train.py)
    python -m reports --run runs/model5-seed1     # one run of yours: its log and verdict, its pictures drawn
                                                  # into its folder
    python -m reports --weights              # results/runs/<model>-seed1/model.pt -> weights/ (after --record)
"""
import argparse
from pathlib import Path

from trainer.paths import ROOT


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m reports", description=(
        "Rewrite, from results/, the generated blocks of README.md, docs/frontier.md, docs/trials.md and "
        "docs/speed.md (between their <!-- NAME:start --> and <!-- NAME:end --> marks), the Result paragraph of "
        "model1-4.py's docstrings, the model files' pooled sweep summaries (results/runs/*-summary.json) "
        "and the pictures in assets/ (any other picture there is removed). With --check, write nothing; with "
        "--run, render one run of your own and touch none of them."))
    parser.add_argument("--results", default=str(ROOT / "results"), help="the committed results (default: results)")
    parser.add_argument("--root", default=str(ROOT), help="the folder holding README.md, docs/ and assets/ "
                        "(default: this repository)")
    parser.add_argument("--data-dir", help="MNIST, for the pictures of mistakes (default: $MNIST_DATA_DIR, else "
                        "./data; without it they keep their last drawing)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--check", action="store_true", help="write nothing; name each block that differs from "
                     "what results/ give, and exit 1 if any does")
    how.add_argument("--weights", action="store_true", help="copy each model file's default run's weights "
                     "(results/runs/<model>-seed1/model.pt, written by --record on this machine) into weights/, "
                     "each with a JSON file of where it came from")
    how.add_argument("--run", metavar="DIR", help="a folder train.py wrote (runs/model5-seed1): print its log and "
                     "verdict and draw its pictures into it; nothing else is written")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.run:
        from reports.run_log import (
            render_run,  # a run of one's own needs none of the documents' pages
        )
        return render_run(Path(args.run), args.data_dir)
    from reports.weights import stale_weights, write_weights
    if args.weights:
        return write_weights(Path(args.results), Path(args.root))
    from reports.report import regenerate
    status = regenerate(Path(args.results), Path(args.root), args.data_dir, args.check)
    stale = stale_weights(Path(args.results), Path(args.root)) if args.check else []
    for line in stale:
        print(line)
    return 1 if stale else status
