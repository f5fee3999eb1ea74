"""The lesson from MLP to CNN on the Train page (ui/train/story.py tells it): a button a step that fills the sidebar
with the step's preset and starts the run, what to look at, a link to the step, and the table that fills in as the
session's runs of the three presets finish. Their 3-pixel shift is measured on the saved checkpoint by the worker
the server's thread asks (ui/inspect/robustness_jobs.py): no torch in the server."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from fmnist.config import TrainConfig
from fmnist.runs.jobs import TrainingJob
from ui import session
from ui.i18n import _
from ui.inspect.robustness_jobs import MEASUREMENTS, items
from ui.tables import markdown_table
from ui.train import share, story
from ui.train.sidebar import address, choose_preset

RUNS_KEY = "story_runs"  # step key -> its TrainingJob while it trains, then its story.Figures
ICONS = (":material/grid_on:", ":material/filter_center_focus:", ":material/open_with:")
POLL_S = 2.0
WANTED = items(shifts=(story.SHIFT,), rotations=())


def remember(job: TrainingJob | None, config: TrainConfig) -> None:
    """Called when the page starts a run: a run of a step's preset (from its button or from Start) fills its row."""
    step = story.step_of(config)
    if job is not None and step is not None:
        st.session_state.setdefault(RUNS_KEY, {})[step.key] = job


def _apply(key: str, start: Callable[[TrainConfig], None]) -> None:
    """A step's button: the sidebar shows the step's preset, the address names the step, and the run starts."""
    step = story.BY_KEY[key]
    config = choose_preset(step.preset)
    st.query_params[story.PARAM] = key
    if not config.errors():
        start(config)


def _key(checkpoint: str):
    path = session.store().path_for(checkpoint)
    try:
        return str(path), path.stat().st_mtime
    except OSError:
        return None


def _figures() -> tuple[dict[str, story.Figures], set[str]]:
    """The finished steps' figures (a finished job becomes its figures, and its shift is asked for) and the steps
    still training. A run stopped early or failed leaves its row empty: its figures would not be the preset's."""
    runs = st.session_state.setdefault(RUNS_KEY, {})
    done, training = {}, set()
    for key, value in list(runs.items()):
        if isinstance(value, TrainingJob):
            snap = value.snapshot()
            if not snap.finished:
                training.add(key)
                continue
            if snap.status != "done" or not snap.checkpoint or snap.test_acc is None:
                del runs[key]
                continue
            value = runs[key] = story.Figures(snap.checkpoint, snap.config, snap.elapsed_s, snap.test_acc)
        if value.shift is None and (file := _key(value.checkpoint)) is not None:
            MEASUREMENTS.request(file, WANTED)
            value.shift = MEASUREMENTS.result(file).get(WANTED[0])
        done[key] = value
    return done, training


def show(config: TrainConfig | None, running: bool, start: Callable[[TrainConfig], None]) -> None:
    asked = st.query_params.get(story.PARAM)
    with st.expander(_("Lesson: from MLP to CNN"), icon=":material/school:",
                     expanded=asked in story.BY_KEY or bool(st.session_state.get(RUNS_KEY))):
        cols = st.columns(len(story.STEPS))
        for i, (col, step, icon) in enumerate(zip(cols, story.STEPS, ICONS)):
            col.button(f"{i + 1}. {_(step.title)}", key=f"story_{step.key}", icon=icon, on_click=_apply,
                       args=(step.key, start), disabled=running, width="stretch",
                       help=_("Fills the sidebar with this step's preset and starts training it."))
        current = story.step_of(config) or story.BY_KEY.get(asked)
        if current is not None:
            st.info(f"**{story.heading(current)}** {_(current.look)}", icon=":material/lightbulb:")
            _link(current)
        table()


def _link(step: story.Step) -> None:
    params = {**share.config_to_params(step.config), story.PARAM: step.key,
              **{k: v for k, v in share.view_params(st.query_params.to_dict()).items() if k == "lang"}}
    query = share.query_string(params)
    where = address(query) if st.context.url else f"?{query}"
    st.caption(_("[A link to this step]({link}): it opens the lesson here, the sidebar set.", link=where))


def table() -> None:
    """The comparison, redrawn every POLL_S while a shift is being measured; the page reruns when the last arrives,
    which also redefines the fragment without its timer."""
    waiting = any(f.shift is None for f in _figures()[0].values())

    @st.fragment(run_every=POLL_S if waiting else None)
    def draw() -> None:
        done, training = _figures()
        rows = [story.row(s, done.get(s.key), s.key in training) for s in story.STEPS]
        names = {"step": _("Step"), "network": _("Network"), "parameters": _("Parameters"),
                 "seconds": _("Training time"), "test": _("Test accuracy"),
                 "shift": _("Moved by {k} pixels", k=story.SHIFT)}
        # Markdown, not st.dataframe: the Train page is the first a visitor sees, and pandas is not imported for it.
        st.markdown(markdown_table([{names[k]: v for k, v in r.items()} for r in rows]))
        st.caption(story.summary(done))
        if waiting and not any(f.shift is None for f in done.values()):
            st.rerun()

    draw()
