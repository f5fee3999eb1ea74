"""The shift and rotation test as one figure and in words, from plain data: {model name: {("shift", pixels) or
("rotation", degrees): accuracy in percent}}. No Streamlit here, so tests read every trace."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.i18n import _

# One colour a model, in the order the page lists them (the active model first).
COLORS = ("#4f46e5", "#ea580c", "#16a34a", "#0891b2", "#db2777", "#ca8a04", "#7c3aed", "#475569")
KINDS = ("shift", "rotation")


def _series(result: dict, kind: str) -> tuple[list[float], list[float]]:
    points = sorted((amount, acc) for (k, amount), acc in result.items() if k == kind)
    return [p[0] for p in points], [p[1] for p in points]


def robustness_figure(results: dict[str, dict], height: int = 340) -> go.Figure:
    """Accuracy against shift (left) and against rotation (right), one line a model in the same colour in both."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=(_("Shifted by k pixels"), _("Rotated by r degrees")))
    for i, (name, result) in enumerate(results.items()):
        color = COLORS[i % len(COLORS)]
        for col, kind in enumerate(KINDS, start=1):
            x, y = _series(result, kind)
            fig.add_trace(go.Scatter(x=x, y=y, name=name, legendgroup=name, showlegend=col == 1,
                                     mode="lines+markers", line={"color": color, "width": 3 if i == 0 else 2},
                                     hovertemplate="%{y:.2f}%<extra>" + name + "</extra>"), row=1, col=col)
    fig.update_xaxes(title_text=_("shift (pixels)"), dtick=1, row=1, col=1)
    fig.update_xaxes(title_text=_("rotation (degrees)"), row=1, col=2)
    fig.update_yaxes(title_text=_("test accuracy (%)"), row=1, col=1)
    fig.update_layout(height=height, margin={"l": 64, "r": 16, "t": 48, "b": 64},
                      legend={"orientation": "h", "y": -0.28})
    return fig


def _at(result: dict, kind: str, amount: float) -> float | None:
    return result.get((kind, float(amount)))


def _largest(result: dict, kind: str) -> float | None:
    amounts = [a for (k, a) in result if k == kind and a > 0]
    return max(amounts) if amounts else None


def robustness_summary(results: dict[str, dict]) -> str:
    """The chart's key figures in words: each model's plain accuracy and what it keeps at the largest shift and
    rotation measured, then which model keeps the most under shift."""
    sentences, kept = [], {}
    for name, result in results.items():
        plain = _at(result, "shift", 0) or _at(result, "rotation", 0)
        if plain is None:
            continue
        parts = [_("{model}: {plain}% on the test images as they are", model=name, plain=f"{plain:.1f}")]
        shift = _largest(result, "shift")
        if shift is not None:
            acc = _at(result, "shift", shift)
            parts.append(_("{acc}% shifted by {k} pixels", acc=f"{acc:.1f}", k=f"{shift:g}"))
            kept[name] = (shift, acc / plain if plain else 0.0)
        turn = _largest(result, "rotation")
        if turn is not None:
            parts.append(_("{acc}% rotated by {r} degrees", acc=f"{_at(result, 'rotation', turn):.1f}",
                           r=f"{turn:g}"))
        sentences.append(", ".join(parts) + ".")
    if not sentences:
        return _("Nothing measured yet.")
    same_shift = {shift for shift, _kept in kept.values()}
    if len(kept) > 1 and len(same_shift) == 1:
        best = max(kept, key=lambda n: kept[n][1])
        sentences.append(_("Shifted by {k} pixels, {model} keeps the largest share of its accuracy: {share}%.",
                           k=f"{same_shift.pop():g}", model=best, share=f"{100 * kept[best][1]:.0f}"))
    return " ".join(sentences)
