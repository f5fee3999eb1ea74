"""The Playground page's figures, built from a real Playground without a browser."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from fmnist.playground import Playground, Setup
from ui.playground.charts import (
    BLUE,
    CLASS_COLORS,
    ORANGE,
    THUMB_PIXELS,
    diverging_rgb,
    loss_figure,
    loss_text,
    network_figure,
    network_text,
    node_positions,
    node_side,
    png_uri,
    surface_figure,
    surface_text,
    unit_values,
)


@pytest.fixture(scope="module")
def trained():
    pg = Playground(Setup(hidden=(3, 2), features=("x1", "x2", "x1*x2")))
    for _ in range(200):
        pg.step()
    return pg


def decode(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def test_diverging_colours_orange_white_blue():
    rgb = diverging_rgb(np.array([-1.0, 0.0, 1.0, -3.0, 0.5]))
    assert rgb[0].tolist() == ORANGE.tolist() and rgb[1].tolist() == [255, 255, 255]
    assert rgb[2].tolist() == BLUE.tolist() and rgb[3].tolist() == ORANGE.tolist()  # clipped
    assert rgb[4].tolist() == [146, 177, 245]  # half way from white to blue


def test_unit_values_fit_each_activation_into_minus_one_to_one():
    out = np.array([0.0, 0.25, 1.0])
    np.testing.assert_allclose(unit_values("sigmoid", out), [-1, -0.5, 1])
    np.testing.assert_allclose(unit_values("relu", out * 4), [0, 0.25, 1])
    np.testing.assert_allclose(unit_values("tanh", out), out)
    assert not unit_values("relu", np.zeros(3)).any()  # a dead unit stays white, no division by zero


def test_png_puts_the_planes_bottom_row_at_the_images_bottom():
    rgb = np.zeros((4, 3, 3), dtype=np.uint8)
    rgb[0] = 255  # row 0 of a grid is y = -EXTENT: the bottom
    img = decode(png_uri(rgb))
    assert img.shape == (4, 3, 3) and img[-1].min() == 255 and img[0].max() == 0


def test_surface_is_the_grid_output_under_every_point(trained):
    grid = trained.grid()
    fig = surface_figure(trained, grid)
    heat, *points = fig.data
    np.testing.assert_allclose(heat.z, np.round(grid.output, 3))
    assert heat.zmin == 0 and heat.zmax == 1
    assert sum(len(t.x) for t in points) == len(trained.y_train) + len(trained.y_test)
    train0 = next(t for t in points if t.name == "train, class 0")
    assert len(train0.x) == int((trained.y_train == 0).sum()) and train0.marker.color == CLASS_COLORS[0]
    assert len(surface_figure(trained, grid, show_test=False).data) == 3


def test_network_draws_every_unit_and_every_weight(trained):
    grid = trained.grid()
    fig = network_figure(trained, grid)
    [image] = fig.layout.images  # all thumbnails on one sheet
    sheet = np.flipud(decode(image.source))  # row 0 at the bottom again, like the grid
    pos, node = node_positions([3, 3, 2, 1]), node_side([3, 3, 2, 1])
    assert (image.x, image.y) == (-node / 2, pos[1][-1][1] - node / 2)  # left of the inputs, under the lowest unit
    px = sheet.shape[1] / image.sizex
    assert sheet.shape[0] == round(image.sizey * px) and int((sheet[..., 3] == 255).sum()) == 9 * THUMB_PIXELS ** 2

    def thumbnail(x, y):
        r, c = round((y - image.y) * px - THUMB_PIXELS / 2), round((x - image.x) * px - THUMB_PIXELS / 2)
        return sheet[r:r + THUMB_PIXELS, c:c + THUMB_PIXELS, :3]

    # The first hidden unit's thumbnail is its activation over the plane (every 4th grid point), the output's the
    # surface, as orange-white-blue.
    np.testing.assert_array_equal(thumbnail(*pos[1][0]), diverging_rgb(grid.units[0][0][::4, ::4]))
    np.testing.assert_array_equal(thumbnail(*pos[3][0]), diverging_rgb(2 * grid.output[::4, ::4] - 1))
    weights = np.concatenate([w.ravel() for w in trained.net.weights])
    hover = next(t for t in fig.data if t.name == "weights")
    np.testing.assert_allclose(sorted(hover.customdata), sorted(weights))
    lines = [t for t in fig.data if t.mode == "lines"]
    assert sum(np.isnan(t.x).sum() for t in lines) == len(weights)  # one segment per weight
    for t in lines:
        assert t.line.color == CLASS_COLORS[t.name == "positive"]
    widest = max(lines, key=lambda t: t.line.width)
    strongest = weights[np.argmax(np.abs(weights))]
    assert widest.name == ("positive" if strongest > 0 else "negative")
    assert [a.text for a in fig.layout.annotations] == ["x1", "x2", "x1*x2"]
    assert list(fig.layout.xaxis.ticktext) == ["inputs", "layer 1", "layer 2", "output"]


def test_a_linear_model_is_inputs_straight_to_the_output():
    pg = Playground(Setup(hidden=()))
    fig = network_figure(pg, pg.grid())
    assert len(next(t for t in fig.data if t.name == "weights").x) == 2
    sheet = decode(fig.layout.images[0].source)
    assert int((sheet[..., 3] == 255).sum()) == 3 * THUMB_PIXELS ** 2  # two inputs and the output


def test_loss_curves_follow_the_history():
    pg = Playground(Setup(dataset="gaussians"))
    history = [pg.metrics()]
    for _ in range(5):
        for _ in range(20):
            pg.step()
        history.append(pg.metrics())
    train, test = loss_figure(history).data
    assert list(train.x) == [0, 20, 40, 60, 80, 100]
    assert list(train.y) == [m.train_loss for m in history] and list(test.y) == [m.test_loss for m in history]
    assert train.y[-1] < train.y[0]


def test_text_alternatives_state_each_charts_key_figures(trained):
    grid, last = trained.grid(), trained.metrics()
    text = surface_text(grid, last)
    blue = (grid.output >= 0.5).mean() * 100
    assert text.startswith(f"Decision map at step {last.step:,}: the network calls {blue:.0f}% of the plane blue")
    assert f"{last.test_acc:.1f}% of the test points" in text and f"{last.train_acc:.1f}% of the training" in text

    pg = Playground(Setup())
    first = pg.metrics()
    assert loss_text([first]) == (f"Step 0: training loss {first.train_loss:.3f}, test loss {first.test_loss:.3f}. "
                                  "Press Play or Step to draw the curve.")
    history = [first]
    for _ in range(3):
        for _ in range(30):
            pg.step()
        history.append(pg.metrics())
    best = min(history, key=lambda m: m.test_loss)
    assert loss_text(history) == (
        f"Step 90: training loss {history[-1].train_loss:.3f}, test loss {history[-1].test_loss:.3f} (lowest test "
        f"loss {best.test_loss:.3f} at step {best.step}; {first.test_loss:.3f} at the start).")

    weights = np.concatenate([w.ravel() for w in trained.net.weights])
    strongest = weights[np.argmax(np.abs(weights))]
    assert network_text(trained) == ("Network: 3 inputs (x1, x2, x1*x2), hidden layers of 3, 2 units, one output; "
                                     f"{len(weights)} weights, the strongest {strongest:+.3f}.")
    assert "no hidden layer" in network_text(Playground(Setup(hidden=())))


def test_charts_and_their_text_in_korean(trained, monkeypatch):
    import ui.i18n

    monkeypatch.setattr(ui.i18n, "current", lambda: "ko")
    grid = trained.grid()
    assert list(network_figure(trained, grid).layout.xaxis.ticktext) == ["입력", "층 1", "층 2", "출력"]
    names = [t.name for t in surface_figure(trained, grid).data]
    assert "학습, 클래스 0" in names and "테스트, 클래스 1" in names
    assert "P(파랑)" in surface_figure(trained, grid).data[0].hovertemplate
    assert [t.name for t in loss_figure([trained.metrics()]).data] == ["학습 손실", "테스트 손실"]
    assert loss_text([trained.metrics()]).startswith("스텝 200: 학습 손실 ")
    assert network_text(trained).startswith("신경망: 입력 3개(x1, x2, x1*x2), 뉴런 3, 2개짜리 은닉층, 출력 1개.")
