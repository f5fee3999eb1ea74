"""Accuracy, loss, per-class metrics, the confusion matrix and per-image predictions, in one chunked pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fmnist.data.dataset import CLASSES, EVAL_CHUNK


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


def evaluate_logits(logits: torch.Tensor, labels: torch.Tensor, with_predictions: bool = True) -> Evaluation:
    loss = F.cross_entropy(logits.float(), labels).item()
    pred = logits.argmax(1)
    confusion = torch.bincount(labels * 10 + pred, minlength=100).reshape(10, 10).cpu().numpy()
    accuracy = 100.0 * float(np.trace(confusion)) / max(int(labels.shape[0]), 1)
    if not with_predictions:
        return Evaluation(accuracy, loss, confusion)
    probs = torch.softmax(logits.float(), 1)
    return Evaluation(accuracy, loss, confusion, pred.cpu().numpy(), probs.cpu().numpy())


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, chunk: int = EVAL_CHUNK) -> torch.Tensor:
    """Logits for normalised inputs (N, 784) in large chunks, in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([model(x[i:i + chunk].to(device)) for i in range(0, x.shape[0], chunk)])
    model.train(was_training)
    return out


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = EVAL_CHUNK) -> Evaluation:
    """Everything the app and the CLI show about a model on a labelled set."""
    logits = predict_logits(model, x, chunk)
    return evaluate_logits(logits, y.to(logits.device))
