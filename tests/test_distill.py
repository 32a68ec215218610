"""Distillation: the teacher's weights file, the soft loss, and a teacher that sees the student's batch."""
import pytest
import torch
import torch.nn.functional as F

from data import load_mnist
from lab import search
from trainer import engine, specnets
from trainer.recipe import complete
from trainer.specnets import SpecNet


def write_teacher(tmp_path, spec="8k,P,10"):
    torch.manual_seed(3)
    net = SpecNet(spec)
    path = tmp_path / "teacher.pt"
    torch.save({"spec": spec, "model_state": net.state_dict()}, path)
    return path, net.eval()


def test_a_teacher_file_is_read_as_data_into_a_frozen_net(tmp_path):
    path, net = write_teacher(tmp_path)
    teacher = specnets.load_teacher(str(path), torch.device("cpu"))
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(teacher(x), net(x))
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())


def test_a_missing_or_foreign_teacher_is_one_line(tmp_path):
    with pytest.raises(engine.UserError, match="does not exist"):
        specnets.load_teacher(str(tmp_path / "nowhere.pt"), torch.device("cpu"))
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(engine.UserError, match="not a teacher's weights file .KeyError"):
        specnets.load_teacher(str(tmp_path / "other.pt"), torch.device("cpu"))
    path, _ = write_teacher(tmp_path)
    saved = torch.load(path, weights_only=True)
    torch.save({**saved, "spec": "8k,P,12"}, path)
    with pytest.raises(engine.UserError, match="do not fit the teacher's net"):
        specnets.load_teacher(str(path), torch.device("cpu"))


def test_the_soft_loss_is_hintons():
    torch.manual_seed(0)
    output, teacher_output = torch.randn(5, 10).log_softmax(1), torch.randn(5, 10).log_softmax(1)
    y = torch.randint(0, 10, (5,))
    recipe = complete({"distill_temperature": 3.0, "distill_weight": 0.6})
    loss = engine.TrainingLoss(recipe, teacher=lambda x: teacher_output)(output, None, y)
    p_teacher = F.softmax(teacher_output / 3, 1)
    kl = (p_teacher * (p_teacher.log() - F.log_softmax(output / 3, 1))).sum(1).mean()
    # Numbers, not tensors: pytest.approx does not take a 0-d tensor on every pytest release.
    assert loss.item() == pytest.approx((0.4 * F.nll_loss(output, y) + 0.6 * 9 * kl).item(), rel=1e-5)
    assert engine.TrainingLoss(complete({}))(output, None, y).item() == pytest.approx(F.nll_loss(output, y).item())


def test_the_teacher_sees_the_augmented_batch_the_student_trains_on(tiny_mnist, tmp_path, monkeypatch):
    path, _ = write_teacher(tmp_path)
    seen = {"student": [], "teacher": []}
    load = specnets.load_teacher

    def spying_teacher(*args):
        teacher = load(*args)
        teacher.register_forward_pre_hook(lambda module, inputs: seen["teacher"].append(inputs[0].clone()))
        return teacher

    monkeypatch.setattr(specnets, "load_teacher", spying_teacher)
    student = SpecNet("8k,P,10")
    student.register_forward_pre_hook(lambda module, inputs: seen["student"].append(inputs[0].clone())
                                      if module.training else None)
    recipe = {"batch_size": 32, "rotate": 10.0, "translate": 0.1, "teacher": str(path), "distill_weight": 0.5}
    run = engine.fit(student, recipe, load_mnist(tiny_mnist, download=False), seed=1,
                     options=engine.Options(progress=False, dry_run=True))
    assert len(seen["student"]) == engine.DRY_RUN_BATCHES == len(seen["teacher"])
    assert all(torch.equal(s, t) for s, t in zip(seen["student"], seen["teacher"]))
    assert run.metrics and torch.isfinite(torch.tensor(run.metrics[0]["train_loss"]))


def test_a_teacher_variant_is_saved_as_a_teacher_file(tmp_path, monkeypatch):
    torch.manual_seed(1)
    net = SpecNet("8k,P,10")
    torch.save({"model_state": net.state_dict()}, tmp_path / "model.pt")
    monkeypatch.setattr(search, "ROOT", tmp_path)
    row = {"variant": "teacher-x", "seed": 1, "spec": "8k,P,10", "params": 1036, "test_accuracy": [98.0, 99.0],
           "seconds_per_epoch": 2.5, "device_name": "cpu", "threads": 1, "git_commit": "abc"}
    search.save_teacher(row, tmp_path)
    saved = tmp_path / "teachers" / "teacher-x-seed1.pt"
    teacher = specnets.load_teacher(str(saved), torch.device("cpu"))
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(teacher(x), net.eval()(x))
    assert torch.load(saved, weights_only=True)["train_seconds"] == 5.0
