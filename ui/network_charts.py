"""Pure builders for the inside of the network: the diagram, weight distributions over epochs, layer health, the
unit inspector and one training step. Data in (fmnist.health.network_insight, histograms, epoch health, a
StepDetailEvent), Plotly figure out; no Streamlit here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from fmnist.data import CLASSES
from ui.insight_charts import DIVERGING, tile

EDGES_PER_UNIT = 3  # strongest incoming edges drawn per unit: enough to see the wiring, few enough to read it
POSITIVE, NEGATIVE = "#dc2626", "#2563eb"
WIDTHS = (0.6, 1.5, 3.0, 5.0)  # edge widths by quarter of the strongest edge's magnitude
LAYER_COLORS = qualitative.Plotly


def _y(n: int) -> np.ndarray:
    """Vertical positions of n units, top to bottom, centred on 0 and one apart."""
    return (n - 1) / 2 - np.arange(n)


def _column_title(col: Mapping) -> str:
    shown, units = len(col["shown"]), int(col["units"])
    noun = "pixels" if col["name"] == "input" else "units"
    return f"{col['name']}<br>{units:,} {noun}" + (f"<br>16 shown, {units - shown:,} more" if units > shown else "")


def _unit_label(col: Mapping, unit: int) -> str:
    if col["name"] == "input":
        return f"pixel ({unit // 28}, {unit % 28})"
    if col["name"] == "output":
        return CLASSES[unit]
    return f"{col['name']}, unit {unit}"


def _edges(net: Mapping) -> list[tuple[int, int, int, float]]:
    """(column, source j, target j, weight) of the strongest incoming edges of every shown unit."""
    cols = net["columns"]
    out = []
    for c in range(1, len(cols)):
        w = np.asarray(cols[c]["incoming"])[:, np.asarray(cols[c - 1]["shown"])]
        for t in range(w.shape[0]):
            for s in np.argsort(-np.abs(w[t]))[:EDGES_PER_UNIT]:
                out.append((c, int(s), t, float(w[t, s])))
    return out


def _edge_traces(net: Mapping) -> list[go.Scatter]:
    edges = _edges(net)
    strongest = max((abs(e[3]) for e in edges), default=0.0) or 1.0
    ys = [_y(len(col["shown"])) for col in net["columns"]]
    groups: dict[tuple[bool, int], tuple[list, list]] = {}
    for c, s, t, w in edges:
        bucket = min(int(abs(w) / strongest * len(WIDTHS)), len(WIDTHS) - 1)
        xs, yv = groups.setdefault((w >= 0, bucket), ([], []))
        xs += [c - 1, c, None]
        yv += [float(ys[c - 1][s]), float(ys[c][t]), None]
    traces = []
    for (positive, bucket), (xs, yv) in sorted(groups.items()):
        traces.append(go.Scatter(x=xs, y=yv, mode="lines", hoverinfo="skip", showlegend=False,
                                 line={"color": POSITIVE if positive else NEGATIVE, "width": WIDTHS[bucket]},
                                 opacity=0.35 + 0.15 * bucket))
    return traces


def network_figure(net: Mapping, title: str = "The network", height: int = 560,
                   selected: tuple[int, int] | None = None) -> go.Figure:
    """Columns of units: the input pixels, each hidden layer and the output classes; a wide layer shows its 16
    units with the largest outgoing weights. Each unit's 3 strongest incoming edges are drawn, red for positive
    weights and blue for negative, thicker for larger ones. Unit colour is its mean activation on the probe
    images (scaled per column). Each unit's customdata is (column, index among the shown, unit number)."""
    cols = net["columns"]
    fig = go.Figure(_edge_traces(net))
    for c, col in enumerate(cols):
        shown = np.asarray(col["shown"])
        mean = np.asarray(col["mean"], dtype=float)
        labels = [_unit_label(col, int(u)) for u in shown]
        fig.add_trace(go.Scatter(
            x=[c] * len(shown), y=_y(len(shown)), mode="markers+text" if col["name"] == "output" else "markers",
            text=labels if col["name"] == "output" else None, textposition="middle right", name=col["name"],
            customdata=[[c, j, int(u)] for j, u in enumerate(shown)], hovertext=labels, showlegend=False,
            marker={"size": 16, "color": mean, "colorscale": "Viridis", "line": {"width": 1, "color": "#374151"},
                    "cmin": float(mean.min()) if len(mean) else 0, "cmax": float(mean.max()) if len(mean) else 1},
            hovertemplate="%{hovertext}<br>mean activation %{marker.color:.3g}<br>click to inspect<extra></extra>"))
        top = (len(shown) - 1) / 2
        fig.add_annotation(x=c, y=top + 0.8, text=_column_title(col), showarrow=False, yanchor="bottom",
                           font={"size": 11})
    if selected is not None:
        c, j = selected
        fig.add_trace(go.Scatter(x=[c], y=[_y(len(cols[c]["shown"]))[j]], mode="markers", hoverinfo="skip",
                                 showlegend=False, marker={"size": 26, "color": "rgba(0,0,0,0)",
                                                           "line": {"width": 3, "color": "#f59e0b"}}))
    longest = max(len(col["shown"]) for col in cols)
    fig.update_layout(title=title, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      plot_bgcolor="white", clickmode="event+select", hovermode="closest",
                      xaxis={"visible": False, "range": [-0.4, len(cols) - 0.2]},
                      yaxis={"visible": False, "range": [-longest / 2 - 0.5, longest / 2 + 2.2]})
    return fig


def unit_from_selection(selection: Mapping | None) -> tuple[int, int] | None:
    """(column, index among the shown) of the first unit selected in network_figure, or None."""
    for point in (selection or {}).get("points") or []:
        custom = point.get("customdata")
        if isinstance(custom, (list, tuple)) and len(custom) >= 2:
            return int(custom[0]), int(custom[1])
    return None


def distribution_figure(hists: Sequence[Mapping | None], epochs: Sequence[int], title: str,
                        rows: int = 40, height: int = 300) -> go.Figure:
    """TensorBoard's distributions as a heatmap: epochs across, values up, colour the share of the values in each
    band. Each epoch's histogram ({"lo", "hi", "counts"}) is placed on one value grid spanning every epoch."""
    pairs = [(e, h) for e, h in zip(epochs, hists) if h is not None]
    if not pairs:
        fig = go.Figure()
        fig.update_layout(title=f"{title}: none", height=height)
        return fig
    lo = min(h["lo"] for _, h in pairs)
    hi = max(h["hi"] for _, h in pairs)
    hi = hi if hi > lo else lo + 1e-9
    z = np.zeros((rows, len(pairs)))
    for k, (_, h) in enumerate(pairs):
        counts = np.asarray(h["counts"], dtype=float)
        centres = h["lo"] + (np.arange(len(counts)) + 0.5) * (h["hi"] - h["lo"]) / len(counts)
        where = np.clip(((centres - lo) / (hi - lo) * rows).astype(int), 0, rows - 1)
        np.add.at(z[:, k], where, counts)
        z[:, k] /= max(z[:, k].sum(), 1)
    values = lo + (np.arange(rows) + 0.5) * (hi - lo) / rows
    fig = go.Figure(go.Heatmap(z=z, x=[e for e, _ in pairs], y=values, colorscale="Blues", showscale=False,
                               hovertemplate="epoch %{x}<br>value %{y:.3g}<br>%{z:.1%} of them<extra></extra>"))
    fig.update_layout(title=title, height=height, margin={"l": 60, "r": 10, "t": 40, "b": 40},
                      xaxis={"title": "epoch", "dtick": 1 if len(pairs) <= 20 else None}, yaxis={"title": "value"})
    return fig


HEALTH_PANELS = (("dead", "dead units (%)", 100), ("saturated", "saturated units (%)", 100),
                 ("act_std", "activation spread (std)", 1), ("grad_norm", "gradient norm", 1),
                 ("update_ratio", "update ratio (log10)", 1), ("weight_norm", "weight norm", 1))


def health_figure(epochs: Sequence[Mapping], height: int = 480) -> go.Figure:
    """Each health figure over the epochs, one line per hidden layer; the update ratio with its healthy band."""
    rows = [e for e in epochs if e.get("health")]
    fig = make_subplots(rows=2, cols=3, subplot_titles=[p[1] for p in HEALTH_PANELS],
                        horizontal_spacing=0.08, vertical_spacing=0.18)
    layers = len(rows[0]["health"]) if rows else 0
    x = [e["epoch"] for e in rows]
    for k in range(layers):
        for p, (key, _, scale) in enumerate(HEALTH_PANELS):
            y = [None if e["health"][k][key] is None else e["health"][k][key] * scale for e in rows]
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=f"layer {k + 1}", legendgroup=str(k),
                                     showlegend=p == 0, line={"color": LAYER_COLORS[k % len(LAYER_COLORS)]}),
                          row=p // 3 + 1, col=p % 3 + 1)
    fig.add_hrect(y0=-5, y1=-1, fillcolor="#16a34a", opacity=0.08, line_width=0, row=2, col=2)
    fig.add_hline(y=-3, line_dash="dot", line_color="#16a34a", row=2, col=2)
    fig.update_yaxes(type="log", row=2, col=1)
    fig.update_xaxes(title_text="epoch", row=2)
    fig.update_layout(height=height, margin={"l": 50, "r": 10, "t": 40, "b": 50},
                      legend={"orientation": "h", "y": -0.18})
    return fig


def _fmt(value, pattern: str) -> str:
    return "n/a" if value is None else format(value, pattern)


def health_rows(health: Sequence[Mapping]) -> list[dict]:
    """The table of one epoch's health: one row per hidden layer, as text."""
    return [{"layer": f"hidden {k}", "dead": _fmt(h["dead"], ".0%"), "saturated": _fmt(h["saturated"], ".0%"),
             "activation mean": _fmt(h["act_mean"], ".3g"), "activation std": _fmt(h["act_std"], ".3g"),
             "gradient norm": _fmt(h["grad_norm"], ".2e"), "update ratio (log10)": _fmt(h["update_ratio"], ".2f"),
             "weight norm": _fmt(h["weight_norm"], ".3g")} for k, h in enumerate(health, start=1)]


def incoming_figure(weights: np.ndarray, source: str, height: int = 300) -> go.Figure:
    """A unit's incoming weights: a 28 x 28 image when they come from the pixels, bars otherwise."""
    w = np.asarray(weights, dtype=np.float32)
    bound = float(np.abs(w).max()) or 1.0
    if source == "input":
        fig = go.Figure(go.Heatmap(z=w.reshape(28, 28), colorscale=DIVERGING, zmin=-bound, zmax=bound, zmid=0,
                                   colorbar={"title": "weight", "thickness": 10},
                                   hovertemplate="pixel (%{y}, %{x})<br>weight %{z:.3g}<extra></extra>"))
        fig.update_layout(yaxis={"autorange": "reversed", "scaleanchor": "x", "visible": False},
                          xaxis={"visible": False})
    else:
        fig = go.Figure(go.Bar(x=np.arange(len(w)), y=w, marker={"color": np.where(w >= 0, POSITIVE, NEGATIVE)},
                               hovertemplate=f"{source} unit %{{x}}<br>weight %{{y:.3g}}<extra></extra>"))
        fig.update_layout(xaxis={"title": f"{source} unit"}, yaxis={"title": "weight"}, bargap=0)
    fig.update_layout(title="Incoming weights", height=height, margin={"l": 10, "r": 10, "t": 40, "b": 30},
                      plot_bgcolor="white")
    return fig


def class_activation_figure(class_mean: Sequence[float], height: int = 300) -> go.Figure:
    """A unit's mean activation on the probe images of each class: what it responds to."""
    fig = go.Figure(go.Bar(x=list(CLASSES), y=list(map(float, class_mean)), marker={"color": "#4f46e5"},
                           hovertemplate="%{x}<br>mean activation %{y:.3g}<extra></extra>"))
    fig.update_layout(title="Mean activation per class", height=height, margin={"l": 40, "r": 10, "t": 40, "b": 90},
                      xaxis={"tickangle": -45})
    return fig


def images_figure(images: np.ndarray, captions: Sequence[str], title: str, cols: int = 3,
                  height: int = 320, colors: Sequence[str] | None = None) -> go.Figure:
    """(k, 28, 28) grey images in a grid, each with a caption under it (e.g. its class)."""
    images = np.asarray(images, dtype=np.float32)
    z = tile(images, cols)
    fig = go.Figure(go.Heatmap(z=z, colorscale="gray_r" if images.max(initial=0) <= 1 else "gray", showscale=False,
                               hoverinfo="skip"))
    for i, text in enumerate(captions):
        r, c = divmod(i, cols)
        fig.add_annotation(x=c * 29 + 13.5, y=r * 29 + 28.5, text=text, showarrow=False, yanchor="top",
                           font={"size": 9, "color": colors[i] if colors else "#111827"})
    rows = -(-len(images) // cols)
    fig.update_layout(title=title, height=height, margin={"l": 5, "r": 5, "t": 40, "b": 5}, plot_bgcolor="white",
                      xaxis={"visible": False, "constrain": "domain"},
                      yaxis={"visible": False, "autorange": False, "range": [rows * 29 + 4, -1], "scaleanchor": "x"})
    return fig


def batch_figure(detail: Mapping, cols: int = 8, shown: int = 32) -> go.Figure:
    """The images of one trained batch with their labels and the predictions before -> after the step (green
    when the prediction after the step is right)."""
    k = min(shown, len(detail["labels"]))
    captions, colors = [], []
    for i in range(k):
        before, after, true = detail["pred_before"][i], detail["pred_after"][i], detail["labels"][i]
        captions.append(f"{CLASSES[true][:7]}: {CLASSES[before][:5]}→{CLASSES[after][:5]}")
        colors.append("#15803d" if after == true else "#b91c1c")
    return images_figure(np.asarray(detail["images"][:k]), captions, f"The batch of step {detail['step']} "
                         f"(first {k}): true class, prediction before→after", cols, height=130 + 75 * -(-k // cols),
                         colors=colors)


def weight_change_figure(change: np.ndarray, source: str, height: int = 300) -> go.Figure:
    """A unit's incoming weights after minus before one step."""
    fig = incoming_figure(change, source, height)
    fig.update_layout(title="Incoming weights: after minus before the step")
    return fig
