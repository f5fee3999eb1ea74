"""The 2-D playground engine: datasets, the hand-written backward pass, the grid pass and the issue's lessons."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.playground import (
    DATASETS,
    EXTENT,
    FEATURES,
    LESSONS,
    Metrics,
    Network,
    Playground,
    Setup,
    SetupError,
    bench,
    features,
    is_stuck,
    log_loss,
    make_points,
    sigmoid,
    train,
)
from tests.helpers import two_unit_seeds


def final(setup: Setup, steps: int):
    *_, done = train(setup, steps)
    assert done.kind == "done" and done.metrics.step == steps
    return done.metrics


@pytest.mark.parametrize("name", DATASETS)
def test_datasets_are_balanced_seeded_and_in_the_plane(name):
    x, y = make_points(name, 301, 0.2, np.random.default_rng(7))
    assert x.shape == (301, 2) and y.shape == (301,)
    assert set(np.unique(y)) == {0.0, 1.0} and abs(y.sum() - 150) <= 1
    assert np.abs(x).max() <= EXTENT
    again, _ = make_points(name, 301, 0.2, np.random.default_rng(7))
    other, _ = make_points(name, 301, 0.2, np.random.default_rng(8))
    assert np.array_equal(x, again) and not np.array_equal(x, other)


def test_xor_is_four_clusters_with_class_one_on_one_diagonal():
    x, y = make_points("xor", 400, 0.0, np.random.default_rng(0))
    product_sign = np.sign(x[:, 0] * x[:, 1])
    assert np.mean(product_sign[y == 1] < 0) > 0.99 and np.mean(product_sign[y == 0] > 0) > 0.99
    for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        assert 60 < np.sum((np.sign(x[:, 0]) == sx) & (np.sign(x[:, 1]) == sy)) < 140


def test_noise_moves_points_across_the_boundary():
    def mixed(noise):  # circles: inner class inside radius 2.75, outer outside
        x, y = make_points("circles", 1000, noise, np.random.default_rng(1))
        return np.mean((np.hypot(x[:, 0], x[:, 1]) < 2.75) != (y == 1))

    assert mixed(0.0) == 0 and mixed(1.0) > 0.05


def test_features_are_the_named_functions_of_the_coordinates():
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    f = features(x, FEATURES)
    assert f.shape == (2, 7)
    np.testing.assert_allclose(f[:, 0], x[:, 0])
    np.testing.assert_allclose(f[:, 4], x[:, 0] * x[:, 1] / EXTENT)
    np.testing.assert_allclose(f[:, 6], np.sin(x[:, 1]))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_backward_matches_finite_differences(activation):
    rng = np.random.default_rng(0)
    net = Network.init((3, 4, 3, 1), activation, rng)
    x, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16).astype(float)
    _, gw, gb = net.gradients(x, y)
    eps = 1e-6
    for params, grads in ((net.weights, gw), (net.biases, gb)):
        for p, g in zip(params, grads):
            for i in np.ndindex(p.shape):
                old = p[i]
                p[i] = old + eps
                up = log_loss(net.logits(x), y)
                p[i] = old - eps
                down = log_loss(net.logits(x), y)
                p[i] = old
                assert g[i] == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-7)


def test_bad_setups_name_their_field():
    bad = {"hidden": Setup(hidden=(9,)), "points": Setup(points=0), "noise": Setup(noise=-0.1),
           "features": Setup(features=()), "lr": Setup(lr=0), "batch_size": Setup(batch_size=500, points=400)}
    for field, setup in bad.items():
        assert field in setup.errors(), field
    assert "hidden" in Setup(hidden=(1,) * 7).errors()
    assert Setup(hidden=()).errors() == {} and Setup(hidden=(8,) * 6).errors() == {}
    with pytest.raises(SetupError, match="1 to 8 units"):
        Playground(Setup(hidden=(9,)))


def test_split_and_seed_decide_the_data_and_the_start():
    a, b = Playground(Setup(points=100, train_fraction=0.7)), Playground(Setup(points=100, train_fraction=0.7))
    assert len(a.y_train) == 70 and len(a.y_test) == 30
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.net.weights[0], b.net.weights[0])
    a.step(), b.step()
    assert np.array_equal(a.net.weights[0], b.net.weights[0])
    c = Playground(Setup(points=100, train_fraction=0.7, seed=1))
    assert not np.array_equal(a.x_train, c.x_train)


def test_l2_shrinks_weights_and_l1_zeroes_them():
    def weight_norms(**reg):
        pg = Playground(Setup(dataset="gaussians", hidden=(8, 8), lr=0.1, **reg))
        for _ in range(1500):
            pg.step()
        w = np.concatenate([w.ravel() for w in pg.net.weights])
        return np.abs(w).sum(), np.mean(np.abs(w) < 1e-2)

    plain, l2, l1 = weight_norms(), weight_norms(l2=0.05), weight_norms(l1=0.01)
    assert l2[0] < 0.6 * plain[0]
    assert l1[1] > plain[1] + 0.2  # L1 drives a share of the weights to about zero


def test_retune_keeps_the_network_only_for_training_settings():
    pg = Playground(Setup())
    pg.step()
    assert pg.retune(Setup(lr=0.1, batch_size=20, l2=0.001)) and pg.setup.lr == 0.1 and pg.step_count == 1
    assert not pg.retune(Setup(hidden=(3,))) and pg.setup.hidden == (2,)


def test_grid_is_one_pass_over_the_plane_matching_the_network():
    pg = Playground(Setup(dataset="circles", features=("x1", "x2", "x1^2"), hidden=(4, 3), activation="relu"))
    for _ in range(50):
        pg.step()
    g = pg.grid(20)
    assert g.output.shape == (20, 20) and [u.shape for u in g.units] == [(4, 20, 20), (3, 20, 20)]
    assert g.inputs.shape == (3, 20, 20)
    # Row i, column j is the point (axis[j], axis[i]); its output is the network's on that point.
    i, j = 3, 15
    point = np.array([[g.axis[j], g.axis[i]]])
    f = features(point, pg.setup.features)
    assert g.output[i, j] == pytest.approx(sigmoid(pg.net.logits(f))[0])
    zs, acts = pg.net.forward(f)
    np.testing.assert_allclose(g.units[0][:, i, j], acts[1][0])
    np.testing.assert_allclose(g.inputs[:, i, j], f[0])


def test_training_is_a_generator_of_steps_whose_loss_falls():
    pg = Playground(Setup(dataset="gaussians", hidden=(4,)))
    first = pg.metrics()
    events = [ev for ev, _ in zip(pg.steps(), range(300))]
    assert [e.step for e in events] == list(range(1, 301))
    assert pg.metrics().train_loss < 0.5 * first.train_loss


def test_train_reports_progress_then_a_summary():
    events = list(train(Setup(), 100, every=25))
    assert [e.kind for e in events] == ["progress"] * 3 + ["done"]
    assert [e.metrics.step for e in events] == [25, 50, 75, 100]
    assert 0 <= events[-1].metrics.test_acc <= 100 and events[-1].elapsed_s > 0


# The lessons, on the guided story's setups (400 points, half for training, batch 10).

@pytest.mark.parametrize("seed", range(5))
def test_xor_with_a_line_stays_at_or_under_75_percent(seed):
    assert LESSONS["line"].setup.hidden == () and LESSONS["line"].setup.dataset == "xor"
    assert final(LESSONS['line'].setup.replace(seed=seed), 2000).test_acc <= 75


def test_xor_with_two_tanh_units_separates_the_clusters_for_most_seeds():
    assert LESSONS["two_units"].setup.hidden == (2,) and LESSONS["two_units"].setup.activation == "tanh"
    accs = [final(LESSONS['two_units'].setup.replace(seed=seed), 2000).test_acc for seed in range(5)]
    assert sum(a >= 95 for a in accs) >= 4, accs


@pytest.mark.parametrize("want_stuck", [True, False])
def test_two_units_stuck_is_said_exactly_when_xor_is_not_solved(want_stuck):
    seed, done = two_unit_seeds(want_stuck)
    m = done.metrics
    if want_stuck:  # short of the data, and the loss no longer falls
        assert m.train_acc < 95 and m.test_acc < 95 and m.train_loss > 0.2
    else:
        assert m.train_acc >= 95 and m.test_acc >= 90
    # Every seed searched before the one found ended the other way, and was told so.
    for other in range(seed):
        *_, earlier = train(LESSONS["two_units"].setup.replace(seed=other), 2000)
        assert earlier.stuck != want_stuck and (earlier.metrics.train_acc < 95) == earlier.stuck, other


def test_is_stuck_needs_a_flat_loss_over_the_window_and_a_short_accuracy():
    def m(step, loss, acc):
        return Metrics(step, loss, loss, acc, acc)

    flat = [m(0, 0.7, 50), m(600, 0.36, 75), m(1100, 0.35, 75)]
    assert is_stuck(flat)
    assert not is_stuck([m(700, 0.36, 75), m(1100, 0.35, 75)])  # 500 steps not yet seen: too early to say
    assert not is_stuck([*flat[:-1], m(1100, 0.30, 75)])  # still falling by more than a tenth
    assert not is_stuck([*flat[:-1], m(1100, 0.35, 96)])  # flat, but solved
    assert not is_stuck([])


def test_spirals_need_depth_three_layers_of_eight_reach_90_percent():
    setup = LESSONS["depth"].setup
    assert setup.hidden == (8, 8, 8) and setup.activation == "tanh" and setup.features == ("x1", "x2")
    pg = Playground(setup)
    best = 0.0
    for ev in pg.steps():
        if ev.step % 250 == 0:
            best = max(best, pg.metrics().test_acc)
        if best >= 90 or ev.step >= 5000:
            break
    assert best >= 90, best
    assert final(setup.replace(hidden=()), 2000).test_acc < 75  # a line cannot do it


def test_bench_times_a_step_and_a_grid_pass():
    result = bench(Setup(hidden=(8,) * 6), repeats=5)
    assert result["network"].count("8") == 6 and result["grid"] == "80x80"
    assert 0 < result["min_ms"] <= result["median_ms"] <= result["p90_ms"] and result["cpu_median_ms"] > 0
