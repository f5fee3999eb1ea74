"""Train: set up a model in the sidebar, start a run and watch it learn. A finished run is saved as a checkpoint and
becomes the active model; a stopped one is saved too, and becomes the active model only when the user says so (one
button), unless it was stopped before its first epoch ended: then it is discarded."""

import time

import streamlit as st

from fmnist.runs.jobs import running_jobs
from ui import challenge
from ui.i18n import _, engine
from ui.inspect.step_view import SHOWN_KEY, show_step, step_arrived
from ui.router import ensure_router
from ui.session import (
    active_model_caption,
    held_charts,
    pace_settled,
    poll_every,
    session_runs,
    set_active_model,
)
from ui.train import story_view
from ui.train.model_view import show_model
from ui.train.run_view import show_charts, show_outcome, show_progress, show_step_chart
from ui.train.sidebar import config_sidebar

ensure_router()  # first: a first visit straight to this page must still go through app.py

LR_FACTORS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
FRAME_KEY, FRAME_AFTER_S = "train_chart_frame", 1.0  # the empty step chart before a first run: drawn yet, and when


def announce_finish(job, snap) -> None:
    """Once per job, however many reruns see it finished: make a finished run's model active and say where a saved
    one is. A stopped run's model waits for the user's word (ui/train/run_view.py)."""
    if st.session_state.get("train_handled_job") == job.created:
        return
    st.session_state["train_handled_job"] = job.created
    if snap.checkpoint:
        if snap.status == "done":
            set_active_model(snap.checkpoint)
        st.toast(_("Saved as **{name}**", name=snap.checkpoint),
                 icon=":material/check_circle:")


def start_run(runs, config) -> None:
    """A button callback: the job starts before the page reruns, so one rerun already shows it running."""
    try:
        job = runs.start(challenge.run_config(config), challenge=challenge.job_spec())  # a joined student's: entered
    except RuntimeError as exc:  # another tab of this session started one in between
        st.session_state["train_start_error"] = str(exc)
        return
    story_view.remember(job, config)  # a run of a lesson step's preset fills its row of the lesson's table


def controls(runs, job, snap, config, errors: dict, running: bool) -> None:
    status = snap.status if snap else None
    # The buttons' "?" is one, on this caption: a button with help= is drawn twice in the page (Streamlit 1.67), and
    # the browser tests find each button by its key.
    st.caption(_("**Run controls**"), help=controls_help())
    cols = st.columns(4)
    cols[0].button(_("Start"), type="primary", key="train_start", disabled=bool(errors) or running,
                   on_click=start_run, args=(runs, config))
    if "train_start_error" in st.session_state:
        st.error(engine(st.session_state.pop("train_start_error")))
    for col, label, action, allowed in ((cols[1], _("Pause"), "pause", status == "running"),
                                        (cols[2], _("Resume"), "resume", status == "paused"),
                                        (cols[3], _("Stop"), "stop", status in ("waiting", "running", "paused"))):
        col.button(label, key=f"train_{action}", disabled=not allowed, on_click=getattr(job, action, None))
    if running:
        lr_control(job)


def controls_help() -> str:
    return "\n\n".join((
        _("**Start** trains the model set up in the sidebar: it learns from the 60,000 training images, one batch "
          "per step, and is scored on the test set after each epoch."),
        _("**Pause** holds the run after its current step, keeping everything it learned; while paused, **Step** "
          "trains one batch at a time."),
        _("**Resume** goes on training a paused run from where it stopped."),
        _("**Stop** ends the run now: the model as it is after the last finished step is scored and saved, and "
          "becomes the active model only when you say so. A run stopped before its first epoch ends is discarded.")))


def lr_control(job) -> None:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.select_slider(_("Learning-rate factor from the next step"), LR_FACTORS, value=1.0, key="train_lr_scale",
                       format_func=lambda f: f"×{f:g}",
                       help=_("Multiplies the run's learning rate (its step size along the gradient) while it trains. "
                              "A higher factor learns faster but can make the loss jump or diverge; a lower one "
                              "settles it more gently. Apply sets it from the next step on; the charts mark the "
                              "change with a dotted line."))
    right.button(_("Apply"), key="train_lr_apply", on_click=apply_lr, args=(job,))  # a callback, as Make it active


def apply_lr(job) -> None:
    factor = st.session_state["train_lr_scale"]
    job.set_lr_scale(factor)
    st.toast(_("Learning rate ×{factor} from the next step", factor=f"{factor:g}"))


runs = session_runs()
job = runs.job
snap = job.snapshot() if job else None
running = snap is not None and not snap.finished
if snap is not None and snap.finished:
    announce_finish(job, snap)  # before the sidebar caption, so it names the new model

config, errors = config_sidebar()
active_model_caption()

st.title(_("Train a network on Fashion-MNIST"))
if not challenge.joined():  # a challenge sets its own task
    story_view.show(config, running, lambda chosen: start_run(runs, chosen))
# Each section that shows more or fewer elements from one rerun to the next gets a container of its own: Streamlit
# places an element by its index among its siblings, so a message that appears above the buttons would otherwise move
# every later element to a new place, and until the rerun ends the browser shows old and new copies side by side.
with st.container():
    show_model(snap.config if running else config, running)
with st.container():
    controls(runs, job, snap, config, errors, running)
with st.container():
    show_step(job)


# One fragment polls while a run goes on (run_every is fixed when a fragment is defined): the progress at every tick,
# the charts at their own slower pace (held_charts), at a pace set by how many runs share the server (poll_every).
# Each tick is one script run: a thread Streamlit's event loop starts and waits for, and work for the browser. When
# that pace has changed for a few seconds (pace_settled), or the run ends, it reruns the whole page, which redefines
# the fragment (and lets the buttons and the active model catch up).
pace = poll_every() if running else None  # (progress, charts) seconds
progress_every, charts_every = pace or (None, None)
# Before the session's first run the step chart's empty frame is drawn one tick after the page, not with it: its first
# drawing makes the browser load and start Plotly (4.6 MB of script). With the first page, that slowed the page by
# about 0.2 s on this 2-core machine; left until Start, it held the first chart point back by about 2 s.
if runs.job is None and not st.session_state.get(FRAME_KEY):
    progress_every = FRAME_AFTER_S


@st.fragment(run_every=progress_every)
def live_run() -> None:
    if runs.job is None:
        st.info(_("No run yet in this session: set up a model in the sidebar and press Start."))
        frame = st.session_state.get(FRAME_KEY)
        if frame:
            show_step_chart([])
        elif frame is None:
            st.session_state[FRAME_KEY] = False  # this is the page's own run: the frame comes at the next tick
        else:
            st.session_state[FRAME_KEY] = True
            st.rerun(scope="app")  # which also defines this fragment without its timer
        return
    current = runs.job.snapshot()
    with st.container():  # containers, as above: the charts below keep their place whatever appears here
        show_progress(current)
    with st.container():
        show_outcome(current)
    notice = st.container()
    if running:
        if charts_every > 1:
            notice.caption(_("{n} runs are training on this server: the charts update every {seconds} s.",
                             n=running_jobs(), seconds=f"{charts_every:g}"))
        repace, st.session_state["train_pace_seen"] = pace_settled(
            pace, poll_every(), st.session_state.get("train_pace_seen"), time.monotonic())
        if current.finished or repace or step_arrived(current, st.session_state.get(SHOWN_KEY)):
            st.session_state.pop("train_pace_seen", None)
            st.rerun(scope="app")
    held = held_charts(st.session_state.get("train_charts_held"), runs.job.created, current, time.monotonic(), pace)
    st.session_state["train_charts_held"] = held
    show_charts(runs, held[2])


live_run()
