"""Pure builders for a CNN's insight: its kernels, its feature maps for one image, the channel inspector's kernel and
top images with their receptive fields, and the overview of its blocks as stacks of maps (as CNN Explainer draws
them). Data in (fmnist.inspect.conv), Plotly figure out; no Streamlit here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from ui.i18n import _
from ui.inspect.explain_charts import DIVERGING, GAP, grid_shape, tile
from ui.inspect.network_charts import images_figure, layer_name

BOX = "#f59e0b"  # the receptive field's outline on a top image


def shape_text(shape: Sequence[int]) -> str:
    """(channels, height, width) as "32 × 14 × 14"."""
    return " × ".join(str(int(v)) for v in shape)


def _grid(images: np.ndarray, title: str, value: str, height: int | None, cols: int | None = None) -> go.Figure:
    """(k, h, w) arrays as one tiled heatmap on one colour scale, symmetric around 0 (blue below, white at 0, red
    above), so every tile compares with every other; a tile's hover names its channel."""
    images = np.asarray(images, dtype=np.float64)
    k, h, w = images.shape
    cols = cols or grid_shape(k)[1]
    z = tile(images, cols).astype(np.float32)
    bound = float(np.nanmax(np.abs(images))) if images.size else 0.0
    bound = bound or 1.0
    channel = np.nan_to_num(tile(np.arange(k)[:, None, None] * np.ones((1, h, w)), cols), nan=-1).astype(np.int16)
    heat = go.Heatmap(z=z, customdata=channel, colorscale=DIVERGING, zmin=-bound, zmax=bound, zmid=0,
                      colorbar={"title": value, "thickness": 10},
                      hovertemplate=_("channel {channel}<br>{what} {value}", channel="%{customdata}", what=value,
                                      value="%{z:.3g}") + "<extra></extra>")
    rows = -(-k // cols)
    fig = go.Figure(heat)
    fig.update_layout(title=title, height=height or min(140 + rows * max(24, 260 // rows), 620),
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="white",
                      xaxis={"visible": False, "constrain": "domain"},
                      yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"})
    return fig


def kernels_figure(kernels: np.ndarray, title: str, height: int | None = None) -> go.Figure:
    """One block's kernels, (channels, k, k): every output channel's k x k weights (a deeper block's as the mean
    over its input channels), red where a bright pixel raises the channel, blue where it lowers it."""
    kernels = np.asarray(kernels)
    if kernels.ndim != 3:
        raise ValueError(f"expected (channels, k, k) kernels, got shape {kernels.shape}")
    return _grid(kernels, title, _("weight"), height)


def maps_figure(maps: np.ndarray, title: str, height: int | None = None) -> go.Figure:
    """One block's output for one image, (channels, side, side): each channel's map, brighter red where the
    channel found its pattern."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"expected (channels, side, side) maps, got shape {maps.shape}")
    return _grid(maps, title, _("activation"), height)


def top_images_figure(images: np.ndarray, boxes: np.ndarray, captions: Sequence[str], title: str) -> go.Figure:
    """The test images that excite a channel most, each with the region (top, left, bottom, right) its strongest
    position looks at outlined."""
    fig = images_figure(images, captions, title)
    cols = 3
    for i, (top, left, bottom, right) in enumerate(np.asarray(boxes, dtype=int)):
        r, c = divmod(i, cols)
        y0, x0 = r * (28 + GAP), c * (28 + GAP)
        fig.add_shape(type="rect", x0=x0 + left - 0.5, x1=x0 + right + 0.5, y0=y0 + top - 0.5, y1=y0 + bottom + 0.5,
                      line={"color": BOX, "width": 2})
    return fig


def _stack(fig: go.Figure, x: float, side: float, count: int, fill: str, label: str) -> float:
    """Draws `count` squares of `side`, each a little behind and above the last (a stack of maps), with the label
    under it; returns the x where the stack ends."""
    shown = min(count, 8)
    step = 0.12
    for i in reversed(range(shown)):
        dx, dy = i * step, i * step
        fig.add_shape(type="rect", x0=x + dx, x1=x + dx + side, y0=-side / 2 + dy, y1=side / 2 + dy,
                      line={"color": "#374151", "width": 1}, fillcolor=fill if i == 0 else "#e5e7eb")
    fig.add_annotation(x=x + side / 2, y=-1.45, text=label, showarrow=False, yanchor="top", font={"size": 11})
    return x + side + (shown - 1) * step


CHANNEL_DOT = 0.3  # the widest spacing of the channel dots under a stack, in the diagram's units
DOTS_TOP = -2.75  # where the dots start: under the stack's three-line label
PX_PER_UNIT = 54  # the diagram's scale at its height: 300 px for the 4.6 units of a diagram without dots


def _channel_dots(block: Mapping, centre: float) -> tuple[list[float], list[float], float]:
    """The (x, y) of a block's channel dots, a square-ish grid centred under its stack, and their spacing."""
    count = int(block["shape"][0])
    cols = int(np.ceil(np.sqrt(count)))
    step = min(CHANNEL_DOT, 2.0 / cols)
    cs = np.arange(count)
    xs = centre + (cs % cols - (cols - 1) / 2) * step
    ys = DOTS_TOP - (cs // cols) * step
    return xs.tolist(), ys.tolist(), step


def blocks_figure(blocks: Sequence[Mapping], features: int) -> go.Figure:
    """The CNN's overview: the image, each block's output maps as a stack with its shape and its dead channels, then
    the features handed to the dense layers. A square's size follows its maps' side. Under each stack, one dot per
    channel (red when dead), whose customdata (block, channel) picked_channel reads when it is clicked."""
    fig = go.Figure()
    x = 0.0
    x = _stack(fig, x, 2.0, 1, "#9ca3af", _("image") + "<br>1 × 28 × 28") + 0.8
    centres, hovers = [], []
    dots: dict[str, list] = {"x": [], "y": [], "custom": [], "hover": [], "color": []}
    size, bottom = 10.0, DOTS_TOP
    for b, block in enumerate(blocks):
        centres.append(x + 0.3 + 0.7 * float(block["shape"][1]) / 28)
        name = layer_name(block["name"])
        hovers.append(f"{name}: {shape_text(block['shape'])}")
        shape = block["shape"]
        side = 0.6 + 1.4 * float(shape[1]) / 28
        dead = float(np.mean(block["dead"])) if len(block["dead"]) else 0.0
        label = f"{name}<br>{shape_text(shape)}<br>" + _("{share} dead", share=f"{dead:.0%}")
        start = x
        x = _stack(fig, x, side, int(shape[0]), "#fca5a5" if dead > 0.3 else "#a5b4fc", label) + 0.8
        xs, ys, step = _channel_dots(block, (start + x - 0.8) / 2)
        size, bottom = min(size, step * PX_PER_UNIT * 0.55), min(bottom, min(ys))
        for c in range(len(xs)):
            off = bool(block["dead"][c])
            dots["custom"].append([b, c])
            dots["hover"].append(_("{layer}, channel {channel}: click to inspect it", layer=name, channel=c)
                                 + ("<br>" + _("never fires") if off else ""))
            dots["color"].append("#dc2626" if off else "#4f46e5")
        dots["x"] += xs
        dots["y"] += ys
        fig.add_annotation(x=x - 0.4, y=0, text="→", showarrow=False, font={"size": 18})
    fig.add_shape(type="rect", x0=x, x1=x + 0.25, y0=-1.2, y1=1.2, line={"color": "#374151", "width": 1},
                  fillcolor="#fde68a")
    fig.add_annotation(x=x + 0.12, y=-1.45, text=layer_name("head") + f"<br>{features:,}", showarrow=False,
                       yanchor="top", font={"size": 11})
    # hover over each stack names its block and shape (the squares themselves are layout shapes, without hover)
    fig.add_trace(go.Scatter(x=centres, y=[0.0] * len(centres), mode="markers", hovertext=hovers,
                             customdata=[[b, None] for b in range(len(blocks))],
                             hovertemplate="%{hovertext}<extra></extra>", marker={"size": 24, "opacity": 0}))
    fig.add_trace(go.Scatter(x=dots["x"], y=dots["y"], mode="markers", customdata=dots["custom"],
                             hovertext=dots["hover"], hovertemplate="%{hovertext}<extra></extra>",
                             marker={"size": max(size, 4.0), "color": dots["color"]}))
    low = bottom - 0.35
    fig.update_layout(title=_("Convolution blocks: the maps each block hands on"),
                      height=int(50 + PX_PER_UNIT * (1.8 - low)), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      plot_bgcolor="white", showlegend=False, clickmode="event+select",
                      xaxis={"visible": False, "range": [-0.3, x + 1.2]},
                      yaxis={"visible": False, "range": [low, 1.8], "scaleanchor": "x"})
    return fig


def picked_channel(points: Sequence[Mapping]) -> tuple[int, int | None] | None:
    """What a click on blocks_figure picked: (block, channel) for a channel's dot, (block, None) for a stack, None
    for nothing (Streamlit's selection points, each with the customdata of the point)."""
    for point in reversed(points):
        data = point.get("customdata")
        if isinstance(data, (list, tuple)) and len(data) == 2 and data[0] is not None:
            return int(data[0]), None if data[1] is None else int(data[1])
    return None


# Text alternatives: the key figures in words.

def kernels_text(kernels: np.ndarray, name: str) -> str:
    kernels = np.asarray(kernels, dtype=np.float64)
    strength = np.abs(kernels).reshape(len(kernels), -1).sum(1)
    return _("{layer}: {count} kernels of {k} × {k}; the strongest is channel {best}, the weakest channel {worst}; "
             "weights from {lo} to {hi}.", layer=layer_name(name), count=len(kernels), k=kernels.shape[-1],
             best=int(strength.argmax()), worst=int(strength.argmin()), lo=f"{kernels.min():.3g}",
             hi=f"{kernels.max():.3g}")


def maps_text(maps: np.ndarray, name: str) -> str:
    maps = np.asarray(maps, dtype=np.float64)
    peak = maps.reshape(len(maps), -1).max(1)
    silent = int((peak <= 0).sum())
    return _("{layer}: {count} maps of {side} × {side}; channel {best} responds most (up to {value}); {silent} "
             "channels stay at 0 or below on this image.", layer=layer_name(name), count=len(maps),
             side=maps.shape[-1], best=int(peak.argmax()), value=f"{peak.max():.3g}", silent=silent)


def blocks_text(blocks: Sequence[Mapping], features: int) -> str:
    parts = [f"{layer_name(b['name'])} {shape_text(b['shape'])} "
             + _("({share} dead)", share=f"{float(np.mean(b['dead'])):.0%}") for b in blocks]
    return _("1 × 28 × 28 image → {blocks} → {features} features for the dense layers.", blocks=" → ".join(parts),
             features=f"{features:,}")
