"""The Playground's decision map and network drawn as images, for the frames shown while it plays.

A Plotly chart cannot be redrawn in place from Streamlit: st.plotly_chart gives each figure an element id that
hashes its whole specification, even under a fixed key, and the browser remounts the chart whenever that id
changes. At every frame the old chart left the page before the new one was drawn, so a learner watching Play saw
the map blank in most moments (12 samples of 20 in the issue's walkthrough). An image keeps its element: the
browser shows the last frame until the next one is decoded. Paused, the page draws the Plotly charts, whose hover
values are worth the one redraw.

Pure (no Streamlit): the pictures follow charts.py's figures, the same colours and the same diagram geometry.
"""

from __future__ import annotations

import base64
import io
from functools import cache
from html import escape

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from fmnist.playground import EXTENT, Grid, Playground
from ui.playground.charts import (
    CLASS_COLORS,
    WHITE,
    diverging_rgb,
    edge_buckets,
    edge_width,
    layer_sizes,
    node_positions,
    node_side,
    thumbnails,
)

SCALE = 2  # drawn at twice the size shown, for sharp points and edges on high-density screens
MAP_SIZE = 430  # the map's side in pixels as shown, axes included (the Plotly map is 430 high)
MAP_MARGIN = (40, 10, 10, 40)  # left, top, right, bottom: room for the tick labels and axis titles
MAP_OPACITY = 0.85  # as the Plotly heatmap's: the points stand out from the background
POINT_RADIUS, RING = 3.5, 1.2  # a point's radius and its ring's width, as the Plotly map's markers
TEST_RING = "#111827"
TICKS = (-5, 0, 5)
UNIT_PX = 58  # pixels per diagram unit as shown (one row of units), as the Plotly diagram's height
LABEL_ROOM = 1.0  # diagram units left of the inputs for the feature names
AXIS_GREY = "#6b7280"
MAP_QUALITY = 85


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size * SCALE)


def surface_image(pg: Playground, grid: Grid, show_test: bool = True) -> Image.Image:
    """The network's output over the plane (P(class 1): orange 0, white 0.5, blue 1) with the training (white ring)
    and test (dark ring) points on top, and the axes' ticks; MAP_SIZE * SCALE pixels square."""
    left, top, right, bottom = (m * SCALE for m in MAP_MARGIN)
    side = MAP_SIZE * SCALE - max(left + right, top + bottom)
    rgb = WHITE + MAP_OPACITY * (diverging_rgb(2 * grid.output - 1).astype(float) - WHITE)
    heat = Image.fromarray(np.flipud(rgb.round().astype(np.uint8))).resize((side, side), Image.Resampling.BILINEAR)
    img = Image.new("RGB", (MAP_SIZE * SCALE,) * 2, "white")
    img.paste(heat, (left, top))
    draw = ImageDraw.Draw(img)

    def at(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return left + (x + EXTENT) / (2 * EXTENT) * side, top + (EXTENT - y) / (2 * EXTENT) * side

    sets = [(pg.x_train, pg.y_train, "white")] + ([(pg.x_test, pg.y_test, TEST_RING)] if show_test else [])
    r, ring = POINT_RADIUS * SCALE, round(RING * SCALE)
    for x, y, edge in sets:
        for px, py, cls in zip(*at(x[:, 0], x[:, 1]), y):
            draw.ellipse((px - r, py - r, px + r, py + r), fill=CLASS_COLORS[int(cls)], outline=edge, width=ring)
    tick_font, tick = font(11), 4 * SCALE
    for value in TICKS:
        (tx, ty) = at(np.array(float(value)), np.array(float(value)))
        draw.line((tx, top + side, tx, top + side + tick), fill=AXIS_GREY, width=SCALE)
        draw.text((tx, top + side + tick + SCALE), str(value), fill=AXIS_GREY, font=tick_font, anchor="mt")
        draw.line((left - tick, ty, left, ty), fill=AXIS_GREY, width=SCALE)
        draw.text((left - tick - 2 * SCALE, ty), str(value), fill=AXIS_GREY, font=tick_font, anchor="rm")
    draw.text((left + side / 2, MAP_SIZE * SCALE - 2 * SCALE), "x1", fill=AXIS_GREY, font=font(12), anchor="md")
    draw.text((2 * SCALE, top + side / 2), "x2", fill=AXIS_GREY, font=font(12), anchor="lm")
    return img


def data_uri(img: Image.Image, kind: str) -> str:
    """The frame as a data URI, which st.image passes to the browser inside the page's message: a frame stored as
    a media file was deleted when the next frame's run ended, often before the browser had fetched it (a fifth of
    the fetches failed while playing, and a failed image shows nothing). JPEG for the map (2 ms and about 90 kB,
    where PNG took 170 ms: the smooth map hardly compresses), fast PNG for the diagram's flat colours."""
    buf = io.BytesIO()
    if kind == "jpeg":
        img.save(buf, format="JPEG", quality=MAP_QUALITY)
    else:
        img.save(buf, format="PNG", compress_level=1)
    return f"data:image/{kind};base64," + base64.b64encode(buf.getvalue()).decode()


def network_box(pg: Playground) -> tuple[float, float, float, float]:
    """The diagram's extent in its units: (left, top, width, height), y pointing up as in node_positions."""
    sizes = layer_sizes(pg)
    pos, node = node_positions(sizes), node_side(sizes)
    right = pos[-1][0][0]
    half = max(sizes) / 2
    return -node / 2 - LABEL_ROOM, half, right + node / 2 + 0.3 + LABEL_ROOM, 2 * half


def column_centres(pg: Playground) -> list[float]:
    """Where each layer's column is, as a share of the image's width (for its titles, written beside it)."""
    left, _top, width, _height = network_box(pg)
    return [(layer[0][0] - left) / width for layer in node_positions(layer_sizes(pg))]


def network_image(pg: Playground, grid: Grid) -> Image.Image:
    """The network as network_figure draws it: the edges first, coloured by sign and as wide as their weight, then
    every node's thumbnail over them, and the input features' names on the left."""
    sizes = layer_sizes(pg)
    pos, node = node_positions(sizes), node_side(sizes)
    left, top, width, height = network_box(pg)
    unit = UNIT_PX * SCALE
    img = Image.new("RGB", (round(width * unit), round(height * unit)), "white")
    draw = ImageDraw.Draw(img)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - left) * unit, (top - y) * unit

    for (positive, bucket), segs in edge_buckets(pos, pg.net.weights).items():
        wide = max(1, round(edge_width(bucket) * SCALE))
        for a, b, _w in segs:
            draw.line((*at(*a), *at(*b)), fill=CLASS_COLORS[int(positive)], width=wide)
    side = round(node * unit)
    for layer, pictures in zip(pos, thumbnails(pg, grid)):
        for (x, y), values in zip(layer, pictures):
            thumb = Image.fromarray(np.flipud(diverging_rgb(values))).resize((side, side), Image.Resampling.NEAREST)
            cx, cy = at(x, y)
            img.paste(thumb, (round(cx - side / 2), round(cy - side / 2)))
    for (x, y), name in zip(pos[0], pg.setup.features):
        cx, cy = at(x - node / 2, y)
        draw.text((cx - 4 * SCALE, cy), name, fill=AXIS_GREY, font=font(11), anchor="rm")
    return img


def column_titles(names: list[str], centres: list[float], width: int) -> str:
    """The layers' titles above network_image shown `width` pixels wide (or narrower, as the image, on a narrow
    screen), as HTML: each centred on its column. The image holds no text a font might lack, such as Korean."""
    spans = "".join(f'<span style="position:absolute;left:{100 * c:.2f}%;transform:translateX(-50%);'
                    f'white-space:nowrap">{escape(name)}</span>' for name, c in zip(names, centres))
    return (f'<div style="position:relative;height:1.5em;width:{width}px;max-width:100%;font-size:0.8rem;'
            f'color:{AXIS_GREY}">{spans}</div>')
