"""The Playground's pictures while it plays (ui/playground/live_charts.py), and the diagram's geometry that both
its images and its Plotly figure follow, from real Playgrounds without a browser."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from fmnist.playground import EXTENT, Playground, Setup
from ui.playground.charts import (
    CLASS_COLORS,
    diverging_rgb,
    layer_sizes,
    network_figure,
    node_positions,
    node_side,
    thumbnails,
)
from ui.playground.live_charts import (
    MAP_MARGIN,
    MAP_SIZE,
    SCALE,
    UNIT_PX,
    column_centres,
    column_titles,
    data_uri,
    network_box,
    network_image,
    surface_image,
)

DEEP = Setup(dataset="spirals", hidden=(8,) * 6)  # the most the page's diagram has to stay readable for


@pytest.fixture(scope="module")
def deep():
    pg = Playground(DEEP)
    for _ in range(100):
        pg.step()
    return pg


def rgb(colour: str) -> list[int]:
    return [int(colour[i:i + 2], 16) for i in (1, 3, 5)]


def test_the_map_image_is_the_grid_output_with_every_point_on_it():
    pg = Playground(Setup(hidden=(2,)))
    for _ in range(300):
        pg.step()
    grid = pg.grid()
    img = np.asarray(surface_image(pg, grid))
    assert img.shape == (MAP_SIZE * SCALE, MAP_SIZE * SCALE, 3)
    left, top, right, bottom = (m * SCALE for m in MAP_MARGIN)
    side = MAP_SIZE * SCALE - max(left + right, top + bottom)

    def pixel(x: float, y: float) -> np.ndarray:
        return img[round(top + (EXTENT - y) / (2 * EXTENT) * side), round(left + (x + EXTENT) / (2 * EXTENT) * side)]

    for x, cls in ((pg.x_test[-1], pg.y_test[-1]), (pg.x_test[-2], pg.y_test[-2])):  # drawn last: none over them
        assert pixel(*x).tolist() == rgb(CLASS_COLORS[int(cls)])
    # The plane's corners hold no points: there the background is the network's answer (a darker blue or orange
    # where it is surer), drawn at 85% over white as the Plotly map's.
    corner = np.array(pixel(-EXTENT + 0.2, EXTENT - 0.2), dtype=float)
    p = grid.output[-2, 1]  # row 0 of the grid is the bottom
    expected = 255 + 0.85 * (diverging_rgb(np.array(2 * p - 1)).astype(float) - 255)
    np.testing.assert_allclose(corner, expected, atol=12)


def test_the_test_points_come_and_go_with_the_toggle():
    pg = Playground(Setup())
    grid = pg.grid()
    assert not np.array_equal(np.asarray(surface_image(pg, grid, True)), np.asarray(surface_image(pg, grid, False)))


def test_frames_are_sent_as_data_uris_close_to_the_drawing():
    pg = Playground(Setup())
    for img, kind, error in ((surface_image(pg, pg.grid()), "jpeg", 3), (network_image(pg, pg.grid()), "png", 0)):
        uri = data_uri(img, kind)
        assert uri.startswith(f"data:image/{kind};base64,")
        sent = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        assert sent.format == kind.upper() and sent.size == img.size
        assert np.abs(np.asarray(sent, dtype=int) - np.asarray(img, dtype=int)).mean() <= error


def test_at_six_layers_of_eight_the_thumbnails_are_large_and_the_edges_thin_and_under_them(deep):
    sizes = layer_sizes(deep)
    assert sizes == [2, 8, 8, 8, 8, 8, 8, 1]
    pos, node = node_positions(sizes), node_side(sizes)
    pitch = pos[1][0][0] - pos[0][0][0]
    assert 0.6 <= node < 1 and node * 1.5 < pitch  # a thumbnail fills most of its row, columns stay apart

    fig = network_figure(deep, deep.grid())
    [sheet] = fig.layout.images
    assert sheet.layer == "above"  # the thumbnails over the edges
    px_per_unit = (fig.layout.height - fig.layout.margin.t) / max(sizes)
    widest = max(t.line.width for t in fig.data if t.mode == "lines")
    assert widest <= node * px_per_unit / 10, (widest, node * px_per_unit)

    # The image while playing: each thumbnail drawn whole, over the edges (its every pixel is the unit's own).
    img = np.asarray(network_image(deep, deep.grid()))
    left, top, _width, _height = network_box(deep)
    unit, cells = UNIT_PX * SCALE, round(node * UNIT_PX * SCALE)
    for layer, pictures in zip(pos, thumbnails(deep, deep.grid())):
        for (x, y), values in zip(layer, pictures):
            r0, c0 = round((top - y) * unit - cells / 2), round((x - left) * unit - cells / 2)
            drawn = img[r0:r0 + cells, c0:c0 + cells]
            picture = np.flipud(diverging_rgb(values))
            np.testing.assert_array_equal(drawn[cells // 2, cells // 2], picture[len(picture) // 2, len(picture) // 2])
            assert (drawn == np.asarray(drawn[cells // 2, cells // 2])).all(axis=-1).mean() < 1  # a picture, not a fill
    assert img.shape[1] > img.shape[0]  # wider than tall: the columns are spread


def test_column_titles_sit_over_their_columns(deep):
    centres = column_centres(deep)
    assert len(centres) == 8 and centres == sorted(centres) and 0 < centres[0] and centres[-1] < 1
    html = column_titles(["inputs", "층 1", "<b>"], centres[:3], 600)
    assert html.count("<span") == 3 and "층 1" in html and "&lt;b&gt;" in html and "width:600px" in html
