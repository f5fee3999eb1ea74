"""Pure builders for the inside of the network: the diagram, weight distributions over epochs, layer health, the
unit inspector and one training step. Data in (fmnist.inspect.health.network_insight, histograms, epoch health, a
StepDetailEvent), Plotly figure out; no Streamlit here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from fmnist.data.dataset import CLASSES
from ui.i18n import N_, _
from ui.inspect.explain_charts import DIVERGING, tile
from ui.names import class_name

EDGES_PER_UNIT = 3  # strongest incoming edges drawn per unit: enough to see the wiring, few enough to read it
POSITIVE, NEGATIVE = "#dc2626", "#2563eb"
WIDTHS = (0.6, 1.5, 3.0, 5.0)  # edge widths by quarter of the strongest edge's magnitude
LAYER_COLORS = qualitative.Plotly


def layer_name(name: str) -> str:
    """A column or layer name of the engine ("input", "hidden 2", "output") in the session's language."""
    if name == "input":
        return _("input")
    if name == "output":
        return _("output")
    if name.startswith("hidden "):
        return _("hidden {n}", n=name.split()[-1])
    if name.startswith("conv "):
        return _("convolution {n}", n=name.split()[-1])
    if name == "head":
        return _("into the dense layers")
    return name


def _y(n: int) -> np.ndarray:
    """Vertical positions of n units, top to bottom, centred on 0 and one apart."""
    return (n - 1) / 2 - np.arange(n)


def _column_title(col: Mapping) -> str:
    shown, units = len(col["shown"]), int(col["units"])
    count = _("{n} pixels", n=f"{units:,}") if col["name"] == "input" else _("{n} units", n=f"{units:,}")
    more = "<br>" + _("{shown} shown, {more} more", shown=shown, more=f"{units - shown:,}") if units > shown else ""
    return f"{layer_name(col['name'])}<br>{count}{more}"


def _unit_label(col: Mapping, unit: int) -> str:
    if col["name"] == "input":
        return _("pixel ({row}, {col})", row=unit // 28, col=unit % 28)
    if col["name"] == "output":
        return class_name(CLASSES[unit])
    return _("{layer}, unit {unit}", layer=layer_name(col["name"]), unit=unit)


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


def network_figure(net: Mapping, title: str | None = None, height: int = 560,
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
            hovertemplate=_("{unit}<br>mean activation {value}<br>click to inspect", unit="%{hovertext}",
                            value="%{marker.color:.3g}") + "<extra></extra>"))
        top = (len(shown) - 1) / 2
        fig.add_annotation(x=c, y=top + 0.8, text=_column_title(col), showarrow=False, yanchor="bottom",
                           font={"size": 11})
    if selected is not None:
        c, j = selected
        fig.add_trace(go.Scatter(x=[c], y=[_y(len(cols[c]["shown"]))[j]], mode="markers", hoverinfo="skip",
                                 showlegend=False, marker={"size": 26, "color": "rgba(0,0,0,0)",
                                                           "line": {"width": 3, "color": "#f59e0b"}}))
    longest = max(len(col["shown"]) for col in cols)
    fig.update_layout(title=title or _("The network"), height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
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
        fig.update_layout(title=_("{title}: none", title=title), height=height)
        return fig
    lo = min(h["lo"] for _e, h in pairs)
    hi = max(h["hi"] for _e, h in pairs)
    hi = hi if hi > lo else lo + 1e-9
    z = np.zeros((rows, len(pairs)))
    for k, (_e, h) in enumerate(pairs):
        counts = np.asarray(h["counts"], dtype=float)
        centres = h["lo"] + (np.arange(len(counts)) + 0.5) * (h["hi"] - h["lo"]) / len(counts)
        where = np.clip(((centres - lo) / (hi - lo) * rows).astype(int), 0, rows - 1)
        np.add.at(z[:, k], where, counts)
        z[:, k] /= max(z[:, k].sum(), 1)
    values = lo + (np.arange(rows) + 0.5) * (hi - lo) / rows
    fig = go.Figure(go.Heatmap(z=z, x=[e for e, _ in pairs], y=values, colorscale="Blues", showscale=False,
                               hovertemplate=_("epoch {epoch}<br>value {value}<br>{share} of them", epoch="%{x}",
                                               value="%{y:.3g}", share="%{z:.1%}") + "<extra></extra>"))
    fig.update_layout(title=title, height=height, margin={"l": 60, "r": 10, "t": 40, "b": 40},
                      xaxis={"title": _("epoch"), "dtick": 1 if len(pairs) <= 20 else None},
                      yaxis={"title": _("value")})
    return fig


HEALTH_PANELS = (("dead", N_("dead units (%)"), 100), ("saturated", N_("saturated units (%)"), 100),
                 ("act_std", N_("activation spread (std)"), 1), ("grad_norm", N_("gradient norm"), 1),
                 ("update_ratio", N_("update ratio (log10)"), 1), ("weight_norm", N_("weight norm"), 1))


CONV_HEALTH_TITLES = (N_("dead units or channels (%)"), N_("saturated units or channels (%)"))


def health_figure(epochs: Sequence[Mapping], height: int = 480) -> go.Figure:
    """Each health figure over the epochs, one line per hidden layer; the update ratio with its healthy band."""
    rows = [e for e in epochs if e.get("health")]
    titles = [_(p[1]) for p in HEALTH_PANELS]
    if rows and any("channels" in h for h in rows[-1]["health"]):  # a CNN: its blocks count channels, not units
        titles[:2] = [_(CONV_HEALTH_TITLES[0]), _(CONV_HEALTH_TITLES[1])]
    fig = make_subplots(rows=2, cols=3, subplot_titles=titles,
                        horizontal_spacing=0.08, vertical_spacing=0.18)
    layers = len(rows[0]["health"]) if rows else 0
    x = [e["epoch"] for e in rows]
    for k in range(layers):
        for p, (key, _title, scale) in enumerate(HEALTH_PANELS):
            y = [None if e["health"][k][key] is None else e["health"][k][key] * scale for e in rows]
            name = rows[-1]["health"][k].get("name")
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers",
                                     name=layer_name(name) if name else _("layer {n}", n=k + 1),
                                     legendgroup=str(k),
                                     showlegend=p == 0, line={"color": LAYER_COLORS[k % len(LAYER_COLORS)]}),
                          row=p // 3 + 1, col=p % 3 + 1)
    fig.add_hrect(y0=-5, y1=-1, fillcolor="#16a34a", opacity=0.08, line_width=0, row=2, col=2)
    fig.add_hline(y=-3, line_dash="dot", line_color="#16a34a", row=2, col=2)
    fig.update_yaxes(type="log", row=2, col=1)
    fig.update_xaxes(title_text=_("epoch"), row=2)
    fig.update_layout(height=height, margin={"l": 50, "r": 10, "t": 40, "b": 50},
                      legend={"orientation": "h", "y": -0.18})
    return fig


def _fmt(value, pattern: str) -> str:
    return _("n/a") if value is None else format(value, pattern)


def health_rows(health: Sequence[Mapping]) -> list[dict]:
    """The table of one epoch's health: one row per hidden layer, as text."""
    return [{_("layer"): layer_name(h.get("name") or f"hidden {k}"), _("dead"): _fmt(h["dead"], ".0%"),
             _("saturated"): _fmt(h["saturated"], ".0%"), _("activation mean"): _fmt(h["act_mean"], ".3g"),
             _("activation std"): _fmt(h["act_std"], ".3g"), _("gradient norm"): _fmt(h["grad_norm"], ".2e"),
             _("update ratio (log10)"): _fmt(h["update_ratio"], ".2f"),
             _("weight norm"): _fmt(h["weight_norm"], ".3g")} for k, h in enumerate(health, start=1)]


def incoming_figure(weights: np.ndarray, source: str, height: int = 300) -> go.Figure:
    """A unit's incoming weights: a 28 x 28 image when they come from the pixels, bars otherwise."""
    w = np.asarray(weights, dtype=np.float32)
    bound = float(np.abs(w).max()) or 1.0
    if source == "input":
        fig = go.Figure(go.Heatmap(z=w.reshape(28, 28), colorscale=DIVERGING, zmin=-bound, zmax=bound, zmid=0,
                                   colorbar={"title": _("weight"), "thickness": 10},
                                   hovertemplate=_("pixel ({row}, {col})<br>weight {value}", row="%{y}", col="%{x}",
                                                   value="%{z:.3g}") + "<extra></extra>"))
        fig.update_layout(yaxis={"autorange": "reversed", "scaleanchor": "x", "visible": False},
                          xaxis={"visible": False})
    else:
        fig = go.Figure(go.Bar(x=np.arange(len(w)), y=w, marker={"color": np.where(w >= 0, POSITIVE, NEGATIVE)},
                               hovertemplate=_("{layer}, unit {unit}", layer=layer_name(source), unit="%{x}")
                               + "<br>" + _("weight {value}", value="%{y:.3g}") + "<extra></extra>"))
        fig.update_layout(xaxis={"title": _("unit of {layer}", layer=layer_name(source))},
                          yaxis={"title": _("weight")}, bargap=0)
    fig.update_layout(title=_("Incoming weights"), height=height, margin={"l": 10, "r": 10, "t": 40, "b": 30},
                      plot_bgcolor="white")
    return fig


def class_activation_figure(class_mean: Sequence[float], height: int = 300) -> go.Figure:
    """A unit's mean activation on the probe images of each class: what it responds to."""
    fig = go.Figure(go.Bar(x=[class_name(c) for c in CLASSES], y=list(map(float, class_mean)),
                           marker={"color": "#4f46e5"},
                           hovertemplate="%{x}<br>" + _("mean activation {value}", value="%{y:.3g}")
                           + "<extra></extra>"))
    fig.update_layout(title=_("Mean activation per class"), height=height, margin={"l": 40, "r": 10, "t": 40, "b": 90},
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


BATCH_SHOWN, BATCH_COLUMNS = 24, 6  # the trained batch's first images on the Step panel, in rows of this many


def batch_size(detail: Mapping) -> int:
    """The whole batch's size (the detail keeps only its first images); a detail from before it was sent counts
    what it kept."""
    return int(detail.get("batch_size") or len(detail["labels"]))


def batch_caption(detail: Mapping, i: int) -> str:
    """Markdown under the batch's i-th image: its true class, then the prediction before → after the step, in full
    (a tile's column wraps them, nothing is cut); green with a check when the prediction after the step is right,
    red with a cross when it is wrong."""
    true, before, after = (int(detail[key][i]) for key in ("labels", "pred_before", "pred_after"))
    text = f"**{class_name(CLASSES[true])}**  \n{class_name(CLASSES[before])} → {class_name(CLASSES[after])}"
    return f":green[:material/check: {text}]" if after == true else f":red[:material/close: {text}]"


def weight_change_figure(change: np.ndarray, source: str, height: int = 300) -> go.Figure:
    """A unit's incoming weights after minus before one step."""
    fig = incoming_figure(change, source, height)
    fig.update_layout(title=_("Incoming weights: after minus before the step"))
    return fig


# Text alternatives: each chart's key figures in words, for screen readers and for anyone who reads rather than looks.

def network_text(net: Mapping) -> str:
    """The diagram in words: its columns and their sizes, and the most active shown unit of the last hidden layer."""
    cols = net["columns"]
    sizes = ", ".join(f"{layer_name(c['name'])} {int(c['units']):,}" for c in cols)
    text = _("Layers and their units: {sizes}.", sizes=sizes)
    hidden = [c for c in cols if c["name"].startswith("hidden")]
    if hidden and len(hidden[-1]["shown"]):
        col = hidden[-1]
        j = int(np.argmax(col["mean"]))
        text += " " + _("Most active shown unit of {layer}: unit {unit} (mean activation {value}).",
                        layer=layer_name(col["name"]), unit=int(col["shown"][j]), value=f"{float(col['mean'][j]):.3g}")
    return text


def health_text(epochs: Sequence[Mapping]) -> str:
    """The health charts in words: per hidden layer (and convolution block), the last epoch's dead share, gradient
    norm and update ratio."""
    rows = [e for e in epochs if e.get("health")]
    if not rows:
        return _("No layer health recorded.")
    last = rows[-1]
    parts = [_("{layer}: {dead} dead, gradient norm {grad}, update ratio {ratio}",
               layer=layer_name(h["name"]) if h.get("name") else _("layer {n}", n=k), dead=_fmt(h["dead"], ".0%"),
               grad=_fmt(h["grad_norm"], ".2e"), ratio=_fmt(h["update_ratio"], ".2f"))
             for k, h in enumerate(last["health"], start=1)]
    return _("After epoch {epoch}: {text}", epoch=last["epoch"], text="; ".join(parts) + ".")


def distribution_text(hists: Sequence[Mapping | None], epochs: Sequence[int], title: str) -> str:
    """A distribution chart in words: the range of the values at the first and the last epoch shown."""
    pairs = [(e, h) for e, h in zip(epochs, hists) if h is not None]
    if not pairs:
        return _("{title}: none", title=title)
    (e0, h0), (e1, h1) = pairs[0], pairs[-1]
    return _("{title}: from {lo0} to {hi0} after epoch {first}, from {lo1} to {hi1} after epoch {last}.",
             title=title, lo0=f"{h0['lo']:.3g}", hi0=f"{h0['hi']:.3g}", first=e0, lo1=f"{h1['lo']:.3g}",
             hi1=f"{h1['hi']:.3g}", last=e1)


def incoming_text(weights: np.ndarray, source: str) -> str:
    """A unit's incoming weights in words: the strongest positive and negative one and where they come from."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    if not w.size:
        return _("No incoming weights.")

    def where(i: int) -> str:
        return _("pixel ({row}, {col})", row=i // 28, col=i % 28) if source == "input" else \
            _("{layer}, unit {unit}", layer=layer_name(source), unit=i)

    hi, lo = int(w.argmax()), int(w.argmin())
    return _("Strongest positive weight {pos_value} from {pos_from}; strongest negative {neg_value} from {neg_from}.",
             pos_value=f"{w[hi]:.3g}", pos_from=where(hi), neg_value=f"{w[lo]:.3g}", neg_from=where(lo))


def class_activation_text(class_mean: Sequence[float]) -> str:
    """The per-class activation chart in words: the classes the unit responds to most and least."""
    values = np.asarray(class_mean, dtype=np.float64)
    hi, lo = int(values.argmax()), int(values.argmin())
    return _("Responds most to {top_class} ({top_value}), least to {low_class} ({low_value}).",
             top_class=class_name(CLASSES[hi]), top_value=f"{values[hi]:.3g}", low_class=class_name(CLASSES[lo]),
             low_value=f"{values[lo]:.3g}")


def top_images_titles(top: Sequence[int], labels: Sequence[int]) -> list[str]:
    """Each image's title over its thumbnail: its index in the test set and its class, cut to fit the tile."""
    return [f"#{i} {class_name(CLASSES[labels[i]])[:9]}" for i in top]


def top_images_text(labels: Sequence[int]) -> str:
    """The images that excite a unit most, in words: how many of each class."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(CLASSES))
    parts = ", ".join(f"{class_name(CLASSES[c])} {int(counts[c])}" for c in np.argsort(-counts, kind="stable")
                      if counts[c])
    return _("The {n} images that excite it most, by class: {classes}.", n=int(counts.sum()), classes=parts)


def batch_text(detail: Mapping, shown: int = BATCH_SHOWN) -> str:
    """One step's batch in words: of the images shown (the batch's first), how many were predicted right before and
    after the step; the same count as the tiles above, and the batch's size beside it."""
    k = min(shown, len(detail["labels"]))
    labels = np.asarray(detail["labels"][:k])
    before = int((np.asarray(detail["pred_before"][:k]) == labels).sum())
    after = int((np.asarray(detail["pred_after"][:k]) == labels).sum())
    return _("Step {step}: of the {k} images shown, the first of the batch's {n}, {before} were predicted right "
             "before the step and {after} after it.", step=detail["step"], k=k, n=format(batch_size(detail), ","),
             before=before, after=after)


def weight_change_text(change: np.ndarray, source: str) -> str:
    """The weight-change chart in words: how many weights grew and shrank, and the largest change."""
    c = np.asarray(change, dtype=np.float64).ravel()
    return _("{grew} weights grew and {shrank} shrank in this step; the largest change was {largest}.",
             grew=int((c > 0).sum()), shrank=int((c < 0).sum()),
             largest=f"{float(np.abs(c).max()) if c.size else 0.0:.2e}")
