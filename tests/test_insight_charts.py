"""The insight builders (per-class curves, filters, learned space, run differences) and the shareable settings,
checked by content."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.config import BEST, SEED, TrainConfig
from fmnist.data.dataset import CLASSES
from ui.inspect import explain_charts as ic
from ui.train.share import config_to_params, params_to_config, query_string


def _epochs(n: int) -> list[dict]:
    return [{"epoch": e, "test_acc": 80.0 + e, "test_class_acc": [10.0 * c + e for c in range(10)]}
            for e in range(1, n + 1)]


def test_class_curves_heatmap_holds_each_class_per_epoch():
    epochs = _epochs(3)
    fig = ic.class_curves_figure(epochs)
    (heat,) = fig.data
    assert list(heat.y) == list(CLASSES)
    assert list(heat.x) == [1, 2, 3]
    z = np.asarray(heat.z)
    assert z.shape == (10, 3)
    for col, e in enumerate(epochs):
        assert z[:, col].tolist() == e["test_class_acc"]  # column = epoch, row = class, in percent
    assert heat.zmax == 100 and heat.zmin == 1.0


def test_class_curves_skip_epochs_without_per_class_numbers():
    epochs = _epochs(2) + [{"epoch": 3, "test_acc": 90.0}]
    assert list(ic.class_curves_figure(epochs).data[0].x) == [1, 2]
    assert np.asarray(ic.class_curves_figure([]).data[0].z).size == 0


@pytest.mark.parametrize("extreme", [-9.0, 9.0])
def test_filters_grid_tiles_every_filter_with_a_symmetric_range(extreme):
    rng = np.random.default_rng(0)
    filters = rng.normal(size=(7, 28, 28))
    filters[3, 5, 5] = extreme  # whichever sign the largest magnitude has, the range is symmetric around 0
    fig = ic.filters_figure(filters)
    (heat,) = fig.data
    z = np.asarray(heat.z, dtype=np.float64)
    rows, cols = ic.grid_shape(7)
    assert (rows, cols) == (3, 3)
    step = 28 + ic.GAP
    assert z.shape == (rows * step - ic.GAP, cols * step - ic.GAP)
    tiles = 0
    for r in range(rows):
        for c in range(cols):
            block = z[r * step:r * step + 28, c * step:c * step + 28]
            k = r * cols + c
            if k < len(filters):
                np.testing.assert_allclose(block, filters[k], rtol=1e-6, atol=1e-6)
                tiles += 1
            else:
                assert np.isnan(block).all()  # the empty places of the last row stay blank
    assert tiles == 7
    assert np.isnan(z[28, :]).all() and np.isnan(z[:, 28]).all()  # gaps between tiles
    assert heat.zmin == -heat.zmax == pytest.approx(-9.0)
    assert heat.zmid == 0
    rank = np.asarray(heat.customdata)
    assert rank[0, 0] == 1 and rank[step, 0] == cols + 1  # hover names the filter


def test_filters_figure_refuses_the_wrong_shape():
    with pytest.raises(ValueError):
        ic.filters_figure(np.zeros((4, 784)))


def test_projection_has_one_trace_per_class_with_its_points():
    labels = np.array([0, 1, 1, 3, 3, 3, 9, 0, 1, 1, 5, 5])  # extra labels beyond the points are ignored
    coords = np.arange(20, dtype=np.float32).reshape(10, 2)
    fig = ic.projection_animation([coords], labels)  # one epoch: its static view is that frame
    traces = {t.name: t for t in fig.data}
    assert list(traces) == [CLASSES[c] for c in (0, 1, 3, 9)]  # only classes that occur, in class order
    counts = {name: len(t.x) for name, t in traces.items()}
    assert counts == {CLASSES[0]: 2, CLASSES[1]: 4, CLASSES[3]: 3, CLASSES[9]: 1}
    trouser = traces[CLASSES[1]]
    assert list(trouser.customdata) == [1, 2, 8, 9]  # test-set indices, for hover and click
    assert list(trouser.x) == [2.0, 4.0, 16.0, 18.0] and list(trouser.y) == [3.0, 5.0, 17.0, 19.0]
    assert len({t.marker.color for t in fig.data}) == 4


def test_projection_animation_has_a_frame_per_epoch_and_opens_on_the_last():
    labels = np.array([0, 1, 0, 1])
    frames = [np.full((4, 2), float(e), dtype=np.float32) for e in range(3)]
    fig = ic.projection_animation(frames, labels, epochs=[1, 2, 3])
    assert [f.name for f in fig.frames] == ["1", "2", "3"]
    assert all(len(f.data) == 2 for f in fig.frames)
    assert list(fig.frames[1].data[0].x) == [1.0, 1.0]
    assert list(fig.data[0].x) == [2.0, 2.0]  # the static view is the latest epoch
    assert fig.layout.sliders[0].active == 2
    assert [s.label for s in fig.layout.sliders[0].steps] == ["1", "2", "3"]
    assert "Play" in fig.layout.updatemenus[0].buttons[0].label
    lo, hi = fig.layout.xaxis.range
    assert lo < 0 and hi > 2  # the axes hold every frame


def test_a_long_replay_keeps_at_most_max_frames_with_first_and_last():
    picks = ic.frame_picks(60, 30)
    assert len(picks) == 30 and picks[0] == 0 and picks[-1] == 59
    assert ic.frame_picks(5, 30) == [0, 1, 2, 3, 4]
    frames = [np.zeros((2, 2), dtype=np.float32) for _ in range(40)]
    fig = ic.projection_animation(frames, np.array([0, 1]), max_frames=10)
    assert len(fig.frames) == 10 and fig.frames[-1].name == "40"


def test_point_index_reads_the_clicked_points_customdata():
    assert ic.point_index({"points": [{"customdata": 17, "x": 0, "y": 0}]}) == 17
    assert ic.point_index({"points": [{"customdata": [5]}]}) == 5
    assert ic.point_index({"points": []}) is None
    assert ic.point_index(None) is None


def test_settings_diff_lists_exactly_the_differing_settings():
    a = SEED.to_dict()
    b = {**a, "lr": 0.003, "optimizer": "adam", "preset": "custom"}
    c = {**a, "hidden": [64, 32]}
    rows = ic.settings_diff({"a": a, "b": b, "c": c})
    assert [r["setting"] for r in rows] == ["hidden", "optimizer", "lr"]  # TrainConfig's order; preset is a label
    by = {r["setting"]: r for r in rows}
    assert by["hidden"] == {"setting": "hidden", "a": "1024-128-64", "b": "1024-128-64", "c": "64-32"}
    assert by["lr"]["b"] == "0.003" and by["lr"]["a"] == "0.01"
    assert ic.settings_diff({"a": a, "same": dict(a)}) == []


def test_settings_diff_counts_a_missing_setting_as_its_default():
    old = {k: v for k, v in SEED.to_dict().items() if k not in ("val_size", "keep_best")}
    new = {**SEED.to_dict(), "val_size": 5000, "keep_best": True}
    rows = ic.settings_diff({"old": old, "new": new})
    assert {r["setting"]: (r["old"], r["new"]) for r in rows} == {"val_size": ("0", "5000"),
                                                                 "keep_best": ("off", "on")}


def test_confusion_diff_is_a_minus_b():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 50, (10, 10)), rng.integers(0, 50, (10, 10))
    fig = ic.confusion_diff_figure(a, b, ("run-a", "run-b"))
    (heat,) = fig.data
    np.testing.assert_array_equal(np.asarray(heat.z), a - b)
    assert heat.zmin == -heat.zmax and heat.zmax == np.abs(a - b).max()
    assert "run-a" in fig.layout.title.text and "run-b" in fig.layout.title.text
    assert heat.text[0][0] == (f"{a[0, 0] - b[0, 0]:+d}" if a[0, 0] != b[0, 0] else "0")
    with pytest.raises(ValueError):
        ic.confusion_diff_figure(a, b[:5], ("a", "b"))


CUSTOM = TrainConfig(hidden=(256, 64), activation="gelu", dropout=0.15, optimizer="adamw", lr=0.0007,
                     weight_decay=0.02, schedule="cosine", batch_size=128, epochs=12, augment=True, val_size=3000,
                     keep_best=True, seed=7, device="cpu", preset="custom")


@pytest.mark.parametrize("config", [SEED, BEST, CUSTOM], ids=["seed", "best", "custom"])
def test_config_round_trips_through_query_params(config):
    params = config_to_params(config)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
    back, errors = params_to_config(params)
    assert errors == []
    assert back == config and back.preset == config.preset


def test_params_are_short_and_readable():
    assert config_to_params(SEED) == {}
    assert config_to_params(BEST) == {"preset": "best"}
    params = config_to_params(SEED.replace(hidden=(64, 32), lr=0.003, optimizer="adam", preset="custom"))
    assert params == {"preset": "custom", "hidden": "64,32", "optimizer": "adam", "lr": "0.003"}
    assert query_string(params) == "preset=custom&hidden=64,32&optimizer=adam&lr=0.003"


def test_params_without_a_preset_change_the_seed_preset():
    config, errors = params_to_config({"hidden": "64,32", "lr": "0.003", "optimizer": "adam"})
    assert errors == []
    assert config == SEED.replace(hidden=(64, 32), lr=0.003, optimizer="adam")
    assert config.preset == "custom"
    config, _ = params_to_config({"preset": "best", "epochs": "3"})
    assert config == BEST.replace(epochs=3) and config.preset == "custom"
    assert params_to_config({"preset": "best", "epochs": str(BEST.epochs)})[0].preset == "best"


def test_invalid_params_are_reported_and_ignored():
    config, errors = params_to_config({"lr": "fast", "hidden": "64,x", "bogus": "1", "optimizer": "rmsprop",
                                       "augment": "maybe", "epochs": "3", "batch_size": "0", "preset": "nope"})
    assert config == SEED.replace(epochs=3)  # the one usable parameter still applies
    named = sorted(e.split("=")[0] for e in errors)
    assert named == ["augment", "batch_size", "bogus", "hidden", "lr", "optimizer", "preset"]
    assert any("unknown setting" in e for e in errors if e.startswith("bogus"))


def test_params_that_clash_are_dropped_with_a_reason():
    # Each fine on its own; together the batch is larger than the training split: the batch size goes.
    config, errors = params_to_config({"val_size": "30000", "batch_size": "40000"})
    assert config == SEED.replace(val_size=30000, preset="custom")
    assert len(errors) == 1 and errors[0].startswith("batch_size=40000")
    config, errors = params_to_config({"keep_best": "true"})  # the seed preset has no validation split
    assert config == SEED and errors and errors[0].startswith("keep_best=true")
