"""Train and evaluate one of the MNIST experiments: any model*.py file beside this script.

Each model file carries its recipe (epochs, batch size, learning rate, schedule,
augmentation); flags override it. Every epoch writes an atomic checkpoint, so a run
that breaks costs at most one epoch.

Usage:
    python train.py --model model3 --data-dir ../shared/data            # the recipe, seed 1
    python train.py --model model3 --seeds 1001-1010                     # a seed sweep + summary; run
                                          # again, it reuses the finished seeds and continues a broken one
    python train.py --model model3 --epochs 2 --lr 0.05 --device cpu     # override the recipe
    python train.py --model model3 --dry-run                             # a few batches, smoke test
    python train.py --resume runs/model3-seed1/checkpoint.pt             # continue a broken run
    python train.py --eval runs/model3-seed1/best.pt                     # test saved weights

Outputs go to <out>/<model>-seed<seed>/: metrics.json, checkpoint.pt (after every
epoch), best.pt (best test epoch), model.pt (final weights) and plots.
"""
import argparse
import copy
import functools
import hashlib
import importlib.util
import itertools
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from data import DATA_DIR_ENV, DataError, TensorLoader, load_mnist, resolve_data_dir

HERE = Path(__file__).resolve().parent
MODEL_NAME = re.compile(r"model\w*")  # model1, model4, model_wide: names, never paths
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


def model_names():
    """The experiments: the model*.py files beside train.py, by name (model10 after model9)."""
    names = [path.stem for path in HERE.glob("model*.py") if MODEL_NAME.fullmatch(path.stem)]
    return sorted(names, key=lambda name: [int(part) if part.isdigit() else part
                                           for part in re.split(r"(\d+)", name)])


def load_model_module(name):
    """Import the model file `name` from beside train.py; anything not listed is refused unimported."""
    names = model_names()
    if name not in names:
        raise UserError(f"unknown model {name!r}; valid models: {', '.join(names)}")
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    """'1001-1010' or '1,2,7-9': seeds listed, ranges inclusive; each seed once."""
    seeds = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match[2] and int(match[2]) < int(match[1])):
            raise argparse.ArgumentTypeError(f"{text!r}: give seeds and ranges, e.g. 1001-1010 or 1,2,7-9")
        seeds += range(int(match[1]), int(match[2] or match[1]) + 1)
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r}: a seed is given twice")
    return seeds


def build_parser():
    models = model_names()
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train an MNIST experiment under the 8k-parameter, 15-epoch, 99.40% target.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", choices=models, help="experiment to run (required unless --resume/--eval)")
    parser.add_argument("--epochs", type=positive(int), help="epochs (default: the model's recipe)")
    parser.add_argument("--batch-size", type=positive(int), help="batch size (default: the model's recipe)")
    parser.add_argument("--lr", type=positive(float), help="initial learning rate (default: recipe)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--seeds", type=seed_list, help="seeds and ranges (1001-1010, 1,2,7-9): one run each, "
                        "then a summary")
    parser.add_argument("--fresh", action="store_true", help="with --seeds: train every seed from scratch, "
                        "even those whose runs in --out finished or can be continued")
    parser.add_argument("--data-dir", help=f"folder holding MNIST/raw (default: ${DATA_DIR_ENV} or ./data)")
    parser.add_argument("--no-download", action="store_true", help="never download MNIST")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                        help="auto picks cuda, then mps, then cpu")
    parser.add_argument("--out", default="runs", help="folder for run outputs")
    parser.add_argument("--eager", action="store_true", help="on CUDA, launch each operation of a training "
                        "step as it comes instead of replaying the step as a CUDA graph (the same numbers, "
                        "slower; for debugging a changed model)")
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
    if args.fresh and not args.seeds:
        parser.error("--fresh goes with --seeds (a single run always trains from scratch)")
    if not (args.model or args.resume or args.eval):
        parser.error(f"--model is required; choose from {', '.join(model_names())}")
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


def lr_factor(recipe, epoch):
    """The recipe's learning rate, as a fraction of its `lr`, at `epoch` (fractional: batches count).

    constant; multistep: times gamma after each milestone epoch; cosine: a linear warm-up over
    `warmup` epochs (if any), then half a cosine down to `floor` (default 0) at the end of epoch
    `anneal_end` (default: the last), then `floor` until the end.
    """
    name = recipe["schedule"]
    if name == "constant":
        return 1.0
    if name == "multistep":
        return recipe["gamma"] ** sum(epoch >= milestone for milestone in recipe["milestones"])
    if name == "cosine":
        warmup = min(recipe.get("warmup", 0), recipe["epochs"] / 2)  # at most half of a short run
        if epoch < warmup:
            return 0.04 + 0.96 * epoch / warmup  # from lr/25, as torch's OneCycleLR starts
        end, floor = min(recipe.get("anneal_end", recipe["epochs"]), recipe["epochs"]), recipe.get("floor", 0.0)
        if epoch >= end:
            return floor
        # The angle in this order of operations, so that without anneal_end and floor every rate is the
        # plain cosine's to the last bit.
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / (end - warmup)))
    raise ValueError(f"unknown schedule {name!r} in the recipe")


def augment_strength(recipe, epoch):
    """The share of the recipe's augmentation that epoch `epoch` (1, 2, ...) gets: all of it, unless the
    recipe fades it (`augment_fade`: [first, last]: all before epoch `first`, none from epoch `last` on,
    linear between), so that the last epochs train on images like the test set's."""
    if "augment_fade" not in recipe:
        return 1.0
    first, last = recipe["augment_fade"]
    return min(1.0, max(0.0, (last - epoch) / (last - first)))


def make_scheduler(optimizer, recipe, batches_per_epoch):
    """The recipe's schedule, stepped after every batch."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(recipe, step / batches_per_epoch))


def make_train_loader(images, labels, recipe, device, seed):
    """The recipe's training data: shuffled, augmented as the recipe says, drawn from a generator seeded by `seed`."""
    return TensorLoader(images, labels, recipe["batch_size"], device, shuffle=True, rotate=recipe.get("rotate", 0.0),
                        translate=recipe.get("translate", 0.0), scale=recipe.get("scale", 0.0), seed=seed)


class WeightAverage:
    """An exponential moving average of a model's weights and BatchNorm statistics, updated after
    every step; when the recipe asks for one (`ema`: the decay per step), it is the net that is tested
    and saved. One foreach call per step: on a GPU a kernel per tensor would cost more than the net."""

    def __init__(self, model, decay):
        self.model, self.decay = copy.deepcopy(model), decay
        pairs = list(zip(self.model.state_dict(keep_vars=True).values(), model.state_dict(keep_vars=True).values()))
        self.floats = ([m for m, _ in pairs if m.is_floating_point()], [t for _, t in pairs if t.is_floating_point()])
        self.counts = ([m for m, _ in pairs if not m.is_floating_point()],
                       [t for _, t in pairs if not t.is_floating_point()])

    @torch.no_grad()
    def update(self):
        """Move the average towards the weights it was made from (tensors it holds since __init__)."""
        if self.floats[0]:  # foreach calls refuse empty lists
            torch._foreach_lerp_(*self.floats, 1 - self.decay)
        if self.counts[0]:
            torch._foreach_copy_(*self.counts)


def forward_backward(model, x, y, label_smoothing):
    """Loss and output of one batch, its gradients left in the parameters' .grad."""
    output = model(x)
    # The nets output log-probabilities, which log_softmax leaves as they are: cross-entropy on them is
    # the NLL loss, with label smoothing when the recipe asks for it.
    loss = F.cross_entropy(output, y, label_smoothing=label_smoothing)
    loss.backward()
    return loss, output


class GraphedStep:
    """On CUDA, the forward and backward pass of a full batch, captured once as a CUDA graph and then
    replayed: one launch a batch in place of some fifty, whose launching, not the GPU's work, was what
    a batch cost (README, GPU). The same kernels on the same data: the numbers are those of the eager
    step. The first WARMUP batches run eagerly (they ready cuDNN and the allocator, as capturing needs),
    and so does any batch of another size (an epoch's last); every pass, eager or captured, runs on the
    step's own stream, as autograd wants of the nodes that the graph keeps. A net that cannot be
    captured (one that reads a number back in its forward pass, say) trains eagerly."""

    WARMUP = 3

    def __init__(self, model, label_smoothing=0.0):
        self.model, self.label_smoothing = model, label_smoothing
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.stream = torch.cuda.Stream()
        self.graph, self.warmed, self.capturable = None, 0, True

    def __call__(self, x, y):
        if self.graph is None and self.capturable and self.warmed >= self.WARMUP:
            self.capture(x, y)
        if self.graph is not None and x.shape == self.x.shape:
            self.x.copy_(x)
            self.y.copy_(y)
            self.graph.replay()
            for p, grad in zip(self.params, self.grads):  # an eager batch since may have rebound them
                p.grad = grad
            return self.loss, self.output
        for p in self.params:
            p.grad = None
        self.warmed += 1
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            result = forward_backward(self.model, x, y, self.label_smoothing)
        torch.cuda.current_stream().wait_stream(self.stream)
        return result

    def capture(self, x, y):
        """Record the step on static tensors (recording runs nothing: the caller replays it). Gradients
        are unset before, so the graph writes them afresh each replay instead of adding to them."""
        self.x, self.y = x.clone(), y.clone()
        for p in self.params:
            p.grad = None
        self.graph = torch.cuda.CUDAGraph()
        self.stream.wait_stream(torch.cuda.current_stream())
        try:
            with torch.cuda.graph(self.graph, stream=self.stream):
                self.loss, self.output = forward_backward(self.model, self.x, self.y, self.label_smoothing)
        except RuntimeError as err:
            self.graph, self.capturable = None, False
            for p in self.params:
                p.grad = None
            print(f"The training step cannot be captured as a CUDA graph ({str(err).strip().splitlines()[0]}); "
                  f"it runs eagerly.")
            return
        self.grads = [p.grad for p in self.params]


def make_step(model, recipe, device, eager=False):
    """The training step's forward and backward pass: a GraphedStep on CUDA unless `eager`, else None
    (train_epoch's eager code)."""
    return GraphedStep(model, recipe.get("label_smoothing", 0.0)) if device.type == "cuda" and not eager else None


def train_epoch(model, loader, optimizer, scheduler, label_smoothing=0.0, max_batches=None, progress=True,
                average=None, step=None):
    """One pass over the training data (any loader of (x, y) batches), stepping the schedule (and the
    weight average, if any) after each batch; returns mean loss and accuracy (%). `step`, a GraphedStep
    of this model on CUDA, does each batch's forward and backward pass in place of the eager code."""
    model.train()
    device = next(model.parameters()).device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    total = min(len(loader), max_batches or len(loader))
    bar = tqdm(itertools.islice(loader, total), total=total, disable=not progress)
    for batch_id, (x, y) in enumerate(bar):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)  # no-ops for TensorLoader
        if step is None:
            optimizer.zero_grad(set_to_none=True)
            loss, output = forward_backward(model, x, y, label_smoothing)
        else:
            loss, output = step(x, y)
        optimizer.step()
        scheduler.step()
        if average is not None:
            average.update()
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
    """Loss, correct count and predictions over the test loader (the whole set unless max_batches).

    Sums stay on the device until the end: one wait for the device per test pass, not one per batch."""
    model.eval()
    device = next(model.parameters()).device
    loss_sum, labels, predictions = torch.zeros((), dtype=torch.float64, device=device), [], []
    for x, y in itertools.islice(loader, max_batches):
        x, y = x.to(device), y.to(device)
        output = model(x)
        loss_sum += F.nll_loss(output, y, reduction="sum")
        predictions.append(output.argmax(1))
        labels.append(y)
    predictions = torch.cat(predictions)
    correct = int((predictions == torch.cat(labels)).sum())
    total = len(predictions)
    return {"test_loss": loss_sum.item() / total, "test_correct": correct, "test_total": total,
            "test_accuracy": 100.0 * correct / total, "predictions": predictions.cpu()}


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


def build_model(name, state=None, device="cpu", make_net=None):
    """`name`'s Net (or make_net(), for nets that have no model file), with `state` loaded if given."""
    model = make_net() if make_net else load_model_module(name).Net()
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


def sha256(*paths):
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


@functools.cache
def git_state():
    """(commit, dirty) of the git checkout holding train.py; (None, None) outside one or without git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=HERE, capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None, None
    if commit.returncode or status.returncode:
        return None, None
    return commit.stdout.strip(), bool(status.stdout.strip())


@functools.cache
def device_name(device):
    """The GPU's or CPU's model, not just its type: runs on other hardware give other numbers."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def code_sha256():
    """The hash of train.py and data.py, read once: the code this process runs, even if the files change."""
    return sha256(HERE / "train.py", HERE / "data.py")


def provenance(name, device, has_file=True):
    """Where a run comes from, recorded in its metrics, checkpoints and sweep summary. A net without a
    model file (search.py's) has no file hash."""
    commit, dirty = git_state()
    return {"model_sha256": sha256(HERE / f"{name}.py") if has_file else None, "code_sha256": code_sha256(),
            "git_commit": commit, "git_dirty": dirty, "torch": str(torch.__version__),  # plain str: weights_only
            "device": device.type, "device_name": device_name(device), "threads": torch.get_num_threads()}


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


def train_run(name, recipe, seed, data, device, run_dir, dry_run=False, resume=None, run_args=None,
              make_net=None, progress=True, again=None, eager=False):
    """Train one seed of one experiment; returns the run's record (also written to metrics.json).

    make_net builds a net that has no model file (search.py's variants); progress=False hides the bars;
    `again` says how to go on after a Ctrl-C (default: the --resume command of this run); on CUDA the
    training step is a CUDA graph unless `eager`.
    """
    (train_x, train_y), (test_x, test_y) = data
    torch.manual_seed(seed)
    model = build_model(name, device=device, make_net=make_net)
    params = count_params(model)
    train_loader = make_train_loader(train_x, train_y, recipe, device, seed)
    test_loader = TensorLoader(test_x, test_y, EVAL_BATCH_SIZE, device)
    optimizer = make_optimizer(model, recipe)
    scheduler = make_scheduler(optimizer, recipe, len(train_loader))
    average = WeightAverage(model, recipe["ema"]) if recipe.get("ema") else None
    tested = average.model if average else model
    step = make_step(model, recipe, device, eager)
    epochs = 1 if dry_run else recipe["epochs"]
    max_batches = DRY_RUN_BATCHES if dry_run else None

    metrics, start = [], 0
    if resume is not None:
        model.load_state_dict(resume.get("train_state", resume["model_state"]))
        tested.load_state_dict(resume["model_state"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        set_rng_state(resume["rng"], train_loader, device)
        metrics, start = resume["metrics"], resume["epoch"]
        print(f"Resuming {name} seed {seed} after epoch {start} of {epochs}")

    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / "checkpoint.pt"
    # The same seed gives the same numbers only on the same device with the same thread count.
    record = {"model": name, "seed": seed, "params": params, "recipe": recipe, "dry_run": dry_run,
              "provenance": provenance(name, device, has_file=make_net is None), "epochs": metrics}

    def weights():
        return {"model": name, "params": params, "epoch": len(metrics),
                "test_accuracy": metrics[-1]["test_accuracy"], "model_state": tested.state_dict()}
    best = max((m["test_accuracy"] for m in metrics), default=-1.0)
    try:
        for epoch in range(start + 1, epochs + 1):
            print(f"EPOCH: {epoch}")
            lr = optimizer.param_groups[0]["lr"]
            began = time.perf_counter()
            train_loader.strength = augment_strength(recipe, epoch)
            row = train_epoch(model, train_loader, optimizer, scheduler, recipe.get("label_smoothing", 0.0),
                              max_batches, progress, average, step)
            result = test(tested, test_loader, max_batches)
            print(test_line(result))
            predictions = result.pop("predictions")
            metrics.append({"epoch": epoch, **row, **result, "lr": lr,
                            "seconds": round(time.perf_counter() - began, 2)})
            if result["test_accuracy"] > best:
                best = result["test_accuracy"]
                save_atomic(weights(), run_dir / "best.pt")
            training = {"train_state": model.state_dict()} if average else {}  # the weights being averaged
            save_atomic({**weights(), **training, "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "rng": rng_state(train_loader, device),
                         "metrics": metrics, "seed": seed, "recipe": recipe, "args": run_args or {},
                         "dry_run": dry_run, "provenance": record["provenance"]}, checkpoint_path)
            write_json(record, run_dir / "metrics.json")
    except TrainingError as err:
        where = f"the last good checkpoint is {checkpoint_path}" if metrics else "no checkpoint was written"
        raise TrainingError(f"{name} seed {seed}, epoch {len(metrics) + 1}: {err}; stopped, {where}") from None
    except KeyboardInterrupt:
        if metrics:
            print(f"\nInterrupted. The checkpoint of epoch {len(metrics)} is {checkpoint_path}; "
                  f"{again or f'continue with: python train.py --resume {checkpoint_path}'}")
        else:
            print("\nInterrupted before the first epoch ended: no checkpoint was written.")
        raise

    if start >= epochs:  # resumed after the last epoch's checkpoint, before the run's end was written
        predictions = test(tested, test_loader, max_batches)["predictions"]
    save_atomic(weights(), run_dir / "model.pt")  # the last epoch's weights
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


def describe_commit(commit, dirty):
    """'1a2b3c4d5e6f', '1a2b3c4d5e6f+dirty' (uncommitted changes), or 'none' (not a git checkout)."""
    return f"{commit[:12]}{'+dirty' if dirty else ''}" if commit else "none"


def summarize(name, records, out):
    """Print the per-seed table, K/N met, mean +- std and the worst seed; write <out>/<model>-summary.json."""
    rows = [{"seed": r["seed"], "best": max(m["test_accuracy"] for m in r["epochs"]),
             "min_last": min_last(r["epochs"]), "target_met": r["target_met"],
             "seconds": round(sum(m["seconds"] for m in r["epochs"]), 1),
             "git_commit": r["provenance"]["git_commit"], "git_dirty": r["provenance"]["git_dirty"]}
            for r in records]
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
    worst = min(rows, key=lambda row: row["min_last"])
    # A sweep's runs share all of this (SAME_EXPERIMENT); only the commit may differ from seed to seed.
    where = {k: v for k, v in records[0]["provenance"].items() if k not in ("git_commit", "git_dirty")}
    commits = sorted({describe_commit(row["git_commit"], row["git_dirty"]) for row in rows})
    print(f"target met on {met}/{len(rows)} seeds; lowest of the last {LAST_EPOCHS} epochs "
          f"{stats['min_last']['mean']:.3f} +- {stats['min_last']['std']:.3f}, "
          f"worst seed {worst['seed']} ({worst['min_last']:.2f})")
    print(f"{where['device']} ({where['device_name']}), {where['threads']} threads, torch {where['torch']}; "
          f"{name}.py sha256 {where['model_sha256'][:12]}; commit {', '.join(commits)}")
    summary = {"model": name, "params": records[0]["params"], "recipe": records[0]["recipe"],
               "provenance": where, "seeds": rows, "best": stats["best"], "min_last": stats["min_last"],
               "worst_seed": worst["seed"], "target_met": met, "runs": len(rows)}
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
    if not args.seeds:
        return train_run(name, recipe, seed=runs[0][0], data=data, device=device, run_dir=runs[0][1],
                         dry_run=dry_run, resume=resume, run_args=run_args, eager=args.eager)
    try:
        records = [sweep_seed(name, recipe, seed, f"{i}/{len(runs)}", data, device, run_dir, dry_run, run_args,
                              args.fresh, args.eager) for i, (seed, run_dir) in enumerate(runs, 1)]
    except KeyboardInterrupt:
        print("The sweep goes on from there when the same command is run again.")
        raise
    if len(records) > 1 and not dry_run:
        summarize(name, records, args.out)


# What a saved run must share with the one asked for to be reused (beside its seed and recipe), and
# what the console says when it does not.
SAME_EXPERIMENT = (("model_sha256", "the model file changed"), ("code_sha256", "train.py or data.py changed"),
                   ("torch", "torch changed"), ("device", "the device changed"),
                   ("device_name", "the device changed"), ("threads", "the thread count changed"))


def saved_run_differs(saved, recipe, seed, expected):
    """Why a saved run (metrics.json or checkpoint.pt) is not the experiment asked for; None if it is."""
    if saved.get("dry_run"):
        return "it was a dry run"
    if "provenance" not in saved:
        return "it records no provenance (written by an older train.py)"
    if saved.get("seed") != seed or saved.get("recipe") != recipe:
        return "its recipe differs"
    for key, what in SAME_EXPERIMENT:
        old, new = saved["provenance"].get(key), expected[key]
        if old != new:
            return f"{what} (sha256 {(old or '')[:12]}, now {new[:12]})" if key.endswith("sha256") else \
                f"{what} ({old}, now {new})"
    return None


def sweep_seed(name, recipe, seed, position, data, device, run_dir, dry_run, run_args, fresh=False, eager=False):
    """One seed of a --seeds sweep: its finished run reused, its broken run continued from checkpoint.pt,
    or (if neither is there, or what is there is another experiment, or `fresh`) trained from scratch."""
    header, why = f"== seed {seed} ({position})", None
    metrics_path, checkpoint_path = run_dir / "metrics.json", run_dir / "checkpoint.pt"
    again = "run the same command again to go on with the sweep from there"
    if not fresh and not dry_run:
        expected = provenance(name, device)
        try:
            saved = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        except (OSError, ValueError):
            saved = {}
        if "target_met" in saved:  # finished
            why = saved_run_differs(saved, recipe, seed, expected)
            if why is None:
                print(f"{header}: reused, finished in {run_dir} ==")
                print(target_met(saved["params"], saved["epochs"])[1])
                return saved
        elif checkpoint_path.is_file():
            try:
                checkpoint = load_checkpoint(checkpoint_path, name)
                why = saved_run_differs(checkpoint, recipe, seed, expected)
            except CheckpointError as err:
                why = str(err)
            if why is None:
                print(f"{header}: continued from {checkpoint_path} ==")
                return train_run(name, recipe, seed, data, device, run_dir, resume=checkpoint, run_args=run_args,
                                 again=again, eager=eager)
    print(f"{header}: trained again, since in {run_dir} {why} ==" if why else f"{header} ==")
    return train_run(name, recipe, seed, data, device, run_dir, dry_run, run_args=run_args, again=again,
                     eager=eager)


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
