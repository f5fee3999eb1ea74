"""How a run reads on the Train page while it goes on and once it has ended: the progress line and its figures,
the outcome, and the training curves with the insight tabs under them."""

import streamlit as st

from fmnist.jobs import running_jobs
from ui import charts
from ui.insight import show_insight


def show_progress(snap) -> None:
    config = snap.config
    if snap.status == "waiting":
        st.info(f"Waiting for a free slot: {ordinal(snap.queue_position)} in line. All {running_jobs()} run slots of "
                "this server are training; this run starts by itself when one frees.", icon=":material/schedule:")
        return
    fraction = min(snap.step / snap.total_steps, 1.0) if snap.total_steps else 0.0
    st.progress(fraction, text=f"{snap.status} · epoch {snap.epoch}/{config.epochs} · "
                               f"step {snap.step:,}/{snap.total_steps:,}")
    cols = st.columns(4)
    cols[0].metric("Samples/s", f"{snap.samples_per_s:,.0f}")
    cols[1].metric("Time left", duration(snap.eta_s) if snap.eta_s is not None else "–")
    cols[2].metric("Elapsed", duration(snap.elapsed_s))
    cols[3].metric("Device", snap.device or config.device)


def show_outcome(snap) -> None:
    if snap.status == "failed":
        st.error(f"The run failed: {snap.error}")
    if snap.save_error:
        st.warning(f"The run could not be saved: {snap.save_error}")
    if snap.checkpoint:
        early = "Stopped early and saved" if snap.status == "stopped" else "Saved"
        st.success(f"{early} as **{snap.checkpoint}** ({snap.test_acc:.2f}% test accuracy), now the active model.")
    for note in snap.notes:
        st.caption(note)


def show_charts(runs, snap) -> None:
    curves = [charts.from_snapshot(s, f"run {i + 1}", current=False) for i, s in enumerate(runs.history)]
    curves.append(charts.from_snapshot(snap))
    st.plotly_chart(charts.step_loss_figure(curves), key="train_chart_steps")
    left, right = st.columns(2)
    left.plotly_chart(charts.epoch_loss_figure(curves), key="train_chart_loss")
    reference = charts.reference_for(snap.config)  # the notebook's published figures, for the seed preset
    right.plotly_chart(charts.epoch_accuracy_figure(curves, reference), key="train_chart_acc")
    show_insight(snap)


def duration(seconds: float) -> str:
    minutes, s = divmod(int(round(seconds)), 60)
    return f"{minutes}:{s:02d}" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
