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
from fmnist.images import BlankImageError, ImageError, prepare_canvas, prepare_image
from fmnist.predict import probabilities
from ui import session
from ui.inspect_charts import confidences, probability_figure, tile_caption, top_k, top_k_markdown, upscale

TRAIN_PAGE = "pages/train.py"


def require_model() -> str:
    """The active model's name; without one the page points to Train and stops."""
    session.active_model_caption()
    name = session.active_model_name()
    if name is None:
        st.info("There is no trained model yet. Train one on the Train page, then come back here.")
        st.page_link(TRAIN_PAGE, label="Go to Train", icon="🏋️")
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


@st.cache_resource(max_entries=8, show_spinner=False)
def _model(path: str, mtime: float, name: str) -> nn.Module:
    # Checkpoint.model() builds and initialises a fresh MLP each call; a drawing must classify in milliseconds.
    return session.load_checkpoint(name).model()


def active_model(name: str) -> nn.Module:
    try:
        path = session.store().path_for(name)
        return _model(str(path), path.stat().st_mtime, name)
    except (checkpoints.CheckpointError, OSError) as exc:
        _stop_on(exc)


def held_out_images() -> tuple[np.ndarray, np.ndarray]:
    """uint8 (10000, 28, 28) images and int64 labels as numpy views of the shared dataset (no copy)."""
    ds = session.dataset()
    return ds.test_images.numpy(), ds.test_labels.numpy()


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


def show_outcome(outcome: dict, key: str, blank_hint: str, original=None, original_caption: str = "") -> None:
    """The input (unless it is already on screen, like the canvas) beside the 28x28 image the model sees,
    the probability bars and the top 3; or the reason there is nothing to show."""
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


def image_detail(index: int, ev: Evaluation, key: str) -> None:
    """One test image large with its labels and top 3, the probability bars below (fits a narrow column)."""
    images, labels = held_out_images()
    true, pred = int(labels[index]), int(ev.predictions[index])
    probs = ev.probabilities[index]
    picture, text = st.columns(2)
    picture.image(upscale(images[index], 8), width="stretch", alt=f"Test image {index}, enlarged")
    verdict = "✅ correct" if true == pred else ":red[❌ wrong]"
    text.markdown(f"Test image **#{index}**  \nTrue: **{CLASSES[true]}**  \n"
                  f"Predicted: **{CLASSES[pred]}** ({100 * float(probs[pred]):.1f}%) {verdict}")
    text.markdown(top_k_markdown(probs))
    st.plotly_chart(probability_figure(probs, true), key=key, config={"displayModeBar": False})
