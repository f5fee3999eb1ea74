"""The shift and rotation test (#36 item 5): where each pixel goes and what fills the border, shift 0 against evaluate,
the command's output, and the property the test exists to show: a CNN that averages its last maps (head gap) keeps more
of its accuracy on shifted images than one that flattens them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fmnist.cli.main import main
from fmnist.config import TrainConfig
from fmnist.data.dataset import BLACK, Dataset, normalize
from fmnist.inspect.evaluate import evaluate
from fmnist.inspect.robustness import angles, directions, measure, rotate_images, shift_images
from tests.helpers import run_json, train_to_done

GRID = torch.arange(1, 785, dtype=torch.float32).reshape(28, 28)  # every pixel a value of its own, none the fill


@pytest.mark.parametrize("dx,dy", [(1, 0), (0, 1), (-2, 3), (3, -3), (-1, -1), (5, 0)])
def test_a_shift_moves_each_pixel_by_dx_right_and_dy_down_and_fills_the_border(dx, dy):
    out = shift_images(GRID[None], dx, dy, fill=-7.0)[0]
    for r in range(28):
        for c in range(28):
            src_r, src_c = r - dy, c - dx
            inside = 0 <= src_r < 28 and 0 <= src_c < 28
            assert out[r, c] == (GRID[src_r, src_c] if inside else -7.0), (r, c)
    # What was uncovered is exactly |dy| rows and |dx| columns of fill.
    assert int((out == -7.0).sum()) == 784 - (28 - abs(dx)) * (28 - abs(dy))


def test_a_shift_keeps_the_dataset_s_shape_and_fills_with_its_background(dataset):
    x = normalize(dataset.test_images[:5])  # (5, 784), as the models take them
    out = shift_images(x, 2, -1)
    assert out.shape == x.shape and out.dtype == x.dtype
    maps = out.reshape(5, 28, 28)
    assert torch.all(maps[:, -1, :] == BLACK) and torch.all(maps[:, :, :2] == BLACK)  # a black, unnormalised 0
    assert torch.equal(maps[:, :-1, 2:], x.reshape(5, 28, 28)[:, 1:, :-2])
    raw = shift_images(dataset.test_images[:5], -3, 0, fill=0)  # uint8 images keep their type, the border is 0
    assert raw.dtype == torch.uint8 and torch.all(raw[:, :, -3:] == 0)
    assert torch.all(shift_images(x, 28, 0) == BLACK)  # moved out of the frame entirely
    assert torch.equal(shift_images(x, 0, 0), x)


def test_a_shift_of_k_is_the_eight_directions_and_a_rotation_both_ways():
    for k in (1, 3):
        moves = directions(k)
        assert len(set(moves)) == 8 and (0, 0) not in moves
        assert all(dx in (-k, 0, k) and dy in (-k, 0, k) for dx, dy in moves)
    assert directions(0) == [(0, 0)]
    assert angles(10) == [10.0, -10.0] and angles(0) == [0.0]


def test_a_quarter_turn_is_counter_clockwise_and_exact():
    out = rotate_images(GRID[None], 90, fill=-7.0)[0]
    np.testing.assert_allclose(out.numpy(), np.rot90(GRID.numpy()), atol=1e-3)  # np.rot90 turns counter-clockwise
    assert out[0, 0] == pytest.approx(float(GRID[0, 27]), abs=1e-3)  # the top-right corner comes to the top left


def reference_rotation(img: np.ndarray, degrees: float, fill: float) -> np.ndarray:
    """Bilinear rotation by hand: each output pixel reads the point the counter-clockwise turn brought it from,
    worked out in x-right, y-up coordinates about the centre (13.5, 13.5); neighbours outside the frame are fill."""
    a = math.radians(degrees)
    out = np.empty_like(img)
    for r in range(28):
        for c in range(28):
            x, y = c - 13.5, 13.5 - r
            sx, sy = math.cos(a) * x + math.sin(a) * y, -math.sin(a) * x + math.cos(a) * y  # turned back by -a
            fr, fc = 13.5 - sy, sx + 13.5
            r0, c0 = math.floor(fr), math.floor(fc)
            value = 0.0
            for rr, wr in ((r0, 1 - (fr - r0)), (r0 + 1, fr - r0)):
                for cc, wc in ((c0, 1 - (fc - c0)), (c0 + 1, fc - c0)):
                    inside = 0 <= rr < 28 and 0 <= cc < 28
                    value += wr * wc * (img[rr, cc] if inside else fill)
            out[r, c] = value
    return out


@pytest.mark.parametrize("degrees", [10, -15, 45])
def test_a_rotation_samples_bilinearly_with_the_background_outside(degrees):
    img = GRID.numpy() / 784
    out = rotate_images(torch.from_numpy(img)[None], degrees, fill=BLACK)[0].numpy()
    np.testing.assert_allclose(out, reference_rotation(img, degrees, BLACK), atol=1e-5)


def test_a_rotated_blank_image_stays_background_and_a_turned_square_leaves_fill_in_the_corners():
    blank = torch.full((2, 784), BLACK)
    assert torch.allclose(rotate_images(blank, 15), blank)
    turned = rotate_images(torch.ones(1, 28, 28), 45, fill=BLACK)[0]
    assert turned[0, 0] == pytest.approx(BLACK) and turned[27, 27] == pytest.approx(BLACK)
    assert turned[14, 14] == pytest.approx(1.0)


def test_shift_0_and_rotation_0_are_evaluate_s_accuracy(tiny_result, dataset):
    x, y = normalize(dataset.test_images), dataset.test_labels
    plain = evaluate(tiny_result.model, x, y).accuracy
    shift0, shift1, rot0, rot5 = measure(tiny_result.model, x, y, shifts=(0, 1), rotations=(0, 5))
    assert shift0.accuracy == plain and rot0.accuracy == plain
    assert [m.kind for m in (shift0, shift1, rot0, rot5)] == ["shift", "shift", "rotation", "rotation"]
    assert [move for move, _ in shift1.parts] == directions(1)
    assert shift1.accuracy == pytest.approx(np.mean([acc for _, acc in shift1.parts]))
    one = shift1.parts[0]
    moved = shift_images(x, *one[0])
    assert one[1] == pytest.approx(evaluate(tiny_result.model, moved, y).accuracy)
    assert rot5.accuracy == pytest.approx(np.mean([acc for _, acc in rot5.parts]))
    assert shift1.accuracy < plain  # a 784-32-10 MLP has learned where things are


def test_cli_json_one_object_per_model_and_amount(checkpoint_dir, tiny_checkpoint, monkeypatch, capsys):
    monkeypatch.setenv("FMNIST_CHECKPOINT_DIR", str(checkpoint_dir))
    code, [ev] = run_json(capsys, ["evaluate", "default", "--json", "--device", "cpu"])
    code, lines = run_json(capsys, ["robustness", "default", str(tiny_checkpoint), "--shifts", "0,2",
                                    "--rotations", "0,10", "--json", "--device", "cpu"])
    assert code == 0
    assert [(line["model"], line.get("shift"), line.get("rotation")) for line in lines] == [
        ("default", 0, None), ("default", 2, None), ("default", None, 0), ("default", None, 10)] * 2
    for line in lines:
        assert line["checkpoint"] == str(tiny_checkpoint) and 0 <= line["accuracy"] <= 100
    assert lines[0]["accuracy"] == ev["accuracy"] == lines[2]["accuracy"]
    assert len(lines[1]["directions"]) == 8 and {"dx", "dy", "accuracy"} == set(lines[1]["directions"][0])
    assert lines[1]["accuracy"] == pytest.approx(np.mean([d["accuracy"] for d in lines[1]["directions"]]))
    assert [a["degrees"] for a in lines[3]["angles"]] == [10, -10]


def test_cli_table_and_progress(tiny_checkpoint, capsys):
    assert main(["robustness", str(tiny_checkpoint), "--shifts", "0,1", "--rotations", "none"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("test accuracy (%) with every image shifted")
    assert lines[1].split() == ["model", "0", "px", "1", "px"]
    name, acc0, acc1 = lines[2].split()
    assert name == "default" and float(acc1) < float(acc0) and len(lines) == 3  # no rotation table
    assert "default: shift 1 px:" in err and "(2/2)" in err


@pytest.mark.parametrize("argv,code,needle", [
    (["--shifts", "1,,2"], 2, "an empty item"),
    (["--shifts", "one"], 2, "expected a whole number"),
    (["--shifts", "28"], 2, "a shift must be a whole number of pixels from 0 to 27 (got 28)"),
    (["--rotations", "-5"], 2, "a rotation must be from 0 to 180 degrees (got -5)"),
    (["--shifts", "none", "--rotations", ""], 2, "nothing to measure"),
])
def test_cli_refuses_a_bad_list_in_one_line(tiny_checkpoint, capsys, argv, code, needle):
    with pytest.raises(SystemExit) as exit_:
        main(["robustness", str(tiny_checkpoint), *argv])
    err = capsys.readouterr().err
    assert exit_.value.code == code and needle in err and "Traceback" not in err


def test_cli_names_a_missing_model_before_measuring_any(tiny_checkpoint, capsys):
    assert main(["robustness", str(tiny_checkpoint), "no-such-model"]) == 1
    out, err = capsys.readouterr()
    assert "no-such-model.safetensors: no such checkpoint" in err and out == "" and "shift" not in err


def small_cnn(dataset, head: str, seed: int):
    """Two small blocks trained for two epochs on 3,000 training images: a few seconds on two cores."""
    small = Dataset(dataset.train_images[:3000], dataset.train_labels[:3000], dataset.test_images[:1000],
                    dataset.test_labels[:1000], source=dataset.source)
    config = TrainConfig(conv=(8, 16), kernel=3, pool="max", head=head, hidden=(), batch_norm=True,
                         optimizer="adam", lr=1e-2, batch_size=64, epochs=2, device="cpu", seed=seed, preset="t")
    return train_to_done(config, small)[1].model, normalize(small.test_images), small.test_labels


@pytest.fixture
def one_thread():
    """Small convolutions on a shared 2-core machine: with two threads each waits at OpenMP's barriers for a core
    another process holds (13.5 CPU-seconds a model against 2.2 on one thread, measured under load 9)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_global_average_pooling_keeps_more_of_its_accuracy_under_shift_than_a_flattening_head(dataset, one_thread,
                                                                                              seed):
    kept = {}
    for head in ("gap", "flatten"):
        model, x, y = small_cnn(dataset, head, seed)
        plain, shifted = measure(model, x, y, shifts=(0, 3), rotations=())
        assert plain.accuracy > 30  # both learned something: a fraction of chance would say nothing
        kept[head] = shifted.accuracy / plain.accuracy
    assert kept["gap"] > kept["flatten"], kept
