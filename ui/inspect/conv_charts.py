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


def blocks_figure(blocks: Sequence[Mapping], features: int, height: int = 300) -> go.Figure:
    """The CNN's overview: the image, each block's output maps as a stack with its shape and its dead channels, then
    the features handed to the dense layers. A square's size follows its maps' side."""
    fig = go.Figure()
    x = 0.0
    x = _stack(fig, x, 2.0, 1, "#9ca3af", _("image") + "<br>1 × 28 × 28") + 0.8
    centres, hovers = [], []
    for b in blocks:
        centres.append(x + 0.3 + 0.7 * float(b["shape"][1]) / 28)
        hovers.append(f"{layer_name(b['name'])}: {shape_text(b['shape'])}")
        shape = b["shape"]
        side = 0.6 + 1.4 * float(shape[1]) / 28
        dead = float(np.mean(b["dead"])) if len(b["dead"]) else 0.0
        label = f"{layer_name(b['name'])}<br>{shape_text(shape)}<br>" + _("{share} dead", share=f"{dead:.0%}")
        x = _stack(fig, x, side, int(shape[0]), "#fca5a5" if dead > 0.3 else "#a5b4fc", label) + 0.8
        fig.add_annotation(x=x - 0.4, y=0, text="→", showarrow=False, font={"size": 18})
    fig.add_shape(type="rect", x0=x, x1=x + 0.25, y0=-1.2, y1=1.2, line={"color": "#374151", "width": 1},
                  fillcolor="#fde68a")
    fig.add_annotation(x=x + 0.12, y=-1.45, text=layer_name("head") + f"<br>{features:,}", showarrow=False,
                       yanchor="top", font={"size": 11})
    # hover over each stack names its block and shape (the squares themselves are layout shapes, without hover)
    fig.add_trace(go.Scatter(x=centres, y=[0.0] * len(centres), mode="markers", hovertext=hovers,
                             hovertemplate="%{hovertext}<extra></extra>", marker={"size": 24, "opacity": 0}))
    fig.update_layout(title=_("Convolution blocks: the maps each block hands on"), height=height,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="white", showlegend=False,
                      xaxis={"visible": False, "range": [-0.3, x + 1.2]},
                      yaxis={"visible": False, "range": [-2.8, 1.8], "scaleanchor": "x"})
    return fig


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
