"""Sweep: search the settings on Optuna. Pick the fields to vary and their ranges, run trials several at a time as
training jobs, watch the table and Optuna's figures fill in, and make the best trial the active model. A study lives
in Optuna's storage, so one opened again later (or run from the command line meanwhile) continues where it stopped."""

import shlex

import streamlit as st

from fmnist.config import PRESETS
from fmnist.runs.jobs import max_runs
from fmnist.sweep import space
from fmnist.sweep import study as sweep
from ui.i18n import N_, _, engine
from ui.places import storage_name
from ui.router import ensure_router
from ui.session import active_model_caption
from ui.sweep import charts as sweep_charts
from ui.sweep.ranges import param_controls
from ui.sweep.view import (
    load_study,
    make_active,
    session_sweep,
    show_figures,
    show_table,
    start,
)

ensure_router()  # first: a first visit straight to this page must still go through app.py

PRESET_LABELS = {"quick": N_("quick"), "seed": N_("seed"), "best": N_("best"), "cnn": N_("cnn"),
                 "cnn-gap": N_("cnn-gap"), "cnn-best": N_("cnn-best")}
SAMPLER_LABELS = {"tpe": N_("TPE"), "random": N_("random"), "grid": N_("grid")}


def study_settings(running: bool) -> tuple[str, bool, str, list[str]]:
    """The study's name (checked), the preset every trial starts from, and the fields to vary."""
    name = st.text_input(_("Study"), "sweep-1", key="sweep_study", disabled=running,
                         help=_("The name the sweep's trials are recorded under. A new name starts a study; an "
                                "existing one continues it, adding trials to those it has."))
    try:
        sweep.check_study_name(name)
        name_ok = True
    except space.SweepError as exc:
        st.error(engine(str(exc)), icon=":material/error:")
        name_ok = False
    preset = st.selectbox(_("Every other setting from"), sorted(PRESETS), index=sorted(PRESETS).index("seed"),
                          format_func=lambda v: _(PRESET_LABELS[v]) if v in PRESET_LABELS else v,
                          key="sweep_preset", disabled=running,
                          help=_("The preset every trial starts from; the fields you vary replace its values. seed "
                                 "= the classic notebook, best = our recipe, quick = a small fast model."))
    fields = st.multiselect(_("Fields to vary"), [f for f in space.FIELDS if f not in ("device", "val_size")],
                            default=["lr"], key="sweep_fields", disabled=running,
                            help=_("The training settings the sampler chooses for each trial; each gets a range "
                                   "below. Each field added makes the space larger, so it needs more trials."))
    return name, name_ok, preset, fields


def run_settings(running: bool) -> tuple[int, int, int, str | None, int]:
    """How many trials, of how many epochs, how many at once, picked how, scored on how many images."""
    c1, c2, c3 = st.columns(3)
    trials = c1.number_input(_("Trials"), 1, space.MAX_TRIALS, 12, key="sweep_trials_n", disabled=running,
                             help=_("How many models to train, each with its own sampled values. More trials search "
                                    "the space better and take longer."))
    epochs = c2.number_input(_("Epochs each"), 1, 100, 3, key="sweep_epochs", disabled=running,
                             help=_("How many passes over the training images each trial makes. More epochs score "
                                    "each setting more fairly; fewer let you try more settings in the same time."))
    parallel = c3.number_input(_("At once"), 1, max_runs(), min(2, max_runs()), key="sweep_parallel",
                               disabled=running,
                               help=_("Trials training at the same time (at most {n}: the app's run slots). More at "
                                      "once finish the sweep sooner, but each trains slower.", n=max_runs()))
    sampler = st.segmented_control(
        _("Sampler"), sweep.SAMPLERS, default="tpe", key="sweep_sampler", disabled=running,
        format_func=lambda v: _(SAMPLER_LABELS[v]) if v in SAMPLER_LABELS else v,
        help=_("How the next trial's values are picked. TPE learns from earlier trials and tries more near the best; "
               "random ignores them; grid tries every combination of choice: and int: values."))
    val_size = st.number_input(_("Validation images"), 1000, 30_000, space.DEFAULT_VAL_SIZE, 1000, key="sweep_val",
                               disabled=running,
                               help=_("Training images held out to score each trial. More give a steadier score, "
                                      "and leave fewer images to train on."))
    return int(trials), int(epochs), int(parallel), sampler, int(val_size)


def ranges(fields: list[str], base, sampler: str | None) -> list | None:
    """Each varied field's range, as set; None while one cannot be used (its reason shown under it)."""
    st.markdown(_("**Ranges**: the values each setting's trials may take (for hidden, a choice lists the layer "
                  "widths: `512,256`)"))
    params = param_controls(fields, base)
    if params is not None and sampler == "grid":
        try:
            sweep.make_sampler("grid", params)
        except space.SweepError as exc:
            st.error(engine(str(exc)), icon=":material/error:")
            return None
    return params


def actions(holder, name: str, ready: bool, storage: str, sampler: str | None, base, params, trials: int,
            parallel: int):
    """Start and Stop; returns the column beside them."""
    b1, b2, b3 = st.columns([1, 1, 4])
    running = holder.running
    can_start = params is not None and ready and sampler is not None and not running
    if b1.button(_("Start"), key="sweep_start", type="primary", disabled=not can_start, icon=":material/play_arrow:",
                 help=_("Starts training the trials as jobs, a few at a time; the table below fills in as they run.")):
        try:
            start(holder, name, storage, sampler, base, params, trials, parallel)
            st.rerun()
        except space.SweepError as exc:
            st.error(engine(str(exc)), icon=":material/error:")
    if b2.button(_("Stop"), key="sweep_stop", disabled=not running, icon=":material/stop:",
                 help=_("Stops the running trials; they are recorded as stopped and run again when the study "
                        "continues.")):
        holder.runner.stop()
    return b3


def command_caption(where, name: str, preset: str, trials: int, epochs: int, val_size: int, sampler: str | None,
                    params) -> None:
    """The same sweep as a terminal command."""
    cmd = ["python", "-m", "fmnist", "sweep", "--study", name, "--trials", str(trials), "--preset", preset,
           "--epochs", str(epochs), "--val-size", str(val_size), "--sampler", sampler or "tpe",
           *[a for p in params for a in ("--param", p.spec())]]
    where.caption(_("The same sweep from a terminal (add `--storage URL` to share it between machines): `{command}`",
                    command=shlex.join(cmd)))


@st.fragment(run_every=1.0 if session_sweep().running else None)
def live(name: str, name_ok: bool, storage: str, holder, running: bool) -> None:
    """The study's trials and figures, refreshed every second while the sweep runs."""
    study = load_study(name, storage) if name_ok else None
    runner = holder.runner
    if runner is not None and runner.error:
        st.error(_("The sweep stopped: {error}", error=engine(runner.error)), icon=":material/error:")
    if study is None:
        st.info(_("No study named {name} yet in {storage}: Start creates it.", name=f"`{name}`",
                  storage=f"`{storage_name(storage)}`"))
        return
    if running and not holder.running:
        st.rerun(scope="app")  # the sweep has ended: enable the settings again
    st.header(_("Trials of {name}", name=study.study_name),
              help=_("One row per trial, newest first: its state, the values it tried, and its accuracies. Click a "
                     "row to see that trial's curves."))
    show_trial(study, holder)
    if any(t.state.name == "COMPLETE" for t in study.trials):
        if st.button(_("Make the best trial the active model"), key="sweep_best", icon=":material/star:",
                     help=_("Copies the best trial's model (highest validation accuracy) into the models every page "
                            "uses, and selects it.")):
            make_active(study)
    show_figures(study)


def show_trial(study, holder) -> None:
    """The trials table, and the curves of the row clicked."""
    picked = show_table(study, holder)
    if picked is None:
        st.caption(_("Click a row to see that trial's curves."))
        return
    trial = study.trials[picked]
    st.caption(_("Trial curves"), help=_(
        "The trial's accuracy after each epoch on its training images, the validation images (what the sweep "
        "compares) and the test set. Training far above validation is overfitting."))
    st.plotly_chart(sweep_charts.trial_curves(trial), key="sweep_curves")
    st.caption(sweep_charts.curves_text(trial))


# The page, step by step.
st.title(_("Sweep: a hyper-parameter search"))
st.caption(_("Each trial trains a model with values the sampler picks and is scored on its validation accuracy (the "
             "test set is never used to choose). Trials that fall below the median of earlier ones at the same "
             "epoch are pruned early."))
active_model_caption()
holder = session_sweep()
storage = sweep.default_storage()
left, right = st.columns(2)
with left:
    name, name_ok, preset, fields = study_settings(holder.running)
with right:
    trials, epochs, parallel, sampler, val_size = run_settings(holder.running)
base = space.base_config(PRESETS[preset], epochs, val_size)
params = ranges(fields, base, sampler)
beside = actions(holder, name, name_ok, storage, sampler, base, params, trials, parallel)
if params is not None:
    command_caption(beside, name, preset, trials, epochs, val_size, sampler, params)
live(name, name_ok, storage, holder, holder.running)
