"""Sweep: search the settings on Optuna. Pick the fields to vary and their ranges, run trials several at a time as
training jobs, watch the table and Optuna's figures fill in, and make the best trial the active model. A study lives
in Optuna's storage, so one opened again later (or run from the command line meanwhile) continues where it stopped."""

import shlex

import streamlit as st

from fmnist import sweep
from fmnist.config import PRESETS
from fmnist.jobs import max_runs
from ui import sweep_charts
from ui.router import ensure_router
from ui.session import active_model_caption
from ui.sweep_view import (
    load_study,
    make_active,
    param_inputs,
    session_sweep,
    show_figures,
    show_table,
    start,
)

ensure_router()  # first: a first visit straight to this page must still go through app.py

st.title("Sweep")
st.caption("Each trial trains a model with values the sampler picks and is scored on its validation accuracy (the "
           "test set is never used to choose). Trials that fall below the median of earlier ones at the same epoch "
           "are pruned early.")
active_model_caption()
holder = session_sweep()
storage = sweep.default_storage()
running = holder.running

left, right = st.columns(2)
with left:
    name = st.text_input("Study", "sweep-1", key="sweep_study", disabled=running,
                         help="A new name starts a study; an existing one continues it.")
    try:
        sweep.check_study_name(name)
        name_ok = True
    except sweep.SweepError as exc:
        st.error(str(exc), icon=":material/error:")
        name_ok = False
    preset = st.selectbox("Every other setting from", sorted(PRESETS), index=sorted(PRESETS).index("seed"),
                          key="sweep_preset", disabled=running, help="seed = the classic notebook, best = our recipe")
    fields = st.multiselect("Fields to vary", [f for f in sweep.FIELDS if f not in ("device", "val_size")],
                            default=["lr"], key="sweep_fields", disabled=running)
with right:
    c1, c2, c3 = st.columns(3)
    trials = c1.number_input("Trials", 1, sweep.MAX_TRIALS, 12, key="sweep_trials_n", disabled=running)
    epochs = c2.number_input("Epochs each", 1, 100, 3, key="sweep_epochs", disabled=running)
    parallel = c3.number_input("At once", 1, max_runs(), min(2, max_runs()), key="sweep_parallel", disabled=running,
                               help=f"Trials training at the same time (at most {max_runs()}: the app's run slots)")
    sampler = st.segmented_control("Sampler", sweep.SAMPLERS, default="tpe", key="sweep_sampler", disabled=running)
    val_size = st.number_input("Validation images", 1000, 30_000, sweep.DEFAULT_VAL_SIZE, 1000, key="sweep_val",
                               disabled=running)

base = sweep.base_config(PRESETS[preset], int(epochs), int(val_size))
st.markdown("**Ranges** (`loguniform:LOW:HIGH`, `uniform:LOW:HIGH`, `int:LOW:HIGH` or `choice:A|B|C`; "
            "for hidden, each choice lists the widths: `512,256`)")
params = param_inputs(fields, base)
if params is not None and sampler == "grid":
    try:
        sweep.make_sampler("grid", params)
    except sweep.SweepError as exc:
        st.error(str(exc), icon=":material/error:")
        params = None

b1, b2, b3 = st.columns([1, 1, 4])
can_start = params is not None and name_ok and sampler is not None and not running
if b1.button("Start", key="sweep_start", type="primary", disabled=not can_start, icon=":material/play_arrow:"):
    try:
        start(holder, name, storage, sampler, base, params, int(trials), int(parallel))
        st.rerun()
    except sweep.SweepError as exc:
        st.error(str(exc), icon=":material/error:")
if b2.button("Stop", key="sweep_stop", disabled=not running, icon=":material/stop:"):
    holder.runner.stop()
if params is not None:
    cmd = ["python", "-m", "fmnist", "sweep", "--study", name, "--trials", str(trials), "--preset", preset,
           "--epochs", str(epochs), "--val-size", str(val_size), "--sampler", sampler or "tpe",
           *[a for p in params for a in ("--param", p.spec())]]
    b3.caption("The same sweep from a terminal (add `--storage URL` to share it between machines): "
               f"`{shlex.join(cmd)}`")


@st.fragment(run_every=1.0 if running else None)
def live() -> None:
    study = load_study(name, storage) if name_ok else None
    runner = holder.runner
    if runner is not None and runner.error:
        st.error(f"The sweep stopped: {runner.error}", icon=":material/error:")
    if study is None:
        st.info(f"No study named {name!r} yet in {sweep.describe_storage(storage)}: Start creates it.")
        return
    if running and not holder.running:
        st.rerun(scope="app")  # the sweep has ended: enable the settings again
    st.subheader(f"Trials of {study.study_name}")
    picked = show_table(study, holder)
    if picked is not None:
        st.plotly_chart(sweep_charts.trial_curves(study.trials[picked]), key="sweep_curves")
    else:
        st.caption("Click a row to see that trial's curves.")
    if any(t.state.name == "COMPLETE" for t in study.trials):
        if st.button("Make the best trial the active model", key="sweep_best", icon=":material/star:"):
            make_active(study)
    show_figures(study)


live()
