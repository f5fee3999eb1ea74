"""The Models page's training-curve comparison in words (its text alternative); no streamlit, tested directly."""

from __future__ import annotations

from ui.i18n import _
from ui.train.charts import RunCurves

METRICS = {"test_acc": (max, "{:.2f}%"), "test_loss": (min, "{:.4f}")}


def metric_title(metric: str) -> str:
    return _("Test accuracy") if metric == "test_acc" else _("Test loss")


def compare_summary(runs: list[RunCurves], metric: str) -> str:
    """One clause per run: its last value of the metric and its best one (highest accuracy, lowest loss)."""
    better, fmt = METRICS[metric]
    clauses = []
    for run in runs:
        points = [(e["epoch"], e[metric]) for e in run.epochs if e.get(metric) is not None]
        if not points:
            continue
        last_epoch, last = points[-1]
        best_epoch, best = better(points, key=lambda p: p[1])
        clauses.append(_("{name}: {last} after epoch {epoch} (best {best} at epoch {at})", name=run.label,
                         last=fmt.format(last), epoch=last_epoch, best=fmt.format(best), at=best_epoch))
    if not clauses:
        return _("{metric}: no run with a completed epoch chosen.", metric=metric_title(metric))
    return _("{metric} by run: {runs}.", metric=metric_title(metric), runs="; ".join(clauses))
