"""The classic notebook's random draws, replayed: its initial weights, the order its DataLoader shuffles in, and the
draws of its evaluation passes, so the seed preset sees exactly the notebook's batches."""

from __future__ import annotations

import threading

import torch
from torch import nn

from fmnist.config import TrainConfig
from fmnist.inspect.evaluate import evaluate_logits, predict_logits
from fmnist.model.mlp import MLP

_SEED_LOCK = threading.Lock()


def draw_seed(rng: torch.Generator) -> int:
    return int(torch.empty((), dtype=torch.int64).random_(generator=rng).item())


def loader_order(rng: torch.Generator, n: int) -> torch.Tensor:
    """The order DataLoader(shuffle=True) draws from the same RNG stream (its iterator's base seed first,
    then the sampler's seed), so the seed preset sees the notebook's batches."""
    draw_seed(rng)
    return torch.randperm(n, generator=torch.Generator().manual_seed(draw_seed(rng)))


def notebook_eval_draws(rng: torch.Generator, n: int) -> torch.Tensor:
    """After each epoch the notebook iterates its shuffled training loader, then its test loader, to evaluate.
    Each pass draws from the global RNG (base seed, and the sampler's seed for the shuffled one), which moves the
    next epoch's shuffle: the same draws here keep our batches the notebook's. Returns the order of the
    training-set pass."""
    order = loader_order(rng, n)  # the train-eval pass: base seed + sampler seed
    draw_seed(rng)  # the test pass: base seed (its sampler is sequential)
    return order


def train_eval_score(config: TrainConfig, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     rows: torch.Tensor | None, order: torch.Tensor) -> tuple[float | None, float | None]:
    """With eval_train, the notebook's "Train Acc.": eval mode over the images its training-set pass (in `order`)
    yields, all but the dropped partial batch; (accuracy %, mean loss), else (None, None). Batch order cannot
    change the figure, so all images are scored at once. The notebook's printed loss is not this mean: it divides
    a sum of batch means by the number of images."""
    if not config.eval_train:
        return None, None
    n = order.shape[0]
    kept = (order[:n - n % config.batch_size] if config.drop_last else order).to(x.device)
    idx = kept if rows is None else rows[kept]  # rows of x
    logits = predict_logits(model, x)  # chunked views of the shared tensor: no copy of the training images
    ev = evaluate_logits(logits.index_select(0, idx), y.index_select(0, idx), with_predictions=False)
    return ev.accuracy, ev.loss


def seeded_init(config: TrainConfig) -> tuple[MLP, torch.Generator]:
    """The model drawn as the notebook draws it right after torch.manual_seed, and the rest of that RNG stream
    in a private generator (the global RNG is shared by every session's thread: seed and draw in one go)."""
    with _SEED_LOCK:
        torch.manual_seed(config.seed)
        model = MLP(config)  # drawn on the CPU, so the init is the same on every device
        rng = torch.Generator()
        rng.set_state(torch.get_rng_state())
    return model, rng
