"""Accuracy, loss, per-class metrics, the confusion matrix and per-image predictions, in one chunked pass."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fmnist.data.dataset import EVAL_CHUNK
from fmnist.inspect.evaluation import Evaluation


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
