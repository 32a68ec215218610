"""The training: a complete recipe turned into an optimizer, a schedule, a weight average, a training step
(a CUDA graph on a GPU) and the epochs that train and test a net.

`fit` is the one call that trains a net with its recipe, in a notebook as in train.py:

    from data import load_mnist
    from trainer.engine import fit
    from model4 import Net, RECIPE
    run = fit(Net, RECIPE, load_mnist("./data"), seed=1)
    print(run.verdict)          # TARGET MET: 4,820 params <= 8,000; ...
    run.metrics                 # a dict per epoch: losses, accuracies, correct counts, rate, seconds
    torch.save(run.saved(), "model4.pt")   # the tested net's weights, as plain data

fit completes the recipe (recipe.complete) and hands it to Training, which takes it complete: train.py
completes a model file's recipe once, where it loads it, and builds its Training itself.
"""
from __future__ import annotations

import copy
import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from data import Splits, TensorLoader
from trainer.recipe import complete
from trainer.verdict import out_of_reach, target_met

if TYPE_CHECKING:  # for the type checker only: trainer/types.py is not among the files that travel with a model file
    from trainer.types import EpochMetrics, Recipe

EVAL_BATCH_SIZE = 2000
DRY_RUN_BATCHES = 3
PROGRESS_EVERY = 20  # batches between progress-bar updates: each one waits for the device


class UserError(Exception):
    """A problem the user can fix: reported in one line, exit status 1, no traceback."""


class TrainingError(UserError):
    """Training cannot go on (the loss stopped being finite)."""


@dataclass(frozen=True)
class Options:
    """How a run trains, as opposed to what it learns (the recipe): none of these change its numbers,
    except the device (another device, other numbers), dry_run (a few batches of one epoch) and dtype."""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    cuda_graph: bool = True  # on CUDA, replay each training step as a captured graph
    progress: bool = True  # tqdm bars
    dry_run: bool = False
    dtype: torch.dtype = torch.float32  # of the net and the batches: float64 for the numbers guard (tests/)


def pick_device(name: str = "auto") -> torch.device:
    """auto: cuda, then mps, then cpu."""
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


def set_determinism(device: torch.device) -> None:
    """Same seed, same device: the same numbers. Exact on CPU; on CUDA with deterministic kernels."""
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_net(make_net: Callable[[], nn.Module] | nn.Module, where: str = "Net()") -> None:
    """A net must build and map a (2, 1, 28, 28) batch to (2, 10) log-probabilities: found before training,
    not mid-epoch.
    `make_net` builds it (a built nn.Module is used as it is, its mode kept)."""
    with torch.random.fork_rng():  # off the seeded stream: the run's initial weights stay the run's
        try:
            net = make_net if isinstance(make_net, nn.Module) else make_net()
            was_training = net.training
            like = next(net.parameters(), torch.zeros(0))  # the net's device and dtype
            with torch.no_grad():
                out = net.eval()(torch.zeros(2, 1, 28, 28, device=like.device, dtype=like.dtype))
            net.train(was_training)
        except Exception as err:
            detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise UserError(f"{where} fails on a (2, 1, 28, 28) batch ({type(err).__name__}: {detail})") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 10):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(f"{where} maps a (2, 1, 28, 28) batch to {shape}, not (2, 10) (one log-probability per digit)")
    # The loss takes log-probabilities: on raw scores it goes negative and the net learns nothing useful.
    if not torch.allclose(out.detach().float().exp().sum(1).cpu(), torch.ones(2), atol=1e-3):
        raise UserError(f"{where} returns scores that are not log-probabilities (their exp does not sum to 1 "
                        f"per image); end forward with `return F.log_softmax(x, dim=1)`")


def load_weights(model: nn.Module, state: Mapping[str, Any], name: str = "this net") -> None:
    """Saved weights into `model`; one line (UserError) naming the first tensor that does not fit."""
    try:
        model.load_state_dict(state)
    except RuntimeError as err:  # the last line names the first mismatched tensor
        raise UserError(f"the saved weights do not fit {name} ({str(err).strip().splitlines()[-1].strip()})") \
            from None


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer: SGD on every parameter, or (optimizer: muon) Muon on muon_filters(model) and
    SGD on the rest, in one optimizer whose first group is SGD's (its rate is the one the log shows)."""
    if recipe["optimizer"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
                               weight_decay=recipe["weight_decay"], nesterov=recipe["nesterov"])
    sgd = {"lr": recipe["lr"], "momentum": recipe["momentum"], "weight_decay": recipe["weight_decay"],
           "nesterov": recipe["nesterov"]}
    filters = {id(p) for p in muon_filters(model).values()}
    return MuonSGD([{"params": [p for p in model.parameters() if id(p) not in filters], **sgd, "muon": False},
                    {"params": [p for p in model.parameters() if id(p) in filters], "lr": recipe["muon_lr"],
                     "momentum": recipe["muon_momentum"], "weight_decay": 0.0, "nesterov": True, "muon": True}])


def muon_filters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The conv filters Muon trains, by name: every weight of two or more dimensions but the first (the conv
    that sees the image) and the last (the head), which Muon's authors leave to another optimizer."""
    return dict(list((name, p) for name, p in model.named_parameters() if p.ndim >= 2)[1:-1])


def orthogonalized(update: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """The nearest semi-orthogonal matrix to `update` flattened to (out, rest): U V^T of its U S V^T, by Muon's
    quintic Newton-Schulz iteration (the coefficients of Jordan et al., 2024), in the update's own dtype."""
    x = update.reshape(len(update), -1)
    tall = x.size(0) > x.size(1)
    x = x.T if tall else x
    x = x / (x.norm() + 1e-7)
    for _ in range(steps):
        a = x @ x.T
        x = 3.4445 * x + (-4.7750 * a + 2.0315 * a @ a) @ x
    return (x.T if tall else x).reshape(update.shape)


class MuonSGD(torch.optim.Optimizer):
    """Muon on the groups marked `muon`, SGD (torch.optim.SGD's update) on the others, in one optimizer so
    that one schedule moves both rates. Muon as airbench94_muon applies it to conv filters that BatchNorm
    follows: Nesterov momentum, the update orthogonalized, and each filter bank rescaled to norm sqrt(out)
    before its step (BatchNorm makes the scale moot; fixing it keeps the step's relative size)."""

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        super().__init__(groups, {"momentum": 0.0, "weight_decay": 0.0, "nesterov": False, "muon": False})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.add(p, alpha=group["weight_decay"]) if group["weight_decay"] else p.grad
                buffer = self.state[p].get("momentum_buffer")
                if buffer is None:
                    buffer = self.state[p]["momentum_buffer"] = grad.clone()
                else:
                    buffer.mul_(group["momentum"]).add_(grad)
                move = grad.add(buffer, alpha=group["momentum"]) if group["nesterov"] else buffer
                if group["muon"]:
                    p.mul_(len(p) ** 0.5 / p.norm())
                    move = orthogonalized(move)
                p.add_(move, alpha=-group["lr"])


def lr_factor(recipe: Recipe, epoch: float) -> float:
    """The recipe's learning rate, as a fraction of its `lr`, at `epoch` (fractional: batches count).

    constant; multistep: times gamma after each milestone epoch; cosine: a linear warm-up over
    `warmup` epochs (if any), then half a cosine down to `floor` at the end of epoch `anneal_end`
    (None: the last), then `floor` until the end; piecewise: linear between its `points`.
    """
    name = recipe["schedule"]
    if name == "constant":
        return 1.0
    if name == "multistep":
        return recipe["gamma"] ** sum(epoch >= milestone for milestone in recipe["milestones"])
    if name == "piecewise":
        points = recipe["points"]
        for (e0, f0), (e1, f1) in zip(points, points[1:]):
            if epoch < e1:
                return f0 + (f1 - f0) * (epoch - e0) / (e1 - e0)
        return points[-1][1]
    warmup = min(recipe["warmup"], recipe["epochs"] / 2)  # cosine; at most half of a short run
    if epoch < warmup:
        return 0.04 + 0.96 * epoch / warmup  # from lr/25, as torch's OneCycleLR starts
    end, floor = min(recipe["anneal_end"] or recipe["epochs"], recipe["epochs"]), recipe["floor"]
    if epoch >= end:
        return floor
    # The angle in this order of operations, so that without anneal_end and floor every rate is the
    # plain cosine's to the last bit.
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / (end - warmup)))


def augment_strength(recipe: Recipe, epoch: int) -> float:
    """The share of the recipe's augmentation that epoch `epoch` (1, 2, ...) gets: all of it, unless the
    recipe fades it (`augment_fade`), so that the last epochs train on images like the test set's."""
    if recipe["augment_fade"] is None:
        return 1.0
    first, last = recipe["augment_fade"]
    return min(1.0, max(0.0, (last - epoch) / (last - first)))


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe,
                   batches_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The recipe's schedule, stepped after every batch."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(recipe, step / batches_per_epoch))


def make_train_loader(images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, seed: int,
                      options: Options) -> TensorLoader:
    """The recipe's training data: shuffled, augmented as the recipe says, drawn from a generator seeded by `seed`."""
    return TensorLoader(images, labels, recipe["batch_size"], options.device, shuffle=True, rotate=recipe["rotate"],
                        translate=recipe["translate"], scale=recipe["scale"], brightness=recipe["brightness"],
                        contrast=recipe["contrast"], elastic=recipe["elastic"], seed=seed, dtype=options.dtype)


class WeightAverage:
    """An exponential moving average of a model's weights and BatchNorm statistics, updated after
    every step; when the recipe asks for one (`ema`: the decay per step), it is the net that is tested
    and saved. One foreach call per step: on a GPU a kernel per tensor would cost more than the net."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model, self.decay = copy.deepcopy(model), decay
        pairs = list(zip(self.model.state_dict(keep_vars=True).values(), model.state_dict(keep_vars=True).values()))
        pairs = list({id(m): (m, t) for m, t in pairs}.values())  # a weight shared by two layers moves once a step
        self.floats = ([m for m, _ in pairs if m.is_floating_point()], [t for _, t in pairs if t.is_floating_point()])
        self.counts = ([m for m, _ in pairs if not m.is_floating_point()],
                       [t for _, t in pairs if not t.is_floating_point()])

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the weights it was made from (tensors it holds since __init__)."""
        if self.floats[0]:  # foreach calls refuse empty lists
            torch._foreach_lerp_(*self.floats, 1 - self.decay)
        if self.counts[0]:
            torch._foreach_copy_(*self.counts)


class TrainingLoss:
    """What a training batch is judged by: cross-entropy with the true labels (smoothed if the recipe
    says so) and, with a teacher, the distillation loss of Hinton et al. (2015): the KL divergence from
    the teacher's outputs to the student's, both softened by the temperature T and scaled by T^2 (so
    that its gradients keep their size as T changes), weighted by distill_weight. The teacher sees the
    very batch the student sees, augmentation included."""

    def __init__(self, recipe: Recipe, teacher: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.label_smoothing, self.teacher = recipe["label_smoothing"], teacher
        self.temperature, self.weight = recipe["distill_temperature"], recipe["distill_weight"]

    def __call__(self, output: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # The nets output log-probabilities, which log_softmax leaves as they are: cross-entropy on them is
        # the NLL loss, with label smoothing when the recipe asks for it. (The test pass uses nll_loss;
        # changing this one to it would change the last bits of every committed run.)
        loss = F.cross_entropy(output, y, label_smoothing=self.label_smoothing)
        if self.teacher is None:
            return loss
        with torch.no_grad():
            soft = F.log_softmax(self.teacher(x) / self.temperature, dim=1)
        # log_softmax(log p / T) is the softmax at temperature T of the logits behind log p
        student = F.log_softmax(output / self.temperature, dim=1)
        distill = F.kl_div(student, soft, log_target=True, reduction="batchmean") * self.temperature ** 2
        return (1 - self.weight) * loss + self.weight * distill


def forward_backward(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     criterion: TrainingLoss) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and output of one batch, its gradients left in the parameters' .grad."""
    output = model(x)
    loss = criterion(output, x, y)
    loss.backward()
    return loss, output


def sharpness_aware(model: nn.Module, x: torch.Tensor, y: torch.Tensor, criterion: TrainingLoss, rho: float) -> None:
    """SAM's second pass (Foret et al., 2021), after forward_backward: the weights moved by `rho` along their
    gradient (its norm over the whole net), the gradient taken there replaces theirs, the weights put back.
    BatchNorm normalizes by this batch again but its running statistics keep the first pass's update."""
    grads = {p: p.grad for p in model.parameters() if p.grad is not None}
    with torch.no_grad():
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads.values()]))
        scale = rho / (norm + 1e-12)  # a tensor: no wait for the device
        weights = {p: p.clone() for p in grads}  # copied back: w + e - e need not be w to the bit
        for p, g in grads.items():
            p.add_(g * scale)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    for module in norms:
        module.track_running_stats = False  # in training, batch statistics and no update of the running ones
    for p in weights:
        p.grad = None
    try:
        criterion(model(x), x, y).backward()
    finally:
        for module in norms:
            module.track_running_stats = True
        with torch.no_grad():
            for p, weight in weights.items():
                p.copy_(weight)


class GraphedStep:
    """On CUDA, the forward and backward pass of a full batch, captured once as a CUDA graph and then
    replayed: one launch a batch in place of some fifty, whose launching, not the GPU's work, was what
    a batch cost (docs/speed.md). The same kernels on the same data: the numbers are those of the eager
    step. The first WARMUP batches run eagerly (they ready cuDNN and the allocator, as capturing needs);
    the capture is of the first full batch after them, and a batch of another size (an epoch's last)
    runs eagerly. Every pass, eager or captured, runs on the step's own stream, as autograd wants of
    the nodes that the graph keeps. A net that cannot be captured (one that reads a number back in its
    forward pass, say) trains eagerly."""

    WARMUP = 3
    graph: torch.cuda.CUDAGraph | None

    def __init__(self, model: nn.Module, batch_size: int, criterion: TrainingLoss) -> None:
        self.model, self.batch_size, self.criterion = model, batch_size, criterion
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.stream = torch.cuda.Stream()
        self.graph, self.warmed, self.capturable = None, 0, True

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.graph is None and self.capturable and self.warmed >= self.WARMUP and len(x) == self.batch_size:
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
            result = forward_backward(self.model, x, y, self.criterion)
        torch.cuda.current_stream().wait_stream(self.stream)
        return result

    def capture(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Record the step on static tensors (recording runs nothing: the caller replays it). Gradients
        are unset before, so the graph writes them afresh each replay instead of adding to them."""
        self.x, self.y = x.clone(), y.clone()
        for p in self.params:
            p.grad = None
        self.graph = torch.cuda.CUDAGraph()
        self.stream.wait_stream(torch.cuda.current_stream())
        try:
            with torch.cuda.graph(self.graph, stream=self.stream):
                self.loss, self.output = forward_backward(self.model, self.x, self.y, self.criterion)
        except RuntimeError as err:
            self.graph, self.capturable = None, False
            for p in self.params:
                p.grad = None
            print(f"The training step cannot be captured as a CUDA graph ({str(err).strip().splitlines()[0]}); "
                  f"it runs eagerly.")
            return
        self.grads = [p.grad for p in self.params]


@torch.inference_mode()
def evaluate(model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
             max_batches: int | None = None) -> dict[str, Any]:
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


def test_line(result: Mapping[str, Any]) -> str:
    return (f"Test set: Average loss: {result['test_loss']:.4f}, Accuracy: {result['test_correct']}/"
            f"{result['test_total']} ({result['test_accuracy']:.2f}%)")


class Training:
    """One seed of one complete recipe, set up: the net (built after seeding, so the seed fixes its initial
    weights; check_net has checked it where it was loaded), its optimizer, schedule, weight average, training
    step and loaders.
    `about`: what the files of this run say of it beside its weights (train.py: the model's name, the seed,
    the recipe, the provenance), kept in every dict `saved` builds."""

    metrics: list[EpochMetrics]
    train_loader: Any  # a TensorLoader, or what a subclass's make_loaders gives
    test_loader: Any
    predictions: torch.Tensor | None  # the last epoch's, of the test set's images in order
    target_met: bool | None
    verdict: str | None

    def __init__(self, net: Callable[[], nn.Module] | nn.Module, recipe: Recipe, data: Splits, seed: int,
                 options: Options = Options(), about: Mapping[str, Any] | None = None) -> None:
        self.recipe, self.options, self.about = recipe, options, dict(about or {})
        torch.manual_seed(seed)
        model = (net if isinstance(net, nn.Module) else net()).to(dtype=options.dtype)
        if recipe["bn_momentum"] is not None:
            for module in model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.momentum = recipe["bn_momentum"]
        self.model = model.to(options.device)
        self.params = count_params(model)
        self.train_loader, self.test_loader = self.make_loaders(data, seed)
        self.optimizer = make_optimizer(model, recipe)
        self.scheduler = make_scheduler(self.optimizer, recipe, len(self.train_loader))
        self.average = WeightAverage(model, recipe["ema"]) if recipe["ema"] else None
        self.tested = self.average.model if self.average else model  # the net tested and saved
        self.criterion = TrainingLoss(recipe, self.teacher())
        use_graph = options.device.type == "cuda" and options.cuda_graph and not recipe["sam_rho"]
        if options.device.type == "cuda" and options.cuda_graph and recipe["sam_rho"]:
            print("SAM's two passes are not captured as one CUDA graph: the training step runs eagerly.")
        self.step = GraphedStep(model, recipe["batch_size"], self.criterion) if use_graph else None
        self.epochs = 1 if options.dry_run else recipe["epochs"]
        self.max_batches = DRY_RUN_BATCHES if options.dry_run else None
        self.metrics, self.predictions = [], None
        self.target_met, self.verdict = None, None  # set by run when the epochs are done

    def teacher(self) -> nn.Module | None:
        """The recipe's teacher, frozen; its code (the spec nets) is imported only for a recipe that names one."""
        if not self.recipe["teacher"]:
            return None
        from trainer.specnets import load_teacher
        return load_teacher(self.recipe["teacher"], self.options.device, self.options.dtype)

    def make_loaders(self, data: Splits, seed: int) -> tuple[Any, Any]:
        """(training loader, test loader): the recipe's TensorLoaders of `data`. The one hook for other data
        (lab/bench.py's subclass returns the classic DataLoader pipeline): a training loader has a length and
        `batches(strength)`, a test loader yields (x, y) batches."""
        (train_x, train_y), (test_x, test_y) = data
        return (make_train_loader(train_x, train_y, self.recipe, seed, self.options),
                TensorLoader(test_x, test_y, EVAL_BATCH_SIZE, self.options.device, dtype=self.options.dtype))

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Train epoch `epoch` (1, 2, ...): one pass over its batches, stepping the schedule (and the weight
        average) after each; returns its mean training loss and accuracy (%)."""
        self.model.train()
        device, dtype = next(self.model.parameters()).device, next(self.model.parameters()).dtype
        loss_sum = torch.zeros((), device=device, dtype=dtype)  # float64 for the numbers guard, else float32
        correct, seen = torch.zeros((), dtype=torch.long, device=device), 0
        total = min(len(self.train_loader), self.max_batches or len(self.train_loader))
        batches = self.train_loader.batches(augment_strength(self.recipe, epoch))
        bar = tqdm(itertools.islice(batches, total), total=total, disable=not self.options.progress)
        for batch_id, (x, y) in enumerate(bar):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)  # no-ops for TensorLoader
            if self.step is None:
                self.optimizer.zero_grad(set_to_none=True)
                loss, output = forward_backward(self.model, x, y, self.criterion)
                if self.recipe["sam_rho"]:
                    sharpness_aware(self.model, x, y, self.criterion, self.recipe["sam_rho"])
            else:
                loss, output = self.step(x, y)
            self.optimizer.step()
            self.scheduler.step()
            if self.average is not None:
                self.average.update()
            loss_sum += loss.detach() * len(y)
            correct += (output.argmax(1) == y).sum()
            seen += len(y)
            # Reading numbers back waits for the device, so only every PROGRESS_EVERY batches;
            # a loss gone NaN or infinite shows in the running sum and stops the run there.
            if batch_id + 1 == total or batch_id % PROGRESS_EVERY == 0:
                if not torch.isfinite(loss_sum):
                    bar.close()
                    raise TrainingError(f"epoch {epoch}: the loss became {loss.item()} by batch {batch_id}")
                bar.set_description(f"Loss={loss.item():.4f} Batch_id={batch_id} "
                                    f"Accuracy={100.0 * correct.item() / seen:.2f}")
        return {"train_loss": loss_sum.item() / seen, "train_accuracy": 100.0 * correct.item() / seen}

    def saved(self, state: bool = False) -> dict[str, Any]:
        """What a file of this run holds, as plain data: `about`, the tested net's weights and how far it got;
        with `state`, all that a checkpoint needs to go on exactly where the run stopped. model.pt, best.pt
        and checkpoint.pt are each one of these."""
        file = {**self.about, "params": self.params, "epoch": len(self.metrics),
                "test_accuracy": self.metrics[-1]["test_accuracy"] if self.metrics else None,
                "model_state": self.tested.state_dict()}
        if not state:
            return file
        rng = {"torch": torch.get_rng_state(), "data": self.train_loader.generator.get_state()}
        if self.options.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state()
        training = {"train_state": self.model.state_dict()} if self.average else {}  # the weights being averaged
        return {**file, **training, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": rng, "metrics": self.metrics}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Go on from a checkpoint (`saved(state=True)`)."""
        load_weights(self.model, state.get("train_state", state["model_state"]))
        load_weights(self.tested, state["model_state"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        self.train_loader.generator.set_state(state["rng"]["data"])
        if self.options.device.type == "cuda" and "cuda" in state["rng"]:
            torch.cuda.set_rng_state(state["rng"]["cuda"])
        self.metrics = list(state["metrics"])

    def run(self, resume: Mapping[str, Any] | None = None,
            after_epoch: Callable[[Training], object] | None = None) -> Training:
        """Train the epochs left (from `resume`, a checkpoint, if given), printing each epoch's test line and
        calling after_epoch(self) after each (train.py writes its files there); then judge and print the
        verdict. Returns self, its `metrics`, `target_met` and `verdict` set."""
        warning = out_of_reach(self.params, self.recipe["epochs"])  # said before an hour is spent on it
        if warning:
            print(warning)
        if resume is not None:
            self.load_state_dict(resume)
        while len(self.metrics) < self.epochs:
            epoch, lr, began = len(self.metrics) + 1, self.optimizer.param_groups[0]["lr"], time.perf_counter()
            print(f"EPOCH: {epoch}")
            row = self.train_epoch(epoch)
            result = evaluate(self.tested, self.test_loader, self.max_batches)
            self.predictions = result.pop("predictions")
            self.metrics.append(cast("EpochMetrics", {"epoch": epoch, **row, **result, "lr": lr,
                                                      "seconds": round(time.perf_counter() - began, 2)}))
            print(test_line(self.metrics[-1]))
            if after_epoch is not None:
                after_epoch(self)
        if self.predictions is None:  # resumed after the last epoch: test once more for the predictions
            self.predictions = evaluate(self.tested, self.test_loader, self.max_batches)["predictions"]
        if self.options.dry_run:
            self.target_met, self.verdict = None, f"Dry run: {DRY_RUN_BATCHES} batches trained and tested; no verdict."
        else:
            self.target_met, self.verdict = target_met(self.params, self.metrics)
        print(self.verdict)
        return self


def fit(net: Callable[[], nn.Module] | nn.Module, recipe: Mapping[str, Any], data: Splits, seed: int = 1,
        options: Options = Options()) -> Training:
    """Train `net` (a Net class, or any callable that builds one, or a built nn.Module) with `recipe` (a model
    file's RECIPE: what it names, the defaults for the rest) on `data` (data.load_mnist's) and test it after
    every epoch; print each epoch's test line and the verdict; return the Training, whose `metrics`,
    `target_met` and `verdict` say how it went and whose `saved()` is its weights as plain data:
    `Net().load_state_dict(torch.load(path, weights_only=True)["model_state"])`."""
    check_net(net)
    return Training(net, complete(recipe), data, seed, options).run()
