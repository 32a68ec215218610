"""search.py: nets from specs, the variant registry, its defaults, and sweeps that reuse a trial only where
it is the same trial."""
import json

import pytest
import torch

import train
from lab import search, trials
from trainer import experiments, provenance, records, specnets
from trainer.engine import count_params
from trainer.recipe import SCHEMA, complete
from trainer.verdict import MAX_PARAMS


@pytest.mark.parametrize("spec,params", [("8,12,P,8t,10,12,12,14", 5932), ("12k,P,14,14,14,16", 7656),
                                         ("8p,P,10", 72 + 16 + 720 + 20 + 100),
                                         ("8p,12s", 72 + 16 + 8 * 9 + 8 * 12 + 24 + 120)])
def test_nets_from_specs(spec, params):
    net = specnets.SpecNet(spec).eval()
    assert count_params(net) == params
    out = net(torch.randn(3, 1, 28, 28))
    assert out.shape == (3, 10) and torch.allclose(out.exp().sum(1), torch.ones(3), atol=1e-5)


@pytest.mark.parametrize("spec", ["8,Q", "8x", "", "8,,P"])
def test_bad_specs_are_refused(spec):
    with pytest.raises(ValueError, match="bad layer"):
        specnets.SpecNet(spec)


def test_every_variant_builds_within_the_budget():
    for name, (question, _spec, changes) in search.VARIANTS.items():
        assert question in ("margin", "frontier", "teacher"), name
        assert question == "teacher" or search.variant_params(name) <= MAX_PARAMS, name
        assert set(changes) <= set(SCHEMA), name
        assert set(search.variant_recipe(name)) == set(SCHEMA), name


def test_unknown_variants_are_refused_with_the_valid_names(capsys):
    with pytest.raises(SystemExit) as exit_info:
        search.main(["--variants", "m3-base,nonesuch"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown variant(s) nonesuch; valid: m3-base" in err


VARIANT = "p3918-settled-fade-b64"


def lines_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_search_picks_its_device_as_train_py_does_and_never_downloads_mnist(tmp_path, capsys):
    assert search.build_parser().parse_args([]).device == train.parse_args(["--model", "model1"]).device == "auto"
    assert "never downloads MNIST" in " ".join(search.build_parser().format_help().split())
    nowhere = tmp_path / "nowhere"
    assert search.main(["--variants", VARIANT, "--data-dir", str(nowhere)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"error: MNIST not found: {nowhere / 'MNIST' / 'raw'} lacks")
    assert not nowhere.exists()


@pytest.mark.slow
def test_trials_go_under_runs_and_a_line_is_reused_only_for_the_same_trial(tiny_mnist, tmp_path, monkeypatch,
                                                                            capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(records, "RESULTS", tmp_path / "results")  # where --record writes, here
    argv = ["--variants", VARIANT, "--seeds", "1", "--threads", "1", "--data-dir", str(tiny_mnist)]
    trials = tmp_path / "runs" / "search" / "trials.jsonl"
    assert search.main(argv) == 0
    assert "1 runs on cpu (0 with a line in runs/search/trials.jsonl" in capsys.readouterr().out
    [first] = lines_of(trials)
    assert first["threads"] == 1 and first["model_sha256"] == provenance.model_sha256(search.SPECNETS)
    assert search.main(argv) == 0
    assert f"{VARIANT} seed 1: reused, as runs/search/trials.jsonl has it" in capsys.readouterr().out
    assert len(lines_of(trials)) == 1
    trials.write_text(json.dumps({**first, "device_name": "another CPU"}) + "\n")  # as if run elsewhere
    assert search.main(argv) == 0
    assert f"{VARIANT} seed 1: trained again, since its line in runs/search/trials.jsonl: the device changed " \
           f"(another CPU, now {first['device_name']})" in capsys.readouterr().out
    again = lines_of(trials)[1]
    assert again["device_name"] == first["device_name"] and again["test_accuracy"] == first["test_accuracy"]
    assert not (tmp_path / "results").exists()
    assert search.main([*argv, "--record"]) == 0  # a new results file: nothing there to reuse
    assert len(lines_of(tmp_path / "results" / "search.jsonl")) == 1


def saved_line(**changes):
    """VARIANT's line for seed 1 as this machine, on the CPU, would write it now, with `changes`."""
    expected = provenance.provenance(search.SPECNETS, torch.device("cpu"))
    return {"variant": VARIANT, "seed": 1, "spec": search.VARIANTS[VARIANT][1],
            "recipe": search.variant_recipe(VARIANT), **{key: expected[key] for key in search.PROVENANCE_KEYS},
            **changes}


@pytest.mark.parametrize("changes,why", [
    ({}, None),
    ({"node": "elsewhere", "git_commit": "0" * 40, "git_dirty": True}, None),  # neither changes a number
    ({"seed": 2}, "its recipe differs"),
    ({"recipe": {**search.variant_recipe(VARIANT), "lr": 0.05}}, "its recipe differs"),
    ({"spec": "8k,P,10,10,10,12"}, "its net differs (8k,P,10,10,10,12, now 8k,P,10,10,10,11)"),
    ({"model_sha256": "0" * 64}, "specnets.py changed (sha256 000000000000, now "),
    ({"code_sha256": "0" * 64}, f"the training code ({', '.join(provenance.TRAINING_CODE)}) changed"),
    ({"torch": "1.0"}, "torch changed (1.0, now "),
    ({"device": "cuda"}, "the device changed (cuda, now cpu)"),
    ({"device_name": "another CPU"}, "the device changed (another CPU, now "),
    # another instruction set than the one this test runs on, whichever that is
    ({"cpu_capability": f"NOT-{torch.backends.cpu.get_cpu_capability()}"}, "the CPU's vector instructions changed"),
    ({"threads": 999}, "the thread count changed (999, now "),
])
def test_a_trial_line_is_reused_by_train_pys_rules_for_a_run(changes, why):
    assert {key for key, _ in provenance.SAME_EXPERIMENT} <= set(search.PROVENANCE_KEYS)  # a line records them all
    expected = provenance.provenance(search.SPECNETS, torch.device("cpu"))
    found = trials.trial_differs(saved_line(**changes), search.VARIANTS[VARIANT][1], search.variant_recipe(VARIANT),
                                  1, expected)
    assert found is None if why is None else found.startswith(why)


def test_a_line_written_before_search_py_recorded_the_reuse_keys_is_never_reused():
    line = saved_line()
    del line["model_sha256"], line["cpu_capability"]
    expected = provenance.provenance(search.SPECNETS, torch.device("cpu"))
    assert trials.trial_differs(line, line["spec"], line["recipe"], 1, expected) == \
        "it records no model_sha256, cpu_capability (an older search wrote it)"


@pytest.mark.parametrize("model,variant", [("model3", "p7656-onecycle-ema"), ("model4", "p4820-tta-settled-fade-b64")])
def test_model_files_are_the_nets_and_recipes_the_search_measured(model, variant):
    module, recipe = experiments.import_model_file(model), experiments.load_experiment(model).recipe
    spec_net = specnets.SpecNet(search.VARIANTS[variant][1])
    assert [p.shape for p in module.Net().parameters()] == [p.shape for p in spec_net.parameters()]
    assert recipe == search.variant_recipe(variant) == complete(module.RECIPE)
    nets = []
    for build in (module.Net, lambda: specnets.SpecNet(search.VARIANTS[variant][1])):
        torch.manual_seed(0)
        nets.append(build().eval())
    images = torch.randn(3, 1, 28, 28)
    assert torch.equal(nets[0](images), nets[1](images))  # the same weights from a seed, test-time shifts included


def test_a_repeated_conv_shares_the_weights_of_the_padded_conv_before_it():
    net = specnets.SpecNet("8k,P,8p,8r,8r,10").eval()
    assert count_params(net) == 200 + 16 + 576 + 3 * 16 + 720 + 20 + 100  # one 3x3 conv's weights, three BatchNorms
    convs = [m for m in net.features if isinstance(m, torch.nn.Conv2d)]
    assert convs[1] is convs[2] is convs[3] and convs[1].padding == (1, 1)
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    for spec in ("8k,P,8,8r", "8k,P,8p,10r", "8r", "8p,P,8r", "8p,8s,8r"):
        # unpadded, another width, nothing before it, a pool or another conv between them
        with pytest.raises(ValueError, match="repeats no padded"):
            specnets.SpecNet(spec)


def test_specs_with_a_strided_conv_and_another_activation():
    net = specnets.SpecNet("silu:8k,10d,12").eval()
    assert count_params(net) == 200 + 16 + 720 + 20 + 1080 + 24 + 120
    assert isinstance(net.features[2], torch.nn.SiLU) and net.features[3].stride == (2, 2)
    assert net.features(torch.randn(2, 1, 28, 28)).shape == (2, 12, 10, 10)  # 24 -> 12 (stride 2) -> 10
    with pytest.raises(ValueError, match="unknown prefix 'tanh'"):
        specnets.SpecNet("tanh:8,P")


def test_shortcuts_gates_and_bare_batchnorm_in_specs():
    net = specnets.SpecNet("8k,P,8a,8,2g").eval()
    assert count_params(net) == 200 + 16 + 576 + 16 + 576 + 16 + (8 * 2 + 2 + 2 * 8 + 8) + 80
    x = torch.randn(2, 8, 12, 12)
    shortcut = net.features[4]
    assert torch.allclose(shortcut(x), torch.relu(x + shortcut.norm(shortcut.conv(x))))
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    bare = specnets.SpecNet("bare+gelu:8k,P,10")
    norms = [m for m in bare.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(m.affine for m in norms) and isinstance(bare.features[2], torch.nn.GELU)
    assert count_params(bare) == 200 + 720 + 100
    with pytest.raises(ValueError, match="a shortcut keeps the width"):
        specnets.SpecNet("8k,P,10a")


def digit(slant):
    """A stroke on a black 28x28 image, leaning by `slant` pixels across per pixel down, off centre."""
    image = torch.zeros(1, 1, 28, 28)
    for row in range(6, 22):
        image[0, 0, row, int(round(12 + slant * (row - 14)))] = 1.0
    return image


def moments(image):
    """(centre row, centre column, slant) of an image's ink, in pixels."""
    ink = image[0, 0] - image.min()
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    mass = ink.sum()
    cy, cx = (ink * rows).sum() / mass, (ink * cols).sum() / mass
    return cy, cx, (ink * (cols - cx) * (rows - cy)).sum() / (ink * (rows - cy) ** 2).sum()


def test_deskew_straightens_and_centres_a_digit_with_no_parameters():
    net = specnets.SpecNet("deskew:8k,P,10")
    assert isinstance(net.features[0], specnets.Deskew) and count_params(net) == 200 + 16 + 720 + 20 + 100
    leaning = digit(-0.4)
    assert abs(float(moments(leaning)[2]) + 0.4) < 0.05
    cy, cx, slant = moments(specnets.Deskew()(leaning))
    assert abs(float(slant)) < 0.05 and abs(float(cy) - 13.5) < 0.3 and abs(float(cx) - 13.5) < 0.3
    upright = digit(0.0)
    assert torch.allclose(specnets.Deskew()(torch.roll(upright, 2, dims=3)), specnets.Deskew()(upright), atol=1e-5)


def test_test_time_shifts_average_the_copies_only_in_evaluation():
    torch.manual_seed(0)
    net, plain = specnets.SpecNet("tta:8k,P,10"), specnets.SpecNet("8k,P,10")
    plain.load_state_dict(net.state_dict())
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(net.train()(x), plain.train()(x))  # training sees one copy
    net.eval(), plain.eval()
    copies = specnets.shifted_copies(x)
    assert copies.shape == (15, 1, 28, 28) and torch.equal(copies[:3], x)
    assert torch.equal(copies[3:6, :, 1:], x[:, :, :-1])  # moved down a pixel
    expected = plain(copies).exp().view(5, 3, 10).mean(0).log()
    assert torch.allclose(net(x), expected, atol=1e-5)
    with pytest.raises(ValueError, match="unknown prefix 'tilt'"):
        specnets.SpecNet("tilt:8k,P,10")
