import math

import pytest

from fmnist.config import BEST, PRESETS, SEED, ConfigError, TrainConfig
from fmnist.model.architecture import parameter_count, summary
from fmnist.model.mlp import MLP


def test_seed_preset_is_the_notebook():
    assert SEED.hidden == (1024, 128, 64) and SEED.activation == "relu" and SEED.optimizer == "sgd"
    assert (SEED.lr, SEED.batch_size, SEED.epochs, SEED.seed) == (0.01, 64, 20, 123)
    assert not SEED.batch_norm and SEED.dropout == 0 and SEED.schedule == "constant" and not SEED.augment
    assert SEED.drop_last and SEED.eval_train and SEED.precision == "fp32" and not SEED.flip and SEED.ema == 0
    assert SEED.errors() == {} and BEST.errors() == {}
    # quick first: the app lists them so
    assert list(PRESETS) == ["quick", "seed", "best", "cnn", "cnn-gap", "cnn-best"]
    assert all(p.errors() == {} and p.preset == name for name, p in PRESETS.items())


@pytest.mark.parametrize("changes,field", [
    ({"hidden": ()}, "hidden"),
    ({"hidden": (0,)}, "hidden"),
    ({"hidden": (-5, 10)}, "hidden"),
    ({"hidden": (4097,)}, "hidden"),
    ({"hidden": (8,) * 7}, "hidden"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -1e-3}, "lr"),
    ({"lr": math.nan}, "lr"),
    ({"lr": 1e9}, "lr"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 60_001}, "batch_size"),
    ({"epochs": 0}, "epochs"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"device": "tpu"}, "device"),
    ({"activation": "swish"}, "activation"),
    ({"dropout": 1.0}, "dropout"),
    ({"schedule": "step"}, "schedule"),
    ({"label_smoothing": -0.1}, "label_smoothing"),
    ({"keep_best": True}, "keep_best"),
    ({"batch_norm": True, "batch_size": 1}, "batch_size"),
    ({"ema": 0.2}, "ema"),
    ({"ema": 1.0}, "ema"),
    ({"precision": "fp16"}, "precision"),
    ({"drop_last": 1}, "drop_last"),
    ({"flip": "yes"}, "flip"),
    ({"warp": 1}, "warp"),
])
def test_each_bad_field_gets_its_own_message(changes, field):
    errors = SEED.replace(**changes).errors()
    assert list(errors) == [field], errors
    with pytest.raises(ConfigError) as exc:
        SEED.replace(**changes).validated()
    assert exc.value.errors == errors


def test_several_bad_fields_are_all_reported():
    errors = SEED.replace(lr=0, epochs=0, optimizer="x").errors()
    assert set(errors) == {"lr", "epochs", "optimizer"}


def test_batch_larger_than_the_training_split():
    assert "batch_size" in SEED.replace(val_size=10_000, batch_size=55_000).errors()
    assert SEED.replace(val_size=10_000, batch_size=50_000).errors() == {}


def test_dict_round_trip_and_unknown_keys():
    d = BEST.to_dict()
    assert TrainConfig.from_dict(d) == BEST
    with pytest.raises(ConfigError, match="colour: unknown setting"):
        TrainConfig.from_dict({**d, "colour": "red"})


def test_model_matches_config_and_parameter_count():
    for cfg in (SEED, BEST, SEED.replace(hidden=(7,), batch_norm=True, dropout=0.2, activation="gelu")):
        model = MLP(cfg)
        assert sum(p.numel() for p in model.parameters()) == parameter_count(cfg)
        assert sum(row["parameters"] for row in summary(cfg)) == parameter_count(cfg)
    # The notebook's exact layer list: Linear and ReLU only, default bias.
    names = [type(m).__name__ for m in MLP(SEED)]
    assert names == ["Linear", "ReLU"] * 3 + ["Linear"]
    assert parameter_count(SEED) == 784 * 1024 + 1024 + 1024 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10


def test_batch_norm_needs_two_images_a_batch():
    # PyTorch's own refusal, at the first step, is a raw ValueError ("Expected more than 1 value per channel").
    assert "batch norm needs at least 2 images" in SEED.replace(batch_norm=True, batch_size=1).errors()["batch_size"]
    assert SEED.replace(batch_size=1).errors() == {}
    assert SEED.replace(batch_norm=True, batch_size=2).errors() == {}
