"""Pure builders for "what the network learned": per-class learning curves, first-layer filters, the learned space
and run-to-run comparisons. No Streamlit here, so tests read every figure directly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from fmnist.config import TrainConfig
from fmnist.data.dataset import CLASSES
from ui.i18n import _
from ui.names import class_name

CLASS_COLORS = qualitative.Plotly  # ten colours, one per class, the same in every frame
DIVERGING = "RdBu_r"  # blue below zero, white at zero, red above
GAP = 1  # pixels of blank between two filters in the grid
MAX_FRAMES = 30  # epochs a replay holds at most: 2,000 points a frame add up on a long run


def class_curves_figure(epochs: Sequence[Mapping]) -> go.Figure:
    """Test accuracy of each class (rows) after each epoch (columns), in percent: which classes are learned
    early, which late, and which never catch up. Epochs without per-class numbers are skipped."""
    rows = [e for e in epochs if e.get("test_class_acc") is not None]
    z = [[float(e["test_class_acc"][c]) for e in rows] for c in range(len(CLASSES))]
    x = [e["epoch"] for e in rows]
    lowest = min((v for row in z for v in row), default=0.0)
    heat = go.Heatmap(z=z, x=x, y=[class_name(c) for c in CLASSES], colorscale="Viridis", zmin=lowest, zmax=100,
                      texttemplate="%{z:.0f}" if len(rows) <= 30 else None, colorbar={"title": _("% right")},
                      hovertemplate=_("{cls}<br>epoch {epoch}: {value}% right", cls="%{y}", epoch="%{x}",
                                      value="%{z:.1f}") + "<extra></extra>")
    fig = go.Figure(heat)
    fig.update_layout(title=_("Test accuracy per class and epoch"), height=380,
                      margin={"l": 90, "r": 104, "t": 40, "b": 80},  # labels and colour bar fit: see charts.MARGIN
                      xaxis={"title": _("epoch"), "type": "category" if len(rows) <= 30 else "linear"},
                      yaxis={"autorange": "reversed"})
    return fig


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for n tiles."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return max(1, math.ceil(n / cols)), cols


def tile(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """(k, h, w) images as one (rows*(h+GAP)-GAP, cols*(w+GAP)-GAP) array, row by row, NaN between and after."""
    images = np.asarray(images, dtype=np.float64)
    k, h, w = images.shape
    cols = cols or grid_shape(k)[1]
    rows = max(1, math.ceil(k / cols))
    out = np.full((rows * (h + GAP) - GAP, cols * (w + GAP) - GAP), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + GAP):r * (h + GAP) + h, c * (w + GAP):c * (w + GAP) + w] = img
    return out


def filters_figure(filters: np.ndarray, title: str | None = None, height: int = 520) -> go.Figure:
    """The (k, 28, 28) incoming weights of first-layer units as one tiled image: red pixels excite the unit, blue
    ones inhibit it, white ones do not matter. One colour scale for all, symmetric around 0, so colours compare."""
    filters = np.asarray(filters, dtype=np.float64)
    if filters.ndim != 3 or filters.shape[1:] != (28, 28):
        raise ValueError(f"expected (k, 28, 28) filters, got shape {filters.shape}")
    z = tile(filters).astype(np.float32)  # float32 travels as compact binary; NaN marks the gaps
    bound = float(np.abs(filters).max()) if filters.size else 0.0
    bound = bound or 1.0
    rank = np.nan_to_num(tile(np.arange(1, len(filters) + 1)[:, None, None] * np.ones((1, 28, 28)))).astype(np.int16)
    heat = go.Heatmap(z=z, customdata=rank, colorscale=DIVERGING, zmin=-bound, zmax=bound, zmid=0,
                      colorbar={"title": _("weight"), "thickness": 12},
                      hovertemplate=_("filter {rank}<br>weight {value}", rank="%{customdata}", value="%{z:.3g}")
                      + "<extra></extra>")
    fig = go.Figure(heat)
    fig.update_layout(title=title or _("First-layer filters"), height=height,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      plot_bgcolor="white",
                      xaxis={"visible": False, "constrain": "domain"},
                      yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"})
    return fig


def _class_traces(coords: np.ndarray, labels: np.ndarray, positions_only: bool = False) -> list[go.Scatter]:
    """One trace per class present. Animation frames need only the positions: the rest stays from the figure's
    own traces, which keeps a long run's replay small."""
    traces = []
    for c, name in enumerate(CLASSES):
        idx = np.flatnonzero(labels == c)
        if not len(idx):
            continue
        if positions_only:
            traces.append(go.Scatter(x=coords[idx, 0], y=coords[idx, 1]))
            continue
        shown = class_name(name)
        traces.append(go.Scatter(
            x=coords[idx, 0], y=coords[idx, 1], mode="markers", name=shown, customdata=idx.astype(np.int32),
            marker={"color": CLASS_COLORS[c % len(CLASS_COLORS)], "size": 5, "opacity": 0.75},
            hovertemplate=_("test image #{index}", index="%{customdata}") + f"<br>{shown}<extra></extra>"))
    return traces


def _check(coords, labels) -> tuple[np.ndarray, np.ndarray]:
    coords, labels = np.asarray(coords, dtype=np.float32), np.asarray(labels)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(labels) < len(coords):
        raise ValueError(f"expected (n, 2) coordinates and at least n labels, got {coords.shape} and {len(labels)}")
    return coords, labels[:len(coords)]


def _projection_layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis={"title": _("component 1"), "zeroline": False},
                      yaxis={"title": _("component 2"), "zeroline": False},
                      legend={"itemsizing": "constant"}, hovermode="closest", clickmode="event+select")
    return fig


def frame_picks(n: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """Indices of at most max_frames of n frames, evenly spread, always the first and the last."""
    if n <= max_frames:
        return list(range(n))
    return sorted({round(i * (n - 1) / (max_frames - 1)) for i in range(max_frames)})


def projection_animation(frames: Sequence[np.ndarray], labels: np.ndarray, epochs: Sequence[int] | None = None,
                         title: str | None = None, height: int = 560,
                         max_frames: int = MAX_FRAMES) -> go.Figure:
    """One frame per epoch (at most max_frames, evenly spread, for a long run) with a play button and a slider.
    It opens on the last epoch; play replays from the first. The axes hold every frame, so the points move
    instead of the axes."""
    if not len(frames):
        raise ValueError("no projection to show")
    epochs = list(epochs) if epochs is not None else list(range(1, len(frames) + 1))
    if len(epochs) != len(frames):
        raise ValueError(f"{len(frames)} frames but {len(epochs)} epoch numbers")
    picks = frame_picks(len(frames), max_frames)
    checked = [_check(frames[i], labels) for i in picks]
    labels = checked[0][1]
    epochs = [epochs[i] for i in picks]
    names = [str(e) for e in epochs]
    fig = go.Figure(_class_traces(checked[-1][0], labels),
                    frames=[go.Frame(data=_class_traces(c, labels, positions_only=True), name=n)
                            for (c, _), n in zip(checked, names)])
    everything = np.concatenate([c for c, _ in checked])
    lo, hi = everything.min(0), everything.max(0)
    pad = 0.05 * np.maximum(hi - lo, 1e-6)
    fig.update_xaxes(range=[float(lo[0] - pad[0]), float(hi[0] + pad[0])], autorange=False)
    fig.update_yaxes(range=[float(lo[1] - pad[1]), float(hi[1] + pad[1])], autorange=False)
    still = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(
        # Under the axis title, the buttons on a row of their own above the slider, placed in pixels (pad) so at
        # any width and height: beside the slider they covered its "epoch 20" on a narrow chart or in Korean.
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0, "y": 0, "xanchor": "left", "pad": {"t": 50},
                      "yanchor": "top", "showactive": False, "buttons": [
                          {"label": _("▶ Play"), "method": "animate",
                           "args": [None, {"frame": {"duration": 700, "redraw": False}, "fromcurrent": False,
                                           "transition": {"duration": 400}}]},
                          {"label": _("❚❚ Pause"), "method": "animate", "args": [[None], still]}]}],
        sliders=[{"active": len(names) - 1, "x": 0, "len": 1, "y": 0, "yanchor": "top", "pad": {"t": 90},
                  "currentvalue": {"prefix": _("epoch") + " "},
                  "steps": [{"label": n, "method": "animate", "args": [[n], still]} for n in names]}],
    )
    _projection_layout(fig, title or _("The learned space, epoch by epoch"), height)
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 170})
    return fig


def point_index(selection: Mapping | None) -> int | None:
    """The test-set index of the first selected point of a projection chart, or None."""
    for point in (selection or {}).get("points") or []:
        custom = point.get("customdata")
        if isinstance(custom, (list, tuple)):
            custom = custom[0] if custom else None
        if custom is not None:
            return int(custom)
    return None


def _setting_text(value) -> str:
    if isinstance(value, bool):
        return _("on") if value else _("off")
    if isinstance(value, (tuple, list)):
        return "-".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def settings_diff(configs: Mapping[str, Mapping]) -> list[dict]:
    """One row per setting whose value is not the same in every run: {"setting": name, run: value as text, ...}.
    A setting missing from a run's metadata (an older checkpoint) counts as TrainConfig's default."""
    defaults = TrainConfig()
    rows = []
    for f in dataclasses.fields(TrainConfig):
        if f.name == "preset":  # a label, not a setting
            continue
        values = {}
        for name, config in configs.items():
            value = (config or {}).get(f.name, getattr(defaults, f.name))
            values[name] = tuple(value) if isinstance(value, list) else value
        if len(set(map(repr, values.values()))) > 1:
            rows.append({_("setting"): f.name, **{name: _setting_text(v) for name, v in values.items()}})
    return rows


def confusion_diff_figure(a: np.ndarray, b: np.ndarray, names: Sequence[str], height: int = 520) -> go.Figure:
    """Confusion matrix of run a minus that of run b (true classes down, predictions across), in images: red where
    a has more, blue where b has more. On the diagonal red is good for a; off it, red is a's extra mistakes."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        raise ValueError(f"the confusion matrices differ in shape: {a.shape} and {b.shape}")
    z = a - b
    bound = int(np.abs(z).max()) or 1
    labels = [class_name(c) for c in CLASSES]
    heat = go.Heatmap(z=z, x=labels, y=labels, colorscale=DIVERGING, zmin=-bound, zmax=bound, zmid=0,
                      text=[[f"{v:+d}" if v else "0" for v in row] for row in z.tolist()], texttemplate="%{text}",
                      colorbar={"title": _("images")},
                      hovertemplate=_("true {true}<br>predicted {predicted}<br>{count} images", true="%{y}",
                                      predicted="%{x}", count="%{text}") + "<extra></extra>")
    fig = go.Figure(heat)
    fig.update_layout(title=_("{a} minus {b}", a=names[0], b=names[1]), height=height,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis={"title": _("Predicted class"), "tickangle": -45},
                      yaxis={"title": _("True class"), "autorange": "reversed"})
    return fig


# Text alternatives: each chart's key figures in words, for screen readers and for anyone who reads rather than looks.

def class_curves_text(epochs: Sequence[Mapping]) -> str:
    """The per-class chart in words: after the last epoch, the best and the worst learned classes."""
    rows = [e for e in epochs if e.get("test_class_acc") is not None]
    if not rows:
        return _("No per-class accuracy recorded.")
    acc = np.asarray(rows[-1]["test_class_acc"], dtype=np.float64)
    order = np.argsort(-acc, kind="stable")
    best, worst = int(order[0]), int(order[-1])
    return _("After epoch {epoch}: best learned {best_class} ({best_acc}% right), worst {worst_class} ({worst_acc}% "
             "right).", epoch=rows[-1]["epoch"], best_class=class_name(CLASSES[best]), best_acc=f"{acc[best]:.1f}",
             worst_class=class_name(CLASSES[worst]), worst_acc=f"{acc[worst]:.1f}")


def filters_text(filters: np.ndarray) -> str:
    """The filter grid in words: how many filters, and the range of their weights."""
    filters = np.asarray(filters, dtype=np.float64)
    if not filters.size:
        return _("No filters to show.")
    return _("{n} filters of 28 × 28 weights, from {lo} to {hi}.", n=len(filters), lo=f"{filters.min():.3g}",
             hi=f"{filters.max():.3g}")


def projection_text(coords: np.ndarray, labels: np.ndarray, epoch: int | None = None) -> str:
    """The learned space in words: the classes whose centres lie closest together (the hardest to tell apart) and
    the one farthest from the rest, at the shown epoch."""
    coords, labels = _check(coords, labels)
    present = [c for c in range(len(CLASSES)) if (labels == c).any()]
    if len(present) < 2:
        return _("Too few classes to compare.")
    centres = np.stack([coords[labels == c].mean(0) for c in present])
    spread = float(np.linalg.norm(coords - coords.mean(0), axis=1).mean()) or 1.0
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    i, j = np.unravel_index(np.argmin(dist), dist.shape)
    far = int(np.argmax(np.where(np.isinf(dist), 0, dist).sum(1)))
    text = _("{n} test images: {a} and {b} lie closest together ({close} of the average spread); {far} lies farthest "
             "from the rest.", n=f"{len(coords):,}", a=class_name(CLASSES[present[i]]),
             b=class_name(CLASSES[present[j]]), close=f"{dist[i, j] / spread:.2f}",
             far=class_name(CLASSES[present[far]]))
    return text if epoch is None else _("After epoch {epoch}: {text}", epoch=epoch, text=text)


def confusion_diff_text(a: np.ndarray, b: np.ndarray, names: Sequence[str]) -> str:
    """The difference of two confusion matrices in words: which run gets more right, and the largest change."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    z = a - b
    right = int(np.trace(z))
    off = z.copy()
    np.fill_diagonal(off, 0)
    t, p = np.unravel_index(np.argmax(np.abs(off)), off.shape)
    text = _("{a} classifies {n} more test images right than {b}.", a=names[0], b=names[1], n=right) if right >= 0 \
        else _("{a} classifies {n} more test images right than {b}.", a=names[1], b=names[0], n=-right)
    if off[t, p]:
        text += " " + _("Largest change in one mistake: {true} taken for {predicted}, {count} images.",
                        true=class_name(CLASSES[t]), predicted=class_name(CLASSES[p]), count=f"{int(off[t, p]):+d}")
    return text
