"""Pure helpers for the Explore, Evaluate and Classify pages: filtering, paging, captions and Plotly figures.

Nothing here imports streamlit, so all of it is tested directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from fmnist.data.dataset import CLASSES
from ui.i18n import N_, _
from ui.names import class_name

# Option values stay English (tests and session state hold them); pages show them through _().
CORRECTNESS = (N_("All"), N_("Correct"), N_("Wrong"))
SORTS = (N_("Test index"), N_("Confidence, lowest first"), N_("Confidence, highest first"))
BY_INDEX, LEAST_CONFIDENT, MOST_CONFIDENT = SORTS

NEUTRAL, PREDICTED, RIGHT, WRONG = "#9aa5b1", "#1f77b4", "#2ca02c", "#d62728"


def filter_indices(pred: np.ndarray, true: np.ndarray, probs: np.ndarray, true_class: int | None = None,
                   pred_class: int | None = None, correctness: str = "All", sort: str = BY_INDEX) -> np.ndarray:
    """Test-set indices that pass the filters, in the chosen order (ties keep index order)."""
    pred, true = np.asarray(pred), np.asarray(true)
    keep = np.ones(len(pred), dtype=bool)
    if true_class is not None:
        keep &= true == true_class
    if pred_class is not None:
        keep &= pred == pred_class
    if correctness == "Correct":
        keep &= pred == true
    elif correctness == "Wrong":
        keep &= pred != true
    elif correctness != "All":
        raise ValueError(f"correctness must be one of {CORRECTNESS}, got {correctness!r}")
    idx = np.flatnonzero(keep)
    if sort == BY_INDEX:
        return idx
    conf = confidences(probs)[idx]
    if sort == LEAST_CONFIDENT:
        return idx[np.argsort(conf, kind="stable")]
    if sort == MOST_CONFIDENT:
        return idx[np.argsort(-conf, kind="stable")]
    raise ValueError(f"sort must be one of {SORTS}, got {sort!r}")


def most_confident_mistakes(pred: np.ndarray, true: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The errors the model was surest about: the most instructive ones to look at first."""
    return filter_indices(pred, true, probs, correctness="Wrong", sort=MOST_CONFIDENT)


def confidences(probs: np.ndarray) -> np.ndarray:
    """The probability of the predicted (top) class, per image."""
    return np.asarray(probs).max(axis=-1)


def page_count(n: int, per_page: int) -> int:
    """At least one page, so the pager still renders when nothing matches."""
    return max(1, -(-n // per_page))


def page_of(indices: np.ndarray, page: int, per_page: int) -> np.ndarray:
    """The indices on a 1-based page; an out-of-range page is clamped rather than shown empty."""
    page = min(max(page, 1), page_count(len(indices), per_page))
    return indices[(page - 1) * per_page: page * per_page]


def top_k(probs: Sequence[float], k: int = 3) -> list[tuple[str, float]]:
    """(class name, probability) of the k likeliest classes, likeliest first."""
    p = np.asarray(probs, dtype=np.float64)
    order = np.argsort(-p, kind="stable")[:k]
    return [(CLASSES[i], float(p[i])) for i in order]


def top_k_markdown(probs: Sequence[float], k: int = 3) -> str:
    return "\n".join(f"{n}. **{class_name(name)}** {100 * p:.1f}%" for n, (name, p) in enumerate(top_k(probs, k), 1))


def tile_caption(index: int, true: int, pred: int, confidence: float) -> str:
    """A Markdown caption; a mistake is red and starts with a cancel icon so it stands out in a grid."""
    if true == pred:
        return f":material/check_circle: #{index} **{class_name(CLASSES[pred])}** {100 * confidence:.0f}%"
    truth = _("(is {name})", name=class_name(CLASSES[true]))
    return f":red[:material/cancel: #{index} **{class_name(CLASSES[pred])}** {100 * confidence:.0f}% {truth}]"


def upscale(img28: np.ndarray, factor: int = 6) -> np.ndarray:
    """Nearest-neighbour enlargement: browsers smooth small images when they stretch them, which blurs pixels."""
    img = np.asarray(img28)
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


def bar_colors(probs: Sequence[float], true_label: int | None = None) -> list[str]:
    """The top class is highlighted: green if it is the true one, red if not, blue when the truth is unknown;
    a missed true class is green so the right answer is visible too."""
    top = int(np.argmax(probs))
    colors = [NEUTRAL] * len(probs)
    if true_label is None:
        colors[top] = PREDICTED
        return colors
    colors[true_label] = RIGHT
    if top != true_label:
        colors[top] = WRONG
    return colors


def probability_figure(probs: Sequence[float], true_label: int | None = None, height: int = 300) -> go.Figure:
    """Bars of the 10 class probabilities (fractions; the axis shows percent)."""
    p = [float(v) for v in probs]
    labels = [f"{class_name(name)} ✓" if i == true_label else class_name(name) for i, name in enumerate(CLASSES)]
    fig = go.Figure(go.Bar(
        x=labels, y=p, marker_color=bar_colors(p, true_label), text=[f"{100 * v:.1f}%" for v in p],
        textposition="outside", cliponaxis=False, hovertemplate="%{x}: %{y:.2%}<extra></extra>",
    ))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), showlegend=False,
                      yaxis=dict(range=[0, 1.1], tickformat=".0%", title=None), xaxis=dict(tickangle=-45))
    return fig


def normalized_rows(confusion: np.ndarray) -> np.ndarray:
    """Each row as percent of that true class; an empty row stays 0 instead of dividing by zero."""
    c = np.asarray(confusion, dtype=np.float64)
    totals = c.sum(axis=1, keepdims=True)
    return np.divide(100.0 * c, totals, out=np.zeros_like(c), where=totals > 0)


def confusion_figure(confusion: np.ndarray, normalize: bool = False, highlight: tuple[int, int] | None = None,
                     height: int = 560) -> go.Figure:
    """Heatmap with true classes down and predictions across, each cell annotated.

    Streamlit cannot select heatmap cells (streamlit/streamlit#8760), so an invisible square marker sits on
    every cell; clicking one selects that scatter point, whose customdata is [true, predicted].
    ``highlight`` = (true, predicted) outlines the cell whose images the page shows.
    """
    counts = np.asarray(confusion)
    z = normalized_rows(counts) if normalize else counts
    names = [class_name(c) for c in CLASSES]
    text = [[f"{v:.1f}%" if normalize else f"{int(v)}" for v in row] for row in z]
    heat = go.Heatmap(
        z=z, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues", hoverinfo="skip",
        colorbar=dict(title=_("% of row") if normalize else _("images")),
    )
    cells = [(t, p) for t in range(10) for p in range(10)]
    overlay = go.Scatter(
        x=[names[p] for _t, p in cells], y=[names[t] for t, _p in cells], mode="markers",
        customdata=[[t, p, int(counts[t, p])] for t, p in cells],
        # Invisible in every state: the outline below marks the chosen cell, whichever way it was chosen.
        marker=dict(symbol="square", size=20, opacity=0), selected=dict(marker=dict(opacity=0)),
        unselected=dict(marker=dict(opacity=0)),
        hovertemplate=_("true {true}<br>predicted {predicted}<br>{count} images", true="%{y}", predicted="%{x}",
                        count="%{customdata[2]}") + "<extra></extra>", showlegend=False,
    )
    fig = go.Figure([heat, overlay])
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), clickmode="event+select", dragmode=False,
        hovermode="closest", hoverdistance=-1,  # any click inside the plot picks the nearest cell
        xaxis=dict(title=_("Predicted class"), tickangle=-45, side="bottom"),
        yaxis=dict(title=_("True class"), autorange="reversed"),
    )
    if highlight is not None:
        t, p = highlight  # category axes put class i at coordinate i
        fig.add_shape(type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line=dict(color=WRONG, width=3))
    return fig


def cell_from_selection(selection: Mapping | None) -> tuple[int, int] | None:
    """(true, predicted) of the confusion cell a chart selection points at, or None without a usable point."""
    points = (selection or {}).get("points") or []
    for point in points:
        custom = point.get("customdata")
        if isinstance(custom, (list, tuple)) and len(custom) >= 2:
            return int(custom[0]), int(custom[1])
        names = [class_name(c) for c in CLASSES]  # the axes show the names in the session's language
        for axis in (list(CLASSES), names):
            if point.get("y") in axis and point.get("x") in axis:
                return axis.index(point["y"]), axis.index(point["x"])
    return None


def most_confused_pair(confusion: np.ndarray) -> tuple[int, int]:
    """The largest off-diagonal cell: the most common mistake, a useful first cell to show."""
    off = np.asarray(confusion).copy()
    np.fill_diagonal(off, -1)
    t, p = np.unravel_index(int(np.argmax(off)), off.shape)
    return int(t), int(p)


# Diverging and see-through in the middle: a pixel that did not matter leaves the item visible underneath.
# Red pushed the explained class's score up, blue pushed it down (ColorBrewer RdBu ends).
SALIENCY_COLORSCALE = [
    [0.0, "rgba(33, 102, 172, 0.95)"], [0.25, "rgba(103, 169, 207, 0.6)"], [0.5, "rgba(255, 255, 255, 0)"],
    [0.75, "rgba(239, 138, 98, 0.6)"], [1.0, "rgba(178, 24, 43, 0.95)"],
]


def saliency_range(attribution: np.ndarray) -> float:
    """Half-width of the colour range, symmetric about 0 so white-ish means "no effect" whatever the signs.
    An all-zero map still gets a non-empty range."""
    bound = float(np.max(np.abs(attribution))) if np.size(attribution) else 0.0
    return bound if np.isfinite(bound) and bound > 0 else 1.0


def saliency_figure(img28: np.ndarray, attribution: np.ndarray, height: int = 300) -> go.Figure:
    """The 28x28 input in grey with the signed attribution (28, 28) drawn over it: red pixels pushed the
    explained class up, blue ones pushed it down, unimportant ones stay see-through."""
    img = np.asarray(img28)
    att = np.asarray(attribution, dtype=np.float64)
    if img.shape != (28, 28) or att.shape != (28, 28):
        raise ValueError(f"expected two 28x28 arrays, got {img.shape} and {att.shape}")
    bound = saliency_range(att)
    image = go.Heatmap(z=img, colorscale="gray", zmin=0, zmax=255, showscale=False, hoverinfo="skip")
    overlay = go.Heatmap(
        z=att, colorscale=SALIENCY_COLORSCALE, zmin=-bound, zmax=bound, name="attribution",
        # Under the image rather than beside it: in a narrow column a side bar would take a third of the width.
        colorbar=dict(orientation="h", y=0, yanchor="top", ypad=4, thickness=10, len=1,
                      # Ticks inside the ends, so their labels are not cut off at the figure's edges.
                      tickvals=[-0.75 * bound, 0, 0.75 * bound], ticktext=[_("against"), _("no effect"), _("for")]),
        hovertemplate=_("row {row}, column {column}<br>attribution {value}", row="%{y}", column="%{x}",
                        value="%{z:.3g}") + "<extra></extra>",
    )
    fig = go.Figure([image, overlay])
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=0, b=40), plot_bgcolor="black",
                      xaxis=dict(visible=False, constrain="domain"),
                      yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", constrain="domain"))
    return fig


# Text alternatives: each chart's key figures in words, shown as a caption by the chart (screen readers, and
# anyone who would rather read than decode a heatmap).

def _pct(fraction: float) -> str:
    return f"{100 * fraction:.1f}%"


def probability_summary(probs: Sequence[float], true_label: int | None = None) -> str:
    """The probability bars in words: the three likeliest classes and, for a mistake, what the true class got."""
    (n1, p1), (n2, p2), (n3, p3) = top_k(probs, 3)
    text = _("Likeliest: {first} {p1}, then {second} {p2} and {third} {p3}.", first=class_name(n1), p1=_pct(p1),
             second=class_name(n2), p2=_pct(p2), third=class_name(n3), p3=_pct(p3))
    if true_label is not None and true_label != int(np.argmax(probs)):
        text += " " + _("The true class, {name}, gets {p}.", name=class_name(CLASSES[true_label]),
                        p=_pct(float(probs[true_label])))
    return text


def confusion_summary(confusion: np.ndarray) -> str:
    """The confusion matrix in words: accuracy, the commonest mistake, the easiest and hardest class."""
    c = np.asarray(confusion)
    total, right = int(c.sum()), int(np.trace(c))
    if total == 0:
        return _("No test image was evaluated.")
    parts = [_("Test accuracy {accuracy}: {right} of {total} images right.", accuracy=_pct(right / total),
               right=f"{right:,}", total=f"{total:,}")]
    t, p = most_confused_pair(c)
    if t != p and c[t, p] > 0:
        parts.append(_("Most confused: {true} taken for {predicted} {count} times.", true=class_name(CLASSES[t]),
                       predicted=class_name(CLASSES[p]), count=f"{int(c[t, p]):,}"))
    rows = c.sum(axis=1)
    if (rows > 0).any():
        recall = np.where(rows > 0, np.diag(c) / np.maximum(rows, 1), np.nan)
        best, worst = int(np.nanargmax(recall)), int(np.nanargmin(recall))
        parts.append(_("Easiest class: {best} ({acc_best} right); hardest: {worst} ({acc_worst}).",
                       best=class_name(CLASSES[best]), acc_best=_pct(recall[best]),
                       worst=class_name(CLASSES[worst]), acc_worst=_pct(recall[worst])))
    return " ".join(parts)


def saliency_summary(attribution: np.ndarray) -> str:
    """The saliency map in words: where the strongest push for the class is, and how for and against balance."""
    att = np.nan_to_num(np.asarray(attribution, dtype=np.float64))
    up, down = float(att[att > 0].sum()), float(-att[att < 0].sum())
    if up + down == 0:
        return _("No pixel changes the score.")
    row, column = np.unravel_index(int(np.argmax(att)), att.shape)
    text = _("{share} of the total effect pushes the score up, the rest down.", share=_pct(up / (up + down)))
    if up > 0:
        text = _("Strongest push for the class at row {row}, column {column}.", row=int(row),
                 column=int(column)) + " " + text
    return text
