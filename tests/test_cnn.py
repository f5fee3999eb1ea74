"""Convolution blocks in the same builder (#35): the summary against the built model, the MLP path unchanged, a CNN
trained through the CLI, checkpoints, recovery and exports, and bad settings refused."""

from __future__ import annotations

import itertools
import json
import re

import pytest
import torch
from torch import nn

from fmnist.cli.main import main
from fmnist.config import SEED, TrainConfig
from fmnist.model.architecture import multiply_adds, parameter_count, summary
from fmnist.model.mlp import MLP
from fmnist.store import checkpoints, recovery
from fmnist.training.loop import train
from fmnist.training.memory import estimate
from tests.helpers import TINY_CNN, train_to_done

SHAPES = [SEED.replace(conv=conv, kernel=k, pool=pool, head=head, hidden=hidden, batch_norm=bn, dropout=dropout)
          for conv, k, pool, head, hidden, bn, dropout in [
              ((32, 64), 3, "max", "flatten", (128,), True, 0.0),
              ((16, 32, 64), 3, "max", "gap", (), False, 0.0),
              ((8,), 5, "avg", "flatten", (32, 16), False, 0.2),
              ((4, 4, 4, 4), 3, "max", "flatten", (8,), True, 0.1),
              ((6, 12), 5, "none", "gap", (10,), True, 0.0)]]


@pytest.mark.parametrize("config", SHAPES, ids=lambda c: c.describe().split()[0])
def test_the_summary_counts_the_built_model_s_parameters_and_shapes(config):
    assert config.errors() == {}
    model = MLP(config)
    assert sum(p.numel() for p in model.parameters()) == parameter_count(config) == sum(
        r["parameters"] for r in summary(config))
    x = torch.randn(2, 784)
    assert model(x).shape == (2, 10)
    # Each block's row gives the maps it makes: the model's own activations have those shapes.
    rows = [r for r in summary(config) if r["layer"].startswith("conv")]
    shapes, h = [], x
    for m in model:
        h = m(h)
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) or (isinstance(m, nn.Conv2d) and config.pool == "none"):
            shapes.append("x".join(map(str, h.shape[1:])))
    assert shapes == [re.search(r"pool 2 → ([0-9x]+)", r["then"]).group(1) if config.pool != "none"
                      else r["shape"].split(" → ")[1] for r in rows]
    conv_macs = sum(m.weight.numel() * (28 // 2 ** i if config.pool != "none" else 28) ** 2
                    for i, m in enumerate(model.convolutions))
    assert multiply_adds(config) == conv_macs + sum(m.weight.numel() for m in model.linears)


def test_without_conv_blocks_the_model_is_the_notebooks_mlp_drawn_from_the_same_seed():
    assert [type(m) for m in MLP(SEED)] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    torch.manual_seed(SEED.seed)
    ours = MLP(SEED)
    torch.manual_seed(SEED.seed)
    notebook = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 64),
                             nn.ReLU(), nn.Linear(64, 10))
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), notebook.state_dict().values()))


@pytest.mark.parametrize("config, field, needle", [
    (SEED.replace(conv=(8,) * 5), "conv", "0 to 4 convolution blocks"),
    (SEED.replace(conv=(300,)), "conv", "1 to 256 channels"),
    (SEED.replace(conv=(8,), kernel=4), "kernel", "3 or 5"),
    (SEED.replace(head="gap"), "head", "needs at least one convolution block"),
    (SEED.replace(hidden=()), "hidden", "use 1 to 6 hidden layers"),
    (SEED.replace(conv=(8,), hidden=(8,) * 7), "hidden", "0 to 6 hidden layers after convolution blocks"),
])
def test_bad_convolution_settings_are_refused_by_name(config, field, needle):
    assert needle in config.errors()[field]


@pytest.mark.parametrize("argv, needle", [
    (["--conv", "8,8,8,8,8"], "0 to 4 convolution blocks"),
    (["--conv", "0", "--head", "gap"], "needs at least one convolution block"),
    (["--conv", "8", "--kernel", "4"], "invalid choice"),
    (["--conv", "a"], "whole numbers"),
])
def test_the_cli_refuses_bad_convolution_settings_with_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *argv])
    assert exc.value.code == 2 and needle in capsys.readouterr().err


def test_the_memory_guard_counts_the_maps_of_the_convolution_blocks():
    small, wide = (estimate(SEED.replace(conv=c, hidden=(16,), batch_size=256)).total for c in ((4,), (256, 256)))
    assert wide - small > 256 * (256 * 28 * 28) * 4 * 2  # at least a batch's first maps and their activations
    # 256 x 28 x 28 maps a block at batch 60,000 need hundreds of GB: the CLI refuses before training.
    with pytest.raises(SystemExit) as exc:
        main(["train", "--conv", "256,256", "--pool", "none", "--hidden", "16", "--batch-size", "60000"])
    assert exc.value.code == 2


@pytest.fixture(scope="module")
def cnn_result(dataset):
    return train_to_done(TINY_CNN, dataset)[1]


def test_a_tiny_cnn_learns_in_one_epoch_and_its_checkpoint_reloads(cnn_result, tmp_path, dataset):
    assert cnn_result.test_acc > 70
    meta = checkpoints.run_meta(cnn_result, "tests", owner=checkpoints.MACHINE_OWNER)
    path = checkpoints.save(tmp_path / "cnn.safetensors", cnn_result.model, meta)
    ckpt = checkpoints.load(path)
    assert ckpt.config == TINY_CNN and ckpt.config.conv == (4,)
    x = dataset.test_images[:256].float().reshape(-1, 784)
    with torch.no_grad():
        # The trained model's maps are channels-last, the reloaded one's are not: the same numbers up to the order of
        # the convolution's sums.
        assert torch.allclose(ckpt.model()(x), cnn_result.model.eval()(x), rtol=1e-5, atol=1e-3)


def test_the_cli_trains_a_cnn_and_prints_its_epoch(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FMNIST_CHECKPOINT_DIR", str(tmp_path))
    flags = ["--conv", "4", "--hidden", "16", "--optimizer", "adam", "--lr", "0.003", "--batch-size", "512",
             "--epochs", "1", "--device", "cpu", "--json", "--out", str(tmp_path / "c.safetensors")]
    assert main(["train", *flags]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["epoch"] == 1 and lines[-1]["summary"] and lines[-1]["test_acc"] > 60
    assert checkpoints.load(tmp_path / "c.safetensors").config.conv == (4,)


def test_a_recovered_cnn_run_equals_the_uninterrupted_one(small_dataset, tmp_path):
    config = TINY_CNN.replace(epochs=2, batch_norm=True, dropout=0.1, flip=True)
    uninterrupted = train_to_done(config, small_dataset)[1].model
    live = recovery.RecoveryFile(tmp_path / "run.safetensors")
    for ev in train(config, small_dataset, log_every=10_000, recovery=live):
        if ev.kind == "epoch":
            break  # the process dies after epoch 1: its file holds that epoch
    live.release()
    resumed = train_to_done(config, small_dataset, recovery=recovery.RecoveryFile(live.path, continuing=True))[1].model
    for a, b in itertools.zip_longest(uninterrupted.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_a_cnn_config_round_trips_through_its_dict():
    config = TrainConfig(conv=(8, 16), kernel=5, pool="avg", head="gap", hidden=())
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_a_sweep_varies_the_convolution_blocks(tmp_path, dataset):
    import optuna

    from fmnist.sweep import space
    from fmnist.sweep import study as sweep

    base = TINY_CNN.replace(batch_size=512, val_size=2000)
    params = space.parse_params(["conv=choice:4|2,4", "pool=choice:max|avg"], base)
    study = sweep.open_study("cnn", optuna.storages.InMemoryStorage())
    study.enqueue_trial({"conv": "2,4", "pool": "avg"})
    [outcome] = sweep.SequentialSweep(study, base, params, checkpoints.CheckpointStore(tmp_path), dataset).run(1)
    assert outcome.state == "COMPLETE" and outcome.val_acc > 50
    saved = checkpoints.load(checkpoints.CheckpointStore(tmp_path).path_for("trial-0"))
    assert (saved.config.conv, saved.config.pool) == ((2, 4), "avg")


def test_the_bench_times_the_cnn_preset_through_both_pipelines(tmp_path, monkeypatch):
    from fmnist.data.dataset import torchvision_root
    from fmnist.training.bench import cnn_figures

    said = []
    with monkeypatch.context() as m:  # torchvision's extracted copy goes to a folder of the test's own, not ./data
        m.setattr("fmnist.training.bench.torchvision_root", lambda files: torchvision_root(files, tmp_path))
        figures = cnn_figures(torch.device("cpu"), 3, said.append)
    assert figures["notebook_samples_per_s"] > 0 and figures["ours_samples_per_s"] > 0
    ratio = figures["ours_samples_per_s"] / figures["notebook_samples_per_s"]
    assert figures["ratio"] == pytest.approx(ratio, rel=1e-2)
    assert said and "cnn preset" in said[0]
