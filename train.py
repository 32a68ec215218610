"""Train and evaluate one of the MNIST experiments (model1, model2, model3).

Each model file carries its recipe (epochs, batch size, learning rate, schedule,
augmentation); flags override it. Every epoch writes an atomic checkpoint, so a run
that breaks costs at most one epoch.

Usage:
    python train.py --model model3 --data-dir ../shared/data            # the recipe, seed 1
    python train.py --model model3 --seeds 1,2,3,4,5                     # a seed sweep + summary
    python train.py --model model3 --epochs 2 --lr 0.05 --device cpu     # override the recipe
    python train.py --model model3 --dry-run                             # a few batches, smoke test
    python train.py --resume runs/model3-seed1/checkpoint.pt             # continue a broken run
    python train.py --eval runs/model3-seed1/best.pt                     # test saved weights

Outputs go to <out>/<model>-seed<seed>/: metrics.json, checkpoint.pt (after every
epoch), best.pt (best test epoch), model.pt (final weights) and plots.
"""
import argparse
import importlib
import itertools
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from data import DATA_DIR_ENV, DataError, TensorLoader, load_mnist, resolve_data_dir

MODELS = ("model1", "model2", "model3")
MAX_PARAMS = 8000
MAX_EPOCHS = 15
TARGET_ACCURACY = 99.40
LAST_EPOCHS = 5
EVAL_BATCH_SIZE = 2000
DRY_RUN_BATCHES = 3
PROGRESS_EVERY = 20  # batches between progress-bar updates: each one waits for the device


class UserError(Exception):
    """A problem the user can fix: reported in one line, exit status 1, no traceback."""


class CheckpointError(UserError):
    """A checkpoint that cannot be used: unreadable, finished, or written for another model."""


class TrainingError(UserError):
    """Training cannot go on (the loss stopped being finite)."""


def load_model_module(name):
    """Import a model file by name, only from the allowlist: a name is never a path."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return importlib.import_module(name)


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0 or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be above zero, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def seed_list(text):
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: give distinct seeds, e.g. 1,2,3")
    return seeds


def build_parser():
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train an MNIST experiment under the 8k-parameter, 15-epoch, 99.40% target.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", choices=MODELS, help="experiment to run (required unless --resume/--eval)")
    parser.add_argument("--epochs", type=positive(int), help="epochs (default: the model's recipe)")
    parser.add_argument("--batch-size", type=positive(int), help="batch size (default: the model's recipe)")
    parser.add_argument("--lr", type=positive(float), help="initial learning rate (default: recipe)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--seeds", type=seed_list, help="comma-separated seeds: one run each, then a summary")
    parser.add_argument("--data-dir", help=f"folder holding MNIST/raw (default: ${DATA_DIR_ENV} or ./data)")
    parser.add_argument("--no-download", action="store_true", help="never download MNIST")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="auto picks cuda, then mps, then cpu")
    parser.add_argument("--out", default="runs", help="folder for run outputs")
    parser.add_argument("--dry-run", action="store_true", help=f"{DRY_RUN_BATCHES} batches of training and "
                        "of testing, one epoch: a fast smoke run")
    parser.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint.pt")
    parser.add_argument("--eval", metavar="PATH", help="test the weights in this file and exit")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume and args.eval:
        parser.error("--resume and --eval do not go together")
    recipe_flags = [flag for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size),
                                             ("--lr", args.lr), ("--seeds", args.seeds)) if value is not None]
    if args.resume and recipe_flags:
        parser.error(f"--resume continues the run as it was saved; drop {', '.join(recipe_flags)}")
    if not (args.model or args.resume or args.eval):
        parser.error(f"--model is required; choose from {', '.join(MODELS)}")
    return args


def pick_device(name):
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here")
    if name == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps: no MPS device is available here")
    return torch.device(name)


def make_recipe(module, args):
    recipe = dict(module.RECIPE)
    for key in ("epochs", "batch_size", "lr"):
        if getattr(args, key) is not None:
            recipe[key] = getattr(args, key)
    return recipe


def make_optimizer(model, recipe):
    return torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
                           weight_decay=recipe.get("weight_decay", 0.0))


def make_scheduler(optimizer, recipe):
    """A per-epoch learning-rate schedule: constant, or multiplied by gamma at each milestone epoch."""
    name = recipe["schedule"]
    if name == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, recipe["milestones"], recipe["gamma"])
    if name == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    raise ValueError(f"unknown schedule {name!r} in the recipe")


def make_train_loader(images, labels, recipe, device, seed):
    """The recipe's training data: shuffled, augmented as the recipe says, drawn from a generator seeded by `seed`."""
    return TensorLoader(images, labels, recipe["batch_size"], device, shuffle=True, rotate=recipe.get("rotate", 0.0),
                        translate=recipe.get("translate", 0.0), scale=recipe.get("scale", 0.0), seed=seed)


def train_epoch(model, loader, optimizer, max_batches=None, progress=True):
    """One pass over the training data (any loader of (x, y) batches); returns mean loss and accuracy (%)."""
    model.train()
    device = next(model.parameters()).device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    total = min(len(loader), max_batches or len(loader))
    bar = tqdm(itertools.islice(loader, total), total=total, disable=not progress)
    for batch_id, (x, y) in enumerate(bar):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)  # no-ops for TensorLoader
        optimizer.zero_grad(set_to_none=True)
        output = model(x)
        loss = F.nll_loss(output, y)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(y)
        correct += (output.argmax(1) == y).sum()
        seen += len(y)
        last = batch_id + 1 == total
        # Reading numbers back waits for the device, so only every PROGRESS_EVERY batches;
        # a loss gone NaN or infinite shows in the running sum and stops the run there.
        if last or batch_id % PROGRESS_EVERY == 0:
            if not torch.isfinite(loss_sum):
                bar.close()
                raise TrainingError(f"the loss became {loss.item()} by batch {batch_id}")
            bar.set_description(f"Loss={loss.item():.4f} Batch_id={batch_id} "
                                f"Accuracy={100.0 * correct.item() / seen:.2f}")
    return {"train_loss": loss_sum.item() / seen, "train_accuracy": 100.0 * correct.item() / seen}


@torch.inference_mode()
def test(model, loader, max_batches=None):
    """Loss, correct count and predictions over the test loader (the whole set unless max_batches)."""
    model.eval()
    device = next(model.parameters()).device
    loss_sum, correct, predictions = 0.0, 0, []
    for x, y in itertools.islice(loader, max_batches):
        x, y = x.to(device), y.to(device)
        output = model(x)
        loss_sum += F.nll_loss(output, y, reduction="sum").item()
        predictions.append(output.argmax(1))
        correct += (predictions[-1] == y).sum().item()
    predictions = torch.cat(predictions).cpu()
    total = len(predictions)
    return {"test_loss": loss_sum / total, "test_correct": correct, "test_total": total,
            "test_accuracy": 100.0 * correct / total, "predictions": predictions}


def test_line(result):
    return (f"Test set: Average loss: {result['test_loss']:.4f}, Accuracy: {result['test_correct']}/"
            f"{result['test_total']} ({result['test_accuracy']:.2f}%)")


def target_met(params, metrics):
    """Judge a run against the three constraints; returns (met, verdict line)."""
    last = metrics[-LAST_EPOCHS:]
    # Integers, not floats: 99.40% of 10,000 images is 9,940 correct (99.4 * 10000 is 994000.0000000001).
    accurate = len(last) == LAST_EPOCHS and all(
        m["test_correct"] * 10_000 >= round(TARGET_ACCURACY * 100) * m["test_total"] for m in last)
    small, short = params <= MAX_PARAMS, len(metrics) <= MAX_EPOCHS
    accuracies = " ".join(f"{m['test_accuracy']:.2f}" for m in last)
    verdict = (f"TARGET {'MET' if small and short and accurate else 'MISSED'}: "
               f"{params:,} params {'<=' if small else '>'} {MAX_PARAMS:,}; "
               f"{len(metrics)} epochs {'<=' if short else '>'} {MAX_EPOCHS}; "
               f"last {LAST_EPOCHS} epochs {accuracies} {'>=' if accurate else '<'} {TARGET_ACCURACY:.2f}")
    return small and short and accurate, verdict


def min_last(metrics):
    return min(m["test_accuracy"] for m in metrics[-LAST_EPOCHS:])


def write_atomic(path, write):
    """write(temporary path), then os.replace: a crash mid-write leaves the old file whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_atomic(obj, path):
    write_atomic(path, lambda tmp: torch.save(obj, tmp))


def write_json(obj, path):
    write_atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2) + "\n"))


def load_checkpoint(path, model_name=None):
    """Read a file written by this script (weights only: a checkpoint is data, never code)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as err:  # torch's own text would suggest weights_only=False: never for a file we are handed
        raise CheckpointError(f"{path}: not a readable checkpoint written by train.py "
                              f"({type(err).__name__})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "model_state" not in ckpt:
        raise CheckpointError(f"{path}: not a checkpoint written by train.py (no model name and weights)")
    if model_name and ckpt["model"] != model_name:
        raise CheckpointError(f"{path} holds {ckpt['model']} weights, not {model_name}")
    return ckpt


def build_model(name, state=None, device="cpu"):
    model = load_model_module(name).Net()
    if state is not None:
        try:
            model.load_state_dict(state)
        except RuntimeError as err:  # the last line names the first mismatched tensor
            raise CheckpointError(f"the saved weights do not fit {name}.Net "
                                  f"({str(err).strip().splitlines()[-1].strip()})") from None
    return model.to(device)


def set_determinism(device):
    """Same seed, same device: the same numbers. Exact on CPU; on CUDA with deterministic kernels."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)


def print_summary(name, device):
    from torchsummary import summary
    # torchsummary runs a forward pass in train mode: give it a throwaway copy, off the seeded RNG.
    # torchsummary knows only "cuda" and "cpu": an MPS run shows the summary on the CPU.
    where = device.type if device.type in ("cpu", "cuda") else "cpu"
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        summary(build_model(name, device=where), (1, 28, 28), device=where)


def rng_state(train_loader, device):
    state = {"torch": torch.get_rng_state(), "data": train_loader.generator.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state, train_loader, device):
    torch.set_rng_state(state["torch"])
    train_loader.generator.set_state(state["data"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"])


def train_run(name, recipe, seed, data, device, run_dir, dry_run=False, resume=None, run_args=None):
    """Train one seed of one experiment; returns the run's record (also written to metrics.json)."""
    (train_x, train_y), (test_x, test_y) = data
    torch.manual_seed(seed)
    model = build_model(name, device=device)
    params = count_params(model)
    train_loader = make_train_loader(train_x, train_y, recipe, device, seed)
    test_loader = TensorLoader(test_x, test_y, EVAL_BATCH_SIZE, device)
    optimizer = make_optimizer(model, recipe)
    scheduler = make_scheduler(optimizer, recipe)
    epochs = 1 if dry_run else recipe["epochs"]
    max_batches = DRY_RUN_BATCHES if dry_run else None

    metrics, start = [], 0
    if resume is not None:
        model.load_state_dict(resume["model_state"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        set_rng_state(resume["rng"], train_loader, device)
        metrics, start = resume["metrics"], resume["epoch"]
        print(f"Resuming {name} seed {seed} after epoch {start} of {epochs}")

    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / "checkpoint.pt"
    record = {"model": name, "seed": seed, "params": params, "device": str(device), "recipe": recipe,
              "dry_run": dry_run, "epochs": metrics}
    best = max((m["test_accuracy"] for m in metrics), default=-1.0)
    try:
        for epoch in range(start + 1, epochs + 1):
            print(f"EPOCH: {epoch}")
            lr = optimizer.param_groups[0]["lr"]
            began = time.perf_counter()
            row = train_epoch(model, train_loader, optimizer, max_batches)
            scheduler.step()
            result = test(model, test_loader, max_batches)
            print(test_line(result))
            predictions = result.pop("predictions")
            metrics.append({"epoch": epoch, **row, **result, "lr": lr,
                            "seconds": round(time.perf_counter() - began, 2)})
            weights = {"model": name, "params": params, "epoch": epoch,
                       "test_accuracy": result["test_accuracy"], "model_state": model.state_dict()}
            if result["test_accuracy"] > best:
                best = result["test_accuracy"]
                save_atomic(weights, run_dir / "best.pt")
            save_atomic({**weights, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                         "rng": rng_state(train_loader, device), "metrics": metrics, "seed": seed,
                         "recipe": recipe, "args": run_args or {}, "dry_run": dry_run}, checkpoint_path)
            write_json(record, run_dir / "metrics.json")
    except TrainingError as err:
        where = f"the last good checkpoint is {checkpoint_path}" if metrics else "no checkpoint was written"
        raise TrainingError(f"{name} seed {seed}, epoch {len(metrics) + 1}: {err}; stopped, {where}") from None
    except KeyboardInterrupt:
        if metrics:
            print(f"\nInterrupted. The checkpoint of epoch {len(metrics)} is {checkpoint_path}; "
                  f"continue with: python train.py --resume {checkpoint_path}")
        else:
            print("\nInterrupted before the first epoch ended: no checkpoint was written.")
        raise

    save_atomic(weights, run_dir / "model.pt")  # the last epoch's weights
    if dry_run:
        print(f"Dry run: {DRY_RUN_BATCHES} batches trained and tested; no verdict.")
    else:
        record["target_met"], verdict = target_met(params, metrics)
        print(verdict)
    write_json(record, run_dir / "metrics.json")
    save_plots(record, test_x, test_y, predictions, run_dir)
    return record


def save_plots(record, test_x, test_y, predictions, run_dir):
    """Plots are a bonus: if they fail, say so in one line and keep the metrics."""
    try:
        import report
        report.save_run_plots(record, test_x, test_y[:len(predictions)], predictions, run_dir)
    except Exception as err:
        print(f"Plots skipped ({type(err).__name__}: {err})")


def summarize(name, records, out):
    """Print the per-seed table and mean +- std, and write <out>/<model>-summary.json."""
    rows = [{"seed": r["seed"], "best": max(m["test_accuracy"] for m in r["epochs"]),
             "min_last": min_last(r["epochs"]), "target_met": r["target_met"],
             "seconds": round(sum(m["seconds"] for m in r["epochs"]), 1)} for r in records]
    stats = {}
    for key in ("best", "min_last"):
        values = [row[key] for row in rows]
        stats[key] = {"mean": statistics.fmean(values),
                      "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    met = sum(row["target_met"] for row in rows)
    print(f"\n{name}: {len(rows)} seeds")
    print(f"{'seed':>6} {'best %':>8} {f'min last {LAST_EPOCHS} %':>14} {'target':>7} {'seconds':>8}")
    for row in rows:
        print(f"{row['seed']:>6} {row['best']:>8.2f} {row['min_last']:>14.2f} "
              f"{'met' if row['target_met'] else 'MISSED':>7} {row['seconds']:>8.1f}")
    print(f"{'mean':>6} {stats['best']['mean']:>8.2f} {stats['min_last']['mean']:>14.2f}")
    print(f"{'std':>6} {stats['best']['std']:>8.2f} {stats['min_last']['std']:>14.2f}")
    print(f"target met on {met}/{len(rows)} seeds")
    summary = {"model": name, "params": records[0]["params"], "recipe": records[0]["recipe"],
               "seeds": rows, "best": stats["best"], "min_last": stats["min_last"],
               "target_met": met, "runs": len(rows)}
    write_json(summary, Path(out) / f"{name}-summary.json")
    return summary


def evaluate_file(path, args, device):
    ckpt = load_checkpoint(path, args.model)
    model = build_model(ckpt["model"], ckpt["model_state"], device)
    _, (test_x, test_y) = load_mnist(resolve_data_dir(args.data_dir), download=not args.no_download)
    result = test(model, TensorLoader(test_x, test_y, EVAL_BATCH_SIZE, device))
    print(f"{ckpt['model']} ({count_params(model):,} params) from {path}")
    print(test_line(result))


def run(args):
    device = pick_device(args.device)
    set_determinism(device)
    if args.eval:
        return evaluate_file(args.eval, args, device)

    resume = None
    if args.resume:
        resume = load_checkpoint(args.resume, args.model)
        if "optimizer" not in resume:
            raise CheckpointError(f"{args.resume} holds weights only; --resume needs a checkpoint.pt")
        name, recipe, dry_run = resume["model"], resume["recipe"], resume.get("dry_run", False)
        if resume["epoch"] >= (1 if dry_run else recipe["epochs"]):
            raise CheckpointError(f"{args.resume}: the run already finished its epochs; test it with --eval")
        data_dir = resolve_data_dir(args.data_dir or resume["args"].get("data_dir"))
        runs = [(resume["seed"], Path(args.resume).parent)]  # continue in place
    else:
        name, dry_run = args.model, args.dry_run
        recipe = make_recipe(load_model_module(name), args)
        data_dir = resolve_data_dir(args.data_dir)
        runs = [(seed, Path(args.out) / f"{name}-seed{seed}") for seed in args.seeds or [args.seed]]

    print(f"{name} on {device}; recipe: {json.dumps(recipe)}")
    print_summary(name, device)
    data = load_mnist(data_dir, download=not args.no_download)
    run_args = {**vars(args), "data_dir": str(data_dir)}
    records = [train_run(name, recipe, seed, data, device, run_dir, dry_run, resume, run_args)
               for seed, run_dir in runs]
    if len(records) > 1 and not dry_run:
        summarize(name, records, args.out)


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except (DataError, UserError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
