"""The Playground page's figures as pure functions of plain data (a Playground, its Grid, its metrics): no Streamlit
here, so tests read every trace.

Colours follow one rule everywhere: orange is class 0 (and negative values), blue is class 1 (and positive ones),
white is the boundary (0.5, or 0), as in TensorFlow Playground.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from fmnist.playground import EXTENT, Grid, Metrics, Playground
from ui.i18n import _

ORANGE = np.array([234, 88, 12])
WHITE = np.array([255, 255, 255])
BLUE = np.array([37, 99, 235])
CLASS_COLORS = ("#ea580c", "#2563eb")
TRAIN_COLOR, TEST_COLOR = "#4f46e5", "#ea580c"  # the loss curves, as on the Train page (ui/train/charts.py)
SCALE = [[0.0, "#ea580c"], [0.5, "#ffffff"], [1.0, "#2563eb"]]
THUMB_PIXELS = 20  # a thumbnail: every 4th point of the 80 x 80 grid, enough for a unit's shape
# The diagram's units: one row of units apart = 1. Columns are further apart in a deep, narrow network (3 layers of
# 8 were five columns squeezed into a square), and the thumbnails fill most of the room they have: they are what the
# story asks the learner to watch, so the edges pass under them and stay thinner than a tenth of a thumbnail.
ASPECT = 1.3  # the diagram's width over its height that columns are spread to (the right half of a wide page)
NODE_MAX, NODE_OF_COLUMN = 0.8, 0.55  # a thumbnail's side: at most this, and at most this share of a column's pitch
EDGE_BUCKETS = 8  # edges are drawn in this many widths per sign: a few traces, however many edges
EDGE_WIDTH = (0.5, 0.3)  # the thinnest edge's width in pixels, and what each stronger bucket adds (0.5 to 2.6)


def diverging_rgb(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] as RGB: -1 orange, 0 white, +1 blue; uint8 of shape values.shape + (3,)."""
    v = np.clip(np.nan_to_num(values), -1, 1)[..., None]
    rgb = np.where(v < 0, WHITE + (ORANGE - WHITE) * -v, WHITE + (BLUE - WHITE) * v)
    return rgb.round().astype(np.uint8)


def unit_values(activation: str, out: np.ndarray) -> np.ndarray:
    """A unit's output over the plane mapped to [-1, 1] for its thumbnail: tanh as it is, sigmoid around 0.5, relu
    and linear by their largest magnitude (their range is not bounded)."""
    if activation == "tanh":
        return out
    if activation == "sigmoid":
        return 2 * out - 1
    top = float(np.abs(out).max())
    return out / top if top > 0 else out


def png_uri(rgb: np.ndarray) -> str:
    """An RGB(A) array, row 0 at the bottom of the plane, as a PNG data URI (images have row 0 at the top)."""
    buf = io.BytesIO()
    Image.fromarray(np.flipud(rgb)).save(buf, format="PNG", compress_level=1)  # fast: one at every redraw
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def surface_figure(pg: Playground, grid: Grid, show_test: bool = True) -> go.Figure:
    """The network's output over the plane (probability of class 1) with the training (white ring) and test (dark
    ring) points on top."""
    fig = go.Figure(go.Heatmap(x=grid.axis, y=grid.axis, z=np.round(grid.output, 3), zmin=0, zmax=1,
                               colorscale=SCALE, showscale=False, opacity=0.85, zsmooth="best", name=_("output"),
                               hovertemplate="x1 %{x:.2f}, x2 %{y:.2f}: " + _("P(blue)") + " %{z:.2f}<extra></extra>"))
    sets = [("train", pg.x_train, pg.y_train, "white")] + ([("test", pg.x_test, pg.y_test, "#111827")]
                                                           if show_test else [])
    for name, x, y, ring in sets:
        for cls in (0, 1):
            pts = x[y == cls]
            label = (_("train, class {cls}", cls=cls) if name == "train" else _("test, class {cls}", cls=cls))
            fig.add_trace(go.Scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=label,
                                     marker={"color": CLASS_COLORS[cls], "size": 7, "line": {"color": ring,
                                                                                             "width": 1.2}},
                                     hoverinfo="skip"))
    axis = {"range": [-EXTENT, EXTENT], "constrain": "domain", "zeroline": False, "showgrid": False}
    fig.update_layout(xaxis={**axis, "title": "x1"}, yaxis={**axis, "title": "x2", "scaleanchor": "x"},
                      height=430, margin={"l": 40, "r": 10, "t": 10, "b": 40}, showlegend=False,
                      uirevision="surface")
    return fig


def layer_sizes(pg: Playground) -> list[int]:
    return [len(pg.setup.features), *pg.setup.hidden, 1]


def column_pitch(sizes: Sequence[int]) -> float:
    """How far apart the layers' columns are: one unit, or more where the tallest layer leaves room to spread them
    to about ASPECT times as wide as tall."""
    return max(1.0, ASPECT * (max(sizes) - 1) / max(1, len(sizes) - 1))


def node_side(sizes: Sequence[int]) -> float:
    """A thumbnail's side in the diagram's units."""
    return min(NODE_MAX, NODE_OF_COLUMN * column_pitch(sizes))


def node_positions(sizes: Sequence[int]) -> list[list[tuple[float, float]]]:
    """(x, y) of every node, layer by layer: layers column_pitch apart, each layer's nodes one unit apart and
    centred on y = 0."""
    pitch = column_pitch(sizes)
    return [[(layer * pitch, (n - 1) / 2 - i) for i in range(n)] for layer, n in enumerate(sizes)]


def column_names(pg: Playground) -> list[str]:
    layer = _("layer")  # not "layer {n}": as a template it would catch the engine's "layer 2: ..." health notes
    return [_("inputs"), *(f"{layer} {i + 1}" for i in range(len(pg.setup.hidden))), _("output")]


def thumbnails(pg: Playground, grid: Grid) -> list[list[np.ndarray]]:
    """Per layer, each node's picture as values in [-1, 1]: input features, hidden units, then the output."""
    step = max(1, len(grid.axis) // THUMB_PIXELS)
    inputs = [f / (np.abs(f).max() or 1) for f in grid.inputs]
    hidden = [[unit_values(pg.setup.activation, u) for u in layer] for layer in grid.units]
    layers = [inputs, *hidden, [2 * grid.output - 1]]
    return [[v[::step, ::step] for v in layer] for layer in layers]


def thumbnail_sheet(pos, thumbs, node: float) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Every node's thumbnail on one transparent RGBA sheet (row 0 at the bottom, like the plane), and where the
    sheet goes in the diagram: (left, bottom, width, height). One image, not one per node: fifty small PNGs and
    their layout entries cost the server and the browser several times more at every redraw."""
    px = THUMB_PIXELS / node  # pixels per diagram unit
    xs = [x for layer in pos for x, _ in layer]
    ys = [y for layer in pos for _, y in layer]
    left, bottom = min(xs) - node / 2, min(ys) - node / 2
    width, height = max(xs) - min(xs) + node, max(ys) - min(ys) + node
    sheet = np.zeros((round(height * px), round(width * px), 4), dtype=np.uint8)
    for layer, pictures in zip(pos, thumbs):
        for (x, y), values in zip(layer, pictures):
            r, c = round((y - bottom) * px - THUMB_PIXELS / 2), round((x - left) * px - THUMB_PIXELS / 2)
            h, w = values.shape
            sheet[r:r + h, c:c + w, :3] = diverging_rgb(values)
            sheet[r:r + h, c:c + w, 3] = 255
    return sheet, (left, bottom, width, height)


def network_figure(pg: Playground, grid: Grid) -> go.Figure:
    """The network as in Playground: every node a thumbnail of its output over the plane, every edge coloured by
    its weight's sign and as wide as its magnitude, under the thumbnails; hover over an edge's middle for its
    weight."""
    sizes = layer_sizes(pg)
    pos, node = node_positions(sizes), node_side(sizes)
    sheet, box = thumbnail_sheet(pos, thumbnails(pg, grid), node)
    images = [{"source": png_uri(sheet), "xref": "x", "yref": "y", "x": box[0], "y": box[1], "sizex": box[2],
               "sizey": box[3], "xanchor": "left", "yanchor": "bottom", "layer": "above", "sizing": "stretch"}]
    labels = [{"x": x - node / 2 - 0.04, "y": y, "text": name, "showarrow": False, "xanchor": "right",
               "font": {"size": 11}} for (x, y), name in zip(pos[0], pg.setup.features)]
    ticks = {"tickvals": [layer[0][0] for layer in pos], "ticktext": column_names(pg)}
    top, right = max(sizes) / 2, pos[-1][0][0]
    fig = go.Figure(_edges(pos, pg.net.weights))
    fig.update_layout(images=images, annotations=labels,
        xaxis={"range": [-0.75, right + 0.6], "showgrid": False, "zeroline": False, "side": "top", **ticks},
        yaxis={"range": [-top, top], "visible": False, "scaleanchor": "x", "constrain": "domain"},  # square nodes
        height=max(260, 58 * max(sizes)), margin={"l": 0, "r": 0, "t": 30, "b": 0}, showlegend=False,
        plot_bgcolor="white", uirevision="network")
    return fig


def edge_width(bucket: int) -> float:
    return EDGE_WIDTH[0] + EDGE_WIDTH[1] * bucket


def edge_buckets(pos, weights: Sequence[np.ndarray]) -> dict[tuple[bool, int], list]:
    """Every edge's two ends, grouped by (positive, width bucket): the bucket is its weight's share of the largest
    weight (of 1 at least, so a young network's small weights stay thin)."""
    edges = [(pos[layer][i], pos[layer + 1][j], float(w[i, j]))
             for layer, w in enumerate(weights) for i in range(w.shape[0]) for j in range(w.shape[1])]
    top = max([1.0, *(abs(e[2]) for e in edges)])
    groups: dict[tuple[bool, int], list] = {}
    for a, b, w in edges:
        bucket = min(EDGE_BUCKETS - 1, int(abs(w) / top * EDGE_BUCKETS))
        groups.setdefault((w >= 0, bucket), []).append((a, b, w))
    return dict(sorted(groups.items()))


def _edges(pos, weights: Sequence[np.ndarray]) -> list[go.Scatter]:
    groups = edge_buckets(pos, weights)
    if not groups:
        return []
    traces = []
    for (positive, bucket), segs in groups.items():
        # numpy arrays with NaN gaps (sent as null): plotly checks a list of floats item by item, an array at once.
        xy = np.array([(a[0], a[1], b[0], b[1], np.nan, np.nan) for a, b, _w in segs]).reshape(-1, 2)
        traces.append(go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="lines", hoverinfo="skip",
                                 name=_("positive") if positive else _("negative"),
                                 line={"color": CLASS_COLORS[int(positive)], "width": edge_width(bucket)}))
    mid = np.array([((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, w) for segs in groups.values() for a, b, w in segs])
    return [*traces, go.Scatter(x=mid[:, 0], y=mid[:, 1], customdata=mid[:, 2], mode="markers", name=_("weights"),
                                marker={"size": 6, "opacity": 0},
                                hovertemplate=_("weight") + " %{customdata:+.3f}<extra></extra>")]


def loss_figure(history: Sequence[Metrics]) -> go.Figure:
    """Training and test loss (log loss) against the step."""
    steps = [m.step for m in history]
    fig = go.Figure()
    lines = ((_("training loss"), "train_loss", TRAIN_COLOR), (_("test loss"), "test_loss", TEST_COLOR))
    for name, key, color in lines:
        fig.add_trace(go.Scatter(x=steps, y=[getattr(m, key) for m in history], mode="lines", name=name,
                                 line={"color": color, "width": 2}))
    fig.update_layout(height=220, margin={"l": 40, "r": 10, "t": 10, "b": 35}, xaxis_title=_("step"),
                      yaxis={"title": _("loss"), "rangemode": "tozero"}, uirevision="loss",
                      legend={"orientation": "h", "y": 1.12, "x": 0})
    return fig


# Text alternatives: each chart's key figures in words, for screen readers and for anyone. String formatting only,
# since they are redrawn with their charts several times a second.

def surface_text(grid: Grid, last: Metrics) -> str:
    """The decision map in words: how much of the plane the network gives to each class, and how well it does."""
    blue = float((grid.output >= 0.5).mean()) * 100
    return _("Decision map at step {step}: the network calls {blue}% of the plane blue and {orange}% orange; "
             "it classifies {test}% of the test points and {train}% of the training points correctly.",
             step=format(last.step, ","), blue=format(blue, ".0f"), orange=format(100 - blue, ".0f"),
             test=format(last.test_acc, ".1f"), train=format(last.train_acc, ".1f"))


def loss_text(history: Sequence[Metrics]) -> str:
    """The loss curve in words: the latest losses and the lowest test loss so far."""
    last = history[-1]
    if len(history) < 2:
        return _("Step {step}: training loss {train}, test loss {test}. Press Play or Step to draw the curve.",
                 step=format(last.step, ","), train=format(last.train_loss, ".3f"), test=format(last.test_loss, ".3f"))
    best = min(history, key=lambda m: m.test_loss)
    return _("Step {step}: training loss {train}, test loss {test} (lowest test loss {best} at step {where}; "
             "{first} at the start).", step=format(last.step, ","), train=format(last.train_loss, ".3f"),
             test=format(last.test_loss, ".3f"), best=format(best.test_loss, ".3f"), where=format(best.step, ","),
             first=format(history[0].test_loss, ".3f"))


def network_text(pg: Playground) -> str:
    """The network picture in words: its layers, how many weights, and the strongest one."""
    setup = pg.setup
    weights = [float(w) for layer in pg.net.weights for w in np.ravel(layer)]
    strongest = max(weights, key=abs) if weights else 0.0
    if setup.hidden:
        layers = _("hidden layers of {units} units", units=", ".join(map(str, setup.hidden)))
    else:
        layers = _("no hidden layer")
    return _("Network: {inputs} inputs ({features}), {layers}, one output; {n} weights, the strongest {w}.",
             inputs=len(setup.features), features=", ".join(setup.features), layers=layers, n=len(weights),
             w=format(strongest, "+.3f"))
