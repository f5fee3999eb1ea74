"""Classify prepared 28x28 images with a model: shared by the CLI's `predict` and the app's Classify page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from fmnist.data.dataset import CLASSES
from fmnist.data.images import ImageError, model_input, prepare_image


@torch.no_grad()
def probabilities(model: nn.Module, img28: np.ndarray) -> np.ndarray:
    """Class probabilities (10,) for one uint8 28x28 image, light item on dark as in the dataset."""
    device = next(model.parameters()).device
    logits = model.eval()(model_input(img28).reshape(1, 784).to(device))
    return torch.softmax(logits, 1)[0].cpu().numpy()


def image_feature_maps(model: nn.Module, img28: np.ndarray) -> list[np.ndarray]:
    """Each convolution block's maps (channels, side, side) of one uint8 28x28 image; an empty list for an MLP, which
    makes none."""
    from fmnist.inspect.conv import feature_maps, spans

    if not spans(model):
        return []
    return [m[0] for m in feature_maps(model, model_input(img28[None]))]


def result(img28: np.ndarray, probs: np.ndarray, name: str) -> dict:
    i = int(np.argmax(probs))
    return {"file": name, "label": CLASSES[i], "label_index": i,
            "probabilities": [round(float(p), 6) for p in probs]}


def predict_files(model: nn.Module, paths: list[str]) -> list[dict]:
    """One result or one error per file; a bad file never stops the others."""
    out = []
    for p in paths:
        try:
            data = Path(p).read_bytes()
            img = prepare_image(data, name=Path(p).name)
            out.append(result(img, probabilities(model, img), p))
        except ImageError as exc:
            out.append({"file": p, "error": str(exc)})
        except OSError as exc:
            out.append({"file": p, "error": f"{Path(p).name}: cannot read the file ({exc.strerror or exc})"})
    return out


class LocalModel:
    """A model as the Classify and Explore pages use it, computed in this process (the CLI, tests, timings); the app's
    server asks a worker instead (fmnist.runs.inference.WorkerModel, the same three methods)."""

    def __init__(self, model: nn.Module):
        self.model = model

    def probabilities(self, img28: np.ndarray) -> np.ndarray:
        return probabilities(self.model, img28)

    def saliency(self, img28: np.ndarray, target: int | None = None) -> np.ndarray:
        from fmnist.inspect.explain import saliency

        return saliency(self.model, model_input(img28), target)

    def feature_maps(self, img28: np.ndarray) -> list[np.ndarray]:
        return image_feature_maps(self.model, img28)
