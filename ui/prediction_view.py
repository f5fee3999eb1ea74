"""Streamlit pieces shared by the Explore, Evaluate and Classify pages, and Classify's image -> prediction flow."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NoReturn

import numpy as np
import streamlit as st
from torch import nn

from fmnist import checkpoints
from fmnist.data import CLASSES
from fmnist.evaluate import Evaluation
from fmnist.explain import saliency
from fmnist.images import BlankImageError, ImageError, normalize, prepare_canvas, prepare_image
from fmnist.predict import probabilities
from ui import session
from ui.prediction_charts import (
    confidences,
    probability_figure,
    saliency_figure,
    tile_caption,
    top_k,
    top_k_markdown,
    upscale,
)

TRAIN_PAGE = "pages/train.py"


def require_model() -> str:
    """The active model's name; without one the page points to Train and stops."""
    session.active_model_caption()
    name = session.active_model_name()
    if name is None:
        st.info("There is no trained model yet. Train one on the Train page, then come back here.")
        st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")
        st.stop()
    return name


def _stop_on(exc: Exception) -> NoReturn:
    st.error(f"The active model cannot be used: {exc}. Pick or train another one.")
    st.stop()


def evaluation(name: str) -> Evaluation:
    """Test-set predictions of a model, cached per model file for every session."""
    try:
        return session.predictions(name)
    except (checkpoints.CheckpointError, OSError) as exc:  # deleted or damaged since it was listed
        _stop_on(exc)


def active_model(name: str) -> nn.Module:
    try:
        return session.model(name)
    except (checkpoints.CheckpointError, OSError) as exc:
        _stop_on(exc)


def held_out_images() -> tuple[np.ndarray, np.ndarray]:
    """uint8 (10000, 28, 28) test images and int64 labels, shared by every session."""
    return session.test_images()


def classify_image(model: nn.Module, img28: np.ndarray) -> dict:
    probs = probabilities(model, img28)
    top = int(np.argmax(probs))
    return {"image": img28, "probabilities": probs, "label": CLASSES[top], "label_index": top, "top3": top_k(probs)}


def _guarded(prepare: Callable[[], np.ndarray], model: nn.Module) -> dict:
    # An unusable input is a message for the user, never a traceback; "blank" tells a hint from an error.
    try:
        img28 = prepare()
    except BlankImageError as exc:
        return {"error": str(exc), "blank": True}
    except ImageError as exc:
        return {"error": str(exc), "blank": False}
    return classify_image(model, img28)


def classify_bytes(model: nn.Module, data: bytes, name: str) -> dict:
    """Prediction for an uploaded file, or {"error": message, "blank": bool}."""
    return _guarded(lambda: prepare_image(data, name), model)


def classify_canvas(model: nn.Module, rgba: np.ndarray | None) -> dict:
    """Prediction for a canvas drawing (RGBA), or {"error": message, "blank": bool}."""
    return _guarded(lambda: prepare_canvas(rgba), model)


def explain(model: nn.Module, img28: np.ndarray, target: int | None = None) -> np.ndarray:
    """Signed (28, 28) integrated-gradients saliency of a uint8 image for `target` (default: the prediction).
    A few milliseconds on CPU even for a 2 x 1024 model, so it is computed on every run rather than cached."""
    return saliency(model, normalize(img28), target)


def show_saliency(model: nn.Module, img28: np.ndarray, target: int, key: str) -> None:
    """"Why this answer": the image with the pixels that raised (red) or lowered (blue) `target`'s score."""
    st.plotly_chart(saliency_figure(img28, explain(model, img28, target), height=280), key=key,
                    config={"displayModeBar": False})
    st.caption(f"Why **{CLASSES[target]}**: red pixels raised its score, blue ones lowered it "
               "(integrated gradients from a black image).")


def show_outcome(outcome: dict, key: str, blank_hint: str, model: nn.Module | None = None, original=None,
                 original_caption: str = "") -> None:
    """The input (unless it is already on screen, like the canvas) beside the 28x28 image the model sees with,
    given the model, the saliency of the prediction below it, the probability bars and the top 3; or the reason
    there is nothing to show."""
    if "error" in outcome:
        if outcome["blank"]:
            st.info(f"Nothing to classify: {blank_hint}")
        else:
            st.error(outcome["error"])
        return
    if original is None:
        middle, right = st.columns([1, 2])
    else:
        left, middle, right = st.columns([1, 1, 2])
        left.image(original, caption=original_caption, width="stretch")
    middle.image(upscale(outcome["image"], 8), caption="What the model sees (28 x 28)", width="stretch")
    if model is not None:
        with middle:
            show_saliency(model, outcome["image"], outcome["label_index"], key=f"{key}_saliency")
    with right:
        (name, p), *_ = outcome["top3"]
        st.markdown(f"#### {name} · {100 * p:.1f}%")
        st.plotly_chart(probability_figure(outcome["probabilities"]), key=key, config={"displayModeBar": False})
        st.markdown(top_k_markdown(outcome["probabilities"]))


def image_grid(indices: Sequence[int], ev: Evaluation, columns: int = 6, pick: Callable[[int], None] | None = None,
               key: str = "grid") -> None:
    """Test images row by row (so tiles line up), captioned with prediction and confidence; mistakes in red.

    With ``pick``, each tile gets an Inspect button that calls ``pick(index)`` before the rerun.
    """
    images, labels = held_out_images()
    conf = confidences(ev.probabilities)
    for start in range(0, len(indices), columns):
        for col, i in zip(st.columns(columns), indices[start: start + columns], strict=False):
            i = int(i)
            with col:
                st.image(upscale(images[i], 4), width="stretch", alt=f"Test image {i}")
                st.caption(tile_caption(i, int(labels[i]), int(ev.predictions[i]), float(conf[i])))
                if pick is not None:
                    st.button("Inspect", key=f"{key}_{i}", on_click=pick, args=(i,), width="stretch")


WHY_PREDICTED, WHY_TRUE = "Predicted class", "True class"


def image_detail(index: int, ev: Evaluation, model: nn.Module, key: str) -> None:
    """One test image large with its labels and top 3 beside it; below, at the column's width, its saliency map
    (for a mistake, of the true class on request) and the probability bars. Fits a narrow column."""
    images, labels = held_out_images()
    true, pred = int(labels[index]), int(ev.predictions[index])
    probs = ev.probabilities[index]
    picture, text = st.columns(2)
    picture.image(upscale(images[index], 8), width="stretch", alt=f"Test image {index}, enlarged")
    verdict = ":green[:material/check_circle: correct]" if true == pred else ":red[:material/cancel: wrong]"
    text.markdown(f"Test image **#{index}**  \nTrue: **{CLASSES[true]}**  \n"
                  f"Predicted: **{CLASSES[pred]}** ({100 * float(probs[pred]):.1f}%) {verdict}")
    text.markdown(top_k_markdown(probs))
    target = pred
    if true != pred:
        why = st.segmented_control("Explain", [WHY_PREDICTED, WHY_TRUE], default=WHY_PREDICTED, key=f"{key}_why",
                                   help="Which class's score the saliency map explains")
        target = true if why == WHY_TRUE else pred
    # Half of a narrow column is too small for a chart (Plotly draws it wider than its box): full width here.
    show_saliency(model, images[index], target, key=f"{key}_saliency")
    st.plotly_chart(probability_figure(probs, true), key=key, config={"displayModeBar": False})
