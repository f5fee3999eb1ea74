"""The trainer's options for the presets: the notebook's loader (drop_last) and its eval-mode training accuracy,
left-right flips, a moving average of the weights, bf16 autocast. Tiny models, real data."""

import pytest
import torch

from fmnist.config import TrainConfig
from fmnist.data.dataset import BLACK, device_tensors
from fmnist.inspect.evaluate import evaluate
from fmnist.model.mlp import MLP
from fmnist.training.notebook import train_eval_score
from fmnist.training.recipe import WeightAverage, bf16_problem, shift_batch, warp_batch
from tests.helpers import train_to_done


def test_drop_last_takes_whole_batches_only(tiny_config, dataset):
    events, _ = train_to_done(tiny_config.replace(drop_last=True), dataset, log_every=10_000)
    last = [e for e in events if e.kind == "step"][-1]
    assert last.step == last.total_steps == 60_000 // 256 == 234  # 235 without drop_last


def test_eval_train_scores_the_training_images_in_eval_mode(tiny_config, dataset):
    cfg = tiny_config.replace(eval_train=True, dropout=0.5)  # dropout: train and eval mode really differ
    events, result = train_to_done(cfg, dataset)
    epoch = [e for e in events if e.kind == "epoch"][0]
    x, y, _, _ = device_tensors(dataset, torch.device("cpu"))
    expected = evaluate(result.model, x, y)  # one epoch: the returned model is the one scored after it
    assert epoch.train_eval_acc == pytest.approx(expected.accuracy) and epoch.train_eval_loss == pytest.approx(
        expected.loss, rel=1e-5)
    assert epoch.train_eval_acc > epoch.train_acc  # dropout is off when scoring, on while training
    assert result.history[0]["train_eval_acc"] == epoch.train_eval_acc


def test_eval_train_with_drop_last_scores_the_yielded_images_only(dataset):
    x, y, _, _ = device_tensors(dataset, torch.device("cpu"))
    model = MLP(TrainConfig(hidden=(8,)))
    order = torch.randperm(60_000, generator=torch.Generator().manual_seed(0))
    acc, _ = train_eval_score(TrainConfig(hidden=(8,), batch_size=7000, drop_last=True, eval_train=True), model,
                              x, y, None, order)
    kept = order[:56_000]  # 8 whole batches of 7,000
    assert acc == pytest.approx(evaluate(model, x[kept], y[kept]).accuracy)
    assert train_eval_score(TrainConfig(hidden=(8,)), model, x, y, None, order) == (None, None)


def test_flip_mirrors_about_half_and_changes_nothing_else():
    x = torch.randn(400, 784)
    out = shift_batch(x, 0, flip=True).view(400, 28, 28)
    img = x.view(400, 28, 28)
    same = (out == img).flatten(1).all(1)
    mirrored = (out == img.flip(-1)).flatten(1).all(1)
    assert torch.all(same ^ mirrored)
    assert 150 < int(mirrored.sum()) < 250


def _spot_images(n: int) -> torch.Tensor:
    """Black images with one white 2 x 2 spot each, away from the edges."""
    x = torch.full((n, 28, 28), BLACK)
    x[:, 13:15, 13:15] = 1.0
    return x.view(n, 784)


def _ink_and_centre(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ink = (x.view(-1, 28, 28) - BLACK).double()  # 0 on the black background
    coords = torch.arange(28, dtype=torch.double)
    total = ink.sum((1, 2))
    centre = torch.stack([(ink.sum(2) * coords).sum(1), (ink.sum(1) * coords).sum(1)], 1) / total[:, None]
    return total, centre


def test_warp_without_a_range_leaves_the_images_as_they_are():
    x = torch.rand(8, 784) * 2 - 1
    assert torch.allclose(warp_batch(x, max_shift=0, max_zoom=0), x, atol=1e-5)


def test_warp_shifts_by_at_most_a_pixel_in_fractions_and_keeps_the_ink():
    x = _spot_images(500)
    out = warp_batch(x, generator=torch.Generator().manual_seed(0), max_zoom=0)
    total, centre = _ink_and_centre(out)
    _, start = _ink_and_centre(x)
    moved = centre - start
    assert torch.allclose(total, torch.full_like(total, 4 * (1 - BLACK)), rtol=1e-4)  # bilinear shifts keep the ink
    assert moved.abs().max() <= 1.0 + 1e-4 and moved.abs().max() > 0.9  # up to a pixel either way, in rows and columns
    fractional = (moved - moved.round()).abs() > 0.05
    assert fractional.float().mean() > 0.8  # most shifts fall between whole pixels
    assert (moved[:, 0] > 0).float().mean() == pytest.approx(0.5, abs=0.1)  # as often down as up


def test_warp_zooms_by_at_most_five_percent_about_the_centre():
    x = torch.full((300, 28, 28), BLACK)
    x[:, 8:20, 8:20] = 1.0  # a centred square, 12 pixels wide
    x = x.view(300, 784)
    out = warp_batch(x, generator=torch.Generator().manual_seed(1), max_shift=0)
    total, centre = _ink_and_centre(out)
    assert torch.allclose(centre, torch.full_like(centre, 13.5), atol=1e-3)  # a zoom about the middle moves nothing
    ratio = total / _ink_and_centre(x)[0]  # the ink's area scales with the square of the zoom
    assert ratio.min() >= 1 / 1.05**2 - 0.01 and ratio.max() <= 1 / 0.95**2 + 0.01
    assert ratio.min() < 0.93 and ratio.max() > 1.07  # both ways, close to the limits


def test_warp_run_is_reproducible_and_learns(tiny_config, tiny_result, dataset):
    cfg = tiny_config.replace(warp=True, flip=True)
    first = train_to_done(cfg, dataset)[1]
    again = train_to_done(cfg, dataset)[1]
    assert torch.equal(first.model[0].weight, again.model[0].weight)  # the warps come from the run's own generator
    assert not torch.equal(first.model[0].weight, tiny_result.model[0].weight)  # the same run without them
    assert first.test_acc > 75.0


def test_weight_average_follows_the_weights_with_a_warm_up():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    avg = WeightAverage(model, 0.9)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    avg.update()  # first update: decay min(0.9, 2/11)
    d = 2 / 11
    assert torch.allclose(avg.model[0].weight, d * start + (1 - d) * model[0].weight)
    assert avg.model[1].num_batches_tracked.dtype == torch.long  # integer buffers are left alone


def test_ema_run_returns_the_averaged_model(tiny_config, tiny_result, dataset):
    plain = tiny_result  # the same run without the average, trained once for the session
    averaged = train_to_done(tiny_config.replace(ema=0.99), dataset)[1]
    assert averaged.test_acc > 80.0
    assert not torch.equal(plain.model[0].weight, averaged.model[0].weight)
    _, _, xt, yt = device_tensors(dataset, torch.device("cpu"))
    assert evaluate(averaged.model, xt, yt).accuracy == pytest.approx(averaged.test_acc)


@pytest.mark.skipif(bf16_problem(torch.device("cpu")) is not None, reason="this CPU has no bf16 support")
def test_bf16_training_learns_as_well_as_fp32(tiny_config, tiny_result, dataset):
    fp32 = tiny_result  # the same run in fp32, trained once for the session
    bf16 = train_to_done(tiny_config.replace(precision="bf16"), dataset)[1]
    assert bf16.model[0].weight.dtype == torch.float32  # autocast: the weights stay fp32
    assert abs(bf16.test_acc - fp32.test_acc) < 1.5  # one tiny epoch: noise is larger than on a full run
