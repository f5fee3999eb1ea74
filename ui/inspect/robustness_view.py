"""The Evaluate page's shift and rotation section: the active model and any checkpoints picked, measured on demand by
a worker process the server's background thread asks (ui.inspect.robustness_jobs), drawn as one chart that fills in as
figures arrive."""

from __future__ import annotations

import streamlit as st

from fmnist.store import checkpoints
from ui import session
from ui.i18n import _
from ui.inspect.prediction_view import engine_message
from ui.inspect.robustness_charts import robustness_figure, robustness_summary
from ui.inspect.robustness_jobs import MEASUREMENTS, Key, items

PICKED = "evaluate_robust_models"
POLL_S = 2.0
SHIPPED = (checkpoints.DEFAULT_NAME, "cnn")  # the MLP and the CNN that come with the app: the comparison to start with


def file_key(name: str) -> Key | None:
    """(path, modification time) of a checkpoint by name; None when it has gone since it was listed."""
    path = session.store().path_for(name)
    try:
        return str(path), path.stat().st_mtime
    except OSError:
        return None


def pick_models(active: str) -> list[str]:
    """The active model, then the checkpoints picked to compare with it (by name)."""
    others = [n for n in session.available_models() if n != active]
    if PICKED not in st.session_state:
        st.session_state[PICKED] = [n for n in SHIPPED if n in others]
    st.session_state[PICKED] = [n for n in st.session_state[PICKED] if n in others]  # a model deleted meanwhile
    picked = st.multiselect(_("Compare with"), others, key=PICKED,
                            help=_("Checkpoints to draw beside the active model; each is measured once and "
                                   "kept, across server restarts too, until its file changes."))
    return [active, *picked]


def _status(names: list[str]) -> tuple[dict[str, dict], int, list[str], list[str]]:
    """Results so far by model, measurements still queued, models not fully measured nor queued, and errors."""
    results, queued, missing, errors = {}, 0, [], []
    wanted = items()
    for name in names:
        key = file_key(name)
        if key is None:
            continue
        results[name] = MEASUREMENTS.result(key)
        queued += MEASUREMENTS.queued(key)
        if (error := MEASUREMENTS.error(key)) is not None:
            errors.append(f"{name}: {engine_message(error)}")
        elif MEASUREMENTS.queued(key) == 0 and any(i not in results[name] for i in wanted):
            missing.append(name)
    return results, queued, missing, errors


def measure(names: list[str]) -> None:
    for name in names:
        if (key := file_key(name)) is not None:
            MEASUREMENTS.request(key, items())


def section(active: str) -> None:
    st.header(_("Moved and turned images"),
              help=_("How much of its accuracy a model keeps when every test image is shifted by a few pixels (in "
                     "each of 8 directions, the border filled with black, then averaged) or rotated both ways. "
                     "A network that flattens its image (or its last maps) into dense layers remembers where "
                     "things were; pooling over the whole map tolerates a garment that has moved."))
    names = pick_models(active)
    _results, queued, missing, _errors = _status(names)
    if missing:
        st.button(_("Measure {n} models", n=len(missing)) if len(missing) > 1 else _("Measure {model}",
                  model=missing[0]), key="evaluate_robust_start", icon=":material/straighten:",
                  on_click=measure, args=(missing,),
                  help=_("Classifies the 10,000 test images 39 times (shifts of 0-4 pixels, rotations of 5, 10 and "
                         "15 degrees): a minute or more a model on a busy server; the page stays usable meanwhile."))
    live_chart(names, queued)


def live_chart(names: list[str], queued_at_start: int) -> None:
    """The chart and its caption, redrawn every POLL_S while measurements are queued; the whole page reruns when the
    last one arrives, which also redefines this fragment without its timer."""

    @st.fragment(run_every=POLL_S if queued_at_start else None)
    def draw() -> None:
        results, queued, missing, errors = _status(names)
        for error in errors:
            st.warning(error)
        if queued:
            st.caption(_("Measuring: {n} shifts and rotations to go.", n=queued))
        elif queued_at_start:
            st.rerun()
        shown = {name: r for name, r in results.items() if r}
        if not shown:
            if not queued and missing:
                st.caption(_("Not measured yet: press the button to measure."))
            return
        st.plotly_chart(robustness_figure(shown), key="evaluate_robust_chart", config={"displayModeBar": False})
        st.caption(robustness_summary(shown))

    draw()
