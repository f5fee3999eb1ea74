"""Streamlit pieces shared by the Explore, Evaluate and Classify pages, and Classify's image -> prediction flow.

No torch here: the predictions, probabilities and saliency maps come from a worker (ui.session.predictions and
worker_model), or from any object with the same two methods (fmnist.inspect.predict.LocalModel).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NoReturn, Protocol

import numpy as np
import streamlit as st

from fmnist.data.dataset import CLASSES
from fmnist.data.images import BlankImageError, ImageError, prepare_canvas, prepare_image
from fmnist.inspect.evaluation import Evaluation
from fmnist.runs.inference import InferenceError
from fmnist.store import checkpoints
from ui import session
from ui.i18n import N_, _, engine, gettext
from ui.inspect import conv_view
from ui.inspect.prediction_charts import (
    confidences,
    probability_figure,
    probability_summary,
    saliency_figure,
    saliency_summary,
    tile_caption,
    top_k,
    top_k_markdown,
    upscale,
)
from ui.names import class_name

TRAIN_PAGE = "pages/train.py"
UNUSABLE = (checkpoints.CheckpointError, OSError, InferenceError)  # a model file gone or damaged, a worker failing


class Model(Protocol):
    """What these pages ask of a model: ui.session.worker_model's answers, or fmnist.inspect.predict.LocalModel's."""

    def probabilities(self, img28: np.ndarray) -> np.ndarray: ...

    def saliency(self, img28: np.ndarray, target: int | None = None) -> np.ndarray: ...

    def feature_maps(self, img28: np.ndarray) -> list[np.ndarray]: ...


def engine_message(text: str, lang: str | None = None) -> str:
    """An engine message in the session's language (or `lang`), the known reasons inside it included."""
    out = engine(text, lang)
    if out == text:
        return out
    for detail in checkpoints.HEADER_DETAILS:  # reasons inside a message's {detail}, translated in place
        out = out.replace(detail, gettext(detail, lang))
    return out


def require_model() -> str:
    """The active model's name; without one the page points to Train and stops."""
    session.active_model_caption()
    name = session.active_model_name()
    if name is None:
        st.info(_("There is no trained model yet. Train one on the Train page, then come back here."))
        st.page_link(TRAIN_PAGE, label=_("Go to Train"), icon=":material/model_training:")
        st.stop()
    return name


def _stop_on(exc: Exception) -> NoReturn:
    reason = engine_message(str(exc))
    st.error(_("The active model cannot be used: {reason}. Pick or train another one.", reason=reason))
    st.stop()


def evaluation(name: str) -> Evaluation:
    """Test-set predictions of a model, cached per model file for every session."""
    try:
        return session.predictions(name)
    except UNUSABLE as exc:  # deleted or damaged since it was listed, or the worker failed
        _stop_on(exc)


def active_model(name: str) -> Model:
    """The model, computed in a worker; the page stops with the reason when its file is gone (or, at the model's
    first use, when the worker cannot read it)."""
    try:
        return session.worker_model(name)
    except UNUSABLE as exc:
        _stop_on(exc)


def _asked(compute: Callable[[], np.ndarray]) -> np.ndarray:
    try:
        return compute()
    except UNUSABLE as exc:
        _stop_on(exc)


def held_out_images() -> tuple[np.ndarray, np.ndarray]:
    """uint8 (10000, 28, 28) test images and int64 labels, shared by every session."""
    return session.test_images()


def classify_image(model: Model, img28: np.ndarray) -> dict:
    probs = _asked(lambda: model.probabilities(img28))
    top = int(np.argmax(probs))
    return {"image": img28, "probabilities": probs, "label": CLASSES[top], "label_index": top, "top3": top_k(probs)}


def _guarded(prepare: Callable[[], np.ndarray], model: Model) -> dict:
    # An unusable input is a message for the user, never a traceback; "blank" tells a hint from an error.
    try:
        img28 = prepare()
    except BlankImageError as exc:
        return {"error": str(exc), "blank": True}
    except ImageError as exc:
        return {"error": str(exc), "blank": False}
    return classify_image(model, img28)


def classify_bytes(model: Model, data: bytes, name: str) -> dict:
    """Prediction for an uploaded file, or {"error": message, "blank": bool}."""
    return _guarded(lambda: prepare_image(data, name), model)


def classify_canvas(model: Model, rgba: np.ndarray | None) -> dict:
    """Prediction for a canvas drawing (RGBA), or {"error": message, "blank": bool}."""
    return _guarded(lambda: prepare_canvas(rgba), model)


def explain(model: Model, img28: np.ndarray, target: int | None = None) -> np.ndarray:
    """Signed (28, 28) integrated-gradients saliency of a uint8 image for `target` (default: the prediction).
    A few milliseconds on CPU even for the best preset's 2 x 2048 model (4.8 ms, 2026-12-07), so it is computed on
    every run rather than cached."""
    return _asked(lambda: model.saliency(img28, target))


def show_feature_maps(model: Model, img28: np.ndarray, key: str) -> None:
    """A CNN's feature maps of one image, computed where the model is (a worker); nothing for an MLP. The page
    stops with the reason on a failure."""
    conv_view.show_image_maps(_asked(lambda: model.feature_maps(img28)), key)


def show_outcome_maps(model: Model, outcome: dict, key: str) -> None:
    """Under Classify's prediction (classify_image's outcome): the image's feature maps, for a CNN; nothing when
    there was nothing to classify."""
    if "image" in outcome:
        show_feature_maps(model, outcome["image"], key)


def show_saliency(model: Model, img28: np.ndarray, target: int, key: str) -> None:
    """"Why this answer": the image with the pixels that raised (red) or lowered (blue) `target`'s score."""
    attribution = explain(model, img28, target)
    st.plotly_chart(saliency_figure(img28, attribution, height=280), key=key, config={"displayModeBar": False})
    st.caption(_("Why **{name}**: red pixels raised its score, blue ones lowered it (integrated gradients from a "
                 "black image).", name=class_name(CLASSES[target])),
               help=_("A saliency map: each pixel's share in the class's score, measured by fading the image in "
                      "from black. Red pixels argue for the class, blue ones against it; see-through ones did "
                      "not matter. A sensible model looks at the item's shape, not at stray spots."))
    st.caption(saliency_summary(attribution))


def show_outcome(outcome: dict, key: str, blank_hint: str, model: Model | None = None, original=None,
                 original_caption: str = "") -> None:
    """The input (unless it is already on screen, like the canvas) beside the 28x28 image the model sees with,
    given the model, the saliency of the prediction below it, the probability bars and the top 3; or the reason
    there is nothing to show."""
    if "error" in outcome:
        if outcome["blank"]:
            st.info(_("Nothing to classify: {hint}", hint=blank_hint))
        else:
            st.error(engine_message(outcome["error"]))
        return
    if original is None:
        middle, right = st.columns([1, 2])
    else:
        left, middle, right = st.columns([1, 1, 2])
        left.image(original, caption=original_caption, width="stretch", alt=_("Your image"))
    middle.image(upscale(outcome["image"], 8), caption=_("What the model sees (28 x 28)"), width="stretch",
                 alt=_("Your image at 28 x 28, as the model sees it"))
    if model is not None:
        with middle:
            show_saliency(model, outcome["image"], outcome["label_index"], key=f"{key}_saliency")
    with right:
        (name, p), *_rest = outcome["top3"]
        st.markdown(f"## {class_name(name)} · {100 * p:.1f}%")  # h2: the first heading under the page's title
        show_probabilities(outcome["probabilities"], key=key)
        st.markdown(top_k_markdown(outcome["probabilities"]))


def show_probabilities(probs, key: str, true_label: int | None = None) -> None:
    """The probability bars under a caption with their "?", and the bars in words under them."""
    st.caption(_("Probability of each class"),
               help=_("The model's confidence in each of the ten classes; the bars add up to 100%. The tallest "
                      "bar is the prediction (green when right, red when wrong, blue when the truth is unknown); "
                      "the true class is marked ✓."))
    st.plotly_chart(probability_figure(probs, true_label), key=key, config={"displayModeBar": False})
    st.caption(probability_summary(probs, true_label))


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
                st.image(upscale(images[i], 4), width="stretch", alt=_("Test image {index}", index=i))
                st.caption(tile_caption(i, int(labels[i]), int(ev.predictions[i]), float(conf[i])))
                if pick is not None:
                    st.button(_("Inspect"), key=f"{key}_{i}", on_click=pick, args=(i,), width="stretch",
                              help=_("Show this image up close, with its probabilities and saliency map"))


WHY_PREDICTED, WHY_TRUE = N_("Predicted class"), N_("True class")  # option values; shown through _()


def image_detail(index: int, ev: Evaluation, model: Model, key: str) -> None:
    """One test image large with its labels and top 3 beside it; below, at the column's width, its saliency map
    (for a mistake, of the true class on request) and the probability bars. Fits a narrow column."""
    images, labels = held_out_images()
    true, pred = int(labels[index]), int(ev.predictions[index])
    probs = ev.probabilities[index]
    picture, text = st.columns(2)
    picture.image(upscale(images[index], 8), width="stretch", alt=_("Test image {index}, enlarged", index=index))
    verdict = (":green[:material/check_circle: " + _("correct") + "]" if true == pred
               else ":red[:material/cancel: " + _("wrong") + "]")
    text.markdown(_("Test image **#{index}**  \nTrue: **{true}**  \nPredicted: **{predicted}** ({confidence}) "
                    "{verdict}", index=index, true=class_name(CLASSES[true]), predicted=class_name(CLASSES[pred]),
                    confidence=f"{100 * float(probs[pred]):.1f}%", verdict=verdict))
    text.markdown(top_k_markdown(probs))
    target = pred
    if true != pred:
        why = st.segmented_control(_("Explain"), [WHY_PREDICTED, WHY_TRUE], default=WHY_PREDICTED, key=f"{key}_why",
                                   format_func=_,
                                   help=_("Which class's score the saliency map explains: the wrong answer the "
                                          "model gave, or the right one it missed."))
        target = true if why == WHY_TRUE else pred
    # Half of a narrow column is too small for a chart (Plotly draws it wider than its box): full width here.
    show_saliency(model, images[index], target, key=f"{key}_saliency")
    show_probabilities(probs, key=key, true_label=true)
