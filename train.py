"""Train and evaluate one of the MNIST experiments: any model*.py file beside this script.

Each model file carries its recipe (recipe.py lists every key); flags override it. Every epoch
writes an atomic checkpoint, so a run that breaks costs at most one epoch.

Usage:
    python train.py --model model3                                       # the recipe, seed 1
    python train.py --model model3 --seeds 1001-1010                     # a seed sweep + summary; run
                                          # again, it reuses the finished seeds and continues a broken one
    python train.py --model model4 --seeds 1-20 --jobs 2 --threads 1     # two seeds at a time (local Ray)
    python train.py --model model4 --seeds 1-20 --address auto           # on a running Ray cluster
    python train.py --model model3 --epochs 2 --lr 0.05 --set ema=null   # override the recipe
    python train.py --model model3 --dry-run                             # a few batches, smoke test
    python train.py --model model4 --seeds 6001-6010 --record            # into results/: the evidence
    python train.py --resume runs/model3-seed1/checkpoint.pt             # continue a broken run
    python train.py --eval runs/model3-seed1/best.pt                     # test saved weights
    python train.py --eval weights/model4.pt                             # the committed weights of model4
    python train.py --export weights/model4.pt                           # ONNX, float32 and int8: runs/model4-onnx
    python train.py --model model4 --seeds 7101-7110 --int8              # the int8 hold rate beside the float one
    python train.py --recipe-help                                        # every recipe key

Outputs go to <out>/<model>-seed<seed>/ (default runs/, which git ignores): metrics.json, checkpoint.pt
(after every epoch), best.pt (best test epoch), model.pt (final weights) and plots.
"""
import argparse
import json
import sys
from pathlib import Path

import torch

from data import DATA_DIR_ENV, DataError, TensorLoader, load_mnist, resolve_data_dir
from trainer import recipe as recipes
from trainer.checkpoints import CheckpointError, load_checkpoint
from trainer.engine import (
    EVAL_BATCH_SIZE,
    Options,
    UserError,
    check_net,
    count_params,
    evaluate,
    pick_device,
    set_determinism,
    test_line,
)
from trainer.experiments import Experiment, import_model_file, load_experiment, model_names, model_path
from trainer.flags import add_sweep_flags, positive, seed_list
from trainer.provenance import provenance, saved_run_differs
from trainer.records import evidence_path, finished_record
from trainer.runs import sweep, train_seed


def recipe_setting(text):
    """KEY=VALUE, the value in JSON (10, 0.02, [7, 10], null); a bare word is taken as a string."""
    key, sep, value = text.partition("=")
    if not sep or key not in recipes.SCHEMA:
        raise argparse.ArgumentTypeError(f"{text!r}: give KEY=VALUE with a recipe key; valid keys: "
                                         f"{', '.join(recipes.SCHEMA)}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python train.py",
        description="Train an MNIST experiment under the 8k-parameter, 15-epoch, 99.40% target.")
    parser.add_argument("--model", choices=model_names(), help="experiment to run (required unless --resume/--eval)")
    parser.add_argument("--epochs", type=positive(int), help="epochs (default: the model's recipe)")
    parser.add_argument("--batch-size", type=positive(int), help="batch size (default: the model's recipe)")
    parser.add_argument("--lr", type=positive(float), help="peak learning rate (default: the model's recipe)")
    parser.add_argument("--set", type=recipe_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="set any recipe key, the value in JSON (--set anneal_end=10); see --recipe-help")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, help="random seed (default: 1)")
    seeds.add_argument("--seeds", type=seed_list, help="seeds and ranges (1001-1010, 1,2,7-9): one run each, "
                       "then a summary")
    parser.add_argument("--fresh", action="store_true", help="with --seeds: train every seed from scratch, "
                        "even those whose runs in --out finished or can be continued")
    add_sweep_flags(parser)
    parser.add_argument("--data-dir", help=f"folder holding MNIST/raw (default: ${DATA_DIR_ENV}, else ./data)")
    parser.add_argument("--no-download", action="store_true", help="never download MNIST")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="auto (the default) picks cuda, then mps, then cpu")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--out", default="runs", help="folder for run outputs (default: runs, which git ignores)")
    out.add_argument("--record", action="store_true", help="write into results/runs (on CUDA results/runs-cuda), "
                     "the committed evidence python -m reports renders, instead of --out: for a run meant to change it")
    parser.add_argument("--no-cuda-graph", "--eager", dest="eager", action="store_true",
                        help="on CUDA, run each training step operation by operation instead of replaying it as "
                             "a captured CUDA graph (the same numbers, slower; for debugging a changed model)")
    parser.add_argument("--dry-run", action="store_true", help="3 batches of training and of testing, one epoch: "
                        "a fast smoke run")
    parser.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint.pt")
    parser.add_argument("--eval", metavar="PATH", help="test the weights in this file and exit")
    parser.add_argument("--export", metavar="PATH", help="write the weights in this file (or a run folder's "
                        "model.pt) as ONNX, float32 and int8, into <out>/<model>-onnx, score both with onnxruntime "
                        "and exit (the export extra: pip install -e '.[export]')")
    parser.add_argument("--int8", action="store_true", help="after training, test each of the last 5 epochs' weights "
                        "through the int8 ONNX file --export writes, and keep those accuracies in the record (the "
                        "export extra); the float numbers stay what they are")
    parser.add_argument("--recipe-help", action="store_true", help="list every recipe key, its default and "
                        "meaning, and exit")
    return parser


TRAINING_FLAGS = (("--epochs", "epochs"), ("--batch-size", "batch_size"), ("--lr", "lr"), ("--set", "set"),
                  ("--seed", "seed"), ("--seeds", "seeds"), ("--fresh", "fresh"), ("--dry-run", "dry_run"),
                  ("--record", "record"), ("--int8", "int8"))


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    given = [flag for flag, key in TRAINING_FLAGS if getattr(args, key) not in (None, False, [])]
    if args.recipe_help:
        return args
    alone = [flag for flag, key in (("--resume", "resume"), ("--eval", "eval"), ("--export", "export"))
             if getattr(args, key)]
    if len(alone) > 1:
        parser.error(f"{' and '.join(alone)} do not go together")
    if (args.eval or args.export) and given:
        parser.error(f"{alone[0]} only reads saved weights; drop {', '.join(given)}")
    if args.resume and given:
        parser.error(f"--resume continues the run as it was saved; drop {', '.join(given)}")
    if args.fresh and not args.seeds:
        parser.error("--fresh goes with --seeds (a single run always trains from scratch)")
    if args.record and args.dry_run:
        parser.error("--record keeps evidence, and a --dry-run is none")
    ray_flags = [flag for flag, key in (("--jobs", "jobs"), ("--address", "address"), ("--no-auth", "no_auth"),
                                        ("--gpus-per-run", "gpus_per_run")) if getattr(args, key)]
    if ray_flags and not args.seeds:
        parser.error(f"{', '.join(ray_flags)}: for the runs of a sweep (--seeds); a single run never starts Ray")
    if not (args.model or args.resume or args.eval or args.export):
        parser.error(f"--model is required; choose from {', '.join(model_names())}")
    if args.seed is None:
        args.seed = 1
    return args


def show_net(experiment, device):
    """Check the experiment's net once, naming its file, and print torchsummary's table of it. The net is a
    throwaway built off the seeded stream (torchsummary runs a forward pass in train mode); the run builds
    its own. torchsummary knows only "cuda" and "cpu": an MPS run shows the summary on the CPU."""
    from torchsummary import summary
    where = device.type if device.type in ("cpu", "cuda") else "cpu"
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        net = experiment.make_net()
        check_net(net, f"{experiment.model_file}: Net()")
        summary(net.to(where), (1, 28, 28), device=where)


def evaluate_file(path, args, device):
    from trainer.export import load_trained
    ckpt, _, model = load_trained(path)  # refused if the model file changed since these weights were trained
    if args.model and ckpt["model"] != args.model:
        raise CheckpointError(f"{path} holds {ckpt['model']} weights, not {args.model}")
    _, (test_x, test_y) = load_mnist(resolve_data_dir(args.data_dir), download=not args.no_download)
    result = evaluate(model.to(device), TensorLoader(test_x, test_y, EVAL_BATCH_SIZE, device))
    print(f"{ckpt['model']} ({count_params(model):,} params) from {path}")
    print(test_line(result))


def export_file(path, args):
    from trainer.export import export, export_lines
    onnx_ready()  # a missing extra is said before MNIST is read
    data = load_mnist(resolve_data_dir(args.data_dir), download=not args.no_download)
    report, out = export(path, args.out, data)
    print("\n".join(export_lines(report, out)))


def onnx_ready():
    from trainer.export import onnx_modules
    onnx_modules()


def resumed_run(args, device):
    """(experiment, checkpoint, data folder, dry run) of the run that --resume continues: only the same
    experiment (model file, training code, torch, device, CPU type, threads), or its numbers would mix."""
    resume = load_checkpoint(args.resume, args.model)
    if "optimizer" not in resume:
        raise CheckpointError(f"{args.resume} holds weights only; --resume needs a checkpoint.pt")
    dry_run = resume.get("dry_run", False)
    recipe = recipes.complete(resume["recipe"], source=f"{args.resume}: its recipe")
    if resume["epoch"] >= (1 if dry_run else recipe["epochs"]) and finished_record(Path(args.resume).parent):
        raise CheckpointError(f"{args.resume}: the run already finished its epochs; test it with --eval")
    why = saved_run_differs({**resume, "dry_run": False}, recipe, resume["seed"],
                            provenance(model_path(resume["model"]), device))
    if why:
        raise CheckpointError(f"{args.resume} cannot go on here: {why}; train it again instead")
    name = resume["model"]
    experiment = Experiment(name, import_model_file(name).Net, recipe, model_path(name))
    return experiment, resume, resolve_data_dir(args.data_dir or resume["args"].get("data_dir")), dry_run


def new_experiment(args):
    """The experiment --model names, its recipe with the flags' overrides, completed once."""
    flags = {key: getattr(args, key) for key in ("epochs", "batch_size", "lr") if getattr(args, key) is not None}
    return load_experiment(args.model, {**dict(args.set), **flags})


def run(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    set_determinism(device)
    if args.eval:
        return evaluate_file(args.eval, args, device)
    if args.export:
        return export_file(args.export, args)
    if args.resume:
        experiment, resume, data_dir, dry_run = resumed_run(args, device)
        runs = [(resume["seed"], Path(args.resume).parent)]  # continue in place
    else:
        experiment, resume, data_dir, dry_run = new_experiment(args), None, resolve_data_dir(args.data_dir), \
            args.dry_run
        args.out = str(evidence_path("runs", device)) if args.record else args.out
        dry = "-dry" if args.dry_run else ""  # a smoke run never overwrites a real run's files
        runs = [(seed, Path(args.out) / f"{args.model}-seed{seed}{dry}") for seed in args.seeds or [args.seed]]
    if args.int8:
        onnx_ready()  # said before anything trains
    options = Options(device=device, cuda_graph=not args.eager, dry_run=dry_run)
    data = load_mnist(data_dir, download=not args.no_download)  # a data error before anything long is printed

    print(f"{experiment.name} on {device}; recipe: {json.dumps(experiment.recipe)}")
    show_net(experiment, device)
    run_args = {**vars(args), "data_dir": str(data_dir)}
    if not args.seeds:
        return train_seed(experiment, runs[0][0], data, runs[0][1], options, resume=resume, run_args=run_args)
    failures = sweep(experiment, runs, data, options, args, run_args)
    if failures:
        raise UserError(f"{failures} of {len(runs)} runs failed (each said why above); the same command runs "
                        f"them again and reuses the rest")


def main(argv=None):
    args = parse_args(argv)
    if args.recipe_help:
        print(recipes.help_text())
        return 0
    try:
        run(args)
    except (DataError, UserError, recipes.RecipeError) as err:  # each says what to do in its one line
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
