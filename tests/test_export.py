"""The nets leave the repository: ONNX files in float32 and int8 that keep the batch size free and score what
PyTorch scores, and the --int8 flag, which leaves the float numbers as they are."""
import json
import sys

import pytest
import torch

import train
from conftest import without_seconds

pytest.importorskip("onnxruntime", reason="the export extra (pip install -e '.[export]') is not installed")
from trainer import export

pytestmark = pytest.mark.slow


def test_model4s_wrapper_gives_the_nets_outputs_at_any_batch_size():
    import model4
    torch.manual_seed(0)
    net = model4.Net().eval()
    for batch in (1, 13, 64):
        x = torch.randn(batch, 1, 28, 28)
        assert torch.equal(export.Exportable(net, model4)(x), net(x)), batch


def test_the_multiply_adds_count_every_shifted_copy():
    import model3
    import model4
    # model4 by hand, a pass: 24x24x8 outputs of 5x5x1, 10x10x10 of 3x3x8, 8x8x12 of 3x3x10, 6x6x12 and 4x4x12 of
    # 3x3x12, and the head's 10 of 12.
    one_pass = 24 * 24 * 8 * 25 + 10 * 10 * 10 * 72 + 8 * 8 * 12 * 90 + (6 * 6 + 4 * 4) * 12 * 108 + 10 * 12
    assert export.multiply_adds(model4.Net(), model4) == 5 * one_pass == 1_619_160
    assert 0 < export.multiply_adds(model3.Net(), model3) < 8000 * 28 * 28


@pytest.fixture(scope="module")
def model4_run(tiny_mnist_module, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert train.main(["--model", "model4", "--epochs", "5", "--batch-size", "64", "--data-dir",
                       str(tiny_mnist_module), "--no-download", "--out", str(out), "--device", "cpu"]) == 0
    return out / "model4-seed1"


def test_export_writes_both_files_free_in_batch_and_true_to_pytorch(model4_run, tiny_mnist_module, tmp_path,
                                                                   capsys):
    import onnxruntime
    assert train.main(["--export", str(model4_run), "--data-dir", str(tiny_mnist_module), "--no-download",
                       "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "model4-onnx" / "export.json").read_text())
    assert abs(report["float_correct"] - report["torch_correct"]) <= 1
    assert f"int8 weights {report['int8_tensors']['weights']:,} bytes" in out and "5 passes" in out
    assert report["int8_tensors"]["weights"] == sum(p.numel() for n, p in torch.load(
        model4_run / "model.pt", weights_only=True)["model_state"].items() if n.endswith("weight") and p.dim() == 4)
    assert sorted(path.name for path in (tmp_path / "model4-onnx").iterdir()) == [
        "export.json", "model4-int8.onnx", "model4.onnx"]  # each file whole by itself
    for name in ("model4.onnx", "model4-int8.onnx"):
        session = onnxruntime.InferenceSession(str(tmp_path / "model4-onnx" / name), providers=["CPUExecutionProvider"])
        for batch in (1, 13):
            assert session.run(None, {"images": torch.zeros(batch, 1, 28, 28).numpy()})[0].shape == (batch, 10)


def test_bad_input_ends_in_one_line_and_writes_nothing(model4_run, tiny_mnist_module, tmp_path, capsys, monkeypatch):
    args = ["--data-dir", str(tiny_mnist_module), "--no-download", "--out", str(tmp_path / "out")]
    assert train.main(["--export", str(tmp_path / "missing.pt"), *args]) == 1
    assert capsys.readouterr().err.strip().endswith("missing.pt: no such file")
    saved = torch.load(model4_run / "model.pt", weights_only=True)
    saved["provenance"]["model_sha256"] = "0" * 64  # as if trained from another model4.py
    torch.save(saved, tmp_path / "other.pt")
    for flag in ("--export", "--eval"):
        assert train.main([flag, str(tmp_path / "other.pt"), *args]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "holds weights of another model4" in err, err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    assert train.main(["--export", str(model4_run), *args]) == 1
    assert "pip install -e '.[export]'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_int8_flag_leaves_the_float_numbers_as_they_are(model4_run, tiny_mnist_module, tmp_path):
    assert train.main(["--model", "model4", "--epochs", "5", "--batch-size", "64", "--data-dir",
                       str(tiny_mnist_module), "--no-download", "--out", str(tmp_path), "--device", "cpu",
                       "--int8"]) == 0
    plain = json.loads((model4_run / "metrics.json").read_text())
    with_int8 = json.loads((tmp_path / "model4-seed1" / "metrics.json").read_text())
    assert without_seconds(plain["epochs"]) == without_seconds(with_int8["epochs"])
    int8 = with_int8["int8"]
    assert [row["epoch"] for row in int8["epochs"]] == [1, 2, 3, 4, 5] and int8["settings"]["reduce_range"]
    assert "cpu_capability" in int8["cpu"] and int8["verdict"].startswith("TARGET MISSED")
    assert not list((tmp_path / "model4-seed1").glob("*.onnx*"))  # the int8 files of the window are not kept
