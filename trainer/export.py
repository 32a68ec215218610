"""A trained net out of PyTorch: an ONNX file in float32 and one in int8, each scored with onnxruntime on the
10,000 test images, and what the int8 file costs (its weights' bytes, its multiply-adds).

    from trainer.export import export
    export("weights/model4.pt", "runs", load_mnist("./data"))   # runs/model4-onnx/model4.onnx, model4-int8.onnx

The int8 file is onnxruntime's static quantization (INT8_SETTINGS): QDQ, int8 weights per output channel in 7
bits (reduce_range: a CPU without VNNI multiplies u8 by s8 in 16-bit sums that 8-bit weights can overflow),
uint8 activations, their ranges the min-max over CALIBRATION training images (never test images). The
batch size stays free in both files: a model file whose net shifts its test images (model4) is exported
through `Exportable`, whose outputs equal the net's. onnx, onnxscript and onnxruntime are the `export` extra,
imported only here and only when a file is written or scored.
"""
import json
import logging
import math
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import numpy
import torch
import torch.nn as nn

from data import MNIST_MEAN, MNIST_STD, Splits
from trainer.checkpoints import load_checkpoint, write_atomic
from trainer.engine import UserError, load_weights
from trainer.experiments import import_model_file, model_path
from trainer.provenance import cpu_model, model_sha256
from trainer.types import EpochMetrics
from trainer.verdict import LAST_EPOCHS, target_met

CALIBRATION = 2000  # training images whose activations set the int8 ranges, drawn by a fixed generator
INT8_SETTINGS = {"format": "QDQ", "per_channel": True, "reduce_range": True, "weights": "int8",
                 "activations": "uint8", "calibration": f"min-max over {CALIBRATION} training images (seed 0)"}
EXTRA = "pip install -e '.[export]' (onnx, onnxscript, onnxruntime)"


class Exportable(nn.Module):
    """A model file's net in evaluation, its batch size free for the exporter. A net that averages its test
    images' shifted copies (the model file's SHIFTS and shifted_copies, its Net's logits) reshapes them by
    the copies' count rather than by the batch's size, which would fix the batch in the graph; any other net is
    itself. The shifts are part of the net's forward, and so part of the graph."""

    def __init__(self, net: nn.Module, module: ModuleType) -> None:
        super().__init__()
        self.net = net.eval()
        self.logits = getattr(net, "logits", None)
        self.shifts = getattr(module, "SHIFTS", None)
        self.shifted_copies = getattr(module, "shifted_copies", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.logits is None or self.shifts is None or self.shifted_copies is None:
            return self.net(x)
        logp = self.logits(self.shifted_copies(x)).log_softmax(1).reshape(len(self.shifts), -1, 10)
        return torch.logsumexp(logp, 0) - math.log(len(self.shifts))


def onnx_modules() -> tuple[ModuleType, ModuleType]:
    """(onnx, onnxruntime), or one line on how to install them."""
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401 (the exporter needs it; said here rather than mid-export)
    except ImportError:
        raise UserError(f"exporting to ONNX needs the export extra, which is not installed here: {EXTRA}") from None
    return onnx, onnxruntime


def load_trained(path: str | Path) -> tuple[dict[str, Any], ModuleType, nn.Module]:
    """(the weights file, its model file, the net with its weights) of a model.pt, best.pt, an epoch's weights
    or a run folder (its model.pt); refused in one line if its model file has changed since it was trained."""
    path = Path(path) / "model.pt" if Path(path).is_dir() else Path(path)
    saved = load_checkpoint(path)
    module = import_model_file(saved["model"])
    trained = saved.get("provenance", {}).get("model_sha256")
    if trained and trained != model_sha256(model_path(saved["model"])):
        raise UserError(f"{path} holds weights of another {saved['model']}: its net was trained from a model file "
                        f"of sha256 {trained[:12]}, today's is {model_sha256(model_path(saved['model']))[:12]}")
    net = module.Net()
    load_weights(net, saved["model_state"], f"{saved['model']}.Net")
    return saved, module, net.eval()


def normalized(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) images as the nets see them: (N, 1, 28, 28) floats, normalized as in training."""
    return ((images.float() / 255 - MNIST_MEAN) / MNIST_STD).unsqueeze(1)


def write_float(net: nn.Module, module: ModuleType, path: Path) -> None:
    """The net in float32, its batch size free, written whole or not at all."""
    example = torch.zeros(2, 1, 28, 28)
    with torch.random.fork_rng():  # exporting runs the net: the caller's random state stays its own
        write_atomic(path, lambda tmp: torch.onnx.export(
            Exportable(net, module).eval(), (example,), str(tmp), dynamo=True, input_names=["images"],
            output_names=["log_probs"], dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, verbose=False,
            external_data=False))  # one self-contained file: the weights inside it, not in a file beside it


def write_int8(float_path: Path, path: Path, train_images: torch.Tensor) -> None:
    """The float32 file quantized to int8 by INT8_SETTINGS, calibrated on training images."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    chosen = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[:CALIBRATION]
    batches = normalized(train_images[chosen]).numpy()

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = iter([{"images": batches[i:i + 200]} for i in range(0, len(batches), 200)])

        def get_next(self) -> dict[str, Any] | None:
            return next(self.left, None)

    # onnxruntime logs a call to its shape pre-processing on every run; that step fails on these graphs (its
    # symbolic shape inference), and the files score as they are: the advice is silenced, not an error.
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR
    try:
        write_atomic(path, lambda tmp: quantize_static(
            str(float_path), str(tmp), Calibration(), quant_format=QuantFormat.QDQ, per_channel=True,
            reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax))
    finally:
        root.setLevel(level)


def score(path: Path, images: torch.Tensor, labels: torch.Tensor) -> int:
    """How many test images an ONNX file classifies rightly, through onnxruntime on this CPU."""
    _, onnxruntime = onnx_modules()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = normalized(images).numpy()
    predictions = [session.run(None, {"images": x[i:i + 1000]})[0].argmax(1) for i in range(0, len(x), 1000)]
    return int((torch.from_numpy(numpy.concatenate(predictions)) == labels).sum())


def weight_bytes(path: Path) -> dict[str, int]:
    """The bytes of an int8 file's tensors by kind: int8 weights, int32 biases, and the scales and zero points."""
    onnx, _ = onnx_modules()
    from onnx import numpy_helper
    kinds = {"weights": 0, "biases": 0, "scales and zero points": 0}
    for tensor in onnx.load(str(path)).graph.initializer:
        array = numpy_helper.to_array(tensor)
        if str(array.dtype) == "int8" and array.ndim > 1:
            kinds["weights"] += array.nbytes
        elif str(array.dtype) == "int32" and tensor.name.endswith("bias_quantized"):
            kinds["biases"] += array.nbytes
        else:
            kinds["scales and zero points"] += array.nbytes
    return kinds


def multiply_adds(net: nn.Module, module: ModuleType) -> int:
    """Multiply-adds per test image of the exported forward (every shifted copy counted)."""
    total = 0

    def count(layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            per_output = layer.in_channels // layer.groups * math.prod(layer.kernel_size)
            total += output.numel() * per_output
        elif isinstance(layer, nn.Linear):
            total += output.numel() * layer.in_features

    hooks = [layer.register_forward_hook(count) for layer in net.modules() if isinstance(layer, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        Exportable(net, module)(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    return total


def cpu_features() -> dict[str, Any]:
    """The CPU the int8 file ran on: its type, torch's instruction set, and whether it has VNNI (int8 dot
    products), which decides how onnxruntime's int8 kernels sum."""
    flags = ""
    if Path("/proc/cpuinfo").is_file():
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    return {"device_name": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "vnni": any(flag in flags.split() for flag in ("avx512_vnni", "avx_vnni", "amx_int8")),
            "machine": platform.machine()}


def export(weights: str | Path, out: str | Path, data: Splits) -> tuple[dict[str, Any], Path]:
    """Both ONNX files of a trained net into `out`/<model>-onnx, scored on the test set; the float32 file must
    agree with PyTorch within one image, or it is not kept and UserError says so. Returns (what the export
    found, as export.json keeps it, and the folder)."""
    onnx_modules()
    saved, module, net = load_trained(weights)
    (train_x, _), (test_x, test_y) = data
    name = saved["model"]
    out = Path(out) / f"{name}-onnx"
    out.mkdir(parents=True, exist_ok=True)
    float_path, int8_path = out / f"{name}.onnx", out / f"{name}-int8.onnx"
    with torch.no_grad():
        torch_correct = int((torch.cat([net(normalized(test_x[i:i + 1000])) for i in range(0, len(test_x), 1000)])
                             .argmax(1) == test_y).sum())
    write_float(net, module, float_path)
    float_correct = score(float_path, test_x, test_y)
    if abs(float_correct - torch_correct) > 1:
        float_path.unlink()
        raise UserError(f"the float32 ONNX file of {weights} scored {float_correct:,} test images and PyTorch "
                        f"{torch_correct:,}: more than one apart, so it was not kept")
    write_int8(float_path, int8_path, train_x)
    report = {"model": name, "weights": str(weights), "torch_correct": torch_correct, "float_correct": float_correct,
              "int8_correct": score(int8_path, test_x, test_y), "test_total": len(test_y),
              "float_bytes": os.path.getsize(float_path), "int8_bytes": os.path.getsize(int8_path),
              "int8_tensors": weight_bytes(int8_path), "multiply_adds": multiply_adds(net, module),
              "passes": len(getattr(module, "SHIFTS", ())) or 1, "int8_settings": INT8_SETTINGS, "cpu": cpu_features()}
    write_atomic(out / "export.json", lambda tmp: tmp.write_text(json.dumps(report, indent=2) + "\n"))
    return report, out


def export_lines(report: dict[str, Any], out: Path) -> list[str]:
    """What --export prints: each file's accuracy and size, the int8 weights' bytes and the multiply-adds."""
    total, tensors = report["test_total"], report["int8_tensors"]
    passes = f" ({report['passes']} passes: the test-time shifts are in the graph)" if report["passes"] > 1 else ""
    vnni = "with" if report["cpu"]["vnni"] else "without"
    return [f"{report['model']} from {report['weights']}: PyTorch {report['torch_correct']:,}/{total:,}",
            (f"{out / (report['model'] + '.onnx')}: float32, {report['float_correct']:,}/{total:,} in onnxruntime, "
             f"{report['float_bytes']:,} bytes"),
            (f"{out / (report['model'] + '-int8.onnx')}: int8, {report['int8_correct']:,}/{total:,} in onnxruntime "
             f"on {report['cpu']['device_name']} ({vnni} VNNI), {report['int8_bytes']:,} bytes; its int8 weights "
             f"{tensors['weights']:,} bytes, int32 biases {tensors['biases']:,}, scales and zero points "
             f"{tensors['scales and zero points']:,}"),
            f"multiply-adds per test image: {report['multiply_adds']:,}{passes}",
            f"int8 settings: {', '.join(f'{k} {v}' for k, v in report['int8_settings'].items())}"]


def window_file(epoch: int) -> str:
    """The weights --int8 keeps of a window epoch, in its run's folder."""
    return f"window-epoch{epoch}.pt"


def int8_window(folder: Path, params: int, metrics: Sequence[Mapping[str, Any]], data: Splits) -> dict[str, Any]:
    """The run's kept window epochs (window_file; `metrics` its float rows), each tested through the int8 file
    that --export writes, on this CPU; with the settings, the CPU, onnxruntime's version and the verdict by the
    target's own rule (the int8 accuracies in the window's place)."""
    _, onnxruntime = onnx_modules()
    (train_x, _), (test_x, test_y) = data
    rows: list[dict[str, Any]] = []
    tensors: dict[str, int] = {}
    for epoch in [row["epoch"] for row in metrics[-LAST_EPOCHS:]]:
        _, module, net = load_trained(folder / window_file(epoch))
        float_path, int8_path = folder / f"window-epoch{epoch}.onnx", folder / f"window-epoch{epoch}-int8.onnx"
        write_float(net, module, float_path)
        write_int8(float_path, int8_path, train_x)
        correct, tensors = score(int8_path, test_x, test_y), weight_bytes(int8_path)
        rows.append({"epoch": epoch, "test_correct": correct, "test_total": len(test_y),
                     "test_accuracy": 100.0 * correct / len(test_y)})
        float_path.unlink()  # the window's weights stay (window_file): --export writes their files again
        int8_path.unlink()
    met, verdict = target_met(params, cast("list[EpochMetrics]", [*metrics[:-LAST_EPOCHS], *rows]))
    return {"epochs": rows, "target_met": met, "verdict": verdict, "int8_tensors": tensors,
            "settings": INT8_SETTINGS, "cpu": cpu_features(), "onnxruntime": onnxruntime.__version__}
