"""One step at a time on the Train page: while a run is paused, Step trains exactly one mini-batch and this panel
shows that batch, its loss before and after, and how the inspected unit's incoming weights changed."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from ui.i18n import _
from ui.inspect.network_charts import (
    BATCH_COLUMNS,
    BATCH_SHOWN,
    batch_caption,
    batch_size,
    batch_text,
    layer_name,
    weight_change_figure,
    weight_change_text,
)
from ui.inspect.network_view import picked_unit
from ui.inspect.prediction_charts import upscale

STEP_WAIT_S = 5.0  # how long the Step click waits for its step, so the rerun after it already shows the batch
SHOWN_KEY = "train_step_shown"  # the step whose batch the panel last drew


def step_arrived(snap, shown: int | None) -> bool:
    """Whether a paused run has published a step the panel has not drawn: one that came after its click's wait (a
    worker still starting on a busy machine), which the Train page's polling fragment then shows with a full rerun."""
    detail = snap.step_detail
    return snap.status == "paused" and detail is not None and detail.step != shown


def _step(job) -> None:
    """A button callback: asks for one step and waits (briefly) until the trainer has published it."""
    before = job.snapshot().step
    job.step()
    deadline = time.monotonic() + STEP_WAIT_S
    while time.monotonic() < deadline:
        snap = job.snapshot()
        if snap.step > before and snap.step_detail is not None and snap.step_detail.step > before:
            return
        if snap.status != "paused":
            return
        time.sleep(0.02)


def show_step(job) -> None:
    """The Step button while paused, and the last single step's batch."""
    snap = job.snapshot() if job is not None else None
    if snap is None or snap.status != "paused":
        return
    st.button(_("Step"), key="train_step", icon=":material/skip_next:", on_click=_step, args=(job,),
              help=_("Train exactly one mini-batch and stay paused: one step of the optimizer on 1 batch of images, "
                     "so you can watch what a single update does to the loss and the weights."))
    detail = snap.step_detail
    st.session_state[SHOWN_KEY] = detail.step if detail is not None else None
    if detail is None:
        st.caption(_("Paused. Step trains exactly one mini-batch and shows it here: its images, the predictions "
                     "and the loss before and after, and how the inspected unit's weights changed."))
        return
    cols = st.columns(3)
    cols[0].metric(_("Step"), f"{detail.step:,}", help=_("How many steps (batches) the run has trained so far."))
    cols[1].metric(_("Batch loss before"), f"{detail.loss_before:.4f}",
                   help=_("The loss on this batch before the step: how wrong the model was on these images."))
    change = detail.loss_after - detail.loss_before
    cols[2].metric(_("Batch loss after"), f"{detail.loss_after:.4f}", delta=f"{change:+.4f}", delta_color="inverse",
                   help=_("The loss on the same batch after the step. A step usually lowers it; a learning rate "
                          "that is too high can raise it."))
    _batch(detail.__dict__)
    _unit_change(snap, detail)


def _batch(detail: dict) -> None:
    """The batch's first images in rows, each with its caption in its own column (which wraps it, so no label is
    cut or runs into the image below), and the same count in words."""
    k = min(BATCH_SHOWN, len(detail["labels"]))
    st.caption(_("**The trained batch**: its first {k} of {n} images", k=k, n=format(batch_size(detail), ",")),
               help=_("Under each image, its true class, then the prediction before → after the step; green with a "
                      "check when the prediction after the step is right, red with a cross when it is wrong. The "
                      "losses above are over the whole batch."))
    with st.container(key="train_step_batch"):
        for start in range(0, k, BATCH_COLUMNS):
            for col, i in zip(st.columns(BATCH_COLUMNS), range(start, min(k, start + BATCH_COLUMNS)), strict=False):
                col.image(upscale(detail["images"][i], 6), width="stretch",
                          alt=_("Batch image {n}", n=i + 1))
                col.caption(batch_caption(detail, i))
    st.caption(batch_text(detail))


def _unit_change(snap, detail) -> None:
    """The inspected unit's incoming-weight change; without one inspected, the first-layer unit that moved most."""
    net = snap.insight[-1].get("network") if snap.insight else None
    cnn = bool(detail.weight_change) and detail.weight_change[0].shape[1] != 784
    if cnn and net is None:  # a CNN's dense columns are named by its recorded diagram
        st.caption(_("A network with convolution blocks: the change of one unit's weights is drawn for an MLP's "
                     "first layer only."))
        return
    picked = picked_unit("train_net")
    if net is not None and picked is not None and picked[0] >= 1:
        c, j = picked
        unit, name = int(net["columns"][c]["shown"][j]), net["columns"][c]["name"]
        source = net["columns"][c - 1]["name"]
    else:  # a CNN's first dense layer takes the blocks' features ("head"), an MLP's the pixels
        c, unit = 1, int(np.abs(detail.weight_change[0]).sum(1).argmax())
        name, source = (net["columns"][1]["name"], "head") if cnn else ("hidden 1", "input")
    change = detail.weight_change[c - 1][unit]
    st.caption(_("**How one unit's weights changed**"),
               help=_("Each incoming weight of one unit after the step minus before: the step moves every weight a "
                      "little along its gradient, times the learning rate."))
    st.plotly_chart(weight_change_figure(change, source), key="train_step_change")
    if picked is not None and picked[0] >= 1:
        how = _("the inspected unit")
    else:
        how = _("the first-layer unit that moved most")
    st.caption(_("Unit {unit} of {layer} ({how}; inspect another in the Network tab): red weights grew, blue ones "
                 "shrank in this one step. Largest change {largest}.", unit=unit, layer=layer_name(name), how=how,
                 largest=f"{np.abs(change).max():.2e}"))
    st.caption(weight_change_text(change, source))
