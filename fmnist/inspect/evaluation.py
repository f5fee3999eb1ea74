"""A model's figures on a labelled set (accuracy, loss, confusion matrix, per-image predictions) as NumPy arrays:
what fmnist.inspect.evaluate computes with torch, and what the app's server receives from a worker (fmnist.runs), so
the pages that show them need no torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fmnist.data.dataset import CLASSES


@dataclass
class Evaluation:
    accuracy: float  # percent
    loss: float
    confusion: np.ndarray  # (10, 10) int64, rows = true class, columns = predicted class
    predictions: np.ndarray | None = None  # (N,) int64
    probabilities: np.ndarray | None = None  # (N, 10) float32

    @property
    def class_accuracy(self) -> list[float]:
        """Percent of each class's images predicted correctly (the class's recall)."""
        totals = self.confusion.sum(1)
        return [100.0 * self.confusion[i, i] / totals[i] if totals[i] else 0.0 for i in range(10)]

    def per_class(self) -> list[dict]:
        rows = []
        for i, name in enumerate(CLASSES):
            tp = int(self.confusion[i, i])
            actual, predicted = int(self.confusion[i].sum()), int(self.confusion[:, i].sum())
            precision = tp / predicted if predicted else 0.0
            recall = tp / actual if actual else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            rows.append({"class": name, "precision": 100 * precision, "recall": 100 * recall,
                         "accuracy": 100 * recall, "f1": 100 * f1, "support": actual})
        return rows

    def as_dict(self) -> dict:
        return {"accuracy": self.accuracy, "loss": self.loss, "per_class": self.per_class(),
                "confusion_matrix": self.confusion.tolist()}
