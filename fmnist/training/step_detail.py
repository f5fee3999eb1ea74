"""One step at a time: what a single mini-batch trained while paused did (its images, predictions and loss before
and after, every layer's weight change). Plain numpy, so a worker process can send it as it is."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from fmnist.training.events import StepDetailEvent

SHOWN_IMAGES = 64  # images of the batch kept for display; the loss is over the whole batch


@torch.no_grad()
def _look(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[float, list[int]]:
    was = model.training
    model.eval()
    logits = model(xb).float()
    model.train(was)
    return float(F.cross_entropy(logits, yb)), logits.argmax(1)[:SHOWN_IMAGES].cpu().tolist()


def before_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> dict:
    xb, yb = x.index_select(0, idx), y.index_select(0, idx)
    loss, pred = _look(model, xb, yb)
    weights = [m.weight.detach().clone() for m in model.modules() if isinstance(m, nn.Linear)]
    return {"xb": xb, "yb": yb, "loss": loss, "pred": pred, "weights": weights}


def after_step(state: dict, model: nn.Module, step: int, epoch: int) -> StepDetailEvent:
    loss, pred = _look(model, state["xb"], state["yb"])
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    change = [(m.weight.detach() - w).float().cpu().numpy() for m, w in zip(linears, state["weights"])]
    images = ((state["xb"][:SHOWN_IMAGES].float().cpu() * 0.5 + 0.5).clamp(0, 1) * 255).round()
    return StepDetailEvent(step, epoch, images.to(torch.uint8).reshape(-1, 28, 28).numpy(),
                           state["yb"][:SHOWN_IMAGES].cpu().tolist(), state["pred"], pred, state["loss"], loss, change,
                           batch_size=len(state["yb"]))
