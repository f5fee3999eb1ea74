"""The seed preset's batches against torchvision's own DataLoader, run the way the notebook runs it: per epoch a
training pass, then a pass over the (shuffled) training loader to score it, then a pass over the test loader.
Cheap: the loaders iterate index datasets, nothing is trained."""

import torch
from torch import nn
from torch.utils.data import DataLoader

from fmnist.config import SEED
from fmnist.training.notebook import loader_order, notebook_eval_draws, seeded_init

EPOCHS = 3


def notebook_batches() -> list[tuple[list[torch.Tensor], list[torch.Tensor]]]:
    """(training-pass batches, scoring-pass batches) per epoch, from the notebook's loaders over indices."""
    torch.manual_seed(SEED.seed)
    for a, b in zip((784, 1024, 128, 64), (1024, 128, 64, 10)):  # the notebook's DNN draws its four layers
        nn.Linear(a, b)
    train_loader = DataLoader(range(60_000), batch_size=64, shuffle=True, drop_last=True, num_workers=2)
    test_loader = DataLoader(range(10_000), batch_size=64, shuffle=False, num_workers=2)
    epochs = []
    for _ in range(EPOCHS):
        trained = list(train_loader)
        scored = list(train_loader)
        for _ in test_loader:
            pass
        epochs.append((trained, scored))
    return epochs


def test_seed_batches_are_the_notebooks_for_three_epochs():
    notebook = notebook_batches()
    _, rng = seeded_init(SEED)
    steps = 60_000 // SEED.batch_size
    for epoch, (trained, scored) in enumerate(notebook, 1):
        order = loader_order(rng, 60_000)  # what train() takes each epoch
        assert len(trained) == steps == 937
        assert torch.equal(order[:steps * 64].view(steps, 64), torch.stack(trained)), f"epoch {epoch}"
        eval_order = notebook_eval_draws(rng, 60_000)
        assert torch.equal(eval_order[:steps * 64].view(steps, 64), torch.stack(scored)), f"epoch {epoch} eval"
    # Without the scoring passes' draws the second epoch would already differ: the test can tell.
    _, rng = seeded_init(SEED)
    loader_order(rng, 60_000)
    assert not torch.equal(loader_order(rng, 60_000)[:64], notebook[1][0][0])
