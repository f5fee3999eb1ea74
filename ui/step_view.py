"""One step at a time on the Train page: while a run is paused, Step trains exactly one mini-batch and this panel
shows that batch, its loss before and after, and how the inspected unit's incoming weights changed."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from ui.network_charts import batch_figure, weight_change_figure
from ui.network_view import picked_unit

STEP_WAIT_S = 5.0  # how long the Step click waits for its step, so the rerun after it already shows the batch


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
    st.button("Step", key="train_step", icon=":material/skip_next:", on_click=_step, args=(job,),
              help="Train exactly one mini-batch and stay paused")
    detail = snap.step_detail
    if detail is None:
        st.caption("Paused. Step trains exactly one mini-batch and shows it here: its images, the predictions and "
                   "the loss before and after, and how the inspected unit's weights changed.")
        return
    cols = st.columns(3)
    cols[0].metric("Step", f"{detail.step:,}")
    cols[1].metric("Batch loss before", f"{detail.loss_before:.4f}")
    change = detail.loss_after - detail.loss_before
    cols[2].metric("Batch loss after", f"{detail.loss_after:.4f}", delta=f"{change:+.4f}", delta_color="inverse")
    st.plotly_chart(batch_figure(detail.__dict__), key="train_step_batch")
    _unit_change(snap, detail)


def _unit_change(snap, detail) -> None:
    """The inspected unit's incoming-weight change; without one inspected, the first-layer unit that moved most."""
    net = snap.insight[-1].get("network") if snap.insight else None
    picked = picked_unit("train_net")
    if net is not None and picked is not None and picked[0] >= 1:
        c, j = picked
        unit, name = int(net["columns"][c]["shown"][j]), net["columns"][c]["name"]
        source = net["columns"][c - 1]["name"]
    else:
        c, unit, name, source = 1, int(np.abs(detail.weight_change[0]).sum(1).argmax()), "hidden 1", "input"
    change = detail.weight_change[c - 1][unit]
    st.plotly_chart(weight_change_figure(change, source), key="train_step_change")
    how = "the inspected unit" if picked is not None and picked[0] >= 1 else "the first-layer unit that moved most"
    st.caption(f"Unit {unit} of {name} ({how}; inspect another in the Network tab): red weights grew, blue ones "
               f"shrank in this one step. Largest change {np.abs(change).max():.2e}.")
